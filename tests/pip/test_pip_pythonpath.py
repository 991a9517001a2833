"""Forge's own processes whatever PYTHONPATH says: ``forge``, ``python -m forge_pip``, ``ENV/bin/pip``.

An env's site-packages holds the ``forge_pip.py`` launcher module and the env's packages. With that
directory on PYTHONPATH, Forge's interpreter used to import the launcher instead of the real package
(``forge`` died on "forge_pip is not a package"; ``python -m forge_pip`` re-executed itself forever
with a growing argv). Every command runs as a real subprocess with a timeout: a loop is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge_store import envs, isolation
from forge_store.store import Store
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel

FORGE_BIN = Path(sys.executable).parent
OTHER_PYTHON = "/usr/bin/python3.11"


def _run(
    argv: list[str], pythonpath: str | None, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{FORGE_BIN}{os.pathsep}{os.environ['PATH']}", **extra)
    env.pop("VIRTUAL_ENV", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv} did not finish in 60 s (a launcher loop?): {exc.stderr!r}")


@pytest.fixture
def stacked(store: Store, demo_index: LocalIndex, wheel_dir: Path) -> dict[str, Path]:
    """``base`` <- ``ml``; ml holds gamma and a broken ``packaging`` that Forge must never import."""
    store.create_env("base")
    ml = store.create_env("ml", parent="base")
    other = store.create_env("other")
    broken = make_wheel(
        wheel_dir,
        "packaging",
        "0.0.1",
        files={"packaging/__init__.py": "raise ImportError('the env packaging leaked into Forge')\n"},
    )
    gamma = make_wheel(wheel_dir, "gamma", "1.0")
    store.install_wheels("ml", [broken, gamma])
    layered = os.pathsep.join(str(p) for p in [ml.site_packages, *store.runtime_layers(ml)])
    return {"ml": ml.path, "other": other.path, "pythonpath": Path(layered)}


COMMANDS = {
    "forge envs": lambda e: [str(FORGE_BIN / "forge"), "envs"],
    "forge pip list": lambda e: [str(FORGE_BIN / "forge"), "pip", "list", "--env", "ml"],
    "python -m forge_pip --version": lambda e: [sys.executable, "-m", "forge_pip", "--version"],
    "python -m forge_pip list --env": lambda e: [sys.executable, "-m", "forge_pip", "list", "--env", "ml"],
    "ENV/bin/pip --version": lambda e: [str(e["ml"] / "bin/pip"), "--version"],
    "ENV/bin/pip list": lambda e: [str(e["ml"] / "bin/pip"), "list"],
    "ENV/bin/python -m forge_pip list": lambda e: [str(e["ml"] / "bin/python"), "-m", "forge_pip", "list"],
    "ENV/bin/python -m pip list": lambda e: [str(e["ml"] / "bin/python"), "-m", "pip", "list"],
}


@pytest.mark.parametrize("where", ["env site-packages", "layered"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_forge_commands_ignore_env_paths_on_pythonpath(
    command: str, where: str, stacked: dict[str, Path], tmp_path: Path
) -> None:
    pythonpath = str(stacked["pythonpath"])
    if where == "env site-packages":
        pythonpath = pythonpath.split(os.pathsep)[0]
    proc = _run(COMMANDS[command](stacked), pythonpath, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "leaked" not in proc.stderr
    if command.endswith("list") or command.endswith("--env"):
        assert "gamma" in proc.stdout, proc.stdout
    if command.endswith("--version"):
        assert proc.stdout.startswith("pip ") and "[forge " in proc.stdout


def test_another_envs_interpreter_targets_itself(stacked: dict[str, Path], tmp_path: Path) -> None:
    """``OTHER/bin/python -m forge_pip`` with ml's site-packages on PYTHONPATH meets ml's launcher
    module first; it acts on ``other`` (the interpreter that ran it), not on ml."""
    proc = _run(
        [str(stacked["other"] / "bin/python"), "-m", "forge_pip", "list", "--format", "freeze"],
        str(stacked["pythonpath"]),
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gamma" not in proc.stdout


def test_a_base_interpreter_reaching_a_launcher_module_terminates(
    stacked: dict[str, Path], tmp_path: Path
) -> None:
    proc = _run([OTHER_PYTHON, "-m", "forge_pip", "list"], str(stacked["pythonpath"]), tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "not a virtual environment" in lines[0]
    assert all(line.startswith(("ERROR: ", "hint: ")) for line in lines)


def test_launchers_never_re_execute_twice(store: Store, tmp_path: Path) -> None:
    """With the Forge that made an env gone (here: an interpreter without Forge), the launchers
    stop with one line instead of handing the request back and forth."""
    env = store.create_env("e")
    envs.write_pip_launchers(env.path, env.interpreter, Path(OTHER_PYTHON))
    site = str(env.site_packages)
    for argv in ([str(env.python), "-m", "forge_pip", "--version"], [str(env.bin / "pip"), "--version"]):
        proc = _run(argv, site, tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "forge_pip: error: Forge is not installed for" in proc.stderr
        assert "Traceback" not in proc.stderr
    envs.write_pip_launchers(env.path, env.interpreter, tmp_path / "gone" / "python3")
    proc = _run([str(env.python), "-m", "forge_pip", "--version"], None, tmp_path)
    assert proc.returncode == 1 and "is gone" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_launcher_variable_does_not_reach_forges_children(stacked: dict[str, Path], tmp_path: Path) -> None:
    """Forge forgets the launcher variable at start-up: an env's ``python -m forge_pip`` run by a
    build or a script under Forge is still handed to Forge, not stepped over."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, sys\n"
        "from forge_store import isolation\n"
        "isolation.enter()\n"
        "print(os.environ.get(isolation.LAUNCHED_VAR), any(p.endswith('site-packages') and"
        " os.path.isfile(os.path.join(p, '_forge_layers.py')) for p in sys.path))\n"
    )
    proc = _run(
        [sys.executable, str(probe)], str(stacked["pythonpath"]), tmp_path, **{isolation.LAUNCHED_VAR: "1"}
    )
    assert proc.stdout.split() == ["None", "False"], proc.stderr


def test_env_sites_are_recognised_and_forge_is_kept(store: Store, tmp_path: Path) -> None:
    env = store.create_env("e")
    site = str(env.site_packages)
    assert isolation.is_env_site(site)
    assert not isolation.is_env_site(str(tmp_path))
    kept = isolation.without_env_sites([site, str(tmp_path), isolation.forge_root()], isolation.forge_root())
    assert kept == [str(tmp_path), isolation.forge_root()]
    assert isolation.without_env_sites([site], site) == [site], "Forge's own directory always stays"


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_launcher_module_on_each_interpreter(version: str, store: Store, tmp_path: Path) -> None:
    """The launcher module is run by the env's own interpreter (any version Forge supports), and met
    by other interpreters through PYTHONPATH."""
    from forge_store.errors import InterpreterNotFound

    try:
        env = store.create_env("e", python=version)
    except InterpreterNotFound:
        pytest.skip(f"no Python {version} on this machine")
    ml = store.create_env("ml")
    site = str(env.site_packages)
    for argv in (
        [str(env.python), "-m", "forge_pip", "list", "--format", "freeze"],
        [str(ml.python), "-m", "forge_pip", "--version"],
        [str(env.python), "-m", "forge_pip", "--version"],
    ):
        for pythonpath in (None, site, f"{site}{os.pathsep}{ml.site_packages}"):
            proc = _run(argv, pythonpath, tmp_path)
            assert proc.returncode == 0, (argv, pythonpath, proc.stderr)
