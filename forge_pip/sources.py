"""The resolver's three views over Forge: the target env's layers, the store, the indexes.

* :class:`EnvLayers` (a ``LayerView``): what the target env already sees, LOCAL first, then its
  parents, then the GLOBAL layer, plus the *unmanaged* dists of an adopted venv (installed there by
  pip or uv before Forge was pointed at it; they count as LOCAL).
* :class:`StoreDists` (a ``StoreView``): entries unpacked in the store, usable without a download
  when one holds the very file an index offers (its sha256 is the entry's wheel-hash alias; for
  an sdist, the wheel built from those bytes), or for ``--prefer-offline`` / ``--offline``.
* :class:`IndexFiles` (an ``IndexView``): the index client's files, plus *direct* sources (local
  wheels, sdists, project directories) registered by the installer. Metadata comes from PEP 658
  when the index serves it, else from the wheel itself (downloaded once and remembered for the
  prepare stage), else from the build backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from forge_pip.index.urls import file_url_to_path, is_file_url
from forge_pip.models import DistFile, TargetPython
from forge_pip.resolve.sources import CoreMetadata, InstalledDist, StoredDist
from forge_store.errors import ForgeError, InvalidWheel
from forge_store.metaheaders import HeaderFields, read_headers
from forge_store.models import Layer
from forge_store.records import record
from forge_store.reqparse import requirement

if TYPE_CHECKING:
    from forge_pip.build import Builder
    from forge_pip.index import IndexClient
    from forge_store.models import EnvInfo, Interpreter, StoredWheel
    from forge_store.store import Store

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")

__all__ = [
    "DirectSource",
    "EmptyLayers",
    "EmptyStore",
    "EnvLayers",
    "IndexFiles",
    "LocalDist",
    "StoreDists",
    "local_dists",
    "target_python",
    "verify_file",
]


def target_python(interp: Interpreter) -> TargetPython:
    """The :class:`TargetPython` of a Forge interpreter: its tags best first and its markers."""
    from forge_store import interpreters

    tags = tuple(Tag(*t.split("-", 2)) for t in interpreters.wheel_tags(interp))
    return TargetPython(version=interp.version, tags=tags, markers=interp.marker_env())


def _requirements(lines: Sequence[str]) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    for line in lines:
        try:
            out.append(requirement(line))
        except InvalidRequirement:
            log.info("skipping unparsable requirement %r", line)
    return tuple(out)


def _read_metadata(dist_info: Path) -> CoreMetadata:
    for name in ("METADATA", "PKG-INFO"):
        try:
            return CoreMetadata.from_bytes((dist_info / name).read_bytes())
        except OSError:
            continue
    return CoreMetadata()


@record(frozen=True, slots=True)
class LocalDist:
    """A dist in an env's own site-packages: linked by Forge (``entry_id``) or unmanaged."""

    name: NormalizedName
    display_name: str
    version: str
    dist_info: Path
    entry_id: str | None
    """None for an unmanaged dist (installed by another tool into an adopted venv)."""
    requested: bool = False

    @property
    def managed(self) -> bool:
        return self.entry_id is not None

    def record_files(self) -> list[Path]:
        """The files an unmanaged dist's RECORD lists (those inside the env), then its dist-info."""
        import csv

        site = self.dist_info.parent
        prefix = site.parents[2]
        out: list[Path] = []
        try:
            text = (self.dist_info / "RECORD").read_text(encoding="utf-8")
        except OSError:
            text = ""
        for row in csv.reader(text.splitlines()):
            if not row or not row[0]:
                continue
            path = (site / row[0]).resolve() if ".." in row[0] else site / row[0]
            if prefix in path.parents and path not in out:
                out.append(path)
        out.append(self.dist_info)
        return out


def _dist_info_name(dist_info: Path) -> tuple[str, str]:
    meta = read_headers(dist_info / "METADATA")
    if meta is None or not meta.items():
        meta = read_headers(dist_info / "PKG-INFO") or HeaderFields([])
    stem = dist_info.name[: -len(".dist-info")]
    name, _, version = stem.partition("-")
    return str(meta.get("Name") or name), str(meta.get("Version") or version)


def local_dists(store: Store, env: EnvInfo) -> dict[str, LocalDist]:
    """Every dist in the env's own site-packages, managed (linked by Forge) or not."""
    managed = {d.name: d for d in store.visible(env.name) if d.layer is Layer.LOCAL}
    out: dict[str, LocalDist] = {}
    site = env.site_packages
    try:
        children = sorted(site.iterdir())
    except OSError:
        children = []
    for child in children:
        if not child.name.endswith(".dist-info") or not child.is_dir():
            continue
        display, version = _dist_info_name(child)
        name = canonicalize_name(display)
        linked = managed.get(name)
        if linked is not None:
            out[name] = LocalDist(name, display, linked.version, child, linked.entry_id, linked.requested)
        elif name not in out:
            out[name] = LocalDist(name, display, version, child, None)
    return out


