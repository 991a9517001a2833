"""Reading project pages and find-links locations through the parsed-page cache.

:class:`PageReader` turns an index project page (``https://`` or ``file://``), a find-links page or
a find-links directory into a :class:`~forge_pip.index.pagecache.PageEntry`: parsed at most once
per change of the page, whatever the number of runs.

HTTP semantics are pip's: a page request always carries ``Cache-Control: max-age=0`` (pip's
collector does, so that a release uploaded a minute ago is seen: pypa/pip#5670), so the cached
form is never used without asking the server; it is revalidated with ``If-None-Match`` /
``If-Modified-Since`` and a 304 reuses it without a parse. A server that sends no validators
answers 200 every time: the body is compared by digest and, unchanged, not parsed again. With
``--offline`` no request is made and any cached parsed form is used.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from .cache import HttpCache
from .errors import InsecureOrigin
from .http import HttpSession
from .pagecache import (
    VALIDATORS,
    PageCache,
    PageEntry,
    PageStamp,
    conditional_headers,
    content_digest,
    stat_signature,
)
from .parsed import FileColumns
from .reporter import IndexReporter
from .simple import ACCEPT, PageError, Warn, is_dist_filename, matching, parse_html, parse_page
from .urls import path_to_file_url, redact_url, split_auth

log = logging.getLogger(__name__)

Parse = Callable[[str, str, bytes, Warn], FileColumns]
"""``(final_url, content_type, body, warn) -> columns``: raises :class:`PageError` when unusable."""

_NO_FILES = FileColumns([], [], [], [], [], [], [], [])


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def index_parser(project: str) -> Parse:
    """A PEP 691/503 project page: only the files of ``project`` (malformed names warned about)."""

    def parse(final_url: str, content_type: str, body: bytes, warn: Warn) -> FileColumns:
        files = parse_page(body, final_url, content_type, warn=warn)
        return FileColumns.from_files(matching(files, project, warn))

    return parse


def _project_column(filenames: list[str]) -> list[str]:
    """The canonical project of each file name, ``"!" + canonical prefix`` for a malformed one."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    projects: list[str] = []
    for filename in filenames:
        try:
            if filename.endswith(".whl"):
                projects.append(parse_wheel_filename(filename)[0])
            else:
                projects.append(parse_sdist_filename(filename)[0])
        except (InvalidWheelFilename, InvalidSdistFilename):
            projects.append("!" + _canonical(filename.split("-", 1)[0]))
    return projects


def links_parser(final_url: str, content_type: str, body: bytes, warn: Warn) -> FileColumns:
    """A find-links page: every wheel/sdist link, with its project (any content type is read as HTML)."""
    files = parse_html(body, final_url)
    return FileColumns.from_files(files, _project_column([f.filename for f in files]))


