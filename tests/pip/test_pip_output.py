"""pip's output shapes, as pure functions: install order, origins, conflict warnings, error lines.

The compatibility suite (``tests/compat``) compares whole runs with real pip; these pin the rules
themselves on small inputs, including cases the package world there does not have (cycles,
several hash algorithms, credentials in index URLs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from forge_pip.cli.pip_errors import render
from forge_pip.cli.pip_hash import cmd_hash
from forge_pip.cli.pip_inspect import pip_table
from forge_pip.cli.pip_output import conflict_lines, install_order, looking_in, origins
from forge_pip.index.errors import RequirementHashMismatch
from forge_pip.install import IndexOptions
from forge_pip.reqfile import parse_requirement_line
from forge_pip.resolve import Origin, Pin, Resolution
from forge_pip.resolve.errors import NoMatchingDistribution, ResolutionError
from forge_store.errors import UsageError
from tests.pip.conftest import Result


def nn(name: str) -> NormalizedName:
    return NormalizedName(name)


def test_install_order_is_pips_topological_weights() -> None:
    # pip: leaves (no dependency left) first, round after round; ties by reverse name
    graph = {nn("alpha"): (nn("beta"),), nn("beta"): (), nn("gamma"): (), nn("cli"): ()}
    assert install_order(graph, graph) == ["gamma", "cli", "beta", "alpha"]
    graph = {nn("app"): (nn("beta"), nn("tool")), nn("beta"): (), nn("tool"): ()}
    assert install_order(graph, graph) == ["tool", "beta", "app"]
    # only what is installed is listed; a dependency already satisfied still shapes the order
    assert install_order(graph, ["app"]) == ["app"]


def test_install_order_survives_a_cycle() -> None:
    graph = {nn("a"): (nn("b"),), nn("b"): (nn("a"),), nn("c"): ()}
    assert install_order(graph, graph) == ["c", "b", "a"]


def _pin(name: str, version: str, requires: tuple[str, ...] = (), requested: bool = False) -> Pin:
    return Pin(
        name=nn(name),
        version=Version(version),
        origin=Origin.INDEX,
        requested=requested,
        requires=tuple(Requirement(r) for r in requires),
    )


def test_origins_follow_pips_comes_from_chain() -> None:
    pins = {
        nn("alpha"): _pin("alpha", "1.0", ("beta>=1",), requested=True),
        nn("beta"): _pin("beta", "2.0", ("Mixed_Case",)),
        nn("mixed-case"): _pin("mixed-case", "1.0"),
    }
    resolution = Resolution(pins=pins, graph={})
    roots = [parse_requirement_line("alpha", "req.txt:3")]
    found = origins(resolution, roots)
    assert found["alpha"].suffix() == " (from -r req.txt (line 3))"
    assert (found["beta"].text, found["beta"].suffix()) == ("beta>=1", " (from alpha->-r req.txt (line 3))")
    assert found["mixed-case"].suffix() == " (from beta>=1->alpha->-r req.txt (line 3))"
    assert found["mixed-case"].written == "Mixed_Case"  # the name as the requirement spells it
    command_line = origins(resolution, [parse_requirement_line("alpha", "alpha", with_options=False)])
    assert command_line["alpha"].suffix() == "" and command_line["beta"].suffix() == " (from alpha)"


def test_conflict_lines_name_the_dists_the_install_broke() -> None:
    dists = {
        "oldbeta": ("oldbeta", "1.0", [Requirement("beta<2")]),
        "beta": ("beta", "2.0", []),
        "other": ("Other", "1.0", [Requirement("missing")]),  # unrelated: pip does not report it
    }
    lines = conflict_lines(dists, ["beta"])
    assert lines[0].startswith("ERROR: pip's dependency resolver does not currently take into account")
    assert lines[1:] == ["oldbeta 1.0 requires beta<2, but you have beta 2.0 which is incompatible."]
    assert conflict_lines(dists, ["other"])[1:] == ["Other 1.0 requires missing, which is not installed."]
    assert conflict_lines({"beta": ("beta", "2.0", [])}, ["beta"]) == []


def test_looking_in_lines_hide_pypi_alone_and_passwords() -> None:
    assert looking_in(IndexOptions(index_urls=("https://pypi.org/simple",))) == []
    index = IndexOptions(
        index_urls=("https://user:secret@example.org/simple", "https://pypi.org/simple"),
        find_links=("/wheels",),
    )
    assert looking_in(index) == [
        "Looking in indexes: https://user:****@example.org/simple, https://pypi.org/simple",
        "Looking in links: /wheels",
    ]
    assert looking_in(IndexOptions(index_urls=(), find_links=("/w",))) == ["Looking in links: /w"]


def test_errors_are_rendered_as_pip_prints_them() -> None:
    nomatch = NoMatchingDistribution(
        "No matching distribution found for beta==0.0.1 (from versions: 1.0, 2.0)\nSkipped files: a; b",
        requirement="beta==0.0.1",
        versions=("1.0", "2.0"),
        skipped=("a", "b"),
    )
    assert render(nomatch) == [
        "ERROR: Could not find a version that satisfies the requirement beta==0.0.1"
        " (from versions: 1.0, 2.0)",
        "ERROR: No matching distribution found for beta==0.0.1",
    ]
    assert "Skipped files: a; b" in render(nomatch, verbose=1)  # the long list only with -v
    conflict = ResolutionError(
        "Cannot install a because these package versions have conflicting dependencies.\n"
        "The conflict is caused by:\n    The user requested a"
    )
    lines = render(conflict)
    assert lines[0].startswith("ERROR: Cannot install a because") and lines[-1].startswith(
        "ERROR: ResolutionImpossible: for help visit"
    )
    mismatch = RequirementHashMismatch(
        "gamma-1.0-py3-none-any.whl",
        "https://u:pw@host/gamma-1.0-py3-none-any.whl",
        {"sha256": ["00", "11"]},
        {"sha256": "ff"},
    )
    assert render(mismatch) == [
        "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated"
        " the package versions, please update the hashes. Otherwise, examine the package contents"
        " carefully; someone may have tampered with them.",
        "    gamma==1.0 from https://u:****@host/gamma-1.0-py3-none-any.whl:",
        "        Expected sha256 00",
        "        Expected     or 11",
        "             Got        ff",
    ]
    assert render(UsageError("two\nlines", hint="do this")) == ["ERROR: two", "lines", "hint: do this"]


def test_pip_table_is_one_space_apart() -> None:
    assert pip_table([["alpha", "1.0"], ["Mixed_Case", "10.2"]], ["Package", "Version"]).splitlines() == [
        "Package    Version",
        "---------- -------",
        "alpha      1.0",
        "Mixed_Case 10.2",
    ]


def test_hash_prints_pips_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.whl"
    f.write_bytes(b"abc")
    ns = argparse.Namespace(files=[str(f)], algorithm="sha256", quiet=0)
    assert cmd_hash(ns) == 0
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert capsys.readouterr().out == f"{f}:\n--hash=sha256:{digest}\n"


def test_cache_remove_takes_pips_pattern(
    pip: Callable[..., Result], forge_home: Path, hermetic_pip: None
) -> None:
    from forge_store.home import ForgeHome

    built = ForgeHome(forge_home).cache / "built" / "ab"
    built.mkdir(parents=True)
    for name in (
        "tiny_pkg-1.0-py3-none-any.whl",
        "tiny_pkg-2.0-py3-none-any.whl",
        "other-1.0-py3-none-any.whl",
    ):
        (built / name).write_bytes(b"x")
    r = pip("cache", "remove", "tiny-pkg")
    assert (r.code, r.out) == (0, "Files removed: 2\n")
    assert sorted(p.name for p in built.iterdir()) == ["other-1.0-py3-none-any.whl"]
    r = pip("cache", "remove", "nothing")
    assert r.code == 1 and r.err == "ERROR: No matching packages\n"
    r = pip("cache", "remove", "../x")
    assert r.code == 1
    r = pip("cache")
    assert r.code == 1 and r.err.startswith("ERROR: Need an action")
