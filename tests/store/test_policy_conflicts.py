"""Conflict modes through ``forge``: shadowing and requirement breaks across layers, per mode.

Each case runs the real ``forge`` CLI in a subprocess on wheels the tests build: ``strict`` refuses
(exit 4, the chain under the error line, the env byte-identical, the catalog and the store as they
were), ``warn`` installs and prints ``warning: ...``, ``loose`` installs and says nothing. A change
in a parent is judged in every descendant's stack too; an uninstall is judged like an install.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from forge_store.store import Store
from tests.conftest import forge_cli
from tests.support.wheels import make_wheel


def whl(wheel_dir: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> str:
    mod = name.replace("-", "_")
    files = {f"{mod}/__init__.py": f"V = {version!r}\n"}
    out = wheel_dir / f"{name}-{version}"
    return str(make_wheel(out, name, version, files=files, requires=requires))


def ok(*args: str) -> Any:
    proc = forge_cli(*args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every path under ``root``: its kind and link target or content hash (bytes, not mtimes)."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", oct(p.stat().st_mode))
            else:
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def catalog_state(home: Path) -> tuple[object, ...]:
    with Store(home) as store:
        links = {e.name: sorted(map(repr, store.catalog.links(e.name))) for e in store.envs()}
        return (links, sorted(e.id for e in store.entries()))


@pytest.fixture
def world(forge_home: Path, wheel_dir: Path) -> dict[str, str]:
    """base: lib 1.0 and app 1.0 (requires lib<2); the wheels of lib 1.5 and 2.0."""
    w = {
        "lib1": whl(wheel_dir, "lib", "1.0"),
        "lib15": whl(wheel_dir, "lib", "1.5"),
        "lib2": whl(wheel_dir, "lib", "2.0"),
        "app": whl(wheel_dir, "app", "1.0", ("lib<2",)),
        "tool": whl(wheel_dir, "tool", "1.0", ("app",)),
    }
    ok("create", "base", "-q")
    ok("install", w["lib1"], w["app"], "--env", "base", "-q")
    return w


def test_broken_requirement_across_layers_in_each_mode(world: dict[str, str], forge_home: Path) -> None:
    for mode in ("strict", "warn", "loose"):
        ok("create", f"k-{mode}", "--parent", "base", "-q")
    env = forge_home / "envs" / "k-strict"
    before, cat = snapshot(env), catalog_state(forge_home)
    # strict (the env's setting): refused with the chain, nothing changed anywhere
    ok("env", "set", "k-strict", "conflict_mode", "strict")
    proc = forge_cli("install", world["lib2"], "--env", "k-strict", "--local")
    assert proc.returncode == 4, proc.stderr
    first, *chain = proc.stderr.splitlines()
    assert first.startswith(
        "forge: error: refused (conflict_mode strict): app 1.0 (parent 'base') requires lib<2,"
        " but 'k-strict' has lib 2.0 (local 'k-strict') (hint: nothing was changed;"
    ), first
    assert chain == ["  app 1.0 requires lib<2", "  lib 2.0 in 'k-strict' shadows 1.0 in 'base'"]
    assert snapshot(env) == before and catalog_state(forge_home) == cat
    # the same through the pip path (a requirement, not a file) and with --json: the error document
    found = str(Path(world["lib2"]).parent)
    proc = forge_cli(
        "install", "lib==2.0", "--no-index", "-f", found, "--env", "k-strict", "--local", "--json"
    )
    assert proc.returncode == 4, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "error" and doc["error"]["reference"] == "policy-refused"
    assert [(f["kind"], f["env"], f["subject"]) for f in doc["error"]["findings"]] == [
        ("broken-requirement", "k-strict", "app")
    ]
    assert doc["error"]["findings"][0]["chain"][0] == "app 1.0 requires lib<2"
    assert snapshot(env) == before and catalog_state(forge_home) == cat
    # warn (the flag; the env's setting is the default): installed, a warning line per finding
    proc = ok("install", world["lib2"], "--env", "k-warn", "--local", "--mode", "warn")
    assert proc.stderr.splitlines() == [
        "warning: app 1.0 (parent 'base') requires lib<2, but 'k-warn' has lib 2.0 (local 'k-warn')",
        "warning: lib 2.0 (local 'k-warn') shadows lib 1.0 (parent 'base')",
    ]
    assert "linked: lib 2.0" in proc.stdout
    # loose: installed, silent
    proc = ok("install", world["lib2"], "--env", "k-loose", "--local", "--conflict-mode", "loose")
    assert proc.stderr == "" and "linked: lib 2.0" in proc.stdout
    # a flag wins over the env's setting: strict env, --mode warn installs
    proc = ok("install", world["lib2"], "--env", "k-strict", "--local", "--mode", "warn", "--json")
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "install"
    assert [(f["kind"], f["subject"]) for f in doc["findings"]] == [
        ("broken-requirement", "app"),
        ("shadowed", "lib"),  # asked for with --local: warned, never refused
    ]
    assert doc["warnings"] == [f["message"] for f in doc["findings"]]
    # a bad value is a usage error that changes nothing
    proc = forge_cli("install", world["lib15"], "--env", "k-loose", "--mode", "harsh")
    assert proc.returncode == 2 and "invalid choice: 'harsh'" in proc.stderr


def test_shadowing_in_each_mode_and_local(world: dict[str, str], forge_home: Path) -> None:
    """lib 1.5 in a child meets app's lib<2: only the shadowing itself is found."""
    for mode in ("strict", "warn", "loose"):
        ok("create", f"s-{mode}", "--parent", "base", "-q")
        ok("env", "set", f"s-{mode}", "conflict_mode", mode)
    env = forge_home / "envs" / "s-strict"
    before, cat = snapshot(env), catalog_state(forge_home)
    # strict without --local: an override nobody asked for is refused
    proc = forge_cli("install", world["lib15"], "--env", "s-strict")
    assert proc.returncode == 4
    refused = "forge: error: refused (conflict_mode strict): "
    assert proc.stderr.splitlines()[0].startswith(
        refused + "lib 1.5 (local 's-strict') shadows lib 1.0 (parent 'base')"
    )
    assert proc.stderr.splitlines()[1:] == ["  lib 1.0 in 'base' is hidden by 's-strict'"]
    assert snapshot(env) == before and catalog_state(forge_home) == cat
    # strict with --local: the override is the user's decision, shown as a warning
    proc = ok("install", world["lib15"], "--env", "s-strict", "--local")
    assert "warning: lib 1.5 (local 's-strict') shadows lib 1.0 (parent 'base')" in proc.stderr
    proc = ok("install", world["lib15"], "--env", "s-warn")
    assert "warning: lib 1.5 (local 's-warn') shadows lib 1.0 (parent 'base')" in proc.stderr
    proc = ok("install", world["lib15"], "--env", "s-loose")
    assert "warning" not in proc.stderr
    # the same version as the parent's is no override: the parent provides it, nothing is found
    ok("create", "same", "--parent", "base", "-q")
    proc = ok("install", world["lib1"], "--env", "same", "--mode", "strict")
    assert "provided by parent base: lib 1.0" in proc.stdout and proc.stderr == ""


