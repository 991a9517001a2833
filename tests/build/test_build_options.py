"""Build options reach the build: ``-C`` (the hooks and the cache key), ``--no-build-isolation``
(the target env's interpreter and layers), ``--check-build-dependencies``, ``--build-constraint``
and pip 26.2's rule that ``-c`` / ``PIP_CONSTRAINT`` never reach a build env.

The tiny in-tree backend records, per hook, the config settings it was given and the
``sys.executable`` / ``sys.path`` it ran with (``$TINY_BACKEND_RECORD``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from build_support import backend_records, make_project, make_sdist

from forge_pip.build import Builder
from forge_pip.build.deps import unmet_build_requires
from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel

Pip = Any


@pytest.fixture
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No pip config, PIP_* variable or proxy of the machine leaks in (as tests/pip's fixture)."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-xdg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-xdg-home"))
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def forge(capsys: pytest.CaptureFixture[str], forge_home: Path, hermetic: None) -> Pip:
    """Run ``forge_pip`` in-process: ``forge("install", "--env", "e", "x")`` -> Result."""
    from forge_pip.cli.pip import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv("TINY_BACKEND_RECORD", str(path))
    for name in ("TINY_BACKEND_FAIL", "TINY_BACKEND_EXTRA_REQUIRES", "TINY_BACKEND_LOG"):
        monkeypatch.delenv(name, raising=False)
    return path


def settings_by_hook(path: Path, project: str = "tiny-pkg") -> dict[str, object]:
    return {str(r["hook"]): r["config_settings"] for r in backend_records(path) if r["project"] == project}


def wheel_config(wheel: Path) -> dict[str, object] | None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        if "tiny_pkg/_config.json" not in names:
            return None
        data: dict[str, object] = json.loads(zf.read("tiny_pkg/_config.json"))
        return data


# -- the builder ---------------------------------------------------------------------------------


def test_settings_reach_every_hook_and_key_the_cache(
    builder: Builder, tmp_path: Path, record: Path, cache_dir: Path
) -> None:
    sdist = make_sdist(make_project(tmp_path / "proj"), tmp_path / "dist")
    settings = {"mode": ["a", "b"], "flag": "on"}
    metadata = builder.prepare_metadata(sdist, settings)
    assert b"Name: tiny-pkg" in metadata
    assert settings_by_hook(record) == {
        "get_requires_for_build_wheel": settings,
        "prepare_metadata_for_build_wheel": settings,
    }
    built = builder.build_wheel(sdist, config_settings=settings)
    assert not built.cached and wheel_config(built.path) == settings
    assert settings_by_hook(record)["build_wheel"] == settings
    # the cache key holds the settings: other settings (or none) build again; the same ones hit
    record.unlink()
    plain = builder.build_wheel(sdist)
    assert not plain.cached and wheel_config(plain.path) is None
    assert builder.build_wheel(sdist, config_settings={"mode": "c"}).cached is False
    assert builder.build_wheel(sdist, config_settings=settings).cached is True
    assert builder.cached_wheel(built.source_hash, settings) == built.path
    assert builder.cached_wheel(built.source_hash) == plain.path
    assert builder.cached_wheel(built.source_hash, {"other": "x"}) is None


def test_metadata_fallback_build_is_cached_under_its_settings(
    builder: Builder, tmp_path: Path, record: Path
) -> None:
    """A backend without prepare_metadata builds the wheel for the metadata: with the settings."""
    sdist = make_sdist(make_project(tmp_path / "proj", prepare_metadata=False), tmp_path / "dist")
    builder.prepare_metadata(sdist, {"k": "v"})
    assert settings_by_hook(record)["build_wheel"] == {"k": "v"}
    assert builder.build_wheel(sdist, config_settings={"k": "v"}).cached is True
    assert builder.build_wheel(sdist).cached is False


def test_unmet_build_requires() -> None:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    have = {NormalizedName("setuptools"): Version("50.0"), NormalizedName("wheel"): Version("0.40")}
    conflicting, missing = unmet_build_requires(
        ["setuptools>=61", "wheel", "cython", 'never; python_version < "3"'],
        have.get,
        {"python_version": "3.11", "python_full_version": "3.11.0"},
    )
    assert conflicting == {("setuptools 50.0", "setuptools>=61")}
    assert missing == {"cython"}


# -- through the pip front end -------------------------------------------------------------------


def sdist_world(root: Path, *, build_requires: tuple[str, ...] = ()) -> LocalIndex:
    """tiny-pkg as an sdist (built by the tiny backend), helper 1.0 and 2.0, and a dependent."""
    index = LocalIndex(root / "index")
    project = make_project(root / "proj", requires=build_requires)
    index.add(make_sdist(project, root / "dist"))
    index.add(make_wheel(root / "src", "helper", "1.0"))
    index.add(make_wheel(root / "src", "helper", "2.0"))
    index.add(make_wheel(root / "src", "other", "1.0", requires=["tiny-pkg"]))
    index.write()
    return index


def installed_config(env_python: Path) -> object:
    code = (
        "import json, importlib.resources as r\n"
        "f = r.files('tiny_pkg') / '_config.json'\n"
        "print(json.dumps(json.loads(f.read_text()) if f.is_file() else None))"
    )
    return json.loads(run_py(env_python, code).stdout)


def test_cli_config_settings_reach_the_backend(
    store: Store, forge: Pip, tmp_path: Path, record: Path
) -> None:
    index = sdist_world(tmp_path)
    env = store.create_env("e")
    r = forge(
        "install",
        "--env",
        "e",
        "-i",
        index.file_url,
        "-C",
        "mode=a",
        "-C",
        "mode=b",
        "--config-settings",
        "x=1",
        "tiny-pkg",
    )
    assert r.code == 0, r.err
    want = {"mode": ["a", "b"], "x": "1"}
    assert settings_by_hook(record) == {
        "get_requires_for_build_wheel": want,
        "prepare_metadata_for_build_wheel": want,
        "build_wheel": want,
    }
    assert installed_config(env.python) == want
    # other settings: a build of their own (the cache is keyed by them), never the first wheel
    record.unlink()
    env2 = store.create_env("e2")
    r = forge("install", "--env", "e2", "-i", index.file_url, "-C", "mode=z", "tiny-pkg")
    assert r.code == 0, r.err
    assert settings_by_hook(record)["build_wheel"] == {"mode": "z"}
    assert installed_config(env2.python) == {"mode": "z"}
    # the same settings again: the built wheel (and its store entry) serve, no backend runs
    record.unlink()
    store.create_env("e3")
    r = forge(
        "install",
        "--env",
        "e3",
        "-i",
        index.file_url,
        "-C",
        "mode=a",
        "-C",
        "mode=b",
        "-C",
        "x=1",
        "tiny-pkg",
    )
    assert r.code == 0, r.err
    assert "build_wheel" not in settings_by_hook(record)


def test_config_settings_scope_follows_pip(store: Store, forge: Pip, tmp_path: Path, record: Path) -> None:
    """pip 23.1+: the command line's -C goes to the named requirements, not to their dependencies;
    a requirements file gives settings per line."""
    index = sdist_world(tmp_path)
    store.create_env("e")
    r = forge("install", "--env", "e", "-i", index.file_url, "-C", "k=v", "other")
    assert r.code == 0, r.err
    assert settings_by_hook(record)["build_wheel"] is None  # tiny-pkg is a dependency here
    record.unlink()
    reqs = tmp_path / "req.txt"
    reqs.write_text("tiny-pkg --config-settings k=from-file\n")
    store.create_env("f")
    r = forge("install", "--env", "f", "-i", index.file_url, "-r", str(reqs))
    assert r.code == 0, r.err
    assert settings_by_hook(record)["build_wheel"] == {"k": "from-file"}


def test_config_settings_reach_a_project_directory(
    store: Store, forge: Pip, tmp_path: Path, record: Path
) -> None:
    project = make_project(tmp_path / "proj")
    env = store.create_env("e")
    r = forge("install", "--env", "e", "--no-index", "-C", "k=dir", str(project))
    assert r.code == 0, r.err
    hooks = settings_by_hook(record)
    assert hooks["prepare_metadata_for_build_wheel"] == {"k": "dir"}
    assert hooks["build_wheel"] == {"k": "dir"}
    assert installed_config(env.python) == {"k": "dir"}


def test_bad_config_setting_is_one_line(store: Store, forge: Pip) -> None:
    store.create_env("e")
    r = forge("install", "--env", "e", "--no-index", "-C", "novalue", "x")
    assert r.code == 2
    assert "must be of the form KEY=VAL" in r.err and "Traceback" not in r.err


def test_no_build_isolation_builds_in_the_target_env(
    store: Store, forge: Pip, tmp_path: Path, record: Path
) -> None:
    """The hooks run with the env's interpreter and see its layers (a parent's helper), as pip
    runs them in the environment it installs into."""
    index = sdist_world(tmp_path, build_requires=("helper",))
    base = store.create_env("base")
    assert forge("install", "--env", "base", "-i", index.file_url, "helper==1.0").code == 0
    child = store.create_env("child", parent="base")
    r = forge(
        "install",
        "--env",
        "child",
        "-i",
        index.file_url,
        "--no-build-isolation",
        "--check-build-dependencies",
        "tiny-pkg",
    )
    assert r.code == 0, r.err
    runs = [x for x in backend_records(record) if x["hook"] == "build_wheel"]
    assert runs, backend_records(record)
    run = runs[-1]
    assert Path(str(run["prefix"])) == child.path
    assert Path(str(run["executable"])).parent == child.path / "bin"
    paths = [os.path.realpath(p) for p in run["path"]]  # type: ignore[attr-defined]
    assert os.path.realpath(child.site_packages) in paths
    assert os.path.realpath(base.site_packages) in paths
    assert run["helper"] == "1.0"  # the parent layer's, not a build env's
    assert [e.name for e in store.envs()] == ["base", "child"]  # no build env was made
    visible = {d.name: d.layer for d in store.visible("child")}
    assert visible == {"helper": Layer.PARENT, "tiny-pkg": Layer.LOCAL}


def test_check_build_dependencies_refuses_a_missing_one(
    store: Store, forge: Pip, tmp_path: Path, record: Path
) -> None:
    index = sdist_world(tmp_path, build_requires=("helper>=2",))
    store.create_env("e")
    assert forge("install", "--env", "e", "-i", index.file_url, "helper==1.0").code == 0
    args = (
        "install",
        "--env",
        "e",
        "-i",
        index.file_url,
        "--no-build-isolation",
        "--check-build-dependencies",
    )
    r = forge(*args, "tiny-pkg")
    assert r.code == 1, r.out + r.err  # pip exits 1 for a failed build
    assert "Some build dependencies for tiny_pkg-1.0 conflict with the backend dependencies:" in r.err
    assert "helper 1.0 is incompatible with helper>=2" in r.err
    assert "Traceback" not in r.err
    assert backend_records(record) == []  # no hook ran
    assert {d.name: d.version for d in store.visible("e")} == {"helper": "1.0"}
    store.create_env("bare")
    r = forge(
        "install",
        "--env",
        "bare",
        "-i",
        index.file_url,
        "--no-build-isolation",
        "--check-build-dependencies",
        "tiny-pkg",
    )
    assert r.code == 1 and "Some build dependencies for tiny_pkg-1.0 are missing: 'helper>=2'." in r.err
    # without the check, pip builds anyway (and so do we)
    r = forge("install", "--env", "bare", "-i", index.file_url, "--no-build-isolation", "tiny-pkg")
    assert r.code == 0, r.err


def test_build_constraints_reach_build_envs_and_user_constraints_do_not(
    store: Store, forge: Pip, tmp_path: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = sdist_world(tmp_path, build_requires=("helper",))
    pin = tmp_path / "pin.txt"
    pin.write_text("helper==1.0\n")

    def built_with(*args: str, env: str) -> object:
        if record.exists():
            record.unlink()
        store.create_env(env)
        r = forge("install", "--env", env, "-i", index.file_url, "--no-cache-dir", *args, "tiny-pkg")
        assert r.code == 0, r.err
        return next(x["helper"] for x in backend_records(record) if x["hook"] == "build_wheel")

    assert built_with(env="plain") == "2.0"
    assert built_with("--build-constraint", str(pin), env="bc") == "1.0"
    # pip 26.2: -c and PIP_CONSTRAINT constrain the install, never the build env
    assert built_with("-c", str(pin), env="c") == "2.0"
    monkeypatch.setenv("PIP_CONSTRAINT", str(pin))
    assert built_with(env="pipc") == "2.0"
    monkeypatch.delenv("PIP_CONSTRAINT")
    monkeypatch.setenv("PIP_BUILD_CONSTRAINT", str(pin))
    assert built_with(env="pipbc") == "1.0"


def test_build_constraint_without_isolation_is_refused(store: Store, forge: Pip, tmp_path: Path) -> None:
    pin = tmp_path / "pin.txt"
    pin.write_text("helper==1.0\n")
    store.create_env("e")
    r = forge(
        "install", "--env", "e", "--no-index", "--no-build-isolation", "--build-constraint", str(pin), "x"
    )
    assert r.code == 1, r.out + r.err  # pip: a CommandError
    assert "--build-constraint cannot be used with --no-build-isolation." in r.err
    missing = forge(
        "install", "--env", "e", "--no-index", "--build-constraint", str(tmp_path / "nope.txt"), "x"
    )
    assert missing.code != 0 and "Traceback" not in missing.err


def test_pip_wheel_passes_config_settings(store: Store, forge: Pip, tmp_path: Path, record: Path) -> None:
    index = sdist_world(tmp_path)
    out = tmp_path / "wheels"
    r = forge("wheel", "-i", index.file_url, "-w", str(out), "-C", "k=w", "tiny-pkg")
    assert r.code == 0, r.err
    assert settings_by_hook(record)["build_wheel"] == {"k": "w"}
    assert wheel_config(out / "tiny_pkg-1.0-py3-none-any.whl") == {"k": "w"}


def test_config_settings_match_real_pip(store: Store, forge: Pip, tmp_path: Path, record: Path) -> None:
    """Where a pip >= 26 is given (``FORGE_TEST_PIP26``): both hand the backend the same settings."""
    import subprocess

    exe = os.environ.get("FORGE_TEST_PIP26")
    if not exe or not Path(exe).is_file():
        pytest.skip("set FORGE_TEST_PIP26 to a pip >= 26 to compare with it")
    index = sdist_world(tmp_path)
    args = ["-i", index.file_url, "--no-deps", "-C", "mode=a", "-C", "mode=b", "-C", "x=1", "tiny-pkg"]
    proc = subprocess.run(
        [exe, "wheel", "-q", "--no-cache-dir", "-w", str(tmp_path / "theirs"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = settings_by_hook(record)
    record.unlink()
    r = forge("wheel", "--no-cache-dir", "-w", str(tmp_path / "ours"), *args)
    assert r.code == 0, r.err
    ours = settings_by_hook(record)
    assert "build_wheel" in ours
    assert {hook: theirs[hook] for hook in ours} == ours  # (pip also asks for metadata first)
    assert theirs["build_wheel"] == {"mode": ["a", "b"], "x": "1"}


def test_pip_wheel_without_isolation_builds_in_the_named_env(
    store: Store, forge: Pip, tmp_path: Path, record: Path
) -> None:
    """``wheel --env E --no-build-isolation``: the hooks run in E (and are checked against it)."""
    index = sdist_world(tmp_path, build_requires=("helper",))
    env = store.create_env("e")
    args = ("wheel", "--env", "e", "-i", index.file_url, "--no-deps", "--no-build-isolation")
    r = forge(*args, "--check-build-dependencies", "-w", str(tmp_path / "w1"), "tiny-pkg")
    assert r.code == 1 and "are missing: 'helper'" in r.err, r.out + r.err
    assert forge("install", "--env", "e", "-i", index.file_url, "helper==2.0").code == 0
    r = forge(*args, "--check-build-dependencies", "-w", str(tmp_path / "w2"), "tiny-pkg")
    assert r.code == 0, r.err
    run = next(x for x in backend_records(record) if x["hook"] == "build_wheel")
    assert Path(str(run["prefix"])) == env.path and run["helper"] == "2.0"
