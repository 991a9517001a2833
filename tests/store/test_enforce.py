"""``forge --enforce`` / ``--enforce-profile warn|strict`` (issue #8 point 6), the global ``-q``/``-v``,
and ``forge doctor``'s ``layers`` section.

The stack: ``base`` holds lib 1.0, app 1.0 (requires ``lib<2``) and free 1.0 (nobody requires it);
children override lib 2.0 (a broken requirement and a shadowing: exit 30) or free 2.0 (a shadowing
only: exit 35). The kinds other checks find (ABI 31, CUDA 32, ``$ORIGIN`` 33, system soname 34) are
driven through the same functions the CLI uses with synthetic findings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_pip.cli import enforce as cli_enforce
from forge_pip.cli import forge as forge_cli_mod
from forge_pip.cli import globals as globals_
from forge_pip.cli.globals import GlobalOptions
from forge_store import enforce
from forge_store.errors import UsageError
from forge_store.models import EnvInfo, EnvKind, Interpreter, LayeringMode, LinkMode
from forge_store.policy import (
    EXIT_CODES,
    Finding,
    Kind,
    Policy,
    PolicyRefused,
    Verdict,
    judge,
)
from forge_store.settings import AbiPolicy, ConflictMode
from tests.conftest import forge_cli
from tests.support.wheels import make_wheel

# -- the stack -----------------------------------------------------------------------------------


class Stack:
    def __init__(self, wheel_dir: Path) -> None:
        self.dir = wheel_dir
        self.lib1 = self._whl("lib", "1.0")
        self.lib2 = self._whl("lib", "2.0")
        self.app = self._whl("app", "1.0", ("lib<2",))
        self.free1 = self._whl("free", "1.0")
        self.free2 = self._whl("free", "2.0")

    def _whl(self, name: str, version: str, requires: tuple[str, ...] = ()) -> str:
        out = self.dir / f"{name}-{version}"
        out.mkdir()
        files = {f"{name}/__init__.py": f"V = {version!r}\n"}
        return str(make_wheel(out, name, version, files=files, requires=requires))

    def index(self, name: str, version: str) -> str:
        """A find-links directory holding only that wheel (the pip path's source)."""
        return str(self.dir / f"{name}-{version}")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return forge_cli(*args)


def ok(*args: str) -> str:
    proc = run(*args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def doc(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    out = json.loads(proc.stdout)  # exactly one document
    assert isinstance(out, dict) and out["version"] == "1", out
    return out


def local_versions(env: str) -> dict[str, str]:
    d = doc(run("list", "--env", env, "--json"))
    return {p["name"]: p["version"] for p in d["packages"] if p["layer"] == "local" and p["name"] != "pip"}


@pytest.fixture
def stack(forge_home: Path, wheel_dir: Path) -> Iterator[Stack]:
    s = Stack(wheel_dir)
    ok("create", "base", "-q")
    ok("install", s.lib1, s.app, s.free1, "--env", "base", "-q")
    yield s


def _child(name: str, mode: str | None = None) -> None:
    ok("create", name, "--parent", "base", "-q")
    if mode is not None:
        ok("env", "set", name, "conflict_mode", mode, "-q")


@pytest.fixture
def broken(stack: Stack) -> Stack:
    """``kid`` (default mode warn) overrides lib 2.0, installed while it was loose (silently)."""
    _child("kid", "loose")
    proc = run("install", "--env", "kid", stack.lib2, "--local")
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    ok("env", "unset", "kid", "conflict_mode", "-q")
    return stack


# -- doctor ------------------------------------------------------------------------------------------


def test_doctor_lists_stack_findings_in_layers_and_exits_0(broken: Stack) -> None:
    proc = run("doctor")
    assert proc.returncode == 0, proc.stderr
    assert "layers: 2 finding(s)" in proc.stdout
    assert "warning  broken-requirement   kid: app 1.0 (parent 'base') requires lib<2" in proc.stdout
    assert "lib 2.0 in 'kid' shadows 1.0 in 'base'" in proc.stdout  # the chain, indented
    assert "warning  shadowed" in proc.stdout
    assert "healthy: no findings" in proc.stdout
    d = doc(run("doctor", "--json"))
    assert d["healthy"] is True and d["findings"] == [] and "enforce" not in d
    assert d["summary"]["layer_findings"] == 2
    layers = d["layers"]
    assert layers["envs"] == ["kid"]
    assert [(f["kind"], f["env"], f["subject"], f["verdict"]) for f in layers["findings"]] == [
        ("broken-requirement", "kid", "app", "warn"),
        ("shadowed", "kid", "lib", "warn"),
    ]
    assert layers["findings"][0]["enforce_exit_code"] == 30
    assert layers["findings"][0]["chain"] == [
        "app 1.0 requires lib<2",
        "lib 2.0 in 'kid' shadows 1.0 in 'base'",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("--enforce", "doctor"),
        ("doctor", "--enforce"),
        ("-q", "--enforce", "doctor"),
        ("--enforce-profile", "warn", "doctor"),
        ("doctor", "--enforce-profile=strict"),
    ],
)
def test_enforce_doctor_exits_30(broken: Stack, args: tuple[str, ...]) -> None:
    proc = run(*args)
    assert proc.returncode == 30, (proc.stdout, proc.stderr)
    assert "enforce" in proc.stderr and "exit 30 (broken-requirement)" in proc.stderr
    assert "app 1.0 (parent 'base') requires lib<2" in proc.stderr


def test_enforce_doctor_json_carries_the_decision(broken: Stack) -> None:
    proc = run("--enforce-profile", "strict", "doctor", "--json")
    assert proc.returncode == 30
    d = doc(proc)
    assert d["kind"] == "doctor" and d["healthy"] is True
    # under the strict profile the env is judged as strict: what it holds would be refused now
    assert {f["verdict"] for f in d["layers"]["findings"]} == {"refuse"}
    e = d["enforce"]
    assert e["profile"] == "strict" and e["exit_code"] == 30
    assert [f["kind"] for f in e["findings"]] == ["broken-requirement", "shadowed"]
    plain = doc(run("--enforce", "doctor", "--json"))
    assert plain["enforce"]["profile"] is None and plain["enforce"]["exit_code"] == 30


def test_doctor_fix_leaves_layer_findings_alone(broken: Stack) -> None:
    proc = run("doctor", "--fix")
    assert proc.returncode == 0, proc.stderr
    assert "layers: 2 finding(s)" in proc.stdout
    assert local_versions("kid") == {"lib": "2.0"}
    assert run("--enforce", "doctor", "--fix").returncode == 30
    assert doc(run("doctor", "--json"))["summary"]["layer_findings"] == 2


def test_loose_env_counts_only_under_a_profile(stack: Stack) -> None:
    _child("kid", "loose")
    ok("install", "--env", "kid", stack.lib2, "--local", "-q")
    proc = run("--enforce", "doctor")
    assert proc.returncode == 0, proc.stderr  # loose: its findings are notes, not warnings
    assert "note     broken-requirement" in proc.stdout
    assert doc(run("--enforce", "doctor", "--json"))["enforce"] == {
        "profile": None,
        "exit_code": 0,
        "findings": [],
    }
    for profile in ("warn", "strict"):
        assert run("--enforce-profile", profile, "doctor").returncode == 30


def test_doctor_drift_and_layer_findings_together(broken: Stack, forge_home: Path) -> None:
    site = next((forge_home / "envs" / "base").glob("lib/python3.*/site-packages"))
    (site / "free").unlink()  # a link the catalog places: drift, exit 11
    assert run("doctor").returncode == 11
    # a read command's "found something" code is a result: the enforce code replaces it
    proc = run("--enforce", "doctor", "--json")
    assert proc.returncode == 30
    d = doc(proc)
    assert d["healthy"] is False and d["enforce"]["exit_code"] == 30


def test_doctor_says_which_stacks_it_could_not_check(broken: Stack, forge_home: Path) -> None:
    (forge_home / "config.json").write_text("{not json", encoding="utf-8")
    proc = run("doctor")
    assert proc.returncode == 0, proc.stderr  # nothing is damaged
    assert "layers: env 'kid' not checked:" in proc.stdout and "not a readable Forge config" in proc.stdout
    d = doc(run("doctor", "--json"))
    assert {u["env"] for u in d["layers"]["unchecked"]} == {"base", "kid"}
    # enforcement cannot vouch for what it could not read: it fails closed
    assert run("--enforce", "doctor").returncode == 1


# -- installs ----------------------------------------------------------------------------------------


def test_strict_profile_refuses_the_install_and_changes_nothing(stack: Stack) -> None:
    for mode in ("loose", None):  # a loose env is raised to strict too
        name = f"k-{mode or 'default'}"
        _child(name, mode)
        proc = run("--enforce-profile", "strict", "install", "--env", name, stack.lib2, "--local")
        assert proc.returncode == 4, (proc.stdout, proc.stderr)
        assert "refused (conflict_mode strict): app 1.0 (parent 'base') requires lib<2" in proc.stderr
        assert local_versions(name) == {}
        # the pip path (requirements through the resolver) too, flag after the command
        proc = run(
            "install",
            "lib==2.0",
            "--no-index",
            "-f",
            stack.index("lib", "2.0"),
            "--env",
            name,
            "--local",
            "--enforce-profile",
            "strict",
        )
        assert proc.returncode == 4, (proc.stdout, proc.stderr)
        assert local_versions(name) == {}
    # a refusal under --json is an error document (its code is the exit code), no enforce member
    proc = run(
        "--enforce-profile", "strict", "install", "--env", "k-default", stack.lib2, "--local", "--json"
    )
    assert proc.returncode == 4
    d = doc(proc)
    assert d["kind"] == "error" and d["error"]["exit_code"] == 4 and "enforce" not in d


def test_warn_profile_proceeds_and_exits_30(stack: Stack) -> None:
    _child("kid", "loose")
    proc = run("--enforce-profile", "warn", "install", "--env", "kid", stack.lib2, "--local", "--json")
    assert proc.returncode == 30, (proc.stdout, proc.stderr)
    d = doc(proc)
    assert d["kind"] == "install" and d["enforce"]["profile"] == "warn" and d["enforce"]["exit_code"] == 30
    assert [f["kind"] for f in d["enforce"]["findings"]] == ["broken-requirement", "shadowed"]
    assert local_versions("kid") == {"lib": "2.0"}
    # without a profile the loose env stays silent and exits 0
    _child("kid2", "loose")
    proc = run("--enforce", "install", "--env", "kid2", stack.lib2, "--local")
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_enforce_install_in_a_warn_env_exits_30_on_both_paths(stack: Stack) -> None:
    _child("kid")
    proc = run("--enforce", "install", "--env", "kid", stack.lib2, "--local")
    assert proc.returncode == 30, (proc.stdout, proc.stderr)
    assert "warning: app 1.0 (parent 'base') requires lib<2" in proc.stderr
    assert "forge: enforce: exit 30 (broken-requirement)" in proc.stderr
    assert local_versions("kid") == {"lib": "2.0"}
    # forge pip install: the resolver path; --enforce after the command
    _child("kid2")
    proc = run(
        "pip",
        "install",
        "--env",
        "kid2",
        "--no-index",
        "-f",
        stack.index("lib", "2.0"),
        "lib==2.0",
        "--local",
        "--enforce",
    )
    assert proc.returncode == 30, (proc.stdout, proc.stderr)
    assert local_versions("kid2") == {"lib": "2.0"}
    # the same install without --enforce: warned, exit 0 (exit codes unchanged)
    _child("kid3")
    proc = run("install", "--env", "kid3", stack.lib2, "--local")
    assert proc.returncode == 0 and "warning: app 1.0" in proc.stderr


def test_strict_env_stays_strict_under_the_warn_profile(stack: Stack) -> None:
    """The profile raises modes, never lowers them: a CI flag does not let through what the env refuses."""
    _child("kid", "strict")
    proc = run("--enforce-profile", "warn", "install", "--env", "kid", stack.lib2, "--local")
    assert proc.returncode == 4, proc.stderr
    assert local_versions("kid") == {}


def test_shadowing_alone_exits_35(stack: Stack) -> None:
    _child("kid")
    proc = run("--enforce", "install", "--env", "kid", stack.free2, "--local", "--json")
    assert proc.returncode == 35, (proc.stdout, proc.stderr)
    assert [f["kind"] for f in doc(proc)["enforce"]["findings"]] == ["shadowed"]
    assert run("--enforce", "doctor").returncode == 35
    assert run("--enforce", "tree", "--env", "kid").returncode == 35
    # strict profile: an override asked for with --local is shown, never refused -> proceeds, 35
    _child("kid2")
    proc = run("--enforce-profile", "strict", "install", "--env", "kid2", stack.free2, "--local")
    assert proc.returncode == 35, proc.stderr
    assert local_versions("kid2") == {"free": "2.0"}
    # ... but an override not asked for is refused under strict
    _child("kid3")
    proc = run("--enforce-profile", "strict", "install", "--env", "kid3", stack.free2)
    assert proc.returncode == 4, proc.stderr
    assert "refused (conflict_mode strict): free 2.0 (local 'kid3') shadows free 1.0" in proc.stderr
    assert local_versions("kid3") == {}


def test_enforce_uninstall_that_breaks_a_requirement(stack: Stack) -> None:
    ok("create", "solo", "-q")
    ok("install", stack.lib1, stack.app, "--env", "solo", "-q")
    proc = run("--enforce", "uninstall", "lib", "--env", "solo")
    assert proc.returncode == 30, (proc.stdout, proc.stderr)
    assert "which is not installed in any layer" in proc.stderr
    ok("install", stack.lib1, "--env", "solo", "-q")
    assert run("--enforce-profile", "strict", "uninstall", "lib", "--env", "solo").returncode == 4
    assert local_versions("solo") == {"app": "1.0", "lib": "1.0"}


# -- read commands -------------------------------------------------------------------------------


def test_read_commands_exit_with_the_table_code(broken: Stack) -> None:
    assert run("tree", "--env", "kid").returncode == 0
    assert run("--enforce", "tree", "--env", "kid").returncode == 30
    proc = run("tree", "--env", "kid", "--json", "--enforce-profile", "warn")
    assert proc.returncode == 30
    assert doc(proc)["enforce"]["exit_code"] == 30
    # inspect counts the findings that involve the package
    assert run("--enforce", "inspect", "lib", "--env", "kid").returncode == 30
    assert run("--enforce", "inspect", "app", "--env", "kid").returncode == 30
    assert run("--enforce", "inspect", "free", "--env", "kid").returncode == 0
    assert run("--enforce", "inspect", "lib", "--env", "base").returncode == 0  # base alone is fine
    # pip check: its own "broken" code 1 becomes the table's code
    assert run("pip", "check", "--env", "kid").returncode == 1
    assert run("--enforce", "pip", "check", "--env", "kid").returncode == 30
    assert run("pip", "check", "--env", "kid", "--enforce").returncode == 30
    # a failure keeps its own code
    assert run("--enforce", "tree", "--env", "nope").returncode == 3
    # commands that report no findings are unchanged, their JSON carries the (empty) decision
    proc = run("--enforce", "envs", "--json")
    assert proc.returncode == 0 and doc(proc)["enforce"] == {"profile": None, "exit_code": 0, "findings": []}


# -- the table, kind by kind, through the CLI's own functions ---------------------------------------


def _finding(kind: Kind, env: str = "app", subject: str = "pkg") -> Finding:
    return Finding(kind, env, subject, f"{kind.value} in {subject}", packages=(subject,), layers=(env,))


_LAXEST = Policy(ConflictMode.LOOSE, AbiPolicy.ALLOW_ABI)
_DEFAULT = Policy()


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("profile", [None, enforce.Profile.WARN, enforce.Profile.STRICT])
def test_every_kind_maps_to_its_code(kind: Kind, profile: enforce.Profile | None) -> None:
    f = _finding(kind)
    assert enforce.exit_code([f]) == EXIT_CODES[kind]
    # read commands: a lax env's finding counts only under a profile; a default env's always
    lax = enforce.floor(_LAXEST, profile)
    assert enforce.counted([f], lax) == ([] if profile is None else [f])
    assert enforce.counted([f], enforce.floor(_DEFAULT, profile)) == [f]
    # a change under the profile: strict refuses it (4, or 5 for the ABI policy), warn warns and
    # the command exits with the kind's code; the CLI decides through finish()
    opts = GlobalOptions(enforce=True, profile=None if profile is None else profile.value)
    with cli_enforce.enforcing(opts):
        policy = enforce.floor(_DEFAULT, profile)
        if profile is enforce.Profile.STRICT:
            with pytest.raises(PolicyRefused) as info:
                judge([f], policy, "app")
            assert info.value.exit_code == (5 if kind is Kind.ABI else 4)
            assert cli_enforce.finish("install", 0) == 0  # nothing was counted
        else:
            verdict = judge([f], policy, "app")
            assert verdict.warned == (f,)
            assert cli_enforce.finish("install", 0) == EXIT_CODES[kind]
            assert cli_enforce.finish("install", 4) == 4  # a failure keeps its code
            assert cli_enforce.finish("doctor", 11) == EXIT_CODES[kind]
            member = cli_enforce.json_member()
            assert member is not None and member["exit_code"] == EXIT_CODES[kind]
    assert cli_enforce.json_member() is None  # the session ended with the command


def test_table_order_decides_between_kinds() -> None:
    order = [Kind.BROKEN_REQUIREMENT, Kind.ABI, Kind.CUDA_MIX, Kind.ORIGIN_OVERRIDE, Kind.SYSTEM_SONAME]
    codes = [30, 31, 32, 33, 34]
    for i in range(len(order)):
        found = [_finding(k) for k in [Kind.SHADOWED, *order[i:]]]
        assert enforce.exit_code(reversed(found)) == codes[i]
    assert enforce.exit_code([_finding(Kind.SHADOWED)]) == 35
    assert enforce.exit_code([]) == 0
    assert sorted(EXIT_CODES.values()) == list(range(30, 36))


def test_without_enforce_nothing_is_counted() -> None:
    verdict = judge([_finding(Kind.ABI)], _DEFAULT, "app")
    assert verdict.warned and enforce.active() is None
    assert cli_enforce.finish("install", 0) == 0 and cli_enforce.json_member() is None
    with cli_enforce.enforcing(GlobalOptions()) as session:
        assert session is None


def test_build_envs_are_not_counted() -> None:
    with cli_enforce.enforcing(GlobalOptions(enforce=True)):
        judge([_finding(Kind.BROKEN_REQUIREMENT, env="@build-abc")], _DEFAULT, "@build-abc")
        assert cli_enforce.finish("install", 0) == 0


def test_the_profile_is_seen_from_worker_threads() -> None:
    """A check run in a thread pool sees the session too: a CI gate never fails open."""
    from concurrent.futures import ThreadPoolExecutor

    with cli_enforce.enforcing(GlobalOptions(enforce=True, profile="strict")):
        with ThreadPoolExecutor(1) as pool:
            session = pool.submit(enforce.active).result()
            policy = pool.submit(enforce.raise_to_profile, _LAXEST, _env_info("app")).result()
            pool.submit(judge, [_finding(Kind.SHADOWED)], Policy(explicit_local=True), "app").result()
        assert session is not None and session.profile is enforce.Profile.STRICT
        assert policy == Policy(ConflictMode.STRICT, AbiPolicy.STRICT_ABI)
        assert cli_enforce.finish("install", 0) == 35


def _env_info(name: str, kind: EnvKind = EnvKind.ENV) -> EnvInfo:
    interp = Interpreter(Path(sys.executable), (3, 11, 0), "cpython", "cpython-311", "", "", "x86_64", ())
    return EnvInfo(
        name, Path("/nonexistent"), interp, None, LayeringMode.STACKED, LinkMode.SYMLINK, kind, 0.0
    )


def test_build_envs_keep_their_modes() -> None:
    with cli_enforce.enforcing(GlobalOptions(enforce=True, profile="strict")):
        assert enforce.raise_to_profile(_LAXEST, _env_info("@build-x", EnvKind.BUILD)) == _LAXEST
        assert enforce.raise_to_profile(_LAXEST, _env_info("g", EnvKind.GLOBAL)) != _LAXEST


def test_floor_raises_never_lowers() -> None:
    strict = Policy(ConflictMode.STRICT, AbiPolicy.STRICT_ABI)
    assert enforce.floor(strict, enforce.Profile.WARN) == strict
    assert enforce.floor(_LAXEST, enforce.Profile.WARN) == Policy(ConflictMode.WARN, AbiPolicy.WARN_ABI)
    assert enforce.floor(_LAXEST, enforce.Profile.STRICT) == strict
    assert enforce.floor(_LAXEST, None) == _LAXEST
    local = Policy(explicit_local=True)
    assert enforce.floor(local, enforce.Profile.STRICT).explicit_local
    assert enforce.floor(local, enforce.Profile.STRICT).verdict(_finding(Kind.SHADOWED)) is Verdict.WARN


# -- the global options ------------------------------------------------------------------------------


def test_split_global_options() -> None:
    split = globals_.split
    assert split(["-q", "--enforce", "doctor"]) == (GlobalOptions(quiet=1, enforce=True), ["doctor"])
    assert split(["-qq", "-v", "--verbose", "envs", "-q"]) == (
        GlobalOptions(quiet=2, verbose=2),
        ["envs", "-q"],
    )
    assert split(["doctor", "--enforce-profile", "warn"]) == (
        GlobalOptions(enforce=True, profile="warn"),
        ["doctor"],
    )
    assert split(["--enforce-profile=strict", "pip", "install", "x", "--enforce", "-q"]) == (
        GlobalOptions(enforce=True, profile="strict"),
        ["pip", "install", "x", "-q"],
    )
    # after --, everything belongs to the command
    assert split(["pip", "install", "--", "--enforce"])[1] == ["pip", "install", "--", "--enforce"]
    # an option of the top parser ends the global ones
    assert split(["--version", "-q"])[1] == ["--version", "-q"]
    for bad in (["--enforce-profile", "lax", "envs"], ["--enforce-profile"], ["envs", "--enforce-profile=x"]):
        with pytest.raises(UsageError):
            split(bad)


# one valid argument list per argparse subcommand; a new subcommand must be added here
_SUBCOMMANDS: dict[str, list[str]] = {
    "create": ["x"],
    "envs": [],
    "remove": ["x"],
    "activate": ["x"],
    "uninstall": ["n", "--env", "x"],
    "list": ["--env", "x"],
    "export": ["--env", "x"],
    "gc": ["--dry-run"],
    "du": [],
    "env": ["get", "x"],
    "store": ["upstreams"],
    "changelog": [],
    "inspect": ["p", "--env", "x"],
    "tree": ["--env", "x"],
    "doctor": [],
}


def _subcommands() -> set[str]:
    parser = forge_cli_mod._build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(subs.choices) - {"pip", "install"}  # those two parse their own -q/-v (below)


def test_every_subcommand_is_covered() -> None:
    assert _subcommands() == set(_SUBCOMMANDS)


@pytest.mark.parametrize("command", sorted(_SUBCOMMANDS))
def test_quiet_and_verbose_before_and_after_every_subcommand(command: str) -> None:
    args = [command, *_SUBCOMMANDS[command]]
    for before, after, quiet, verbose in [
        (["-q"], [], 1, 0),
        ([], ["-q"], 1, 0),
        (["-q"], ["--quiet"], 2, 0),
        (["-v"], [], 0, 1),
        ([], ["-v"], 0, 1),
        (["-vv"], ["-v"], 0, 3),
        (["--verbose", "-q"], ["-v"], 1, 2),
    ]:
        opts, rest = globals_.split([*before, *args, *after])
        ns = forge_cli_mod.parse(rest, opts)
        assert ns.command == command
        assert (ns.quiet, ns.verbose) == (quiet, verbose), (before, after)


def test_quiet_and_verbose_reach_install_and_pip(stack: Stack) -> None:
    ok("create", "e", "-q")
    loud = run("install", stack.free1, "--env", "e")
    assert loud.returncode == 0 and "free 1.0" in loud.stdout
    for args in (
        ("-q", "install", stack.free2, "--env", "e"),
        ("install", stack.free1, "--env", "e", "-q"),
        ("-q", "create", "e2"),
        ("create", "e3", "-q"),
    ):
        proc = run(*args)
        assert proc.returncode == 0 and proc.stdout == "", (args, proc.stdout)
    # pip's -v: pip debug shows every tag instead of the first ten
    short = ok("pip", "debug", "--env", "e")
    assert "[First 10 tags shown" in short
    for args in (("-v", "pip", "debug", "--env", "e"), ("pip", "debug", "--env", "e", "-v")):
        assert "[First 10 tags shown" not in ok(*args)
    # pip's -q through the global position: pip install's progress lines are gone
    proc = run("-q", "pip", "install", "--env", "e", "--no-index", "-f", stack.index("lib", "1.0"), "lib")
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout
