"""``--check-build-dependencies``: are a project's ``build-system.requires`` met by what the target
env already has? Only meaningful without build isolation (pip checks the env the hooks run in).

Usage::

    conflicting, missing = unmet_build_requires(["setuptools>=61", "wheel"], installed.get, markers)
    # ({("setuptools 50.0", "setuptools>=61")}, {"wheel"})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from forge_pip.build.errors import BuildDependenciesMissing

__all__ = ["check_build_requires", "unmet_build_requires"]


def unmet_build_requires(
    requires: Iterable[str],
    installed: Callable[[NormalizedName], Version | None],
    markers: Mapping[str, str],
) -> tuple[set[tuple[str, str]], set[str]]:
    """``(conflicting, missing)`` as pip's ``BuildEnvironment.check_requirements`` returns them:
    ``installed`` gives the version the env has of a (canonical) name, or None; the answer holds
    ``("name version", "requirement")`` pairs for installed versions outside the specifier, and
    the requirement texts nothing installed provides. Entries whose markers do not apply are met."""
    conflicting: set[tuple[str, str]] = set()
    missing: set[str] = set()
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            missing.add(text)
            continue
        if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
            continue
        version = installed(canonicalize_name(req.name))
        if version is None:
            missing.add(str(req))
        elif not req.specifier.contains(version, prereleases=True):
            conflicting.add((f"{req.name} {version}", str(req)))
    return conflicting, missing


def check_build_requires(
    label: str,
    requires: Iterable[str],
    installed: Callable[[NormalizedName], Version | None],
    markers: Mapping[str, str],
) -> None:
    """Raise :class:`BuildDependenciesMissing` with pip's wording when a build requirement is unmet."""
    conflicting, missing = unmet_build_requires(requires, installed, markers)
    hint = "install them into the env first, or drop --check-build-dependencies / --no-build-isolation"
    if conflicting:
        description = ", ".join(f"{have} is incompatible with {want}" for have, want in sorted(conflicting))
        raise BuildDependenciesMissing(
            f"Some build dependencies for {label} conflict with the backend dependencies: {description}.",
            hint=hint,
            project=label,
        )
    if missing:
        raise BuildDependenciesMissing(
            f"Some build dependencies for {label} are missing: {', '.join(map(repr, sorted(missing)))}.",
            hint=hint,
            project=label,
        )
