"""pip 25.1-26.2's options beyond requirements files, turned into what ``InstallOptions`` needs.

``standard_options`` reads them from the command line and pip's configuration (``PIP_BUILD_CONSTRAINT``,
``PIP_UPLOADED_PRIOR_TO``, ``PIP_ALL_RELEASES`` / ``PIP_ONLY_FINAL``...) and checks the
combinations pip refuses; ``requirement_lines`` expands ``--group`` (PEP 735) and
``--requirements-from-script`` (PEP 723) for the target interpreter; ``install_fields`` gives the
keyword arguments of :class:`~forge_pip.install.InstallOptions`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.errors import OptionValueError, UsageError
from forge_store.records import record

if TYPE_CHECKING:
    from forge_pip.config import PipConfig
    from forge_pip.models import TargetPython
    from forge_pip.reqfile import ReqLine

__all__ = [
    "StandardOptions",
    "cli_settings",
    "install_fields",
    "is_lock_file",
    "parse_uploaded_prior_to",
    "requirement_lines",
    "standard_options",
]


@record(frozen=True, slots=True)
class StandardOptions:
    build_constraints: tuple[ReqLine, ...] = ()
    check_build_deps: bool = False
    groups: tuple[tuple[str, str], ...] = ()
    """``--group``: ``(path to a pyproject.toml, group name)``."""
    scripts: tuple[str, ...] = ()
    only_deps: bool = False
    uploaded_prior_to: datetime.datetime | None = None
    all_releases: frozenset[str] = frozenset()
    only_final: frozenset[str] = frozenset()
    no_require_hashes: bool = False
    ignore_requires_python: bool = False
    lock_files: tuple[str, ...] = ()


def is_lock_file(path: str) -> bool:
    """Whether ``-r PATH`` names a PEP 751 lock file (``pylock.toml`` / ``pylock.NAME.toml``)."""
    if not path.rstrip("/").endswith(".toml"):  # every lock file name does: most -r files need no lock module
        return False
    from forge_pip.pylock import is_pylock_path

    return is_pylock_path(path)


def cli_settings(line: ReqLine, settings: Mapping[str, str | list[str]] | None) -> ReqLine:
    """A command-line ``ReqLine`` with the command line's ``-C`` (pip gives them to its
    requirement arguments and ``-e`` projects only, never to requirements files or dependencies)."""
    if not settings:
        return line
    values = {k: v if isinstance(v, str) else tuple(v) for k, v in settings.items()}
    return dataclasses.replace(line, config_settings=values)


_DAYS = re.compile(r"^P(\d+)D$", re.ASCII)


def parse_uploaded_prior_to(value: str, *, now: datetime.datetime | None = None) -> datetime.datetime:
    """pip's ``--uploaded-prior-to``: an ISO 8601 datetime (local time when it names no offset)
    or ``P<n>D``, n whole days before now."""
    match = _DAYS.match(value)
    if match:
        if now is None:  # the answer moves with the clock: a run using it is not replayed
            sys.audit("forge.volatile", "--uploaded-prior-to relative to now")
        return (now or datetime.datetime.now(datetime.timezone.utc)) - datetime.timedelta(days=int(match[1]))
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise OptionValueError(
            f"--uploaded-prior-to: invalid value: {value!r}: {exc}. Expected an ISO 8601 datetime string"
            " (e.g., '2023-01-01' or '2023-01-01T00:00:00Z') or a duration in days (e.g., 'P3D')"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _release_sets(ops: Sequence[tuple[str, str]]) -> tuple[frozenset[str], frozenset[str]]:
    """Apply ``--all-releases`` / ``--only-final`` values in order (pip's ``handle_mutual_excludes``)."""
    from packaging.utils import canonicalize_name

    sets: dict[str, set[str]] = {"all-releases": set(), "only-final": set()}
    for option, value in ops:
        target = sets[option]
        other = sets["only-final" if option == "all-releases" else "all-releases"]
        names = value.split(",")
        while ":all:" in names:
            other.clear()
            target.clear()
            target.add(":all:")
            del names[: names.index(":all:") + 1]
            if ":none:" not in names:
                names = []
        for name in names:
            if name == ":none:":
                target.clear()
            elif name:
                canonical = canonicalize_name(name)
                other.discard(canonical)
                target.add(canonical)
    return frozenset(sets["all-releases"]), frozenset(sets["only-final"])


def standard_options(
    ns: argparse.Namespace, config: PipConfig, lock_files: Sequence[str], *, environ: Mapping[str, str]
) -> StandardOptions:
    """Read and check the options (pip's refusals: ``--pre`` with ``--all-releases`` /
    ``--only-final``, ``--only-deps`` with ``--no-deps`` / ``-r`` / ``--group`` / a script,
    ``--require-hashes`` with ``--no-require-hashes``, ``--build-constraint`` without isolation)."""
    from forge_pip.groups import parse_group_option
    from forge_pip.reqfile import parse_requirements

    def flag(name: str) -> bool:
        return bool(getattr(ns, name.replace("-", "_"), False) or config.get_bool(name))

    build_constraints: list[ReqLine] = []
    files = [*config.get_list("build-constraint"), *getattr(ns, "build_constraints", [])]
    for path in files:
        lines, _fo = parse_requirements(path, constraint=True, environ=environ)
        build_constraints.extend(lines)
    if files and (getattr(ns, "no_build_isolation", False) or config.get_bool("no-build-isolation")):
        raise UsageError("--build-constraint cannot be used with --no-build-isolation.")
    ops: list[tuple[str, str]] = []
    for option in ("all-releases", "only-final"):
        configured = config.get_str(option)
        if configured:
            ops.append((option, configured))
    ops.extend(getattr(ns, "release_ops", []))
    all_releases, only_final = _release_sets(ops)
    if (all_releases or only_final) and (getattr(ns, "pre", False) or config.get_bool("pre")):
        raise UsageError("--pre cannot be used with --all-releases or --only-final.")
    groups = tuple(parse_group_option(value) for value in getattr(ns, "groups", []))
    scripts = tuple(getattr(ns, "scripts", []))
    if len(scripts) > 1:
        raise UsageError("--requirements-from-script can only be given once")
    only_deps = flag("only-deps")
    if only_deps:
        conflicts = []
        if flag("no-deps"):
            conflicts.append("'--no-deps'")
        if getattr(ns, "requirement_files", []) or config.get_list("requirement"):
            conflicts.append("'--requirement'")
        if scripts:
            conflicts.append("'--requirements-from-script'")
        if groups:
            conflicts.append("'--group'")
        if conflicts:
            if len(conflicts) > 1:
                conflicts[-1] = "or " + conflicts[-1]
            raise UsageError(f"Cannot use '--only-dependencies' in combination with {', '.join(conflicts)}.")
    no_require_hashes = flag("no-require-hashes")
    if no_require_hashes and flag("require-hashes"):
        raise UsageError("--require-hashes and --no-require-hashes are mutually exclusive")
    uploaded = getattr(ns, "uploaded_prior_to", None) or config.get_str("uploaded-prior-to")
    return StandardOptions(
        build_constraints=tuple(build_constraints),
        check_build_deps=bool(
            getattr(ns, "check_build_deps", False) or config.get_bool("check-build-dependencies")
        ),
        groups=groups,
        scripts=scripts,
        only_deps=only_deps,
        uploaded_prior_to=parse_uploaded_prior_to(uploaded) if uploaded else None,
        all_releases=all_releases,
        only_final=only_final,
        no_require_hashes=no_require_hashes,
        ignore_requires_python=flag("ignore-requires-python"),
        lock_files=tuple(lock_files),
    )


def requirement_lines(
    standards: StandardOptions, target: TargetPython, cwd: Path | None = None
) -> list[ReqLine]:
    """The requirements ``--group`` and ``--requirements-from-script`` add (after the others, as pip)."""
    from forge_pip.groups import group_requirements
    from forge_pip.reqfile import parse_requirement_line
    from forge_pip.script_meta import script_requirements

    texts: list[tuple[str, str]] = []
    for text in group_requirements(standards.groups, cwd=cwd):
        texts.append((text, "--group"))
    base = cwd or Path.cwd()
    for script in standards.scripts:
        deps = script_requirements(
            base / script, target, ignore_requires_python=standards.ignore_requires_python
        )
        texts.extend((dep, script) for dep in deps)
    return [
        parse_requirement_line(text, f"{text} (from {where})", with_options=False) for text, where in texts
    ]


def install_fields(standards: StandardOptions | None) -> dict[str, object]:
    """The ``InstallOptions`` keyword arguments these options set."""
    if standards is None:
        return {}
    return {
        "build_constraints": standards.build_constraints,
        "check_build_deps": standards.check_build_deps,
        "only_deps": standards.only_deps,
        "all_releases": standards.all_releases,
        "only_final": standards.only_final,
        "no_require_hashes": standards.no_require_hashes,
        "lock_files": standards.lock_files,
    }
