"""``forge doctor``: find where the catalog, the store and the envs on disk disagree.

Findings are a closed set of frozen dataclasses (the model is uv's ``SitePackagesDiagnostic``):
each carries its data, a :class:`Kind`, a :class:`Severity`, whether ``--fix`` can repair it and a
message. :func:`diagnose` only reads (it works on a read-only ``FORGE_HOME`` through
``Store(read_only=True)``); :mod:`forge_store.repair` plans and applies the fixes.

What is compared:

- catalog entry rows with ``store/`` (missing entry dirs, dirs the catalog does not know), the seal
  of every entry (write bits; the immutable flag as root where the store uses it), and with
  ``verify`` every file against the entry's RECORD (:mod:`forge_store.verify`);
- each env row with its directory (deleted, moved or copied by hand, or a ``FORGE_HOME`` copied
  with its absolute paths), ``pyvenv.cfg``, Forge's launchers (``bin/pip``, the ``forge_pip.py``
  shim, ``bin/activate*``, the layer hook) and the layout the linker derives from the env's link
  rows (:func:`forge_store.linker.check_node` per node), plus symlinks in Forge's directories that
  no row explains (dangling, or into the store for an entry the env does not link);
- leftovers of processes that died: ``tmp/ingest-PID-*``, ``.NAME.forge-tmp-PID-*`` (env staging),
  ``ENV/.forge-txn-*`` (an env change's journal) and ``.NAME.forge-rm-*`` (an env removal) while
  nobody holds that env's lock, ``trash/`` items past their grace, and leases of dead holders.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import os
import re
import shlex
import socket
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .errors import ForgeError
from .models import EnvInfo, EnvKind, LinkMode

if TYPE_CHECKING:
    from .catalog import EntryRow, EnvRow
    from .linker import Dir, Node
    from .store import Store

STALE_AGE = 3600.0  # leftovers that name no process are stale after this many seconds
TRASH_GRACE = 86400.0  # gc's trash is left alone for a day (a running process may still use it)
QUARANTINE = "quarantine"  # FORGE_HOME/quarantine/: tampered entries that could not be restored


class Severity(enum.Enum):
    ERROR = "error"  # something is or will be broken
    WARNING = "warning"  # wasted space or a leftover; nothing is broken


class Kind(enum.Enum):
    ENTRY_MISSING = "entry-missing"
    ENTRY_UNKNOWN = "entry-unknown"
    ENTRY_UNSEALED = "entry-unsealed"
    ENTRY_MODIFIED = "entry-modified"
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
class EntryUnknown(Finding):
    """A directory in ``store/`` the catalog does not know (a publish that died). Fix: remove it."""

    kind: ClassVar[Kind] = Kind.ENTRY_UNKNOWN
    severity: ClassVar[Severity] = Severity.WARNING
    dir: str

    @property
    def message(self) -> str:
        return f"store/{self.dir} is not in the catalog"


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


# -- envs -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
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
        return self.env_kind in (EnvKind.ENV.value, EnvKind.GLOBAL.value) or not self.children

    @property
    def message(self) -> str:
        return f"env {self.env!r}: {self.path} does not exist"


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
class StaleEnvTrash(Finding):
    """An env removal that died after moving the env aside. Fix: remove it."""

    kind: ClassVar[Kind] = Kind.STALE_ENV_TRASH
    severity: ClassVar[Severity] = Severity.WARNING
    path: str

    @property
    def message(self) -> str:
        return f"stale removed env {self.path}"


@dataclasses.dataclass(frozen=True, slots=True)
class StaleTrash(Finding):
    kind: ClassVar[Kind] = Kind.STALE_TRASH
    severity: ClassVar[Severity] = Severity.WARNING
    path: str
    age_seconds: int

    @property
    def message(self) -> str:
        return f"trash {self.path} is {self.age_seconds // 3600} h old"


@dataclasses.dataclass(frozen=True, slots=True)
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


@dataclasses.dataclass(frozen=True, slots=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    metadata_rows_scanned: int
    envs_scanned: int
    symlinks_scanned: int
    entries_verified: int
    files_hashed: int

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
        }


# -- helpers -----------------------------------------------------------------------------------------

_PID_NAME = re.compile(r"-(\d+)-[0-9a-f]{8,}$")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _holder_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's process: we cannot tell
    return not pid_alive(int(pid_text))


def _age(path: Path) -> float:
    try:
        return time.time() - os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _staging_stale(path: Path) -> tuple[bool, int | None]:
    m = _PID_NAME.search(path.name)
    if m is not None:
        pid = int(m.group(1))
        return not pid_alive(pid), pid
    return _age(path) > STALE_AGE, None


def is_forge_venv(path: Path) -> bool:
    try:
        text = (path / "pyvenv.cfg").read_text()
    except OSError:
        return False
    return any(line.startswith("forge = ") for line in text.splitlines())


def _cfg(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = (path / "pyvenv.cfg").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def expected_path(store: Store, row: EnvRow) -> Path | None:
    """Where an env of this FORGE_HOME lives by default (None: adopted, or created with --path)."""
    from .store import BUILD_PREFIX, GLOBAL_PREFIX

    home = store.home
    if row.kind == EnvKind.GLOBAL.value:
        return home.globals / row.abi if row.name.startswith(GLOBAL_PREFIX) else None
    if row.kind == EnvKind.BUILD.value:
        return home.root / "build-envs" / row.name[len(BUILD_PREFIX) :]
    if row.kind == EnvKind.ENV.value:
        return home.envs / row.name
    return None


def _shim_values(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        for key in ("FORGE_PYTHON", "ENV_PREFIX"):
            if line.startswith(f"{key} = "):
                try:
                    value = ast.literal_eval(line.partition("=")[2].strip())
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, str):
                    out[key] = value
    return out


def _pip_script_values(path: Path) -> tuple[str, str] | None:
    """(forge python, env python) of a ``bin/pip`` launcher, None when it is not Forge's."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith("exec "):
            try:
                words = shlex.split(line)
            except ValueError:
                return None
            if len(words) >= 6 and words[2:4] == ["-m", "forge_pip"] and words[4] == "--python":
                return words[1], words[5]
    return None


