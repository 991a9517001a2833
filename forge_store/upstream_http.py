"""The HTTP(S) form of an upstream: a binary cache of static files, substituted into the local store.

Usage::

    forge store add-upstream https://cache.example/forge/      # or FORGE_UPSTREAM=https://...
    store.upstreams.by_wheel(sha)        # RemoteEntry: a candidate, nothing downloaded yet
    upstream.adopt(store, entry)         # substitute(): fetched, verified, a normal local entry

Any static web server, object store or CDN serves the layout ``forge store publish`` writes
(:mod:`.upstream_publish`): ``forge-upstream.json`` and ``archives/<content id>.tar.gz``
(:mod:`.upstream_archive`; the manifest names each archive's size and sha256). Unlike the
directory form, an entry is not linked in place: it is **substituted**, as Nix does from a binary
cache: the archive is streamed into the local store's staging area while it is hashed, checked
against the manifest's size and sha256, extracted with every member checked, every file checked
against the entry's RECORD, its derived metadata (namespace dirs, ``$ORIGIN`` climbs, ABI scan,
per-env RECORD variants) computed again from the files, then published through the store's own
atomic publish (:func:`.publish.commit_staged`). The entry is then an ordinary local entry with
its wheel sha256 aliases; ``meta["substituted"]`` records where it came from. Any mismatch raises
``UpstreamEntryCorrupt`` with one line; nothing is published and the staging dir is removed (a
crash leaves it to the store sweep, as an ingest's).

The manifest is cached in ``FORGE_HOME/cache/upstream/<hash of the URL>/`` with its ``ETag`` and
``Last-Modified`` and revalidated once per process (``If-None-Match`` / ``If-Modified-Since``;
a 304 reuses the cached copy). A node only ever sends GET requests to an upstream.

Transport: ``forge_store`` has no network dependency on ``forge_pip``, so the default
:class:`UrllibFetcher` is the standard library's ``urllib`` (proxies from ``*_proxy``, system CA
certificates or ``SSL_CERT_FILE``, redirects). A front end may put its own session in
``store.upstreams.fetcher`` (anything with :class:`Fetcher`'s ``open``). Plain ``http://`` is
accepted only for loopback hosts and for hosts in ``PIP_TRUSTED_HOST`` (pip's secure-origin
rule): the manifest names every hash, so whoever can change it in transit can change the entries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from forge_store.records import record

from .atomicfile import write_atomic
from .errors import UpstreamEntryCorrupt, UpstreamInvalid
from .hosts import host_matches, is_loopback
from .upstream_archive import ArchiveRef, archive_rel

if TYPE_CHECKING:
    from .catalog import EntryRow
    from .store import Store

SUBSTITUTED_KEY = "substituted"  # meta of a local entry fetched from an HTTP binary cache
DIR_PREFIX = "@http-"  # the ``dir`` of a candidate row (never written to the catalog)
TIMEOUT_VAR = "FORGE_UPSTREAM_TIMEOUT"
DEFAULT_TIMEOUT = 15.0
_SHA = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


# -- where: URLs ------------------------------------------------------------------------------------


def check_url(url: str, environ: Mapping[str, str] | None = None) -> str:
    """The URL as configured (no trailing ``/``), or ``UpstreamInvalid`` with one line."""
    env = os.environ if environ is None else environ
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamInvalid(
            f"{url}: an upstream URL is http(s)://HOST/PATH/",
            hint="give the URL under which forge-upstream.json is served, or a directory path",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UpstreamInvalid(
            f"{url}: an upstream URL carries no credentials, query or fragment",
            hint="serve the binary cache without authentication, or through a proxy (https_proxy)",
        )
    if parts.scheme == "http" and not (
        is_loopback(parts.hostname)
        or host_matches(parts.hostname, parts.port, tuple(env.get("PIP_TRUSTED_HOST", "").split()))
    ):
        raise UpstreamInvalid(
            f"{url}: plain http is accepted only on loopback or for a trusted host",
            hint=f"serve it over https, or set PIP_TRUSTED_HOST={parts.hostname} (its manifest names every"
            " hash: on plain http anyone on the path can change them)",
        )
    return url.rstrip("/")


# -- transport --------------------------------------------------------------------------------------


class FetchError(Exception):
    """A request that got no usable answer: ``status`` is the HTTP status (None: no connection)."""

    def __init__(self, url: str, why: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {why}")
        self.url, self.why, self.status = url, why, status


@record(frozen=True, slots=True)
class Answer:
    status: int  # 200, or 304 for a revalidated request
    headers: Mapping[str, str]  # lower-case names
    body: BinaryIO


class Fetcher(Protocol):
    """How an upstream is read: one GET. ``open`` yields the answer (200 or 304) and raises
    :class:`FetchError` for anything else (a refused connection, a timeout, 404, 5xx)."""

    def open(self, url: str, headers: Mapping[str, str]) -> contextlib.AbstractContextManager[Answer]: ...


class UrllibFetcher:
    """:class:`Fetcher` on ``urllib.request`` (timeout ``FORGE_UPSTREAM_TIMEOUT``, default 15 s)."""

    def __init__(self, timeout: float | None = None) -> None:
        if timeout is None:
            try:
                timeout = float(os.environ.get(TIMEOUT_VAR, "") or DEFAULT_TIMEOUT)
            except ValueError:
                timeout = DEFAULT_TIMEOUT
        self.timeout = timeout

    @contextlib.contextmanager
    def open(self, url: str, headers: Mapping[str, str]) -> Iterator[Answer]:
        import urllib.error
        import urllib.request

        from . import __version__

        request = urllib.request.Request(
            url, headers={"User-Agent": f"forge/{__version__}", **headers}, method="GET"
        )
        try:
            resp = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304:
                yield Answer(304, {k.lower(): v for k, v in exc.headers.items()}, io.BytesIO())
                return
            raise FetchError(url, f"HTTP {exc.code} {exc.reason}", exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(url, str(reason)) from None
        with resp:
            yield Answer(int(resp.status), {k.lower(): v for k, v in resp.headers.items()}, resp)


# -- the manifest, cached and revalidated ----------------------------------------------------------


@record(frozen=True, slots=True)
class RemoteEntry:
    """One entry an HTTP binary cache offers: the row it would get, and its archive."""

    root: str  # the upstream's URL
    generation: int
    row: EntryRow  # ``dir`` is ``@http-<id>``: a candidate, not in the local catalog
    wheels: tuple[tuple[str, str], ...]
    archive: ArchiveRef

    @property
    def path(self) -> str:
        """The archive's URL."""
        return f"{self.root}/{self.archive.path}"


