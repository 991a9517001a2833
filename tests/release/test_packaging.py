"""``python -m build``: the sdist and the wheel hold what they must, install in a clean venv, and that
installation passes ``scripts/smoke.sh``.

A copy of the checkout is built (``build`` makes the sdist, then the wheel *from the sdist*, so a
file the sdist forgets breaks the wheel too), each artifact is installed with plain pip into a fresh
venv (its dependencies from the machine's configured indexes), and the sdist's own
``scripts/smoke.sh`` runs with ``FORGE_BIN`` set to that venv's ``forge``, from a directory outside
any checkout. About two minutes here, most of it pip building the sdist again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.release.checkout import copy_checkout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
SDIST_TREES = ("forge_store", "forge_pip", "tests", "docs", "scripts", "examples", "bench")
"""Directories the sdist carries whole (every tracked file below them), beside the top files."""
SDIST_TOP = ("README.md", "CHANGELOG.md", "pyproject.toml", "MANIFEST.in")
TIMEOUT = 600


def _clean_env(tmp: Path) -> dict[str, str]:
    """The user's environment without anything that would put this checkout or an env in the way."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FORGE_ENV", "FORGE_HOME")
    }
    env["TMPDIR"] = str(tmp)
    env.pop("FORGE_SMOKE_PKG", None)
    return env


def _run(cmd: list[str | Path], env: dict[str, str], cwd: Path) -> str:
    r = subprocess.run(
        [str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _tracked() -> list[str]:
    """The checkout's tracked files below the trees the sdist carries (git's view, else the copy's)."""
    proc = subprocess.run(["git", "ls-files", "-z", *SDIST_TREES], cwd=REPO, capture_output=True)
    if proc.returncode != 0:
        pytest.skip("needs a git checkout to know which files are tracked")
    return [name.decode() for name in proc.stdout.split(b"\0") if name]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(sdist, wheel) built by ``python -m build`` from a copy of this checkout."""
    root = tmp_path_factory.mktemp("packaging")
    src = copy_checkout(root / "src")
    dist = root / "dist"
    _run([sys.executable, "-m", "build", "-o", dist, src], _clean_env(root), cwd=root)
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in dist.iterdir())
    yield sdists[0], wheels[0]


def test_sdist_carries_the_sources_tests_docs_and_a_real_changelog(artifacts: tuple[Path, Path]) -> None:
    sdist, _wheel = artifacts
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
        changelog = tar.extractfile(members["forge_store/CHANGELOG.md"])
        assert changelog is not None
        shipped = changelog.read().decode()
    missing = [name for name in (*SDIST_TOP, *_tracked()) if name not in members]
    # forge_store/CHANGELOG.md is a symlink in the checkout: the sdist must hold the file itself
    assert missing == [], f"the sdist lacks {missing[:20]} (MANIFEST.in)"
    assert members["forge_store/CHANGELOG.md"].isfile()
    assert shipped == (REPO / "CHANGELOG.md").read_text()
    junk = [n for n in members if "__pycache__" in n or n.endswith(".pyc") or n.startswith(".venv")]
    assert junk == []
    assert members["scripts/smoke.sh"].mode & 0o111, "smoke.sh lost its executable bit"


def test_wheel_holds_the_packages_and_the_changelog(artifacts: tuple[Path, Path]) -> None:
    _sdist, wheel = artifacts
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert zf.read("forge_store/CHANGELOG.md").decode() == (REPO / "CHANGELOG.md").read_text()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "forge = forge_store.isolation:forge_main" in zf.read(entry_points).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"forge_store/py.typed", "forge_pip/py.typed", "forge_pip/__main__.py"} <= names
    assert not any(n.startswith(("tests/", "docs/", "scripts/", "bench/")) for n in names)
    assert "License-Expression: MIT" in metadata


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_artifact_installs_in_a_clean_venv_and_passes_the_smoke_test(
    artifacts: tuple[Path, Path], tmp_path: Path, kind: str
) -> None:
    sdist, wheel = artifacts
    env = _clean_env(tmp_path)
    venv = tmp_path / "venv"
    _run([BASE_PYTHON, "-m", "venv", venv], env, cwd=tmp_path)
    artifact = wheel if kind == "wheel" else sdist
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", artifact], env, cwd=tmp_path)
    forge = venv / "bin" / "forge"
    where = _run(
        [venv / "bin" / "python", "-c", "import forge_store; print(forge_store.__file__)"], env, tmp_path
    )
    assert where.startswith(str(venv)), where  # the installed copy, not this checkout

    unpacked = tmp_path / "unpacked"  # the sdist's own smoke.sh, run from outside any checkout
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+; the system python3.11 of unprivileged runs is older
            tar.extractall(unpacked, filter="data")
        else:
            tar.extractall(unpacked)  # our own sdist, just built
    (top,) = unpacked.iterdir()
    out = _run(["bash", top / "scripts" / "smoke.sh"], {**env, "FORGE_BIN": str(forge)}, cwd=tmp_path)
    version = _run([forge, "--version"], env, cwd=tmp_path).strip()
    assert f"smoke: all steps passed ({version}, " in out, out
    assert _run([forge, "changelog"], env, cwd=tmp_path) == (REPO / "CHANGELOG.md").read_text()
