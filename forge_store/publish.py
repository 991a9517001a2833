"""Ingest and publish: a wheel becomes a sealed store entry; bytecode is added to existing ones.

Usage (through the facade)::

    entry = store.add_wheel(Path("six-1.17.0-py2.py3-none-any.whl"))

Both steps do the slow work (unpack, scan, compile) outside the store lock, in a staging dir
below ``tmp/``, and take the store lock only to move the result into the store and record it:

- :func:`ingest` holds ``ingest-<wheel sha256>`` while it works, so two processes ingesting one
  wheel unpack it once (the second waits, then reuses the published entry); its intent names the
  staging dir, which recovery removes if the process dies.
- :func:`ensure_pycs` (an entry gains an interpreter) holds ``pyc-<entry id>``, compiles into a
  staging tree of hardlinks to the entry's sources, then, under the store lock, moves the new pyc
  files into the entry and reseals it: other processes wait for the lock a moment, not for torch
  to compile.

Publish order: contents sealed, ``rename()`` into the store, top sealed, catalog row committed
(with the intent dropped in the same transaction). A crash leaves a staging dir (removed by the
next holder of the lock or the store sweep) or an unrecorded directory (replaced by the next
publish of that content, or collected by gc).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import faults, recovery, timeline
from .catalog import EntryRow
from .models import EntryPoint, Interpreter, OriginClimb, ReuseKind, StoredWheel
from .tokens import token

if TYPE_CHECKING:
    from .bytecode import Compiler
    from .ingest import WheelInfo
    from .store import Store

# a second ingest of one wheel waits for the first to finish unpacking it, however long that takes
WORK_LOCK_TIMEOUT = 3600.0


def ingest(
    store: Store,
    path: Path,
    sha: str,
    info: WheelInfo | None,
    targets: Sequence[Interpreter],
    compiler: Compiler | None = None,
) -> StoredWheel:
    """Unpack, finish and publish a wheel (the caller found no usable entry for it); ``compiler``:
    bytecode workers shared with other ingests of the operation (:mod:`.bytecode`)."""
    lock = f"ingest-{sha}"
    faults.point("ingest-lock-wait")
    with store.work_lock(lock):
        row = store.catalog.entry_by_alias(sha)  # published by whoever held the lock before us
        if row is not None and store._entry_present(row):
            leased = store.catalog.lease_entry(row.id, store.holder, alias=(sha, path.name))
            if leased is not None:
                return reuse(store, leased, targets, compiler)
        staging = store.home.tmp / f"ingest-{os.getpid()}-{token()}"
        intent = recovery.begin(store, "ingest", lock, {"staging": str(staging)})
        try:
            row, reused = _unpack_and_publish(store, path, sha, info, targets, staging, intent, compiler)
        finally:
            if os.path.lexists(staging):
                from .seal import remove_tree

                remove_tree(staging)
            if store.catalog.intents(lock):
                recovery.abandon(store, intent)
    if reused:
        return reuse(store, row, targets, compiler)
    return store._stored(row)


def reuse(
    store: Store, row: EntryRow, targets: Sequence[Interpreter], compiler: Compiler | None = None
) -> StoredWheel:
    """A leased entry that is already in the store, with bytecode for ``targets``: EXACT if it had
    it, ABI_COMPATIBLE if it was made for other interpreters and serves these by its tags."""
    kind = ReuseKind.EXACT if all(t.cache_tag in row.pyc_tags for t in targets) else ReuseKind.ABI_COMPATIBLE
    return store._stored(
        store._ensure_climbs(ensure_pycs(store, row, targets, compiler)), reused=True, kind=kind
    )


def _unpack_and_publish(
    store: Store,
    path: Path,
    sha: str,
    info: WheelInfo | None,
    targets: Sequence[Interpreter],
    staging: Path,
    intent: str,
    compiler: Compiler | None,
) -> tuple[EntryRow, bool]:
    from . import ingest as unpacker
    from .seal import seal_contents

    label = path.name
    if info is None:
        with timeline.span("inspect", label):
            info = unpacker.inspect_wheel(path)
    faults.point("ingest-unpack")
    with timeline.span("unpack", label):
        cid, eps = unpacker.unpack(info, staging)
    faults.point("ingest-unpacked")
    site = staging / "site"
    with timeline.span("scan", label):
        ns, climbs, size, nfiles = unpacker.scan_entry(site, info.dist_info)
    with timeline.span("compile", label):
        pyc_tags = unpacker.compile_bytecode(site, targets, compiler)
    with timeline.span("record-pycs", label):
        unpacker.record_bytecode(site, info.dist_info)
    faults.point("ingest-compiled")
    with timeline.span("meta", label):
        meta = _entry_meta(info, cid, eps, ns, climbs, staging, pyc_tags)
    unpacker.write_meta(staging, meta)
    # the top stays writable: renaming a directory to another parent needs write permission on
    # it (only root does without)
    with timeline.span("seal", label):
        seal_contents(staging)
    row = EntryRow(
        id=cid,
        dir="",  # chosen under the lock
        name=info.name,
        version=info.version,
        dist_info=info.dist_info,
        tags=info.tags,
        requires_python=info.requires_python,
        wheel_sha256=sha,
        size=size,
        files=nfiles,
        pyc_tags=tuple(pyc_tags),
        meta=meta,
        refcount=0,
        created=time.time(),
    )
    with timeline.span("publish", label):
        return commit_staged(store, staging, row, [(sha, info.filename)], intent)


def commit_staged(
    store: Store,
    staging: Path,
    new: EntryRow,
    aliases: Sequence[tuple[str, str]],
    intent: str | None,
    *,
    locked: bool = False,
) -> tuple[EntryRow, bool]:
    """Publish a finished staging tree (contents sealed, top writable) as entry ``new.id`` and
    lease it: under the store lock (``locked``: the caller holds it), renamed into the store,
    top sealed, the row (``new``, its ``dir`` chosen here), ``aliases`` (wheel sha256, file
    name) and the lease committed with ``intent`` (if any) dropped in one transaction. A present entry of
    that content wins (``reused``: True, ``staging`` left to the caller); a row of an upstream
    entry becomes a local entry again. Used by ingest and by substitution from an HTTP binary
    cache (:mod:`.upstream_http`)."""
    import contextlib

    from .seal import remove_tree, seal_top

    cid = new.id
    cat = store.catalog
    with contextlib.nullcontext() if locked else store.store_lock():
        row = cat.entry(cid)
        # a row of an upstream entry that is gone becomes a local entry again (a new local dir)
        upstream_row = row is not None and row.dir.startswith("@")
        if row is not None and store._entry_present(row, locked=True):
            reused = True
            rel = row.dir
        else:
            rel = row.dir if row is not None and not upstream_row else store._entry_dir_name(cid)
            final = store.home.store / rel
            if os.path.lexists(final):  # published by a process that died before recording it
                remove_tree(final)
            faults.point("publish-rename")
            os.rename(staging, final)
            faults.point("publish-renamed")
            seal_top(final)
            reused = False
        try:
            with cat.transaction():
                if row is None:
                    row = dataclasses.replace(new, dir=rel)
                    cat.insert_entry(row)
                elif not reused and upstream_row:  # local again: its own dir, pycs and meta
                    cat.relocate_entry(cid, rel, new.pyc_tags, new.meta)
                    row = cat.entry(cid)
                    assert row is not None
                elif not reused:  # restored a deleted directory: it has these pycs now
                    cat.set_pyc_tags(cid, new.pyc_tags, new.meta)
                    row = cat.entry(cid)
                    assert row is not None
                for sha, filename in aliases:
                    cat.add_alias(sha, cid, filename)
                cat.add_lease(cid, store.holder)
                if intent is not None:
                    cat.delete_intent(intent)
        except BaseException:  # not recorded (a full disk, a locked catalog): not published
            if not reused:
                remove_tree(store.home.store / rel)
            raise
        faults.point("publish-committed")
    return row, reused


def _entry_meta(
    info: WheelInfo,
    cid: str,
    eps: Sequence[EntryPoint],
    ns: Sequence[str],
    climbs: Sequence[OriginClimb],
    staging: Path,
    pyc_tags: Sequence[str],
) -> dict[str, object]:
    """The entry's metadata file (``forge-entry.json``) and catalog ``meta``."""
    from . import abi, elf

    site = staging / "site"
    return {
        "id": cid,
        "name": info.name,
        "version": info.version,
        "filename": info.filename,
        "tags": list(info.tags),
        "requires_python": info.requires_python,
        "requires_dist": list(info.requires_dist),
        "entry_points": [dataclasses.asdict(e) for e in eps],
        "namespace_dirs": list(ns),
        "climbs": [dataclasses.asdict(c) for c in climbs],
        "climb_scan": elf.SCAN_VERSION,
        "native": elf.native_record(site),
        "has_data": (staging / "data").is_dir(),
        "has_headers": (staging / "headers").is_dir(),
        "has_scripts": (staging / "scripts").is_dir(),
        "record_issues": list(info.record_issues),
        "pyc_tags": list(pyc_tags),
        abi.META_KEY: abi.scan_meta(staging),
    }


