"""The on-disk cache of parsed pages (``cache_dir/pages/``): parse a project page once.

One file per page, named by the sha256 of its key (the page URL, or the find-links location):
a JSON header line, then a JSON document of :class:`~forge_pip.index.parsed.FileColumns` and the
warnings its parse gave. The header holds what decides whether the parsed form still stands for
the page:

- ``http``: the response's validators (``ETag``, ``Last-Modified``, ``Cache-Control``) for a
  conditional GET, and a digest of what the parse read (final URL, ``Content-Type``, body): a 304,
  or a 200 with the same digest (servers that send no validators), reuses the parsed form;
- ``file`` (a ``file://`` page or find-links HTML file): ``(st_mtime_ns, st_size, st_ino,
  st_ctime_ns)``, trusted only when the file was older than :data:`RACY_SECONDS` when it was
  parsed (a file rewritten within one timestamp tick would otherwise go unseen); else, or when the
  stat differs, the body's digest decides;
- ``dir`` (a find-links directory): the digest of its sorted file names (all its parsed form
  depends on).

Entries are written to a temporary file and ``os.replace``-d into place, so readers only see whole
entries. The header carries a format number, the key, and the payload's length and CRC-32: an
entry of another format, for another key, truncated or damaged is ignored (and rewritten by the
next parse). Only JSON is read back, never code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from forge_store.records import record

from .atomicfile import write_cache_file
from .parsed import FileColumns

log = logging.getLogger(__name__)
_T = TypeVar("_T")

FORMAT = 1
"""Bump when the header or the columns change meaning: older entries are then ignored."""
RACY_SECONDS = 2.0
KINDS = ("http", "file", "dir")
VALIDATORS = ("etag", "last-modified", "cache-control")


def content_digest(*parts: str | bytes) -> str:
    """sha256 over length-prefixed parts (so no two part lists collide)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def stat_signature(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]


@record(frozen=True)
class PageEntry:
    """One parsed page and what it was parsed from."""

    key: str
    kind: str
    """``"http"``, ``"file"`` or ``"dir"``."""
    url: str
    """The URL the parse resolved links against (the final URL after redirects, for ``http``)."""
    digest: str
    """:func:`content_digest` of what the parse read."""
    columns: FileColumns
    warnings: tuple[str, ...] = ()
    """What the parse warned about (shown again each time the entry is used, as a re-parse would)."""
    validators: Mapping[str, str] = dataclasses.field(default_factory=dict)
    signature: tuple[int, ...] | None = None
    stored_at: float = 0.0

    def conditional_headers(self) -> dict[str, str]:
        return conditional_headers(self.validators)

    def signature_holds(self, signature: Sequence[int]) -> bool:
        """Whether a ``file`` entry still stands for a file with this stat, without reading it."""
        return _signature_holds(self.signature, self.stored_at, signature)


def conditional_headers(validators: Mapping[str, str]) -> dict[str, str]:
    """The request headers that ask whether a page with these validators changed."""
    headers: dict[str, str] = {}
    if "etag" in validators:
        headers["If-None-Match"] = validators["etag"]
    if "last-modified" in validators:
        headers["If-Modified-Since"] = validators["last-modified"]
    return headers


@record(frozen=True)
class PageStamp:
    """What a cached page was parsed from (its entry's header), without the parsed columns: enough
    to tell whether the parse still stands for the page, and to fingerprint it."""

    key: str
    kind: str
    digest: str
    warnings: tuple[str, ...]
    validators: Mapping[str, str]
    signature: tuple[int, ...] | None
    stored_at: float

    def signature_holds(self, signature: Sequence[int]) -> bool:
        return _signature_holds(self.signature, self.stored_at, signature)


def _signature_holds(recorded: tuple[int, ...] | None, stored_at: float, signature: Sequence[int]) -> bool:
    if recorded is None or tuple(signature) != recorded:
        return False
    return stored_at - signature[0] / 1e9 >= RACY_SECONDS


