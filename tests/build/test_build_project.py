"""Reading ``[build-system]``: pip's defaults, validation, backend-path containment."""

from __future__ import annotations

from pathlib import Path

import pytest

from forge_pip.build import InvalidBuildSource, read_build_system
from forge_pip.build.project import DEFAULT_REQUIRES, LEGACY_BACKEND


def _read(tmp_path: Path, text: str | None) -> object:
    if text is not None:
        (tmp_path / "pyproject.toml").write_text(text)
    return read_build_system(tmp_path, label="demo-1.0")


def test_no_pyproject_means_pip_defaults(tmp_path: Path) -> None:
    system = read_build_system(tmp_path, label="demo-1.0")
    assert (system.requires, system.backend, system.backend_path) == (DEFAULT_REQUIRES, LEGACY_BACKEND, ())
    assert DEFAULT_REQUIRES == ("setuptools>=40.8.0",)
    assert LEGACY_BACKEND == "setuptools.build_meta:__legacy__"


def test_pyproject_without_build_system_means_defaults_but_keeps_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    system = read_build_system(tmp_path, label="x")
    assert system.requires == DEFAULT_REQUIRES and system.backend == LEGACY_BACKEND
    assert system.label == "demo-1.0"


def test_requires_without_backend_uses_the_legacy_backend(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61", "wheel"]\n')
    system = read_build_system(tmp_path, label="x")
    assert system.requires == ("setuptools>=61", "wheel") and system.backend == LEGACY_BACKEND


def test_in_tree_backend(tmp_path: Path) -> None:
    (tmp_path / "_b").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "be:api"\nbackend-path = ["_b", "."]\n'
    )
    system = read_build_system(tmp_path, label="x")
    assert (system.requires, system.backend, system.backend_path) == ((), "be:api", ("_b", "."))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[build-system\n", "demo-1.0 has an invalid pyproject.toml"),
        ('[build-system]\nbuild-backend = "x"\n', "missing the mandatory 'requires'"),
        ('[build-system]\nrequires = "setuptools"\n', "list of strings"),
        ('[build-system]\nrequires = ["setuptools >= = 1"]\n', "invalid requirement"),
        ("[build-system]\nrequires = []\nbuild-backend = 3\n", "non-empty string"),
        ('[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["../up"]\n', "outside"),
        ('[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["/abs"]\n', "relative"),
        ('[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["a/../../up"]\n', "outside"),
    ],
)
def test_invalid_build_system_is_one_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(InvalidBuildSource, match=problem) as caught:
        _read(tmp_path, text)
    assert caught.value.project == "demo-1.0"
    assert isinstance(caught.value, ValueError)


def test_backend_path_through_a_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "sneaky").symlink_to(tmp_path)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["sneaky"]\n'
    )
    with pytest.raises(InvalidBuildSource, match="outside"):
        read_build_system(project, label="p")
