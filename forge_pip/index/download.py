"""Verified downloads and the content-addressed download cache (``cache_dir/files/``).

A file is streamed to a temporary name in the destination directory while it is hashed (sha256 and
every other algorithm the :class:`~forge_pip.models.DistFile` announces), checked, and only then renamed
into place: a mismatch leaves nothing behind. A verified file is kept in the cache at
``files/<sha256[:2]>/<sha256>/<filename>`` and hard-linked (or copied) out, so a second download of a
file with a known sha256 makes no request at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from forge_pip.models import DistFile
from forge_store import timeline
from forge_store.errors import NotFoundError

from .errors import HashMismatch, IndexUnreachable, OfflineError, UnsafeFilename
from .http import HttpSession, StreamResponse, expect_ok
from .reporter import IndexReporter
from .urls import file_url_to_path, is_file_url

log = logging.getLogger(__name__)

_CHUNK = 1 << 18
_SHA256 = re.compile(r"[0-9a-f]{64}")


_KNOWN: dict[tuple[int, int], tuple[tuple[int, int, int], dict[str, str]]] = {}
_KNOWN_LOCK = threading.Lock()


def _identity(st: os.stat_result) -> tuple[tuple[int, int], tuple[int, int, int]]:
    return (st.st_dev, st.st_ino), (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def known_digests(path: Path) -> dict[str, str]:
    """The digests this process computed for ``path`` while downloading or checking it (so a
    second check need not read it again); empty when it did not, or the file changed since
    (another inode, size, mtime or ctime: any write moves the ctime)."""
    try:
        key, stamp = _identity(os.stat(path))
    except OSError:
        return {}
    with _KNOWN_LOCK:
        known = _KNOWN.get(key)
    return dict(known[1]) if known is not None and known[0] == stamp else {}


def remember_digests(path: Path, digests: Mapping[str, str]) -> None:
    """Record what :func:`known_digests` returns for ``path`` as it is now."""
    try:
        key, stamp = _identity(os.stat(path))
    except OSError:
        return
    with _KNOWN_LOCK:
        old = _KNOWN.get(key)
        merged = {**old[1], **digests} if old is not None and old[0] == stamp else dict(digests)
        _KNOWN[key] = (stamp, merged)


def safe_filename(filename: str) -> str:
    """Refuse names that would leave the destination directory (an index is not trusted with paths)."""
    if not filename or filename in (".", "..") or "/" in filename or "\\" in filename or "\0" in filename:
        raise UnsafeFilename(f"refusing to write a file named {filename!r}")
    return filename


class FileCache:
    """Verified files by sha256; entries are written atomically and never modified."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, sha256: str) -> Path | None:
        sha256 = sha256.lower()
        if not _SHA256.fullmatch(sha256):
            return None
        return self.root / sha256[:2] / sha256

    def lookup(self, sha256: str, filename: str) -> Path | None:
        directory = self._dir(sha256)
        if directory is None:
            return None
        exact = directory / filename
        if exact.is_file():
            return exact
        with contextlib.suppress(OSError):
            for entry in sorted(directory.iterdir()):
                if entry.is_file() and not entry.name.startswith("."):
                    return entry
        return None

    def store(self, path: Path, sha256: str) -> None:
        directory = self._dir(sha256)
        if directory is None:
            return
        target = directory / path.name
        if target.exists():
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            place(path, target)
        except OSError as exc:  # a full or read-only cache must not fail the download
            log.info("could not cache %s: %s", path.name, exc)


def place(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (copy across file systems), atomically replacing ``target``."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Downloader:
    """Fetches :class:`DistFile` s to a directory; safe to call from several threads at once."""

    def __init__(
        self, session: HttpSession, cache: FileCache | None, *, offline: bool, reporter: IndexReporter
    ) -> None:
        self._session = session
        self._cache = cache
        self._offline = offline
        self._reporter = reporter

    def download(self, file: DistFile, dest_dir: Path) -> Path:
        target = dest_dir / safe_filename(file.filename)
        dest_dir.mkdir(parents=True, exist_ok=True)
        sha256 = file.hashes.get("sha256")
        if self._cache is not None and sha256:
            cached = self._cache.lookup(sha256, file.filename)
            if cached is not None:
                place(cached, target)
                self._reporter.on_download_done(file, target)
                return target
        if is_file_url(file.url):
            source = file_url_to_path(file.url)
            try:
                handle = source.open("rb")
            except OSError as exc:
                raise NotFoundError(f"cannot read {file.filename} at {source}: {exc.strerror or exc}")
            with handle:
                size = os.fstat(handle.fileno()).st_size
                digests = self._write_verified(file, target, size, iter(lambda: handle.read(_CHUNK), b""))
        else:
            if self._offline:
                raise OfflineError(file.url)
            with (
                timeline.span("download", file.filename),
                self._session.stream(file.url, {"Accept-Encoding": "identity"}) as resp,
            ):
                expect_ok(resp)
                length = resp.headers.get("content-length", "")
                total = int(length) if length.isdigit() else file.size
                digests = self._write_verified(file, target, total, _body_chunks(resp, file.url))
            if self._cache is not None:
                with timeline.span("download-cache", file.filename):
                    self._cache.store(target, digests["sha256"])
        remember_digests(target, digests)  # after the cache's hardlink, which moves the ctime
        self._reporter.on_download_done(file, target)
        return target

    def _write_verified(
        self, file: DistFile, target: Path, total: int | None, chunks: Iterator[bytes]
    ) -> dict[str, str]:
        """Write ``chunks`` next to ``target``, check every known digest, rename; return the digests."""
        hashers = _hashers(file.hashes)
        self._reporter.on_download_start(file, total)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            done = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    done += len(chunk)
                    self._reporter.on_download_progress(file, done)
            for algorithm, expected in file.hashes.items():
                checker = hashers.get(algorithm.lower())
                if checker is not None and checker.hexdigest() != expected.lower():
                    actual = checker.hexdigest()
                    raise HashMismatch(file.filename, algorithm, expected.lower(), actual, url=file.url)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return {a: h.hexdigest() for a, h in hashers.items()}


def _hashers(expected: Mapping[str, str]) -> dict[str, hashlib._Hash]:
    hashers: dict[str, hashlib._Hash] = {"sha256": hashlib.sha256()}
    for algorithm in expected:
        name = algorithm.lower()
        if name not in hashers and name in hashlib.algorithms_available:
            with contextlib.suppress(ValueError):
                hashers[name] = hashlib.new(name)
    return hashers


def _body_chunks(resp: StreamResponse, url: str) -> Iterator[bytes]:
    """Read a streamed body, turning a connection dropped mid-way into :class:`IndexUnreachable`."""
    import http.client

    while True:
        try:
            chunk = resp.read(_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            raise IndexUnreachable(url, f"download interrupted: {type(exc).__name__}: {exc}")
        if not chunk:
            return
        yield chunk