class EnvLayers:
    """``LayerView`` over a Forge env: its own dists, then parents (nearest first), then GLOBAL.

    ``hide_local`` drops the env's own dists (``--force-reinstall``: pip ignores what is installed).
    """

    def __init__(self, store: Store, env: EnvInfo, *, hide_local: bool = False) -> None:
        self._store = store
        self._env = env
        self._hide_local = hide_local
        self._by_name: dict[NormalizedName, list[InstalledDist]] | None = None

    def _load(self) -> dict[NormalizedName, list[InstalledDist]]:
        out: dict[NormalizedName, list[InstalledDist]] = {}
        locals_ = local_dists(self._store, self._env)
        if not self._hide_local:
            for dist in locals_.values():
                md = _read_metadata(dist.dist_info)
                out.setdefault(dist.name, []).append(
                    InstalledDist(
                        dist.name,
                        Version(dist.version),
                        md.requires_dist,
                        layer="local",
                        requires_python=md.requires_python,
                        provides_extra=md.provides_extra,
                    )
                )
        for linked in self._store.visible(self._env.name):
            if linked.layer is Layer.LOCAL:
                continue
            entry = self._store.entry(linked.entry_id)
            md = _read_metadata(entry.site / entry.dist_info)
            layer = "global" if linked.layer is Layer.GLOBAL else f"parent:{linked.env}"
            name = canonicalize_name(linked.name)
            out.setdefault(name, []).append(
                InstalledDist(
                    name,
                    Version(linked.version),
                    _requirements(entry.requires_dist),
                    layer=layer,
                    requires_python=entry.requires_python,
                    provides_extra=md.provides_extra,
                )
            )
        return out

    def installed(self, name: NormalizedName) -> list[InstalledDist]:
        if self._by_name is None:
            self._by_name = self._load()
        return list(self._by_name.get(name, ()))


class EmptyLayers:
    """``LayerView`` of nothing (``download``/``wheel`` ignore what is installed, as pip does)."""

    def installed(self, name: NormalizedName) -> list[InstalledDist]:
        return []


class EmptyStore:
    """``StoreView`` of nothing."""

    def stored(self, name: NormalizedName) -> list[StoredDist]:
        return []

    def holding(self, file: DistFile) -> StoredDist | None:
        return None


def _readable(entry: StoredWheel) -> tuple[Version, frozenset[Tag]] | None:
    """The entry's version and tags, None if either is unreadable (the resolver skips such an entry)."""
    try:
        version = Version(entry.version)
        tags: set[Tag] = set()
        for text in entry.tags:
            tags.update(parse_tag(text))
    except (InvalidVersion, ValueError):
        return None
    return version, frozenset(tags)


def _names_the_file(file: DistFile, name: str, version: Version) -> bool:
    """Whether ``file`` (by its name) is this project and version; a file name that does not
    parse names nothing."""
    try:
        return (canonicalize_name(name), version) == (file.name, file.version)
    except ValueError:
        return False


def stored_dist(entry: StoredWheel) -> StoredDist | None:
    """The resolver's view of one store entry (None if its version or tags are unreadable)."""
    readable = _readable(entry)
    if readable is None:
        return None
    version, tags = readable
    md = _read_metadata(entry.site / entry.dist_info)
    return StoredDist(
        name=canonicalize_name(entry.name),
        version=version,
        tags=tags,
        requires=_requirements(entry.requires_dist),
        requires_python=entry.requires_python,
        entry_id=entry.id,
        provides_extra=md.provides_extra,
        file_hashes={"sha256": entry.wheel_sha256},
    )


