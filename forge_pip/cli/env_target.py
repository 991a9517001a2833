"""The ``--env`` / ``--global`` / ``--python`` options of the ``forge`` commands that act on one env,
and how they pick it (``--env``, else ``$FORGE_ENV``, else the active ``$VIRTUAL_ENV``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.errors import UsageError

if TYPE_CHECKING:
    from forge_store.models import EnvInfo
    from forge_store.store import Store


def add_env_args(p: argparse.ArgumentParser, *, allow_global: bool = True) -> None:
    p.add_argument("--env", "-e", dest="env", help="target env (default: $FORGE_ENV)")
    if not allow_global:
        return
    p.add_argument(
        "--global", dest="global_", action="store_true", help="target the interpreter's GLOBAL layer"
    )
    p.add_argument("--python", help="with --global: the interpreter whose GLOBAL layer (default: Forge's)")


def target_env(store: Store, args: argparse.Namespace) -> EnvInfo:
    if getattr(args, "global_", False):
        from forge_store import interpreters

        interp = interpreters.find(args.python, store.home.cache / "interpreters")
        env = store.global_env(interp, create=True)
        assert env is not None
        return env
    name = args.env or os.environ.get("FORGE_ENV")
    if not name:
        venv = os.environ.get("VIRTUAL_ENV")
        found = store.env_at(Path(venv)) if venv else None
        if found is not None:
            return found
        raise UsageError("no env given", hint="pass --env NAME, or activate one (forge activate NAME)")
    return store.env(name)
