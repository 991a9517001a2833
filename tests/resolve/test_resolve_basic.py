"""Index-only resolution: chains, backtracking, extras, markers, constraints, file selection."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from resolve_fakes import PURE, Release, pin, target, versions, world

from forge_pip.models import DistFile
from forge_pip.resolve import (
    DirectRequirement,
    InvalidConstraint,
    NoMatchingDistribution,
    Origin,
    ResolveRequest,
    resolve,
)
from forge_store.errors import IncompatibleWheel

R = Release

CHAIN = {
    "a": [R("1.0", ("b>=1",)), R("2.0", ("b>=2",))],
    "b": [R("1.0"), R("2.0", ("c",)), R("2.1", ("c<2",))],
    "c": [R("1.0"), R("2.0")],
}

# Data-driven cases: (index, requirements, options, expected pins).
CASES: list[tuple[str, dict[str, list[Release]], tuple[str, ...], dict[str, object], dict[str, str]]] = [
    ("simple chain", CHAIN, ("a",), {}, {"a": "2.0", "b": "2.1", "c": "1.0"}),
    ("root pin narrows", CHAIN, ("a==1.0", "b<2"), {}, {"a": "1.0", "b": "1.0"}),
    (
        "backtracking: newest a needs a missing c",
        {"a": [R("1.0", ("c<2",)), R("2.0", ("c>=3",))], "c": [R("1.0"), R("2.0")]},
        ("a",),
        {},
        {"a": "1.0", "c": "1.0"},
    ),
    (
        "backtracking: newest b conflicts with a sibling",
        {
            "a": [R("1.0", ("c<2",))],
            "b": [R("1.0", ("c<2",)), R("2.0", ("c>=2",))],
            "c": [R("1.0"), R("2.0")],
        },
        ("a", "b"),
        {},
        {"a": "1.0", "b": "1.0", "c": "1.0"},
    ),
    (
        "constraint narrows",
        CHAIN,
        ("a",),
        {"constraints": (Requirement("c<2"), Requirement("b<2.1"))},
        {"a": "2.0", "b": "2.0", "c": "1.0"},
    ),
    ("constraint adds nothing", CHAIN, ("c",), {"constraints": (Requirement("a==1.0"),)}, {"c": "2.0"}),
    (
        "constraint for another target is ignored",
        CHAIN,
        ("c",),
        {"constraints": (Requirement('c<2; python_version < "3.0"'),)},
        {"c": "2.0"},
    ),
    ("no_deps", CHAIN, ("a",), {"no_deps": True}, {"a": "2.0"}),
    (
        "names are canonicalised",
        {"Foo.Bar": [R("1.0", ("Baz_Qux",))], "baz-qux": [R("3")]},
        ("FOO_bar",),
        {},
        {"foo-bar": "1.0", "baz-qux": "3"},
    ),
    ("root marker false for the target", CHAIN, ('a; sys_platform == "win32"', "c"), {}, {"c": "2.0"}),
]


@pytest.mark.parametrize(
    ("index", "reqs", "options", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_cases(
    index: dict[str, list[Release]],
    reqs: tuple[str, ...],
    options: dict[str, Any],
    expected: dict[str, str],
) -> None:
    assert versions(world(index).resolve(*reqs, **options)) == expected


def test_backtracking_is_reported() -> None:
    w = world(
        {"a": [R("1.0", ("c<2",))], "b": [R("1.0", ("c<2",)), R("2.0", ("c>=2",))], "c": [R("1.0"), R("2.0")]}
    )
    res = w.resolve("b", "a")
    assert versions(res)["b"] == "1.0"
    assert w.reporter.backtracks >= 1


def test_pins_record_requested_requires_graph_and_origin() -> None:
    res = world(CHAIN).resolve("a")
    a = res.pins[canonicalize_name("a")]
    assert a.requested and a.origin is Origin.INDEX and a.file is not None
    assert a.file.filename == "a-2.0-py3-none-any.whl"
    assert [str(r) for r in a.requires] == ["b>=2"]
    assert not res.pins[canonicalize_name("c")].requested
    assert res.graph == {"a": ("b",), "b": ("c",), "c": ()}


# -- markers are evaluated for the target, never the host ------------------------------------------

MARKERS = {
    "app": [R("1.0", ('tomli; python_version < "3.11"', 'pywin; sys_platform == "win32"'))],
    "tomli": [R("2.0")],
    "pywin": [R("300")],
}


@pytest.mark.parametrize(("minor", "expected"), [(12, {"app": "1.0"}), (10, {"app": "1.0", "tomli": "2.0"})])
def test_markers_use_the_target(minor: int, expected: dict[str, str]) -> None:
    res = world(MARKERS).resolve("app", minor=minor)
    assert versions(res) == expected
    assert [str(r) for r in res.pins[canonicalize_name("app")].requires] == (
        ['tomli; python_version < "3.11"'] if minor == 10 else []
    )


# -- extras -----------------------------------------------------------------------------------------

EXTRAS = {
    "req": [R("2.0", ("idna", 'socks>=1; extra == "socks"'), extras=("socks", "all"))],
    "idna": [R("3.0")],
    "socks": [R("1.0"), R("1.5")],
}


def test_extras_pull_their_dependencies_at_the_same_version() -> None:
    w = world(EXTRAS)
    res = w.resolve("req[socks]")
    assert versions(res) == {"req": "2.0", "idna": "3.0", "socks": "1.5"}
    pin = res.pins[canonicalize_name("req")]
    assert pin.extras == {"socks"}
    assert sorted(str(r) for r in pin.requires) == ["idna", 'socks>=1; extra == "socks"']
    assert res.graph[canonicalize_name("req")] == ("idna", "socks")


def test_extra_and_plain_requirement_share_one_version() -> None:
    index = {
        "req": [R("1.0", ('socks; extra == "socks"',), extras=("socks",)), R("2.0", extras=("socks",))],
        "socks": [R("1.0")],
        "old": [R("1.0", ("req<2",))],
    }
    res = world(index).resolve("req[socks]", "old")
    assert versions(res) == {"req": "1.0", "socks": "1.0", "old": "1.0"}


def test_missing_extra_warns_and_resolves() -> None:
    w = world(EXTRAS)
    res = w.resolve("req[nope]")
    assert versions(res) == {"req": "2.0", "idna": "3.0"}
    assert any("does not provide the extra 'nope'" in m for m in w.reporter.warnings)


def test_declared_extra_without_deps_does_not_warn() -> None:
    w = world(EXTRAS)
    w.resolve("req[all]")
    assert w.reporter.warnings == []


def test_constraint_with_extras_or_url_is_a_usage_error() -> None:
    with pytest.raises(InvalidConstraint, match="extras"):
        world(EXTRAS).resolve("req", constraints=(Requirement("req[socks]<3"),))
    with pytest.raises(InvalidConstraint, match="Links"):
        world(EXTRAS).resolve("req", constraints=(Requirement("req @ https://x.invalid/req-1.0.tar.gz"),))


# -- yanked, pre-releases, Requires-Python ----------------------------------------------------------

YANKED = {"lib": [R("1.0"), R("1.1", yanked="broken"), R("1.2", yanked="")]}


def test_yanked_skipped_unless_pinned() -> None:
    assert versions(world(YANKED).resolve("lib")) == {"lib": "1.0"}
    w = world(YANKED)
    assert versions(w.resolve("lib==1.1")) == {"lib": "1.1"}
    assert any("yanked" in m and "broken" in m for m in w.reporter.warnings)
    assert versions(world(YANKED).resolve("lib===1.2")) == {"lib": "1.2"}
    with pytest.raises(NoMatchingDistribution):
        world(YANKED).resolve("lib==1.1", allow_yanked_pinned=False)
    with pytest.raises(NoMatchingDistribution):
        world(YANKED).resolve("lib>1.0")


PRE = {"lib": [R("1.0"), R("2.0b1")], "onlypre": [R("0.1a1"), R("0.2rc1")]}


@pytest.mark.parametrize(
    ("req", "options", "expected"),
    [
        ("lib", {}, "1.0"),  # final releases only by default
        ("lib", {"pre": True}, "2.0b1"),  # --pre
        ("lib>=2.0b1", {}, "2.0b1"),  # the specifier names a pre-release
        ("lib>=1.5", {}, "2.0b1"),  # only a pre-release matches
        ("onlypre", {}, "0.2rc1"),  # only pre-releases exist
    ],
)
def test_prerelease_rules(req: str, options: dict[str, Any], expected: str) -> None:
    res = world(PRE).resolve(req, **options)
    assert str(next(iter(res.pins.values())).version) == expected


def test_requires_python_from_the_file_and_from_metadata() -> None:
    index = {
        "lib": [
            R("1.0"),
            R("2.0", file_requires_python=">=3.12"),
            R("3.0", requires_python=">=3.13"),  # only the metadata says so
        ]
    }
    assert versions(world(index).resolve("lib", minor=12)) == {"lib": "2.0"}
    assert versions(world(index).resolve("lib", minor=11)) == {"lib": "1.0"}
    with pytest.raises(
        NoMatchingDistribution, match=r"requires a different Python: 3\.11\.0 not in '>=3\.13'"
    ):
        world(index).resolve("lib==3.0", minor=11)


# -- wheel tags, sdists, binary options --------------------------------------------------------------

TAGGED = {
    "np": [
        R("1.0", tags=("cp311-cp311-manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_x86_64")),
        R("2.0", tags=("cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-win_amd64")),
        R("2.1", tags=("cp313-cp313-manylinux_2_17_x86_64",), sdist=True),
    ]
}


def test_wheel_tags_fit_the_target() -> None:
    res = world(TAGGED).resolve("np<2.1", minor=11)
    assert versions(res) == {"np": "1.0"}
    res12 = world(TAGGED).resolve("np<2.1", minor=12)
    file = res12.pins[canonicalize_name("np")].file
    assert file is not None and file.filename == "np-2.0-cp312-cp312-manylinux_2_17_x86_64.whl"


def test_best_tag_wins_within_a_version() -> None:
    index = {
        "lib": [R("1.0", tags=(PURE, "cp310-abi3-manylinux_2_17_x86_64", "cp312-abi3-manylinux_2_17_x86_64"))]
    }
    file = world(index).resolve("lib").pins[canonicalize_name("lib")].file
    assert file is not None and file.filename == "lib-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"


def test_sdist_fallback_and_prefer_binary() -> None:
    w = world(TAGGED)
    file = w.resolve("np", minor=12).pins[canonicalize_name("np")].file
    assert file is not None and file.filename == "np-2.1.tar.gz"  # newest, only an sdist fits
    assert versions(world(TAGGED).resolve("np", minor=12, prefer_binary=True)) == {"np": "2.0"}
    assert versions(world(TAGGED).resolve("np", minor=12, only_binary=frozenset({":all:"}))) == {"np": "2.0"}
    res = world(TAGGED).resolve("np", minor=12, no_binary=frozenset({"np"}))
    assert versions(res) == {"np": "2.1"}


def test_hash_pinning_selects_matching_files() -> None:
    index = {"lib": [R("1.0", sha256="a" * 64), R("2.0", sha256="b" * 64)]}
    res = world(index).resolve("lib", hashes={canonicalize_name("lib"): {"sha256": frozenset({"a" * 64})}})
    assert versions(res) == {"lib": "1.0"}
    with pytest.raises(NoMatchingDistribution, match="--hash"):
        world(index).resolve("lib==2.0", hashes={canonicalize_name("lib"): {"sha256": frozenset({"a" * 64})}})


def test_hash_pinning_keeps_files_without_a_stated_digest() -> None:
    """pip: a find-links file states no digest; it stays a candidate and is checked once read."""
    index = {"lib": [R("1.0", sha256="a" * 64), R("2.0", sha256="")]}
    wanted = {canonicalize_name("lib"): {"sha256": frozenset({"c" * 64})}}
    lib = pin(world(index).resolve("lib", hashes=wanted), "lib")
    assert str(lib.version) == "2.0" and lib.file is not None and not lib.file.hashes
    with pytest.raises(NoMatchingDistribution, match="--hash"):
        world(index).resolve("lib==1.0", hashes=wanted)  # a stated digest that differs is skipped


# -- laziness ----------------------------------------------------------------------------------------


def test_metadata_is_lazy_and_files_listed_once() -> None:
    index = {
        "a": [R(f"{i}.0", ("b",)) for i in range(1, 6)],
        "b": [R("1.0"), R("2.0", ("c==9",))],  # b 2.0 fails: forces a backtrack on b
        "c": [R("1.0")],
    }
    w = world(index)
    assert versions(w.resolve("a")) == {"a": "5.0", "b": "1.0"}
    assert w.index.fetched.count("a-5.0-py3-none-any.whl") == 1
    assert not any(f.startswith("a-1.0") for f in w.index.fetched)
    assert all(n == 1 for n in w.index.files_calls.values())


# -- direct requirements ------------------------------------------------------------------------------


def test_direct_wheel_is_pinned() -> None:
    w = world({"lib": [R("1.0"), R("2.0"), R("3.0")]})
    local = DistFile(url="file:///tmp/wheels/lib-2.0-py3-none-any.whl", filename="lib-2.0-py3-none-any.whl")
    w.index._metadata[local.filename] = w.index._metadata["lib-2.0-py3-none-any.whl"]
    request = ResolveRequest(
        requirements=(DirectRequirement(canonicalize_name("lib"), local), Requirement("lib>=1")),
        target=target(),
    )
    res = resolve(request, layers=w.layers, store=w.store, index=w.index)
    pin = res.pins[canonicalize_name("lib")]
    assert pin.direct and pin.file == local and str(pin.version) == "2.0"


def test_direct_wheel_for_another_platform_is_refused() -> None:
    w = world({})
    bad = DistFile(
        url="file:///w/lib-1.0-cp312-cp312-win_amd64.whl", filename="lib-1.0-cp312-cp312-win_amd64.whl"
    )
    request = ResolveRequest(
        requirements=(DirectRequirement(canonicalize_name("lib"), bad),), target=target()
    )
    with pytest.raises(IncompatibleWheel):
        resolve(request, layers=w.layers, store=w.store, index=w.index)


def test_option_spellings_are_normalised() -> None:
    from forge_pip.resolve import UpgradeStrategy

    request = ResolveRequest(requirements=(), target=target(), upgrade_strategy="eager")  # type: ignore[arg-type]
    assert request.upgrade_strategy is UpgradeStrategy.EAGER
    res = world(TAGGED).resolve("np", minor=12, only_binary=frozenset({"NP"}))
    assert versions(res) == {"np": "2.0"}
    index = {"lib": [R("1.0", sha256="a" * 64), R("2.0", sha256="b" * 64)]}
    res = world(index).resolve("lib", hashes={"LIB": {"sha256": frozenset({"A" * 64})}})
    assert versions(res) == {"lib": "1.0"}
