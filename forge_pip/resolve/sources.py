"""The resolver's seams: what the env's layers, Forge's store and the indexes offer.

The lead implements the three views over ``forge_store`` and ``forge_pip.index``; tests use
in-memory fakes. Every name passed in or returned is canonical (``canonicalize_name``).

The indexes decide versions and files; the store is a cache of files: ``StoreView.holding`` says
whether the store already holds the very file an index offers. Only ``--prefer-offline`` /
``--offline`` make every store entry a candidate (``StoreView.stored``).

Example::

    class MyLayers:
        def installed(self, name: NormalizedName) -> list[InstalledDist]:
            return [InstalledDist(name, Version("1.0"), (), layer="local")]
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from forge_store.records import record
from forge_store.reqparse import requirement

if TYPE_CHECKING:
    from packaging.tags import Tag

    from forge_pip.models import DistFile


class Origin(enum.Enum):
    """Where a pinned distribution comes from."""

    LAYER = "layer"
    """Already provided by a layer of the target env (nothing to install)."""
    STORE = "store"
    """Unpacked in Forge's store: link it, no download (the entry holds the file the index offers,
    or ``--prefer-offline`` / ``--offline`` asked for store entries)."""
    INDEX = "index"
    """A file on an index, a find-links location, or a direct URL / local file: fetch it."""


@record(frozen=True, slots=True)
class InstalledDist:
    """A distribution a layer of the target env already provides."""

    name: NormalizedName
    version: Version
    requires: tuple[Requirement, ...]
    """Its Requires-Dist, markers not yet evaluated."""
    layer: str
    """``"local"``, ``"parent:<env name>"`` or ``"global"``."""
    requires_python: str | None = None
    provides_extra: frozenset[NormalizedName] = frozenset()

    @property
    def is_local(self) -> bool:
        return self.layer == "local"


@record(frozen=True, slots=True)
class StoredDist:
    """A wheel already unpacked in Forge's store: usable without a download."""

    name: NormalizedName
    version: Version
    tags: frozenset[Tag]
    requires: tuple[Requirement, ...]
    requires_python: str | None
    entry_id: str
    provides_extra: frozenset[NormalizedName] = frozenset()
    file_hashes: Mapping[str, str] = dataclasses.field(default_factory=dict, hash=False)
    """Digests of the file this entry stands for (for ``--hash`` pinning): the index file it holds
    (``StoreView.holding``; an sdist's digests when the entry was built from that sdist), else
    the wheel file it was first ingested from."""


@record(frozen=True, slots=True)
class DirectRequirement:
    """A requirement fixed to one file: a local wheel/sdist or a URL (``name @ url``)."""

    name: NormalizedName
    file: DistFile
    extras: frozenset[NormalizedName] = frozenset()

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras} @ {self.file.url}"


@record(frozen=True, slots=True)
class CoreMetadata:
    """The parts of a distribution's core metadata (``METADATA`` / ``PKG-INFO``) the resolver needs."""

    name: NormalizedName | None = None
    version: Version | None = None
    requires_dist: tuple[Requirement, ...] = ()
    requires_python: str | None = None
    provides_extra: frozenset[NormalizedName] = frozenset()
    problems: tuple[str, ...] = ()
    """What was skipped while parsing (unparsable Requires-Dist lines, a bad Requires-Python)."""

    @classmethod
    def from_bytes(cls, data: bytes) -> CoreMetadata:
        """Parse a METADATA file tolerantly, as pip does: bad lines are skipped and recorded."""
        from forge_store.metaheaders import parse_headers  # email's header parse, without email

        message = parse_headers(data.decode("utf-8", errors="replace"))
        problems: list[str] = []
        raw_name = message.get("Name")
        name = canonicalize_name(str(raw_name)) if raw_name else None
        version: Version | None = None
        if message.get("Version"):
            try:
                version = Version(str(message["Version"]))
            except InvalidVersion:
                problems.append(f"invalid Version: {message['Version']!r}")
        requires: list[Requirement] = []
        for line in message.get_all("Requires-Dist") or ():
            try:
                requires.append(requirement(str(line)))
            except InvalidRequirement as exc:
                problems.append(f"invalid Requires-Dist {str(line)!r}: {exc}")
        requires_python: str | None = None
        if message.get("Requires-Python"):
            raw = str(message["Requires-Python"]).strip()
            try:
                SpecifierSet(raw)
                requires_python = raw
            except InvalidSpecifier:
                problems.append(f"invalid Requires-Python {raw!r}")
        extras = frozenset(canonicalize_name(str(e)) for e in message.get_all("Provides-Extra") or ())
        return cls(
            name=name,
            version=version,
            requires_dist=tuple(requires),
            requires_python=requires_python,
            provides_extra=extras,
            problems=tuple(problems),
        )


class LayerView(Protocol):
    """What the target env's layers provide: LOCAL first, then parents (nearest first), then GLOBAL."""

    def installed(self, name: NormalizedName) -> list[InstalledDist]:
        """Every layer's copy of ``name``, most visible first (a child shadows a parent)."""
        ...


class StoreView(Protocol):
    """Distributions already unpacked in Forge's store (a cache of files, not a source of versions)."""

    def stored(self, name: NormalizedName) -> list[StoredDist]:
        """Every entry of ``name``: candidates only with ``--prefer-offline`` / ``--offline``."""
        ...

    def holding(self, file: DistFile) -> StoredDist | None:
        """The entry that holds this very file, if any: a wheel whose sha256 is one of the entry's
        wheel-hash aliases, or an sdist whose sha256 keys the built wheel the entry came from.
        ``file_hashes`` of the answer are the file's digests."""
        ...


class IndexView(Protocol):
    """The configured indexes and find-links locations, merged."""

    def files(self, name: NormalizedName) -> Sequence[DistFile]:
        """Every file offered for ``name`` (the resolver calls this at most once per name)."""
        ...

    def metadata(self, file: DistFile) -> CoreMetadata:
        """The core metadata of one file (PEP 658, from the wheel, or by building the sdist)."""
        ...


class ResolveReporter(Protocol):
    """Progress hooks; the resolver never prints. Subclass :class:`NullReporter` to override a few."""

    def on_pin(self, name: NormalizedName, version: Version, origin: Origin) -> None: ...

    def on_backtrack(self, causes: Sequence[str]) -> None: ...

    def on_metadata_fetch(self, file: DistFile) -> None: ...

    def on_warning(self, message: str) -> None:
        """A yanked file was pinned, an extra does not exist, a metadata line was skipped."""
        ...


class NullReporter:
    """A :class:`ResolveReporter` that ignores everything."""

    def on_pin(self, name: NormalizedName, version: Version, origin: Origin) -> None:
        pass

    def on_backtrack(self, causes: Sequence[str]) -> None:
        pass

    def on_metadata_fetch(self, file: DistFile) -> None:
        pass

    def on_warning(self, message: str) -> None:
        pass
