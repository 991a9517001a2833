"""Which environment ``forge pip`` / ``python -m forge_pip`` acts on.

``--env NAME`` or ``--python PATH`` when given. Otherwise, in this order (uv's order, after pip's
"the interpreter that runs me"):

1. the interpreter running the front end, when it is a venv and not Forge's own installation (an
   env's ``python -m forge_pip`` reaching the real package; its launcher passes ``--python`` anyway);
2. the active venv, ``$VIRTUAL_ENV``;
3. a ``.venv`` in the working directory or the nearest parent that has one.

Never Forge's own installation (the venv or prefix Forge runs from): a request there could replace
Forge's own dependencies under the running Forge. With nothing found the command is refused with
one line that says how to name a target. A plain (non-Forge) venv found this way is adopted, as
``--python`` adopts one. So ``alias pip='forge pip'`` acts where pip would in an activated shell or
a uv-style project.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.errors import NoTargetEnv, NotFoundError
from forge_store.records import record

if TYPE_CHECKING:
    from forge_store.models import EnvInfo
    from forge_store.store import Store

HOW_TO_NAME = (
    'name one: --env NAME, --python PATH, activate an env (eval "$(forge activate NAME)"),'
    " or make a .venv here (python -m venv .venv)"
)


@record(frozen=True, slots=True)
class DefaultTarget:
    """A target found without ``--env``/``--python``: a venv prefix and the rule that found it."""

    prefix: Path
    source: str  # "the running interpreter", "VIRTUAL_ENV", ".venv"


def own_installation() -> Path | None:
    """The prefix Forge runs from, if Forge is installed in it (its code, or its dist-info, is there)."""
    import sysconfig

    prefix = Path(sys.prefix).resolve()
    here = Path(__file__).resolve()
    if here.is_relative_to(prefix):
        return prefix
    paths = sysconfig.get_paths()
    for key in ("purelib", "platlib"):
        site = Path(paths[key])
        if site.is_dir() and any(site.glob("forge_runtime-*.dist-info")):
            return prefix
    return None


def find_dot_venv(start: Path) -> Path | None:
    """``.venv`` in ``start`` or its nearest parent that has one (a directory; validated later)."""
    for folder in (start, *start.parents):
        candidate = folder / ".venv"
        if candidate.is_dir():
            return candidate
    return None


def default_target(
    *,
    cwd: Path | None,
    environ: Mapping[str, str],
    running_prefix: Path | None,
    own: Path | None,
) -> DefaultTarget:
    """The target when none is named (the rules above); raises :class:`NoTargetEnv`.
    ``cwd`` None: the working directory is gone, so there is no ``.venv`` to look for."""

    def is_own(prefix: Path) -> bool:
        return own is not None and prefix.resolve() == own.resolve()

    if running_prefix is not None and not is_own(running_prefix):
        return DefaultTarget(running_prefix, "the running interpreter")
    active = environ.get("VIRTUAL_ENV")
    if active:
        prefix = Path(active)
        if not prefix.is_dir():
            raise NotFoundError(
                f"VIRTUAL_ENV names {prefix}, which does not exist",
                hint="deactivate it, or " + HOW_TO_NAME,
            )
        found = DefaultTarget(prefix, "VIRTUAL_ENV")
    else:
        dot = find_dot_venv(cwd) if cwd is not None else None
        if dot is None:
            where = f"in {cwd} or its parents" if cwd is not None else "(the working directory is gone)"
            raise NoTargetEnv(
                f"no target environment (no --env or --python, no active venv, no .venv {where})",
                hint=HOW_TO_NAME,
            )
        found = DefaultTarget(dot, ".venv")
    if is_own(found.prefix):
        where = "the active venv" if found.source == "VIRTUAL_ENV" else "the nearest .venv"
        raise NoTargetEnv(
            f"{where}, {found.prefix}, is Forge's own installation; Forge does not install into itself",
            hint=HOW_TO_NAME,
        )
    return found


def _prefix_of(python: str) -> Path:
    """The venv prefix of ``--python`` (an interpreter path, or a prefix), without resolving links:
    an env's ``bin/python`` is a link to the base interpreter."""
    path = Path(python).absolute()
    if path.is_dir():
        return path
    return path.parent.parent


def use_target_home(ns: argparse.Namespace, environ: MutableMapping[str, str] | None = None) -> None:
    """With no ``FORGE_HOME`` set, act in the home the target env belongs to (its ``pyvenv.cfg``
    names it): an env made under ``FORGE_HOME=/data/forge`` keeps using that store when its
    ``bin/pip`` runs from cron, a CI step or a shell without the variable, instead of adopting the
    env into the default home as a plain venv. An explicit ``FORGE_HOME`` always wins."""
    from forge_store.errors import ForgeError
    from forge_store.home import home_of_venv

    env = os.environ if environ is None else environ
    if env.get("FORGE_HOME") or getattr(ns, "env", None) is not None:
        return
    python = getattr(ns, "python", None)
    if python is not None:
        prefix = _prefix_of(python)
    else:
        running = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
        try:
            own = own_installation()
            found = default_target(cwd=Path.cwd(), environ=env, running_prefix=running, own=own)
        except (ForgeError, OSError):
            return  # no target: open_target says so, in the home Forge would use anyway
        prefix = found.prefix
    home = home_of_venv(prefix)
    if home is not None:
        env["FORGE_HOME"] = str(home)


def open_target(ns: argparse.Namespace, store: Store) -> EnvInfo:
    """The env a pip command acts on (``--env``, ``--python``, else :func:`default_target`)."""
    from forge_pip.install import find_target

    python = ns.python
    if python is None and ns.env is None:
        running = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
        try:
            cwd: Path | None = Path.cwd()
        except OSError:  # the working directory was removed: no .venv to find there
            cwd = None
        found = default_target(cwd=cwd, environ=os.environ, running_prefix=running, own=own_installation())
        python = str(found.prefix)
    return find_target(store, python=python, env_name=ns.env, break_system_packages=ns.break_system_packages)
