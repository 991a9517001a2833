"""``forge store publish DEST``: copy the entries envs use into an upstream layout (:mod:`.upstream`).

Usage::

    report = publish(store, Path("/srv/forge-upstream"), envs=["torch"])
    report.published, report.skipped, report.generation

Each entry is copied into ``DEST/entries/.tmp-PID-*``, sealed read-only (files ``a-w``,
directories ``0555``), then renamed to ``DEST/entries/<id16>`` (same parent: no write permission
on the moved directory is needed). The manifest is written last (``os.sync()`` first, so the
entries it names are on disk; then a temp file, fsync, ``rename``), so a reader sees the old
generation or the new one, never an entry that is not complete. Publishing is incremental and
idempotent: an entry already published under its id is verified against its RECORD and skipped
(never changed in place: one that does not verify stops the publish with ``PublishConflict``);
nothing new leaves the manifest and its generation as they were. Entries are never removed.

The publisher takes ``DEST/.forge-publish.lock`` (flock) so two publishes from one machine
queue, and sweeps what a publish that died left (``entries/.tmp-*``, manifest temp files, entry
directories the manifest does not list); publish from one node (the team's publisher, a CI job).
Readers never lock.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from . import faults
from .errors import EntryMissing, PublishConflict, UsageError
from .upstream import ENTRIES, FORMAT, MANIFEST, MANIFEST_VERSION, ORIGIN_KEY, check_tree
from .upstream_archive import ARCHIVES, ArchiveRef, archive_matches, archive_rel, write_archive
from .upstream_stacks import STACKS_KEY, STACKS_VERSION, STACKS_VERSION_KEY

if TYPE_CHECKING:
    from .catalog import EntryRow
    from .store import Store

LOCK_NAME = ".forge-publish.lock"
TMP_PREFIX = ".tmp-"


@record(frozen=True, slots=True)
class Published:
    id: str
    name: str
    version: str
    dir: str  # relative to DEST
    bytes: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@record(frozen=True, slots=True)
class PublishReport:
    dest: str
    generation: int
    manifest_written: bool
    published: tuple[Published, ...]
    skipped: tuple[Published, ...]  # already there under their id (verified)
    stacks: tuple[str, ...] = ()  # the stacks this publish recorded (:mod:`.upstream_stacks`)

    def to_dict(self) -> dict[str, object]:
        return {
            "dest": self.dest,
            "generation": self.generation,
            "manifest_written": self.manifest_written,
            "published": [p.to_dict() for p in self.published],
            "skipped": [p.to_dict() for p in self.skipped],
            "stacks": list(self.stacks),
        }


def _entry_ids(store: Store, envs: Sequence[str] | None) -> list[str]:
    """Every entry the named envs see (their own, their parents', the GLOBAL layer's), once."""
    names = list(envs) if envs else [e.name for e in store.envs()]
    if not names:
        raise UsageError("there are no envs to publish", hint="create and install into one first")
    out: dict[str, None] = {}
    for name in names:
        for dist in store.visible(name):  # EnvNotFound for an unknown name: nothing written yet
            out.setdefault(dist.entry_id, None)
    return list(out)


def _read_raw(dest: Path) -> tuple[int, dict[str, dict[str, object]]]:
    """The current manifest's generation and entry records, as written (0 and {} when new)."""
    from .upstream import read_manifest

    path = dest / MANIFEST
    if not path.exists():
        return 0, {}
    manifest = read_manifest(dest)  # UpstreamInvalid for a foreign or newer file: left alone
    doc = json.loads(path.read_bytes())
    raw = doc["entries"]
    return manifest.generation, {cid: raw[cid] for cid in manifest.entries}


def _record(row: EntryRow, rel: str, wheels: Sequence[tuple[str, str]]) -> dict[str, object]:
    meta = {k: v for k, v in row.meta.items() if k != ORIGIN_KEY}
    return {
        "dir": rel,
        "name": row.name,
        "version": row.version,
        "dist_info": row.dist_info,
        "tags": list(row.tags),
        "requires_python": row.requires_python,
        "wheel_sha256": row.wheel_sha256,
        "size": row.size,
        "files": row.files,
        "pyc_tags": list(row.pyc_tags),
        "meta": meta,
        "wheels": [list(w) for w in sorted(set(wheels))],
        "published": time.time(),
    }


def _dir_name(cid: str, taken: dict[str, str], entries: Path) -> str:
    """``entries/<id16>`` (32, then 64 hex when a prefix is another entry's)."""
    for width in (16, 32, 64):
        rel = f"{ENTRIES}/{cid[:width]}"
        if taken.get(rel, cid) == cid:
            return rel
    raise PublishConflict(f"no directory name is free for entry {cid} in {entries}")


def _copy_tree(src: Path, dst: Path) -> int:
    """Copy an entry (regular files and directories only), sealed read-only except its top; bytes."""
    total = 0
    os.mkdir(dst, 0o755)
    dirs: list[str] = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        here = dst if rel == "." else dst / rel
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                raise PublishConflict(f"{full} is a symlink: store entries hold none")
            os.mkdir(here / name, 0o755)
            dirs.append(str(here / name))
        for name in filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode):
                raise PublishConflict(f"{full} is not a regular file: store entries hold only files")
            shutil.copyfile(full, here / name, follow_symlinks=False)
            os.chmod(here / name, (st.st_mode & 0o555) | 0o444)
            total += st.st_size
    for path in reversed(dirs):  # bottom-up: a sealed dir's children are done
        os.chmod(path, 0o555)
    return total


def _remove(path: Path) -> None:
    for dirpath, _dirs, _files in os.walk(path):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(path)


def _write_manifest(
    dest: Path,
    generation: int,
    entries: dict[str, dict[str, object]],
    stacks: dict[str, dict[str, object]] | None = None,
) -> None:
    doc: dict[str, object] = {
        "format": FORMAT,
        "version": MANIFEST_VERSION,
        "generation": generation,
        "written": time.time(),
        "entries": dict(sorted(entries.items())),
    }
    if stacks:  # :mod:`.upstream_stacks`; readers that predate them ignore both keys
        doc[STACKS_VERSION_KEY] = STACKS_VERSION
        doc[STACKS_KEY] = stacks
    tmp = dest / f".{MANIFEST}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest / MANIFEST)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(
    store: Store, dest: Path, envs: Sequence[str] | None = None, *, as_name: str | None = None
) -> PublishReport:
    """Publish the entries of ``envs`` (default: every env) into ``dest`` (see the module doc),
    and a stack per env and parent (:mod:`.upstream_stacks`; ``as_name``: the one env's name)."""
    from .locks import Timeout, file_lock
    from .upstream_stacks import stack_records, with_parents

    dest = Path(os.path.abspath(dest))
    stacks = stack_records(store, envs, as_name)
    ids = _entry_ids(store, with_parents(store, envs) if envs else None)
    rows = store.catalog.entries(ids)
    for cid in ids:
        path = store.entry_path(rows[cid])
        if not path.is_dir():
            row = rows[cid]
            raise EntryMissing(
                f"entry {row.name}-{row.version} ({path}) is missing; nothing was published",
                hint="run `forge doctor --fix` first",
            )
    if dest.is_relative_to(store.home.root):
        raise UsageError(f"{dest} is inside FORGE_HOME", hint="publish to a directory of its own")
    entries_dir = dest / ENTRIES
    entries_dir.mkdir(parents=True, exist_ok=True)
    try:
        with file_lock(dest / LOCK_NAME, store.lock_timeout):
            return _publish_locked(store, dest, ids, rows, stacks)
    except Timeout as exc:
        from .errors import LockTimeout

        raise LockTimeout(
            f"another publish into {dest} holds {exc.path}; gave up after {exc.timeout:g}s",
            hint="wait for it to finish, or set FORGE_LOCK_TIMEOUT=SECONDS to wait longer",
            holders=exc.holders,
            timeout=exc.timeout,
        ) from None


def _ensure_archive(dest: Path, cid: str, rel: str, listed: object) -> ArchiveRef | None:
    """The entry's archive for the HTTP form (:mod:`.upstream_archive`): None when the manifest
    record already names one that is there and matches (a published archive is never changed in
    place: one that differs stops the publish), else the one written now from ``DEST/rel`` (an
    archive left by a publish that died before its manifest is replaced)."""
    size = listed.get("size") if isinstance(listed, dict) else None
    if isinstance(listed, dict) and listed.get("path") == archive_rel(cid) and isinstance(size, int):
        ref = ArchiveRef(archive_rel(cid), size, str(listed.get("sha256")))
        problem = archive_matches(dest, ref)
        if problem is None:
            return None
        if os.path.lexists(dest / ref.path):
            raise PublishConflict(
                f"published archive of {cid[:16]} does not match its manifest record ({problem});"
                " published archives are never changed in place",
                hint="whoever changed it must restore it; or publish into a new directory",
            )
    faults.point("upstream-publish-archive")
    return write_archive(dest / rel, dest, cid)