class StoreDists:
    """``StoreView`` over Forge's store.

    ``built_wheel`` maps an sdist's sha256 and project name to the wheel built from it (the build
    cache, keyed by the sdist's bytes and the project's config settings), so an entry built from an
    sdist the index offers is found again.
    """

    def __init__(
        self, store: Store, *, built_wheel: Callable[[str, NormalizedName], Path | None] | None = None
    ) -> None:
        self._store = store
        self._built_wheel = built_wheel

    def stored(self, name: NormalizedName) -> list[StoredDist]:
        out = []
        for entry in self._store.entries(name):
            dist = stored_dist(entry)
            if dist is not None:
                out.append(dist)
        return out

    def stored_ids(self, name: NormalizedName) -> list[tuple[str, str]]:
        """(id, wheel sha256) of each entry :meth:`stored` describes, in its order, without reading
        their metadata: what the resolution memo compares (an entry's id names its content; the
        wheel's digest is the one file hash :meth:`stored` states that the id does not cover)."""
        return [(entry.id, entry.wheel_sha256) for entry in self._store.entries(name)]

    def _sha256(self, file: DistFile) -> str | None:
        """The file's sha256: the index's word, or computed for a local file (remembered by stat)."""
        stated = {k.lower(): v for k, v in file.hashes.items()}.get("sha256")
        if stated:
            # an index's text: it becomes a catalog key and a cache path, so only hex gets through
            return stated.lower() if _SHA256.fullmatch(stated.lower()) else None
        if is_file_url(file.url):
            path = file_url_to_path(file.url)
            if path.is_file():
                return self._store.wheel_sha256(path)
        return None

    def _held(self, file: DistFile) -> tuple[str, StoredWheel] | None:
        """(the file's sha256, the entry unpacked from it or from the wheel built from it)."""
        sha = self._sha256(file)
        if sha is None:
            return None
        if file.is_wheel:
            entry = self._store.entry_for_wheel_sha256(sha)
        else:
            built = self._built_wheel(sha, file.name) if self._built_wheel is not None else None
            entry = self._store.entry_for_wheel_sha256(self._store.wheel_sha256(built)) if built else None
        return (sha, entry) if entry is not None else None

    def holding(self, file: DistFile) -> StoredDist | None:
        held = self._held(file)
        dist = stored_dist(held[1]) if held is not None else None
        if held is None or dist is None or not _names_the_file(file, dist.name, dist.version):
            return None
        hashes = {k.lower(): v.lower() for k, v in file.hashes.items()}
        hashes["sha256"] = held[0]
        return dataclasses.replace(dist, file_hashes=hashes)

    def holding_id(self, file: DistFile) -> str | None:
        """The ``entry_id`` of what :meth:`holding` gives (None when it gives None), without
        reading the entry's METADATA or parsing its requirements: what the resolution memo
        compares (~1.5 ms an entry, 50 entries in a warm install's memo check)."""
        held = self._held(file)
        readable = _readable(held[1]) if held is not None else None
        if held is None or readable is None or not _names_the_file(file, held[1].name, readable[0]):
            return None
        return held[1].id


@record(frozen=True, slots=True)
class DirectSource:
    """A local project directory (or sdist) the user named; ``file`` is its synthetic DistFile."""

    path: Path
    file: DistFile
    editable: bool = False
    direct_url: str | None = None
    """The PEP 610 record to write when it is not the plain one of ``path`` (a VCS build's)."""


def verify_file(file: DistFile, path: Path, wanted: dict[str, frozenset[str]] | None = None) -> str:
    """Check ``path`` against the digests the index (and ``--hash``) gave; return its sha256."""
    from forge_pip.index.download import known_digests, remember_digests

    algos = {"sha256", *(a.lower() for a in file.hashes), *(wanted or {})}
    usable = {a for a in algos if a in hashlib.algorithms_available}
    digests = known_digests(path)  # hashed as it was downloaded (or checked) here: not read again
    if not usable <= digests.keys():
        from forge_store import timeline

        hashers = {a: hashlib.new(a) for a in usable}
        with timeline.span("verify", path.name), path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                for hasher in hashers.values():
                    hasher.update(chunk)
        digests = {a: h.hexdigest() for a, h in hashers.items()}
        remember_digests(path, digests)
    for algo, expected in file.hashes.items():
        found = digests.get(algo.lower())
        if found is not None and found != expected.lower():
            from forge_pip.index.errors import HashMismatch

            raise HashMismatch(file.filename, algo, expected.lower(), found, url=file.url)
    if wanted:
        ok = any(digests[a] in wanted_digests for a, wanted_digests in wanted.items() if a in digests)
        if not ok:
            from forge_pip.index.errors import RequirementHashMismatch

            got = {a: digests[a] for a in wanted if a in digests}
            raise RequirementHashMismatch(
                file.filename, file.url, {a: sorted(d) for a, d in wanted.items()}, got
            )
    return digests["sha256"]


