"""Real installs with the machine's configured indexes (pip config is NOT isolated here).

Marked ``real``; the torch one is also ``slow`` (a 200 MB wheel from pip's configured find-links).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store.seal import remove_tree
from forge_store.store import Store
from tests.conftest import REPO, run_py

pytestmark = pytest.mark.real

BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench"
SET_A = BENCH / "set-a.in"


@pytest.fixture(scope="module")
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("real") / "forge-home"
    yield home
    remove_tree(home)


def forge_pip(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FORGE_ENV")}
    env["PYTHONPATH"] = str(REPO)
    env["FORGE_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "forge_pip", *args], capture_output=True, text=True, env=env, check=False
    )


def pins(report: Path) -> set[str]:
    data = json.loads(report.read_text())
    return {
        f"{i['metadata']['name'].lower().replace('_', '-')}=={i['metadata']['version']}"
        for i in data["install"]
    }


def test_dry_run_pins_what_pip_pins(real_home: Path, tmp_path: Path) -> None:
    if not SET_A.is_file():
        pytest.skip(f"{SET_A} is absent")
    pip = shutil.which("pip")
    if pip is None:
        pytest.skip("no pip on PATH")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    mine = forge_pip(
        real_home,
        "--python",
        python,
        "install",
        "-r",
        str(SET_A),
        "--dry-run",
        "--report",
        str(tmp_path / "r1"),
    )
    assert mine.returncode == 0, mine.stderr
    theirs = subprocess.run(
        [
            pip,
            "--python",
            python,
            "install",
            "--dry-run",
            "-q",
            "--report",
            str(tmp_path / "r2"),
            "-r",
            str(SET_A),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert theirs.returncode == 0, theirs.stderr
    assert pins(tmp_path / "r1") == pins(tmp_path / "r2")
    assert len(pins(tmp_path / "r1")) > 10


def test_install_set_a_then_offline_into_second_env(real_home: Path) -> None:
    if not SET_A.is_file():
        pytest.skip(f"{SET_A} is absent")
    with Store(real_home) as store:
        first = store.create_env("set-a")
        second = store.create_env("set-a-offline")
    r = forge_pip(real_home, "install", "--env", "set-a", "-r", str(SET_A))
    assert r.returncode == 0, r.stderr
    proc = run_py(first.python, "import numpy, pandas, sklearn; print('ok')")
    assert proc.stdout.strip() == "ok", proc.stderr
    r = forge_pip(real_home, "install", "--env", "set-a-offline", "--offline", "-r", str(SET_A))
    assert r.returncode == 0, r.stderr
    assert "0 new" in r.stdout
    proc = run_py(second.python, "import numpy, pandas, sklearn; print('ok')")
    assert proc.stdout.strip() == "ok", proc.stderr


def test_sdist_only_package_builds(real_home: Path) -> None:
    """docopt 0.6.2 exists only as an sdist (setup.py): built in a Forge build env, then linked."""
    with Store(real_home) as store:
        env = store.create_env("sdist")
    r = forge_pip(real_home, "install", "--env", "sdist", "docopt==0.6.2")
    assert r.returncode == 0, r.stderr
    assert "docopt" in r.stdout and "Successfully installed docopt-0.6.2" in r.stdout
    assert run_py(env.python, "import docopt; print(docopt.__version__)").stdout.strip() == "0.6.2"


@pytest.mark.slow
def test_torch_from_find_links(real_home: Path) -> None:
    wheel = (
        next(Path("/opt/wheels").glob("torch-2.13.0*.whl"), None) if Path("/opt/wheels").is_dir() else None
    )
    if wheel is None:
        pytest.skip("no torch 2.13.0 wheel in /opt/wheels")
    with Store(real_home) as store:
        env = store.create_env("torch")
    envvars = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FORGE_ENV")}
    envvars.update(PYTHONPATH=str(REPO), FORGE_HOME=str(real_home))
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from forge_pip.cli.forge import main; sys.exit(main())",
            "pip",
            "install",
            "torch==2.13.0",
            "--env",
            "torch",
        ],
        capture_output=True,
        text=True,
        env=envvars,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert f"Processing {wheel}" in r.stdout  # the local file, no download
    proc = run_py(env.python, "import torch; print(torch.__version__)")
    assert proc.stdout.startswith("2.13.0"), proc.stderr
