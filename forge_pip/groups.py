"""PEP 735 dependency groups for pip's ``--group [path:]name`` (default path ``./pyproject.toml``).

Usage::

    parse_group_option("dev")                    # ("pyproject.toml", "dev")
    parse_group_option("sub/pyproject.toml:test") # ("sub/pyproject.toml", "test")
    group_requirements([("pyproject.toml", "dev")])  # ["pytest>=8", "ruff"], include-group expanded

Group names compare normalized (as project names are); ``{include-group = "x"}`` tables expand
recursively, a cycle or an unknown group is an error. Every string must be a PEP 508
requirement. Errors are one :class:`InvalidRequirementsSource` line, worded like pip's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from forge_store.errors import InvalidRequirementsSource, UsageError

__all__ = ["group_requirements", "parse_group_option"]

_NORMALIZE = re.compile(r"[-_.]+")


def _normalize(name: str) -> str:
    return _NORMALIZE.sub("-", name).lower()


def parse_group_option(value: str) -> tuple[str, str]:
    """pip's ``--group`` value: split on the rightmost ``:``; a path must name a ``pyproject.toml``."""
    path, sep, name = value.rpartition(":")
    if not sep:
        path = "pyproject.toml"
    elif PurePath(path).name != "pyproject.toml":
        raise UsageError(f"--group {value}: group paths use 'pyproject.toml' filenames")
    if not name:
        raise UsageError(f"--group {value}: no group name")
    return path, name


def _load(path: Path, label: str) -> Mapping[str, Any]:
    from forge_pip.tomlfile import loads

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRequirementsSource(f"{label} not found. Cannot resolve '--group' option.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequirementsSource(f"Error reading {label}: {exc}") from None
    doc = loads(text, what=f"Error parsing {label}", error=InvalidRequirementsSource)
    if "dependency-groups" not in doc:
        raise InvalidRequirementsSource(
            f"[dependency-groups] table was missing from '{label}'. Cannot resolve '--group' option."
        )
    table = doc["dependency-groups"]
    if not isinstance(table, dict):
        raise InvalidRequirementsSource(
            f"[dependency-groups] table was malformed in {label}. Cannot resolve '--group' option."
        )
    groups: dict[str, Any] = {}
    for raw_name, value in table.items():
        key = _normalize(str(raw_name))
        if key in groups:
            raise InvalidRequirementsSource(
                f"[dependency-groups] data was invalid in {label}: duplicate group name {raw_name!r}"
                " (names are compared normalized)"
            )
        groups[key] = value
    return groups


def _expand(groups: Mapping[str, Any], name: str, label: str, stack: tuple[str, ...]) -> list[str]:
    key = _normalize(name)

    def fail(problem: str) -> InvalidRequirementsSource:
        asked = stack[0] if stack else name
        return InvalidRequirementsSource(
            f"[dependency-groups] resolution failed for '{asked}' from '{label}': {problem}"
        )

    if key in stack:
        raise fail(f"cyclic dependency group include: {' -> '.join([*stack, key])}")
    if key not in groups:
        raise fail(f"dependency group '{name}' not found")
    value = groups[key]
    if not isinstance(value, list):
        raise fail(f"dependency group '{name}' is not a list")
    out: list[str] = []
    for item in value:
        if isinstance(item, str):
            try:
                Requirement(item)
            except InvalidRequirement as exc:
                raise fail(f"invalid requirement {item!r} in group '{name}': {exc}") from None
            out.append(item)
        elif (
            isinstance(item, dict)
            and set(item) == {"include-group"}
            and isinstance(item["include-group"], str)
        ):
            out.extend(_expand(groups, item["include-group"], label, (*stack, key)))
        else:
            raise fail(
                f"invalid item {item!r} in group '{name}' (a requirement string or {{include-group = ...}})"
            )
    return out


def group_requirements(groups: Sequence[tuple[str, str]], *, cwd: Path | None = None) -> list[str]:
    """The requirement strings of each ``(path, group)``, includes expanded, in order."""
    base = cwd or Path.cwd()
    loaded: dict[str, Mapping[str, Any]] = {}
    out: list[str] = []
    for path, name in groups:
        if path not in loaded:
            loaded[path] = _load(base / path, path)
        out.extend(_expand(loaded[path], name, path, ()))
    return out