def test_a_parent_change_is_judged_in_every_descendant(world: dict[str, str], forge_home: Path) -> None:
    """base upgrades lib to 2.0 while its child's app requires lib<2 (the child holds app)."""
    ok("create", "root", "-q")
    ok("install", world["lib1"], "--env", "root", "-q")
    ok("create", "leaf", "--parent", "root", "-q")
    ok("install", world["app"], "--env", "leaf", "-q")
    ok("create", "deeper", "--parent", "leaf", "-q")  # a grandchild sees the same break
    root = forge_home / "envs" / "root"
    before, cat = snapshot(root), catalog_state(forge_home)
    proc = forge_cli("install", world["lib2"], "--env", "root", "--mode", "strict")
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(
        "forge: error: refused (conflict_mode strict): app 1.0 (local 'leaf') requires lib<2, but 'leaf'"
        " has lib 2.0 (parent 'root') (and 1 more) (hint: nothing was changed;"
        " see `forge inspect app --env leaf`"  # the env whose stack breaks, not the one changed
    ), lines[0]
    assert lines[1:] == [
        "  app 1.0 requires lib<2",
        "  lib 2.0 is the only one, in 'root'",
        "  also: app 1.0 (parent 'leaf') requires lib<2, but 'deeper' has lib 2.0 (parent 'root')",
        "    app 1.0 requires lib<2",
        "    lib 2.0 is the only one, in 'root'",
    ]
    assert snapshot(root) == before and catalog_state(forge_home) == cat
    proc = ok("install", world["lib2"], "--env", "root", "--mode", "warn", "--json")
    doc = json.loads(proc.stdout)
    assert {(f["env"], f["subject"]) for f in doc["findings"]} == {("leaf", "app"), ("deeper", "app")}
    assert "replaced" in {a["action"] for a in doc["actions"]}


