"""list / freeze / show / check / uninstall / download / wheel / cache, config handling, adopted venvs,
and the real entry points (``python -m forge_pip`` and an env's ``bin/pip``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from forge_store import pip_frontend
from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import REPO, run_py
from tests.support.index_server import LocalIndex, serve

Pip = Any


def local_names(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def test_list_freeze_show_check_uninstall(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    store.create_env("base")
    assert pip("install", "--env", "base", "-i", demo_index.file_url, "beta==1.0").code == 0
    store.create_env("kid", parent="base")
    assert pip("install", "--env", "kid", "-i", demo_index.file_url, "alpha").code == 0
    r = pip("list", "--env", "kid")
    assert r.out.splitlines()[:2] == ["Package Version", "------- -------"]
    r = pip("list", "--env", "kid", "--layers")
    assert [line.split() for line in r.out.splitlines()[2:]] == [
        ["alpha", "1.0", "local"],
        ["beta", "1.0", "parent:base"],
        ["pip", pip_frontend.PIP_VERSION, "forge"],  # the env's pip is Forge's front end
    ]
    assert pip("freeze", "--env", "kid").out == "alpha==1.0\nbeta==1.0\n"
    assert pip("freeze", "--env", "kid", "--local").out == "alpha==1.0\n"
    r = pip("show", "--env", "kid", "-v", "beta")
    assert (
        "Name: beta\nVersion: 1.0\n" in r.out
        and "Required-by: alpha" in r.out
        and "Layer: parent:base" in r.out
    )
    assert pip("check", "--env", "kid").out == "No broken requirements found.\n"
    r = pip("uninstall", "--env", "kid", "-y", "beta")
    assert r.code == 1 and "parent" in r.err
    r = pip("uninstall", "--env", "base", "-y", "beta", "nothere")
    assert r.code == 0 and "Successfully uninstalled beta-1.0" in r.out and "Skipping nothere" in r.err
    r = pip("check", "--env", "kid")
    assert r.code == 1 and r.out == "alpha 1.0 requires beta, which is not installed.\n"
    r = pip("show", "--env", "kid", "nope")
    assert r.code == 1 and "not found: nope" in r.err


def test_download_wheel_and_cache(store: Store, demo_index: LocalIndex, pip: Pip, tmp_path: Path) -> None:
    r = pip(
        "download", "--no-index", "-f", str(demo_index.root / "files"), "-d", str(tmp_path / "dl"), "alpha"
    )
    assert r.code == 0, r.err
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [
        "alpha-1.0-py3-none-any.whl",
        "beta-2.0-py3-none-any.whl",
    ]
    assert "Successfully downloaded alpha beta" in r.out
    r = pip("wheel", "-i", demo_index.file_url, "-w", str(tmp_path / "wh"), "gamma")
    assert r.code == 0 and (tmp_path / "wh" / "gamma-1.0-py3-none-any.whl").is_file()
    assert pip("cache", "dir").out.strip() == str(store.home.cache)
    info = pip("cache", "info").out
    assert "Built wheels location" in info and "Parsed index page cache location" in info
    assert any((store.home.cache / "pages").rglob("*"))  # `pip wheel` read the demo index
    assert pip("cache", "purge").out.startswith("Files removed:")
    assert not (store.home.cache / "pages").exists()  # purge removes the parsed pages too


def test_pip_index_url_variable_and_config_file(
    store: Store, demo_index: LocalIndex, pip: Pip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_env("e")
    monkeypatch.setenv("PIP_INDEX_URL", demo_index.file_url)
    r = pip("install", "--env", "e", "gamma")
    assert r.code == 0, r.err
    conf = tmp_path / "pip.conf"
    conf.write_text("[install]\nno-index = true\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    r = pip("install", "--env", "e", "beta")
    assert r.code == 1 and "beta" in r.err
    r = pip("download", "-d", str(tmp_path / "d"), "beta")  # [install] does not apply to download
    assert r.code == 0, r.err
    monkeypatch.setenv("PIP_FIND_LINKS", str(demo_index.root / "files"))
    r = pip("install", "--env", "e", "beta")  # no index, but find-links from the environment
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"gamma": "1.0", "beta": "2.0"}


@pytest.mark.parametrize(
    ("command", "project"),
    [
        (("install", "--env", "e", "--dry-run", "gamma"), "gamma"),
        (("index", "versions", "gamma"), "gamma"),
        (("list", "--env", "e", "--outdated"), "beta"),
    ],
    ids=["install", "index-versions", "list-outdated"],
)
def test_every_command_that_reads_the_index_honours_retries_and_cache_dir(
    command: tuple[str, ...],
    project: str,
    store: Store,
    demo_index: LocalIndex,
    pip: Pip,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pip's general options reach every command that reads the indexes, from the command line
    and from the configuration alike (``pip index`` once built its own options without them)."""
    store.create_env("e")
    assert pip("install", "--env", "e", "-i", demo_index.file_url, "beta==1.0").code == 0
    page = f"/simple/{project}/"
    with serve(demo_index.root) as server:
        server.fail[page] = 503
        pip(*command, "-i", server.index_url, "--retries", "1")
        assert server.requests[page] == 2, "--retries 1: one retry"
        monkeypatch.setenv("PIP_RETRIES", "0")
        pip(*command, "-i", server.index_url)
        assert server.requests[page] == 3, "PIP_RETRIES=0: no retry"
        del server.fail[page]
        cache = tmp_path / "elsewhere"
        r = pip(*command, "-i", server.index_url, "--cache-dir", str(cache))
        assert r.code == 0, r.err
        assert any((cache / "pages").rglob("*")), "the page is cached in --cache-dir"
        monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "configured"))
        pip(*command, "-i", server.index_url)
        assert any((tmp_path / "configured" / "pages").rglob("*")), "PIP_CACHE_DIR too"


