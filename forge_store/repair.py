"""``forge doctor --fix``: turn findings into a plan of safe repairs, and apply it.

Usage::

    with Store() as store:
        result = fix(store, verify=True, dry_run=False)
        for outcome in result.outcomes: ...
        result.after.healthy

Everything runs under the store lock (no entry is published or removed meanwhile); env repairs
go through :meth:`Store.relink` with ``repair=True`` (the linker's own journal, all or nothing
per env) and :meth:`Store.change`, never around them. Nothing a live process holds is touched:
staging is swept only when the pid in its name is gone, journals and removals only while nobody
holds the env's lock, leases only of dead holders on this host.

A tampered entry is rebuilt from a wheel file whose sha256 is one of the entry's aliases (the
download cache, files Forge hashed before, the ``direct_url.json`` of an install from a path),
and only if the rebuilt content id is the entry's id. Without such a wheel it is moved to
``FORGE_HOME/quarantine/`` and unlinked from its envs; the repair names the reinstall command.
"""

from __future__ import annotations

import contextlib
import enum
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from . import doctor as d
from .errors import ForgeError, IntegrityError
from .models import Layer
from .tokens import token

if TYPE_CHECKING:
    from .catalog import EntryRow
    from .ingest import WheelInfo
    from .models import EnvInfo, Interpreter
    from .store import Store

MAX_ROUNDS = 3  # a repair can reveal the next (a quarantined entry leaves dangling links)


class Action(enum.Enum):
    SWEEP = "sweep"
    DROP_LEASE = "drop-lease"
    REMOVE_UNKNOWN_ENTRY = "remove-unknown-entry"
    DROP_ENTRY_ROW = "drop-entry-row"
    REINGEST = "reingest"
    LOCALIZE = "localize"  # an upstream entry that is gone or changed: a local copy from its wheel
    RELOCATE = "relocate"  # ... or the same content id in another configured upstream
    QUARANTINE = "quarantine"
    RESEAL = "reseal"
    MOVE_ENV = "move-env"
    RECREATE_ENV = "recreate-env"
    FORGET_ENV = "forget-env"
    REWRITE_VENV_CFG = "rewrite-venv-cfg"
    REWRITE_LAUNCHERS = "rewrite-launchers"
    REMOVE_LINK = "remove-link"
    RELINK = "relink"


_ORDER = {a: i for i, a in enumerate(Action)}


@record(frozen=True, slots=True)
class Repair:
    """One step of the plan: what it does, to what, and the findings it answers."""

    action: Action
    target: str  # a path, an env name, an entry id or a lease holder
    detail: str
    findings: tuple[d.Finding, ...] = ()
    wheel: str | None = None  # REINGEST: the verified wheel file
    hint: str | None = None  # what the user still has to do afterwards

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "target": self.target,
            "detail": self.detail,
            "wheel": self.wheel,
            "hint": self.hint,
            "findings": [f.kind.value for f in self.findings],
        }


@record(frozen=True, slots=True)
class Outcome:
    repair: Repair
    applied: bool
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {**self.repair.to_dict(), "applied": self.applied, "error": self.error}


@record(frozen=True, slots=True)
class FixResult:
    before: d.Diagnosis
    planned: tuple[Repair, ...]
    outcomes: tuple[Outcome, ...]  # empty for a dry run
    after: d.Diagnosis | None  # None for a dry run

    @property
    def remaining(self) -> tuple[d.Finding, ...]:
        return (self.after or self.before).findings

    @property
    def fixed(self) -> list[d.Finding]:
        if self.after is None:
            return []
        left = set(self.after.findings)
        return [f for f in self.before.findings if f not in left]


def _reinstall_hint(name: str, version: str, envs: Sequence[str]) -> str:
    return "; ".join(f"forge pip install --env {e} {name}=={version}" for e in envs) or ""