class PageCache:
    """Read and write :class:`PageEntry` files under ``root`` (usually ``cache_dir / "pages"``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / digest[:2] / digest

    def size(self, key: str) -> int:
        """The size of ``key``'s entry file in bytes, 0 when there is none (read nothing)."""
        try:
            return self._path(key).stat().st_size
        except OSError:
            return 0

    def load(self, key: str) -> PageEntry | None:
        """The entry for ``key``, or ``None`` (missing, of another format or key, or damaged)."""
        return self._read(key, _decode)

    def stamp(self, key: str) -> PageStamp | None:
        """The header of ``key``'s entry, its payload checked but not decoded (``None`` as for
        :meth:`load`, or for an entry written before headers carried the parse's warnings)."""
        return self._read(key, _decode_stamp)

    def _read(self, key: str, decode: Callable[[bytes, str], _T]) -> _T | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            return decode(raw, key)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            log.debug("ignoring unusable page cache entry %s: %s", path, exc)
            return None

    def store(self, entry: PageEntry) -> None:
        """Write ``entry`` atomically; a read-only or full cache is logged, never an error."""
        payload = json.dumps(
            {"columns": entry.columns.to_json(), "warnings": list(entry.warnings)},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8", "surrogateescape")
        header = {
            "key": entry.key,
            "kind": entry.kind,
            "url": entry.url,
            "digest": entry.digest,
            "validators": dict(entry.validators),
            "signature": list(entry.signature) if entry.signature is not None else None,
            "stored_at": entry.stored_at or time.time(),
            "warnings": list(entry.warnings),
        }
        write_framed(self._path(entry.key), FORMAT, header, payload)

    def delete(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self._path(key).unlink()


def write_framed(path: Path, format: int, header: Mapping[str, object], payload: bytes) -> None:
    """Write a header line (``format``, the payload's length and CRC-32 added) then ``payload``,
    atomically (a temporary file ``os.replace``-d into place); an ``OSError`` is logged, not raised."""
    framed = {"format": format, **header, "length": len(payload), "crc32": zlib.crc32(payload)}
    write_cache_file(path, json.dumps(framed).encode() + b"\n", payload, what="cache entry")


def read_framed(raw: bytes, format: int, key: str) -> tuple[dict[str, object], bytes]:
    """The header and payload of what :func:`write_framed` wrote for ``key``; ``ValueError`` when it
    is of another format, for another key, truncated or damaged."""
    line, sep, payload = raw.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    header = json.loads(line)
    if not isinstance(header, dict) or header.get("format") != format:
        raise ValueError("another format")
    if header.get("key") != key:
        raise ValueError("an entry for another key")  # never trusted across keys (hash collision, a copy)
    if header.get("length") != len(payload) or header.get("crc32") != zlib.crc32(payload):
        raise ValueError("truncated or damaged")
    return header, payload


def _decode_stamp(raw: bytes, key: str) -> PageStamp:
    header, _payload = read_framed(raw, FORMAT, key)
    kind, _url, digest, validators, signature, stored_at = _header_fields(header)
    warnings = header["warnings"]  # KeyError: an older entry (its warnings are in the payload only)
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise ValueError("bad warnings")
    return PageStamp(key, kind, digest, tuple(warnings), validators, signature, stored_at)


def _header_fields(
    header: Mapping[str, object],
) -> tuple[str, str, str, dict[str, str], tuple[int, ...] | None, float]:
    """``(kind, url, digest, validators, signature, stored_at)`` of a header, checked."""
    kind, url, digest = header["kind"], header["url"], header["digest"]
    if kind not in KINDS or not isinstance(url, str) or not isinstance(digest, str):
        raise ValueError("bad header fields")
    validators = header.get("validators") or {}
    if not isinstance(validators, dict) or not all(
        k in VALIDATORS and isinstance(v, str) for k, v in validators.items()
    ):
        raise ValueError("bad validators")
    signature = header.get("signature")
    if signature is not None and not (
        isinstance(signature, list) and len(signature) == 4 and all(type(n) is int for n in signature)
    ):
        raise ValueError("bad signature")
    stored_at = header.get("stored_at")
    if not isinstance(stored_at, (int, float)):
        raise ValueError("bad stored_at")
    assert isinstance(kind, str) and isinstance(url, str) and isinstance(digest, str)
    return (
        kind,
        url,
        digest,
        validators,
        tuple(signature) if isinstance(signature, list) else None,
        float(stored_at),
    )


def _decode(raw: bytes, key: str) -> PageEntry:
    header, payload = read_framed(raw, FORMAT, key)
    kind, url, digest, validators, signature, stored_at = _header_fields(header)
    doc = json.loads(payload)
    if not isinstance(doc, dict):
        raise ValueError("bad payload")
    warnings = doc.get("warnings")
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise ValueError("bad warnings")
    return PageEntry(
        key=key,
        kind=kind,
        url=url,
        digest=digest,
        columns=FileColumns.from_json(doc.get("columns")),
        warnings=tuple(warnings),
        validators=validators,
        signature=signature,
        stored_at=stored_at,
    )
