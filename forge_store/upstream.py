"""Upstream stores: read-only lower stores that other nodes publish, consulted after the local store.

Usage::

    store = Store()
    upstream.add(store, Path("/cvmfs/team.example/forge"))   # or FORGE_UPSTREAM=/a:/b
    entry = store.entry_for_wheel_sha256(sha)                 # local store first, then upstreams

An upstream in directory form (NFS, CVMFS, Lustre, a read-only bind mount) is the layout
:mod:`.upstream_publish` writes::

    DEST/forge-upstream.json      the manifest: {"format": "forge-upstream", "version": 1,
                                  "generation": N, "entries": {CONTENT_ID: {...}}}
    DEST/entries/<id16>/          one unpacked, read-only entry per content id (site/, data/, ...)

Forge never writes, locks or opens SQLite below an upstream: it reads the manifest (replaced
atomically by the publisher, so a reader sees one generation or the next, never half of one) and
the entry trees. Every write, lock and catalog row stays in the local ``FORGE_HOME``: an entry an
env links from an upstream gets a local catalog row whose ``dir`` is ``@upstream-<id>`` and whose
``meta["upstream"]`` names its origin (upstream root, entry dir, manifest generation), so gc never
deletes it, doctor knows where it lives and the linker links straight into it (zero bytes in the
local store). Its files are checked against its RECORD once per node and generation: when the
row is written (:func:`adopt`), again only when the manifest's generation moved on.

An upstream in HTTP(S) form (any static web server, object store or CDN serving that layout plus
``archives/<id>.tar.gz``) is handled by :mod:`.upstream_http`: its entries (``RemoteEntry``) are
candidates like a directory's, and :func:`adopt` substitutes them (fetched, verified, published
as local entries) instead of recording them in place.

An upstream entry serves a request exactly as a local one does (the store is a cache of the same
artifact): when its wheel sha256 is the file the sources offer, when the user names that file,
or under ``--offline`` / ``--prefer-offline``. A missing or unreadable upstream degrades to the
local store and the indexes, with one warning per process.

Order: ``FORGE_UPSTREAM`` (``os.pathsep``-separated, in order of preference) comes first, then the
list in ``FORGE_HOME/config.json`` (``forge store add-upstream``); a path in both counts once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from .catalog import EntryRow
from .errors import ForgeError, UpstreamEntryCorrupt, UpstreamInvalid
from .upstream_names import ENV_VAR
from .upstream_names import UPSTREAMS_KEY as CONFIG_KEY

if TYPE_CHECKING:
    from .models import StoredWheel
    from .store import Store
    from .upstream_http import Fetcher, RemoteEntry, RemoteManifest

log = logging.getLogger(__name__)

MANIFEST = "forge-upstream.json"
FORMAT = "forge-upstream"
MANIFEST_VERSION = 1
ENTRIES = "entries"
DIR_PREFIX = "@upstream-"  # the catalog ``dir`` of an entry that lives in an upstream
ORIGIN_KEY = "upstream"  # its ``meta`` key: {"root", "dir", "generation"}

_ID = re.compile(r"^[0-9a-f]{64}$")
_DIR = re.compile(r"^entries/([0-9a-f]{16,64})$")
_PORT = re.compile(r"^[0-9]+(/.*)?$")
_WARNED: set[str] = set()  # one warning per upstream and process


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning("%s", message)


# -- where upstreams are configured -------------------------------------------------------------------


@record(frozen=True, slots=True)
class Source:
    """One configured upstream: its location and where it was configured (``env`` or ``config``)."""

    location: str
    origin: str

    @property
    def is_url(self) -> bool:
        return "://" in self.location


def _without_name(item: str) -> str:
    """The location of a ``FORGE_UPSTREAM`` item, without its ``NAME=`` (:mod:`.upstream_names`)."""
    from .upstream_names import split_item

    return split_item(item)[1]


def split_env(value: str) -> list[str]:
    """``FORGE_UPSTREAM`` split on ``os.pathsep``; ``https://host:8080/x`` (or
    ``name=https://host:8080/x``) stays one item (the ``:`` of its scheme and of its port)."""
    out: list[str] = []
    for part in value.split(os.pathsep):
        prev = _without_name(out[-1]) if out else ""
        if (out and part.startswith("//") and prev in ("http", "https", "file")) or (
            out
            and (
                (_PORT.match(part) and re.match(r"^https?://([^/:]+|\[[^/]*\])$", prev))
                or ("://" in prev and prev.count("[") > prev.count("]"))  # inside [::1]
            )
        ):
            out[-1] = f"{out[-1]}:{part}"
        elif part:
            out.append(part)
    return out


