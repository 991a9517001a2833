"""The target of ``forge pip`` / ``python -m forge_pip`` when no ``--env``/``--python`` names one.

The active venv (``$VIRTUAL_ENV``), else a ``.venv`` in the working directory or a parent, never
Forge's own installation; nothing found: refused with one line saying how to name one. Read-only
commands follow the same rule. Real subprocesses of the installed ``forge`` (the environment is
kept as it is, ``PYTHONPATH`` included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge_pip.cli.target import default_target, find_dot_venv, own_installation
from forge_store.errors import NoTargetEnv, NotFoundError
from forge_store.store import Store
from tests.support.index_server import LocalIndex

FORGE = Path(sys.executable).parent / "forge"
OWN = Path(sys.prefix)  # the test venv, where Forge is installed


def _plain_venv(path: Path) -> Path:
    subprocess.run(["/usr/bin/python3.11", "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def _forge(cwd: Path, *args: str, virtual_env: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env.pop("FORGE_ENV", None)
    if virtual_env is not None:
        env["VIRTUAL_ENV"] = str(virtual_env)
    return subprocess.run(
        [str(FORGE), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def _has(venv: Path, name: str) -> bool:
    return any(venv.glob(f"lib/python3*/site-packages/{name}"))


def _refused(proc: subprocess.CompletedProcess[str], words: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)  # pip's status
    lines = proc.stderr.strip().splitlines()  # pip's ERROR: line, then the hint
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("ERROR: ") and words in lines[0], lines[0]
    for way in ("--env NAME", "--python PATH", "forge activate NAME", ".venv"):
        assert way in lines[1], lines[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A uv-style project: ``proj/.venv`` (a plain venv) and ``proj/src/pkg`` below it."""
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    _plain_venv(root / ".venv")
    return root


@pytest.mark.parametrize("where", [".", "src/pkg"])
def test_dot_venv_in_cwd_or_a_parent(
    where: str, project: Path, store: Store, demo_index: LocalIndex, forge_home: Path
) -> None:
    proc = _forge(project / where, "pip", "install", "-i", demo_index.file_url, "gamma")
    assert proc.returncode == 0, proc.stderr
    assert _has(project / ".venv", "gamma")
    for args in (["list", "--format", "freeze"], ["freeze"]):
        proc = _forge(project / where, "pip", *args)
        assert proc.returncode == 0 and "gamma==1.0" in proc.stdout.splitlines(), proc.stderr
    proc = _forge(project / where, "pip", "show", "gamma")
    assert proc.returncode == 0 and "Name: gamma" in proc.stdout, proc.stderr
    listed = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", "import gamma; print(gamma.__file__)"],
        capture_output=True,
        text=True,
    )
    assert listed.stdout.startswith(str(project / ".venv")), listed.stderr


def test_virtual_env_wins_over_dot_venv(
    project: Path, store: Store, demo_index: LocalIndex, forge_home: Path
) -> None:
    env = store.create_env("ml")
    proc = _forge(project, "pip", "install", "-i", demo_index.file_url, "gamma", virtual_env=env.path)
    assert proc.returncode == 0, proc.stderr
    assert _has(env.path, "gamma") and not _has(project / ".venv", "gamma")
    for args in (["list", "--format", "freeze"], ["freeze"], ["show", "gamma"]):
        proc = _forge(project, "pip", *args, virtual_env=env.path)
        assert proc.returncode == 0 and "gamma" in proc.stdout, proc.stderr
        assert "gamma" not in _forge(project, "pip", *args).stdout  # the .venv has none


def test_plain_active_venv_is_adopted(tmp_path: Path, store: Store, demo_index: LocalIndex) -> None:
    venv = _plain_venv(tmp_path / "plain")
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    proc = _forge(empty, "pip", "install", "-i", demo_index.file_url, "alpha", virtual_env=venv)
    assert proc.returncode == 0, proc.stderr
    assert _has(venv, "alpha") and _has(venv, "beta")
    assert store.env_at(venv) is not None
    proc = _forge(empty, "pip", "list", "--format", "freeze", virtual_env=venv)
    assert proc.stdout.splitlines() == ["alpha==1.0", "beta==2.0"], proc.stderr