def _publish_locked(
    store: Store,
    dest: Path,
    ids: Sequence[str],
    rows: dict[str, EntryRow],
    new_stacks: dict[str, dict[str, object]],
) -> PublishReport:
    from .upstream_stacks import merge, read_raw

    generation, records = _read_raw(dest)
    old_stacks = read_raw(dest)  # UpstreamInvalid for stacks of another version: left alone
    # leftovers of a publish that died (it held this lock, so none is in flight): never listed
    for child in sorted((dest / ENTRIES).iterdir()):
        if child.name.startswith(TMP_PREFIX):
            _remove(child)
    for child in sorted(dest.iterdir()):
        if child.name.startswith(f".{MANIFEST}."):
            child.unlink()
    archives = dest / ARCHIVES
    for child in sorted(archives.iterdir()) if archives.is_dir() else []:
        if child.name.startswith(TMP_PREFIX):
            child.unlink()
    taken = {str(r["dir"]): cid for cid, r in records.items()}
    published: list[Published] = []
    skipped: list[Published] = []
    changed = False
    for cid in ids:
        row = rows[cid]
        wheels = store.catalog.aliases(cid)
        old = records.get(cid)
        if old is not None:
            rel = str(old["dir"])
            tags = old.get("pyc_tags")
            listed_tags = [str(t) for t in tags] if isinstance(tags, list) else []
            problems = check_tree(dest / rel, row.dist_info, listed_tags, (row.name, row.version))
            if problems:
                raise PublishConflict(
                    f"published entry {row.name}-{row.version} at {dest / rel} does not match its"
                    f" RECORD ({'; '.join(problems[:3])}); published entries are never changed in place",
                    hint="whoever changed it must restore it; or publish into a new directory",
                )
            listed = old.get("wheels")
            known = (
                {(str(w[0]), str(w[1])) for w in listed if isinstance(w, list) and len(w) == 2}
                if isinstance(listed, list)
                else set()
            )
            if set(wheels) - known:  # another wheel file with this content: metadata only
                records[cid] = {**old, "wheels": [list(w) for w in sorted(known | set(wheels))]}
                changed = True
            archive = _ensure_archive(dest, cid, rel, old.get("archive"))
            if archive is not None:  # a layout of an older publish: its archive is added now
                records[cid] = {**records[cid], "archive": archive.to_dict()}
                changed = True
            skipped.append(Published(cid, row.name, row.version, rel, row.size))
            continue
        rel = _dir_name(cid, taken, dest / ENTRIES)
        final = dest / rel
        src = store.entry_path(row)
        if os.path.lexists(final):  # left by a publisher that died before its manifest: not published
            _remove(final)
        tmp = dest / ENTRIES / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            size = _copy_tree(src, tmp)
            problems = check_tree(tmp, row.dist_info, row.pyc_tags, (row.name, row.version))
            if problems:
                raise PublishConflict(
                    f"entry {row.name}-{row.version} in the local store does not match its RECORD"
                    f" ({'; '.join(problems[:3])}); nothing of it was published",
                    hint="run `forge doctor --verify --fix` first",
                )
            faults.point("upstream-publish-copied")
            os.rename(tmp, final)
        except BaseException:
            if os.path.lexists(tmp):
                _remove(tmp)
            raise
        os.chmod(final, 0o555)
        taken[rel] = cid
        archive = _ensure_archive(dest, cid, rel, None)
        records[cid] = {**_record(row, rel, wheels), "archive": archive.to_dict() if archive else None}
        published.append(Published(cid, row.name, row.version, rel, size))
        changed = True
    stacks, stacks_changed = merge(old_stacks, new_stacks, generation + 1)
    if changed or stacks_changed:
        generation += 1
        os.sync()  # the entries the manifest names are on disk before it names them
        faults.point("upstream-publish-manifest")
        _write_manifest(dest, generation, records, stacks)
    return PublishReport(
        str(dest), generation, changed or stacks_changed, tuple(published), tuple(skipped), tuple(new_stacks)
    )