def test_a_strict_child_is_protected_from_a_warn_parent(world: dict[str, str], forge_home: Path) -> None:
    """The child's own settings judge what a parent's change does to the child's stack when they
    are stricter than the command's: a strict child refuses the break; a warn child only warns."""
    ok("create", "root", "-q")
    ok("install", world["lib1"], "--env", "root", "-q")
    ok("create", "leaf", "--parent", "root", "-q")
    ok("install", world["app"], "--env", "leaf", "-q")
    ok("env", "set", "leaf", "conflict_mode", "strict")
    root = forge_home / "envs" / "root"
    before, cat = snapshot(root), catalog_state(forge_home)
    proc = forge_cli("install", world["lib2"], "--env", "root")  # root's own mode: warn
    assert proc.returncode == 4, proc.stderr
    assert "refused (conflict_mode strict): app 1.0 (local 'leaf') requires lib<2" in proc.stderr
    assert "forge env set leaf conflict_mode" in proc.stderr
    assert snapshot(root) == before and catalog_state(forge_home) == cat
    # the child overriding lib itself is its own choice: a parent change that makes the child's
    # copy shadow another version is shown, not refused
    ok("install", world["lib15"], "--env", "leaf", "--local", "-q")
    proc = ok("install", world["lib2"], "--env", "root")
    assert "shadows" in proc.stderr, proc.stderr
    ok("env", "set", "leaf", "conflict_mode", "warn")


def test_uninstall_that_breaks_a_child(world: dict[str, str], forge_home: Path) -> None:
    ok("create", "kid", "--parent", "base", "-q")
    ok("install", world["tool"], "--env", "kid", "-q")  # tool needs app, which base provides
    base = forge_home / "envs" / "base"
    before, cat = snapshot(base), catalog_state(forge_home)
    proc = forge_cli("uninstall", "app", "--env", "base", "--mode", "strict")
    assert proc.returncode == 4, proc.stderr
    assert (
        "refused (conflict_mode strict): tool 1.0 (local 'kid') requires app, which is not installed in"
        " any layer of 'kid'"
    ) in proc.stderr
    assert snapshot(base) == before and catalog_state(forge_home) == cat
    proc = ok("uninstall", "app", "--env", "base", "--json")  # base's default mode: warn
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "uninstall"
    assert [(f["kind"], f["env"], f["subject"]) for f in doc["findings"]] == [
        ("broken-requirement", "kid", "tool")
    ]
    assert [a["action"] for a in doc["actions"]] == ["unlinked"]


def test_inspect_and_tree_findings_carry_the_verdict_of_the_mode(
    world: dict[str, str], forge_home: Path
) -> None:
    ok("create", "kid", "--parent", "base", "-q")
    ok("install", world["lib2"], "--env", "kid", "--local", "--mode", "loose")
    verdicts = {}
    for mode in ("loose", "warn", "strict"):
        doc = json.loads(ok("inspect", "lib", "--env", "kid", "--json", "--mode", mode).stdout)
        verdicts[mode] = {(f["kind"], f["subject"], f["verdict"]) for f in doc["findings"]}
    assert verdicts == {
        "loose": {("broken-requirement", "app", "ignore"), ("shadowed", "lib", "ignore")},
        "warn": {("broken-requirement", "app", "warn"), ("shadowed", "lib", "warn")},
        "strict": {("broken-requirement", "app", "refuse"), ("shadowed", "lib", "refuse")},
    }
    proc = ok("inspect", "lib", "--env", "kid", "--conflict-mode", "strict")
    assert proc.stderr.splitlines() == [
        "conflict (strict would refuse): app 1.0 (parent 'base') requires lib<2, but 'kid' has lib 2.0"
        " (local 'kid')",
        "  app 1.0 requires lib<2",
        "  lib 2.0 in 'kid' shadows 1.0 in 'base'",
        "conflict (strict would refuse): lib 2.0 (local 'kid') shadows lib 1.0 (parent 'base')",
        "  lib 1.0 in 'base' is hidden by 'kid'",
    ]
    doc = json.loads(ok("tree", "--env", "kid", "--json").stdout)
    assert doc["mode"] == "warn"
    assert [(f["kind"], f["verdict"]) for f in doc["findings"]] == [
        ("broken-requirement", "warn"),
        ("shadowed", "warn"),
    ]
    assert all(f["layers"] for f in doc["findings"])
    # the parent's own stack is clean: its tree has no findings
    assert json.loads(ok("tree", "--env", "base", "--json").stdout)["findings"] == []
