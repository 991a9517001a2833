"""The resolve stage's entry point: a :class:`ResolveRequest` in, a :class:`Resolution` out.

Example::

    request = ResolveRequest(requirements=(Requirement("requests>=2"),), target=target)
    resolution = resolve(request, layers=layers, store=store, index=index)
    resolution.pins["requests"].origin  # Origin.LAYER / STORE / INDEX
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib.resolvers import Resolution as _Search

from forge_pip.resolve.candidates import (
    Candidate,
    DistCandidate,
    ExplicitReq,
    ExtrasCandidate,
    NamedReq,
    Req,
)
from forge_pip.resolve.errors import InvalidConstraint, ResolutionError
from forge_pip.resolve.explain import explain
from forge_pip.resolve.finder import Finder, FinderOptions, ReleaseControl
from forge_pip.resolve.provider import ForgeProvider
from forge_pip.resolve.request import Pin, Resolution, ResolveRequest, UpgradeStrategy
from forge_pip.resolve.sources import DirectRequirement, NullReporter

if TYPE_CHECKING:
    from packaging.version import Version
    from resolvelib.resolvers import Criterion
    from resolvelib.structs import RequirementInformation

    from forge_pip.models import DistFile
    from forge_pip.resolve.sources import IndexView, LayerView, ResolveReporter, StoreView


class _ReporterBridge(BaseReporter[Req, Candidate, str]):
    """resolvelib's reporter, forwarding what a Forge reporter cares about."""

    def __init__(self, reporter: ResolveReporter) -> None:
        self._reporter = reporter

    def pinning(self, candidate: Candidate) -> None:
        if isinstance(candidate, DistCandidate):
            self._reporter.on_pin(candidate.name, candidate.version, candidate.origin)

    def resolving_conflicts(self, causes: Collection[RequirementInformation[Req, Candidate]]) -> None:
        lines = []
        for req, parent in causes:
            lines.append(f"{parent} depends on {req}" if parent is not None else f"the user requested {req}")
        self._reporter.on_backtrack(lines)


def _canonical_names(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n if n == ":all:" else canonicalize_name(n) for n in names)


def _display(req: Requirement) -> str:
    """A requirement as the user wrote it, without its marker: ``a[x]>=1``."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}" + (f" @ {req.url}" if req.url else str(req.specifier))


def _read_constraints(
    request: ResolveRequest, env: Mapping[str, str]
) -> dict[NormalizedName, list[Requirement]]:
    out: dict[NormalizedName, list[Requirement]] = {}
    for c in request.constraints:
        if c.extras:
            raise InvalidConstraint(f"Constraints cannot have extras: {c}", hint="drop the [extras] from -c")
        if c.url:
            raise InvalidConstraint(
                f"Links are not allowed as constraints: {c}", hint="use a version specifier in -c"
            )
        if c.marker is None or c.marker.evaluate({**env, "extra": ""}):
            out.setdefault(canonicalize_name(c.name), []).append(c)
    return out


def resolve(
    request: ResolveRequest,
    *,
    layers: LayerView,
    store: StoreView,
    index: IndexView,
    reporter: ResolveReporter | None = None,
    max_rounds: int = 200_000,
) -> Resolution:
    """Resolve ``request`` for ``request.target``; raise ``ResolutionError`` / ``NoMatchingDistribution``."""
    reporter = reporter or NullReporter()
    target = request.target
    env = dict(target.markers)
    constraint_reqs = _read_constraints(request, env)
    constraints: dict[NormalizedName, SpecifierSet] = {}
    for name, reqs in constraint_reqs.items():
        spec = SpecifierSet()
        for r in reqs:
            spec &= r.specifier
        constraints[name] = spec

    requested: dict[NormalizedName, int] = {}
    root_text: dict[NormalizedName, str] = {}
    applying: list[Requirement | DirectRequirement] = []
    for item in request.requirements:
        if isinstance(item, Requirement):
            if item.marker is not None and not item.marker.evaluate({**env, "extra": ""}):
                continue
            name, text = canonicalize_name(item.name), _display(item)
        else:
            name, text = item.name, str(item)
        requested.setdefault(name, len(requested))
        root_text.setdefault(name, text)
        applying.append(item)

    def upgrade(name: NormalizedName) -> bool:
        if not request.upgrade:
            return False
        return request.upgrade_strategy is UpgradeStrategy.EAGER or name in requested

    finder = Finder(
        FinderOptions(
            target=target,
            prefer_binary=request.prefer_binary,
            only_binary=_canonical_names(request.only_binary),
            no_binary=_canonical_names(request.no_binary),
            hashes={
                canonicalize_name(name): {
                    algo: frozenset(d.lower() for d in ds) for algo, ds in by_algo.items()
                }
                for name, by_algo in request.hashes.items()
            },
            prefer_store=request.prefer_store,
            uploaded_prior_to=request.uploaded_prior_to,
        ),
        index,
        store,
    )
    provider = ForgeProvider(
        finder=finder,
        layers=layers,
        index=index,
        target=target,
        reporter=reporter,
        constraints=constraints,
        requested=requested,
        upgrade=upgrade,
        force_local=request.force_local,
        pre=request.pre,
        release_control=ReleaseControl(
            _canonical_names(request.all_releases), _canonical_names(request.only_final)
        ),
        allow_yanked_pinned=request.allow_yanked_pinned,
        no_deps=request.no_deps,
        fixed=request.fixed,
    )
    roots: list[Req] = []
    for item in applying:
        if isinstance(item, DirectRequirement):
            base = provider.direct_candidate(canonicalize_name(item.name), item.file)
            roots.append(ExplicitReq(provider.with_extras(base, item.extras)))
        else:
            roots.append(provider.make_requirement(item))
    provider.prefetch(r.name for r in roots if isinstance(r, NamedReq))

    # resolvelib's Resolution, not Resolver: Resolver.resolve() builds its result graph with an
    # unguarded recursion that never ends on a dependency cycle cut off from the root.
    search: _Search[Req, Candidate, str] = _Search(provider, _ReporterBridge(reporter))
    try:
        state = search.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        shown = {n: ", ".join(str(r) for r in rs) for n, rs in constraint_reqs.items()}
        raise explain(exc.causes, provider, roots=root_text, constraints=shown) from None
    except ResolutionTooDeep as exc:
        raise ResolutionError(
            f"Resolution gave up after {exc.round_count} rounds without an answer",
            hint="pin some versions (==) to narrow the search",
        ) from None
    return _build(_reachable(state.mapping, state.criteria), provider, requested, reporter)


def _reachable(
    mapping: Mapping[str, Candidate], criteria: Mapping[str, Criterion[Req, Candidate]]
) -> dict[str, Candidate]:
    """The pins reachable from the user's requirements (stale pins from abandoned branches dropped)."""
    key_of = {id(c): k for k, c in mapping.items()}
    children: dict[str | None, list[str]] = {}
    for key, criterion in criteria.items():
        for parent in criterion.iter_parent():
            if parent is None:
                children.setdefault(None, []).append(key)
            elif id(parent) in key_of:
                children.setdefault(key_of[id(parent)], []).append(key)
    seen: set[str] = set()
    todo = list(children.get(None, ()))
    while todo:
        key = todo.pop()
        if key not in seen and key in mapping:
            seen.add(key)
            todo.extend(children.get(key, ()))
    return {k: c for k, c in mapping.items() if k in seen}