def _normalise(location: str) -> str:
    if "://" in location:
        return location.rstrip("/")
    return os.path.normpath(os.path.abspath(os.path.expanduser(location)))


def configured(store: Store) -> list[str]:
    """The upstreams recorded in ``config.json`` (``forge store add-upstream``), in order."""
    from .settings import read_document

    raw = read_document(store).get(CONFIG_KEY)
    if not isinstance(raw, list):
        return []
    return [str(v) for v in raw if isinstance(v, str) and v]


def sources(store: Store, environ: Mapping[str, str] | None = None) -> list[Source]:
    """Every upstream in order of preference: ``FORGE_UPSTREAM`` first, then the configured list
    (a ``NAME=PATH`` item of ``FORGE_UPSTREAM`` names it: :mod:`.upstream_names`)."""
    from .upstream_names import split_item

    env = os.environ if environ is None else environ
    out: list[Source] = []
    seen: set[str] = set()
    for origin, items in (("env", split_env(env.get(ENV_VAR, ""))), ("config", configured(store))):
        for item in items:
            location = _normalise(split_item(item)[1])
            if location not in seen:
                seen.add(location)
                out.append(Source(location, origin))
    return out


def bypass(store: Store, location: str) -> str:
    """How to stop using an upstream, for hints: ``forge store remove-upstream LOCATION`` for one
    ``add-upstream`` configured, unsetting (or editing) ``FORGE_UPSTREAM`` for one set there; both
    when it is in both (the variable alone, or the config alone, would still leave it in use)."""
    from .upstream_names import split_item

    where = _normalise(location)
    try:
        in_config = where in {_normalise(v) for v in configured(store)}
    except ForgeError:  # an unreadable config.json: name both ways out
        in_config = True
    env = os.environ.get(ENV_VAR, "")
    in_env = where in {_normalise(split_item(i)[1]) for i in split_env(env)}
    ways: list[str] = []
    if in_config or not in_env:
        ways.append(f"`forge store remove-upstream {where}`")
    if in_env:
        ways.append(f"unset {ENV_VAR}" if len(split_env(env)) == 1 else f"drop {where} from {ENV_VAR}")
    return " and ".join(ways)


def _probe_url(store: Store, url: str) -> RemoteManifest | None:
    """An HTTP binary cache's manifest for ``add``: None when the server answers 404 (nothing
    published there yet); ``UpstreamInvalid`` when it cannot be reached or read."""
    from .upstream_http import FetchError, check_url, fetch_manifest

    url = check_url(url)
    try:
        return fetch_manifest(store, url, store.upstreams.fetcher)
    except FetchError as exc:
        if exc.status == 404:
            return None
        raise UpstreamInvalid(
            f"{url} is not reachable ({exc.why})",
            hint="check the URL (the one under which forge-upstream.json is served) and the server",
        ) from None


def add(store: Store, location: str) -> tuple[list[str], Manifest | RemoteManifest | None]:
    """Record an upstream directory or HTTP(S) binary cache (last in order); returns the list
    and its manifest (None while nothing is published there yet). A path that is no directory, a
    URL that cannot be reached, or a manifest this Forge cannot read is refused and nothing is
    changed."""
    from .settings import read_document, write_document

    path = _normalise(location)
    manifest: Manifest | RemoteManifest | None
    if "://" in path:
        manifest = _probe_url(store, path)
    elif not os.path.isdir(path):
        raise UpstreamInvalid(
            f"{path} is not a directory",
            hint="give the directory `forge store publish` wrote (it holds forge-upstream.json)",
        )
    else:
        manifest = read_manifest(Path(path)) if os.path.exists(os.path.join(path, MANIFEST)) else None
    with store.config_lock():
        doc = read_document(store)
        items = [_normalise(v) for v in configured(store)]
        if path not in items:
            items.append(path)
            write_document(store, {**doc, CONFIG_KEY: items})
    return items, manifest


