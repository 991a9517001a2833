"""The ``forge`` command: create, list, activate and remove envs; install and uninstall; export.

``forge pip ...`` is the pip-compatible front end (same as ``python -m forge_pip``). Subcommand
modules are imported only when they run, so ``forge --help`` and ``forge activate`` stay fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from forge_store.errors import ExitCode, UsageError

from . import activate, changelog_cmd, doctor_cmd, enforce, env_cmd, inspect_cmd, maintenance, store_cmd
from . import globals as globals_
from .common import emit_json, human_size, run_guarded, setup_logging, table
from .env_target import add_env_args as _env_args
from .env_target import target_env as _target_env
from .globals import GlobalOptions
from .policy_args import add_policy_args, policy_from_args
from .quick import answer

if TYPE_CHECKING:
    from forge_store.models import EnvInfo, InstallReport
    from forge_store.store import Store


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(int(ExitCode.USAGE))


class _Discard:
    """A parser (or group, or subparsers action) for a command this run does not parse: every
    call is accepted and builds nothing."""

    def __getattr__(self, name: str) -> Callable[..., _Discard]:
        return lambda *args, **kwargs: self


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subparsers action that builds the parser of the command ``only`` alone (every
    command's when ``None``): building all ~30 cost ~20 ms of every ``forge`` run."""

    only: str | None = None

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if self.only is not None and name != self.only and self.only not in kwargs.get("aliases", ()):
            return cast(argparse.ArgumentParser, _Discard())
        made: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        return made


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """``forge``'s parser; ``only``: with the subcommand of that name alone (see :class:`_Subcommands`)."""
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="more output (repeatable)")
    common.add_argument("-q", "--quiet", action="count", default=0, help="less output")
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    parser = _Parser(
        prog="forge",
        description="Layered, linked Python environments over one shared store.",
        epilog="--enforce exit codes: 30 broken-requirement, 31 abi-mismatch, 32 cuda-variant-mix,"
        " 33 origin-override, 34 system-soname-clash, 35 shadowed (docs/enforcement.md)",
    )
    parser.add_argument(
        "--version", action=changelog_cmd.VersionAction, help="print Forge's version and exit"
    )
    # the global options are taken out before parsing (forge_pip.cli.globals); listed for --help
    glob = parser.add_argument_group("global options (before or after the command)")
    glob.add_argument("-q", "--quiet", action="count", dest="_global_quiet", help="less output")
    glob.add_argument("-v", "--verbose", action="count", dest="_global_verbose", help="more output")
    glob.add_argument(
        "--enforce",
        action="store_true",
        dest="_global_enforce",
        help="exit non-zero when the command reports a layer-policy finding at warn level or above",
    )
    glob.add_argument(
        "--enforce-profile",
        choices=["warn", "strict"],
        dest="_global_profile",
        help="--enforce, judging every env as if its conflict_mode/abi_policy were at least this",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, action=_Subcommands)
    cast(_Subcommands, sub).only = only

    p = sub.add_parser(
        "create",
        parents=[common],
        help="create an env (a real venv, without pip), and install into it",
        description="Requirements, -r FILE and pip's install options after NAME (-c, -i, --no-deps,"
        " --offline, ...) are installed into the new env in the same process, as forge install does;"
        " if that install fails, the new env is removed again.",
    )
    p.add_argument(
        "name",
        help="the env's name: up to 64 letters, digits, '.', '_', '-', starting with a letter or digit",
    )
    p.add_argument("requirements", nargs="*", metavar="REQUIREMENT", help="what to install into it")
    p.add_argument(
        "--parent",
        help="stack this env on top of PARENT: an env, or UPSTREAM:STACK, a stack an upstream publishes"
        " (mirrored read-only at $FORGE_HOME/envs/@UPSTREAM/STACK, linking into the upstream)",
    )
    p.add_argument(
        "--python", help="interpreter: 3.12, python3.12 or a path (default: the parent's, or Forge's)"
    )
    p.add_argument("--path", type=Path, help="create the env here instead of $FORGE_HOME/envs/NAME")
    p.add_argument(
        "--layering",
        choices=["stacked", "flat"],
        default="stacked",
        help="how the env sees its parents: stacked (on sys.path at start-up, by a .pth hook) or flat"
        " (their entries linked into this env too, relinked when a parent changes)",
    )
    p.add_argument(
        "--link-mode",
        choices=["symlink", "hardlink", "copy"],
        default="symlink",
        help="how site-packages points at the store: symlink (one link per top-level entry), hardlink"
        " (real dirs, files hardlinked; same filesystem) or copy (always works, costs disk)",
    )
    p.add_argument(
        "--seed",
        choices=["pip"],
        help="pip: link the real pip wheel (for tools that import pip's internals) instead of"
        " Forge's pip front-end package; bin/pip stays Forge's",
    )

    p = sub.add_parser(
        "envs", parents=[common], help="list envs: name, Python, parent, layering, links, path"
    )

    p = sub.add_parser("remove", parents=[common], help="delete an env (never store content)")
    p.add_argument("name", help="the env to remove")
    p.add_argument("--recursive", action="store_true", help="also remove its children")

    p = sub.add_parser("activate", parents=[common], help="print shell code that activates an env")
    activate.add_arguments(p)

    p = sub.add_parser(
        "install",
        parents=[common],
        help="install requirements (as forge pip install does) or link wheel files into an env",
        description="Requirements, -r FILE and pip's install options (-i, -c, -U, --no-deps, ...) go"
        " through the pip front end's resolver, as forge pip install; a list of local wheel files alone"
        " is linked as given. Here -e is --env (pip's editable is --editable).",
    )
    p.add_argument(
        "wheels",
        nargs="+",
        metavar="REQUIREMENT|WHEEL",
        help="requirement specifiers (with any forge pip install option), or local wheel files",
    )
    _env_args(p)
    p.add_argument("--local", action="store_true", help="link locally even if a parent layer provides it")
    add_policy_args(p)

    p = sub.add_parser("uninstall", parents=[common], help="unlink distributions from an env")
    p.add_argument("names", nargs="+", metavar="NAME", help="distribution names")
    _env_args(p)
    p.add_argument("--local", action="store_true", help="only touch the env's own layer; skip the rest")
    add_policy_args(p)

    p = sub.add_parser("list", parents=[common], help="what an env sees, layer by layer")
    _env_args(p)

    p = sub.add_parser("export", parents=[common], help="the env's requirements, pinned")
    _env_args(p)
    p.add_argument("--all", action="store_true", help="every visible distribution, not just what was asked")

    maintenance.register(sub, common)
    env_cmd.register(sub, common)
    store_cmd.register(sub, common)
    inspect_cmd.register(sub, common)
    doctor_cmd.add_parser(sub, common)
    changelog_cmd.register(sub, common)
    sub.add_parser("pip", help="the pip-compatible front end (forge pip install ...)", add_help=False)
    return parser


