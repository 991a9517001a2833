"""The on-disk HTTP cache for index pages and metadata files (``cache_dir/http/``).

One file per URL, named by the URL's sha256: a JSON header line (validators, ``Cache-Control``, when it
was stored, the final URL) then the body. Writes go to a temporary file in the same directory and are
``os.replace``-d into place, so concurrent processes only ever see whole entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from forge_store.records import record

from .atomicfile import write_cache_file

log = logging.getLogger(__name__)

_KEPT_HEADERS = ("content-type", "etag", "last-modified", "cache-control")


@record(frozen=True)
class CachedPage:
    """A cached response: enough to serve it, decide freshness, and revalidate it."""

    url: str
    """The URL after redirects (relative links resolve against it)."""
    headers: Mapping[str, str]
    stored_at: float
    body: bytes

    def cache_control(self) -> dict[str, str]:
        return parse_cache_control(self.headers.get("cache-control", ""))

    def is_fresh(self, now: float | None = None) -> bool:
        """True while ``max-age`` has not run out (``no-cache`` makes an entry stale at once)."""
        directives = self.cache_control()
        if "no-cache" in directives:
            return False
        try:
            max_age = int(directives.get("max-age", "0"))
        except ValueError:
            return False
        return ((now if now is not None else time.time()) - self.stored_at) < max_age

    def validators(self) -> dict[str, str]:
        """The conditional-request headers that revalidate this entry."""
        headers: dict[str, str] = {}
        if "etag" in self.headers:
            headers["If-None-Match"] = self.headers["etag"]
        if "last-modified" in self.headers:
            headers["If-Modified-Since"] = self.headers["last-modified"]
        return headers


def parse_cache_control(value: str) -> dict[str, str]:
    """``"max-age=600, public"`` -> ``{"max-age": "600", "public": ""}`` (names in lower case)."""
    result: dict[str, str] = {}
    for item in value.split(","):
        name, _, arg = item.strip().partition("=")
        if name:
            result[name.lower()] = arg.strip().strip('"')
    return result


class HttpCache:
    """Read and write cached pages under ``root`` (usually ``cache_dir / "http"``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()
        return self.root / digest[:2] / digest

    def load(self, url: str) -> CachedPage | None:
        path = self._path(url)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        header, sep, body = raw.partition(b"\n")
        try:
            meta = json.loads(header) if sep else None
            if not isinstance(meta, dict) or meta.get("key") != url:
                raise ValueError("not a cache entry for this URL")
            headers = {str(k): str(v) for k, v in dict(meta["headers"]).items()}
            return CachedPage(
                url=str(meta["url"]), headers=headers, stored_at=float(meta["stored_at"]), body=body
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.debug("ignoring corrupt cache entry %s: %s", path, exc)
            return None

    def store(self, key: str, final_url: str, headers: Mapping[str, str], body: bytes) -> CachedPage | None:
        """Keep a 200 response unless it says ``no-store`` (then drop any older entry)."""
        if "no-store" in parse_cache_control(headers.get("cache-control", "")):
            self.delete(key)
            return None
        page = CachedPage(
            url=final_url,
            headers={k: headers[k] for k in _KEPT_HEADERS if k in headers},
            stored_at=time.time(),
            body=body,
        )
        self._write(key, page)
        return page

    def refresh(self, key: str, page: CachedPage, headers: Mapping[str, str]) -> CachedPage:
        """After a 304: the old body, with the new validators and a new ``stored_at``."""
        merged = dict(page.headers)
        merged.update({k: headers[k] for k in _KEPT_HEADERS if k in headers and k != "content-type"})
        fresh = replace(page, headers=merged, stored_at=time.time())
        if "no-store" in parse_cache_control(merged.get("cache-control", "")):
            self.delete(key)
        else:
            self._write(key, fresh)
        return fresh

    def delete(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self._path(key).unlink()

    def _write(self, key: str, page: CachedPage) -> None:
        path = self._path(key)
        meta = {"key": key, "url": page.url, "headers": dict(page.headers), "stored_at": page.stored_at}
        # a read-only or full cache must not break an install
        write_cache_file(path, json.dumps(meta).encode() + b"\n", page.body, what="HTTP cache entry")
