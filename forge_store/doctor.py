"""``forge doctor``: find where the catalog, the store and the envs on disk disagree.

Findings are a closed set of frozen dataclasses (the model is uv's ``SitePackagesDiagnostic``):
each carries its data, a :class:`Kind`, a :class:`Severity`, whether ``--fix`` can repair it and a
message. :func:`diagnose` only reads (it works on a read-only ``FORGE_HOME`` through
``Store(read_only=True)``); the comparison itself is :mod:`forge_store.drift`, and
:mod:`forge_store.repair` plans and applies the fixes.

What is compared:

- catalog entry rows with ``store/`` (missing entry dirs, dirs the catalog does not know), the seal
  of every entry (write bits; the immutable flag as root where the store uses it), and with
  ``verify`` every file against the entry's RECORD (:mod:`forge_store.verify`);
- each env row with its directory (deleted, moved or copied by hand, or a ``FORGE_HOME`` copied
  with its absolute paths), ``pyvenv.cfg``, Forge's launchers (``bin/pip``, the ``forge_pip.py``
  shim, ``bin/activate*``, the layer hook) and the layout the linker derives from the env's link
  rows (:func:`forge_store.linker.check_node` per node), plus symlinks in Forge's directories that
  no row explains (dangling, or into the store for an entry the env does not link);
- each env's stack (the layer policy, :mod:`forge_store.policy`): requirements one layer's dist
  has that the stack breaks, shadowing, and what the ABI and native checks find. These are
  :class:`LayerFinding` s in :attr:`Diagnosis.layers`, apart from the findings above: they are
  decisions of the env's modes, not damage, so they do not make the diagnosis unhealthy and
  ``--fix`` leaves them alone (``forge --enforce doctor`` turns them into exit codes);
- leftovers of processes that died: ``tmp/ingest-PID-*``, ``.NAME.forge-tmp-PID-*`` (env staging),
  ``ENV/.forge-txn-*`` (an env change's journal) and ``.NAME.forge-rm-*`` (an env removal) while
  nobody holds that env's lock, ``trash/`` items past gc's default grace, and leases of dead holders.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from forge_store.records import record

from .models import EnvKind

RECREATED_KINDS = (EnvKind.ENV.value, EnvKind.GLOBAL.value, EnvKind.MIRROR.value)
"""Env kinds whose directory ``doctor --fix`` makes again from the catalog (others are forgotten)."""

if TYPE_CHECKING:
    from . import policy
    from .store import Store

STALE_AGE = 3600.0  # leftovers that name no process are stale after this many seconds
QUARANTINE = "quarantine"  # FORGE_HOME/quarantine/: tampered entries that could not be restored


class Severity(enum.Enum):
    ERROR = "error"  # something is or will be broken
    WARNING = "warning"  # wasted space or a leftover; nothing is broken


class Kind(enum.Enum):
    ENTRY_MISSING = "entry-missing"
    ENTRY_UNKNOWN = "entry-unknown"
    ENTRY_UNSEALED = "entry-unsealed"
    ENTRY_MODIFIED = "entry-modified"
    UPSTREAM_ENTRY_GONE = "upstream-entry-gone"
    UPSTREAM_ENTRY_CHANGED = "upstream-entry-changed"
    ENV_DIR_MISSING = "env-dir-missing"
    ENV_MOVED = "env-moved"
    ENV_UNKNOWN = "env-unknown"
    ENV_LAYOUT_INVALID = "env-layout-invalid"
    INTERPRETER_MISSING = "interpreter-missing"
    VENV_CFG_MISMATCH = "venv-cfg-mismatch"
    LAUNCHER_STALE = "launcher-stale"
    LINK_MISSING = "link-missing"
    LINK_WRONG = "link-wrong"
    LINK_DANGLING = "link-dangling"
    LINK_FOREIGN = "link-foreign"
    STALE_STAGING = "stale-staging"
    STALE_TXN = "stale-txn"
    STALE_ENV_TRASH = "stale-env-trash"
    STALE_TRASH = "stale-trash"
    STALE_LEASE = "stale-lease"


@record(frozen=True, slots=True)
class Finding:
    """Base of every finding; subclasses add their data as fields."""

    kind: ClassVar[Kind]
    severity: ClassVar[Severity] = Severity.ERROR

    @property
    def fixable(self) -> bool:
        return True

    @property
    def message(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, object]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "fixable": self.fixable,
            "message": self.message,
            "data": {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()},
        }


# -- store entries ----------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class EntryMissing(Finding):
    """A catalog entry whose directory is gone. Fix: drop the row if nothing links it; else
    re-ingest it from a cached wheel, or unlink it from its envs and name the reinstall."""

    kind: ClassVar[Kind] = Kind.ENTRY_MISSING
    entry_id: str
    name: str
    version: str
    dir: str
    envs: tuple[str, ...]
    wheel: str | None  # a cached wheel file whose sha256 is one of the entry's aliases

    @property
    def message(self) -> str:
        users = f", linked by {', '.join(self.envs)}" if self.envs else ", linked by no env"
        return f"store entry {self.name}-{self.version} ({self.dir}) is missing on disk{users}"


@record(frozen=True, slots=True)
class EntryUnknown(Finding):
    """A directory in ``store/`` the catalog does not know (a publish that died). Fix: remove it."""

    kind: ClassVar[Kind] = Kind.ENTRY_UNKNOWN
    severity: ClassVar[Severity] = Severity.WARNING
    dir: str

    @property
    def message(self) -> str:
        return f"store/{self.dir} is not in the catalog"


@record(frozen=True, slots=True)
class EntryUnsealed(Finding):
    """An entry with writable files or directories, or without the immutable flag the store uses."""

    kind: ClassVar[Kind] = Kind.ENTRY_UNSEALED
    entry_id: str
    name: str
    version: str
    writable: tuple[str, ...]  # entry-relative paths (the first few)
    immutable_missing: bool

    @property
    def message(self) -> str:
        what = []
        if self.writable:
            what.append(f"writable: {', '.join(self.writable[:3])}")
        if self.immutable_missing:
            what.append("directories lack the immutable flag")
        return f"store entry {self.name}-{self.version} is not sealed ({'; '.join(what)})"


@record(frozen=True, slots=True)
class EntryModified(Finding):
    """A file of an entry that differs from its RECORD (``--verify``): tampering or bit rot. Fix:
    restore the entry from a cached wheel verified by hash, or quarantine it and unlink it."""

    kind: ClassVar[Kind] = Kind.ENTRY_MODIFIED
    entry_id: str
    name: str
    version: str
    file: str  # relative to the entry directory
    problem: str  # changed | missing | added
    expected: str | None
    actual: str | None
    envs: tuple[str, ...]
    wheel: str | None

    @property
    def message(self) -> str:
        users = ", ".join(self.envs) or "no env"
        return f"{self.name}-{self.version}: {self.file} {self.problem} (used by {users})"


def _upstream_todo(name: str, version: str, upstream: str, envs: tuple[str, ...]) -> str:
    reinstall = "; ".join(f"forge pip install --env {e} --force-reinstall {name}=={version}" for e in envs)
    return f"mount {upstream} again, or with an index reachable run: {reinstall}"


@record(frozen=True, slots=True)
class UpstreamEntryGone(Finding):
    """Envs link an upstream entry that cannot be reached: the upstream is gone or unmounted, or
    its entry directory vanished. Fix: relink them to a local copy (a cached wheel with one of
    the entry's sha256 aliases, re-ingested) or to the same content in another upstream; else
    the message says what to do."""

    kind: ClassVar[Kind] = Kind.UPSTREAM_ENTRY_GONE
    entry_id: str
    name: str
    version: str
    upstream: str
    path: str
    reason: str
    envs: tuple[str, ...]
    wheel: str | None
    elsewhere: str | None  # another configured upstream that holds this content id

    @property
    def fixable(self) -> bool:
        return self.wheel is not None or self.elsewhere is not None

    @property
    def message(self) -> str:
        text = (
            f"{self.name}-{self.version} is linked from upstream {self.upstream} by"
            f" {', '.join(self.envs)}, but {self.reason}: its imports fail"
        )
        if not self.fixable:
            text += f"; no local copy: {_upstream_todo(self.name, self.version, self.upstream, self.envs)}"
        return text


@record(frozen=True, slots=True)
class UpstreamEntryChanged(Finding):
    """An upstream entry envs link is no longer what was checked: its manifest does not list it
    any more, or (``--verify``) its files differ from its RECORD. Fix as for a gone one."""

    kind: ClassVar[Kind] = Kind.UPSTREAM_ENTRY_CHANGED
    entry_id: str
    name: str
    version: str
    upstream: str
    path: str
    problem: str
    envs: tuple[str, ...]
    wheel: str | None
    elsewhere: str | None

    @property
    def fixable(self) -> bool:
        return self.wheel is not None or self.elsewhere is not None

    @property
    def message(self) -> str:
        text = (
            f"{self.name}-{self.version} linked from upstream {self.upstream} by {', '.join(self.envs)}"
            f" changed: {self.problem}"
        )
        if not self.fixable:
            text += f"; no local copy: {_upstream_todo(self.name, self.version, self.upstream, self.envs)}"
        return text


# -- envs -------------------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class EnvDirMissing(Finding):
    """The catalog has an env whose directory is gone. Fix: recreate it from its rows (Forge's
    envs), or forget it (adopted venvs, build envs)."""

    kind: ClassVar[Kind] = Kind.ENV_DIR_MISSING
    env: str
    path: str
    env_kind: str
    children: tuple[str, ...]

    @property
    def fixable(self) -> bool:
        return self.env_kind in RECREATED_KINDS or not self.children

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.path} does not exist"


@record(frozen=True, slots=True)
class EnvMoved(Finding):
    """The catalog's path of an env is not where the env is (a ``FORGE_HOME`` moved or copied with
    its absolute paths). Fix: record the new path, rewrite launchers and relink."""

    kind: ClassVar[Kind] = Kind.ENV_MOVED
    env: str
    recorded: str
    found: str

    @property
    def message(self) -> str:
        return f"env {self.env!r} is recorded at {self.recorded} but lives at {self.found}"


@record(frozen=True, slots=True)
class EnvUnknown(Finding):
    """A directory with Forge's markers that the catalog does not know (copied or moved by hand)."""

    kind: ClassVar[Kind] = Kind.ENV_UNKNOWN
    severity: ClassVar[Severity] = Severity.WARNING
    path: str

    @property
    def fixable(self) -> bool:
        return False

    @property
    def message(self) -> str:
        return (
            f"{self.path} is a Forge env the catalog does not know (its links are not counted:"
            " gc may remove what it uses); recreate it with `forge create`, or delete it"
        )


