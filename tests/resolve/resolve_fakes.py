"""Typed in-memory fakes for the resolver's three views, plus a target-Python factory.

A fake project is ``name -> [Release(...), ...]``; each release becomes one or more
``DistFile``s (a wheel per tag, optionally an sdist) whose METADATA text is parsed with
``CoreMetadata.from_bytes``, so the parser is exercised on every lookup.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from forge_pip.models import DistFile, TargetPython
from forge_pip.resolve import (
    CoreMetadata,
    InstalledDist,
    NullReporter,
    Origin,
    Pin,
    Resolution,
    ResolveRequest,
    StoredDist,
    resolve,
)

PURE = "py3-none-any"


@dataclasses.dataclass(frozen=True)
class Release:
    """One version of a fake project on the fake index."""

    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    """Requires-Python in METADATA only (discovered after the metadata fetch)."""
    file_requires_python: str | None = None
    """``data-requires-python`` on the files (seen before any fetch)."""
    tags: tuple[str, ...] = (PURE,)
    """One wheel per entry (compressed tag sets allowed); empty for sdist-only."""
    sdist: bool = False
    yanked: str | None = None
    extras: tuple[str, ...] = ()
    sha256: str | None = None
    """The digest the index states (default: a function of the file name; ``""``: none, as find-links)."""


def metadata_text(name: str, release: Release) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {release.version}"]
    if release.requires_python:
        lines.append(f"Requires-Python: {release.requires_python}")
    lines += [f"Provides-Extra: {e}" for e in release.extras]
    lines += [f"Requires-Dist: {r}" for r in release.requires]
    return ("\n".join(lines) + "\n\nA description.\n").encode()


class FakeIndex:
    """An in-memory index: counts ``files()`` calls and records every metadata fetch."""

    def __init__(self, projects: Mapping[str, Sequence[Release]]) -> None:
        self._files: dict[NormalizedName, list[DistFile]] = {}
        self._metadata: dict[str, bytes] = {}
        self.files_calls: Counter[str] = Counter()
        self.fetched: list[str] = []
        for raw_name, releases in projects.items():
            name = canonicalize_name(raw_name)
            stem = name.replace("-", "_")
            files = self._files.setdefault(name, [])
            for rel in releases:
                filenames = [f"{stem}-{rel.version}-{tag}.whl" for tag in rel.tags]
                if rel.sdist:
                    filenames.append(f"{stem}-{rel.version}.tar.gz")
                for filename in filenames:
                    digest = file_sha256(filename) if rel.sha256 is None else rel.sha256
                    files.append(
                        DistFile(
                            url=f"https://fake.invalid/{filename}",
                            filename=filename,
                            hashes={"sha256": digest} if digest else {},
                            requires_python=rel.file_requires_python,
                            yanked=rel.yanked,
                            source="fake",
                        )
                    )
                    self._metadata[filename] = metadata_text(raw_name, rel)

    def files(self, name: NormalizedName) -> Sequence[DistFile]:
        self.files_calls[name] += 1
        return list(self._files.get(name, ()))

    def metadata(self, file: DistFile) -> CoreMetadata:
        self.fetched.append(file.filename)
        return CoreMetadata.from_bytes(self._metadata[file.filename])


class FakeLayers:
    """The target env's layers: name -> dists, most visible first."""

    def __init__(self, *dists: InstalledDist) -> None:
        self._dists: dict[str, list[InstalledDist]] = {}
        for d in dists:
            self._dists.setdefault(d.name, []).append(d)

    def installed(self, name: NormalizedName) -> list[InstalledDist]:
        return list(self._dists.get(name, ()))


