"""Per-entry archives of an upstream layout: written by ``forge store publish``, read by the HTTP
binary cache (:mod:`.upstream_http`).

Usage::

    ref = write_archive(dest / "entries" / "3f2a...", dest, cid)     # publisher: archives/<id>.tar.gz
    stats = extract(open(downloaded, "rb"), staging, Limits.from_environ())  # consumer

An archive holds one entry's ``site/``, ``data/``, ``headers/`` and ``scripts/`` (pycs included),
as regular files and directories only; ``forge-entry.json`` and ``records/`` are left out, since
the consumer derives them again (from the manifest and from RECORD), so nothing in them needs
trusting. Format: a POSIX (pax) tar compressed with gzip at level 6, members sorted, owner 0 and
mtime 0 (the same entry gives the same bytes on every publisher). Why gzip: it shrinks what
every node downloads and what an object store bills 2-4x (numpy 2.4.6: a 72.6 MB tar is 21.0 MB),
for about one second of one core per 70 MB to inflate (1.66 s against 0.52 s to read the plain
tar, measured on a loaded 2-core machine), so below ~50 MB/s of bandwidth it is also the faster
one end to end; xz shrinks a little more but inflates several times slower, and zstd is not in
the standard library before Python 3.14.

Extraction trusts nothing of the archive: every member path is checked as wheel members are
(:func:`.wheelcheck.path_problem`: no absolute path, no ``..``, no control characters), must lie
in one of the four parts, and must be a regular file or a directory: links, devices, FIFOs and
sparse files are refused, modes are Forge's own (``0644``/``0755``, never setuid). Files are
created with ``O_EXCL | O_NOFOLLOW`` below directories extraction made itself, so no member can
write through another. File count and unpacked bytes are capped by the wheel limits
(``FORGE_MAX_WHEEL_FILES``, ``FORGE_MAX_UNPACKED_BYTES``). Any problem raises
``UpstreamEntryCorrupt`` naming it; the caller removes the staging directory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
import uuid
import zlib
from pathlib import Path
from typing import BinaryIO

from forge_store.records import record

from .errors import UpstreamEntryCorrupt
from .wheelcheck import Limits, path_problem

ARCHIVES = "archives"
SUFFIX = ".tar.gz"
PARTS = ("site", "data", "headers", "scripts")
COMPRESSLEVEL = 6
_CHUNK = 1 << 20
# substitute() replaces it with one that also names the way out of that upstream
_HINT = "the upstream's archive is malformed or malicious: tell its publisher"


@record(frozen=True, slots=True)
class ArchiveRef:
    """Where an entry's archive is, relative to the upstream root, and what it must hash to."""

    path: str  # archives/<content id>.tar.gz
    size: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def archive_rel(cid: str) -> str:
    return f"{ARCHIVES}/{cid}{SUFFIX}"


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()


def _members(entry: Path) -> list[tuple[str, os.stat_result]]:
    """(archive name, lstat) of every directory and regular file of the entry's parts, sorted;
    anything else (a symlink, a device) is refused: store entries hold none."""
    out: list[tuple[str, os.stat_result]] = []
    for part in PARTS:
        root = entry / part
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, entry)
            out.append((rel_dir, os.lstat(dirpath)))
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if not stat.S_ISREG(st.st_mode):
                    raise UpstreamEntryCorrupt(f"{full} is not a regular file: store entries hold only files")
                out.append((f"{rel_dir}/{name}", st))
    return out


