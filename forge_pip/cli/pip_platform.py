"""pip's ``--platform`` / ``--python-version`` / ``--implementation`` / ``--abi``: another target.

The tags are pip's ``compatibility_tags.get_supported``: ``cpython_tags`` (or ``generic_tags``)
then ``compatible_tags`` for the given platforms, with pip's legacy manylinux expansion
(``manylinux2014_x86_64`` also allows ``manylinux2010`` and ``manylinux1``). Requires-Python is
checked against the given version; markers stay the running interpreter's, as in pip.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from forge_store.errors import UsageError

if TYPE_CHECKING:
    from forge_pip.models import TargetPython
    from forge_store.models import Interpreter

RESTRICTION_ERROR = (
    "When restricting platform and interpreter constraints using --python-version, --platform,"
    " --abi, or --implementation, either --no-deps must be set, or --only-binary=:all: must be set"
    " and --no-binary must not be set (or must be set to :none:)."
)
_LEGACY = {"manylinux2014": ("manylinux2010", "manylinux1"), "manylinux2010": ("manylinux1",)}


def restricted(ns: argparse.Namespace) -> bool:
    return bool(ns.platforms or ns.target_python_version or ns.implementation or ns.abis)


def check_restriction(ns: argparse.Namespace, only_binary: frozenset[str], no_binary: frozenset[str]) -> None:
    """pip's ``check_dist_restriction``: another target needs ``--no-deps`` or wheels only."""
    if restricted(ns) and not (ns.no_deps or (":all:" in only_binary and not no_binary)):
        raise UsageError(RESTRICTION_ERROR)


def _platforms(given: list[str]) -> list[str]:
    out: list[str] = []
    for platform in given:
        out.append(platform)
        head, _, arch = platform.partition("_")
        out.extend(f"{legacy}_{arch}" for legacy in _LEGACY.get(head, ()) if arch)
    return list(dict.fromkeys(out))


def _version(text: str) -> tuple[int, ...]:
    """``"3.11"``, ``"311"`` or ``"3"`` -> a version tuple (pip's ``_handle_python_version``)."""
    try:
        if "." in text:
            return tuple(int(p) for p in text.split("."))
        if len(text) > 1:
            return (int(text[0]), int(text[1:]))
        return (int(text),)
    except ValueError:
        raise UsageError(f"invalid --python-version value: {text!r}") from None


def custom_target(ns: argparse.Namespace, interp: Interpreter) -> TargetPython | None:
    """The target the options describe, or None when they ask for none."""
    if not restricted(ns):
        return None
    from packaging.tags import compatible_tags, cpython_tags, generic_tags, interpreter_name

    from forge_pip.models import TargetPython
    from forge_pip.sources import target_python

    base = target_python(interp)
    version = _version(ns.target_python_version) if ns.target_python_version else base.version[:2]
    impl = ns.implementation or interpreter_name()
    interpreter = f"{impl}{''.join(str(v) for v in version[:2])}"
    platforms = _platforms(ns.platforms) or None
    abis = ns.abis or None
    if impl == "cp":
        tags = list(cpython_tags(python_version=version, abis=abis, platforms=platforms))
    else:
        tags = list(generic_tags(interpreter=interpreter, abis=abis, platforms=platforms))
    tags += compatible_tags(python_version=version, interpreter=interpreter, platforms=platforms)
    full = (*version, 0, 0)[:3]
    return TargetPython(
        version=(full[0], full[1], full[2]), tags=tuple(dict.fromkeys(tags)), markers=base.markers
    )
