"""Real wheels from the configured package index, installed with ``forge install`` into fresh envs.

Wheels are fetched once with plain ``pip download`` (the machine's pip configuration: its local
indexes, find-links and constraints) into ``$FORGE_TEST_CACHE`` (default ~/.cache/forge-tests),
so later runs do not download again. All tests here share one FORGE_HOME (xdist group "real").
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from forge_store.seal import remove_tree
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.wheel_cache import cache_set, fill

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.xdist_group("real")]

REQUIREMENTS = [
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "protobuf",
    "googleapis-common-protos",
    "google-auth",
    "jaraco.text",
    "jaraco.classes",
    "backports.tarfile",
    "torch==2.13.0",
]
IMPORTS = [
    "numpy",
    "scipy.linalg",
    "pandas",
    "sklearn.linear_model",
    "matplotlib.pyplot",
    "google.protobuf.message",
    "google.api.annotations_pb2",
    "google.auth",
    "jaraco.text",
    "jaraco.classes.properties",
    "backports.tarfile",
    "torch",
]


def _cache_dir() -> Path:
    return cache_set(f"real-wheels-py{sys.version_info[0]}{sys.version_info[1]}")


@pytest.fixture(scope="module")
def real_wheels() -> list[Path]:
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the machine's local package indexes carry cp311 wheels")
    dest = fill(_cache_dir(), REQUIREMENTS)
    # one consistent set: what pip resolved now, newest per project if older downloads linger
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "-q",
            "--report",
            "-",
            "--only-binary=:all:",
            "--no-index",
            "--find-links",
            str(dest),
            *REQUIREMENTS,
        ],
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    names = [
        unquote(item["download_info"]["url"].rsplit("/", 1)[1])
        for item in json.loads(report.stdout)["install"]
    ]
    wheels = [dest / n for n in names]
    assert all(w.is_file() for w in wheels)
    return wheels


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("real") / "home"
    with Store(home) as store:
        yield store
    remove_tree(home)


def _usage(env_path: Path, store_root: Path) -> tuple[int, int]:
    """(new inodes, bytes on disk) an env adds: inodes shared with the store (hardlinks) are free."""
    store_inodes: set[int] = set()
    for dirpath, _dirs, files in os.walk(store_root):
        for name in files:
            store_inodes.add(os.lstat(os.path.join(dirpath, name)).st_ino)
    paths = [str(env_path)]
    for dirpath, dirs, files in os.walk(env_path):
        paths.extend(os.path.join(dirpath, name) for name in (*dirs, *files))
    seen: set[int] = set()
    size = 0
    for path in paths:
        st = os.lstat(path)
        if st.st_ino not in store_inodes and st.st_ino not in seen:
            seen.add(st.st_ino)
            size += st.st_blocks * 512
    return len(seen), size


def _hash_tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if stat.S_ISREG(path.lstat().st_mode):
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_real_wheels_install_import_and_check(real_store: Store, real_wheels: list[Path]) -> None:
    env = real_store.create_env("r1")
    report = real_store.install_wheels("r1", real_wheels)
    assert {a.action for a in report.actions} == {"linked"}
    code = "import importlib; [importlib.import_module(m) for m in __import__('sys').argv[1:]]; print('ok')"
    proc = subprocess.run([str(env.python), "-c", code, *IMPORTS], capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr[-3000:]
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env.python), "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    versions = {e.name: e.version for e in real_store.entries()}
    probe = (
        "import importlib.metadata as m, json;"
        " print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    from packaging.utils import canonicalize_name

    seen = {canonicalize_name(k): v for k, v in json.loads(run_py(env.python, probe).stdout).items()}
    for name, version in versions.items():
        assert seen[name] == version, name
    for script, args in (("numpy-config", ["--version"]), ("torchrun", ["--help"])):
        proc = subprocess.run([str(env.bin / script), *args], capture_output=True, text=True)
        assert proc.returncode == 0, (script, proc.stderr[-2000:])
    assert (env.site_packages / "google").is_dir() and not (env.site_packages / "google").is_symlink()
    assert (env.site_packages / "jaraco").is_dir() and not (env.site_packages / "jaraco").is_symlink()
    assert (env.site_packages / "torch").is_symlink(), "torch CPU has no climbing $ORIGIN: one link"


def test_second_env_costs_almost_nothing(real_store: Store, real_wheels: list[Path]) -> None:
    if not any(e.name == "r1" for e in real_store.envs()):
        real_store.create_env("r1")
        real_store.install_wheels("r1", real_wheels)
    env = real_store.create_env("r2")
    report = real_store.install_wheels("r2", real_wheels)
    assert all(a.reused_entry for a in report.actions), "every entry comes from the store"
    inodes, size = _usage(env.path, real_store.home.store)
    assert inodes < 300, inodes
    assert size < 1024 * 1024, size
    proc = run_py(env.python, "import numpy, torch, sklearn; print(numpy.__version__)")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_plain_pip_cannot_write_into_the_store(real_store: Store, real_wheels: list[Path]) -> None:
    """As root, ``pip --python ENV install -U numpy==other`` must refuse or write only into the env."""
    env = real_store.create_env("victim")
    real_store.install_wheels("victim", real_wheels)
    other = real_store.create_env("bystander")
    real_store.install_wheels("bystander", real_wheels)
    numpy = real_store.entries("numpy")[0]
    before = _hash_tree(numpy.path)
    target = "1.26.4" if numpy.version != "1.26.4" else "2.0.2"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env.python), "install", "-q", "-U", f"numpy=={target}"],
        capture_output=True,
        text=True,
    )
    assert _hash_tree(numpy.path) == before, "the store entry changed"
    if proc.returncode == 0:  # pip succeeded: then it wrote into the env only
        got = run_py(env.python, "import numpy; print(numpy.__version__)").stdout.strip()
        assert got == target
    got = run_py(other.python, "import numpy; print(numpy.__version__)").stdout.strip()
    assert got == numpy.version, "a bystander env sharing the entry still works"