@record(frozen=True, slots=True)
class RemoteManifest:
    root: str
    generation: int
    entries: dict[str, RemoteEntry]
    by_wheel: dict[str, str]

    def named(self, name: str) -> list[RemoteEntry]:
        return [e for e in self.entries.values() if e.row.name == name]


def _archive(cid: str, raw: object) -> ArchiveRef:
    if not isinstance(raw, dict):
        raise ValueError("no archive (published by an older Forge: publish again to add archives)")
    path, size, sha = raw.get("path"), raw.get("size"), raw.get("sha256")
    if path != archive_rel(cid) or not isinstance(size, int) or size < 0 or not isinstance(sha, str):
        raise ValueError("bad archive record")
    if not _SHA.match(sha):
        raise ValueError("bad archive sha256")
    return ArchiveRef(path, size, sha)


def parse_manifest(url: str, data: bytes, where: str) -> RemoteManifest:
    """A manifest's bytes as an HTTP binary cache's entries (``UpstreamInvalid`` for a document
    this Forge cannot read; entries that do not parse are left out with one warning each)."""
    from .upstream import ORIGIN_KEY, _entry, _warn_once, parse_document

    generation, raw_entries = parse_document(data, where)
    entries: dict[str, RemoteEntry] = {}
    by_wheel: dict[str, str] = {}
    for cid, raw in raw_entries.items():
        try:
            base = _entry(Path("/"), generation, str(cid), raw)
            archive = _archive(str(cid), raw.get("archive") if isinstance(raw, dict) else None)
        except (ValueError, TypeError) as exc:
            _warn_once(f"{url}:{cid}", f"upstream {url}: ignoring manifest entry {str(cid)[:16]}: {exc}")
            continue
        meta = {k: v for k, v in base.row.meta.items() if k != ORIGIN_KEY}
        row = dataclasses.replace(base.row, dir=DIR_PREFIX + base.row.id, meta=meta)
        entries[row.id] = RemoteEntry(url, generation, row, base.wheels, archive)
        for sha, _name in (*base.wheels, (row.wheel_sha256, "")):
            by_wheel.setdefault(sha, row.id)
    return RemoteManifest(url, generation, entries, by_wheel)


