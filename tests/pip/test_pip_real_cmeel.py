"""cmeel's ``pin`` (pinocchio) through ``forge pip install``, side by side with a plain pip venv.

All cmeel wheels put their files below one merged directory, ``cmeel.prefix/``; pinocchio's
extension sits in the linked leaf ``cmeel.prefix/lib/python3.11/site-packages/pinocchio/`` with
RUNPATH ``$ORIGIN/../../../../lib`` and NEEDs ``libeigenpy.so`` that the eigenpy wheel puts in
``cmeel.prefix/lib``. Linked naively, the kernel's physical ``..`` lands in pin's store entry and
``import pinocchio`` fails (``libeigenpy.so: cannot open shared object file``).

The wheels (about 95 MB: pin, eigenpy, coal, cmeel-boost, ..., numpy) are fetched once with plain
``pip download`` from the machine's configured indexes into ``$FORGE_TEST_CACHE`` (default
~/.cache/forge-tests); both installs then read that directory (``--no-index -f``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store.seal import remove_tree
from forge_store.store import Store
from tests.conftest import REPO, run_py
from tests.support.origin import climb_escapes
from tests.support.wheel_cache import CacheFillError, cache_set, fill

pytestmark = [pytest.mark.real, pytest.mark.slow]

CHECK = (
    "import pinocchio, eigenpy, numpy\n"
    "m = pinocchio.SE3.Random()\n"
    "assert numpy.allclose((m * m.inverse()).homogeneous, numpy.eye(4))\n"
    "print(pinocchio.__version__, eigenpy.__version__)\n"
)


@pytest.fixture(scope="module")
def pin_wheels() -> Path:
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the machine's local package indexes carry cp311 wheels")
    try:
        dest = fill(cache_set("real-wheels-py311-pin"), ["pin"])
    except CacheFillError as exc:
        if "No matching distribution" in str(exc):
            pytest.skip("pin is not on the configured package indexes")
        raise
    return dest


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cmeel") / "forge-home"
    yield path
    remove_tree(path)


def _forge(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FORGE_ENV")}
    env.update(PYTHONPATH=str(REPO), FORGE_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-c", "import sys; from forge_pip.cli.forge import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_forge_pip_install_pin_imports_like_a_pip_venv(home: Path, pin_wheels: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "-f",
            str(pin_wheels),
            "pin",
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    theirs = run_py(venv / "bin" / "python", CHECK)
    assert theirs.returncode == 0, theirs.stderr

    created = _forge(home, "create", "pin")
    assert created.returncode == 0, created.stderr
    r = _forge(home, "pip", "install", "--env", "pin", "--no-index", "-f", str(pin_wheels), "pin")
    assert r.returncode == 0, r.stderr
    with Store(home) as store:
        env = store.env("pin")
        mine = run_py(env.python, CHECK)
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout == theirs.stdout
        assert climb_escapes(store, "pin") == []
        leaf = env.site_packages / "cmeel.prefix/lib/python3.11/site-packages/pinocchio"
        assert not leaf.is_symlink() and (leaf / "visualize").is_symlink(), "only what the climb leaves"