@record(frozen=True, slots=True)
class EnvLayoutInvalid(Finding):
    """The env's rows do not make a layout (a conflict, an unreadable entry)."""

    kind: ClassVar[Kind] = Kind.ENV_LAYOUT_INVALID
    env: str
    error: str

    @property
    def fixable(self) -> bool:
        return False

    @property
    def message(self) -> str:
        return f"env {self.env!r}: its links cannot be computed: {self.error}"


@record(frozen=True, slots=True)
class InterpreterMissing(Finding):
    kind: ClassVar[Kind] = Kind.INTERPRETER_MISSING
    env: str
    executable: str

    @property
    def fixable(self) -> bool:
        return False

    @property
    def message(self) -> str:
        return (
            f"env {self.env!r}: its interpreter {self.executable} is gone"
            f" (recreate the env: forge remove {self.env}; forge create {self.env} --python ...)"
        )


@record(frozen=True, slots=True)
class VenvCfgMismatch(Finding):
    """``pyvenv.cfg`` or ``bin/python`` names another interpreter than the catalog. Fix: rewrite."""

    kind: ClassVar[Kind] = Kind.VENV_CFG_MISMATCH
    env: str
    field: str  # home | executable | bin/python
    found: str | None
    expected: str

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.field} is {self.found!r}, expected {self.expected!r}"


