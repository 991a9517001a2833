"""``scripts/install.sh``: Forge as a tool in its own venv, ``forge`` linked onto PATH, upgraded in place.

A real run into a temporary HOME from a copy of this checkout (the machine's pip configuration, so
Forge's dependencies come from its configured indexes). The promise under test: every Forge env's
``bin/pip`` and ``python -m pip`` re-execute the tool venv's python, so an upgrade (``git pull &&
scripts/install.sh``) must keep that venv where it is and leave every env working, on the new code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import forge_store
from tests.conftest import REPO
from tests.release.checkout import copy_checkout
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("install-tool")]

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def _uncompiled(site: Path, python: Path) -> list[str]:
    """Forge's modules in ``site`` without a pyc for the tool's interpreter ``python``: this machine
    exports ``PYTHONDONTWRITEBYTECODE=1``, so each would be compiled again on every ``forge`` run."""
    tag = subprocess.run(
        [str(python), "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return sorted(
        str(py.relative_to(site))
        for package in ("forge_store", "forge_pip")
        for py in (site / package).rglob("*.py")
        if not (py.parent / "__pycache__" / f"{py.stem}.{tag}.pyc").is_file()
    )


def _user_pip_config() -> dict[str, str]:
    """The caller's own pip settings, which a temporary HOME would otherwise hide."""
    out = {}
    home = Path.home()
    for candidate in (home / ".config" / "pip" / "pip.conf", home / ".pip" / "pip.conf"):
        if candidate.is_file() and "PIP_CONFIG_FILE" not in os.environ:
            out["PIP_CONFIG_FILE"] = str(candidate)
            break
    if "PIP_CACHE_DIR" not in os.environ and (home / ".cache" / "pip").is_dir():
        out["PIP_CACHE_DIR"] = str(home / ".cache" / "pip")
    return out