def cache_dir(store: Store, url: str) -> Path:
    return store.home.cache / "upstream" / hashlib.sha256(url.encode()).hexdigest()[:24]


def fetch_manifest(store: Store, url: str, fetcher: Fetcher) -> RemoteManifest:
    """The upstream's manifest, revalidated against the cached copy; ``FetchError`` when it
    cannot be fetched, ``UpstreamInvalid`` when it is no manifest this Forge reads."""
    return fetch_document(store, url, fetcher)[0]


def fetch_document(store: Store, url: str, fetcher: Fetcher) -> tuple[RemoteManifest, bytes]:
    """:func:`fetch_manifest`, and the manifest's bytes (its stacks are read from the very
    document its entries come from: :func:`.upstream_stacks.fetch_stacks`)."""
    from .upstream import MANIFEST

    where = cache_dir(store, url)
    cached: bytes | None = None
    validators: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((where / "validators.json").read_bytes())
        cached = (where / MANIFEST).read_bytes()
        if isinstance(doc, dict) and doc.get("url") == url:
            validators = {k: str(v) for k, v in doc.items() if k in ("etag", "last-modified")}
    headers = {"Accept": "application/json"}
    if cached is not None:
        if "etag" in validators:
            headers["If-None-Match"] = validators["etag"]
        if "last-modified" in validators:
            headers["If-Modified-Since"] = validators["last-modified"]
    manifest_url = f"{url}/{MANIFEST}"
    with fetcher.open(manifest_url, headers) as answer:
        if answer.status == 304 and cached is not None:
            return parse_manifest(url, cached, manifest_url), cached
        try:
            data = answer.body.read()
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise FetchError(manifest_url, f"the answer was cut off ({exc or type(exc).__name__})") from None
        fresh = {k: answer.headers[k] for k in ("etag", "last-modified") if k in answer.headers}
    manifest = parse_manifest(url, data, manifest_url)
    if not store.read_only:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a download
            where.mkdir(parents=True, exist_ok=True)
            write_atomic(where / MANIFEST, data)
            write_atomic(where / "validators.json", json.dumps({"url": url, **fresh}).encode())
    return manifest, data


# -- substitution ------------------------------------------------------------------------------------


def _bypass(store: Store, entry: RemoteEntry) -> str:
    """The hint of a refused entry: tell the publisher, and the real way out of this upstream
    (``forge store remove-upstream URL``, or unsetting ``FORGE_UPSTREAM``: :func:`.upstream.bypass`)."""
    from .upstream import bypass

    way = bypass(store, entry.root)
    return f"tell the publisher of {entry.root}; meanwhile {way} installs from the indexes"


def _corrupt(store: Store, entry: RemoteEntry, why: str) -> UpstreamEntryCorrupt:
    return UpstreamEntryCorrupt(
        f"upstream entry {entry.row.name}-{entry.row.version} from {entry.path} {why}; nothing was published",
        hint=_bypass(store, entry),
    )


