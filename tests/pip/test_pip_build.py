"""Source builds through Forge build envs, editables, and rollback when a build fails midway."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build"))
from build_support import make_project, make_sdist

Pip = Any


@pytest.fixture(autouse=True)
def _tiny_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TINY_BACKEND_FAIL", "TINY_BACKEND_EXTRA_REQUIRES", "TINY_BACKEND_LOG"):
        monkeypatch.delenv(name, raising=False)


def local_names(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def sdist_index(root: Path, *, build_requires: tuple[str, ...] = ()) -> LocalIndex:
    index = LocalIndex(root / "index")
    project = make_project(root / "proj", requires=build_requires)
    index.add(make_sdist(project, root / "dist"))
    index.add(make_wheel(root / "src", "helper", "1.0"))
    index.add(make_wheel(root / "src", "other", "1.0", requires=["tiny-pkg"]))
    index.write()
    return index


def test_sdist_builds_in_forge_build_env(store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None) -> None:
    index = sdist_index(tmp_path, build_requires=("helper",))
    env = store.create_env("e")
    r = pip("install", "--env", "e", "-i", index.file_url, "tiny-pkg")
    assert r.code == 0, r.err
    assert "Created wheel for tiny-pkg" in r.out and "Successfully built tiny-pkg" in r.out
    assert local_names(store, "e") == {"tiny-pkg": "1.0"}
    assert run_py(env.python, "import tiny_pkg; print(tiny_pkg.VERSION)").stdout.strip() == "1.0"
    # the build env was a hidden Forge env: gone now, its requirement kept in the store
    assert [e.name for e in store.envs()] == ["e"]
    assert [e.name for e in store.entries("helper")] == ["helper"]
    assert not any((store.home.root / "build-envs").iterdir())


def test_build_failure_midway_rolls_back(
    store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = sdist_index(tmp_path)
    store.create_env("e")
    assert pip("install", "--env", "e", "-i", index.file_url, "helper").code == 0
    monkeypatch.setenv("TINY_BACKEND_FAIL", "1")
    entries = {e.id for e in store.entries()}
    r = pip("install", "--env", "e", "-i", index.file_url, "--no-cache-dir", "other")
    assert r.code == 1, r.out + r.err  # pip's status; Forge's build-failed code only under forge
    assert "tiny" in r.err and "Traceback" not in r.err
    assert local_names(store, "e") == {"helper": "1.0"}
    assert {e.id for e in store.entries()} == entries  # other-1.0 was ingested, then discarded


def test_editable_project(store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None) -> None:
    project = make_project(tmp_path / "proj")
    env = store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-e", str(project))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"tiny-pkg": "1.0"}
    (project / "src" / "tiny_pkg" / "__init__.py").write_text('VERSION = "edited"\n')
    assert run_py(env.python, "import tiny_pkg; print(tiny_pkg.VERSION)").stdout.strip() == "edited"
