"""``forge du``: the real disk use of the store, the caches and every env.

Bytes are allocated bytes (``st_blocks * 512``), not apparent sizes. Trees are walked with
``lstat`` (symlinks are counted as the small inodes they are and never followed), and every inode
is counted once however many hard links reach it, so an env of symlinks or hard links into the
store costs only what it really adds.

Per env:

- ``bytes`` / ``inodes``: everything below the env's directory, each inode once;
- ``added_bytes`` / ``added_inodes``: its marginal cost, the inodes it alone adds (not in the store);
- ``linked_bytes``: what copies of the entries it links would take (a copy-per-env layout);
- ``saved_bytes``: ``linked_bytes - added_bytes``.

``total.saved_bytes`` is what sharing saves over a copy-per-env layout: the ``linked_bytes`` of
every env minus the one copy of each linked entry the store keeps (the links' own small cost is in
each env's ``added_bytes``). ``total`` counts every inode below ``FORGE_HOME`` and in every env once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from .errors import EnvNotFound

if TYPE_CHECKING:
    from .store import Store


@record(slots=True)
class Usage:
    """Allocated bytes and inodes, each inode counted once."""

    bytes: int = 0
    inodes: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"bytes": self.bytes, "inodes": self.inodes}


def walk(root: Path, seen: set[tuple[int, int]] | None = None) -> Usage:
    """The usage of ``root`` and everything below it, skipping inodes already in ``seen``
    (which is updated). A missing ``root`` uses nothing; symlinks are never followed."""
    seen = set() if seen is None else seen
    usage = Usage()
    stack = [os.fspath(root)]
    first = True
    while stack:
        path = stack.pop()
        try:
            st = os.lstat(path)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key not in seen:
            seen.add(key)
            usage.bytes += st.st_blocks * 512
            usage.inodes += 1
        elif not first:
            continue  # a directory reached twice (bind mounts): not walked again
        first = False
        if stat.S_ISDIR(st.st_mode):
            try:
                names = os.listdir(path)
            except OSError:
                continue
            stack.extend(os.path.join(path, n) for n in names)
    return usage


@record(frozen=True, slots=True)
class EnvUsage:
    name: str
    kind: str
    path: str
    links: int
    usage: Usage
    added: Usage
    linked_bytes: int

    @property
    def saved_bytes(self) -> int:
        return self.linked_bytes - self.added.bytes

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "links": self.links,
            "bytes": self.usage.bytes,
            "inodes": self.usage.inodes,
            "added_bytes": self.added.bytes,
            "added_inodes": self.added.inodes,
            "linked_bytes": self.linked_bytes,
            "saved_bytes": self.saved_bytes,
        }


@record(frozen=True, slots=True)
class DiskUsage:
    store: Usage
    entries: int
    caches: Usage
    trash: Usage
    other: Usage  # below FORGE_HOME but in no env, the store, caches or trash: catalog, locks, staging
    envs: tuple[EnvUsage, ...]
    total: Usage
    saved_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {
            "store": {**self.store.to_dict(), "entries": self.entries},
            "caches": self.caches.to_dict(),
            "trash": self.trash.to_dict(),
            "other": self.other.to_dict(),
            "envs": [e.to_dict() for e in self.envs],
            "total": {**self.total.to_dict(), "saved_bytes": self.saved_bytes},
        }


def entry_sizes(store: Store, seen: set[tuple[int, int]] | None = None) -> dict[str, Usage]:
    """Real usage of every catalogued entry directory, by entry id."""
    seen = set() if seen is None else seen
    return {row.id: walk(store.home.store / row.dir, seen) for row in store.catalog.all_entries()}


def disk_usage(store: Store, *, env: str | None = None) -> DiskUsage:
    """Measure the store, the caches and the envs (only ``env`` when given, but totals are global)."""
    home = store.home
    seen: set[tuple[int, int]] = set()
    per_entry = entry_sizes(store, seen)
    store_usage = walk(home.store, seen)  # the rest: the marker, orphans
    for u in per_entry.values():
        store_usage.bytes += u.bytes
        store_usage.inodes += u.inodes
    store_seen = set(seen)
    caches = walk(home.cache, seen)
    trash = walk(home.trash, seen)
    rows = store.catalog.envs()
    if env is not None and not any(r.name == env for r in rows):
        raise EnvNotFound(f"no env named {env!r}", hint="`forge envs` lists them")
    envs: list[EnvUsage] = []
    linked_total = 0
    linked_ids: set[str] = set()
    env_union = Usage()  # every env's inodes not counted yet (the store's hardlinks are)
    for row in rows:
        links = store.catalog.links(row.name)
        path = Path(row.path)
        own = walk(path)
        added = walk(path, set(store_seen))
        fresh = walk(path, seen)
        env_union.bytes += fresh.bytes
        env_union.inodes += fresh.inodes
        linked = sum(per_entry[r.entry_id].bytes for r in links if r.entry_id in per_entry)
        linked_total += linked
        linked_ids.update(r.entry_id for r in links)
        if env is None or row.name == env:
            envs.append(EnvUsage(row.name, row.kind, row.path, len(links), own, added, linked))
    other = walk(home.root, seen)  # whatever below FORGE_HOME was not counted yet: catalog, locks, tmp
    parts = (store_usage, caches, trash, env_union, other)
    total = Usage(sum(p.bytes for p in parts), sum(p.inodes for p in parts))
    distinct = sum(per_entry[i].bytes for i in linked_ids if i in per_entry)
    return DiskUsage(
        store=store_usage,
        entries=len(per_entry),
        caches=caches,
        trash=trash,
        other=other,
        envs=tuple(envs),
        total=total,
        saved_bytes=linked_total - distinct,
    )