def ensure_pycs(
    store: Store, row: EntryRow, targets: Sequence[Interpreter], compiler: Compiler | None = None
) -> EntryRow:
    """Add bytecode for interpreters an existing entry was not compiled for (an entry reused by
    tags: one ``py3-none-any`` entry serves 3.10 to 3.13); the compile runs outside the store lock
    (see the module docstring).

    Only the directories that receive files are opened, under the store lock: the ``__pycache__``
    dirs (or, where there is none yet, the directory that gets one), the dist-info (RECORD) and
    the RECORD variants. Everything else of the entry, which other envs use meanwhile, stays
    sealed; so does every existing file."""
    if all(t.cache_tag in row.pyc_tags for t in targets) or row.dir.startswith("@"):
        return row  # (an upstream's entry is read-only: its envs import without pycs of other tags)
    from . import ingest as unpacker
    from .seal import close_dirs, open_dirs, remove_tree

    lock = f"pyc-{row.id}"
    with store.work_lock(lock):
        fresh = store.catalog.entry(row.id)
        if fresh is None:
            return row  # collected meanwhile: the caller's lease check finds out
        missing = [t for t in targets if t.cache_tag not in fresh.pyc_tags]
        if not missing:
            return fresh
        entry = store.home.store / fresh.dir
        staging = store.home.tmp / f"pyc-{os.getpid()}-{token()}"
        intent = recovery.begin(store, "pyc", lock, {"staging": str(staging)})
        try:
            sources = _link_sources(entry / "site", staging)
            unpacker.compile_bytecode(staging, missing, compiler)
            faults.point("pyc-compiled")
            tags = tuple(fresh.pyc_tags) + tuple(t.cache_tag for t in missing)
            opened, created = _pyc_dirs(staging, entry, sources, fresh.dist_info)
            with store.store_lock():
                # a crash from here on leaves the top unsealed: _entry_present reseals the entry
                open_dirs(entry, opened)
                try:
                    _move_pycs(staging, entry / "site", sources)
                    unpacker.record_bytecode(entry / "site", fresh.dist_info)
                    faults.point("pyc-moved")
                finally:
                    close_dirs(entry, [*opened, *(d for d in created if (entry / d).is_dir())])
                with store.catalog.transaction():
                    now = store.catalog.entry(fresh.id)
                    meta = {**(now.meta if now is not None else fresh.meta), "pyc_tags": list(tags)}
                    store.catalog.set_pyc_tags(fresh.id, tags, meta)
                    store.catalog.delete_intent(intent)
        finally:
            if os.path.lexists(staging):
                remove_tree(staging)
            if store.catalog.intents(lock):
                recovery.abandon(store, intent)
    out = store.catalog.entry(row.id)
    assert out is not None
    return out


