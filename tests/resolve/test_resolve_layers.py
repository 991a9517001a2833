"""Forge's preference: what the env's layers have, then the index's versions; the store is a cache of
the index's files (it never adds a version) unless --prefer-offline / --offline; -U and --local."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
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
    # A store entry that is not the index's file adds no version (it used to win with 1.5).
    store = FakeStore(stored("lib", "1.5"))
    lib = pin(world(INDEX, layers=layers, store=store).resolve("lib", force_local=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    # The store entry of the index's own 2.0 file is linked, not downloaded.
    held = FakeStore(stored("lib", "2.0", holds="lib-2.0-py3-none-any.whl"))
    lib = pin(world(INDEX, layers=layers, store=held).resolve("lib", force_local=True), "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.STORE, "2.0", "entry-lib-2.0")
    # A LOCAL copy still counts under --local.
    local = FakeLayers(installed("lib", "1.0", "local"))
    assert pin(world(INDEX, layers=local).resolve("lib", force_local=True), "lib").origin is Origin.LAYER


def test_the_store_adds_no_version() -> None:
    """An older env left lib 1.5 and 1.0 in the store: a fresh env still gets the index's newest."""
    store = FakeStore(stored("lib", "1.5", holds="lib-1.5-py3-none-any.whl"), stored("lib", "1.0"))
    w = world(INDEX, store=store)
    lib = pin(w.resolve("app"), "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.INDEX, "2.0", None)
    assert lib.file is not None and lib.file.filename == "lib-2.0-py3-none-any.whl"
    # ... and the held 1.5 is used exactly when the index's choice is 1.5.
    lib = pin(w.resolve("lib<2"), "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.STORE, "1.5", "entry-lib-1.5")
    # 1.0 is in the store but not as the index's file: downloaded again.
    assert pin(w.resolve("lib==1.0"), "lib").origin is Origin.INDEX


def test_the_store_supplies_the_very_file_the_index_offers() -> None:
    store = FakeStore(stored("lib", "2.0", holds="lib-2.0-py3-none-any.whl", requires=["dep"]))
    w = world({**INDEX, "dep": [R("1.0")]}, store=store)
    res = w.resolve("app")
    lib = pin(res, "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.STORE, "2.0", "entry-lib-2.0")
    assert lib.file is not None and lib.file.filename == "lib-2.0-py3-none-any.whl"  # for reports
    assert not any(f.startswith("lib-") for f in w.index.fetched)  # metadata read from the entry
    assert "dep" in res.pins  # the entry's own requirements apply
    assert w.store.held[:2] == ["app-2.0-py3-none-any.whl", "lib-2.0-py3-none-any.whl"]


def test_a_store_entry_of_the_same_version_with_other_bytes_is_not_used() -> None:
    # e.g. a wheel installed by path under the project's name: same name and version, other file
    forged = FakeStore(stored("lib", "2.0", file_hashes={"sha256": "f" * 64}))
    lib = pin(world(INDEX, store=forged).resolve("lib"), "lib")
    assert (lib.origin, lib.store_entry) == (Origin.INDEX, None)


def test_no_binary_builds_instead_of_linking_the_stored_wheel() -> None:
    index = {"lib": [R("2.0", sdist=True)]}
    store = FakeStore(stored("lib", "2.0", holds="lib-2.0-py3-none-any.whl"))
    w = world(index, store=store)
    assert pin(w.resolve("lib"), "lib").origin is Origin.STORE
    lib = pin(w.resolve("lib", no_binary=frozenset({":all:"})), "lib")
    assert lib.origin is Origin.INDEX and lib.file is not None and lib.file.filename == "lib-2.0.tar.gz"
    # an entry built from that very sdist is the same artifact
    built = FakeStore(stored("lib", "2.0", holds="lib-2.0.tar.gz"))
    lib = pin(world(index, store=built).resolve("lib", no_binary=frozenset({"lib"})), "lib")
    assert (lib.origin, lib.store_entry) == (Origin.STORE, "entry-lib-2.0")
    # --prefer-offline obeys --no-binary too: a store entry is a wheel
    loose = FakeStore(stored("lib", "2.0"))
    lib = pin(
        world(index, store=loose).resolve("lib", no_binary=frozenset({"lib"}), prefer_store=True), "lib"
    )
    assert lib.origin is Origin.INDEX


def test_store_entries_must_fit_the_target_tags() -> None:
    native = "cp311-cp311-manylinux_2_17_x86_64"
    store = FakeStore(stored("lib", "1.5", tags=native))
    lib = pin(world(INDEX, store=store).resolve("lib", prefer_store=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    held = FakeStore(stored("lib", "2.0", tags=native, holds="lib-2.0-py3-none-any.whl"))
    assert pin(world(INDEX, store=held).resolve("lib"), "lib").origin is Origin.INDEX


def test_store_entries_need_a_matching_hash_when_pinned_by_hash() -> None:
    index = {"lib": [R("1.5", sha256="c" * 64)]}
    store = FakeStore(stored("lib", "1.5", file_hashes={"sha256": "d" * 64}))
    hashes = {canonicalize_name("lib"): {"sha256": frozenset({"c" * 64})}}
    assert pin(world(index, store=store).resolve("lib==1.5", hashes=hashes), "lib").origin is Origin.INDEX
    res = world(index, store=store).resolve("lib==1.5", hashes=hashes, prefer_store=True)
    assert pin(res, "lib").origin is Origin.INDEX
    good = FakeStore(stored("lib", "1.5", file_hashes={"sha256": "c" * 64}))
    assert pin(world(index, store=good).resolve("lib==1.5", hashes=hashes), "lib").origin is Origin.STORE


def test_prefer_store_ranks_store_entries_first_within_the_specifiers() -> None:
    store = FakeStore(stored("lib", "1.5"), stored("lib", "1.0"))
    w = world(INDEX, store=store)
    lib = pin(w.resolve("app", prefer_store=True), "lib")
    assert (lib.origin, str(lib.version), lib.store_entry) == (Origin.STORE, "1.5", "entry-lib-1.5")
    assert w.index.files_calls["lib"] == 0  # the store satisfied it: the index was not asked
    assert not any(f.startswith("lib-") for f in w.index.fetched)
    lib = pin(w.resolve("lib>=2", prefer_store=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    lib = pin(w.resolve("lib", prefer_store=True, constraints=(Requirement("lib!=1.5"),)), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.STORE, "1.0")  # constraints apply to the store too


def test_prefer_store_keeps_pip_s_pre_release_rule() -> None:
    index = {"lib": [R("1.0"), R("2.0")]}
    store = FakeStore(stored("lib", "3.0b1"))
    assert str(pin(world(index, store=store).resolve("lib", prefer_store=True), "lib").version) == "2.0"
    lib = pin(world(index, store=store).resolve("lib", prefer_store=True, pre=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.STORE, "3.0b1")
    only_pre = world({"lib": [R("3.0a1")]}, store=store)
    assert str(pin(only_pre.resolve("lib", prefer_store=True), "lib").version) == "3.0b1"


def test_upgrade_prefers_newest_but_reuses_what_is_here() -> None:
    layers = FakeLayers(installed("lib", "1.0", "local"))
    lib = pin(world(INDEX, layers=layers).resolve("lib", upgrade=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    store = FakeStore(stored("lib", "2.0", holds="lib-2.0-py3-none-any.whl"))
    lib = pin(world(INDEX, layers=layers, store=store).resolve("lib", upgrade=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.STORE, "2.0")
    newest_here = FakeLayers(installed("lib", "2.0", "global"))
    lib = pin(world(INDEX, layers=newest_here, store=store).resolve("lib", upgrade=True), "lib")
    assert (lib.origin, lib.layer) == (Origin.LAYER, "global")
    # -U with --prefer-offline: still the newest anywhere; a store entry wins a tie
    older = FakeStore(stored("lib", "1.5"))
    lib = pin(world(INDEX, store=older).resolve("lib", upgrade=True, prefer_store=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    same = FakeStore(stored("lib", "2.0"))
    lib = pin(world(INDEX, store=same).resolve("lib", upgrade=True, prefer_store=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.STORE, "2.0")


def test_upgrade_never_upgrades_a_parents_dist_without_local() -> None:
    """A parent's (or the global layer's) copy stays the candidate under -U and eager; the
    requested name gets a warning; --local (force_local) resolves as if the parents were empty."""
    for layer in ("parent:base", "global"):
        layers = FakeLayers(installed("lib", "1.0", layer))
        w = world(INDEX, layers=layers)
        lib = pin(w.resolve("lib", upgrade=True), "lib")
        assert (lib.origin, lib.layer, str(lib.version)) == (Origin.LAYER, layer, "1.0")
        assert any("not upgraded here" in m for m in w.reporter.warnings), w.reporter.warnings
        eager = world(INDEX, layers=layers).resolve(
            "app", upgrade=True, upgrade_strategy=UpgradeStrategy.EAGER
        )
        assert (pin(eager, "lib").origin, str(pin(eager, "lib").version)) == (Origin.LAYER, "1.0")
        lib = pin(world(INDEX, layers=layers).resolve("lib", upgrade=True, force_local=True), "lib")
        assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")
    # a requirement the parent's copy does not meet is still resolved (an override, judged later)
    layers = FakeLayers(installed("lib", "1.0", "parent:base"))
    lib = pin(world(INDEX, layers=layers).resolve("lib>=2", upgrade=True), "lib")
    assert (lib.origin, str(lib.version)) == (Origin.INDEX, "2.0")


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