def _download(store: Store, entry: RemoteEntry, fetcher: Fetcher, dest: Path) -> None:
    """Stream the archive into ``dest`` while hashing it; its size and sha256 must be the manifest's."""
    want = entry.archive
    sha = hashlib.sha256()
    got = 0
    try:
        with fetcher.open(entry.path, {}) as answer, open(dest, "xb") as out:
            if answer.status != 200:
                raise _corrupt(store, entry, f"was answered with HTTP {answer.status}")
            while True:
                try:
                    chunk = answer.body.read(_CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as exc:  # the network's fault
                    raise _corrupt(store, entry, f"was cut off ({exc or type(exc).__name__})") from None
                if not chunk:
                    break
                got += len(chunk)
                if got > want.size:
                    raise _corrupt(store, entry, f"is longer than the {want.size} bytes its manifest says")
                sha.update(chunk)
                out.write(chunk)
    except FetchError as exc:
        from .upstream import bypass

        raise UpstreamEntryCorrupt(
            f"upstream entry {entry.row.name}-{entry.row.version} could not be fetched ({exc}); nothing"
            " was published",
            hint=f"check that {entry.root} is reachable, or {bypass(store, entry.root)} to install from the"
            " indexes",
        ) from None
    if got != want.size:
        raise _corrupt(store, entry, f"has {got} bytes; its manifest says {want.size}")
    if sha.hexdigest() != want.sha256:
        raise _corrupt(store, entry, f"has sha256 {sha.hexdigest()}; its manifest says {want.sha256}")


def _finish(store: Store, entry: RemoteEntry, tree: Path) -> EntryRow:
    """Check an extracted tree against the entry's RECORD and compute what the store derives
    from files (the manifest's word is taken only for what the files cannot say: entry points,
    dependencies, tags); returns the local row, ``dir`` still to be chosen."""
    from . import abi, elf, ingest
    from .upstream import check_tree

    row = entry.row
    problems = check_tree(tree, row.dist_info, row.pyc_tags, (row.name, row.version))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise _corrupt(store, entry, f"does not match its RECORD: {'; '.join(problems[:3])}{more}")
    site = tree / "site"
    ingest.record_bytecode(site, row.dist_info)
    ns, climbs, size, nfiles = ingest.scan_entry(site, row.dist_info)
    meta: dict[str, object] = {
        **row.meta,
        "namespace_dirs": ns,
        "climbs": [dataclasses.asdict(c) for c in climbs],
        "climb_scan": elf.SCAN_VERSION,
        "native": elf.native_record(site),
        "has_data": (tree / "data").is_dir(),
        "has_headers": (tree / "headers").is_dir(),
        "has_scripts": (tree / "scripts").is_dir(),
        abi.META_KEY: abi.scan_meta(tree),
        SUBSTITUTED_KEY: {
            "url": entry.root,
            "generation": entry.generation,
            "archive_sha256": entry.archive.sha256,
            "at": time.time(),
        },
    }
    out = dataclasses.replace(
        row, dir="", size=size, files=nfiles, meta=meta, refcount=0, created=time.time()
    )
    ingest.write_meta(tree, meta)
    return out


def substitute(store: Store, entry: RemoteEntry, fetcher: Fetcher, *, locked: bool = False) -> EntryRow:
    """Fetch, verify and publish an HTTP binary cache's entry into the local store (see the
    module doc) and lease it; a present local entry of that content is leased instead.
    ``locked``: the caller holds the store lock (``doctor --fix``)."""
    from . import faults, recovery
    from .publish import commit_staged
    from .seal import remove_tree, seal_contents
    from .upstream_archive import extract
    from .wheelcheck import Limits, check_stored

    check_stored(store._stored(entry.row))  # names the linker joins to paths (UnsafeWheel)
    store._hold()
    cid = entry.row.id
    lock = f"substitute-{cid}"
    # under the store lock (doctor --fix) no work lock is taken (ingest takes them in the other
    # order) and no intent is recorded: the staging dir is swept by the pid in its name, as repair's
    with contextlib.nullcontext() if locked else store.work_lock(lock):
        row = store.catalog.entry(cid)
        if row is not None and not row.dir.startswith("@") and store._entry_present(row, locked=locked):
            leased = store.catalog.lease_entry(cid, store.holder)  # substituted by whoever held the lock
            if leased is not None:
                return leased
        store.home.tmp.mkdir(parents=True, exist_ok=True)
        staging = store.home.tmp / f"ingest-{os.getpid()}-{uuid.uuid4().hex}"  # swept like an ingest's
        intent = None if locked else recovery.begin(store, "ingest", lock, {"staging": str(staging)})
        try:
            staging.mkdir()
            archive = staging / "archive"
            _download(store, entry, fetcher, archive)
            faults.point("upstream-http-downloaded")
            tree = staging / "entry"
            with open(archive, "rb") as f:
                try:
                    extract(f, tree, Limits.from_environ(), entry.path)
                except UpstreamEntryCorrupt as exc:
                    exc.hint = _bypass(store, entry)
                    raise
            archive.unlink()
            new = _finish(store, entry, tree)
            seal_contents(tree)
            out, _reused = commit_staged(store, tree, new, entry.wheels, intent, locked=locked)
        finally:
            if os.path.lexists(staging):
                remove_tree(staging)
            if intent is not None and store.catalog.intents(lock):
                recovery.abandon(store, intent)
    return out


def remove_cached(store: Store, url: str) -> None:
    """Forget the cached manifest of an upstream that is no longer configured."""
    shutil.rmtree(cache_dir(store, url), ignore_errors=True)