def plan(store: Store, diagnosis: d.Diagnosis) -> list[Repair]:
    """The repairs for a diagnosis, in the order they must run (pure: reads, changes nothing)."""
    out: dict[tuple[Action, str], Repair] = {}
    relink: dict[str, list[d.Finding]] = {}

    def add(action: Action, target: str, detail: str, f: d.Finding, **kw: str | None) -> None:
        key = (action, target)
        old = out.get(key)
        found = (*old.findings, f) if old is not None else (f,)
        out[key] = Repair(action, target, detail, found, **kw)

    entries_replaced: set[str] = set()
    for f in diagnosis.findings:
        if not f.fixable:
            continue
        if isinstance(f, d.StaleStaging | d.StaleEnvTrash | d.StaleTrash):
            add(Action.SWEEP, f.path, f"remove {f.path}", f)
        elif isinstance(f, d.StaleTxn):
            add(Action.SWEEP, f.path, f"remove {f.path}", f)
            relink.setdefault(f.env, []).append(f)
        elif isinstance(f, d.StaleLease):
            add(Action.DROP_LEASE, f.holder, f"drop the leases of {f.holder}", f)
        elif isinstance(f, d.EntryUnknown):
            add(Action.REMOVE_UNKNOWN_ENTRY, f.dir, f"remove store/{f.dir}", f)
        elif isinstance(f, d.EntryMissing | d.EntryModified):
            entries_replaced.add(f.entry_id)
            what = "missing" if isinstance(f, d.EntryMissing) else "modified"
            if isinstance(f, d.EntryMissing) and not f.envs:
                add(Action.DROP_ENTRY_ROW, f.entry_id, f"forget {f.name}-{f.version} (no env links it)", f)
            elif f.wheel is not None:
                add(
                    Action.REINGEST,
                    f.entry_id,
                    f"restore {what} {f.name}-{f.version} from {f.wheel}",
                    f,
                    wheel=f.wheel,
                )
                for env in f.envs:
                    relink.setdefault(env, []).append(f)
            else:
                add(
                    Action.QUARANTINE,
                    f.entry_id,
                    f"no cached wheel of {f.name}-{f.version}: quarantine it and unlink it from"
                    f" {', '.join(f.envs) or 'no env'}",
                    f,
                    hint=_reinstall_hint(f.name, f.version, f.envs),
                )
        elif isinstance(f, d.UpstreamEntryGone | d.UpstreamEntryChanged):
            if f.wheel is not None:
                add(
                    Action.LOCALIZE,
                    f.entry_id,
                    f"unpack {f.name}-{f.version} into the local store from {f.wheel} (its upstream"
                    f" {f.upstream} cannot serve it)",
                    f,
                    wheel=f.wheel,
                )
            elif f.elsewhere is not None:
                add(Action.RELOCATE, f.entry_id, f"link {f.name}-{f.version} from upstream {f.elsewhere}", f)
            else:
                continue
            for env in f.envs:
                relink.setdefault(env, []).append(f)
        elif isinstance(f, d.EntryUnsealed):
            add(Action.RESEAL, f.entry_id, f"seal {f.name}-{f.version}", f)
        elif isinstance(f, d.EnvMoved):
            add(Action.MOVE_ENV, f.env, f"record env {f.env!r} at {f.found}", f)
            add(Action.REWRITE_LAUNCHERS, f.env, f"rewrite the launchers of {f.env!r}", f)
            relink.setdefault(f.env, []).append(f)
        elif isinstance(f, d.EnvDirMissing):
            if f.env_kind in d.RECREATED_KINDS:
                add(Action.RECREATE_ENV, f.env, f"recreate env {f.env!r} at {f.path} from the catalog", f)
                relink.setdefault(f.env, []).append(f)
            else:
                add(Action.FORGET_ENV, f.env, f"forget env {f.env!r} ({f.env_kind}, gone)", f)
        elif isinstance(f, d.VenvCfgMismatch):
            add(Action.REWRITE_VENV_CFG, f.env, f"rewrite pyvenv.cfg and bin/python of {f.env!r}", f)
        elif isinstance(f, d.LauncherStale):
            if f.file.startswith("bin/") and f.problem.startswith("console script"):
                relink.setdefault(f.env, []).append(f)
            else:
                add(Action.REWRITE_LAUNCHERS, f.env, f"rewrite the launchers of {f.env!r}", f)
        elif isinstance(f, d.LinkDangling | d.LinkForeign):
            row = store.catalog.env(f.env)
            if row is not None:
                full = str(Path(row.path) / f.path)
                add(Action.REMOVE_LINK, full, f"remove {f.path} from {f.env!r}", f)
        elif isinstance(f, d.LinkMissing | d.LinkWrong):
            relink.setdefault(f.env, []).append(f)
    forgotten = {r.target for r in out.values() if r.action is Action.FORGET_ENV}
    for env, found in relink.items():
        if env not in forgotten:
            out[(Action.RELINK, env)] = Repair(
                Action.RELINK, env, f"relink env {env!r} from its catalog rows", tuple(found)
            )
    # an entry restored or quarantined is sealed by that step
    repairs = [r for r in out.values() if not (r.action is Action.RESEAL and r.target in entries_replaced)]
    return sorted(repairs, key=lambda r: (_ORDER[r.action], r.target))


