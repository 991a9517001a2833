"""Hypothesis: every pin satisfies every requirement that applies to it; failures mean no solution."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolve_fakes import FakeLayers, FakeStore, Release, installed, stored, world

from forge_pip.resolve import NoMatchingDistribution, Origin, Resolution, ResolutionError

NAMES = ["a", "b", "c", "d"]
VERSIONS = ["1.0", "1.1", "2.0", "3.0"]
SPECS = ["", ">=1.1", "<2", "==2.0", "!=1.0", ">=3", "~=1.0"]

Universe = dict[str, dict[str, tuple[str, ...]]]  # name -> version -> requires


@st.composite
def universes(draw: st.DrawFn) -> Universe:
    universe: Universe = {}
    for name in NAMES:
        vs = draw(st.lists(st.sampled_from(VERSIONS), unique=True, max_size=3))
        universe[name] = {}
        for v in vs:
            deps = draw(
                st.lists(
                    st.tuples(st.sampled_from([n for n in NAMES if n != name]), st.sampled_from(SPECS)),
                    max_size=2,
                    unique_by=lambda t: t[0],
                )
            )
            universe[name][v] = tuple(n + s for n, s in deps)
    return universe


roots = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(SPECS)), min_size=1, max_size=2)


def applies(req: Requirement, res: Resolution) -> bool:
    pin = res.pins.get(canonicalize_name(req.name))
    return pin is not None and req.specifier.contains(pin.version, prereleases=True)


def brute_force_has_solution(universe: Universe, root_reqs: Sequence[Requirement]) -> bool:
    options = [[None, *universe[n]] for n in NAMES]
    for combo in itertools.product(*options):
        chosen: Mapping[str, str] = {n: v for n, v in zip(NAMES, combo, strict=True) if v is not None}
        needed = list(root_reqs) + [Requirement(r) for n, v in chosen.items() for r in universe[n][v]]
        if all(r.name in chosen and r.specifier.contains(Version(chosen[r.name])) for r in needed):
            return True
    return False


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(universe=universes(), root=roots, data=st.data())
def test_pins_satisfy_every_requirement(
    universe: Universe, root: list[tuple[str, str]], data: st.DataObject
) -> None:
    index = {n: [Release(v, reqs) for v, reqs in vs.items()] for n, vs in universe.items()}
    # Optionally a layer and the store already hold some versions (with the same requirements);
    # the store entry holds the index's own file, and --prefer-offline may be on.
    extra_layer = data.draw(st.sampled_from([None, *[(n, v) for n, vs in universe.items() for v in vs]]))
    extra_store = data.draw(st.sampled_from([None, *[(n, v) for n, vs in universe.items() for v in vs]]))
    prefer_store = data.draw(st.booleans())
    layers = FakeLayers()
    store = FakeStore()
    if extra_layer:
        n, v = extra_layer
        layers = FakeLayers(installed(n, v, "parent:base", requires=universe[n][v]))
    if extra_store:
        n, v = extra_store
        store = FakeStore(stored(n, v, requires=universe[n][v], holds=f"{n}-{v}-py3-none-any.whl"))
    root_reqs = [Requirement(n + s) for n, s in root]
    w = world(index, layers=layers, store=store)
    try:
        res = w.resolve(*(str(r) for r in root_reqs), prefer_store=prefer_store)
    except (ResolutionError, NoMatchingDistribution):
        assert not brute_force_has_solution(universe, root_reqs)
        return
    for r in root_reqs:
        assert applies(r, res), (r, res.pins)
    for pin in res.pins.values():
        assert pin.version in {Version(v) for v in universe[pin.name]}
        assert sorted(str(r) for r in pin.requires) == sorted(universe[pin.name][str(pin.version)])
        for r in pin.requires:
            assert applies(r, res), (pin, r, res.pins)
        if pin.origin is Origin.LAYER:
            assert extra_layer == (pin.name, str(pin.version))
        if pin.origin is Origin.STORE:
            assert extra_store == (pin.name, str(pin.version))
    if not prefer_store:
        # The store is a cache: it never changes which versions are chosen.
        without = world(index, layers=layers).resolve(*(str(r) for r in root_reqs))
        assert {n: p.version for n, p in without.pins.items()} == {n: p.version for n, p in res.pins.items()}
        # Everything pinned is reachable from a requested name.
        assert pin.requested or any(pin.name in deps for deps in res.graph.values())


def test_dependency_cycle_left_behind_by_backtracking() -> None:
    """Found by the property above: resolvelib's own result builder recursed forever here."""
    universe: Universe = {
        "a": {"1.1": (), "2.0": (), "3.0": ("c<2", "b~=1.0")},
        "b": {"1.0": ("d>=3",), "1.1": ("c~=1.0",), "3.0": ("c~=1.0",)},
        "c": {"1.1": ("a==2.0", "b")},
        "d": {"1.1": (), "1.0": ("b==2.0", "c"), "3.0": ()},
    }
    index = {n: [Release(v, reqs) for v, reqs in vs.items()] for n, vs in universe.items()}
    w = world(
        index,
        layers=FakeLayers(installed("b", "1.0", "parent:base", requires=universe["b"]["1.0"])),
        store=FakeStore(stored("a", "3.0", requires=universe["a"]["3.0"], holds="a-3.0-py3-none-any.whl")),
    )
    res = w.resolve("d~=1.0", "a>=1.1")
    assert {n: str(p.version) for n, p in res.pins.items()} == {"a": "2.0", "d": "1.1"}