def _store() -> Store:
    from forge_store.store import Store

    return Store()


def _env_json(env: EnvInfo, store: Store) -> dict[str, object]:
    return {
        "name": env.name,
        "path": str(env.path),
        "python": env.interpreter.full_version,
        "interpreter": str(env.interpreter.executable),
        "abi": env.interpreter.abi_key,
        "parent": env.parent,
        "layering": env.layering.value,
        "link_mode": env.link_mode.value,
        "kind": env.kind.value,
        "site_packages": str(env.site_packages),
        "layers": [str(p) for p in store.runtime_layers(env)],
    }


def _report_json(report: InstallReport) -> dict[str, object]:
    return {
        "env": report.env,
        "link_mode": report.link_mode.value,
        "fallback": report.fallback,
        "relinked_children": list(report.relinked_children),
        "warnings": list(report.warnings),
        "findings": [f.to_dict() for f in report.findings],
        "actions": [
            {
                "name": a.name,
                "version": a.version,
                "action": a.action,
                "entry": a.entry_id,
                "reused_entry": a.reused_entry,
                "detail": a.detail,
                # the reuse report (docs/json.md)
                "reused": a.reused_entry,
                "reuse_kind": a.reuse_kind.value,
                "warnings": list(a.warnings),
            }
            for a in report.actions
        ],
    }


