"""Fixtures shared by the whole suite: an isolated FORGE_HOME per test, a Store on it, wheel dirs.

Store entries are sealed (read-only, directories immutable where root can set the flag), so a
plain ``rm -rf`` of tmp_path would fail: every home is unsealed and removed at teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store.seal import remove_tree
from forge_store.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_report_header(config: pytest.Config) -> str:
    """Where the real-package tests keep their downloads, and how big that is already."""
    from forge_pip.cli.common import human_size
    from tests.support.wheel_cache import cache_root, disk_usage

    root = cache_root()
    size = human_size(disk_usage(root)) if root.is_dir() else "empty"
    return (
        f"forge-tests wheel cache: {root} ({size}; $FORGE_TEST_CACHE moves it; the real-package tests"
        " fill it, a full run about 500 MB; -m 'not real' skips them)"
    )


@pytest.fixture
def forge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "forge-home"
    monkeypatch.setenv("FORGE_HOME", str(home))
    monkeypatch.delenv("FORGE_ENV", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    yield home
    remove_tree(home)


@pytest.fixture
def store(forge_home: Path) -> Iterator[Store]:
    with Store(forge_home) as s:
        yield s


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    path = tmp_path / "wheels"
    path.mkdir()
    return path


def run_py(python: Path, code: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run code in an env's interpreter, the way a user would (no PYTHONPATH leaking in)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, check=False)


def forge_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``forge`` entry point as a real subprocess."""
    full_env = dict(os.environ if env is None else env)
    full_env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-c", "import sys; from forge_pip.cli.forge import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        cwd=str(REPO),
    )


def have_cc() -> bool:
    return shutil.which("cc") is not None or shutil.which("gcc") is not None
