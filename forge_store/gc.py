"""``forge gc``: collect store entries nothing uses, through a trash with a grace period.

An entry is collected when no env links it (refcount zero in the catalog *and* no row in
``links``: if the two ever disagree the entry is kept) and no live operation leases it. A lease
holder is ``host:pid:token``; a lease of a process on this host that no longer exists does not
count (and is dropped), a lease from another host always counts.

Collection happens under the store lock and in one catalog transaction: each entry directory is
renamed into ``FORGE_HOME/trash/<unix time>.<dir>.<token>`` (same filesystem, so a process that
already imported from it keeps working) and its catalog rows (entry, wheel-hash aliases, leases)
are dropped in the same step. Installs lease an entry only if its row still exists, in a
transaction of their own, so an install sees an entry either present (and leased, so gc keeps it)
or gone (and ingests it again). Directories in ``store/`` that the catalog does not know
(published by a process that died before recording them) are collected the same way.

Trash older than the grace period is deleted on every gc (``grace=0``: at once).
With ``older_than``, files of Forge's caches (``cache/http``, ``pages``, ``metadata``, ``files``, ``built``)
not modified for that long are deleted too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from . import tokens
from .du import walk
from .errors import GcFailed, UsageError
from .tokens import hostname

if TYPE_CHECKING:
    from .store import Store

DEFAULT_GRACE = 3600.0
CACHE_DIRS = ("http", "pages", "resolutions", "metadata", "files", "built")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_ENTRY_DIR = re.compile(r"^[0-9a-f]{16,64}$")


def parse_duration(text: str) -> float:
    """``"3600"``, ``"90s"``, ``"10m"``, ``"1h30m"``, ``"2d"``, ``"1w"`` -> seconds."""
    raw = text.strip().lower()
    try:
        value = float(raw)
    except ValueError:
        pos = 0
        value = 0.0
        for m in _DURATION.finditer(raw):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(raw) or not raw:
            raise UsageError(
                f"invalid duration {text!r}", hint="use seconds, or a number with s, m, h, d or w (1h30m)"
            ) from None
    if value < 0 or value != value or value == float("inf"):
        raise UsageError(f"invalid duration {text!r}", hint="a duration is zero or more")
    return value


def holder_alive(holder: str) -> bool:
    """Whether the process behind a lease may still run (unknown forms and other hosts: yes)."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != hostname():
        return True
    try:
        pid = int(parts[1])
    except ValueError:
        return True
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


@record(frozen=True, slots=True)
class Collected:
    """An entry (or an orphan directory the catalog does not know) that gc removes."""

    id: str | None
    name: str | None
    version: str | None
    dir: str
    bytes: int
    inodes: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@record(frozen=True, slots=True)
class TrashItem:
    name: str
    age: float
    bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "age": round(self.age, 3), "bytes": self.bytes}


@record(frozen=True, slots=True)
class GcReport:
    dry_run: bool
    grace: float
    entries: tuple[Collected, ...]  # unreferenced entries moved (or, dry run: to move) to the trash
    orphans: tuple[Collected, ...]
    kept_leased: tuple[str, ...]  # unreferenced entry ids a live holder leases
    dead_leases: int  # leases of dead processes dropped (dry run: found)
    trash_deleted: tuple[TrashItem, ...]
    trash_kept: tuple[TrashItem, ...]
    cache_files: int
    cache_bytes: int
    older_than: float | None

    def to_dict(self) -> dict[str, object]:
        moved = self.entries + self.orphans
        return {
            "dry_run": self.dry_run,
            "grace": self.grace,
            "entries": [e.to_dict() for e in self.entries],
            "orphans": [e.to_dict() for e in self.orphans],
            "kept_leased": list(self.kept_leased),
            "dead_leases": self.dead_leases,
            "trash": {
                "deleted": [t.to_dict() for t in self.trash_deleted],
                "kept": [t.to_dict() for t in self.trash_kept],
            },
            "caches": {"older_than": self.older_than, "files": self.cache_files, "bytes": self.cache_bytes},
            "totals": {
                "entries": len(self.entries),
                "orphans": len(self.orphans),
                "bytes": sum(e.bytes for e in moved),
                "trash_deleted_bytes": sum(t.bytes for t in self.trash_deleted),
                "freed_bytes": sum(t.bytes for t in self.trash_deleted) + self.cache_bytes,
            },
        }


