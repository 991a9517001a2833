"""PEP 723 inline script metadata for pip's ``--requirements-from-script SCRIPT``.

Usage::

    meta = script_metadata(Path("tool.py"))     # {"dependencies": [...], "requires-python": ">=3.11"}
    script_requirements(Path("tool.py"), target) # the dependencies; refuses a Python outside requires-python

The block is the one PEP 723 defines (and pip reads): ``# /// script`` ... ``# ///``, every line in
between starting with ``#`` (``# `` is stripped); two ``script`` blocks are an error, as is none.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from forge_store.errors import InvalidRequirementsSource, UnsupportedPython

if TYPE_CHECKING:
    from forge_pip.models import TargetPython

__all__ = ["script_metadata", "script_requirements"]

# PEP 723's reference regular expression (pip uses the same).
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


def script_metadata(script: Path) -> dict[str, Any]:
    """The TOML of the script's ``script`` block."""
    from forge_pip.tomlfile import loads

    label = str(script)
    try:
        text = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequirementsSource(
            f"cannot read {label!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    blocks = [m for m in _BLOCK.finditer(text) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise InvalidRequirementsSource(f"Multiple 'script' blocks found in {label!r}")
    if not blocks:
        raise InvalidRequirementsSource(f"File does not contain 'script' metadata: {label!r}")
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    return loads(content, what=f"Failed to parse TOML in {label!r}", error=InvalidRequirementsSource)


def script_requirements(
    script: Path, target: TargetPython, *, ignore_requires_python: bool = False
) -> list[str]:
    """The script's ``dependencies``, after checking its ``requires-python`` against ``target``."""
    meta = script_metadata(script)
    label = str(script)
    requires_python = meta.get("requires-python", "")
    if requires_python and not ignore_requires_python:
        try:
            spec = SpecifierSet(str(requires_python))
        except InvalidSpecifier:
            raise InvalidRequirementsSource(
                f"{label!r}: invalid requires-python {requires_python!r}"
            ) from None
        if not spec.contains(target.python_version, prereleases=True):
            raise UnsupportedPython(
                f"Script {label!r} requires a different Python: "
                f"{target.python_version} not in {str(requires_python)!r}"
            )
    deps = meta.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise InvalidRequirementsSource(f"{label!r}: 'dependencies' must be a list of strings")
    for dep in deps:
        try:
            Requirement(dep)
        except InvalidRequirement as exc:
            raise InvalidRequirementsSource(f"{label!r}: invalid dependency {dep!r}: {exc}") from None
    return list(deps)