@record(frozen=True, slots=True)
class LauncherStale(Finding):
    """A launcher that points at a Forge or interpreter that is gone, or at another prefix.
    Fix: rewrite it (pip launchers, shim, activation, layer hook) or relink (console scripts)."""

    kind: ClassVar[Kind] = Kind.LAUNCHER_STALE
    env: str
    file: str  # relative to the env prefix
    problem: str
    found: str | None

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.file}: {self.problem}" + (f" ({self.found})" if self.found else "")


@record(frozen=True, slots=True)
class LinkMissing(Finding):
    """A path the catalog's rows place in the env is missing (``site-packages/numpy`` deleted).
    Fix: relink the env from its rows."""

    kind: ClassVar[Kind] = Kind.LINK_MISSING
    env: str
    path: str  # relative to the env prefix
    dist: str

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.path} of {self.dist} is missing"


@record(frozen=True, slots=True)
class LinkWrong(Finding):
    """A path of the env's layout holds something else than the linker places. Fix: relink."""

    kind: ClassVar[Kind] = Kind.LINK_WRONG
    env: str
    path: str
    dist: str
    problem: str  # dangling | wrong-target | wrong-type | content-differs

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.path} of {self.dist}: {self.problem}"


@record(frozen=True, slots=True)
class LinkDangling(Finding):
    """A symlink in one of Forge's directories of the env that points at nothing. Fix: remove it
    when it points into a store (never a user's own link elsewhere)."""

    kind: ClassVar[Kind] = Kind.LINK_DANGLING
    env: str
    path: str
    target: str
    into_store: bool

    @property
    def fixable(self) -> bool:
        return self.into_store

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.path} -> {self.target} points at nothing"