def yanked_warning(name: NormalizedName, version: Version, file: DistFile) -> str:
    """pip's words for a yanked pick: the candidate, its URL and the page it came from, the reason."""
    from forge_pip.index.urls import redact_url

    reason = file.yanked or "<none given>"
    url = redact_url(file.url)
    page = redact_url(f"{file.source.rstrip('/')}/{name}/") if file.source else url
    return (
        "The candidate selected for download or install is a yanked version:"
        f" '{name}' candidate (version {version} at {url} (from {page}))\n"
        f"Reason for being yanked: {reason}"
    )


def _build(
    mapping: Mapping[str, Candidate],
    provider: ForgeProvider,
    requested: Mapping[NormalizedName, int],
    reporter: ResolveReporter,
) -> Resolution:
    bases: dict[NormalizedName, DistCandidate] = {}
    extras: dict[NormalizedName, set[NormalizedName]] = {}
    requires: dict[NormalizedName, list[Requirement]] = {}
    for cand in mapping.values():
        if isinstance(cand, DistCandidate | ExtrasCandidate):
            if isinstance(cand, DistCandidate):
                bases[cand.name] = cand
            else:
                extras.setdefault(cand.name, set()).update(cand.extras)
            reqs = requires.setdefault(cand.name, [])
            reqs.extend(r for r in provider.applied.get(id(cand), ()) if r not in reqs)
    pins: dict[NormalizedName, Pin] = {}
    graph: dict[NormalizedName, tuple[NormalizedName, ...]] = {}
    for name, cand in sorted(bases.items()):
        if cand.file is not None and cand.file.yanked is not None:
            reporter.on_warning(yanked_warning(name, cand.version, cand.file))
        pins[name] = Pin(
            name=name,
            version=cand.version,
            origin=cand.origin,
            layer=cand.installed.layer if cand.installed else None,
            store_entry=cand.stored.entry_id if cand.stored else None,
            file=cand.file,
            extras=frozenset(extras.get(name, ())),
            requested=name in requested,
            requires=tuple(requires.get(name, ())),
            direct=cand.direct,
        )
    for name, pin in pins.items():
        deps = {canonicalize_name(r.name) for r in pin.requires} & pins.keys()
        deps.discard(name)
        graph[name] = tuple(sorted(deps))
    return Resolution(pins=pins, graph=graph)