# -- the diagnosis ---------------------------------------------------------------------------------


class _Scan:
    def __init__(self, store: Store, verify: bool, progress: Callable[[str], None] | None) -> None:
        self.store = store
        self.home = store.home
        self.verify = verify
        self.progress = progress or (lambda _msg: None)
        self.findings: list[Finding] = []
        self.rows = 0
        self.envs_scanned = 0
        self.symlinks = 0
        self.verified = 0
        self.hashed = 0
        self._wheels: dict[str, str | None] = {}
        self.users: dict[str, tuple[str, ...]] = {}
        self.missing_entries: set[str] = set()
        self.missing_dirs: set[str] = set()

    def run(self) -> Diagnosis:
        cat = self.store.catalog
        entries = cat.all_entries()
        envs = cat.envs()
        links = cat.all_links()
        leases = cat.leases()
        self.rows = len(entries) + len(envs) + len(links) + len(leases)
        users: dict[str, list[str]] = {}
        for link in links:
            users.setdefault(link.entry_id, []).append(link.env)
        self.users = {k: tuple(sorted(v)) for k, v in users.items()}
        self._entries(entries)
        self._leftovers_home()
        known_paths: set[str] = set()
        for row in envs:
            known_paths.add(row.path)
            self.progress(f"env {row.name}")
            self._env(row, envs, known_paths)
        self._unknown_envs(known_paths)
        self._leases(leases)
        return Diagnosis(
            tuple(self.findings), self.rows, self.envs_scanned, self.symlinks, self.verified, self.hashed
        )

    # -- entries

    def wheel_for(self, entry_id: str) -> str | None:
        """A local wheel file with the entry's content, verified by sha256 against its aliases."""
        if entry_id in self._wheels:
            return self._wheels[entry_id]
        from .verify import find_wheel

        cat = self.store.catalog
        aliases = cat.aliases(entry_id)
        shas = [sha for sha, _name in aliases]
        names = {name for _sha, name in aliases}
        candidates: list[Path] = []
        files = self.home.cache / "files"
        for sha in shas:
            d = files / sha[:2] / sha
            if d.is_dir():
                candidates.extend(sorted(p for p in d.iterdir() if not p.name.startswith(".")))
            candidates.extend(Path(p) for p in cat.paths_with_sha256(sha))
        for link in cat.all_links():
            if link.entry_id == entry_id and link.direct_url and '"file://' in link.direct_url:
                import json
                from urllib.parse import unquote, urlparse

                try:
                    url = str(json.loads(link.direct_url).get("url", ""))
                except ValueError:
                    continue
                if url.startswith("file://"):
                    candidates.append(Path(unquote(urlparse(url).path)))
        built = self.home.cache / "built"
        if built.is_dir() and names:
            candidates.extend(p for p in built.rglob("*.whl") if p.name in names)
        found = find_wheel(candidates, shas)
        self._wheels[entry_id] = None if found is None else str(found)
        return self._wheels[entry_id]

    def _entries(self, entries: Sequence[EntryRow]) -> None:
        from . import interpreters
        from .seal import is_immutable
        from .verify import verify_entry

        store_dir = self.home.store
        try:
            on_disk = {n for n in os.listdir(store_dir) if not n.startswith(".")}
        except OSError:
            on_disk = set()
        known = {e.dir for e in entries}
        for name in sorted(on_disk - known):
            if (store_dir / name).is_dir() and not (store_dir / name).is_symlink():
                self.findings.append(EntryUnknown(name))
        present = [e for e in entries if e.dir in on_disk and (store_dir / e.dir).is_dir()]
        for e in entries:
            if e not in present:
                self.missing_entries.add(e.id)
                self.missing_dirs.add(e.dir)
                envs = self.users.get(e.id, ())
                wheel = self.wheel_for(e.id) if envs else None
                self.findings.append(EntryMissing(e.id, e.name, e.version, e.dir, envs, wheel))
        expect_immutable = os.geteuid() == 0 and any(is_immutable(store_dir / e.dir) for e in present)
        current_tag = interpreters.current().cache_tag
        for e in present:
            root = store_dir / e.dir
            writable, no_flag = self._seal_state(root, expect_immutable)
            if writable or no_flag:
                self.findings.append(EntryUnsealed(e.id, e.name, e.version, tuple(writable[:5]), no_flag))
            if self.verify:
                self.progress(f"verify {e.name}-{e.version}")
                problems, hashed = verify_entry(root, e.dist_info, e.pyc_tags, current_tag)
                self.verified += 1
                self.hashed += hashed
                envs = self.users.get(e.id, ())
                wheel = self.wheel_for(e.id) if problems else None
                for p in problems:
                    self.findings.append(
                        EntryModified(
                            e.id, e.name, e.version, p.path, p.problem, p.expected, p.actual, envs, wheel
                        )
                    )

    @staticmethod
    def _seal_state(root: Path, expect_immutable: bool) -> tuple[list[str], bool]:
        from .seal import is_immutable

        writable: list[str] = []
        no_flag = False
        for dirpath, _dirs, files in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            if expect_immutable and not no_flag and not is_immutable(Path(dirpath)):
                no_flag = True
            try:
                if os.lstat(dirpath).st_mode & 0o222:
                    writable.append(rel)
            except OSError:
                continue
            for name in files:
                try:
                    mode = os.lstat(os.path.join(dirpath, name)).st_mode
                except OSError:
                    continue
                if mode & 0o222 and not stat.S_ISLNK(mode):
                    writable.append(f"{rel}/{name}" if rel != "." else name)
        return writable, no_flag

    # -- leftovers

    def _leftovers_home(self) -> None:
        tmp = self.home.tmp
        for child in sorted(tmp.iterdir()) if tmp.is_dir() else []:
            stale, pid = _staging_stale(child)
            if stale:
                self.findings.append(StaleStaging(str(child), pid))
        trash = self.home.trash
        for child in sorted(trash.iterdir()) if trash.is_dir() else []:
            age = _age(child)
            if age > TRASH_GRACE:
                self.findings.append(StaleTrash(str(child), int(age)))

    def _env_leftovers(self, parent: Path, name: str, lock_name: str | None) -> None:
        """``.NAME.forge-tmp-*`` and ``.NAME.forge-rm-*`` beside an env directory."""
        try:
            siblings = sorted(parent.iterdir())
        except OSError:
            return
        for child in siblings:
            if child.name.startswith(f".{name}.forge-tmp-"):
                stale, pid = _staging_stale(child)
                if stale:
                    self.findings.append(StaleStaging(str(child), pid))
            elif child.name.startswith(f".{name}.forge-rm-") and (
                lock_name is None or not self._locked(lock_name)
            ):
                self.findings.append(StaleEnvTrash(str(child)))

    def _locked(self, env_name: str) -> bool:
        from .locks import is_held

        return is_held(self.home.locks / f"env-{env_name.replace('/', '_')}.lock")

    def _leases(self, leases: Sequence[tuple[str, str, float]]) -> None:
        by_holder: dict[str, list[str]] = {}
        for entry_id, holder, _created in leases:
            by_holder.setdefault(holder, []).append(entry_id)
        for holder, ids in sorted(by_holder.items()):
            if holder != self.store.holder and _holder_dead(holder):
                self.findings.append(StaleLease(holder, tuple(sorted(ids))))

    # -- envs

    def _env(self, row: EnvRow, envs: Sequence[EnvRow], known_paths: set[str]) -> None:
        path = Path(row.path)
        expected = expected_path(self.store, row)
        children = tuple(sorted(r.name for r in envs if r.parent == row.name))
        if expected is not None and expected != path and is_forge_venv(expected):
            # a FORGE_HOME moved or copied: the rows name the old place
            known_paths.add(str(expected))
            self.findings.append(EnvMoved(row.name, row.path, str(expected)))
            self._env_leftovers(expected.parent, expected.name, row.name)
            return
        self._env_leftovers(path.parent, path.name, row.name)
        if not path.is_dir():
            self.findings.append(EnvDirMissing(row.name, row.path, row.kind, children))
            return
        self.envs_scanned += 1
        from .store import _env_info

        env = _env_info(row)
        for txn in sorted(path.glob(".forge-txn-*")):
            if not self._locked(row.name):
                self.findings.append(StaleTxn(row.name, str(txn)))
        ours = row.kind != EnvKind.ADOPTED.value
        if ours:
            self._interpreter(env)
            self._launchers(env)
        self._links(env)

    def _interpreter(self, env: EnvInfo) -> None:
        exe = env.interpreter.executable
        if not os.path.exists(exe):
            self.findings.append(InterpreterMissing(env.name, str(exe)))
            return
        cfg = _cfg(env.path)
        for key, want in (("home", os.path.dirname(str(exe))), ("executable", str(exe))):
            if key in cfg and cfg[key] != want:
                self.findings.append(VenvCfgMismatch(env.name, key, cfg[key], want))
        try:
            target: str | None = os.readlink(env.bin / "python")
        except OSError:
            target = None
        if target != str(exe):
            self.findings.append(VenvCfgMismatch(env.name, "bin/python", target, str(exe)))

    def _launchers(self, env: EnvInfo) -> None:
        from .envs import LAYERS_MODULE, PIP_SHIM

        prefix = str(env.path)
        site_rel = env.interpreter.site_packages_rel
        pip = _pip_script_values(env.bin / "pip")
        if pip is None:
            self.findings.append(LauncherStale(env.name, "bin/pip", "not Forge's pip launcher", None))
        else:
            forge_python, env_python = pip
            if not os.access(forge_python, os.X_OK):
                self.findings.append(LauncherStale(env.name, "bin/pip", "its Forge is gone", forge_python))
            elif env_python != f"{prefix}/bin/python":
                self.findings.append(LauncherStale(env.name, "bin/pip", "targets another env", env_python))
        shim = _shim_values(env.site_packages / PIP_SHIM)
        shim_rel = f"{site_rel}/{PIP_SHIM}"
        if "FORGE_PYTHON" not in shim or "ENV_PREFIX" not in shim:
            self.findings.append(LauncherStale(env.name, shim_rel, "missing or not Forge's", None))
        elif not os.access(shim["FORGE_PYTHON"], os.X_OK):
            self.findings.append(LauncherStale(env.name, shim_rel, "its Forge is gone", shim["FORGE_PYTHON"]))
        elif shim["ENV_PREFIX"] != prefix:
            self.findings.append(LauncherStale(env.name, shim_rel, "targets another env", shim["ENV_PREFIX"]))
        try:
            activate = (env.bin / "activate").read_text()
        except OSError:
            activate = ""
        if f"VIRTUAL_ENV={shlex.quote(prefix)}\n" not in activate:
            self.findings.append(LauncherStale(env.name, "bin/activate", "activates another path", None))
        hook = env.site_packages / f"{LAYERS_MODULE}.py"
        want = [str(p) for p in self.store.runtime_layers(env)]
        try:
            layers = _literal_layers(hook.read_text())
        except OSError:
            layers = None
        if layers != want:
            self.findings.append(
                LauncherStale(env.name, f"{site_rel}/{LAYERS_MODULE}.py", "stacks other layers", str(layers))
            )

    def _links(self, env: EnvInfo) -> None:
        from . import linker
        from .linker import HOP

        store = self.store
        rows = store.catalog.links(env.name)
        rows = [r for r in rows if r.entry_id not in self.missing_entries]
        paths = linker.EnvPaths(env.path, env.site_packages, env.interpreter)
        try:
            specs = store._specs(rows)
            layout = linker.build_layout(paths, specs, env.link_mode, self.home.store)
        except (ForgeError, OSError) as exc:
            self.findings.append(EnvLayoutInvalid(env.name, str(getattr(exc, "message", exc))))
            return
        prefix = env.path
        if env.link_mode is LinkMode.SYMLINK and specs:
            hop = env.site_packages / HOP
            self.symlinks += 1
            try:
                target: str | None = os.readlink(hop)
            except OSError:
                target = None
            if target != str(self.home.store):
                rel = str(hop.relative_to(prefix))
                problem = "missing" if target is None else "wrong-target"
                if target is None:
                    self.findings.append(LinkMissing(env.name, rel, "(store hop)"))
                else:
                    self.findings.append(LinkWrong(env.name, rel, "(store hop)", problem))
        self._walk(env, layout.site, env.site_packages, True, top=True)
        self._walk(env, layout.prefix, prefix, False, top=False)

    def _walk(self, env: EnvInfo, node: Dir, path: Path, in_site: bool, *, top: bool) -> None:
        """Compare a layout dir with the disk; in site-packages also look at symlinks no node explains."""
        from .envs import LAYERS_MODULE, PIP_SHIM
        from .linker import HOP, Dir, EnvPaths, Gen, Link, check_node

        paths = EnvPaths(env.path, env.site_packages, env.interpreter)
        for name, child in node.children.items():
            p = path / name
            rel = str(p.relative_to(env.path))
            if isinstance(child, Link):
                self.symlinks += 1
            problem = check_node(child, p, paths, self.home.store, in_site)
            if problem is None:
                if isinstance(child, Dir):
                    self._walk(env, child, p, in_site, top=False)
                continue
            owner = _owner(child)
            if isinstance(child, Gen) and not in_site and rel.startswith("bin/"):
                self.findings.append(LauncherStale(env.name, rel, f"console script {problem}", None))
            elif problem == "missing":
                self.findings.append(LinkMissing(env.name, rel, owner))
            else:
                self.findings.append(LinkWrong(env.name, rel, owner, problem))
        if not in_site:
            return  # bin/, include/, share/: the user's and the interpreter's files live there too
        forge_files = {HOP, PIP_SHIM, f"{LAYERS_MODULE}.py", f"{LAYERS_MODULE}.pth", f"{LAYERS_MODULE}.start"}
        try:
            disk = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        for entry in disk:
            if entry.name in node.children or (top and entry.name in forge_files):
                continue
            if not entry.is_symlink():
                continue
            self.symlinks += 1
            p = Path(entry.path)
            rel = str(p.relative_to(env.path))
            target = os.readlink(p)
            real = os.path.realpath(p)
            into_store = self._into_store(p, target)
            if into_store and self._entry_dir_of(target) in self.missing_dirs:
                continue  # a link of an entry that is gone: reported as entry-missing
            if not os.path.exists(p):
                self.findings.append(LinkDangling(env.name, rel, target, into_store))
            elif into_store or real.startswith(str(self.home.store) + os.sep):
                entry_dir = None
                store_root = str(self.home.store) + os.sep
                if real.startswith(store_root):
                    entry_dir = real[len(store_root) :].split(os.sep)[0]
                self.findings.append(LinkForeign(env.name, rel, target, entry_dir))

    def _entry_dir_of(self, target: str) -> str | None:
        from .linker import HOP

        parts = target.split("/")
        if HOP in parts:
            rest = parts[parts.index(HOP) + 1 :]
            return rest[0] if rest else None
        store = str(self.home.store) + os.sep
        return target[len(store) :].split("/")[0] if target.startswith(store) else None

    def _into_store(self, path: Path, target: str) -> bool:
        from .linker import HOP

        if f"{HOP}/" in target or target.startswith(str(self.home.store) + os.sep):
            return True
        parent = os.path.realpath(path.parent)
        return os.path.normpath(os.path.join(parent, target)).startswith(str(self.home.store) + os.sep)

    def _unknown_envs(self, known_paths: set[str]) -> None:
        for base in (self.home.envs, self.home.globals, self.home.root / "build-envs"):
            try:
                children = sorted(base.iterdir())
            except OSError:
                continue
            done: set[str] = set()
            for child in children:
                if child.name.startswith("."):
                    if ".forge-tmp-" in child.name or ".forge-rm-" in child.name:
                        name = child.name[1:].split(".forge-")[0].rstrip(".")
                        if name not in done and str(base / name) not in known_paths:
                            done.add(name)
                            self._env_leftovers(base, name, None if base.name == "build-envs" else name)
                    continue
                if str(child) in known_paths or not child.is_dir():
                    continue
                if base.name == "build-envs":  # the catalog row is written before the rename
                    if _age(child) > STALE_AGE:
                        self.findings.append(StaleStaging(str(child), None))
                elif is_forge_venv(child):
                    self.findings.append(EnvUnknown(str(child)))