# -- applying ------------------------------------------------------------------------------------------


class _Applier:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.home = store.home

    def run(self, repair: Repair) -> None:
        getattr(self, "_" + repair.action.value.replace("-", "_"))(repair)

    def _sweep(self, r: Repair) -> None:
        from .seal import remove_tree

        path = Path(r.target)
        txn = next((f for f in r.findings if isinstance(f, d.StaleTxn)), None)
        if txn is not None:
            with self.store.env_lock(txn.env):
                remove_tree(path)
            return
        remove_tree(path)

    def _drop_lease(self, r: Repair) -> None:
        with self.store.catalog.transaction():
            self.store.catalog.drop_leases(r.target)

    def _remove_unknown_entry(self, r: Repair) -> None:
        from .seal import remove_tree

        if self.store.catalog.entry_by_dir(r.target) is not None:
            return  # published meanwhile (the scan ran before the lock)
        remove_tree(self.home.store / r.target)

    def _drop_entry_row(self, r: Repair) -> None:
        cat = self.store.catalog
        if cat.users_of(r.target):
            raise IntegrityError("an env links it now")
        with cat.transaction():
            cat.delete_entry(r.target)

    def _row(self, entry_id: str) -> EntryRow:
        row = self.store.catalog.entry(entry_id)
        if row is None:
            raise IntegrityError(f"entry {entry_id[:16]} is no longer in the catalog")
        return row

    def _quarantine_dir(self, row: EntryRow) -> Path:
        from .seal import unseal

        src = self.home.store / row.dir
        dest = self.home.root / d.QUARANTINE / f"{row.name}-{row.version}-{row.dir}-{int(time.time())}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        unseal(src)
        os.rename(src, dest)
        return dest

    def _interpreters(self, tags: Sequence[str]) -> list[Interpreter]:
        from . import interpreters

        found: dict[str, Interpreter] = {}
        for info in [interpreters.current(), *(e.interpreter for e in self.store.envs(include_global=True))]:
            if info.cache_tag in tags and os.path.exists(info.executable):
                found.setdefault(info.cache_tag, info)
        return list(found.values())

    @contextlib.contextmanager
    def _unpacked(self, row: EntryRow, wheel: Path) -> Iterator[tuple[WheelInfo, Path]]:
        """``wheel`` unpacked into a fresh staging dir, checked to give ``row``'s content id; the
        staging dir is removed on the way out unless the caller renamed it into the store."""
        from . import ingest
        from .seal import remove_tree

        info = ingest.inspect_wheel(wheel)
        self.home.tmp.mkdir(parents=True, exist_ok=True)
        staging = self.home.tmp / f"ingest-{os.getpid()}-{token()}"
        try:
            cid, _eps = ingest.unpack(info, staging)
            if cid != row.id:
                raise IntegrityError(f"{wheel.name} unpacks to another content id than the entry")
            yield info, staging
        finally:
            if staging.exists():
                remove_tree(staging)

    def _reingest(self, r: Repair) -> None:
        from . import ingest
        from .seal import seal_contents, seal_top

        row = self._row(r.target)
        assert r.wheel is not None
        with self._unpacked(row, Path(r.wheel)) as (_info, staging):
            targets = self._interpreters(row.pyc_tags)
            tags = ingest.compile_bytecode(staging / "site", targets)
            ingest.write_meta(staging, {**row.meta, "pyc_tags": tags})
            seal_contents(staging)  # the top stays writable until after the rename (non-root users)
            final = self.home.store / row.dir
            if final.exists():
                self._quarantine_dir(row)
            os.rename(staging, final)
            seal_top(final)
            if tuple(tags) != tuple(row.pyc_tags):
                with self.store.catalog.transaction():
                    self.store.catalog.set_pyc_tags(row.id, tags, {**row.meta, "pyc_tags": tags})

    def _localize(self, r: Repair) -> None:
        """An upstream entry's content, unpacked from a verified wheel into a new local store dir;
        its row then points there (the envs are relinked by their RELINK step)."""
        from . import ingest, interpreters
        from .seal import remove_tree, seal_contents, seal_top
        from .upstream import ORIGIN_KEY

        row = self._row(r.target)
        assert r.wheel is not None
        with self._unpacked(row, Path(r.wheel)) as (info, staging):
            targets = self._interpreters(row.pyc_tags) or [interpreters.current()]
            tags = ingest.compile_bytecode(staging / "site", targets)
            ingest.record_bytecode(staging / "site", info.dist_info)
            meta = {k: v for k, v in row.meta.items() if k != ORIGIN_KEY}
            meta["pyc_tags"] = tags
            ingest.write_meta(staging, meta)
            seal_contents(staging)
            rel = self.store._entry_dir_name(row.id)
            final = self.home.store / rel
            if os.path.lexists(final):  # unrecorded (a publish that died): replaced
                remove_tree(final)
            os.rename(staging, final)
            seal_top(final)
            with self.store.catalog.transaction():
                self.store.catalog.relocate_entry(row.id, rel, tags, meta)

    def _relocate(self, r: Repair) -> None:
        from .upstream import adopt

        found = self.store.upstreams.by_id(r.target)
        if found is None:
            raise IntegrityError("no configured upstream holds it any more")
        adopt(self.store, found, locked=True)
        self.store.release()

    def _quarantine(self, r: Repair) -> None:
        from .mirror import unlink_dists

        row = self._row(r.target)
        cat = self.store.catalog
        present = (self.home.store / row.dir).is_dir()
        if present:  # unlink it while its files can still be listed (hardlinks included)
            for link in cat.all_links():
                if link.entry_id == row.id and link.layer == Layer.LOCAL.value:
                    unlink_dists(self.store, link.env, [row.name])  # a mirror env too
        left = sorted({link.env for link in cat.all_links() if link.entry_id == row.id})
        with cat.transaction():
            for env in left:
                cat.set_links(env, [x for x in cat.links(env) if x.entry_id != row.id])
            cat.delete_entry(row.id)
        for env in left:  # its files are gone: what the linker placed for it cannot be listed
            self._unlink_gone(self.store.env(env), row)
        if present:
            self._quarantine_dir(row)

    def _unlink_gone(self, env: EnvInfo, row: EntryRow) -> None:
        """Remove what an env shows of an entry whose directory is gone: links into that directory,
        its dist-info directory (the env's own markers) and its console-script launchers."""
        from .launchers import launcher
        from .seal import remove_tree

        site = env.site_packages
        with self.store.env_lock(env.name):
            for child in sorted(site.iterdir()) if site.is_dir() else []:
                if child.is_symlink() and f"/{row.dir}/" in f"{os.readlink(child)}/":
                    child.unlink()
            dist_info = site / row.dist_info
            if dist_info.is_symlink() or dist_info.is_dir():
                remove_tree(dist_info)
            eps = row.meta.get("entry_points") or []
            assert isinstance(eps, list)
            for ep in eps:
                script = env.bin / str(ep["name"])
                want = launcher(str(env.python), str(ep["module"]), str(ep["attr"]))
                if script.is_file() and not script.is_symlink() and script.read_bytes() == want:
                    script.unlink()

    def _reseal(self, r: Repair) -> None:
        from .seal import seal, unseal

        row = self._row(r.target)
        root = self.home.store / row.dir
        unseal(root)  # modes cannot change below a directory that is still immutable
        seal(root)

    def _env(self, name: str) -> EnvInfo:
        return self.store.env(name)

    def _move_env(self, r: Repair) -> None:
        moved = next(f for f in r.findings if isinstance(f, d.EnvMoved))
        cat = self.store.catalog
        with cat.transaction():
            cat.set_env_path(moved.env, moved.found)

    def _recreate_env(self, r: Repair) -> None:
        from . import envs, interpreters
        from .seal import remove_tree

        env = self._env(r.target)
        if not os.path.exists(env.interpreter.executable):
            raise IntegrityError(f"its interpreter {env.interpreter.executable} is gone")
        env.path.parent.mkdir(parents=True, exist_ok=True)
        staging = env.path.parent / f".{env.path.name}.forge-tmp-{os.getpid()}-{token(8)}"
        cat = self.store.catalog
        entries = cat.entries([row.entry_id for row in cat.links(env.name)])
        real_pip = any(e.name == "pip" for e in entries.values())  # forge create --seed pip
        try:
            envs.write_venv(
                staging,
                env.interpreter,
                name=env.name,
                forge_python=interpreters.running_forge_python(),
                layers=self.store.runtime_layers(env),
                location=env.path,
                seed_front_end=not real_pip,
                home=self.store.home.root,
            )
            os.rename(staging, env.path)
        except BaseException:
            remove_tree(staging)
            raise

    def _forget_env(self, r: Repair) -> None:
        cat = self.store.catalog
        with cat.transaction():
            cat.delete_env(r.target)

    def _rewrite_venv_cfg(self, r: Repair) -> None:
        env = self._env(r.target)
        exe = str(env.interpreter.executable)
        if not os.path.exists(exe):
            raise IntegrityError(f"its interpreter {exe} is gone")
        cfg = env.path / "pyvenv.cfg"
        lines = []
        for line in cfg.read_text().splitlines():
            key = line.partition("=")[0].strip()
            if key == "home":
                line = f"home = {os.path.dirname(exe)}"
            elif key == "executable":
                line = f"executable = {exe}"
            lines.append(line)
        tmp = cfg.with_name(f".pyvenv.cfg.{os.getpid()}")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, cfg)
        python = env.bin / "python"
        if not python.is_symlink() or os.readlink(python) != exe:
            tmp_link = env.bin / f".python.{os.getpid()}"
            os.symlink(exe, tmp_link)
            os.replace(tmp_link, python)

    def _rewrite_launchers(self, r: Repair) -> None:
        from . import envs, interpreters
        from .activation import activate_script

        env = self._env(r.target)
        envs.write_pip_launchers(env.path, env.interpreter, interpreters.running_forge_python())
        (env.bin / "activate").write_text(activate_script(name=env.name, path=env.path, shell="bash"))
        (env.bin / "activate.fish").write_text(activate_script(name=env.name, path=env.path, shell="fish"))
        envs.write_layers_hook(env.site_packages, env.interpreter, self.store.runtime_layers(env))

    def _remove_link(self, r: Repair) -> None:
        finding = r.findings[0]
        assert isinstance(finding, d.LinkDangling | d.LinkForeign)
        with self.store.env_lock(finding.env):
            if finding not in d.link_findings(self.store, finding.env):
                return  # explained meanwhile (a change in flight committed its rows)
            path = Path(r.target)
            if path.is_symlink():
                path.unlink()

    def _relink(self, r: Repair) -> None:
        self.store.relink(r.target, repair=True)