class IndexFiles:
    """``IndexView`` over an :class:`IndexClient` plus direct sources; remembers fetched files.

    ``fetched`` maps a DistFile to a verified local path (a ``file://`` file is used in place, a
    remote one is downloaded into ``download_dir``), so the prepare stage does not fetch it twice.
    """

    def __init__(
        self,
        client: IndexClient | None,
        *,
        download_dir: Path,
        builder: Builder | None,
    ) -> None:
        self._client = client
        self._download_dir = download_dir
        self._builder = builder
        self._lock = threading.Lock()
        self.fetched: dict[DistFile, Path] = {}
        self.metadata_of: dict[DistFile, CoreMetadata] = {}
        self.direct: dict[str, DirectSource] = {}
        self.config_settings: dict[NormalizedName, Mapping[str, str | list[str]]] = {}
        """``--config-settings`` per project (pip: the requirements the user named), for its builds."""
        self.on_local: Callable[[DistFile, Path, str], None] | None = None
        """Told of each index file made local and verified here (file, path, sha256): the early
        ingest (:mod:`forge_pip.early`) starts unpacking it while resolution goes on."""

    def add_direct(self, source: DirectSource) -> None:
        self.direct[source.file.url] = source

    def files(self, name: NormalizedName) -> Sequence[DistFile]:
        if self._client is None:
            return []
        # The same file is often on a remote index and on a local mirror or find-links directory:
        # local first, so that the finder's stable sort picks the copy that needs no download.
        # (A lazy sequence: the finder builds a DistFile only for the rows it does not reject.)
        return self._client.project_table(name).local_first()

    def fingerprint(self, name: NormalizedName) -> str:
        """``files(name).fingerprint()``, without decoding what need not be (a resolution memo's check)."""
        return self._client.project_fingerprint(name) if self._client is not None else "empty"

    def prefetch_fingerprints(self, names: Sequence[NormalizedName]) -> None:
        """Revalidate the index pages of ``names`` in the background, for :meth:`fingerprint`."""
        if self._client is not None:
            self._client.prefetch_fingerprints(names)

    def prefetch(self, names: Sequence[NormalizedName]) -> None:
        """Read the index pages of ``names`` in the background (see ``IndexClient.prefetch``)."""
        if self._client is not None:
            self._client.prefetch(names)

    def remember_metadata(self, file: DistFile, metadata: CoreMetadata) -> None:
        """Know ``file``'s metadata without reading it (a resolution memo recorded it)."""
        self.metadata_of.setdefault(file, metadata)

    def local_path(self, file: DistFile) -> Path:
        """A verified local copy of ``file`` (``file://`` files are verified and used in place)."""
        with self._lock:
            known = self.fetched.get(file)
        if known is not None:
            return known
        direct = self.direct.get(file.url)
        if direct is not None:
            return direct.path
        if is_file_url(file.url):
            path = file_url_to_path(file.url)
            if not path.exists():
                from forge_store.errors import NotFoundError

                raise NotFoundError(f"{file.filename} does not exist at {path}")
            if path.is_file():
                verify_file(file, path)
        else:
            if self._client is None:
                raise ForgeError(f"cannot fetch {file.filename}: no index client")
            path = self._client.download(file, self._download_dir)
        with self._lock:
            self.fetched[file] = path
        if self.on_local is not None and path.is_file():
            from forge_pip.index.download import known_digests

            sha256 = known_digests(path).get("sha256")  # as verified just now
            if sha256 is not None:
                self.on_local(file, path, sha256)
        return path

    def metadata(self, file: DistFile) -> CoreMetadata:
        known = self.metadata_of.get(file)
        if known is not None:
            return known
        data: bytes | None = None
        client = self._client if file.url not in self.direct else None
        if client is not None:
            data = client.fetch_metadata(file)
            if data is None:  # read from this very file (by sha256) by an earlier run
                data = client.cached_wheel_metadata(file)
        if data is None:
            path = self.local_path(file)
            if file.is_wheel:
                data = wheel_metadata(path)
                if client is not None:  # local_path verified the file against its sha256
                    client.keep_wheel_metadata(file, data)
            else:
                if self._builder is None:
                    raise ForgeError(f"{file.filename} is a source distribution and builds are disabled")
                data = self._builder.prepare_metadata(path, self.config_settings.get(file.name))
        md = CoreMetadata.from_bytes(data)
        self.metadata_of[file] = md
        return md


def wheel_metadata(path: Path) -> bytes:
    """The METADATA file of a wheel on disk."""
    import zipfile  # only for wheels named by path (a warm or offline install reads none)

    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if not names:
                raise InvalidWheel(f"{path.name} has no .dist-info/METADATA")
            from forge_store.wheelcheck import read_member

            return read_member(zf, names[0], path.name)  # size-capped: a METADATA bomb is refused
    except InvalidWheel:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidWheel(f"{path.name} is not a valid wheel: {exc}") from None


def iter_requirements(lines: Sequence[str]) -> Iterator[Requirement]:
    yield from _requirements(lines)