@record(frozen=True, slots=True)
class LinkForeign(Finding):
    """A symlink into the store for an entry the catalog does not link into this env: the env uses
    content that no refcount protects. Fix: remove it."""

    kind: ClassVar[Kind] = Kind.LINK_FOREIGN
    env: str
    path: str
    target: str
    entry_dir: str | None

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.path} -> {self.target} is not linked by the catalog"


# -- leftovers ---------------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class StaleStaging(Finding):
    """Staging of an ingest or an env creation whose process died. Fix: remove it."""

    kind: ClassVar[Kind] = Kind.STALE_STAGING
    severity: ClassVar[Severity] = Severity.WARNING
    path: str
    pid: int | None

    @property
    def message(self) -> str:
        who = f"process {self.pid} is gone" if self.pid is not None else "older than an hour"
        return f"stale staging {self.path} ({who})"


@record(frozen=True, slots=True)
class StaleTxn(Finding):
    """An env change's journal left by a process that died (nobody holds the env's lock). Fix:
    remove it and relink the env from its rows (what the catalog says is what committed)."""

    kind: ClassVar[Kind] = Kind.STALE_TXN
    severity: ClassVar[Severity] = Severity.WARNING
    env: str
    path: str

    @property
    def message(self) -> str:
        return f"env {self.env!r}: stale change journal {self.path}"


@record(frozen=True, slots=True)
class StaleEnvTrash(Finding):
    """An env removal that died after moving the env aside. Fix: remove it."""

    kind: ClassVar[Kind] = Kind.STALE_ENV_TRASH
    severity: ClassVar[Severity] = Severity.WARNING
    path: str

    @property
    def message(self) -> str:
        return f"stale removed env {self.path}"


@record(frozen=True, slots=True)
class StaleTrash(Finding):
    kind: ClassVar[Kind] = Kind.STALE_TRASH
    severity: ClassVar[Severity] = Severity.WARNING
    path: str
    age_seconds: int

    @property
    def message(self) -> str:
        return f"trash {self.path} is {self.age_seconds // 60} min old, past gc's grace (forge gc empties it)"


@record(frozen=True, slots=True)
class StaleLease(Finding):
    """Leases held by a process that died (they keep entries from gc and rollbacks). Fix: drop them."""

    kind: ClassVar[Kind] = Kind.STALE_LEASE
    severity: ClassVar[Severity] = Severity.WARNING
    holder: str
    entries: tuple[str, ...]

    @property
    def message(self) -> str:
        return f"{len(self.entries)} lease(s) of {self.holder}, a process that is gone"


