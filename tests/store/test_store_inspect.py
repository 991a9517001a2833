"""``forge inspect`` and ``forge tree`` over a base/child stack; every read command's ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from forge_store import stack
from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import forge_cli
from tests.support.wheels import make_wheel


def _ok(*args: str) -> str:
    proc = forge_cli(*args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def _doc(kind: str, *args: str) -> dict[str, Any]:
    out = _ok(*args, "--json")
    doc = json.loads(out)  # exactly one document: json.loads refuses trailing data
    assert isinstance(doc, dict)
    assert doc["version"] == "1" and doc["kind"] == kind, doc
    return doc


@pytest.fixture
def stacked(forge_home: Path, wheel_dir: Path) -> Path:
    """base: lib 1.0, tool (needs lib<2), extra; app on base: lib 2.0 (shadows), cli (needs lib>=2, tool)."""

    def whl(name: str, version: str, requires: tuple[str, ...] = ()) -> str:
        mod = name.replace("-", "_")
        files = {f"{mod}/__init__.py": f"V = {version!r}\n"}
        return str(make_wheel(wheel_dir / f"{name}-{version}", name, version, files=files, requires=requires))

    _ok("create", "base", "-q")
    _ok(
        "install",
        whl("lib", "1.0"),
        whl("tool", "1.0", ("lib<2", "extra; python_version < '3'")),
        "--env",
        "base",
        "-q",
    )
    _ok("create", "app", "--parent", "base", "-q")
    _ok("install", whl("lib", "2.0"), whl("cli", "1.0", ("lib>=2", "tool", "gone>=1")), "--env", "app", "-q")
    return forge_home


def test_stack_view_shadowing_and_edges(stacked: Path) -> None:
    with Store(stacked) as store:
        view = stack.build(store, store.env("app"))
    lib = view.candidates("lib")
    assert [(d.env, d.layer, d.version) for d in lib] == [
        ("app", Layer.LOCAL, "2.0"),
        ("base", Layer.PARENT, "1.0"),
    ]
    assert lib[1].shadowed_by == "app" and not lib[0].shadowed
    assert view.reason("lib") == "local layer shadows parent 'base'"
    assert {(e.target, e.resolved_version, e.satisfied) for e in view.requires("cli")} == {
        ("lib", "2.0", True),
        ("tool", "1.0", True),
        ("gone", None, False),
    }
    assert {(e.source, e.source_env, e.satisfied) for e in view.required_by("lib")} == {
        ("cli", "app", True),
        ("tool", "base", False),  # tool wants lib<2 but runs with the child's 2.0
    }
    # a marker that does not apply is no edge
    assert [e.target for e in view.requires("tool")] == ["lib"]
    assert {e.source for e in view.unsatisfied()} == {"cli", "tool"}


def test_inspect_json_lists_candidates_winner_and_edges(stacked: Path) -> None:
    doc = _doc("inspect", "inspect", "lib", "--env", "app")
    assert doc["env"] == "app" and doc["package"] == "lib" and doc["mode"] == "warn"
    assert doc["abi_policy"] == "warn_abi"
    cands = doc["candidates"]
    assert isinstance(cands, list)
    assert [(c["env"], c["layer"], c["version"]) for c in cands] == [
        ("app", "local", "2.0"),
        ("base", "parent", "1.0"),
    ]
    assert all(c["entry"] and "py3-none-any" in c["tags"] for c in cands)
    assert cands[0]["entry"] != cands[1]["entry"]
    winner = doc["winner"]
    assert isinstance(winner, dict) and winner["env"] == "app" and winner["layer"] == "local"
    assert doc["reason"] == "local layer shadows parent 'base'"
    assert doc["shadowed_sources"] == [{"env": "base", "layer": "parent", "version": "1.0"}]
    assert doc["requires"] == []
    by = {(e["from"], e["from_env"]): e for e in doc["required_by"]}
    assert by[("tool", "base")]["satisfied"] is False and by[("tool", "base")]["resolved_version"] == "2.0"
    assert by[("cli", "app")]["satisfied"] is True
    findings = doc["findings"]
    assert isinstance(findings, list)
    assert [(f["kind"], f["subject"], f["verdict"]) for f in findings] == [
        ("broken-requirement", "tool", "warn"),
        ("shadowed", "lib", "warn"),
    ]


def test_inspect_mode_changes_only_the_wording(stacked: Path) -> None:
    words = {}
    for mode in ("loose", "warn", "strict"):
        proc = forge_cli("inspect", "lib", "--env", "app", "--mode", mode, "--abi-policy", "strict_abi")
        assert proc.returncode == 0, proc.stderr
        assert "wins: 2.0 from 'app' (local layer shadows parent 'base')" in proc.stdout
        assert "ABI policy strict_abi" in proc.stdout
        words[mode] = {line.split(":")[0] for line in proc.stderr.splitlines() if not line.startswith(" ")}
    assert words == {"loose": {"note"}, "warn": {"warning"}, "strict": {"conflict (strict would refuse)"}}
    # the env's conflict_mode is the default of --mode
    _ok("env", "set", "app", "conflict_mode", "strict")
    assert _doc("inspect", "inspect", "lib", "--env", "app")["mode"] == "strict"
    # requires of a dist from the child, resolved across the stack
    doc = _doc("inspect", "inspect", "cli", "--env", "app")
    reqs = {e["to"]: (e["resolved_env"], e["satisfied"]) for e in doc["requires"]}
    assert reqs == {"lib": ("app", True), "tool": ("base", True), "gone": (None, False)}
    assert doc["reason"] == "only the local layer provides it"


def test_inspect_unknown_package_is_one_line(stacked: Path) -> None:
    proc = forge_cli("inspect", "nothing-here", "--env", "app")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "forge: error: nothing-here is not in any layer of env 'app' (hint: `forge tree --env app`)"
    ]
    proc = forge_cli("inspect", "lib", "--env", "app", "--mode", "harsh")
    assert proc.returncode == 2


def test_tree_marks_shadowed_and_lists_edges(stacked: Path) -> None:
    doc = _doc("tree", "tree", "--env", "app")
    layers = doc["layers"]
    assert isinstance(layers, list)
    assert [la["layer"] for la in layers] == ["local", "parent", "global"]
    assert [la["env"] for la in layers][:2] == ["app", "base"]
    assert layers[2]["env"].startswith("@global-") and layers[2]["packages"] == []
    pkgs = {(la["env"], p["name"]): p for la in layers for p in la["packages"]}
    assert pkgs[("base", "lib")]["shadowed"] is True and pkgs[("base", "lib")]["shadowed_by"] == "app"
    assert pkgs[("app", "lib")]["shadowed"] is False
    assert pkgs[("base", "tool")]["shadowed"] is False
    assert ("app", "pip") in pkgs and pkgs[("app", "pip")]["origin"] == "forge-front-end"
    assert pkgs[("base", "pip")]["shadowed_by"] == "app"
    edges = {(e["from"], e["to"]): e["satisfied"] for e in doc["edges"]}
    assert edges == {
        ("cli", "lib"): True,
        ("cli", "tool"): True,
        ("cli", "gone"): False,
        ("tool", "lib"): False,
    }
    text = _ok("tree", "--env", "app")
    assert "  lib 1.0  [shadowed by app]" in text
    assert "\nGLOBAL @global-" in text
    assert "-> lib<2: 2.0 (app)  NOT satisfied" in text


def test_every_read_command_prints_one_versioned_document(stacked: Path) -> None:
    for kind, args in (
        ("envs", ("envs",)),
        ("list", ("list", "--env", "app")),
        ("export", ("export", "--env", "app")),
        ("env-settings", ("env", "get", "app")),
        ("env-settings", ("env", "get", "app", "layering")),
        ("inspect", ("inspect", "lib", "--env", "app")),
        ("tree", ("tree", "--env", "app")),
    ):
        _doc(kind, *args)


def test_quick_start(forge_home: Path) -> None:
    _ok("create", "base")
    _ok("create", "app", "--parent", "base")
    _ok("env", "set", "app", "abi_policy", "warn_abi")
    _ok("activate", "app")
    out = _ok("inspect", "pip", "--env", "app", "--mode", "warn")
    assert "Forge's pip front end" in out
    doc = _doc("inspect", "inspect", "pip", "--env", "app", "--mode", "warn")
    assert doc["winner"]["origin"] == "forge-front-end"
    assert doc["winner"]["env"] == "app" and doc["findings"] == []