class PageReader:
    """Fetches and parses pages through a :class:`PageCache` (``None``: parse every time)."""

    def __init__(
        self,
        session: HttpSession,
        cache: PageCache | None,
        *,
        offline: bool,
        reporter: IndexReporter,
        warn: Warn,
        raw_cache: HttpCache | None = None,
    ) -> None:
        self._session = session
        self._cache = cache
        self._raw_cache = raw_cache
        """Where Forge before the parsed cache kept raw page bodies (read offline only)."""
        self._offline = offline
        self._reporter = reporter
        self._warn = warn
        self._revalidated: dict[str, str] = {}
        """URL -> digest of the page as the server confirmed it in this run (not asked again)."""

    def cached_size(self, url: str) -> int:
        """How big the cached parse of the page at ``url`` is (0: none): what a page costs to
        fetch again, in proportion."""
        return self._cache.size(split_auth(url)[0]) if self._cache is not None else 0

    # -- http(s) -------------------------------------------------------------------------------------

    def http_page(
        self, url: str, parse: Parse, accept: str = ACCEPT, *, refresh: bool = False
    ) -> PageEntry | None:
        """The parsed page at ``url``; ``None`` for "nothing here" (404, offline miss, refused).

        The entry's ``warnings`` are the caller's to show (also for a reused entry). ``refresh``
        (pip's ``--refresh-package``): asked for without validators, so the server sends the page
        itself rather than a 304 for the cached copy (an unchanged body is still not parsed again).
        """
        page = self._http(url, parse, accept, stamp=False, refresh=refresh)
        assert page is None or isinstance(page, PageEntry)
        return page

    def http_stamp(
        self, url: str, parse: Parse, accept: str = ACCEPT, *, refresh: bool = False
    ) -> PageStamp | PageEntry | None:
        """What :meth:`http_page` gives, revalidated the same way, as the header of its cached entry
        when the page is unchanged (its columns not decoded); an entry when it changed."""
        return self._http(url, parse, accept, stamp=True, refresh=refresh)

    def _http(
        self, url: str, parse: Parse, accept: str, *, stamp: bool, refresh: bool = False
    ) -> PageStamp | PageEntry | None:
        url, _creds = split_auth(url)
        cache = self._cache
        known: PageStamp | PageEntry | None = None
        if cache is not None and stamp:
            known = cache.stamp(url)
        if known is None and cache is not None:
            known = entry = cache.load(url)
            if stamp and entry is not None and entry.kind == "http":  # an older Forge's entry
                self._store(entry)
        if known is not None and known.kind != "http":
            known = None
        if self._offline:
            if known is None:
                known = self._from_raw_cache(url, parse)
            if known is None:
                self._warn(f"offline mode: {redact_url(url)} is not cached, treating it as empty")
            return known if stamp else self._entry(url, known)
        if known is not None and self._revalidated.get(url) == known.digest:
            return known if stamp else self._entry(url, known)  # asked already in this run
        self._reporter.on_fetch_page(url)
        headers = {"Accept": accept, "Cache-Control": "max-age=0"}
        if known is not None and not refresh:
            headers.update(conditional_headers(known.validators))
        try:
            resp = self._session.get(url, headers)
        except InsecureOrigin as exc:
            self._warn(f"{exc.message} ({exc.hint})")
            return None
        validators = {k: resp.headers[k] for k in VALIDATORS if k in resp.headers}
        no_store = "no-store" in resp.headers.get("cache-control", "").lower()
        if resp.status in (404, 410):
            if known is not None:
                self._delete(url)
            return None
        if not 200 <= resp.status < 300 and resp.status != 304:
            self._warn(f"skipping {redact_url(url)}: HTTP {resp.status} {resp.reason}")
            return None
        digest = ""
        if resp.status != 304:
            content_type = resp.headers.get("content-type", "")
            digest = content_digest(resp.url, content_type, resp.body)
        # a 304 stands for the cached copy only when the request was conditional
        if known is not None and ((resp.status == 304 and not refresh) or known.digest == digest):
            # a 304 keeps the validators it does not restate; a 200 replaces them all
            merged = {**known.validators, **validators} if resp.status == 304 else validators
            if no_store:
                self._delete(url)
            else:
                self._revalidated[url] = known.digest
            if merged == dict(known.validators) and (stamp or no_store):
                return known
            entry = self._entry(url, known)
            if entry is None:
                return None
            entry = dataclasses.replace(entry, validators=merged, stored_at=time.time())
            if merged != dict(known.validators) and not no_store:
                self._store(entry)
            return entry
        if resp.status == 304:  # not asked conditionally: a confused server
            self._warn(f"skipping {redact_url(url)}: HTTP {resp.status} {resp.reason}")
            return None
        fresh = self._parse("http", url, resp.url, digest, parse, content_type, resp.body)
        fresh = dataclasses.replace(fresh, validators=validators)
        if no_store:
            self._delete(url)
        else:
            self._store(fresh)
            self._revalidated[url] = digest
        return fresh

    def _entry(self, url: str, known: PageStamp | PageEntry | None) -> PageEntry | None:
        """The whole entry ``known`` stands for (loaded when it is only a stamp)."""
        if known is None or isinstance(known, PageEntry):
            return known
        entry = self._cache.load(url) if self._cache is not None else None
        return entry if entry is not None and entry.digest == known.digest else None

    def _from_raw_cache(self, url: str, parse: Parse) -> PageEntry | None:
        """Offline, a page only an older Forge cached (its raw body in ``cache/http``): parse it once."""
        raw = self._raw_cache.load(url) if self._raw_cache is not None else None
        if raw is None:
            return None
        content_type = raw.headers.get("content-type", "")
        digest = content_digest(raw.url, content_type, raw.body)
        entry = self._parse("http", url, raw.url, digest, parse, content_type, raw.body)
        validators = {k: raw.headers[k] for k in VALIDATORS if k in raw.headers}
        entry = dataclasses.replace(entry, validators=validators)
        self._store(entry)
        return entry

    # -- local files ---------------------------------------------------------------------------------

    def file_page(self, path: Path, page_url: str, parse: Parse, st: os.stat_result) -> PageEntry | None:
        """The parsed page of a local HTML file (``st``: its stat); ``None`` (and a warning) if unreadable."""
        signature = stat_signature(st)
        entry = self._load(page_url, "file")
        if entry is not None and entry.signature_holds(signature):
            return entry
        try:
            body = path.read_bytes()
        except OSError as exc:
            self._warn(f"cannot read {path}: {exc}")
            return None
        digest = content_digest(page_url, body)
        if entry is not None and entry.digest == digest:  # touched, not changed
            fresh = dataclasses.replace(entry, signature=tuple(signature), stored_at=time.time())
        else:
            fresh = self._parse("file", page_url, page_url, digest, parse, "text/html", body)
            fresh = dataclasses.replace(fresh, signature=tuple(signature))
        self._store(fresh)
        return fresh

    def file_stamp(
        self, path: Path, page_url: str, parse: Parse, st: os.stat_result
    ) -> PageStamp | PageEntry | None:
        """:meth:`file_page`, as the header of its cached entry when the file's stat shows that the
        parse still stands (no columns decoded)."""
        stamp = self._cache.stamp(page_url) if self._cache is not None else None
        if stamp is not None and stamp.kind == "file" and stamp.signature_holds(stat_signature(st)):
            return stamp
        entry = self.file_page(path, page_url, parse, st)
        if stamp is None and entry is not None:
            self._store(entry)  # an older Forge's entry: written again with a usable header
        return entry

    def directory(self, directory: Path) -> PageEntry:
        """Every wheel/sdist directly inside ``directory`` (sorted by name), with its project.

        Raises ``OSError`` when the directory cannot be listed.
        """
        with os.scandir(directory) as entries:
            names = sorted(entry.name for entry in entries if entry.is_file())
        names = [name for name in names if is_dist_filename(name)]
        key = path_to_file_url(directory)
        digest = content_digest(key, "\n".join(names))
        entry = self._load(key, "dir")
        if entry is not None and entry.digest == digest:
            return entry
        columns = FileColumns(
            urls=[path_to_file_url(directory / name) for name in names],
            filenames=names,
            hashes=[None] * len(names),
            requires_python=[None] * len(names),
            yanked=[None] * len(names),
            metadata=[None] * len(names),
            sizes=[None] * len(names),
            upload_times=[None] * len(names),
            projects=_project_column(names),
        )
        fresh = PageEntry(key=key, kind="dir", url=key, digest=digest, columns=columns, stored_at=time.time())
        self._store(fresh)
        return fresh

    # -- plumbing ------------------------------------------------------------------------------------

    def _parse(
        self, kind: str, key: str, url: str, digest: str, parse: Parse, content_type: str, body: bytes
    ) -> PageEntry:
        """Parse once, keeping the warnings: the caller shows them each time it uses the entry."""
        warnings: list[str] = []

        def collect(message: str) -> None:
            warnings.append(message)

        try:
            columns = parse(url, content_type, body, collect)
        except PageError as exc:
            warnings.append(f"skipping malformed page {redact_url(url)}: {exc}")
            columns = _NO_FILES
        entry = PageEntry(
            key=key,
            kind=kind,
            url=url,
            digest=digest,
            columns=columns,
            warnings=tuple(warnings),
            stored_at=time.time(),
        )
        return entry

    def _load(self, key: str, kind: str) -> PageEntry | None:
        entry = self._cache.load(key) if self._cache is not None else None
        return entry if entry is not None and entry.kind == kind else None

    def _store(self, entry: PageEntry) -> None:
        if self._cache is not None:
            self._cache.store(entry)

    def _delete(self, key: str) -> None:
        if self._cache is not None:
            self._cache.delete(key)