def _print_report(report: InstallReport, quiet: int) -> None:
    words = {
        "linked": "linked",
        "replaced": "replaced",
        "unchanged": "already linked",
        "repaired": "relinked (files were missing in the env)",
        "from-parent": "provided by parent",
        "from-global": "provided by global layer",
        "unlinked": "unlinked",
    }
    if report.fallback:
        print(f"warning: link mode {report.link_mode.value}: {report.fallback}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if quiet:
        return
    for a in report.actions:
        extra = f" {a.detail}" if a.action in ("from-parent", "from-global") else ""
        store_word = (
            ""
            if a.action in ("unlinked", "from-parent", "from-global", "unchanged", "repaired")
            else (f" (store: reused, {a.reuse_kind.value})" if a.reused_entry else " (store: new)")
        )
        note = f" [{a.detail}]" if a.detail and a.action in ("linked", "replaced") else ""
        print(f"{words.get(a.action, a.action)}{extra}: {a.name} {a.version}{store_word}{note}")
    for child in report.relinked_children:
        print(f"relinked flat child: {child}")


def create_env(store: Store, args: argparse.Namespace, *, announce: bool) -> EnvInfo:
    """``forge create``'s env from its parsed arguments (``announce``: print the created line)."""
    from forge_store.models import LayeringMode, LinkMode

    from .mirror_cmd import prepare_parent

    prepare_parent(store, args, announce=announce)  # --parent UPSTREAM:STACK: its mirror env first
    env = store.create_env(
        args.name,
        python=args.python,
        parent=args.parent,
        path=args.path,
        layering=LayeringMode(args.layering),
        link_mode=LinkMode(args.link_mode),
    )
    if args.seed == "pip":
        from .seed import seed_real_pip

        seed_real_pip(store, env, quiet=args.quiet + (0 if announce else 1))
    if announce and not args.quiet:
        parent = f", on top of {env.parent}" if env.parent else ""
        print(f"created env {env.name} at {env.path} (Python {env.interpreter.full_version}{parent})")
    return env


def _cmd_create(args: argparse.Namespace) -> int:
    with _store() as store:
        env = create_env(store, args, announce=not args.json)
        if args.json:
            emit_json("env", {"env": _env_json(env, store)})
    return 0


def _cmd_envs(args: argparse.Namespace) -> int:
    with _store() as store:
        envs = store.envs()
        if args.json:
            emit_json("envs", {"envs": [_env_json(e, store) for e in envs]})
            return 0
        rows = []
        for env in envs:
            count = len(store.catalog.links(env.name))
            rows.append(
                [
                    env.name,
                    env.interpreter.full_version,
                    env.parent or "-",
                    env.layering.value,
                    str(count),
                    str(env.path),
                ]
            )
        if rows:
            print(table(rows, ["NAME", "PYTHON", "PARENT", "LAYERING", "LINKED", "PATH"]))
        elif not args.quiet:
            print("no envs yet: forge create NAME", file=sys.stderr)
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    with _store() as store:
        removed = store.remove_env(args.name, recursive=args.recursive)
        from forge_store.settings import forget

        for name in removed:
            forget(store, name)
    if args.json:
        emit_json("removed", {"envs": removed})
    elif not args.quiet:
        for name in removed:
            print(f"removed env {name}")
    return 0


def _cmd_uninstall(args: argparse.Namespace) -> int:
    with _store() as store:
        env = _target_env(store, args)
        rules = policy_from_args(store, env, args, explicit_local=False)
        report = store.uninstall(env.name, args.names, local=args.local, policy=rules)
    if args.json:
        emit_json("uninstall", _report_json(report))
    else:
        _print_report(report, args.quiet)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with _store() as store:
        env = _target_env(store, args)
        dists = store.visible(env.name)
        if args.json:
            emit_json(
                "list",
                {
                    "env": env.name,
                    "packages": [
                        {
                            "name": d.name,
                            "version": d.version,
                            "layer": d.layer.value,
                            "env": d.env,
                            "entry": d.entry_id,
                        }
                        for d in dists
                    ],
                },
            )
            return 0
        entries = store.catalog.entries([d.entry_id for d in dists])
        rows = [
            [d.name, d.version, d.layer.value, d.env, human_size(entries[d.entry_id].size)] for d in dists
        ]
        print(table(rows, ["PACKAGE", "VERSION", "LAYER", "FROM", "SIZE"]))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with _store() as store:
        env = _target_env(store, args)
        text = store.export(env.name, include_all=args.all)
    if args.json:
        emit_json("export", {"env": env.name, "requirements": text.splitlines()[1:]})
    else:
        sys.stdout.write(text)
    return 0


_COMMANDS = {
    "create": _cmd_create,
    "envs": _cmd_envs,
    "remove": _cmd_remove,
    "activate": activate.cmd_activate,
    "uninstall": _cmd_uninstall,
    "list": _cmd_list,
    "export": _cmd_export,
    **maintenance.COMMANDS,
    **env_cmd.COMMANDS,
    **store_cmd.COMMANDS,
    **inspect_cmd.COMMANDS,
    "doctor": doctor_cmd.cmd_doctor,
    **changelog_cmd.COMMANDS,
}


def parse(args_list: Sequence[str], opts: GlobalOptions) -> argparse.Namespace:
    """The namespace of an argparse subcommand, the global ``-q``/``-v`` added to its own."""
    only = args_list[0] if args_list and args_list[0] in _COMMANDS else None
    args = _build_parser(only).parse_args(list(args_list))
    args.quiet = getattr(args, "quiet", 0) + opts.quiet
    args.verbose = getattr(args, "verbose", 0) + opts.verbose
    if not hasattr(args, "json"):
        args.json = False
    return args


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    quick = answer(given)
    if quick is not None:
        return quick
    try:
        opts, args_list = globals_.split(given)
    except UsageError as exc:
        print(f"forge: error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""), file=sys.stderr)
        return int(exc.exit_code)
    with enforce.enforcing(opts):
        return _dispatch(opts, args_list)


def _dispatch(opts: GlobalOptions, args_list: list[str]) -> int:
    if args_list and args_list[0] == "pip":
        from .pip import main as pip_main

        rest = [*opts.verbosity_args(), *args_list[1:]]
        command = enforce.prepare_pip(rest)
        return enforce.finish(command, pip_main(rest))
    if args_list and args_list[0] == "install":
        from .forge_install import main as install_main

        return enforce.finish("install", install_main([*opts.verbosity_args(), *args_list[1:]]))
    if args_list and args_list[0] == "create":
        from .create_cmd import has_install
        from .create_cmd import main as create_main

        if has_install(args_list[1:]):  # create, then install: the install's findings count
            return enforce.finish("create", create_main([*opts.verbosity_args(), *args_list[1:]]))
    try:
        args = parse(args_list, opts)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else int(ExitCode.USAGE)
    if not args.command:
        _build_parser().print_help()
        return int(ExitCode.USAGE)
    setup_logging(args.verbose - args.quiet)
    body = _COMMANDS[args.command]
    return run_guarded(
        "forge", lambda: enforce.run(args.command, args, body), verbose=args.verbose, as_json=args.json
    )


if __name__ == "__main__":
    sys.exit(main())
