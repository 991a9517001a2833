"""Builder flow: sdists and directories to wheels, editables, the cache, the seams and the errors."""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest
from build_support import (
    FactoryStopped,
    RecordingEnvFactory,
    RecordingReporter,
    backend_log,
    check_record,
    make_project,
    make_sdist,
)

from forge_pip.build import (
    BuildBackendUnavailable,
    Builder,
    BuildError,
    EditableUnsupported,
    InvalidBuildSource,
)
from forge_store.errors import ExitCode, UsageError

WHEEL = "tiny_pkg-1.0-py3-none-any.whl"


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_sdist_builds_into_the_cache_through_the_factory(
    tmp_path: Path,
    builder: Builder,
    factory: RecordingEnvFactory,
    reporter: RecordingReporter,
    cache_dir: Path,
    hook_log: Path,
    fmt: str,
) -> None:
    sdist = make_sdist(
        make_project(tmp_path / "p", requires=["tiny-build-dep>=2"]), tmp_path / "dist", fmt=fmt
    )

    built = builder.build_wheel(sdist)

    key = hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert built.source_hash == key
    assert built.cached is False
    assert built.path == cache_dir / "built" / key[:2] / key / WHEEL
    files = check_record(built.path)
    assert files["tiny_pkg/__init__.py"] == b'VERSION = "1.0"\n'
    assert factory.created == [(("tiny-build-dep>=2",), "build-system.requires of tiny_pkg-1.0")]
    assert factory.installed == []
    assert factory.closed == 1
    assert backend_log(hook_log) == ["get_requires_for_build_wheel", "build_wheel"]
    assert reporter.starts[0][1] == "tinybackend"
    assert "tiny: building tiny-pkg 1.0" in reporter.lines
    assert reporter.done == [built.path]
    assert [p.name for p in (cache_dir / "built").iterdir()] == [key[:2]]  # scratch dirs are gone


def test_second_build_of_an_sdist_is_a_cache_hit_that_runs_nothing(
    tmp_path: Path,
    builder: Builder,
    factory: RecordingEnvFactory,
    reporter: RecordingReporter,
    cache_dir: Path,
    hook_log: Path,
) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    first = builder.build_wheel(sdist)
    ran = backend_log(hook_log)

    again = builder.build_wheel(sdist)
    fresh_builder = Builder(cache_dir=cache_dir, env_factory=factory, reporter=reporter)
    from_disk = fresh_builder.build_wheel(sdist)

    assert again.cached and from_disk.cached
    assert again.path == from_disk.path == first.path
    assert backend_log(hook_log) == ran  # no hook ran again
    assert len(factory.created) == 1 and len(reporter.starts) == 1