class Tool:
    """A temporary HOME, a checkout copy and the commands a user would type."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.src = copy_checkout(root / "src")
        self.venv = self.home / ".local" / "share" / "forge" / "venv"
        self.link = self.home / ".local" / "bin" / "forge"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FORGE_ENV", "XDG_DATA_HOME")
            and not k.startswith("FORGE_")
        }
        self.env.update(
            _user_pip_config(),
            HOME=str(self.home),
            FORGE_HOME=str(root / "forge-home"),
            FORGE_PYTHON=BASE_PYTHON,
            PATH="/usr/local/bin:/usr/bin:/bin",
        )

    def install(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.src / "scripts" / "install.sh")],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            cwd=self.root,
        )

    def run(self, *cmd: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(c) for c in cmd], env=self.env, capture_output=True, text=True, cwd=self.root
        )

    def ok(self, *cmd: str | Path) -> str:
        r = self.run(*cmd)
        assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
        return r.stdout

    def bump_version(self, version: str) -> None:
        path = self.src / "forge_store" / "__init__.py"
        text, n = re.subn(
            r'^__version__ = "[^"]+"', f'__version__ = "{version}"', path.read_text(), flags=re.M
        )
        assert n == 1
        path.write_text(text)


def test_install_upgrade_in_place_keeps_every_env_working(tmp_path: Path) -> None:
    tool = Tool(tmp_path)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, version in [("tool-demo-a", "1.0"), ("tool-demo-b", "1.0"), ("tool-demo-c", "1.0")]:
        module = name.replace("-", "_")
        make_wheel(wheels, name, version, files={f"{module}/__init__.py": f"V = {version!r}\n"})
    offline = ["--no-index", "-f", str(wheels)]

    first = tool.install()
    assert first.returncode == 0, first.stderr
    line = first.stdout.strip()
    assert "\n" not in line and str(tool.venv) in line and "not on PATH" in line
    assert tool.link.is_symlink() and Path(os.readlink(tool.link)) == tool.venv / "bin" / "forge"
    assert tool.ok(tool.link, "--version") == f"forge {forge_store.__version__}\n"
    # installed, not editable: Forge's code is the venv's copy, and it ships the CHANGELOG
    where = tool.ok(tool.venv / "bin" / "python", "-c", "import forge_store; print(forge_store.__file__)")
    assert where.startswith(str(tool.venv)), where
    assert tool.ok(tool.link, "changelog") == (REPO / "CHANGELOG.md").read_text()
    assert _uncompiled(Path(where).parent.parent, tool.venv / "bin" / "python") == []

    tool.ok(tool.link, "create", "app")
    app = tmp_path / "forge-home" / "envs" / "app"
    tool.ok(app / "bin" / "pip", "install", "-q", *offline, "tool-demo-a")
    tool.ok(app / "bin" / "python", "-m", "pip", "install", "-q", *offline, "tool-demo-b")
    assert tool.ok(app / "bin" / "python", "-c", "import tool_demo_a, tool_demo_b; print('ok')") == "ok\n"
    venv_cfg = (tool.venv / "pyvenv.cfg").read_text()

    # upgrade: a newer checkout, same command; now with ~/.local/bin on PATH
    tool.bump_version(f"{forge_store.__version__}.post1")
    on_path = f"{tool.link.parent}:{tool.env['PATH']}"
    second = tool.install(PATH=on_path)
    assert second.returncode == 0, second.stderr
    assert f"forge {forge_store.__version__}.post1" in second.stdout and "(on PATH)" in second.stdout
    assert (tool.venv / "pyvenv.cfg").read_text() == venv_cfg  # the same venv, not a new one
    assert tool.ok(tool.link, "--version") == f"forge {forge_store.__version__}.post1\n"
    # the env made before the upgrade: its launchers run the upgraded Forge
    tool.ok(app / "bin" / "pip", "install", "-q", *offline, "tool-demo-c")
    tool.ok(app / "bin" / "python", "-m", "pip", "uninstall", "-y", "tool-demo-a")
    front = tool.ok(app / "bin" / "python", "-m", "forge_pip", "--version")
    assert f"{forge_store.__version__}.post1" in front
    listed = tool.ok(app / "bin" / "python", "-m", "pip", "list")
    assert "tool-demo-b" in listed and "tool-demo-c" in listed and "tool-demo-a" not in listed
    doctor = tool.run(tool.link, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr

    # idempotent: once more, nothing changes but the reinstall
    third = tool.install(PATH=on_path)
    assert third.returncode == 0 and third.stdout == second.stdout, third.stderr


def test_install_refuses_bad_interpreters_and_foreign_files(tmp_path: Path) -> None:
    tool = Tool(tmp_path)
    for python, words in [
        (str(tmp_path / "no-such-python"), "no such interpreter"),
        (str(tool.src / "README.md"), "no such interpreter"),
    ]:
        r = tool.install(FORGE_PYTHON=python)
        assert r.returncode != 0 and words in r.stderr and r.stderr.count("\n") == 1, r.stderr
    old = Path.home() / ".pyenv" / "versions"
    for version in sorted(old.glob("3.[6-9].*")) if old.is_dir() else []:
        r = tool.install(FORGE_PYTHON=str(version / "bin" / "python3"))
        assert r.returncode != 0 and "not Python 3.10 or later" in r.stderr, r.stderr
    assert not tool.venv.exists()
    tool.link.parent.mkdir(parents=True)
    tool.link.write_text("someone else's forge\n")
    r = tool.install()
    assert r.returncode != 0 and "is not a link" in r.stderr and r.stderr.count("\n") == 1
    assert tool.link.read_text() == "someone else's forge\n" and not tool.venv.exists()
    r = tool.run("bash", tool.src / "scripts" / "install.sh", "--bogus")
    assert r.returncode != 0 and "unknown argument" in r.stderr


def test_which_python_picks_the_newest_minor_on_path(tmp_path: Path) -> None:
    tool = Tool(tmp_path)
    versions = Path.home() / ".pyenv" / "versions"
    found = {}
    for minor in (10, 11, 12, 13):
        hits = sorted(versions.glob(f"3.{minor}.*/bin/python3.{minor}")) if versions.is_dir() else []
        if hits:
            found[minor] = hits[-1]
    if len(found) < 2:
        pytest.skip("needs two Python minors >= 3.10 under ~/.pyenv/versions")
    bin_dir = tmp_path / "pythons"
    bin_dir.mkdir()
    for minor, exe in found.items():
        (bin_dir / f"python3.{minor}").symlink_to(exe)
    (bin_dir / "python3.9").symlink_to("/bin/false")  # older minors are never chosen
    (bin_dir / "python3.99").write_text("#!/bin/sh\nexit 1\n")  # one that does not run is skipped
    (bin_dir / "python3.99").chmod(0o755)
    env = {**tool.env, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    env.pop("FORGE_PYTHON")
    r = subprocess.run(
        ["bash", str(tool.src / "scripts" / "install.sh"), "--which-python"],
        env=env,
        capture_output=True,
        text=True,
    )
    newest = max(found)
    assert r.returncode == 0, r.stderr
    assert os.path.samefile(r.stdout.strip(), found[newest])


@pytest.mark.parametrize("frontend", ["pipx", "uv"])
def test_pipx_and_uv_tool_install_and_reinstall_keep_envs_working(tmp_path: Path, frontend: str) -> None:
    """``pipx install .`` / ``uv tool install .`` (entry point ``forge``), then the documented upgrade
    (docs/install.md): the tool venv keeps its path and an env made before still works."""
    exe = shutil.which(frontend)
    if exe is None:
        pytest.skip(f"{frontend} is not installed")
    tool = Tool(tmp_path)
    tool.env["PATH"] = f"{Path(exe).parent}:{tool.env['PATH']}"
    tool.env["UV_PYTHON_DOWNLOADS"] = "never"
    if frontend == "pipx":
        install = [exe, "install", "--python", BASE_PYTHON, str(tool.src)]
        upgrade = [exe, "install", "--force", "--python", BASE_PYTHON, str(tool.src)]
        venv = tool.home / ".local" / "share" / "pipx" / "venvs" / "forge-runtime"
    else:
        install = [exe, "tool", "install", "--compile-bytecode", "--python", BASE_PYTHON, str(tool.src)]
        upgrade = [
            *[exe, "tool", "install", "--compile-bytecode", "--reinstall"],
            *["--python", BASE_PYTHON, str(tool.src)],
        ]
        venv = tool.home / ".local" / "share" / "uv" / "tools" / "forge-runtime"
    tool.ok(*install)
    assert Path(os.readlink(tool.link)) == venv / "bin" / "forge"
    site = Path(tool.ok(venv / "bin" / "python", "-c", "import forge_store; print(forge_store.__file__)"))
    assert _uncompiled(site.parent.parent, venv / "bin" / "python") == []  # as docs/install.md says
    assert tool.ok(tool.link, "changelog") == (REPO / "CHANGELOG.md").read_text()
    tool.ok(tool.link, "create", "app")
    app = tmp_path / "forge-home" / "envs" / "app"
    tool.bump_version(f"{forge_store.__version__}.post2")
    tool.ok(*upgrade)
    assert tool.ok(tool.link, "--version") == f"forge {forge_store.__version__}.post2\n"
    assert f"[forge {forge_store.__version__}.post2]" in tool.ok(app / "bin" / "pip", "--version")
    assert tool.ok(app / "bin" / "python", "-m", "pip", "list").startswith("Package")


@pytest.mark.real
def test_quickstart_installs_the_tool_then_runs_the_main_job(tmp_path: Path) -> None:
    """The README's first command: the tool install, then an env with a real package from the
    configured index, imported from the env; run again, it reuses the env."""
    tool = Tool(tmp_path)
    quickstart = ["bash", str(tool.src / "scripts" / "quickstart.sh")]
    r = tool.run(*quickstart)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert (
        lines[0].startswith(f"forge {forge_store.__version__} installed in ") and str(tool.venv) in lines[0]
    )
    assert f"created env demo at {tmp_path / 'forge-home' / 'envs' / 'demo'}" in r.stdout
    assert "Successfully installed " in r.stdout and "requests-" in r.stdout
    assert "requests " in r.stdout and ": import requests works in the env demo (" in r.stdout
    assert lines[-1].startswith('next: eval "$(forge activate demo)"')
    python = tmp_path / "forge-home" / "envs" / "demo" / "bin" / "python"
    assert tool.ok(python, "-c", "import requests, idna; print('ok')") == "ok\n"
    again = tool.run(*quickstart)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "created env" not in again.stdout and "Requirement already satisfied: requests" in again.stdout
    bad = tool.run(*quickstart, "a", "b", "c")
    assert bad.returncode == 2 and "usage: scripts/quickstart.sh" in bad.stderr