def _pyc_dirs(
    staging: Path, entry: Path, sources: Sequence[str], dist_info: str
) -> tuple[list[str], list[str]]:
    """The entry's directories (relative to it) that adding the pycs compiled in ``staging``
    writes to, and the ``__pycache__`` dirs it creates."""
    from .ingest import RECORD_VARIANTS

    opened = [f"site/{dist_info}"]
    created: list[str] = []
    if (entry / RECORD_VARIANTS).is_dir():
        opened.append(RECORD_VARIANTS)
    else:  # an entry of older code: record_bytecode makes it in the (opened) top
        created.append(RECORD_VARIANTS)
    for rel_dir in sorted({os.path.dirname(rel) for rel in sources}):
        if not (staging / rel_dir / "__pycache__").is_dir():
            continue
        here = os.path.normpath(f"site/{rel_dir}")
        cache = f"{here}/__pycache__"
        if (entry / cache).is_dir():
            opened.append(cache)
        else:
            opened.append(here)
            created.append(cache)
    return list(dict.fromkeys(opened)), created


def _link_sources(site: Path, staging: Path) -> list[str]:
    """A tree of hardlinks (copies where the kernel refuses) to every ``.py`` of ``site``, the
    directories that hold them; returns their relative paths."""
    import shutil

    rels: list[str] = []
    for dirpath, dirs, names in os.walk(site):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not os.path.islink(os.path.join(dirpath, d))]
        rel_dir = os.path.relpath(dirpath, site)
        made = False
        for name in names:
            if not name.endswith(".py"):
                continue
            if not made:
                os.makedirs(staging / rel_dir, exist_ok=True)
                made = True
            src = os.path.join(dirpath, name)
            dest = staging / rel_dir / name
            try:
                os.link(src, dest)
            except OSError:
                shutil.copyfile(src, dest)
            rels.append(os.path.normpath(os.path.join(rel_dir, name)))
    return rels


def _move_pycs(staging: Path, site: Path, sources: Sequence[str]) -> None:
    """Move the pyc files compiled in ``staging`` into the same places in ``site``."""
    dirs = {os.path.dirname(rel) for rel in sources}
    for rel_dir in sorted(dirs):
        cache = staging / rel_dir / "__pycache__"
        if not cache.is_dir():
            continue
        dest = site / rel_dir / "__pycache__"
        dest.mkdir(exist_ok=True)
        for pyc in os.listdir(cache):
            os.replace(cache / pyc, dest / pyc)
