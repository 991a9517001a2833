"""``Store``: the typed facade over the store, the catalog, envs and the linker.

Usage::

    from forge_store import Store
    store = Store()                                  # FORGE_HOME or the user data dir
    env = store.create_env("ml", python="3.11")
    report = store.install_wheels("ml", [Path("numpy-2.4.6-....whl")])
    for action in report.actions: ...

Every mutation is all-or-nothing: files are placed through an undo journal and the catalog rows
that describe them are written in one transaction; if either fails, both are rolled back and
entries this operation added to the store (still unused) are removed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import interpreters
from .catalog import Catalog, EntryRow, EnvRow, IntentRow, LinkRow
from .errors import (
    AbiMismatch,
    EntryMissing,
    EnvBusy,
    EnvDirMissing,
    EnvExists,
    EnvNotFound,
    IncompatibleWheel,
    IntegrityError,
    InvalidWheel,
    LockTimeout,
    NotFoundError,
    UsageError,
    storage_error,
)
from .hashing import file_sha256
from .home import ForgeHome, default_home
from .models import (
    EntryPoint,
    EnvInfo,
    EnvKind,
    InstallAction,
    InstallReport,
    Interpreter,
    Layer,
    LayeringMode,
    LinkedDist,
    LinkMode,
    OriginClimb,
    ReuseKind,
    StoredWheel,
)
from .tokens import hostname, token

if TYPE_CHECKING:
    from .bytecode import Compiler
    from .ingest import WheelInfo
    from .linker import DistSpec
    from .locks import HeldFile
    from .policy import Policy
    from .upstream import Upstreams

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
GLOBAL_PREFIX = "@global-"
BUILD_PREFIX = "@build-"


def env_lock_name(name: str) -> str:
    return f"env-{name.replace('/', '_')}"


def _env_info(row: EnvRow) -> EnvInfo:
    return EnvInfo(
        name=row.name,
        path=Path(row.path),
        interpreter=interpreters.from_json(row.interpreter),
        parent=row.parent,
        layering=LayeringMode(row.layering),
        link_mode=LinkMode(row.link_mode),
        kind=EnvKind(row.kind),
        created=row.created,
    )


def _env_row(info: EnvInfo) -> EnvRow:
    return EnvRow(
        name=info.name,
        path=str(info.path),
        interpreter=interpreters.to_json(info.interpreter),
        abi=info.interpreter.abi_key,
        parent=info.parent,
        layering=info.layering.value,
        link_mode=info.link_mode.value,
        kind=info.kind.value,
        settings={},
        created=info.created,
    )


class Store:
    """Forge's store, catalog and envs below one ``FORGE_HOME``. Library code: never prints."""

    def __init__(
        self, home: Path | str | None = None, *, lock_timeout: float | None = None, read_only: bool = False
    ) -> None:
        """``read_only``: open the catalog read-only and create nothing (``forge doctor`` without
        ``--fix`` on a read-only FORGE_HOME); every mutation then fails with a typed error."""
        from .locks import default_timeout

        self.home = ForgeHome(Path(home).absolute() if home is not None else default_home())
        self.lock_timeout = default_timeout() if lock_timeout is None else lock_timeout
        self.read_only = read_only
        self._catalog: Catalog | None = None
        self.holder = f"{hostname()}:{os.getpid()}:{token(8)}"
        self._held: HeldFile | None = None
        self._upstreams: Upstreams | None = None
        self._upstreams_possible: bool | None = None  # decided once, as the manifests are read once
        self.healed: list[IntentRow] = []
        """Intents of dead processes this Store recovered (``forge_store.recovery``)."""
        self._holder_of: Store | None = None  # a sibling's leases are this Store's (:meth:`sibling`)

    def sibling(self) -> Store:
        """A Store for another thread of this operation: its own catalog connection (a connection
        and its transactions belong to one thread), the same home, timeout and lease holder, so the
        entries it ingests or leases are this operation's (kept alive by this Store's holder file,
        dropped by :meth:`release`). Close it when the thread is done."""
        self._hold()
        other = Store(self.home.root, lock_timeout=self.lock_timeout, read_only=self.read_only)
        other.holder = self.holder
        other._holder_of = self
        return other

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The catalog, opened on first use; read-only when FORGE_HOME cannot be written (then
        reading commands work and the first write raises ``ReadOnlyStorage``)."""
        if self._catalog is None:
            if self.read_only:
                self._catalog = Catalog(self.home.catalog, timeout=self.lock_timeout, read_only=True)
            else:
                try:
                    self.home.ensure()
                except OSError:
                    if not self.home.catalog.is_file():
                        raise
                self._catalog = Catalog(self.home.catalog, timeout=self.lock_timeout)
                from .recovery import heal_on_open

                heal_on_open(self)  # reading commands see healed envs too (one query)
        return self._catalog

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _lock(
        self, name: str, timeout: float | None = None, *, unlink: bool = False, sweep: bool = True
    ) -> Iterator[None]:
        """Hold ``locks/NAME.lock``; having it, first recover what dead processes left (see
        ``forge_store.recovery``: one query when nothing is pending; the store lock also sweeps
        leftovers unless ``sweep`` is false)."""
        from . import recovery
        from .locks import Timeout, file_lock

        self.catalog.check_writable()  # a read-only FORGE_HOME: say so before anything changes
        self.home.locks.mkdir(parents=True, exist_ok=True)
        try:
            wait = self.lock_timeout if timeout is None else timeout
            with file_lock(self.home.locks / f"{name}.lock", wait, unlink=unlink):
                try:
                    if name == "store" and sweep:
                        recovery.sweep_store(self)
                    elif sweep:
                        recovery.heal(self, name)
                except OSError as exc:  # a full disk, a read-only file system: one typed line
                    raise storage_error(exc) or exc from exc
                yield
        except Timeout as exc:
            by = ", ".join(exc.holders) or "another process"
            raise LockTimeout(
                f"the {name} lock ({exc.path}) is held by {by}; gave up after {exc.timeout:g}s",
                hint="wait for it to finish, or set FORGE_LOCK_TIMEOUT=SECONDS to wait longer",
                holders=exc.holders,
                timeout=exc.timeout,
            ) from None

    def store_lock(self, *, sweep: bool = True) -> contextlib.AbstractContextManager[None]:
        """The lock under which entries are published or removed (``sweep``: heal and sweep what
        dead processes left first; gc's dry run must not)."""
        return self._lock("store", sweep=sweep)

    def env_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self._lock(env_lock_name(name))

    def work_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A lock for one piece of slow work (``ingest-SHA``, ``pyc-ID``): waits as long as the
        holder works, and its file is deleted afterwards."""
        from .publish import WORK_LOCK_TIMEOUT

        return self._lock(name, max(self.lock_timeout, WORK_LOCK_TIMEOUT), unlink=True)

    def _hold(self) -> None:
        """Hold this Store's holder file before taking a lease: the sweep tells a dead holder's
        leases from a live one's by whether that file is locked."""
        if self._holder_of is not None:
            self._holder_of._hold()
        elif self._held is None:
            from .locks import HeldFile
            from .recovery import holder_file

            self._held = HeldFile(holder_file(self, self.holder))

    def config_lock(self) -> contextlib.AbstractContextManager[None]:
        """The lock under which ``config.json`` (per-env settings, :mod:`.settings`) is rewritten."""
        return self._lock("config")

    # -- entries ----------------------------------------------------------------------------------

    @property
    def upstreams(self) -> Upstreams:
        """The read-only upstream stores consulted after the local one (:mod:`.upstream`)."""
        if self._upstreams is None:
            from .upstream import Upstreams

            self._upstreams = Upstreams(self)
        return self._upstreams

    def _may_use_upstreams(self) -> bool:
        """Whether :attr:`upstreams` may have something to say (see
        :func:`.upstream_names.any_configured`), decided once per Store as :class:`.upstream.Upstreams`
        reads its manifests once: a store without upstreams never loads them."""
        if self._upstreams_possible is None:
            from .upstream_names import any_configured

            self._upstreams_possible = self._upstreams is not None or any_configured(self)
        return self._upstreams_possible

    def entry_path(self, row: EntryRow) -> Path:
        """An entry's directory: in the local store, or in the upstream it is linked from."""
        if row.dir.startswith("@"):
            from .upstream import origin_of

            origin = origin_of(row)
            if origin is not None:
                return origin.path
        return self.home.store / row.dir

    def _stored(self, row: EntryRow, *, reused: bool = False, kind: ReuseKind | None = None) -> StoredWheel:
        """``kind``: how it was reused (default: EXACT when ``reused``, else NONE)."""
        meta = row.meta

        def strs(key: str) -> tuple[str, ...]:
            value = meta.get(key) or []
            assert isinstance(value, list)
            return tuple(str(v) for v in value)

        eps = meta.get("entry_points") or []
        climbs = meta.get("climbs") or []
        assert isinstance(eps, list) and isinstance(climbs, list)
        return StoredWheel(
            id=row.id,
            path=self.entry_path(row),
            name=row.name,
            version=row.version,
            dist_info=row.dist_info,
            tags=row.tags,
            requires_python=row.requires_python,
            requires_dist=strs("requires_dist"),
            wheel_sha256=row.wheel_sha256,
            size=row.size,
            files=row.files,
            pyc_tags=row.pyc_tags,
            entry_points=tuple(EntryPoint(**e) for e in eps),
            namespace_dirs=strs("namespace_dirs"),
            climbs=tuple(OriginClimb(**c) for c in climbs),
            has_data=bool(meta.get("has_data")),
            has_headers=bool(meta.get("has_headers")),
            has_scripts=bool(meta.get("has_scripts")),
            record_issues=strs("record_issues"),
            reused=reused,
            reuse_kind=kind or (ReuseKind.EXACT if reused else ReuseKind.NONE),
        )

    def entry(self, entry_id: str) -> StoredWheel:
        """An entry of the local catalog, else of an upstream (not recorded until it is leased)."""
        row = self.catalog.entry(entry_id)
        if row is None:
            found = self.upstreams.by_id(entry_id)
            if found is None:
                raise NotFoundError(f"no store entry {entry_id}")
            return self._stored(found.row)
        return self._stored(row)

    def entries(self, name: str | None = None) -> list[StoredWheel]:
        """All entries, or those of one (canonical) project name. Entries whose directory was
        deleted by hand are left out: nothing should be planned from them (ingesting their
        wheel again restores them). With a name, the upstreams' entries of that project that the
        local catalog lacks follow (``--offline``/``--prefer-offline`` candidates)."""
        rows = self.catalog.all_entries() if name is None else self.catalog.entries_named(name)
        out = [self._stored(r) for r in rows if self.entry_path(r).is_dir()]
        if name is not None and self._may_use_upstreams():
            have = {e.id for e in out}
            out += [
                self._stored(u.row) for u in self.upstreams.named(name, verified=True) if u.row.id not in have
            ]
        return out

    def wheel_sha256(self, path: Path) -> str:
        """sha256 of a wheel file, remembered by (path, size, mtime, inode) so it is computed once."""
        try:
            st = path.stat()
        except OSError:
            from .errors import InvalidWheel

            raise InvalidWheel(f"{path}: no such file") from None
        key = (str(path.absolute()), st.st_size, st.st_mtime_ns, st.st_ino)
        cached = self.catalog.cached_sha256(*key)
        if cached is not None:
            return cached
        sha = file_sha256(path)
        with self.catalog.transaction():
            self.catalog.remember_sha256(*key, sha)
        return sha

    def entry_for_wheel_sha256(self, sha256: str) -> StoredWheel | None:
        """The entry unpacked from the wheel with this sha256: the local store's, else an
        upstream's (None if neither has it: then the wheel is fetched and ingested, which also
        restores an entry whose directory was deleted by hand)."""
        row = self.catalog.entry_by_alias(sha256)
        if row is not None and self.entry_path(row).is_dir():
            return self._stored(row)
        found = self.upstreams.by_wheel(sha256, verified=True)
        return None if found is None else self._stored(found.row)

    def add_wheel(
        self,
        path: Path,
        *,
        interpreters_: Sequence[Interpreter] = (),
        info: WheelInfo | None = None,
        wheel_sha256: str | None = None,
        compiler: Compiler | None = None,
    ) -> StoredWheel:
        """Ingest a wheel (idempotent): unpack, validate, scan, compile pycs for ``interpreters_``
        (default: the one running Forge), seal and publish. ``reused`` tells whether it was there.
        ``compiler``: bytecode workers shared by the operation's ingests (:mod:`.bytecode`).

        A known entry whose directory was deleted by hand is unpacked again from this wheel (its
        content id must match); one left unsealed by a crash is sealed again."""
        from . import publish

        targets = list(interpreters_) or [interpreters.current()]
        sha = wheel_sha256 or file_sha256(path)
        cat = self.catalog
        self._hold()
        row = cat.entry_by_alias(sha)
        if row is None:
            from . import ingest

            info = info or ingest.inspect_wheel(path)
            if info.provisional_id:  # same content under another archive: found without unpacking
                row = cat.entry(info.provisional_id)
        if row is None or not self._entry_present(row) or row.dir.startswith("@"):
            from .upstream import serve_wheel  # after the local store: the very file, or its content

            served = serve_wheel(self, row, sha, path.name, info.provisional_id if info else None)
            if served is not None:
                return publish.reuse(self, served, targets)  # (pycs are never added upstream)
        if row is not None and self._entry_present(row):
            # leased only if still there: a concurrent gc may just have taken it
            row = cat.lease_entry(row.id, self.holder, alias=(sha, path.name))
            if row is not None:
                return publish.reuse(self, row, targets, compiler)
        try:
            return publish.ingest(self, path, sha, info, targets, compiler)
        except InvalidWheel as exc:  # "cannot unpack" because the disk is full is no bad wheel
            fault = storage_error(exc)
            if fault is None:
                raise
            raise fault from None
        except OSError as exc:
            fault = storage_error(exc)
            if fault is None:
                raise
            raise fault from exc

    def _entry_present(self, row: EntryRow, *, locked: bool = False) -> bool:
        """Whether an entry's directory exists (False: deleted by hand, to be restored); one that
        a crash left unsealed (an interrupted publish or pyc update) is sealed again here, under
        the store lock (``locked``: the caller holds it already)."""
        from .seal import is_sealed, seal

        path = self.entry_path(row)
        if path != self.home.store / row.dir:  # an upstream's: read-only to Forge, never sealed here
            return path.is_dir()
        if is_sealed(path):
            return True
        if not path.is_dir():
            return False
        with contextlib.nullcontext() if locked else self.store_lock():
            if is_sealed(path):
                return True
            if not path.is_dir():
                return False  # gc had unsealed it to collect it, and did while we waited for the lock
            seal(path)
        return True

    def _entry_dir_name(self, cid: str) -> str:
        for width in (16, 32, 64):
            rel = cid[:width]
            other = self.catalog.entry_by_dir(rel)
            if other is None or other.id == cid:
                return rel
        raise IntegrityError(f"store directory for {cid} is taken")

    def _ensure_climbs(self, row: EntryRow) -> EntryRow:
        """Rescan, once, the ELF files of an entry ingested by an older scan (which left out climbs
        into its own directories, so the linker could not see pin's leaf climbing out; or had no
        ``native`` record for the native checks).

        Reading the sealed entry needs no lock; recording the result is idempotent.
        """
        from . import elf

        version = row.meta.get("climb_scan")
        if isinstance(version, int) and version >= elf.SCAN_VERSION:
            return row
        site = self.entry_path(row) / "site"
        if not site.is_dir():
            return row  # being collected: nothing will link it
        meta = {**row.meta, **elf.rescan(site)}  # climbs, native, climb_scan
        if self.read_only:
            return dataclasses.replace(row, meta=meta)
        with self.catalog.transaction():
            self.catalog.set_meta(row.id, meta)
        return dataclasses.replace(row, meta=meta)

    def _discard_unused(self, entries: Sequence[StoredWheel]) -> None:
        """Remove entries this operation created if nothing links or leases them (rollback)."""
        from .seal import remove_tree

        new = [e for e in entries if not e.reused]
        if not new:
            return
        with self.store_lock():
            for entry in new:
                row = self.catalog.entry(entry.id)
                if row is None or row.refcount > 0 or row.dir.startswith("@"):
                    continue  # linked, or an upstream's (its files are not ours; gc forgets the row)
                if set(self.catalog.lease_holders(entry.id)) - {self.holder}:
                    continue
                with self.catalog.transaction():
                    self.catalog.delete_entry(entry.id)
                remove_tree(self.home.store / row.dir)

    def lease(self, entry_id: str, *, interpreters_: Sequence[Interpreter] = ()) -> StoredWheel:
        """Mark an existing entry as used by this operation until :meth:`release` (gc and rollbacks
        leave leased entries alone), and return it; with ``interpreters_`` (the env's), it gets
        their pycs if it lacks them (an entry reused by its tags), and ``reuse_kind`` says so."""
        self._hold()
        entry = self._leased(entry_id, self.catalog.lease_entry(entry_id, self.holder), interpreters_)
        if entry is None:
            raise entry_gone(entry_id)
        return entry

    def lease_all(
        self, entry_ids: Sequence[str], *, interpreters_: Sequence[Interpreter] = ()
    ) -> list[StoredWheel]:
        """:meth:`lease` for each of ``entry_ids``, in order, their catalog leases taken in one
        transaction (a warm install of 50 dists commits once, not 50 times)."""
        found = self.lease_present(entry_ids, interpreters_=interpreters_)
        for eid, entry in zip(entry_ids, found, strict=True):
            if entry is None:
                raise entry_gone(eid)
        return [e for e in found if e is not None]

    def lease_present(
        self, entry_ids: Sequence[str], *, interpreters_: Sequence[Interpreter] = ()
    ) -> list[StoredWheel | None]:
        """:meth:`lease_all`, with None for each entry that is gone (a concurrent gc collected it
        after the caller chose it), so that the caller can fetch its wheel instead."""
        if not entry_ids:
            return []
        self._hold()
        with self.catalog.transaction():
            rows = [self.catalog.lease_entry(eid, self.holder) for eid in entry_ids]
        return [self._leased(eid, row, interpreters_) for eid, row in zip(entry_ids, rows, strict=True)]

    def _leased(
        self, entry_id: str, row: EntryRow | None, interpreters_: Sequence[Interpreter]
    ) -> StoredWheel | None:
        """The rest of :meth:`lease` once the catalog lease is taken (``row``: the entry's row,
        None when it is not in the local catalog; leasing is atomic against gc); None when the
        entry is gone."""
        if row is None or row.dir.startswith("@"):
            from .upstream import lease_upstream  # not known here yet, or an upstream's

            row = lease_upstream(self, entry_id, row)
        if row is None:
            return None
        entry = self._stored(row)
        self._require_entries([entry])
        if interpreters_:
            from . import publish

            return publish.reuse(self, row, interpreters_)
        return self._stored(self._ensure_climbs(row), reused=True)

    def _require_entries(self, entries: Sequence[StoredWheel], env_name: str | None = None) -> None:
        """``EntryMissing`` for the first entry whose directory is gone (deleted by hand)."""
        for entry in entries:
            if entry.path.is_dir():
                continue
            users = self.catalog.users_of(entry.id)
            if not entry.path.is_relative_to(self.home.store):
                by = f", linked by {', '.join(users[:5])}" if users else ""
                raise EntryMissing(
                    f"upstream entry {entry.name}-{entry.version} at {entry.path} is not available"
                    f" (the upstream is gone or unmounted){by}",
                    hint="mount the upstream again, or run `forge doctor --fix` to relink its envs to a"
                    " local copy",
                )
            env = env_name or (users[0] if users else None)
            used = f", and env(s) {', '.join(users[:5])} link it" if users else ""
            how = f"forge pip install --env {env} --force-reinstall" if env else "forge pip install"
            raise EntryMissing(
                f"store entry {entry.path} ({entry.name} {entry.version}) is missing"
                f" (deleted by hand?){used}",
                hint=f"install it again to restore it: {how} {entry.name}=={entry.version}"
                f" (or forge install WHEEL{f' --env {env}' if env else ''} with its wheel file)",
            )

    def require_env_dir(self, env: EnvInfo) -> None:
        """``EnvDirMissing`` when the env's directory (its site-packages) is gone."""
        if env.site_packages.is_dir():
            return
        hint = f"`forge remove {env.name}` forgets it"
        if env.kind is EnvKind.ENV:
            hint += f"; then `forge create {env.name}` makes it anew"
        raise EnvDirMissing(
            f"env {env.name!r} is registered at {env.path}, but that directory is gone"
            f" (or has no {env.interpreter.site_packages_rel})",
            hint=hint,
        )

    def release(self) -> None:
        """Drop this operation's leases (done automatically after every env change)."""
        with self.catalog.transaction():
            self.catalog.drop_leases(self.holder)

    # -- envs -------------------------------------------------------------------------------------

    def env(self, name: str) -> EnvInfo:
        row = self.catalog.env(name)
        if row is None:
            raise EnvNotFound(f"no env named {name!r}", hint="`forge envs` lists them")
        return _env_info(row)

    def envs(self, *, include_global: bool = False) -> list[EnvInfo]:
        out = [_env_info(r) for r in self.catalog.envs()]
        if include_global:
            return out
        return [e for e in out if e.kind not in (EnvKind.GLOBAL, EnvKind.BUILD)]

    def env_at(self, path: Path) -> EnvInfo | None:
        row = self.catalog.env_by_path(str(path.absolute()))
        return None if row is None else _env_info(row)

    def children(self, name: str) -> list[EnvInfo]:
        return [_env_info(r) for r in self.catalog.children(name)]

    def chain(self, env: EnvInfo) -> list[EnvInfo]:
        """The env's ancestors, nearest first."""
        out: list[EnvInfo] = []
        seen = {env.name}
        parent = env.parent
        while parent is not None and parent not in seen:
            info = self.env(parent)
            out.append(info)
            seen.add(parent)
            parent = info.parent
        return out

    def global_env(self, interp: Interpreter, *, create: bool = False) -> EnvInfo | None:
        name = GLOBAL_PREFIX + interp.abi_key
        row = self.catalog.env(name)
        if row is not None:
            return _env_info(row)
        if not create:
            return None
        return self._create(name, interp, path=self.home.globals / interp.abi_key, kind=EnvKind.GLOBAL)

    def global_site(self, interp: Interpreter) -> Path:
        return self.home.globals / interp.abi_key / interp.site_packages_rel

    def runtime_layers(self, env: EnvInfo) -> list[Path]:
        """Site dirs stacked after the env's own at start-up, nearest first."""
        if env.kind in (EnvKind.GLOBAL, EnvKind.BUILD):
            return []  # the base layer itself, or an isolated build env
        layers: list[Path] = []
        if env.layering is LayeringMode.STACKED:
            layers.extend(p.site_packages for p in self.chain(env))
        layers.append(self.global_site(env.interpreter))
        return layers

    def create_env(
        self,
        name: str,
        *,
        python: str | None = None,
        parent: str | None = None,
        path: Path | None = None,
        layering: LayeringMode = LayeringMode.STACKED,
        link_mode: LinkMode = LinkMode.SYMLINK,
    ) -> EnvInfo:
        """Create a Forge env (a real venv without pip). A child inherits its parent's interpreter;
        a child on another interpreter ABI than its parent is refused."""
        if not _NAME_RE.match(name):
            raise UsageError(
                f"invalid env name {name!r}",
                hint="use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
            )
        if parent is not None and ":" in parent:  # UPSTREAM:STACK, a published stack: mirror it
            from .mirror import ensure

            parent = ensure(self, parent).env.name
        parent_info = self.env(parent) if parent is not None else None
        if python is not None:
            interp = interpreters.find(python, self.home.cache / "interpreters")
        elif parent_info is not None:
            interp = parent_info.interpreter
        else:
            interp = interpreters.current()
        if parent_info is not None and parent_info.interpreter.abi_key != interp.abi_key:
            raise AbiMismatch(
                f"env {name!r} would run {interp.abi_key} but its parent {parent!r} runs"
                f" {parent_info.interpreter.abi_key}",
                hint="a child must use its parent's interpreter ABI; omit --python to inherit it",
            )
        info = self._create(
            name,
            interp,
            path=path.absolute() if path is not None else self.home.envs / name,
            kind=EnvKind.ENV,
            parent=parent,
            layering=layering,
            link_mode=link_mode,
        )
        if parent_info is not None and layering is LayeringMode.FLAT:
            self.relink(name)
        return info

    def create_build_env(self, interp: Interpreter) -> EnvInfo:
        """A hidden, isolated env for one PEP 517 build (no GLOBAL layer, not listed by ``envs``).
        The caller removes it with :meth:`remove_env` when the build is done."""
        key = token(12)
        return self._create(
            f"{BUILD_PREFIX}{key}", interp, path=self.home.root / "build-envs" / key, kind=EnvKind.BUILD
        )

    def _create(
        self,
        name: str,
        interp: Interpreter,
        *,
        path: Path,
        kind: EnvKind,
        parent: str | None = None,
        layering: LayeringMode = LayeringMode.STACKED,
        link_mode: LinkMode = LinkMode.SYMLINK,
    ) -> EnvInfo:
        self.catalog.check_writable()
        with self.env_lock(name):
            return self._create_locked(name, interp, path, kind, parent, layering, link_mode)

    def _create_locked(
        self,
        name: str,
        interp: Interpreter,
        path: Path,
        kind: EnvKind,
        parent: str | None,
        layering: LayeringMode,
        link_mode: LinkMode,
    ) -> EnvInfo:
        """Write the venv into a staging dir, rename it into place, record it (dropping the
        intent in that transaction); a kill before the commit is rolled back by recovery."""
        from . import envs, faults, recovery
        from .seal import remove_tree

        if self.catalog.env(name) is not None:
            raise EnvExists(f"env {name!r} already exists", hint=f"`forge remove {name}` first")
        if self.catalog.env_by_path(str(path)) is not None:
            raise EnvExists(f"{path} is already a Forge env")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise EnvExists(f"{path} exists and is not empty")
        info = EnvInfo(
            name=name,
            path=path,
            interpreter=interp,
            parent=parent,
            layering=layering,
            link_mode=link_mode,
            kind=kind,
            created=time.time(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".{path.name}.forge-tmp-{os.getpid()}-{token(8)}"
        data: dict[str, object] = {"name": name, "path": str(path), "staging": str(staging)}
        intent = recovery.begin(self, "create", env_lock_name(name), data)
        placed = False
        try:
            envs.write_venv(
                staging,
                interp,
                name=name,
                forge_python=interpreters.running_forge_python(),
                layers=self.runtime_layers(info),
                location=path,
                home=self.home.root,
            )
            faults.point("create-written")
            if path.exists():
                path.rmdir()
            os.rename(staging, path)
            placed = True
            faults.point("create-renamed")
            with self.catalog.transaction():
                self.catalog.insert_env(_env_row(info))
                self.catalog.delete_intent(intent)
            faults.point("create-committed")
        except BaseException:
            remove_tree(staging)
            if placed and self.catalog.env(name) is None:
                remove_tree(path)
            recovery.abandon(self, intent)
            raise
        return info

    def adopt(self, prefix: Path, *, name: str | None = None, system_python: Path | None = None) -> EnvInfo:
        """Register a plain venv (made by ``venv``, virtualenv or uv) so Forge can link into it.

        Nothing in it is touched: the packages it already has stay as they are and are reported as
        unmanaged. No layer hook is written: an adopted venv has no parents. ``system_python``: adopt
        that non-venv interpreter's own prefix instead (pip's ``--break-system-packages``); refused
        unless it installs into ``prefix/lib/pythonX.Y/site-packages``, the layout Forge links into.
        """
        prefix = prefix.absolute()
        known = self.env_at(prefix)
        if known is not None:
            if known.kind is not EnvKind.ADOPTED or not self._adoption_stale(known):
                return known
            # The venv was deleted and made again at this path (``tox -r``, ``venv --clear``):
            # what the catalog says Forge linked there is gone. Forget it; adopt the new venv.
            with self.catalog.transaction():
                self.catalog.delete_env(known.name)
        if system_python is not None:
            interp = interpreters.probe(system_python, self.home.cache / "interpreters")
            scheme = interpreters.install_scheme(system_python)
            expected = prefix / interp.site_packages_rel
            if Path(str(scheme["purelib"])) != expected or Path(str(scheme["platlib"])) != expected:
                raise UsageError(
                    f"{system_python} installs into {scheme['purelib']}, not {expected}",
                    hint="Forge links only into that layout; use a venv (forge create NAME)",
                )
        else:
            if not (prefix / "pyvenv.cfg").is_file():
                raise UsageError(f"{prefix} is not a virtual environment (no pyvenv.cfg)")
            interp = interpreters.probe(prefix / "bin" / "python", self.home.cache / "interpreters")
        base = name or re.sub(r"[^A-Za-z0-9._-]", "-", prefix.name).lstrip(".-_") or "venv"
        candidate = f"venv-{base}"[:56]
        i = 1
        while self.catalog.env(candidate) is not None:
            i += 1
            candidate = f"venv-{base}"[:52] + f"-{i}"
        info = EnvInfo(
            name=candidate,
            path=prefix,
            interpreter=interp,
            parent=None,
            layering=LayeringMode.STACKED,
            link_mode=LinkMode.SYMLINK,
            kind=EnvKind.ADOPTED,
            created=time.time(),
        )
        with self.catalog.transaction():
            self.catalog.insert_env(_env_row(info))
        return info

    def _adoption_stale(self, env: EnvInfo) -> bool:
        """Whether an adopted venv is no longer the one Forge linked into: its interpreter version
        changed, or a dist Forge linked there has no dist-info any more."""
        try:
            cfg = (env.path / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return True
        for line in cfg.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info") and value.strip():
                if not value.strip().startswith(env.interpreter.full_version):
                    return True
                break
        rows = [r for r in self.catalog.links(env.name) if r.layer == Layer.LOCAL.value]
        entries = self.catalog.entries([r.entry_id for r in rows])
        return any(
            not os.path.lexists(env.site_packages / entries[r.entry_id].dist_info)
            for r in rows
            if r.entry_id in entries
        )

    def remove_env(self, name: str, *, recursive: bool = False) -> list[str]:
        """Delete an env and its links (never store content); refuses while children exist."""
        if self.catalog.env(name) is None and self.catalog.intents(env_lock_name(name)):
            with self.env_lock(name):  # a remove killed after its commit: finishing it is the answer
                pass
        if self.catalog.env(name) is None and any(
            i.kind == "remove" and i.data.get("name") == name for i in self.healed
        ):
            return [name]  # the removal a kill interrupted was finished by healing
        env = self.env(name)
        kids = self.children(name)
        if kids and not recursive:
            raise EnvBusy(
                f"env {name!r} has children: {', '.join(k.name for k in kids)}",
                hint="remove them first, or pass --recursive",
            )
        removed: list[str] = []
        for kid in kids:
            removed.extend(self.remove_env(kid.name, recursive=True))
        if env.kind is EnvKind.ADOPTED:  # not ours to delete: unlink what we linked, then forget it
            if env.path.is_dir():
                self.change(name, remove=[d.name for d in self.visible(name) if d.env == name])
            with self.catalog.transaction():
                self.catalog.delete_env(name)
            return [*removed, name]
        with self.env_lock(name):
            row = self.catalog.env(name)
            if row is None:  # removed meanwhile, or a killed remove of it was rolled forward
                return [*removed, name]
            self._remove_locked(_env_info(row))
        removed.append(name)
        return removed

    def _remove_locked(self, env: EnvInfo) -> None:
        """Move the env dir aside, forget the env, delete the dir; a kill anywhere is rolled
        forward by recovery (the user asked for it gone)."""
        from . import faults, recovery
        from .seal import remove_tree

        trash = env.path.parent / f".{env.path.name}.forge-rm-{token(8)}"
        data: dict[str, object] = {"name": env.name, "path": str(env.path), "trash": str(trash)}
        intent = recovery.begin(self, "remove", env_lock_name(env.name), data)
        moved = False
        try:
            if env.path.exists():
                os.rename(env.path, trash)
                moved = True
            faults.point("remove-moved")
            with self.catalog.transaction():
                self.catalog.delete_env(env.name)
                self.catalog.set_intent_state(intent, "committed")
        except BaseException:
            if moved:
                os.rename(trash, env.path)
            recovery.abandon(self, intent)
            raise
        faults.point("remove-committed")
        if moved:
            remove_tree(trash)
        faults.point("remove-deleted")
        recovery.finish(self, intent)

    # -- what an env sees -------------------------------------------------------------------------

    def _local_rows(self, env: EnvInfo) -> list[LinkRow]:
        return [r for r in self.catalog.links(env.name) if r.layer == Layer.LOCAL.value]

    def visible(self, env_name: str) -> list[LinkedDist]:
        """Every distribution the env sees, nearest layer first; shadowed ones are dropped."""
        env = self.env(env_name)
        seen: dict[str, LinkedDist] = {}
        for info, layer in [(env, Layer.LOCAL), *self._layers_below(env)]:
            rows = self._local_rows(info)
            entries = self.catalog.entries([r.entry_id for r in rows])
            for r in rows:
                e = entries[r.entry_id]
                if e.name not in seen:
                    seen[e.name] = LinkedDist(e.name, e.version, e.id, layer, info.name, r.requested)
        return sorted(seen.values(), key=lambda d: d.name)

    def manifest(self, env_name: str) -> dict[str, str]:
        self.env(env_name)
        return self.catalog.manifest(env_name)

    def export(self, env_name: str, *, include_all: bool = False) -> str:
        """A requirements file: what the env asked for, pinned (``include_all``: every visible dist)."""
        env = self.env(env_name)
        visible = {d.name: d for d in self.visible(env_name)}
        lines = [f"# forge export --env {env.name} (Python {env.interpreter.full_version})"]
        if include_all:
            for d in visible.values():
                where = "" if d.layer is Layer.LOCAL else f"  # {d.layer.value}: {d.env}"
                lines.append(f"{d.name}=={d.version}{where}")
        else:
            from .pep610 import direct_reference

            # VCS installs export as name @ git+URL@commit (the commit, not the moving branch)
            records = {
                r.entry_id: r.direct_url
                for r in self.catalog.links(env.name)
                if r.direct_url and '"vcs_info"' in r.direct_url
            }
            for name, requirement in self.catalog.manifest(env.name).items():
                dist = visible.get(name)
                record = records.get(dist.entry_id) if dist is not None else None
                if dist is None:
                    lines.append(requirement)
                else:
                    pinned = direct_reference(name, record) if record is not None else None
                    lines.append(pinned or f"{name}=={dist.version}")
        return "\n".join(lines) + "\n"

    # -- changing an env --------------------------------------------------------------------------

    def install_wheels(
        self,
        env_name: str,
        wheels: Sequence[Path],
        *,
        local: bool = False,
        requested: bool = True,
        policy: Policy | None = None,
    ) -> InstallReport:
        """Link local wheel files into an env (ingesting them first). Link and unlink only.
        ``policy``: as for :meth:`change`."""
        from .linker import DistSpec, direct_url_json

        env = self.env(env_name)
        supported = set(interpreters.wheel_tags(env.interpreter))
        # (path, sha256, inspected info or None when the store already knows this file)
        todo: list[tuple[Path, str, WheelInfo | None]] = []
        names: set[str] = set()
        for raw in wheels:
            path = Path(raw)
            if not path.name.endswith(".whl"):
                from .ingest import inspect_wheel

                inspect_wheel(path)  # raises the right "not a wheel" error
            sha = self.wheel_sha256(path)
            row = self.catalog.entry_by_alias(sha)
            if row is not None:  # known file: check it from the catalog, do not reopen it
                name, tags, requires_python = row.name, row.tags, row.requires_python
                info = None
            else:
                from .ingest import inspect_wheel

                info = inspect_wheel(path)
                name, tags, requires_python = info.name, info.tags, info.requires_python
            check_compatible(path.name, tags, requires_python, env, supported)
            if name in names:
                raise UsageError(f"{name} is given twice")
            names.add(name)
            todo.append((path, sha, info))
        added: list[StoredWheel] = []
        try:
            from .bytecode import Compiler

            with Compiler() as compiler:  # workers started once for all the wheels, if any compiles
                for path, sha, info in todo:
                    added.append(
                        self.add_wheel(
                            path,
                            interpreters_=[env.interpreter],
                            info=info,
                            wheel_sha256=sha,
                            compiler=compiler,
                        )
                    )
            specs = [
                DistSpec(
                    entry,
                    requested=requested,
                    direct_url=direct_url_json(path.absolute().as_uri(), archive_hash=sha),
                )
                for entry, (path, sha, _info) in zip(added, todo, strict=True)
            ]
            manifest: dict[str, str | None] = {}
            if requested:
                manifest = {s.entry.name: f"{s.entry.name}=={s.entry.version}" for s in specs}
            return self.change(env_name, add=specs, local=local, manifest=manifest, policy=policy)
        except BaseException:
            self._discard_unused(added)
            raise
        finally:
            self.release()

    def uninstall(
        self, env_name: str, names: Sequence[str], *, local: bool = False, policy: Policy | None = None
    ) -> InstallReport:
        """Unlink distributions from an env's LOCAL layer (store content is never deleted here);
        names that are not installed are skipped with a warning in the report, as pip does.
        ``policy``: as for :meth:`change` (removing a dist can break this env or a descendant)."""
        from packaging.utils import canonicalize_name

        env = self.env(env_name)
        local_names = {s.entry.name for s in self._specs(self._local_rows(env))}
        wanted: list[str] = []
        skipped: list[str] = []
        for raw in names:
            name = canonicalize_name(raw)
            if name in local_names:
                wanted.append(name)
                continue
            if local:
                continue
            provider = next((d for d in self.visible(env_name) if d.name == name), None)
            if provider is not None and provider.env == env_name:  # installed meanwhile
                wanted.append(name)
                continue
            if provider is not None:
                raise UsageError(
                    f"{name} is provided by the {provider.layer.value} layer {provider.env!r},"
                    f" not by {env_name!r}",
                    hint=f"uninstall it there: forge uninstall {name} --env {provider.env}",
                )
            skipped.append(name)
        report = self.change(env_name, remove=wanted, manifest={n: None for n in wanted}, policy=policy)
        # as pip: a name that is not installed is skipped with a warning, so an uninstall re-run
        # after it was interrupted past its commit succeeds
        notes = tuple(f"skipping {n}: it is not installed in {env_name!r}" for n in skipped)
        return dataclasses.replace(report, warnings=(*report.warnings, *notes)) if notes else report

    def change(
        self,
        env_name: str,
        *,
        add: Sequence[DistSpec] = (),
        remove: Sequence[str] = (),
        local: bool = False,
        manifest: dict[str, str | None] | None = None,
        evict: Sequence[Path] = (),
        policy: Policy | None = None,
    ) -> InstallReport:
        """Add and remove distributions in an env's LOCAL layer, all or nothing; then relink flat children.

        ``evict``: files Forge does not manage (an unmanaged dist being replaced, listed from its
        RECORD), moved out through the same undoable journal before linking.
        ``policy``: the modes the layer checks run with (:mod:`.policy`); default: the env's
        settings. What the change would newly break in this env's stack or a descendant's is
        refused (:class:`~.policy.PolicyRefused`, nothing changed), warned about or ignored.
        """
        env = self.env(env_name)
        from .readonly import refuse_changes

        refuse_changes(env)  # a mirror of a published stack changes only with its upstream
        self.require_env_dir(env)
        with self.env_lock(env_name):
            from .recovery import sweep_env

            env = self.env(env_name)  # again, under the lock: removed or made anew meanwhile?
            self.require_env_dir(env)
            sweep_env(self, env)
            report = self._change_locked(env, add, remove, local, manifest or {}, evict, policy=policy)
        relinked = self._relink_children(env_name)
        return dataclasses.replace(report, relinked_children=tuple(relinked))

    def layers(self, env: EnvInfo) -> list[tuple[EnvInfo, Layer]]:
        """The env's stack as the catalog knows it, nearest first: itself (LOCAL), parents, GLOBAL."""
        return [(env, Layer.LOCAL), *self._layers_below(env)]

    def change_modes(
        self, env_name: str, *, link_mode: LinkMode | None = None, layering: LayeringMode | None = None
    ) -> InstallReport:
        """Give an existing env another link mode and/or layering: its links are rebuilt in the new
        mode (one undoable diff), the catalog row and the layer hook follow; flat children relink."""
        from . import envs

        env = self.env(env_name)
        if env.kind is not EnvKind.ENV:
            raise UsageError(f"{env_name!r} is a {env.kind.value} env; its modes cannot be changed")
        self.require_env_dir(env)
        new = dataclasses.replace(
            env, link_mode=link_mode or env.link_mode, layering=layering or env.layering
        )
        with self.env_lock(env_name):
            report = self._change_locked(new, (), (), False, {}, (), previous=env)
            if new.layering is not env.layering:
                envs.write_layers_hook(new.site_packages, new.interpreter, self.runtime_layers(new))
        relinked = self._relink_children(env_name)
        return dataclasses.replace(report, relinked_children=tuple(relinked))

    def _layers_below(self, env: EnvInfo) -> list[tuple[EnvInfo, Layer]]:
        """The envs stacked under ``env`` at start-up, nearest first: its parents, then GLOBAL."""
        layers: list[tuple[EnvInfo, Layer]] = [(p, Layer.PARENT) for p in self.chain(env)]
        glob = self.global_env(env.interpreter)
        if glob is not None and env.kind not in (EnvKind.GLOBAL, EnvKind.BUILD):
            layers.append((glob, Layer.GLOBAL))
        return layers

    def _parent_provided(self, env: EnvInfo) -> dict[str, tuple[StoredWheel, EnvInfo, Layer]]:
        out: dict[str, tuple[StoredWheel, EnvInfo, Layer]] = {}
        for info, layer in self._layers_below(env):
            for spec in self._specs(self._local_rows(info)):
                out.setdefault(spec.entry.name, (spec.entry, info, layer))
        return out

    def _specs(self, rows: Sequence[LinkRow]) -> list[DistSpec]:
        from .linker import DistSpec

        entries = self.catalog.entries([r.entry_id for r in rows])
        missing = [r.entry_id for r in rows if r.entry_id not in entries]
        if missing:
            raise IntegrityError(f"the catalog links entries that do not exist: {missing[:3]}")
        return [
            DistSpec(self._stored(self._ensure_climbs(entries[r.entry_id])), r.requested, r.direct_url)
            for r in rows
        ]

    def _change_locked(
        self,
        env: EnvInfo,
        add: Sequence[DistSpec],
        remove: Sequence[str],
        local: bool,
        manifest: dict[str, str | None],
        evict: Sequence[Path] = (),
        *,
        repair: bool = False,
        previous: EnvInfo | None = None,
        policy: Policy | None = None,
    ) -> InstallReport:
        """``previous``: the env as the disk and catalog have it when ``env`` carries new modes
        (:meth:`change_modes`); the old layout is built in its mode and the row is updated."""
        from .linker import DistSpec, dist_links_present

        rows = self.catalog.links(env.name)
        local_specs = {
            s.entry.name: s for s in self._specs([r for r in rows if r.layer == Layer.LOCAL.value])
        }
        parents = self._parent_provided(env)
        actions: list[InstallAction] = []
        new_local = dict(local_specs)
        for spec in add:
            name = spec.entry.name
            provided = parents.get(name)
            if provided is not None and not local and provided[0].version == spec.entry.version:
                entry, owner, layer = provided
                new_local.pop(name, None)
                action = "from-parent" if layer is Layer.PARENT else "from-global"
                actions.append(
                    InstallAction(
                        name,
                        entry.version,
                        action,
                        entry.id,
                        spec.entry.reused,
                        detail=owner.name,
                        reuse_kind=spec.entry.reuse_kind if spec.entry.id == entry.id else ReuseKind.EXACT,
                    )
                )
                continue
            old = new_local.get(name)
            if old is not None and old.entry.id == spec.entry.id:
                merged = DistSpec(
                    old.entry, old.requested or spec.requested, spec.direct_url or old.direct_url
                )
                new_local[name] = merged
                # "already linked" only if it is: files deleted from the env by hand are put back
                broken = not dist_links_present(env.site_packages, old.entry)
                repair = repair or broken
                action = "repaired" if broken else "unchanged"
                actions.append(InstallAction(name, spec.entry.version, action, old.entry.id, True))
                continue
            kind = "replaced" if old is not None else "linked"
            detail = f"was {old.entry.version}" if old is not None else ""
            if provided is not None:
                detail = (
                    detail + "; " if detail else ""
                ) + f"overrides {provided[1].name}'s {provided[0].version}"
            new_local[name] = spec
            actions.append(
                InstallAction(
                    name,
                    spec.entry.version,
                    kind,
                    spec.entry.id,
                    spec.entry.reused,
                    detail=detail,
                    reuse_kind=spec.entry.reuse_kind,
                )
            )
        for name in remove:
            old = new_local.pop(name, None)
            if old is not None:
                actions.append(InstallAction(name, old.entry.version, "unlinked", old.entry.id, True))
        checked = None
        if add or remove:
            from . import policy as policy_

            rules = policy or policy_.policy_for(self, env, explicit_local=local)
            pairs = [(s.entry.id, s.requested) for s in new_local.values()]
            checked = policy_.check_change(self, env, pairs, rules)
        old_specs = self._specs(rows)
        flat_parent: list[DistSpec] = []
        if env.layering is LayeringMode.FLAT:
            flat_parent = self._flat_parent_specs(env, set(new_local))
        new_rows = [
            LinkRow(env.name, s.entry.id, Layer.LOCAL.value, s.requested, s.direct_url)
            for s in new_local.values()
        ]
        new_rows += [LinkRow(env.name, s.entry.id, Layer.PARENT.value, False, None) for s in flat_parent]
        report = self._apply(
            env,
            old_specs,
            list(new_local.values()) + flat_parent,
            new_rows,
            manifest,
            actions,
            evict,
            repair,
            previous,
        )
        placed = {a.entry_id for a in actions if a.action in ("linked", "replaced")}
        per_dist: dict[str, list[str]] = {}
        for s in add:
            if s.entry.id in placed:
                per_dist.setdefault(s.entry.name, []).extend(
                    f"{s.entry.name}-{s.entry.version}: {issue}" for issue in s.entry.record_issues
                )
        notes = tuple(line for lines in per_dist.values() for line in lines)
        if checked is not None and checked.warned:
            notes += tuple(f.message for f in checked.warned)
            report = dataclasses.replace(report, findings=checked.warned)
            for f in checked.warned:
                per_dist.setdefault(f.subject, []).append(f.message)
        if not notes:
            return report
        acts = tuple(
            dataclasses.replace(a, warnings=tuple(per_dist.get(a.name, ()))) if a.name in per_dist else a
            for a in report.actions
        )
        return dataclasses.replace(report, warnings=notes, actions=acts)

    def _flat_parent_specs(self, env: EnvInfo, local_names: set[str]) -> list[DistSpec]:
        from .linker import DistSpec

        out: dict[str, DistSpec] = {}
        for parent in self.chain(env):
            for spec in self._specs(self._local_rows(parent)):
                if spec.entry.name not in local_names:
                    out.setdefault(spec.entry.name, DistSpec(spec.entry))
        return list(out.values())

    def _apply(
        self,
        env: EnvInfo,
        old_specs: Sequence[DistSpec],
        new_specs: Sequence[DistSpec],
        new_rows: Sequence[LinkRow],
        manifest: dict[str, str | None],
        actions: list[InstallAction],
        evict: Sequence[Path] = (),
        repair: bool = False,
        previous: EnvInfo | None = None,
        policy: Policy | None = None,
    ) -> InstallReport:
        from . import faults, linker, recovery

        self._require_entries([s.entry for s in (*old_specs, *new_specs)], env.name)
        paths = linker.EnvPaths(env.path, env.site_packages, env.interpreter)
        mode = env.link_mode
        old_mode = previous.link_mode if previous is not None else mode
        old_layout = linker.build_layout(paths, old_specs, old_mode, self.home.store)
        new_layout = linker.build_layout(paths, new_specs, mode, self.home.store)
        # durable: a kill from here on is rolled back from the journal's log by the next holder
        # of the env lock; after the commit (intent "committed") only the scratch dir is left
        scratch = env.path / f"{linker.TXN_PREFIX}{token(12)}"
        intent = recovery.begin(self, "change", env_lock_name(env.name), {"scratch": str(scratch)})
        try:
            journal, fallback = linker.apply(
                paths,
                old_layout,
                new_layout,
                mode=mode,
                store_root=self.home.store,
                evict=evict,
                repair=repair,
                scratch=scratch,
            )
        except BaseException:
            recovery.abandon(self, intent)
            raise
        faults.point("change-linked")
        try:
            with self.catalog.transaction():
                self.catalog.set_links(env.name, new_rows)
                if previous is not None:
                    self.catalog.set_env_modes(env.name, env.layering.value, env.link_mode.value)
                for name, requirement in manifest.items():
                    self.catalog.set_manifest(env.name, name, requirement)
                self.catalog.drop_leases(self.holder)
                self.catalog.set_intent_state(intent, "committed")
        except BaseException:
            journal.rollback()
            recovery.abandon(self, intent)
            raise
        faults.point("change-committed")
        journal.commit()
        recovery.finish(self, intent)
        return InstallReport(env.name, tuple(actions), mode, fallback)

    def relink(self, env_name: str, *, repair: bool = False) -> InstallReport:
        """Recompute a flat env's links from its parents (a no-op diff for stacked envs).

        ``repair``: also compare every path the catalog's rows place with the disk and put back
        what is missing or different (``forge doctor --fix``); the catalog is not changed.
        """
        with self.env_lock(env_name):
            env = self.env(env_name)
            self.require_env_dir(env)
            return self._change_locked(env, (), (), False, {}, (), repair=repair)

    def _relink_children(self, env_name: str) -> list[str]:
        done: list[str] = []
        for kid in self.children(env_name):
            if kid.layering is LayeringMode.FLAT:
                self.relink(kid.name)
                done.append(kid.name)
            done.extend(self._relink_children(kid.name))
        return done


def check_compatible(
    filename: str,
    tags: Sequence[str],
    requires_python: str | None,
    env: EnvInfo,
    supported: set[str],
) -> None:
    """``IncompatibleWheel`` unless a wheel fits the env's interpreter (tags and Requires-Python)."""
    interp = env.interpreter
    if not set(tags) & supported:  # tags come expanded from packaging (one per py/abi/platform)
        raise IncompatibleWheel(
            f"{filename} is not compatible with env {env.name!r}"
            f" (Python {interp.full_version}, {interp.abi_key})",
            hint="pick the wheel built for this interpreter and platform",
        )
    if requires_python:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            ok = SpecifierSet(requires_python).contains(interp.full_version, prereleases=True)
        except InvalidSpecifier:
            ok = True
        if not ok:
            raise IncompatibleWheel(
                f"{filename} requires Python {requires_python}; env {env.name!r} has {interp.full_version}"
            )


def entry_gone(entry_id: str) -> NotFoundError:
    """The error for an entry a lease did not find (gc collected it after it was chosen)."""
    return NotFoundError(
        f"no store entry {entry_id}", hint="a concurrent `forge gc` removed it; run the command again"
    )
