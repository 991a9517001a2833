"""``forge store``: upstream stores (add, remove, list) and publishing to one.

Registered from :mod:`forge_pip.cli.forge`; the store modules are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import emit_json, human_size, table

_HELP = """\
Upstream stores are read-only stores other nodes publish: a directory on NFS, CVMFS, Lustre or a
read-only bind mount (envs link straight into its entries), or an HTTP(S) binary cache serving the
same layout (entries are fetched, verified and published into the local store). They are consulted
after the local store, in order: FORGE_UPSTREAM (os.pathsep-separated; an item may be NAME=PATH)
first, then the list `forge store add-upstream` keeps in FORGE_HOME. Forge never writes or locks
there. A published env is a stack: `forge create app --parent NAME:STACK` layers on it.
"""


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "store", help="upstream stores: add-upstream, remove-upstream, upstreams, publish", description=_HELP
    )
    verbs = p.add_subparsers(dest="store_command", metavar="VERB", parser_class=type(common), required=True)
    q = verbs.add_parser(
        "add-upstream",
        parents=[common],
        help="consult this upstream directory or HTTP(S) binary cache (last)",
    )
    q.add_argument("location", metavar="PATH|URL")
    q.add_argument(
        "--name",
        help="its name, for --parent NAME:STACK (default: the path's last component; unique)",
    )
    q = verbs.add_parser("remove-upstream", parents=[common], help="stop consulting this upstream")
    q.add_argument("location", metavar="PATH|URL|NAME")
    verbs.add_parser("upstreams", parents=[common], help="the upstreams, in order, their names and state")
    verbs.add_parser(
        "stacks", parents=[common], help="the stacks upstreams publish (--parent NAME:STACK), mirrored or not"
    )
    q = verbs.add_parser(
        "sync",
        parents=[common],
        help="bring mirror envs (NAME:STACK) up to date with their upstream's stack",
    )
    q.add_argument("refs", nargs="*", metavar="NAME:STACK", help="these mirrors (default: every mirror env)")
    q = verbs.add_parser(
        "publish",
        parents=[common],
        help="copy the entries envs use into DEST, an upstream layout (manifest written last)",
    )
    q.add_argument("dest", metavar="DEST", type=Path)
    q.add_argument(
        "--env",
        "-e",
        dest="envs",
        action="append",
        metavar="ENV",
        help="publish this env's entries and its stack (repeatable; default: every env)",
    )
    q.add_argument(
        "--as", dest="as_name", metavar="NAME", help="publish the one --env's stack under this name"
    )


def _cmd_store(args: argparse.Namespace) -> int:
    from forge_store import upstream
    from forge_store.store import Store

    with Store() as store:
        verb = args.store_command
        if verb == "publish":
            from forge_store.upstream_publish import publish

            report = publish(store, args.dest, args.envs, as_name=args.as_name)
            if args.json:
                emit_json("store-publish", report.to_dict())
            elif not args.quiet:
                new = sum(p.bytes for p in report.published)
                state = f"generation {report.generation}" if report.manifest_written else "unchanged"
                stacks = f"; stacks: {', '.join(report.stacks)}" if report.stacks else ""
                print(
                    f"published {len(report.published)} entries ({human_size(new)}), {len(report.skipped)}"
                    f" already there, to {report.dest} ({state}){stacks}"
                )
            return 0
        if verb in ("stacks", "sync"):
            from .mirror_cmd import cmd_stacks, cmd_sync

            return (cmd_stacks if verb == "stacks" else cmd_sync)(store, args)
        from forge_store import upstream_names

        if verb == "add-upstream":
            _name, manifest = upstream_names.add(store, args.location, args.name)
            if manifest is None and not args.json:
                print(f"warning: nothing is published in {args.location} yet", file=sys.stderr)
        elif verb == "remove-upstream":
            upstream_names.remove(store, args.location)
        statuses = upstream.status(store)
        names = {src.location: name for name, src in upstream_names.named(store)}
    if args.json:
        docs = [{"name": names.get(s.location), **s.to_dict()} for s in statuses]
        emit_json("store-upstreams", {"upstreams": docs})
        return 0
    if args.quiet:
        return 0
    if not statuses:
        print("no upstreams (forge store add-upstream PATH|URL, or FORGE_UPSTREAM)", file=sys.stderr)
        return 0
    rows = [
        [
            str(i + 1),
            names.get(s.location, "-"),
            s.location,
            "FORGE_UPSTREAM" if s.origin == "env" else "config",
            str(s.generation) if s.generation is not None else "-",
            str(s.entries),
            str(s.linked),
            "ok" if s.available else (s.problem or "unavailable"),
        ]
        for i, s in enumerate(statuses)
    ]
    print(table(rows, ["#", "NAME", "UPSTREAM", "FROM", "GENERATION", "ENTRIES", "LINKED", "STATE"]))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"store": _cmd_store}
