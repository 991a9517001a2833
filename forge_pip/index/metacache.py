"""Core metadata kept by digest (``cache_dir/metadata/``): immutable, so never fetched twice.

Two kinds of key, both immutable facts:

- ``sha256/<digest>``: a PEP 658/714 ``.metadata`` file under its own sha256 (the index announced
  that digest; the bytes are checked against it on every read, so the entry verifies itself);
- ``wheel/<digest>``: the ``METADATA`` read from the verified wheel file whose sha256 is
  ``digest`` (stored after a line with its own sha256, checked on every read).

A ``.metadata`` announced without a digest is not kept here (the HTTP cache has it, by URL).

Sdists are never kept here: building metadata may depend on the build environment. Writes are
atomic (temporary file, ``os.replace``); an unreadable cache is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from pathlib import Path

from .atomicfile import write_cache_file

log = logging.getLogger(__name__)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_METADATA_BYTES = 64 << 20
"""Metadata larger than this is not kept (the same cap wheel METADATA reads have)."""


class MetadataCache:
    """Read and write metadata files under ``root`` (usually ``cache_dir / "metadata"``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, digest: str) -> Path | None:
        digest = digest.lower()
        if not _HEX64.match(digest):  # never a path from an index's text
            return None
        return self.root / kind / digest[:2] / digest

    def by_own_sha256(self, digest: str) -> bytes | None:
        """The metadata whose sha256 is ``digest``, re-checked (a damaged entry is dropped)."""
        path = self._path("sha256", digest)
        data = _read(path)
        if data is None or path is None:
            return None
        if hashlib.sha256(data).hexdigest() != digest.lower():
            log.debug("dropping damaged metadata cache entry %s", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def of_wheel(self, file_sha256: str) -> bytes | None:
        """The metadata of the wheel file whose sha256 is ``file_sha256`` (checked against the
        digest line it is stored with)."""
        path = self._path("wheel", file_sha256)
        raw = _read(path)
        if raw is None or path is None:
            return None
        digest, sep, data = raw.partition(b"\n")
        if not sep or hashlib.sha256(data).hexdigest().encode() != digest:
            log.debug("dropping damaged metadata cache entry %s", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def keep_own_sha256(self, data: bytes) -> None:
        _write(self._path("sha256", hashlib.sha256(data).hexdigest()), data)

    def keep_wheel(self, file_sha256: str, data: bytes) -> None:
        _write(self._path("wheel", file_sha256), hashlib.sha256(data).hexdigest().encode() + b"\n" + data)


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path | None, data: bytes) -> None:
    if path is None or len(data) > MAX_METADATA_BYTES or path.exists():
        return
    write_cache_file(path, data, what="metadata cache entry")
