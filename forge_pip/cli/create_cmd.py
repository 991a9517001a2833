"""``forge create NAME [REQUIREMENT...] [-r FILE] [pip install options]``: create and install at once.

Forge's create options are taken out first, wherever they stand (``--parent``, ``--python``,
``--path``, ``--layering``, ``--link-mode``, ``--seed``, ``--json``, ``-q``/``-v``, ``-h``); the
first other word is the env's NAME, and everything after it goes to pip's ``install`` parser as
``forge install`` hands it (``-r``, ``-c``, ``-i``, ``--no-deps``, ``--offline``...). Those
options are parsed *before* the env is made, so a bad one changes nothing. When the install
fails, the env this command created is removed again and the command says so: no half env.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forge_store.models import EnvInfo
    from forge_store.store import Store

_CREATE_VALUE = frozenset({"--parent", "--python", "--path", "--layering", "--link-mode", "--seed"})
_CREATE_FLAG = frozenset({"--json", "-h", "--help", "--quiet", "--verbose"})


def split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(create's own arguments with NAME, the install's arguments)``, each in its order."""
    own: list[str] = []
    rest: list[str] = []
    have_name = False
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        name, eq, _value = token.partition("=")
        if token == "--":
            rest.extend(args[i + 1 :])
            break
        if name in _CREATE_VALUE:
            own.append(token)
            if not eq and i + 1 < len(args):
                own.append(args[i + 1])
                i += 1
        elif token in _CREATE_FLAG or (
            len(token) > 1 and token[0] == "-" and token[1:2] in ("q", "v") and set(token[1:]) <= {token[1]}
        ):
            own.append(token)
        elif not have_name and not token.startswith("-"):
            own.append(token)
            have_name = True
        else:
            rest.append(token)
        i += 1
    return own, rest


def has_install(argv: Sequence[str]) -> bool:
    """Whether a ``forge create`` command line also asks for an install."""
    return bool(split_args(argv)[1])


def main(argv: Sequence[str]) -> int:
    """``forge create NAME`` plus install arguments; returns the exit code."""
    from forge_pip.cli.common import run_guarded, setup_logging
    from forge_pip.cli.forge import _build_parser
    from forge_store.errors import ExitCode

    own, rest = split_args(argv)
    try:
        args = _build_parser("create").parse_args(["create", *own])
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else int(ExitCode.USAGE)
    setup_logging(args.verbose - args.quiet)
    return run_guarded(
        "forge", lambda: _create_and_install(args, rest), verbose=args.verbose, as_json=args.json
    )


def _create_and_install(args: argparse.Namespace, rest: list[str]) -> int:
    from forge_pip.cli import pip_options
    from forge_pip.cli.forge import _store

    pip_argv = [*rest, "--env", args.name, *(["-q"] * args.quiet), *(["-v"] * args.verbose)]
    parsed = pip_options.parse("install", pip_argv)  # before anything exists: a bad option changes nothing
    if isinstance(parsed, int):
        return parsed
    parsed.reuse_report = True  # Forge's own command, as `forge install`: how the store served each dist
    with _store() as store:
        env = _create(store, args)
    from forge_store.errors import ForgeError

    try:
        code = _install_json(parsed, env, args) if args.json else _install(parsed)
    except ForgeError as exc:
        if _undo(env, args, say=False):  # said with the error, on its hint line
            removed = f"the new env {env.name} was removed again"
            exc.hint = f"{exc.hint}; {removed}" if exc.hint else removed
        raise
    except BaseException:
        _undo(env, args)
        raise
    if code != 0:
        _undo(env, args)
    return code


def _create(store: Store, args: argparse.Namespace) -> EnvInfo:
    from forge_pip.cli.forge import create_env

    return create_env(store, args, announce=not args.json)


def _install(parsed: argparse.Namespace) -> int:
    from forge_pip.cli import pip_install

    return pip_install.cmd_install(parsed)


def _install_json(parsed: argparse.Namespace, env: EnvInfo, args: argparse.Namespace) -> int:
    from forge_pip.cli.common import emit_json
    from forge_pip.cli.forge import _env_json, _store
    from forge_pip.cli.forge_install import install_document

    with _store() as store:
        document = install_document(store, parsed)
        emit_json("create", {"env": _env_json(store.env(env.name), store), "install": document})
    return 0


def _undo(env: EnvInfo, args: argparse.Namespace, *, say: bool = True) -> bool:
    """Remove the env this command created (its install failed); say so (``say``), or say what
    is left; return whether it is gone."""
    from forge_pip.cli.forge import _store
    from forge_store.errors import ForgeError
    from forge_store.settings import forget

    try:
        with _store() as store:
            store.remove_env(env.name)
            forget(store, env.name)
    except ForgeError as exc:
        print(
            f"forge: the install failed and env {env.name} at {env.path} could not be removed: {exc.message}"
            f"\nhint: forge remove {env.name}",
            file=sys.stderr,
        )
        return False
    if say and not args.json:
        print(f"forge: the install failed: removed env {env.name} again", file=sys.stderr)
    return True