def write_archive(entry: Path, dest: Path, cid: str) -> ArchiveRef:
    """Write ``DEST/archives/<cid>.tar.gz`` from a published entry directory: to a temp name,
    fsynced, sealed ``0444``, then renamed into place (a reader never sees half an archive)."""
    archives = dest / ARCHIVES
    archives.mkdir(exist_ok=True)
    rel = archive_rel(cid)
    tmp = archives / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "xb") as raw:
            hw = _HashingWriter(raw)
            with (
                gzip.GzipFile(fileobj=hw, mode="wb", compresslevel=COMPRESSLEVEL, mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                for name, st in _members(entry):
                    info = tarfile.TarInfo(name)
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if stat.S_ISDIR(st.st_mode):
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        tar.addfile(info)
                        continue
                    info.size = st.st_size
                    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
                    with open(entry / name, "rb") as f:
                        tar.addfile(info, f)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o444)
        size, sha = hw.size, hw.sha.hexdigest()
        os.replace(tmp, dest / rel)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ArchiveRef(rel, size, sha)


def archive_matches(dest: Path, ref: ArchiveRef) -> str | None:
    """Why a published archive is not what its manifest record says (None: it is)."""
    path = dest / ref.path
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return f"{path} is not a regular file"
        if st.st_size != ref.size:
            return f"{path} has {st.st_size} bytes, the manifest says {ref.size}"
        from .hashing import file_sha256

        actual = file_sha256(path)
    except OSError as exc:
        return f"{path} cannot be read ({os.strerror(exc.errno) if exc.errno else exc})"
    return None if actual == ref.sha256 else f"{path} has sha256 {actual}, the manifest says {ref.sha256}"


@record(frozen=True, slots=True)
class Extracted:
    files: int
    bytes: int


def _refuse(where: str, name: str, why: str) -> UpstreamEntryCorrupt:
    return UpstreamEntryCorrupt(
        f"{where}: archive member {name!r} {why}; nothing was published",
        hint=_HINT,
    )


def extract(source: BinaryIO, staging: Path, limits: Limits, where: str) -> Extracted:
    """Unpack an entry archive (a readable gzip-compressed tar stream) into ``staging`` (which
    must not exist), checking every member (see the module doc). ``where`` names the archive in
    errors."""
    os.mkdir(staging, 0o755)
    made: set[str] = {""}
    files = total = 0
    try:
        tar = tarfile.open(fileobj=source, mode="r|gz")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UpstreamEntryCorrupt(
            f"{where} is not a gzip-compressed tar archive ({exc}); nothing was published", hint=_HINT
        ) from None
    try:
        for member in tar:
            name = member.name[:-1] if member.name.endswith("/") else member.name
            problem = path_problem(name)
            if problem is not None:
                raise _refuse(where, member.name, problem)
            if name.split("/", 1)[0] not in PARTS:
                raise _refuse(where, member.name, f"is outside the entry's parts ({', '.join(PARTS)})")
            parent = name.rpartition("/")[0]
            if parent not in made:
                raise _refuse(where, member.name, "comes before its directory")
            if member.isdir():
                if name in made:
                    raise _refuse(where, member.name, "is listed twice")
                if len(made) > limits.files:  # directories count too: no million empty dirs
                    raise _refuse(where, member.name, f"exceeds the limit of {limits.files} directories")
                os.mkdir(staging / name, 0o755)
                made.add(name)
                continue
            if not member.isreg() or member.issparse():
                kind = (
                    "a symlink"
                    if member.issym()
                    else "a hard link"
                    if member.islnk()
                    else "a device or FIFO"
                    if member.isdev()
                    else "not a regular file"
                )
                raise _refuse(where, member.name, f"is {kind}: entries hold only files and directories")
            files += 1
            total += member.size
            if files > limits.files:
                raise _refuse(where, member.name, f"exceeds the limit of {limits.files} files")
            if total > limits.unpacked_bytes:
                raise _refuse(
                    where, member.name, f"exceeds the limit of {limits.unpacked_bytes} unpacked bytes"
                )
            fobj = tar.extractfile(member)
            assert fobj is not None  # a regular file
            mode = 0o755 if member.mode & 0o111 else 0o644
            try:
                fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            except FileExistsError:
                raise _refuse(where, member.name, "is listed twice") from None
            with os.fdopen(fd, "wb") as out:
                left = member.size
                while left > 0:
                    chunk = fobj.read(min(_CHUNK, left))
                    if not chunk:
                        raise _refuse(where, member.name, "is cut short")
                    out.write(chunk)
                    left -= len(chunk)
            os.chmod(staging / name, mode)  # the umask may have taken bits
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno is not None:
            raise  # the local disk (full, read-only): a storage fault, not the archive's
        raise UpstreamEntryCorrupt(
            f"{where} is not a sound archive ({exc}); nothing was published", hint=_HINT
        ) from None
    finally:
        tar.close()
    return Extracted(files, total)