def _trash_time(path: Path) -> float:
    head = path.name.split(".", 1)[0]
    try:
        return float(head)
    except ValueError:
        try:
            return path.lstat().st_mtime
        except OSError:
            return 0.0


def _to_trash(store: Store, rel: str, stamp: float, token: str) -> Path:
    """Rename ``store/<rel>`` into the trash as ``<time>.<rel>.<token of this gc>``; it must be
    unsealed first (a directory is moved to another parent only if it is writable: its ``..``
    changes). The token ties it to this gc's intent: a gc killed before its commit is undone by
    moving the entries whose rows survived back (``recovery``)."""
    from . import faults
    from .seal import unseal

    src = store.home.store / rel
    store.home.trash.mkdir(parents=True, exist_ok=True)
    dest = store.home.trash / f"{int(stamp)}.{rel}.{token}"
    unseal(src)
    faults.point("gc-move")
    os.rename(src, dest)
    return dest


def _reseal(path: Path) -> None:
    from .seal import seal

    seal(path)


def _collect_entries(
    store: Store, dry_run: bool, now: float
) -> tuple[list[Collected], list[Collected], list[str], int]:
    from . import faults, recovery

    token = tokens.token(8)
    with store.store_lock(sweep=False):
        swept = [] if dry_run else recovery.sweep_store(store)
        intent = None if dry_run else recovery.begin(store, "gc", "store", {"token": token})
        try:
            found, orphans, kept, dead = _collect_locked(store, dry_run, now, token, intent)
            out = found, orphans, kept, dead + sum(1 for s in swept if s.startswith("lease "))
        except BaseException:
            if intent is not None:
                recovery.abandon(store, intent)
            raise
        faults.point("gc-committed")
    return out


def _collect_locked(
    store: Store, dry_run: bool, now: float, token: str, intent: str | None
) -> tuple[list[Collected], list[Collected], list[str], int]:
    from .recovery import lease_alive

    cat = store.catalog
    entries: list[Collected] = []
    orphans: list[Collected] = []
    kept: list[str] = []
    moved: list[tuple[Path, Path]] = []  # (trash path, original) to undo when the transaction fails
    with cat.transaction():
        leases: dict[str, list[str]] = {}
        dead: list[tuple[str, str]] = []
        for entry_id, holder in cat.leases():
            if lease_alive(store, holder):
                leases.setdefault(entry_id, []).append(holder)
            else:
                dead.append((entry_id, holder))
        try:
            for row in cat.unreferenced_entries():
                if leases.get(row.id):
                    kept.append(row.id)
                    continue
                if row.dir.startswith("@"):  # an upstream's entry: its files are never ours to delete
                    if not dry_run:
                        cat.delete_entry(row.id)  # forget the row only; the next use records it again
                    continue
                usage = walk(store.home.store / row.dir)
                entries.append(Collected(row.id, row.name, row.version, row.dir, usage.bytes, usage.inodes))
                if not dry_run:
                    original = store.home.store / row.dir
                    if os.path.lexists(original):
                        moved.append((_to_trash(store, row.dir, now, token), original))
                    cat.delete_entry(row.id)
            known = {row.dir for row in cat.all_entries()} | {e.dir for e in entries}
            for child in sorted(store.home.store.iterdir()) if store.home.store.is_dir() else []:
                if child.name in known or not _ENTRY_DIR.match(child.name) or child.is_symlink():
                    continue
                if not child.is_dir():
                    continue
                usage = walk(child)
                orphans.append(Collected(None, None, None, child.name, usage.bytes, usage.inodes))
                if not dry_run:
                    moved.append((_to_trash(store, child.name, now, token), child))
            if not dry_run:
                for entry_id, holder in dead:
                    cat.drop_lease(entry_id, holder)
            if intent is not None:
                cat.delete_intent(intent)
        except BaseException:
            for trashed, original in reversed(moved):  # best effort: the rows are rolled back
                with contextlib.suppress(OSError):
                    os.rename(trashed, original)
                    _reseal(original)
            with contextlib.suppress(OSError):
                store.home.trash.rmdir()  # only when empty
            raise
    return entries, orphans, kept, len(dead)


