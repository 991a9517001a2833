"""Forge's preference: what the env's layers have, then the store, then the index; -U and --local."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name
from resolve_fakes import FakeLayers, FakeStore, Release, installed, pin, stored, versions, world

from forge_pip.resolve import Origin, UpgradeStrategy

R = Release
INDEX = {
    "app": [R("1.0", ("lib>=1",)), R("2.0", ("lib>=1",))],
    "lib": [R("1.0"), R("1.5"), R("2.0")],
}


@pytest.mark.parametrize("layer", ["local", "parent:base", "global"])
def test_a_layer_version_that_satisfies_is_kept_over_a_newer_index_version(layer: str) -> None:
    w = world(INDEX, layers=FakeLayers(installed("lib", "1.0", layer)))
    res = w.resolve("app")
    lib = pin(res, "lib")
    assert (str(lib.version), lib.origin, lib.layer) == ("1.0", Origin.LAYER, layer)
    assert lib.file is None
    assert versions(res)["app"] == "2.0"


def test_a_layer_version_that_does_not_satisfy_is_replaced() -> None:
    w = world(INDEX, layers=FakeLayers(installed("lib", "1.0", "parent:base")))
    lib = pin(w.resolve("lib>=1.5"), "lib")
    assert (str(lib.version), lib.origin) == ("2.0", Origin.INDEX)


def test_a_layer_dist_s_own_requirements_apply() -> None:
    index = {"lib": [R("1.0")], "dep": [R("1.0"), R("2.0")]}
    w = world(index, layers=FakeLayers(installed("lib", "1.0", "global", requires=["dep<2"])))
    res = w.resolve("lib")
    assert versions(res) == {"lib": "1.0", "dep": "1.0"}
    assert w.index.fetched == ["dep-1.0-py3-none-any.whl"]  # nothing fetched for the installed lib


def test_local_shadows_parent() -> None:
    # The child's lib 1.0 hides the parent's 2.0 at run time, so the parent cannot satisfy >=2.
    layers = FakeLayers(installed("lib", "1.0", "local"), installed("lib", "2.0", "parent:base"))
    lib = pin(world(INDEX, layers=layers).resolve("lib>=2"), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")


def test_force_local_ignores_parent_and_global_layers() -> None:
    layers = FakeLayers(installed("lib", "1.0", "parent:base"))
    store = FakeStore(stored("lib", "1.5"))
    lib = pin(world(INDEX, layers=layers, store=store).resolve("lib", force_local=True), "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.STORE, "1.5", "entry-lib-1.5")
    lib = pin(world(INDEX, layers=layers).resolve("lib", force_local=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    # A LOCAL copy still counts under --local.
    local = FakeLayers(installed("lib", "1.0", "local"))
    assert pin(world(INDEX, layers=local).resolve("lib", force_local=True), "lib").origin is Origin.LAYER


def test_store_is_preferred_over_the_index() -> None:
    store = FakeStore(stored("lib", "1.5"), stored("lib", "1.0"))
    w = world(INDEX, store=store)
    res = w.resolve("app")
    lib = pin(res, "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.STORE, "1.5", "entry-lib-1.5")
    assert not any(f.startswith("lib-") for f in w.index.fetched)


def test_store_entries_must_fit_the_target_tags() -> None:
    store = FakeStore(stored("lib", "1.5", tags="cp311-cp311-manylinux_2_17_x86_64"))
    lib = pin(world(INDEX, store=store).resolve("lib"), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")


def test_store_entries_need_a_matching_hash_when_pinned_by_hash() -> None:
    index = {"lib": [R("1.5", sha256="c" * 64)]}
    store = FakeStore(stored("lib", "1.5", file_hashes={"sha256": "d" * 64}))
    hashes = {canonicalize_name("lib"): {"sha256": frozenset({"c" * 64})}}
    assert pin(world(index, store=store).resolve("lib==1.5", hashes=hashes), "lib").origin is Origin.INDEX
    good = FakeStore(stored("lib", "1.5", file_hashes={"sha256": "c" * 64}))
    assert pin(world(index, store=good).resolve("lib==1.5", hashes=hashes), "lib").origin is Origin.STORE


def test_upgrade_prefers_newest_but_reuses_what_is_here() -> None:
    layers = FakeLayers(installed("lib", "1.0", "parent:base"))
    lib = pin(world(INDEX, layers=layers).resolve("lib", upgrade=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    store = FakeStore(stored("lib", "2.0"))
    lib = pin(world(INDEX, layers=layers, store=store).resolve("lib", upgrade=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.STORE, "2.0")
    newest_here = FakeLayers(installed("lib", "2.0", "global"))
    lib = pin(world(INDEX, layers=newest_here, store=store).resolve("lib", upgrade=True), "lib")
    assert (lib.origin, lib.layer) == (Origin.LAYER, "global")


def test_upgrade_strategy_only_if_needed_vs_eager() -> None:
    layers = FakeLayers(installed("lib", "1.0", "local"))
    res = world(INDEX, layers=layers).resolve("app", upgrade=True)
    assert (str(pin(res, "lib").version), pin(res, "lib").origin) == ("1.0", Origin.LAYER)
    res = world(INDEX, layers=layers).resolve("app", upgrade=True, upgrade_strategy=UpgradeStrategy.EAGER)
    assert (str(pin(res, "lib").version), pin(res, "lib").origin) == ("2.0", Origin.INDEX)


def test_pin_reporter_sees_origins() -> None:
    w = world(INDEX, layers=FakeLayers(installed("lib", "1.0", "local")))
    w.resolve("app")
    assert ("lib", "1.0", Origin.LAYER) in w.reporter.pins


def test_a_satisfying_layer_dist_needs_no_index_listing() -> None:
    w = world(INDEX, layers=FakeLayers(installed("lib", "1.0", "local")))
    w.resolve("lib")
    assert w.index.files_calls["lib"] == 0
    w.resolve("lib", upgrade=True)
    assert w.index.files_calls["lib"] == 1
