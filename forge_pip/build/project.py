"""What a source tree's ``pyproject.toml`` says about building it (PEP 517/518, pip's defaults).

``read_build_system`` returns the requirements, the backend and its in-tree ``backend-path``;
a tree without ``pyproject.toml`` or without ``[build-system]`` gets pip's defaults
(``setuptools>=40.8.0`` and ``setuptools.build_meta:__legacy__``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forge_pip.build.errors import BuildError, InvalidBuildSource
from forge_store.records import record

DEFAULT_REQUIRES: tuple[str, ...] = ("setuptools>=40.8.0",)
"""What pip installs for a project that does not declare ``build-system.requires``."""
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
"""The backend pip uses for a project without ``build-system.build-backend`` (runs ``setup.py``)."""


@record(frozen=True, slots=True)
class BuildSystem:
    """The ``[build-system]`` of one source tree, defaults applied and validated."""

    requires: tuple[str, ...]
    """PEP 508 requirements the backend needs installed before any hook runs."""
    backend: str
    """``module`` or ``module:object`` naming the PEP 517 backend."""
    backend_path: tuple[str, ...] = ()
    """In-tree directories (relative to the project root) put first on the hooks' ``sys.path``."""
    project_name: str | None = None
    """``[project].name``, when the file declares it (used to check the built wheel)."""
    project_version: str | None = None
    """``[project].version``, when static."""

    @property
    def label(self) -> str | None:
        """``name-version`` (or just ``name``) from ``[project]``, for messages."""
        if self.project_name and self.project_version:
            return f"{self.project_name}-{self.project_version}"
        return self.project_name


def _toml_loads() -> Callable[[str], dict[str, Any]]:
    """``tomllib.loads`` (3.11+) or ``tomli.loads``; never a home-made parser."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:
        tomli = importlib.import_module("tomli")
    except ImportError:
        raise BuildError(
            "reading pyproject.toml on Python 3.10 needs the 'tomli' package, which is not installed",
            hint="Install Forge with its dependencies (pip install forge-runtime) or add 'tomli'.",
        )
    loads: Callable[[str], dict[str, Any]] = tomli.loads
    return loads


def _fail(label: str, problem: str) -> InvalidBuildSource:
    return InvalidBuildSource(
        f"{label} has an invalid pyproject.toml: {problem}",
        hint="See https://packaging.python.org/en/latest/specifications/pyproject-toml/",
        project=label,
    )


def read_build_system(root: Path, *, label: str) -> BuildSystem:
    """Read ``root/pyproject.toml`` (if any) and return its validated build system.

    ``label`` names the project in errors. Raises :class:`InvalidBuildSource` for malformed TOML,
    wrong types, unparsable requirements or a ``backend-path`` that leaves the tree.
    """
    path = root / "pyproject.toml"
    if not path.is_file():
        return BuildSystem(requires=DEFAULT_REQUIRES, backend=LEGACY_BACKEND)
    try:
        data = _toml_loads()(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise _fail(label, f"not UTF-8 ({exc})")
    except ValueError as exc:  # tomllib.TOMLDecodeError and tomli's are ValueErrors
        raise _fail(label, str(exc))
    name, version = _project_fields(data, label)
    table = data.get("build-system")
    if table is None:
        return BuildSystem(DEFAULT_REQUIRES, LEGACY_BACKEND, project_name=name, project_version=version)
    if not isinstance(table, dict):
        raise _fail(label, "[build-system] must be a table")
    if "requires" not in table:
        raise _fail(label, "the [build-system] table is missing the mandatory 'requires' key")
    requires = _string_list(table["requires"], "build-system.requires", label)
    _check_requirements(requires, label)
    backend = table.get("build-backend", LEGACY_BACKEND)
    if not isinstance(backend, str) or not backend.strip():
        raise _fail(label, "build-system.build-backend must be a non-empty string")
    backend_path = _string_list(table.get("backend-path", []), "build-system.backend-path", label)
    for entry in backend_path:
        _check_inside(root, entry, label)
    return BuildSystem(requires, backend.strip(), backend_path, name, version)


def _project_fields(data: dict[str, Any], label: str) -> tuple[str | None, str | None]:
    project = data.get("project")
    if not isinstance(project, dict):
        return None, None
    name, version = project.get("name"), project.get("version")
    if name is not None and not isinstance(name, str):
        raise _fail(label, "project.name must be a string")
    return name, version if isinstance(version, str) else None


def _string_list(value: object, key: str, label: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(label, f"{key} must be a list of strings")
    return tuple(value)


def _check_requirements(requires: tuple[str, ...], label: str) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    for requirement in requires:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            raise _fail(label, f"build-system.requires has an invalid requirement {requirement!r}: {exc}")


def _check_inside(root: Path, entry: str, label: str) -> None:
    """PEP 517: backend-path entries are relative and must stay inside the source tree."""
    if Path(entry).is_absolute():
        raise _fail(label, f"build-system.backend-path entry {entry!r} must be relative to the project")
    top = root.resolve()
    resolved = (top / entry).resolve()
    if resolved != top and top not in resolved.parents:
        raise _fail(label, f"build-system.backend-path entry {entry!r} points outside the project tree")