class FakeStore:
    """Store entries; an entry holds an index file when its ``file_hashes`` sha256 is the file's."""

    def __init__(self, *dists: StoredDist) -> None:
        self._dists: dict[str, list[StoredDist]] = {}
        for d in dists:
            self._dists.setdefault(d.name, []).append(d)
        self.held: list[str] = []
        """File names asked about through ``holding``, in order."""

    def stored(self, name: NormalizedName) -> list[StoredDist]:
        return list(self._dists.get(name, ()))

    def holding(self, file: DistFile) -> StoredDist | None:
        self.held.append(file.filename)
        sha = file.hashes.get("sha256")
        for d in self._dists.get(file.name, ()):
            if sha and d.file_hashes.get("sha256") == sha and d.version == file.version:
                return dataclasses.replace(d, file_hashes=dict(file.hashes))
        return None


def file_sha256(filename: str) -> str:
    """The sha256 the fake index announces for a file (a function of its name)."""
    return hashlib.sha256(filename.encode()).hexdigest()


def installed(name: str, version: str, layer: str = "local", requires: Sequence[str] = ()) -> InstalledDist:
    return InstalledDist(
        canonicalize_name(name), Version(version), tuple(Requirement(r) for r in requires), layer=layer
    )


def stored(
    name: str,
    version: str,
    tags: str = PURE,
    requires: Sequence[str] = (),
    entry: str | None = None,
    file_hashes: Mapping[str, str] | None = None,
    holds: str | None = None,
) -> StoredDist:
    """A store entry; ``holds`` names the fake index file it was ingested from (same sha256)."""
    if holds is not None:
        file_hashes = {"sha256": file_sha256(holds)}
    return StoredDist(
        canonicalize_name(name),
        Version(version),
        frozenset(parse_tag(tags)),
        tuple(Requirement(r) for r in requires),
        None,
        entry or f"entry-{name}-{version}",
        file_hashes=dict(file_hashes or {}),
    )


def target(minor: int = 12, platform: str = "manylinux_2_17_x86_64") -> TargetPython:
    """A CPython 3.<minor> Linux x86_64 target, built without looking at the host."""
    version = (3, minor)
    plats = [platform, "linux_x86_64"]
    tags: list[Tag] = [*cpython_tags(version, abis=[f"cp3{minor}"], platforms=plats)]
    tags += compatible_tags(version, interpreter=f"cp3{minor}", platforms=plats)
    markers = {
        "python_version": f"3.{minor}",
        "python_full_version": f"3.{minor}.0",
        "implementation_name": "cpython",
        "implementation_version": f"3.{minor}.0",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_system": "Linux",
        "platform_release": "",
        "platform_version": "",
    }
    return TargetPython(version=(3, minor, 0), tags=tuple(tags), markers=markers)


class RecordingReporter(NullReporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.pins: list[tuple[str, str, Origin]] = []
        self.backtracks = 0

    def on_pin(self, name: NormalizedName, version: Version, origin: Origin) -> None:
        self.pins.append((name, str(version), origin))

    def on_backtrack(self, causes: Sequence[str]) -> None:
        self.backtracks += 1

    def on_warning(self, message: str) -> None:
        self.warnings.append(message)


@dataclasses.dataclass
class World:
    """An index, a store and layers together, with a one-call ``resolve``."""

    index: FakeIndex
    layers: FakeLayers = dataclasses.field(default_factory=FakeLayers)
    store: FakeStore = dataclasses.field(default_factory=FakeStore)
    reporter: RecordingReporter = dataclasses.field(default_factory=RecordingReporter)

    def resolve(self, *reqs: str, minor: int = 12, **options: Any) -> Resolution:
        request = ResolveRequest(
            requirements=tuple(Requirement(r) for r in reqs),
            target=target(minor),
            **options,
        )
        return resolve(
            request, layers=self.layers, store=self.store, index=self.index, reporter=self.reporter
        )


def world(projects: Mapping[str, Sequence[Release]], **kw: Any) -> World:
    return World(FakeIndex(projects), **kw)


def versions(resolution: Resolution) -> dict[str, str]:
    return {name: str(pin.version) for name, pin in resolution.pins.items()}


def pin(resolution: Resolution, name: str) -> Pin:
    return resolution.pins[canonicalize_name(name)]