def apply(store: Store, repairs: Sequence[Repair]) -> list[Outcome]:
    """Apply repairs in order (the caller holds the store lock); one failing does not stop the rest."""
    applier = _Applier(store)
    out: list[Outcome] = []
    for repair in repairs:
        try:
            applier.run(repair)
        except (ForgeError, OSError) as exc:
            out.append(Outcome(repair, False, str(getattr(exc, "message", None) or exc)))
        else:
            out.append(Outcome(repair, True))
    return out


def fix(
    store: Store,
    *,
    verify: bool = False,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FixResult:
    """Diagnose, plan and (unless ``dry_run``) apply under the store lock, then diagnose again.
    A dry run only reads (it works on a read-only ``FORGE_HOME``) and takes no lock."""
    if dry_run:
        before = d.diagnose(store, verify=verify, progress=progress)
        return FixResult(before, tuple(plan(store, before)), (), None)
    from .recovery import heal

    # interrupted operations are rolled forward or back first (their journals are undo logs, not
    # litter); the leftovers doctor finds are then swept as its own repairs, so they are reported
    with store.store_lock(sweep=False):
        heal(store, "store", leases=False)
        before = d.diagnose(store, verify=verify, progress=progress)
        planned = plan(store, before)
        outcomes = apply(store, planned)
        after = d.diagnose(store, verify=verify, progress=progress)
        tried = {(r.action, r.target) for r in planned}
        for _round in range(MAX_ROUNDS - 1):
            more = [r for r in plan(store, after) if (r.action, r.target) not in tried]
            if not more:
                break
            tried.update((r.action, r.target) for r in more)
            planned.extend(more)
            outcomes.extend(apply(store, more))
            after = d.diagnose(store, verify=verify, progress=progress)
        return FixResult(before, tuple(planned), tuple(outcomes), after)