@pytest.mark.parametrize("command", [["install", "gamma"], ["list"], ["freeze"], ["show", "gamma"]])
def test_nothing_to_act_on_is_refused(
    command: list[str], tmp_path: Path, store: Store, forge_home: Path, demo_index: LocalIndex
) -> None:
    empty = tmp_path / "nothing here"
    empty.mkdir()
    before = json.loads(_forge(empty, "envs", "--json").stdout)
    args = [*command, "-i", demo_index.file_url] if command[0] == "install" else command
    _refused(_forge(empty, "pip", *args), "no target environment")
    assert json.loads(_forge(empty, "envs", "--json").stdout) == before
    assert store.envs(include_global=True) == []


@pytest.mark.parametrize("how", ["VIRTUAL_ENV", ".venv"])
@pytest.mark.parametrize("command", [["install", "gamma"], ["list"], ["freeze"]])
def test_forges_own_installation_is_refused(
    how: str, command: list[str], tmp_path: Path, store: Store, demo_index: LocalIndex
) -> None:
    """The venv Forge runs from, found as the active venv or as the nearest ``.venv``."""
    assert own_installation() == OWN.resolve()
    args = [*command, "-i", demo_index.file_url] if command[0] == "install" else command
    if how == "VIRTUAL_ENV":
        proc = _forge(tmp_path, "pip", *args, virtual_env=OWN)
    else:
        link = tmp_path / "repo"
        link.mkdir()
        (link / ".venv").symlink_to(OWN)
        proc = _forge(link, "pip", *args)
    _refused(proc, "is Forge's own installation")
    assert store.env_at(OWN) is None and store.env_at(tmp_path / "repo" / ".venv") is None


def test_missing_virtual_env_is_one_line(tmp_path: Path, store: Store) -> None:
    proc = _forge(tmp_path, "pip", "list", virtual_env=tmp_path / "gone")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()  # pip's ERROR: line and a hint
    assert len(lines) == 2 and "VIRTUAL_ENV names" in lines[0] and lines[1].startswith("hint: ")


def test_an_envs_own_interpreter_targets_that_env(
    store: Store, demo_index: LocalIndex, tmp_path: Path, project: Path
) -> None:
    """``ENV/bin/python -m forge_pip`` acts on ENV, whatever VIRTUAL_ENV or a .venv say."""
    env = store.create_env("ml")
    other = store.create_env("other")
    proc = subprocess.run(
        [str(env.python), "-m", "forge_pip", "install", "-i", demo_index.file_url, "gamma"],
        capture_output=True,
        text=True,
        env=dict(os.environ, VIRTUAL_ENV=str(other.path)),
        cwd=project,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert _has(env.path, "gamma") and not _has(other.path, "gamma") and not _has(project / ".venv", "gamma")


def test_default_target_rules(tmp_path: Path) -> None:
    """The rules as a pure function (order, own installation, running interpreter)."""
    own = tmp_path / "forge-venv"
    own.mkdir()
    proj = tmp_path / "p"
    (proj / ".venv").mkdir(parents=True)
    (proj / "deep" / "er").mkdir(parents=True)
    active = tmp_path / "active"
    active.mkdir()
    run = default_target
    assert run(cwd=proj / "deep/er", environ={}, running_prefix=None, own=own).prefix == proj / ".venv"
    assert find_dot_venv(tmp_path) is None
    got = run(cwd=proj, environ={"VIRTUAL_ENV": str(active)}, running_prefix=None, own=own)
    assert (got.prefix, got.source) == (active, "VIRTUAL_ENV")
    got = run(cwd=proj, environ={"VIRTUAL_ENV": str(active)}, running_prefix=tmp_path / "env", own=own)
    assert got.source == "the running interpreter"
    got = run(cwd=proj, environ={}, running_prefix=own, own=own)
    assert got.source == ".venv", "Forge's own interpreter is never the target"
    with pytest.raises(NoTargetEnv, match="own installation"):
        run(cwd=tmp_path, environ={"VIRTUAL_ENV": str(own)}, running_prefix=own, own=own)
    with pytest.raises(NoTargetEnv, match="no target environment"):
        run(cwd=tmp_path, environ={"VIRTUAL_ENV": ""}, running_prefix=None, own=own)
    with pytest.raises(NotFoundError):
        run(cwd=tmp_path, environ={"VIRTUAL_ENV": str(tmp_path / "nope")}, running_prefix=None, own=None)


def test_removed_working_directory_is_one_line(tmp_path: Path, store: Store) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "FORGE_ENV")}
    proc = subprocess.run(
        ["sh", "-c", 'cd "$1" && rmdir "$1" && exec "$2" pip list', "sh", str(gone), str(FORGE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    _refused(proc, "the working directory is gone")
