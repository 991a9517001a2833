"""The resolvelib provider: all of Forge's resolution policy lives here.

The rule: **the indexes decide versions; the store is a cache.** Candidate order for a project
(``find_matches``), as pip orders it:

1. the dist the target env already sees (the most visible layer's copy: LOCAL, else the nearest
   parent, else GLOBAL; with ``force_local`` only a LOCAL copy counts), if it satisfies: pip's
   "Requirement already satisfied";
2. the versions the configured sources offer (indexes, find-links; filtered by ``--only-binary`` /
   ``--no-binary``, ``--hash``, yanked, ``--pre``, Requires-Python), newest first
   (``prefer_binary``: versions with a wheel first), each with the one file pip would pick.

The store never adds a version: an index candidate becomes a store candidate (linked, no
download, metadata read from the entry) only when the store holds *that very file*
(``Finder.holding``: the file's sha256 is a wheel-hash alias of an entry, or an sdist's sha256
keys the built wheel an entry came from). So an entry that was installed by path or built
locally serves a later request only when its bytes are what the sources offer.

With ``prefer_store`` (``--prefer-offline`` / ``--offline``) every usable store entry is a
candidate too, ranked before the index versions (newest first; the index is listed only when no
store entry is accepted), still under the specifiers, constraints, ``--no-binary`` and ``--hash``.

A *fixed* dist (the env's ``pip``, which is Forge's front end) is the only candidate of its name,
with or without ``-U``: "Requirement already satisfied"; a specifier that excludes it is an error.

When upgrading a name (``-U``), all candidates are merged newest first and, for one version,
installed beats stored beats index. A name the env sees from a parent (or the global layer) is
never upgraded in the env, whatever ``--upgrade-strategy``: its parent's copy stays the candidate
while it satisfies (upgrade it in the parent, or pass ``--local``). pip, in a
``--system-site-packages`` venv, would install the upgrade into the venv; Forge's layers are
shared, so an upgrade in a child is a deliberate override. Only the most visible layer's copy is
a candidate: a LOCAL 1.0 shadows a PARENT 2.0 at run time, so the parent's copy cannot satisfy
``>=2``.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider

from forge_pip.models import DistFile
from forge_pip.resolve.candidates import (
    PYTHON_ID,
    Candidate,
    DistCandidate,
    ExplicitReq,
    ExtrasCandidate,
    NamedReq,
    PythonCandidate,
    PythonReq,
    Req,
    split_identifier,
)
from forge_pip.resolve.finder import ReleaseControl, python_accepts
from forge_pip.resolve.sources import CoreMetadata, Origin, StoredDist
from forge_store.errors import IncompatibleWheel, UnsupportedUrl, UsageError

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from resolvelib.structs import RequirementInformation

    from forge_pip.models import TargetPython
    from forge_pip.resolve.finder import Finder, IndexVersion
    from forge_pip.resolve.sources import IndexView, InstalledDist, LayerView, ResolveReporter

    Info = RequirementInformation[Req, Candidate]
    Offer = DistCandidate | StoredDist | tuple[IndexVersion, DistFile]
    """What ``-U`` ranks: a layer's candidate, a store entry, or an index version's chosen file."""


def is_pinned(specifier: SpecifierSet) -> bool:
    """PEP 592: a yanked file may be chosen only for ``==`` (not ``==x.*``) or ``===``."""
    return any(
        s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in specifier
    )


def file_from_url(url: str) -> DistFile | None:
    """A :class:`DistFile` for a ``name @ url`` requirement, or None if the URL names no dist file."""
    base, _, fragment = url.partition("#")
    filename = urllib.parse.unquote(base.rstrip("/").rsplit("/", 1)[-1])
    hashes = {}
    algo, _, digest = fragment.partition("=")
    if algo in {"sha256", "sha384", "sha512", "md5", "sha1", "sha224"} and digest:
        hashes[algo] = digest.lower()
    file = DistFile(url=base, filename=filename, hashes=hashes)
    try:
        file.version  # noqa: B018 - parse the file name now
    except ValueError:
        return None
    return file


class ForgeProvider(AbstractProvider[Req, Candidate, str]):
    """resolvelib provider over the env's layers, Forge's store and the indexes (see module doc)."""

    def __init__(
        self,
        *,
        finder: Finder,
        layers: LayerView,
        index: IndexView,
        target: TargetPython,
        reporter: ResolveReporter,
        constraints: Mapping[NormalizedName, SpecifierSet],
        requested: Mapping[NormalizedName, int],
        upgrade: Callable[[NormalizedName], bool],
        force_local: bool = False,
        pre: bool = False,
        release_control: ReleaseControl | None = None,
        allow_yanked_pinned: bool = True,
        no_deps: bool = False,
        fixed: Mapping[NormalizedName, InstalledDist] | None = None,
    ) -> None:
        self.finder = finder
        self._fixed = dict(fixed or {})
        self._layers = layers
        self._index = index
        self._target = target
        self._reporter = reporter
        self.constraints = constraints
        self.requested = requested
        self._upgrade = upgrade
        self._force_local = force_local
        self._pre = pre
        self._release = release_control or ReleaseControl()
        self._allow_yanked_pinned = allow_yanked_pinned
        self._no_deps = no_deps
        self.python = PythonCandidate(Version(target.python_version))
        self._env = {**target.markers}
        self._visible: dict[NormalizedName, InstalledDist | None] = {}
        self._dists: dict[tuple[object, ...], DistCandidate] = {}
        self._extras: dict[tuple[int, frozenset[NormalizedName]], ExtrasCandidate] = {}
        self._metadata: dict[DistFile, CoreMetadata] = {}
        self._deps: dict[int, list[Req]] = {}
        self._warned: set[str] = set()
        self.applied: dict[int, tuple[Requirement, ...]] = {}
        """id(candidate) -> the Requires-Dist entries whose markers applied (for ``Pin.requires``)."""
        self.tried: dict[NormalizedName, list[Version]] = {}
        """Versions whose dependencies were looked at, per name, in order (for messages)."""
        self.parents: dict[NormalizedName, list[DistCandidate]] = {}
        """Who asked for a name (first asker first), to explain requirement chains."""
        self._depths: dict[str, float] = {}

    # -- helpers -----------------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._reporter.on_warning(message)

    def marker_applies(self, marker: Marker | None, extra: str = "") -> bool:
        return marker is None or marker.evaluate({**self._env, "extra": extra})

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        """Read ahead the index pages the resolver is about to ask for: the names it will look up
        on an index (not those a layer satisfies without ``-U``, nor fixed ones, nor, with
        ``--prefer-offline``, those the store has)."""

        def wanted(name: NormalizedName) -> bool:
            if name in self._fixed:
                return False
            if not self._upgrade(name) and self.visible_installed(name) is not None:
                return False
            return not (self.finder.prefer_store and self.finder.stored(name))

        self.finder.prefetch(n for n in names if wanted(n))

    def visible_installed(self, name: NormalizedName) -> InstalledDist | None:
        """The copy of ``name`` the target env sees (None under ``force_local`` if it is not LOCAL)."""
        if name not in self._visible:
            dists = self._layers.installed(name)
            first = dists[0] if dists else None
            if first is not None and self._force_local and not first.is_local:
                first = None
            self._visible[name] = first
        return self._visible[name]

    def _dist(
        self, name: NormalizedName, version: Version, origin: Origin, key: object, **kw: Any
    ) -> DistCandidate:
        cache_key = (name, version, origin, key)
        cand = self._dists.get(cache_key)
        if cand is None:
            cand = self._dists[cache_key] = DistCandidate(name, version, origin, **kw)
        return cand

    def with_extras(
        self, base: DistCandidate, extras: frozenset[NormalizedName]
    ) -> DistCandidate | ExtrasCandidate:
        if not extras:
            return base
        key = (id(base), extras)
        cand = self._extras.get(key)
        if cand is None:
            cand = self._extras[key] = ExtrasCandidate(base, extras)
        return cand

    def direct_candidate(self, name: NormalizedName, file: DistFile) -> DistCandidate:
        """The one candidate of a direct requirement (a local file or URL)."""
        try:
            file_name, version, tags = file.name, file.version, file.tags
        except ValueError as exc:
            raise UsageError(f"{file.filename} is not a valid wheel or sdist file name: {exc}") from exc
        if file_name != name:
            raise UsageError(f"{file.filename} is a distribution of {file_name!r}, not of {name!r}")
        if file.is_wheel and not tags & frozenset(self._target.tags):
            raise IncompatibleWheel(
                f"{file.filename} is not a supported wheel for the target "
                f"(Python {self._target.python_version})",
                hint="pick the wheel built for the target's platform and interpreter",
            )
        return self._dist(name, version, Origin.INDEX, file.url, file=file, direct=True)

    def make_requirement(self, req: Requirement) -> Req:
        """A resolver requirement for a PEP 508 line whose marker already applied."""
        name = canonicalize_name(req.name)
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        if req.url:
            file = file_from_url(req.url)
            if file is not None:
                return ExplicitReq(self.with_extras(self.direct_candidate(name, file), extras))
            # Never the index project of that name instead (a supply-chain hole).
            raise UnsupportedUrl(
                f"{req.name} @ {req.url}: Forge cannot install this URL dependency",
                hint="only wheel and sdist URLs are followed in dependencies; install the URL yourself",
            )
        return NamedReq(name, extras, req.specifier, req)

    def metadata(self, file: DistFile) -> CoreMetadata:
        """The core metadata of an index file, fetched once."""
        md = self._metadata.get(file)
        if md is None:
            self._reporter.on_metadata_fetch(file)
            md = self._metadata[file] = self._index.metadata(file)
            for problem in md.problems:
                self.warn(f"{file.filename}: {problem}")
        return md

    def _requires(
        self, cand: DistCandidate
    ) -> tuple[tuple[Requirement, ...], str | None, frozenset[NormalizedName]]:
        if cand.installed is not None:
            # Already importable from a layer: its Requires-Python is not ours to re-check.
            return cand.installed.requires, None, cand.installed.provides_extra
        if cand.stored is not None:
            return cand.stored.requires, cand.stored.requires_python, cand.stored.provides_extra
        assert cand.file is not None
        md = self.metadata(cand.file)
        return md.requires_dist, md.requires_python, md.provides_extra

    # -- candidate lists ---------------------------------------------------------------------------

    def _prereleases(self, name: NormalizedName) -> bool | None:
        """pip 26: ``--pre`` is ``--all-releases :all:``; a per-name setting wins over ``:all:``."""
        allowed = self._release.allows_prereleases(name)
        if allowed is None and self._pre:
            return True
        return allowed

    def _allowed(
        self, name: NormalizedName, specifier: SpecifierSet, versions: Iterable[Version]
    ) -> set[Version]:
        """The versions ``specifier`` admits, with pip's pre-release rule (``--pre`` /
        ``--all-releases`` / ``--only-final``, or a specifier that names a pre-release)."""
        return set(specifier.filter(versions, prereleases=self._prereleases(name)))

    def _from_index(self, name: NormalizedName, iv: IndexVersion, file: DistFile) -> DistCandidate:
        """The candidate of one index file: linked from the store when the store holds that file."""
        held = self.finder.holding(file)
        if held is not None:
            return self._dist(name, iv.version, Origin.STORE, held.entry_id, stored=held, file=file)
        return self._dist(name, iv.version, Origin.INDEX, file.url, file=file)

    def _from_store(self, dist: StoredDist) -> DistCandidate:
        return self._dist(dist.name, dist.version, Origin.STORE, dist.entry_id, stored=dist)

    def iter_base_candidates(self, name: NormalizedName, specifier: SpecifierSet) -> Iterator[DistCandidate]:
        """Every candidate of ``name`` allowed by ``specifier``, most preferred first (module doc).

        Lazy: when the env already has a satisfying version and ``name`` is not upgraded, the
        index is consulted only if the resolver rejects that version (with ``prefer_store``, the
        same holds for the store's versions).
        """
        if name in self._fixed:
            yield self._fixed_candidate(name, specifier)
            return
        installed = self.visible_installed(name)
        layer_cand = None
        if installed is not None and specifier.contains(installed.version, prereleases=True):
            layer_cand = self._dist(
                name, installed.version, Origin.LAYER, installed.layer, installed=installed
            )
        upgrade = self._upgrade(name)
        if upgrade and installed is not None and not installed.is_local:
            # a parent's (or the global layer's) copy is upgraded in that env, never in this
            # one: only ``--local`` (``force_local``: then ``installed`` is LOCAL or None) does
            upgrade = False
            if name in self.requested and layer_cand is not None:
                self.warn(
                    f"{name} {installed.version} is provided by the {_layer_words(installed.layer)}:"
                    " not upgraded here (upgrade it in that env, or pass --local to install a newer"
                    " one into this env's own layer)"
                )
        allow_yanked = self._allow_yanked_pinned and is_pinned(specifier)
        if not upgrade:
            if layer_cand is not None:
                yield layer_cand
            # as pip: once the installed version is rejected, its index copy is not offered
            skip = layer_cand.version if layer_cand is not None else None
            yield from self._cached_then_indexed(name, specifier, allow_yanked, skip)
            return
        # Newest anywhere; for one version, what is already here beats a download.
        stored = self.finder.stored(name)
        indexed = self.finder.index_versions(name)
        known = {d.version for d in stored} | {iv.version for iv in indexed}
        allowed = self._allowed(name, specifier, known)
        ranked: list[tuple[Version, int, bool, Offer]] = []
        if layer_cand is not None:
            ranked.append((layer_cand.version, 0, True, layer_cand))
        for dist in stored:
            if dist.version in allowed:
                ranked.append((dist.version, 1, True, dist))
        for iv in indexed:
            file = iv.best(allow_yanked=allow_yanked) if iv.version in allowed else None
            if file is not None:
                ranked.append((iv.version, 2, file.is_wheel, (iv, file)))
        ranked.sort(key=lambda item: item[1])
        ranked.sort(key=lambda item: item[0], reverse=True)
        if self.finder.prefer_binary:
            ranked.sort(key=lambda item: not item[2])
        seen: set[Version] = set()
        for version, _rank, _binary, offer in ranked:
            if version in seen:
                continue
            seen.add(version)
            if isinstance(offer, DistCandidate):
                yield offer
            elif isinstance(offer, StoredDist):
                yield self._from_store(offer)
            else:
                yield self._from_index(name, *offer)

    def _fixed_candidate(self, name: NormalizedName, specifier: SpecifierSet) -> DistCandidate:
        """The one candidate of a fixed name (the env's pip front end); refused if ``specifier``
        excludes its version: it can be neither replaced nor upgraded."""
        from forge_pip.pipcompat import PIP_VERSION
        from forge_pip.resolve.errors import FrontEndPipMismatch

        dist = self._fixed[name]
        if not specifier.contains(dist.version, prereleases=True):
            hint = (
                "Forge's front end stands in for pip; for the real pip wheel, make the env"
                " with `forge create NAME --seed pip`"
            )
            if str(dist.version) != PIP_VERSION and specifier.contains(PIP_VERSION, prereleases=True):
                hint = (
                    f"an older Forge wrote this env's front end; `forge doctor --fix` makes it"
                    f" answer as {name} {PIP_VERSION}, which meets {name}{specifier}"
                )
            raise FrontEndPipMismatch(
                f"{name}{specifier} is required, but {name} in this env is Forge's front end,"
                f" which answers as {name} {dist.version}",
                hint=hint,
            )
        return self._dist(name, dist.version, Origin.LAYER, dist.layer, installed=dist)

    def _cached_then_indexed(
        self, name: NormalizedName, specifier: SpecifierSet, allow_yanked: bool, skip: Version | None
    ) -> Iterator[DistCandidate]:
        """Without ``-U``: store entries first when ``prefer_store``, then the index's versions."""
        stored = self.finder.stored(name)
        seen: set[Version] = set() if skip is None else {skip}
        if stored:
            allowed = self._allowed(name, specifier, {d.version for d in stored})
            # pip admits pre-releases when no final release matches: only the whole set tells.
            explicit = self._prereleases(name) is not None
            if not (explicit or specifier.prereleases or any(not v.is_prerelease for v in allowed)):
                indexed = {iv.version for iv in self.finder.index_versions(name)}
                allowed &= self._allowed(name, specifier, allowed | indexed)
            for dist in stored:
                if dist.version in allowed and dist.version not in seen:
                    seen.add(dist.version)
                    yield self._from_store(dist)
        indexed_versions = self.finder.index_versions(name)
        allowed = self._allowed(
            name, specifier, {iv.version for iv in indexed_versions} | {d.version for d in stored}
        )
        for iv in indexed_versions:
            if iv.version in allowed and iv.version not in seen:
                file = iv.best(allow_yanked=allow_yanked)
                if file is not None:
                    seen.add(iv.version)
                    yield self._from_index(name, iv, file)

    # -- resolvelib API ----------------------------------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Info]],
        backtrack_causes: Sequence[Info],
    ) -> tuple[object, ...]:
        """pip's order: Requires-Python, direct, pinned, backtrack causes, depth, request order, name."""
        infos = list(information[identifier])
        parents = [i.parent.name for i in infos if isinstance(i.parent, DistCandidate | ExtrasCandidate)]
        reqs = [i.requirement for i in infos]
        direct = any(isinstance(r, ExplicitReq) for r in reqs)
        operators = [s.operator for r in reqs if isinstance(r, NamedReq) for s in r.specifier]
        pinned = any(op[:2] == "==" for op in operators)
        name, _ = split_identifier(identifier)
        if name in self.requested:
            depth = 1.0
        elif infos:
            roots = [0.0] if any(i.parent is None for i in infos) else []
            depth = min([*roots, *(self._depths.get(p, math.inf) for p in parents)]) + 1.0
        else:
            depth = math.inf
        self._depths[name] = min(depth, self._depths.get(name, math.inf))
        backtrack_cause = any(
            c.requirement.identifier == identifier
            or (c.parent is not None and c.parent.identifier == identifier)
            for c in backtrack_causes
        )
        return (
            identifier != PYTHON_ID,
            not direct,
            not pinned,
            not backtrack_cause,
            depth,
            self.requested.get(name, math.inf),
            not operators,
            identifier,
        )

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Sequence[Candidate] | Callable[[], Iterator[Candidate]]:
        reqs = list(requirements[identifier])
        bad = {id(c) for c in incompatibilities.get(identifier, ())}
        if identifier == PYTHON_ID:
            ok = id(self.python) not in bad and all(self.is_satisfied_by(r, self.python) for r in reqs)
            return [self.python] if ok else []
        name, extras = split_identifier(identifier)
        constraint = self.constraints.get(name, SpecifierSet())
        explicit: dict[int, Candidate] = {}
        for r in reqs:
            if isinstance(r, ExplicitReq):
                explicit[id(r.candidate)] = r.candidate
        if extras:  # pip: an extras identifier follows the base's explicit candidates
            for r in requirements.get(name, ()):
                if isinstance(r, ExplicitReq) and isinstance(r.candidate, DistCandidate):
                    cand = self.with_extras(r.candidate, extras)
                    explicit[id(cand)] = cand
        if explicit:
            return [
                c
                for c in explicit.values()
                if id(c) not in bad
                and constraint.contains(c.version, prereleases=True)
                and all(self.is_satisfied_by(r, c) for r in reqs)
            ]
        specifier = constraint
        for r in reqs:
            if isinstance(r, NamedReq):
                specifier &= r.specifier

        def matches() -> Iterator[Candidate]:
            for base in self.iter_base_candidates(name, specifier):
                cand = self.with_extras(base, extras)
                if id(cand) not in bad:
                    yield cand

        return matches

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        if isinstance(requirement, ExplicitReq):
            return candidate is requirement.candidate
        if isinstance(requirement, PythonReq):
            return requirement.specifier.contains(str(candidate.version), prereleases=True)
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        if isinstance(candidate, PythonCandidate):
            return []
        cached = self._deps.get(id(candidate))
        if cached is None:
            cached = self._deps[id(candidate)] = self._compute_dependencies(candidate)
            self.prefetch(r.name for r in cached if isinstance(r, NamedReq))
            base = candidate.base
            tried = self.tried.setdefault(base.name, [])
            if base.version not in tried:
                tried.append(base.version)
            for req in cached:
                if not isinstance(req, PythonReq):
                    parents = self.parents.setdefault(split_identifier(req.identifier)[0], [])
                    if base not in parents and base.name != split_identifier(req.identifier)[0]:
                        parents.append(base)
        return cached

    def _compute_dependencies(self, candidate: DistCandidate | ExtrasCandidate) -> list[Req]:
        if isinstance(candidate, ExtrasCandidate):
            deps: list[Req] = [ExplicitReq(candidate.base)]
            requires, _rp, provided = self._requires(candidate.base)
            applied: list[Requirement] = []
            for extra in sorted(candidate.extras):
                mine = [
                    r
                    for r in requires
                    if r.marker is not None
                    and self.marker_applies(r.marker, extra)
                    and not self.marker_applies(r.marker)
                ]
                if not mine and extra not in provided:
                    self.warn(f"{candidate.base} does not provide the extra '{extra}'")
                applied.extend(r for r in mine if r not in applied)
            self.applied[id(candidate)] = tuple(applied)
            if not self._no_deps:
                deps.extend(self.make_requirement(r) for r in applied)
            return deps
        if self._no_deps:
            self.applied[id(candidate)] = ()
            return []
        requires, requires_python, _provided = self._requires(candidate)
        deps = []
        if requires_python and not python_accepts(requires_python, self._target.python_version):
            deps.append(PythonReq(SpecifierSet(requires_python)))
        applied = [r for r in requires if self.marker_applies(r.marker)]
        self.applied[id(candidate)] = tuple(applied)
        deps.extend(self.make_requirement(r) for r in applied)
        return deps

    def matches_alone(self, requirement: Req) -> bool:
        """Whether one requirement (with the constraints) matches any candidate at all."""
        if not isinstance(requirement, NamedReq):
            return True
        spec = self.constraints.get(requirement.name, SpecifierSet()) & requirement.specifier
        return next(self.iter_base_candidates(requirement.name, spec), None) is not None

    def ancestry(self, name: NormalizedName) -> tuple[list[DistCandidate], bool]:
        """Who required ``name`` (first asker, its first asker, ...) and whether that reached the user."""
        out: list[DistCandidate] = []
        seen: set[str] = set()
        while name not in self.requested:
            parents = self.parents.get(name)
            if not parents or name in seen:
                return out, False
            seen.add(name)
            out.append(parents[0])
            name = parents[0].name
        return out, True


def _layer_words(layer: str) -> str:
    """``"parent:base"`` -> ``parent layer 'base'``; ``"global"`` -> ``global layer``."""
    return f"parent layer {layer.split(':', 1)[1]!r}" if layer.startswith("parent:") else "global layer"