def _literal_layers(text: str) -> list[str] | None:
    for line in text.splitlines():
        if line.startswith("LAYERS = "):
            try:
                value = ast.literal_eval(line.partition("=")[2].strip())
            except (ValueError, SyntaxError):
                return None
            return [str(v) for v in value] if isinstance(value, list) else None
    return None


def _owner(node: Node) -> str:
    from .linker import Dir

    if isinstance(node, Dir):
        for child in node.children.values():
            owner = _owner(child)
            if owner:
                return owner
        return ""
    return node.owner


def diagnose(
    store: Store, *, verify: bool = False, progress: Callable[[str], None] | None = None
) -> Diagnosis:
    """Compare the catalog, the store and the envs; read-only (``store`` may be ``read_only``)."""
    if store.read_only and not store.home.catalog.is_file():
        return Diagnosis((), 0, 0, 0, 0, 0)
    return _Scan(store, verify, progress).run()


def link_findings(store: Store, env_name: str) -> list[Finding]:
    """The link findings of one env only (``--fix`` re-checks under the env's lock before it
    removes a link: a change in flight places links before its catalog rows commit)."""
    from .store import _env_info

    row = store.catalog.env(env_name)
    if row is None or not Path(row.path).is_dir():
        return []
    scan = _Scan(store, False, None)
    for link in store.catalog.links(env_name):
        entry = store.catalog.entry(link.entry_id)
        if entry is not None and not (store.home.store / entry.dir).is_dir():
            scan.missing_entries.add(entry.id)
            scan.missing_dirs.add(entry.dir)
    scan._links(_env_info(row))
    return scan.findings