def _plain_venv_with_unmanaged_beta(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next(path.glob("lib/python*/site-packages"))
    (site / "beta").mkdir()
    (site / "beta" / "__init__.py").write_text("__version__ = 'old-1.0'\n")
    info = site / "beta-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: beta\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(
        "beta/__init__.py,,\nbeta-1.0.dist-info/METADATA,,\nbeta-1.0.dist-info/INSTALLER,,\n"
        "beta-1.0.dist-info/RECORD,,\n"
    )
    return site


def test_adopt_plain_venv_and_upgrade_unmanaged(
    store: Store, demo_index: LocalIndex, pip: Pip, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    site = _plain_venv_with_unmanaged_beta(venv)
    python = str(venv / "bin" / "python")
    r = pip("list", "--python", python, "--layers")
    assert [line.split() for line in r.out.splitlines()[2:]] == [["beta", "1.0", "unmanaged"]]
    r = pip("install", "--python", python, "-i", demo_index.file_url, "alpha")
    assert r.code == 0, r.err
    assert "Requirement already satisfied: beta" in r.out  # unmanaged 1.0 satisfies beta>=1
    r = pip("install", "--python", str(venv), "-i", demo_index.file_url, "-U", "beta")
    assert r.code == 0, r.err
    assert not (site / "beta-1.0.dist-info").exists()
    assert run_py(venv / "bin" / "python", "import beta; print(beta.__version__)").stdout.strip() == "2.0"
    assert pip("freeze", "--python", python).out == "alpha==1.0\nbeta==2.0\n"


def _throwaway_system_python(root: Path) -> Path:
    """A non-venv CPython of our own: a copy of the base binary with the stdlib linked in and an
    empty site-packages, so its prefix is ``root`` (never touch the machine's real interpreter)."""
    base = Path(os.path.realpath(sys.executable))
    ver = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    stdlib = base.parent.parent / "lib" / ver
    (root / "bin").mkdir(parents=True)
    (root / "lib" / ver / "site-packages").mkdir(parents=True)
    exe = root / "bin" / ver
    shutil.copy2(base, exe)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (root / "lib" / ver / entry.name).symlink_to(entry)
    probe = subprocess.run(
        [str(exe), "-c", "import sys, sysconfig; print(sys.prefix); print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
    )
    lines = probe.stdout.split()
    if not lines or lines[0] != str(root):
        pytest.skip(f"this interpreter cannot be relocated ({probe.stderr.strip()[:200]})")
    if lines[1:] != [str(root / "lib" / ver / "site-packages")]:  # Debian's: local/lib/.../dist-packages
        pytest.skip(f"this interpreter's own scheme is not prefix/lib/{ver}/site-packages ({lines[1:]})")
    return exe


def test_non_venv_needs_break_system_packages(
    store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path
) -> None:
    exe = _throwaway_system_python(tmp_path / "system")
    r = pip("install", "--python", str(exe), "-i", demo_index.file_url, "gamma")
    assert r.code == 1 and "not a virtual environment" in r.err and "--break-system-packages" in r.err
    assert not any((tmp_path / "system" / "lib").glob("*/site-packages/gamma*"))
    r = pip("install", "--python", str(exe), "--break-system-packages", "-i", demo_index.file_url, "gamma")
    assert r.code == 0, r.err
    proc = subprocess.run(
        [str(exe), "-c", "import gamma, sys; print(gamma.__file__)"], capture_output=True, text=True
    )
    assert proc.stdout.startswith(str(tmp_path / "system" / "lib")), proc.stderr


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    return env


def test_real_entry_points(store: Store, demo_index: LocalIndex, tmp_path: Path) -> None:
    env = store.create_env("e")
    proc = subprocess.run(
        [sys.executable, "-m", "forge_pip", "install", "--env", "e", "-i", demo_index.file_url, "gamma"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Successfully installed gamma-1.0" in proc.stdout
    proc = subprocess.run(
        [str(env.bin / "pip"), "install", "-i", demo_index.file_url, "alpha"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [str(env.bin / "pip"), "list", "--format", "freeze"], capture_output=True, text=True, env=_clean_env()
    )
    assert proc.stdout == f"alpha==1.0\nbeta==2.0\ngamma==1.0\npip=={pip_frontend.PIP_VERSION}\n", proc.stderr
    proc = subprocess.run([sys.executable, "-m", "forge_pip", "--version"], capture_output=True, text=True)
    assert proc.stdout.startswith("pip ") and "[forge " in proc.stdout


def _no_pythonpath() -> dict[str, str]:
    """The user's environment: Forge is installed, nothing injected on PYTHONPATH."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_env_launchers_version_and_module_shim(store: Store, demo_index: LocalIndex, tmp_path: Path) -> None:
    """``ENV/bin/pip --version`` and ``ENV/bin/python -m forge_pip`` (the shim that re-executes Forge's
    own interpreter, so Forge's dependencies never enter the env), run from an unrelated directory."""
    env = store.create_env("e")
    proc = subprocess.run(
        [str(env.bin / "pip"), "--version"],
        capture_output=True,
        text=True,
        env=_no_pythonpath(),
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("pip ") and "[forge " in proc.stdout, proc.stderr
    proc = subprocess.run(
        [str(env.python), "-m", "forge_pip", "install", "-i", demo_index.file_url, "gamma"],
        capture_output=True,
        text=True,
        env=_no_pythonpath(),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    probe = (
        "import importlib.util as u;"
        " print(u.find_spec('packaging') is None, u.find_spec('gamma') is not None)"
    )
    proc = subprocess.run([str(env.python), "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert proc.stdout.split() == ["True", "True"], "gamma installed; Forge's own deps not visible in the env"