def test_extra_requirements_from_get_requires_go_to_the_env(
    tmp_path: Path, builder: Builder, factory: RecordingEnvFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_BACKEND_EXTRA_REQUIRES", "tiny-helper>=1.5")
    sdist = make_sdist(make_project(tmp_path / "p", requires=["tiny-build-dep"]), tmp_path / "dist")

    builder.build_wheel(sdist)

    assert factory.created[0][0] == ("tiny-build-dep",)
    assert factory.installed == [("tiny-helper>=1.5",)]


def test_config_settings_reach_the_backend_and_key_the_cache(
    tmp_path: Path, builder: Builder, hook_log: Path
) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    settings: dict[str, str | list[str]] = {"--build-option": ["--quiet", "-j2"], "mode": "fast"}

    plain = builder.build_wheel(sdist)
    configured = builder.build_wheel(sdist, config_settings=settings)

    assert not configured.cached and configured.path != plain.path
    assert configured.source_hash == plain.source_hash
    with zipfile.ZipFile(configured.path) as zf:
        assert json.loads(zf.read("tiny_pkg/_config.json")) == settings
    assert backend_log(hook_log).count("build_wheel") == 2
    assert builder.build_wheel(sdist, config_settings=settings).cached


def test_project_directory_is_rebuilt_every_time(
    tmp_path: Path, builder: Builder, factory: RecordingEnvFactory, hook_log: Path
) -> None:
    project = make_project(tmp_path / "p")

    first = builder.build_wheel(project)
    (project / "src" / "tiny_pkg" / "__init__.py").write_text('VERSION = "changed"\n')
    second = builder.build_wheel(project)

    assert not first.cached and not second.cached and second.source_hash == ""
    assert second.path.name == WHEEL
    assert check_record(second.path)["tiny_pkg/__init__.py"] == b'VERSION = "changed"\n'
    assert backend_log(hook_log).count("build_wheel") == 2
    assert factory.created[0][1] == "build-system.requires of tiny-pkg-1.0"


def test_editable_build_points_at_the_source(
    tmp_path: Path,
    builder: Builder,
    factory: RecordingEnvFactory,
    hook_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINY_BACKEND_EXTRA_REQUIRES", "editables")
    project = make_project(tmp_path / "p")

    built = builder.build_wheel(project, editable=True)

    files = check_record(built.path)
    assert files["_tiny_pkg_editable.pth"].decode().strip() == str((project / "src").resolve())
    assert backend_log(hook_log) == ["get_requires_for_build_editable", "build_editable"]
    assert factory.installed == [("editables",)]


def test_editable_without_pep660_hook_names_the_backend(tmp_path: Path, builder: Builder) -> None:
    project = make_project(tmp_path / "p", editable=False)

    with pytest.raises(EditableUnsupported) as caught:
        builder.build_wheel(project, editable=True)

    assert "'tinybackend'" in caught.value.message and "tiny-pkg-1.0" in caught.value.message
    assert caught.value.exit_code is ExitCode.BUILD


def test_editable_of_an_sdist_is_a_usage_error(tmp_path: Path, builder: Builder) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    with pytest.raises(UsageError):
        builder.build_wheel(sdist, editable=True)


def test_failing_backend_gives_build_error_with_output_tail(
    tmp_path: Path, builder: Builder, factory: RecordingEnvFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    monkeypatch.setenv("TINY_BACKEND_FAIL", "1")

    with pytest.raises(BuildError) as caught:
        builder.build_wheel(sdist)

    error = caught.value
    assert error.exit_code is ExitCode.BUILD
    assert error.project == "tiny_pkg-1.0" and error.hook == "build_wheel"
    assert "tiny_pkg-1.0" in error.message and "build_wheel" in error.message
    assert "Traceback" not in error.message
    assert len(error.output_tail) == 20
    assert error.output_tail[-1] == "tiny: error: the compiler exploded"
    assert error.output_tail[0] == "tiny: compile step 21"
    assert error.hint is not None and "the compiler exploded" in error.hint
    assert factory.closed == 1  # the env is released on failure too

    monkeypatch.delenv("TINY_BACKEND_FAIL")
    assert builder.build_wheel(sdist).cached is False  # a failure caches nothing


@pytest.mark.parametrize("backend_path", [(), ("_backend",)], ids=["installed", "in-tree"])
def test_missing_backend_module_is_a_clear_error(
    tmp_path: Path, builder: Builder, backend_path: tuple[str, ...]
) -> None:
    project = make_project(
        tmp_path / "p", backend="no_such_backend", backend_path=backend_path, requires=["no-such-backend"]
    )

    with pytest.raises(BuildBackendUnavailable) as caught:
        builder.build_wheel(project)

    assert "'no_such_backend'" in caught.value.message
    assert caught.value.hint is not None and "no-such-backend" in caught.value.hint
    assert any("no_such_backend" in line for line in caught.value.output_tail)


def test_backend_path_escaping_the_tree_is_refused(
    tmp_path: Path, builder: Builder, factory: RecordingEnvFactory
) -> None:
    project = make_project(tmp_path / "p", backend_path=["../elsewhere"])

    with pytest.raises(InvalidBuildSource, match="outside the project tree"):
        builder.build_wheel(project)

    assert factory.created == []


def test_missing_pyproject_requests_pip_legacy_defaults(
    tmp_path: Path, cache_dir: Path, reporter: RecordingReporter, hook_log: Path
) -> None:
    project = make_project(tmp_path / "p", pyproject="")
    (project / "setup.py").write_text("from setuptools import setup\nsetup(name='tiny-pkg', version='1.0')\n")
    sdist = make_sdist(project, tmp_path / "dist")
    factory = RecordingEnvFactory(stop=True)

    with pytest.raises(FactoryStopped):
        Builder(cache_dir=cache_dir, env_factory=factory, reporter=reporter).build_wheel(sdist)

    assert factory.created == [(("setuptools>=40.8.0",), "build-system.requires of tiny_pkg-1.0")]
    assert reporter.starts[0][1] == "setuptools.build_meta:__legacy__"


def test_wheel_of_another_project_is_refused(tmp_path: Path, builder: Builder) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist", stem="other_pkg-1.0")

    with pytest.raises(BuildError, match="another project"):
        builder.build_wheel(sdist)


def test_prepare_metadata_uses_the_hook_without_building(
    tmp_path: Path, builder: Builder, hook_log: Path
) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")

    metadata = builder.prepare_metadata(sdist)

    assert b"Name: tiny-pkg\nVersion: 1.0\n" in metadata
    assert backend_log(hook_log) == ["get_requires_for_build_wheel", "prepare_metadata_for_build_wheel"]


def test_prepare_metadata_falls_back_to_a_cached_wheel_build(
    tmp_path: Path, builder: Builder, hook_log: Path
) -> None:
    sdist = make_sdist(make_project(tmp_path / "p", prepare_metadata=False), tmp_path / "dist")

    metadata = builder.prepare_metadata(sdist)
    built = builder.build_wheel(sdist)

    assert b"Name: tiny-pkg" in metadata
    assert built.cached  # the fallback's wheel was kept for the install
    assert backend_log(hook_log) == ["get_requires_for_build_wheel", "build_wheel"]
    assert builder.prepare_metadata(sdist) == metadata  # and answers later metadata requests


def test_prepare_metadata_of_a_directory(tmp_path: Path, builder: Builder) -> None:
    project = make_project(tmp_path / "p", name="dir-pkg", version="2.0")
    assert b"Name: dir-pkg\nVersion: 2.0\n" in builder.prepare_metadata(project)


def test_without_isolation_the_host_interpreter_runs_the_hooks(
    tmp_path: Path, cache_dir: Path, hook_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_BACKEND_EXTRA_REQUIRES", "not-installed-anywhere")
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    builder = Builder(
        cache_dir=cache_dir, env_factory=None, isolation=False, host_python=Path(sys.executable)
    )

    built = builder.build_wheel(sdist)

    assert built.path.name == WHEEL and not built.cached


def test_a_missing_host_interpreter_is_a_build_error(tmp_path: Path, cache_dir: Path, hook_log: Path) -> None:
    project = make_project(tmp_path / "p")
    builder = Builder(cache_dir=cache_dir, env_factory=None, isolation=False, host_python=tmp_path / "nope")

    with pytest.raises(BuildError, match="could not start"):
        builder.build_wheel(project)