def _fault(what: str, exc: OSError) -> GcFailed:
    return GcFailed(
        f"gc could not {what}: {exc.strerror or exc} ({exc.filename or ''})",
        hint="nothing in use was removed; check the permissions of FORGE_HOME/store and FORGE_HOME/trash",
    )


def _empty_trash(
    store: Store, grace: float, dry_run: bool, now: float
) -> tuple[list[TrashItem], list[TrashItem]]:

    deleted: list[TrashItem] = []
    kept: list[TrashItem] = []
    trash = store.home.trash
    if not trash.is_dir():
        return deleted, kept
    for item in sorted(trash.iterdir()):
        dying = item.name.startswith(".deleting-")  # a gc that died while deleting it
        age = float("inf") if dying else max(0.0, now - _trash_time(item))
        usage = walk(item)
        if age < grace:
            kept.append(TrashItem(item.name, age, usage.bytes))
            continue
        deleted.append(TrashItem(item.name, age if age != float("inf") else 0.0, usage.bytes))
        if dry_run:
            continue
        target = item
        if not item.name.startswith(".deleting-"):
            target = trash / f".deleting-{item.name}"
            try:
                os.rename(item, target)  # only one concurrent gc wins the rename
            except FileNotFoundError:
                continue
        _remove_racing(target)
    if not dry_run:
        with contextlib.suppress(OSError):
            trash.rmdir()
    return deleted, kept


def _remove_racing(path: Path) -> None:
    """Delete a trash item another gc may be deleting at the same time (a ``.deleting-*`` item
    looks the same whether its deleter died or still works): files vanishing under us are fine."""
    from .seal import remove_tree

    for _attempt in range(5):
        try:
            remove_tree(path)
            return
        except FileNotFoundError:
            continue
    remove_tree(path)


def _clean_caches(store: Store, older_than: float, dry_run: bool, now: float) -> tuple[int, int]:
    """Delete cache files not modified for ``older_than`` seconds, then the directories left empty."""
    files = 0
    size = 0
    for sub in CACHE_DIRS:
        root = store.home.cache / sub
        if not root.is_dir():
            continue
        for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if now - st.st_mtime < older_than:
                    continue
                files += 1
                size += st.st_blocks * 512 if st.st_nlink == 1 else 0
                if not dry_run:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
            if not dry_run and dirpath != os.fspath(root):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)  # only when empty
    return files, size


def collect(
    store: Store,
    *,
    dry_run: bool = False,
    grace: float = DEFAULT_GRACE,
    older_than: float | None = None,
    now: float | None = None,
) -> GcReport:
    """Collect unused entries (``dry_run``: only say what would go). See the module docstring."""
    if grace < 0:
        raise UsageError("the grace period is zero or more seconds")
    stamp = time.time() if now is None else now
    try:
        entries, orphans, kept, dead = _collect_entries(store, dry_run, stamp)
    except OSError as exc:
        raise _fault("move entries to the trash", exc) from None
    try:
        deleted, trash_kept = _empty_trash(store, grace, dry_run, stamp)
    except OSError as exc:
        raise _fault("empty the trash", exc) from None
    if dry_run and grace <= 0:  # what this run would move would be deleted at once too
        deleted += [TrashItem(e.dir, 0.0, e.bytes) for e in entries + orphans]
    elif dry_run:
        trash_kept += [TrashItem(e.dir, 0.0, e.bytes) for e in entries + orphans]
    cache_files, cache_bytes = (0, 0)
    if older_than is not None:
        cache_files, cache_bytes = _clean_caches(store, older_than, dry_run, stamp)
    return GcReport(
        dry_run=dry_run,
        grace=grace,
        entries=tuple(entries),
        orphans=tuple(orphans),
        kept_leased=tuple(kept),
        dead_leases=dead,
        trash_deleted=tuple(deleted),
        trash_kept=tuple(trash_kept),
        cache_files=cache_files,
        cache_bytes=cache_bytes,
        older_than=older_than,
    )