def remove(store: Store, location: str) -> list[str]:
    """Forget a configured upstream (``UpstreamInvalid`` when it is not configured). Envs that link
    its entries keep their links; ``forge doctor`` reports them once it is gone."""
    from .settings import read_document, write_document

    path = _normalise(location)
    with store.config_lock():
        doc = read_document(store)
        items = [_normalise(v) for v in configured(store)]
        if path not in items:
            listed = ", ".join(items) or "none"
            raise UpstreamInvalid(
                f"{path} is not a configured upstream (configured: {listed})",
                hint=f"one set with {ENV_VAR} is removed by unsetting that variable",
            )
        items.remove(path)
        write_document(store, {**doc, CONFIG_KEY: items})
    return items


# -- the manifest -------------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class UpstreamEntry:
    """One entry an upstream's manifest lists, as the local catalog would hold it."""

    root: Path
    generation: int
    row: EntryRow  # ``dir`` is ``@upstream-<id>``, ``meta["upstream"]`` its origin
    wheels: tuple[tuple[str, str], ...]  # (wheel sha256, file name) known to hold this content

    @property
    def path(self) -> Path:
        origin = origin_of(self.row)
        assert origin is not None
        return origin.path


@record(frozen=True, slots=True)
class Manifest:
    root: Path
    generation: int
    entries: dict[str, UpstreamEntry]
    by_wheel: dict[str, str]  # wheel sha256 -> content id

    def named(self, name: str) -> list[UpstreamEntry]:
        return [e for e in self.entries.values() if e.row.name == name]


@record(frozen=True, slots=True)
class Origin:
    """Where an upstream entry of the local catalog lives."""

    root: str
    dir: str  # relative to root: entries/<id16>
    generation: int  # the manifest generation its files were checked against

    @property
    def path(self) -> Path:
        return Path(self.root) / self.dir


def origin_of(row: EntryRow) -> Origin | None:
    """The origin of an entry that lives in an upstream (None: a local entry)."""
    raw = row.meta.get(ORIGIN_KEY)
    if not isinstance(raw, dict):
        return None
    root, rel, gen = raw.get("root"), raw.get("dir"), raw.get("generation")
    if not (isinstance(root, str) and isinstance(rel, str) and _DIR.match(rel) and isinstance(gen, int)):
        return None
    return Origin(root, rel, gen)


def _str_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return tuple(value)


def _entry(root: Path, generation: int, cid: str, raw: object) -> UpstreamEntry:
    """One manifest entry, checked field by field (a manifest is input, not our own state)."""
    if not _ID.match(cid) or not isinstance(raw, dict):
        raise ValueError("bad entry id or record")
    rel = raw.get("dir")
    m = _DIR.match(rel) if isinstance(rel, str) else None
    if m is None or not cid.startswith(m.group(1)):
        raise ValueError(f"bad entry dir {rel!r}")
    meta = raw.get("meta")
    if not isinstance(meta, dict):
        raise ValueError("no meta")
    wheels: list[tuple[str, str]] = []
    for item in raw.get("wheels") or []:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise ValueError("bad wheels")
        if not _ID.match(item[0]) or "/" in item[1] or "\0" in item[1]:
            raise ValueError("bad wheel alias")
        wheels.append((item[0], item[1]))
    values = {k: raw.get(k) for k in ("name", "version", "dist_info", "wheel_sha256")}
    if not all(isinstance(v, str) and v for v in values.values()):
        raise ValueError("missing name, version, dist_info or wheel_sha256")
    rp = raw.get("requires_python")
    size, files, created = raw.get("size"), raw.get("files"), raw.get("published", 0.0)
    if not (isinstance(size, int) and isinstance(files, int) and isinstance(created, int | float)):
        raise ValueError("bad size, files or published")
    if rp is not None and not isinstance(rp, str):
        raise ValueError("bad requires_python")
    origin = {"root": str(root), "dir": rel, "generation": generation}
    row = EntryRow(
        id=cid,
        dir=DIR_PREFIX + cid,
        name=str(values["name"]),
        version=str(values["version"]),
        dist_info=str(values["dist_info"]),
        tags=_str_list(raw.get("tags")),
        requires_python=rp,
        wheel_sha256=str(values["wheel_sha256"]),
        size=size,
        files=files,
        pyc_tags=_str_list(raw.get("pyc_tags")),
        meta={**meta, ORIGIN_KEY: origin},
        refcount=0,
        created=float(created),
    )
    return UpstreamEntry(root, generation, row, tuple(wheels))