FINDING_TYPES: tuple[type[Finding], ...] = (
    EntryMissing,
    EntryUnknown,
    EntryUnsealed,
    EntryModified,
    UpstreamEntryGone,
    UpstreamEntryChanged,
    EnvDirMissing,
    EnvMoved,
    EnvUnknown,
    EnvLayoutInvalid,
    InterpreterMissing,
    VenvCfgMismatch,
    LauncherStale,
    LinkMissing,
    LinkWrong,
    LinkDangling,
    LinkForeign,
    StaleStaging,
    StaleTxn,
    StaleEnvTrash,
    StaleTrash,
    StaleLease,
)


@record(frozen=True, slots=True)
class LayerFinding:
    """A layer-policy finding of one env's stack, with the verdict the env's modes give it
    (``ignore`` in a ``loose`` env: listed as a note; ``warn``; ``refuse``: strict would refuse
    the change that made it)."""

    finding: policy.Finding
    verdict: policy.Verdict

    def to_dict(self) -> dict[str, object]:
        return {**self.finding.to_dict(), "verdict": self.verdict.name.lower()}


@record(frozen=True, slots=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    metadata_rows_scanned: int
    envs_scanned: int
    symlinks_scanned: int
    entries_verified: int
    files_hashed: int
    layers: tuple[LayerFinding, ...] = ()  # the stacks' policy findings (never unhealthy)
    layers_unchecked: tuple[tuple[str, str], ...] = ()  # (env, why) whose stack could not be read

    @property
    def healthy(self) -> bool:
        return not self.findings

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind.value] = out.get(f.kind.value, 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, object]:
        return {
            "metadata_rows_scanned": self.metadata_rows_scanned,
            "envs_scanned": self.envs_scanned,
            "symlinks_scanned": self.symlinks_scanned,
            "entries_verified": self.entries_verified,
            "files_hashed": self.files_hashed,
            "findings": len(self.findings),
            "findings_by_kind": self.by_kind(),
            "layer_findings": len(self.layers),
        }


def diagnose(
    store: Store, *, verify: bool = False, progress: Callable[[str], None] | None = None
) -> Diagnosis:
    """Compare the catalog, the store and the envs; read-only (``store`` may be ``read_only``)."""
    if store.read_only and not store.home.catalog.is_file():
        return Diagnosis((), 0, 0, 0, 0, 0)
    from .drift import Scan

    diag = Scan(store, verify, progress).run()
    found, unchecked = layer_findings(store)
    return dataclasses.replace(diag, layers=tuple(found), layers_unchecked=tuple(unchecked))


def layer_findings(store: Store) -> tuple[list[LayerFinding], list[tuple[str, str]]]:
    """The policy findings of every env's stack (GLOBAL layers included, build envs not), each
    with its env's verdict; and the envs whose stack or settings could not be read, with why
    (an unreadable ``config.json``): said, never a crash of the whole diagnosis."""
    from . import enforce
    from .errors import ForgeError

    out: list[LayerFinding] = []
    unchecked: list[tuple[str, str]] = []
    for env in store.envs(include_global=True):
        if not enforce.governs(env):
            continue
        try:
            judged = enforce.judged(store, env)
        except ForgeError as exc:
            unchecked.append((env.name, exc.message))
            continue
        out.extend(LayerFinding(f, v) for f, v in judged)
    return out, unchecked


def link_findings(store: Store, env_name: str) -> list[Finding]:
    """The link findings of one env only (``--fix`` re-checks under the env's lock before it
    removes a link: a change in flight places links before its catalog rows commit)."""
    from .drift import Scan
    from .store import _env_info

    row = store.catalog.env(env_name)
    if row is None or not Path(row.path).is_dir():
        return []
    scan = Scan(store, False, None)
    for link in store.catalog.links(env_name):
        entry = store.catalog.entry(link.entry_id)
        if entry is not None and not store.entry_path(entry).is_dir():
            scan.missing_entries.add(entry.id)
            scan.missing_dirs.add(entry.dir)
            scan.missing_paths.add(str(store.entry_path(entry)))
    scan._links(_env_info(row))
    return scan.findings
