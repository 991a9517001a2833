"""The index client: from a project name to verified files on disk, the way pip finds them.

:class:`IndexClient` merges every "simple" index (``https://`` or ``file://``) and every find-links
location into one stable list of :class:`~forge_pip.models.DistFile` per project, fetches PEP 658
metadata, and downloads with hash checks. Under ``cache_dir``: ``pages/`` (parsed project pages,
revalidated as pip does, see :mod:`forge_pip.index.pages`), ``metadata/`` (core metadata by
digest, :mod:`forge_pip.index.metacache`), ``http/`` (other responses) and ``files/`` (downloads).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from forge_pip.models import DistFile

from .cache import HttpCache
from .download import Downloader, FileCache
from .errors import HashMismatch, InsecureOrigin
from .findlinks import FindLinks, is_remote
from .http import HttpSession
from .metacache import MetadataCache
from .pagecache import PageCache, PageEntry, PageStamp
from .pages import PageReader, index_parser
from .parsed import ProjectFiles, Segment, fingerprint_of
from .reporter import IndexReporter, NullIndexReporter
from .urls import file_url_to_path, is_file_url, path_to_file_url, redact_text, redact_url, split_auth

log = logging.getLogger(__name__)

_PREFETCH_THREADS = 8
ALL = ":all:"
"""In ``refresh``: every project."""
_R = TypeVar("_R")


def _as_url(location: str) -> str:
    """Index roots may be given as plain paths; everything else is used as is."""
    if is_remote(location) or is_file_url(location):
        return location
    return path_to_file_url(Path(location).expanduser())


class IndexClient:
    """Finds, describes and downloads distribution files; thread-safe; use as a context manager.

    Example::

        with IndexClient(index_urls=["file:///opt/pypi/simple"], cache_dir=None) as client:
            wheels = [f for f in client.project_files("numpy") if f.is_wheel]
            path = client.download(wheels[0], Path("/tmp/dl"))
    """

    def __init__(
        self,
        *,
        index_urls: Sequence[str],
        find_links: Sequence[str] = (),
        cache_dir: Path | None,
        offline: bool = False,
        trusted_hosts: Sequence[str] = (),
        cert: str | None = None,
        client_cert: str | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        reporter: IndexReporter | None = None,
        proxy_env: bool = True,
        refresh: Collection[str] = (),
    ) -> None:
        self._reporter: IndexReporter = reporter or NullIndexReporter()
        self._offline = offline
        self._session = HttpSession(
            cert=cert,
            client_cert=client_cert,
            trusted_hosts=trusted_hosts,
            timeout=timeout,
            retries=retries,
            proxies=None if proxy_env else {},
        )
        self._refresh = frozenset(refresh)
        """pip's ``--refresh-package``: projects (canonical names, or ``:all:``) whose index pages are
        asked for unconditionally, not revalidated against the cached copy."""
        self.index_urls = tuple(self._session.add_credentials(_as_url(u)).rstrip("/") for u in index_urls)
        self.find_links = tuple(self._session.add_credentials(u) if is_remote(u) else u for u in find_links)
        self._http_cache = HttpCache(cache_dir / "http") if cache_dir is not None else None
        self._metadata_cache = MetadataCache(cache_dir / "metadata") if cache_dir is not None else None
        self._pages = PageReader(
            self._session,
            PageCache(cache_dir / "pages") if cache_dir is not None else None,
            offline=offline,
            reporter=self._reporter,
            warn=self._warn,
            raw_cache=self._http_cache,
        )
        self._downloader = Downloader(
            self._session,
            FileCache(cache_dir / "files") if cache_dir is not None else None,
            offline=offline,
            reporter=self._reporter,
        )
        self._find_links = FindLinks(self.find_links, self._pages, self._warn)
        self._lock = threading.Lock()
        self._projects: dict[str, ProjectFiles] = {}
        self._pending: dict[str, Future[tuple[ProjectFiles, list[str]]]] = {}
        self._stamps: dict[str, Future[tuple[str, list[str]]]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._held = threading.local()
        """``messages``: where this thread's warnings go while it reads a page in advance."""
        self._remote = any(is_remote(u) for u in (*self.index_urls, *self.find_links))

    def __repr__(self) -> str:
        return redact_text(
            f"IndexClient(index_urls={list(self.index_urls)!r}, find_links={list(self.find_links)!r}, "
            f"offline={self._offline})"
        )

    # -- finding files -------------------------------------------------------------------------------

    def project_files(self, name: str) -> list[DistFile]:
        """Every wheel/sdist of ``name``: indexes in order, then find-links, each in page order.

        A project an index does not know (404) has no files there; a malformed page or file name is a
        warning and is skipped. Raises :class:`~forge_pip.index.errors.IndexUnreachable` when an index
        cannot be reached at all. Results are remembered for the life of the client.
        """
        return list(self.project_table(name))

    def project_table(self, name: str) -> ProjectFiles:
        """:meth:`project_files` as a lazy sequence: a :class:`DistFile` is built per row read.

        Its ``filenames`` let a caller reject rows (other platforms) without building them.
        """
        from packaging.utils import canonicalize_name

        project = canonicalize_name(name)
        with self._lock:
            known = self._projects.get(project)
            pending = self._pending.pop(project, None)
        if known is not None:
            return known
        if pending is not None and not pending.cancel():  # being read (or read) in advance
            table, warnings = pending.result()
            for message in warnings:  # shown now, in the caller's order
                self._warn(message)
            with self._lock:
                return self._projects.setdefault(project, table)
        table = self._read_project(project)
        with self._lock:
            return self._projects.setdefault(project, table)

    def prefetch(self, names: Iterable[str]) -> None:
        """Start reading the pages of ``names`` in the background (a few threads), so that the
        :meth:`project_table` calls that follow wait for one round trip at most, not one each.

        Only when a remote index or find-links page is configured and not offline. What a
        prefetched page warns about is held back until its project is asked for.
        """
        if not self._remote or self._offline:
            return

        self._find_links.load()  # locations are read (and warn) here, in the caller's thread
        with self._lock:
            for project in self._biggest_first(names):
                if project in self._projects or project in self._pending:
                    continue
                self._pending[project] = self._executor().submit(self._held_call, self._read_project, project)

    def _biggest_first(self, names: Iterable[str]) -> list[str]:
        """``names`` canonical, the projects whose remote pages were biggest when last cached
        first (then in the given order): the largest pages (numpy's is ~2 MB) take the longest,
        and started last they would finish last, after every thread had gone idle."""
        from packaging.utils import canonicalize_name

        remote = [root for root in self.index_urls if is_remote(root)]
        projects = list(dict.fromkeys(str(canonicalize_name(n)) for n in names))
        if not remote or len(projects) < 2:
            return projects
        size = {p: sum(self._pages.cached_size(f"{root}/{p}/") for root in remote) for p in projects}
        return sorted(projects, key=lambda p: -size[p])  # stable: ties keep the given order

    def _executor(self) -> ThreadPoolExecutor:
        """The page-reading threads (made on first use; the caller holds ``_lock``)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_PREFETCH_THREADS, thread_name_prefix="forge-page")
        return self._pool

    def _held_call(self, read: Callable[[str], _R], project: str) -> tuple[_R, list[str]]:
        """``read(project)`` in a page thread, with the warnings it gives held for the caller."""
        messages: list[str] = []
        self._held.messages = messages
        try:
            return read(project), messages
        finally:
            del self._held.messages

    def _read_project(self, project: str) -> ProjectFiles:
        with self._lock:
            stamped = self._stamps.pop(project, None)
        if stamped is not None and not stamped.cancel():
            # being revalidated in advance: wait, then read what it confirmed (without a request;
            # its warnings are the pages' own, given again below)
            stamped.result()
        segments: list[Segment] = []
        for root in self.index_urls:
            segment = self._index_segment(root, project)
            if segment is not None:
                segments.append(segment)
        segments.extend(self._find_links.segments(project))
        return ProjectFiles(segments)

    def project_fingerprint(self, name: str) -> str:
        """``project_table(name).fingerprint()`` (what a resolution memo compares), revalidated as
        :meth:`project_table` revalidates, without decoding the pages that did not change. Warns as
        :meth:`project_table` does."""
        from packaging.utils import canonicalize_name

        project = canonicalize_name(name)
        with self._lock:
            read = project in self._projects or project in self._pending
            stamped = self._stamps.pop(project, None)
        if read:
            return self.project_table(project).fingerprint()
        if stamped is not None and not stamped.cancel():  # being computed (or computed) in advance
            fingerprint, warnings = stamped.result()
            for message in warnings:
                self._warn(message)
            return fingerprint
        return self._fingerprint(project)

    def prefetch_fingerprints(self, names: Iterable[str]) -> None:
        """:meth:`prefetch` for :meth:`project_fingerprint`: revalidate the pages of ``names`` in
        the background (a remote source configured, not offline)."""
        if not self._remote or self._offline:
            return

        self._find_links.load()
        with self._lock:
            for project in self._biggest_first(names):
                if project in self._projects or project in self._pending or project in self._stamps:
                    continue
                self._stamps[project] = self._executor().submit(self._held_call, self._fingerprint, project)

    def _fingerprint(self, project: str) -> str:
        parts: list[tuple[str, str]] = []
        for root in self.index_urls:
            page = self._index_page(root, project, stamp=True)
            if page is not None:
                parts.append((redact_url(root), page.digest))
        parts.extend((s.source, s.fingerprint()) for s in self._find_links.segments(project))
        return fingerprint_of(parts)

    def _index_segment(self, root: str, project: str) -> Segment | None:
        entry = self._index_page(root, project, stamp=False)
        if entry is None:
            return None
        assert isinstance(entry, PageEntry)
        return Segment(entry.columns, redact_url(root), digest=entry.digest)

    def _index_page(self, root: str, project: str, *, stamp: bool) -> PageEntry | PageStamp | None:
        """The project's page on one index (``stamp``: its cached header when that suffices), its
        warnings shown; ``None`` when the index has no such page."""
        page_url = f"{root}/{project}/"
        page: PageEntry | PageStamp | None
        if is_file_url(root):
            index = file_url_to_path(page_url) / "index.html"
            try:
                st = os.stat(index)
            except OSError:
                st = None
            if st is None or not stat.S_ISREG(st.st_mode):
                if not file_url_to_path(root + "/").is_dir():
                    self._warn(f"index {redact_url(root)} does not exist")
                return None
            self._reporter.on_fetch_page(page_url)
            if stamp:
                page = self._pages.file_stamp(index, page_url, index_parser(project), st)
            else:
                page = self._pages.file_page(index, page_url, index_parser(project), st)
        else:
            refresh = project in self._refresh or ALL in self._refresh
            if stamp:
                page = self._pages.http_stamp(page_url, index_parser(project), refresh=refresh)
            else:
                page = self._pages.http_page(page_url, index_parser(project), refresh=refresh)
        if page is None:
            return None
        for warning in page.warnings:
            self._warn(warning)
        return page

    def _fetch(self, url: str, accept: str, *, keep: bool = True) -> tuple[str, str, bytes] | None:
        """GET through the HTTP cache: ``(final_url, content_type, body)``, or ``None`` for "nothing here".

        Fresh entries (``max-age``) are used without a request, stale ones revalidated (304 keeps the
        body); offline, any cached entry is used and a miss is a warning. ``keep=False``: the caller
        keeps the body elsewhere (a new response is not written to the HTTP cache).
        """
        url, _creds = split_auth(url)
        cache = self._http_cache
        entry = cache.load(url) if cache is not None else None
        if self._offline:
            if entry is None:
                self._warn(f"offline mode: {redact_url(url)} is not cached, treating it as empty")
                return None
            return entry.url, entry.headers.get("content-type", ""), entry.body
        if entry is not None and entry.is_fresh():
            # fresh by the clock: a later run may revalidate instead (no replay of this one)
            sys.audit("forge.volatile", "a cached response used while fresh")
            return entry.url, entry.headers.get("content-type", ""), entry.body
        self._reporter.on_fetch_page(url)
        headers = {"Accept": accept, **(entry.validators() if entry is not None else {})}
        try:
            resp = self._session.get(url, headers)
        except InsecureOrigin as exc:
            self._warn(f"{exc.message} ({exc.hint})")
            return None
        if resp.status == 304 and entry is not None and cache is not None:
            entry = cache.refresh(url, entry, resp.headers)
            return entry.url, entry.headers.get("content-type", ""), entry.body
        if resp.status in (404, 410):
            return None
        if not 200 <= resp.status < 300:
            self._warn(f"skipping {redact_url(url)}: HTTP {resp.status} {resp.reason}")
            return None
        if cache is not None and keep:
            cache.store(url, resp.url, resp.headers, resp.body)
        return resp.url, resp.headers.get("content-type", ""), resp.body

    # -- metadata and downloads ----------------------------------------------------------------------

    def fetch_metadata(self, file: DistFile) -> bytes | None:
        """The PEP 658 core metadata of ``file``, hash-checked; ``None`` when the index does not serve it.

        A ``.metadata`` with an announced sha256 is kept under that digest (it never changes), so
        it is fetched once per cache, not once per run.
        """
        if file.metadata_hashes is None:
            return None
        cache = self._metadata_cache
        announced = file.metadata_hashes.get("sha256")
        if cache is not None and announced is not None:
            kept = cache.by_own_sha256(announced)
            if kept is not None:
                return kept
        url = file.metadata_url
        if is_file_url(url):
            try:
                body = file_url_to_path(url).read_bytes()
            except OSError:
                self._warn(f"{file.filename}: the index announces metadata but {redact_url(url)} is missing")
                return None
        else:
            fetched = self._fetch(url, "*/*", keep=announced is None)
            if fetched is None:
                return None
            body = fetched[2]
        for algorithm, expected in file.metadata_hashes.items():
            if algorithm.lower() in hashlib.algorithms_available:
                actual = hashlib.new(algorithm.lower(), body).hexdigest()
                if actual != expected.lower():
                    raise HashMismatch(
                        file.filename + ".metadata", algorithm, expected.lower(), actual, url=url
                    )
        if cache is not None and announced is not None:
            cache.keep_own_sha256(body)
        return body

    def cached_wheel_metadata(self, file: DistFile) -> bytes | None:
        """The METADATA read earlier from the wheel with ``file``'s sha256 (``None``: not known)."""
        sha256 = file.hashes.get("sha256")
        if self._metadata_cache is None or sha256 is None or not file.is_wheel:
            return None
        return self._metadata_cache.of_wheel(sha256)

    def keep_wheel_metadata(self, file: DistFile, data: bytes) -> None:
        """Remember ``data``, read from a copy of ``file`` verified against its sha256."""
        sha256 = file.hashes.get("sha256")
        if self._metadata_cache is not None and sha256 is not None and file.is_wheel:
            self._metadata_cache.keep_wheel(sha256, data)

    def download(self, file: DistFile, dest_dir: Path) -> Path:
        """Put a verified copy of ``file`` at ``dest_dir / file.filename`` (from the cache when possible).

        Raises :class:`~forge_pip.index.errors.HashMismatch` (nothing is left behind),
        :class:`~forge_pip.index.errors.OfflineError`, or
        :class:`~forge_pip.index.errors.IndexUnreachable`.
        """
        return self._downloader.download(file, dest_dir)

    def download_many(
        self, files: Sequence[DistFile], dest_dir: Path, *, jobs: int = 4
    ) -> dict[DistFile, Path]:
        """Download in a thread pool; the first failure cancels what has not started and is raised."""
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        unique = list(dict.fromkeys(files))
        if jobs <= 1 or len(unique) <= 1:
            return {file: self.download(file, dest_dir) for file in unique}
        with ThreadPoolExecutor(max_workers=min(jobs, len(unique)), thread_name_prefix="forge-dl") as pool:
            futures = {pool.submit(self.download, file, dest_dir): file for file in unique}
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in done:
                error = future.exception()
                if error is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise error
            results = {futures[future]: future.result() for future in futures}
        return {file: results[file] for file in unique}

    # -- plumbing ------------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        held: list[str] | None = getattr(self._held, "messages", None)
        if held is not None:
            held.append(message)
            return
        message = redact_text(message)
        log.info("%s", message)
        self._reporter.on_warning(message)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            self._pending.clear()
            self._stamps.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