def read_manifest(root: Path) -> Manifest:
    """Parse an upstream's manifest. ``OSError`` when it cannot be read (gone, unmounted, a stale
    NFS handle); ``UpstreamInvalid`` when it is no manifest this Forge understands. Entries that do
    not parse are left out, with a warning."""
    path = root / MANIFEST
    with open(path, "rb") as f:
        data = f.read()
    generation, raw_entries = parse_document(data, str(path))
    entries: dict[str, UpstreamEntry] = {}
    by_wheel: dict[str, str] = {}
    for cid, raw in raw_entries.items():
        try:
            entry = _entry(root, generation, str(cid), raw)
        except (ValueError, TypeError) as exc:
            _warn_once(f"{root}:{cid}", f"upstream {root}: ignoring manifest entry {str(cid)[:16]}: {exc}")
            continue
        entries[entry.row.id] = entry
        for sha, _name in (*entry.wheels, (entry.row.wheel_sha256, "")):
            by_wheel.setdefault(sha, entry.row.id)
    return Manifest(root, generation, entries, by_wheel)


def parse_document(data: bytes, path: str) -> tuple[int, dict[str, object]]:
    """A manifest's generation and raw entry records (``UpstreamInvalid``: not a manifest this
    Forge reads); shared by the directory and the HTTP form."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise UpstreamInvalid(f"{path} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UpstreamInvalid(f"{path} is not a Forge upstream manifest")
    version, generation = doc.get("version"), doc.get("generation")
    if version != MANIFEST_VERSION:
        raise UpstreamInvalid(
            f"{path} has manifest version {version!r}; this Forge reads version {MANIFEST_VERSION}",
            hint="upgrade forge-runtime, or publish with this Forge's version",
        )
    if not isinstance(generation, int) or generation < 0:
        raise UpstreamInvalid(f"{path} has no valid generation")
    raw_entries = doc.get("entries")
    if not isinstance(raw_entries, dict):
        raise UpstreamInvalid(f"{path} has no entries map")
    return generation, {str(k): v for k, v in raw_entries.items()}


# -- lookups ------------------------------------------------------------------------------------------


class Upstreams:
    """The upstreams one :class:`~forge_store.store.Store` consults (manifests read once per Store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._manifests: list[Manifest | RemoteManifest] | None = None
        self._checked: dict[tuple[str, int, str], tuple[str, ...]] = {}
        self._fetcher: Fetcher | None = None

    @property
    def fetcher(self) -> Fetcher:
        """How HTTP(S) binary caches are read (:mod:`.upstream_http`; a front end may set its own)."""
        if self._fetcher is None:
            from .upstream_http import UrllibFetcher

            self._fetcher = UrllibFetcher()
        return self._fetcher

    @fetcher.setter
    def fetcher(self, value: Fetcher) -> None:
        self._fetcher = value

    def _remote(self, url: str) -> RemoteManifest | None:
        from .upstream_http import FetchError, check_url, fetch_manifest

        try:
            return fetch_manifest(self.store, check_url(url), self.fetcher)
        except FetchError as exc:
            _warn_once(
                url, f"upstream {url} is not available ({exc.why}); using the local store and the indexes"
            )
        except UpstreamInvalid as exc:
            _warn_once(url, f"{exc.message}; using the local store and the indexes")
        return None

    def manifests(self) -> list[Manifest | RemoteManifest]:
        """The readable manifests, in order; an upstream that cannot be used is skipped with one
        warning (the local store and the indexes serve instead)."""
        if self._manifests is not None:
            return self._manifests
        out: list[Manifest | RemoteManifest] = []
        try:
            items = sources(self.store)
        except ForgeError as exc:  # an unreadable config.json: say so once, use none
            _warn_once("config", f"upstreams: {exc.message}")
            items = []
        for src in items:
            if src.is_url:
                remote = self._remote(src.location)
                if remote is not None:
                    out.append(remote)
                continue
            root = Path(src.location)
            try:
                out.append(read_manifest(root))
            except OSError as exc:
                why = os.strerror(exc.errno) if exc.errno else str(exc)
                _warn_once(
                    src.location,
                    f"upstream {root} is not available ({why}); using the local store and the indexes",
                )
            except UpstreamInvalid as exc:
                _warn_once(src.location, f"{exc.message}; using the local store and the indexes")
        self._manifests = out
        return out

    def usable(self, entry: UpstreamEntry | RemoteEntry) -> StoredWheel | None:
        """The entry as the resolver and linker see it, or None when it cannot serve (its
        directory is gone, or its names would be unsafe paths). An HTTP binary cache's entry is
        a candidate: it is fetched and checked when it is adopted."""
        from . import wheelcheck

        if isinstance(entry, UpstreamEntry) and not entry.path.is_dir():
            return None
        try:
            stored = self.store._stored(entry.row)
            wheelcheck.check_stored(stored)
        except (ForgeError, ValueError, TypeError, AssertionError) as exc:
            reason = getattr(exc, "message", exc)
            _warn_once(
                f"{entry.root}:{entry.row.id}",
                f"upstream {entry.root}: ignoring {entry.row.id[:16]}: {reason}",
            )
            return None
        return stored

    def _first(
        self, entries: Sequence[UpstreamEntry | RemoteEntry | None], verified: bool
    ) -> UpstreamEntry | RemoteEntry | None:
        for entry in entries:
            if (
                entry is not None
                and self.usable(entry) is not None
                and (not verified or self.verified(entry))
            ):
                return entry
        return None

    def by_wheel(self, sha256: str, *, verified: bool = False) -> UpstreamEntry | RemoteEntry | None:
        """The first upstream's entry unpacked from the wheel with this sha256 (``verified``: the
        first whose files also match its RECORD: a corrupt one lets the next upstream serve)."""
        found = [m.entries.get(m.by_wheel.get(sha256, "")) for m in self.manifests()]
        return self._first(found, verified)

    def by_id(self, entry_id: str, *, verified: bool = False) -> UpstreamEntry | RemoteEntry | None:
        """The first upstream's entry with this content id (``verified``: as for :meth:`by_wheel`)."""
        return self._first([m.entries.get(entry_id) for m in self.manifests()], verified)

    def named(self, name: str, *, verified: bool = False) -> list[UpstreamEntry | RemoteEntry]:
        """Entries of one project across upstreams (the first upstream wins for one content id;
        ``verified``: the first whose files match its RECORD)."""
        out: dict[str, UpstreamEntry | RemoteEntry] = {}
        for manifest in self.manifests():
            entries: list[UpstreamEntry | RemoteEntry] = list(manifest.named(name))
            for entry in entries:
                if entry.row.id not in out and self._first([entry], verified) is not None:
                    out[entry.row.id] = entry
        return list(out.values())

    def generation(self, root: str) -> int | None:
        """The current manifest generation of a (readable) upstream."""
        return next((m.generation for m in self.manifests() if str(m.root) == root), None)

    def check(self, entry: UpstreamEntry) -> tuple[str, ...]:
        """Problems of the entry's files against its RECORD (empty: it is what it says); hashed once
        per process and (upstream, generation, entry id)."""
        key = (str(entry.root), entry.generation, entry.row.id)
        found = self._checked.get(key)
        if found is None:
            row = entry.row
            found = tuple(check_tree(entry.path, row.dist_info, row.pyc_tags, (row.name, row.version)))
            self._checked[key] = found
        return found

    def verified(self, entry: UpstreamEntry | RemoteEntry) -> bool:
        """Whether the entry may serve: checked against its RECORD on this node already (a local
        row with this origin and generation), or now (once per process); a corrupt one is
        skipped with one warning, so the local store and the indexes serve instead. An HTTP
        binary cache's entry is checked when it is fetched (:func:`adopt`)."""
        if not isinstance(entry, UpstreamEntry):
            return True
        row = self.store.catalog.entry(entry.row.id) if self.store.home.catalog.is_file() else None
        origin = origin_of(row) if row is not None else None
        if origin is not None and (origin.root, origin.generation) == (str(entry.root), entry.generation):
            return True
        problems = self.check(entry)
        if problems:
            _warn_once(
                f"corrupt:{entry.root}:{entry.row.id}",
                f"upstream entry {entry.row.name}-{entry.row.version} at {entry.path} does not match its"
                f" RECORD ({'; '.join(problems[:3])}); not using it",
            )
        return not problems


def check_tree(
    path: Path, dist_info: str, pyc_tags: Sequence[str], identity: tuple[str, str] | None = None
) -> list[str]:
    """Every file of an entry tree that differs from its RECORD, is missing or was added (a
    symlink or device anywhere counts as changed or added, the entry dir and its parts must be
    real directories: nothing may lead out of the entry). ``identity``: (name, version) that its
    METADATA must state (a manifest's claim is checked against the files it describes)."""
    import stat as stat_mod

    from . import interpreters
    from .verify import verify_entry

    for part in (path, *(path / p for p in ("site", "data", "headers", "scripts"))):
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            if part == path:
                return ["the entry directory is missing"]
            continue  # an entry without data/, headers/ or scripts/
        except OSError as exc:
            return [f"cannot be read ({os.strerror(exc.errno) if exc.errno else exc})"]
        if not stat_mod.S_ISDIR(st.st_mode):
            return [f"{part.relative_to(path.parent)} is not a directory"]
    try:
        problems, _hashed = verify_entry(path, dist_info, pyc_tags, interpreters.current().cache_tag)
        if identity is not None and not problems:
            from .wheelcheck import parse_metadata

            raw = (path / "site" / dist_info / "METADATA").read_bytes()
            parse_metadata(raw, str(path), dist_info, *identity)
    except OSError as exc:
        return [f"cannot be read ({os.strerror(exc.errno) if exc.errno else exc})"]
    except ForgeError as exc:
        return [exc.message]
    return [f"{p.path} {p.problem}" for p in problems]


def is_current(store: Store, row: EntryRow) -> bool:
    """Whether an upstream row of the local catalog was checked against its upstream's current
    manifest generation (an unreadable upstream: it is not)."""
    origin = origin_of(row)
    return origin is not None and store.upstreams.generation(origin.root) == origin.generation


def adopt(store: Store, entry: UpstreamEntry | RemoteEntry, *, locked: bool = False) -> EntryRow:
    """Record an upstream entry in the local catalog (checked against its RECORD first) and lease
    it for this operation; returns the row. A local entry of the same content that is present
    wins and is leased instead. ``UpstreamEntryCorrupt`` when the files do not match.
    ``locked``: the caller holds the store lock (``doctor --fix``). An HTTP binary cache's entry
    is substituted: fetched, verified and published as a local entry (:mod:`.upstream_http`)."""
    import contextlib

    if not isinstance(entry, UpstreamEntry):
        from .upstream_http import substitute

        return substitute(store, entry, store.upstreams.fetcher, locked=locked)
    problems = store.upstreams.check(entry)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UpstreamEntryCorrupt(
            f"upstream entry {entry.row.name}-{entry.row.version} at {entry.path} does not match its"
            f" RECORD: {'; '.join(problems[:3])}{more}",
            hint=f"tell the publisher of {entry.root}; meanwhile {bypass(store, str(entry.root))}"
            " installs from the indexes",
        )
    store._hold()
    cat = store.catalog
    cid = entry.row.id
    with contextlib.nullcontext() if locked else store.store_lock():
        row = cat.entry(cid)
        with cat.transaction():
            if row is None:
                cat.insert_entry(entry.row)
            elif origin_of(row) is not None or not (store.home.store / row.dir).is_dir():
                cat.relocate_entry(cid, entry.row.dir, entry.row.pyc_tags, entry.row.meta)
            for sha, filename in entry.wheels:
                cat.add_alias(sha, cid, filename)
            cat.add_lease(cid, store.holder)
        out = cat.entry(cid)
    assert out is not None
    return out


def lease_upstream(store: Store, entry_id: str, row: EntryRow | None) -> EntryRow | None:
    """For :meth:`Store.lease`: an entry the local catalog lacks, or an upstream row whose
    upstream moved on (a new generation: checked again) or went (another upstream may hold it),
    recorded and leased from the upstreams; else ``row`` as it was."""
    if row is not None and store.entry_path(row).is_dir() and is_current(store, row):
        return row
    found = store.upstreams.by_id(entry_id, verified=True) or store.upstreams.by_id(entry_id)
    return row if found is None else adopt(store, found)  # (a corrupt one: adopt says so)


def serve_wheel(
    store: Store, row: EntryRow | None, sha256: str, filename: str, provisional_id: str | None
) -> EntryRow | None:
    """For :meth:`Store.add_wheel` when the local store has no present entry for a wheel file (or
    only an upstream's): the upstream entry unpacked from that very file, or holding its content,
    recorded and leased; None to unpack it locally (none there, or one whose files do not match
    its RECORD: then with a warning)."""
    if row is not None and store.entry_path(row).is_dir() and is_current(store, row):
        return None  # the upstream row the local catalog has is current: the caller leases it
    found = store.upstreams.by_wheel(sha256, verified=True)
    if found is None and provisional_id:
        found = store.upstreams.by_id(provisional_id, verified=True)
    if found is None:
        return None
    try:
        adopted = adopt(store, found)
    except UpstreamEntryCorrupt as exc:
        log.warning("%s; unpacking the wheel into the local store instead", exc.message)
        return None
    with store.catalog.transaction():
        store.catalog.add_alias(sha256, adopted.id, filename)
    return adopted


# -- status (forge store upstreams) ---------------------------------------------------------------------


@record(frozen=True, slots=True)
class Status:
    location: str
    origin: str  # env | config
    available: bool
    generation: int | None
    entries: int
    linked: int  # entries of this upstream that local envs link
    problem: str | None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def status(store: Store) -> list[Status]:
    """Every configured upstream with what it holds and what local envs link from it."""
    linked: dict[str, int] = {}
    if store.home.catalog.is_file():
        for row in store.catalog.all_entries():
            origin = origin_of(row)
            if origin is not None and row.refcount > 0:
                linked[origin.root] = linked.get(origin.root, 0) + 1
    out: list[Status] = []
    for src in sources(store):
        problem: str | None = None
        manifest: Manifest | RemoteManifest | None = None
        if src.is_url:
            from .upstream_http import FetchError, check_url, fetch_manifest

            try:
                manifest = fetch_manifest(store, check_url(src.location), store.upstreams.fetcher)
            except FetchError as exc:
                problem = f"not available ({exc.why})"
            except UpstreamInvalid as exc:
                problem = exc.message
        else:
            try:
                manifest = read_manifest(Path(src.location))
            except FileNotFoundError:
                problem = "not available (no forge-upstream.json: gone, unmounted or never published)"
            except OSError as exc:
                problem = f"not available ({os.strerror(exc.errno) if exc.errno else exc})"
            except UpstreamInvalid as exc:
                problem = exc.message
        out.append(
            Status(
                src.location,
                src.origin,
                manifest is not None,
                manifest.generation if manifest else None,
                len(manifest.entries) if manifest else 0,
                linked.get(src.location, 0),
                problem,
            )
        )
    return out
