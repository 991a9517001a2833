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
after the local store, in order: FORGE_UPSTREAM (os.pathsep-separated) first, then the list
`forge store add-upstream` keeps in FORGE_HOME. Forge never writes or locks there.
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
    q = verbs.add_parser("remove-upstream", parents=[common], help="stop consulting this upstream")
    q.add_argument("location", metavar="PATH|URL")
    verbs.add_parser("upstreams", parents=[common], help="the upstreams, in order, and their state")
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
        help="publish this env's entries (repeatable; default: every env)",
    )


def _cmd_store(args: argparse.Namespace) -> int:
    from forge_store import upstream
    from forge_store.store import Store

    with Store() as store:
        verb = args.store_command
        if verb == "publish":
            from forge_store.upstream_publish import publish

            report = publish(store, args.dest, args.envs)
            if args.json:
                emit_json("store-publish", report.to_dict())
            elif not args.quiet:
                new = sum(p.bytes for p in report.published)
                state = f"generation {report.generation}" if report.manifest_written else "unchanged"
                print(
                    f"published {len(report.published)} entries ({human_size(new)}), {len(report.skipped)}"
                    f" already there, to {report.dest} ({state})"
                )
            return 0
        if verb == "add-upstream":
            _items, manifest = upstream.add(store, args.location)
            if manifest is None and not args.json:
                print(f"warning: nothing is published in {args.location} yet", file=sys.stderr)
        elif verb == "remove-upstream":
            upstream.remove(store, args.location)
        statuses = upstream.status(store)
    if args.json:
        emit_json("store-upstreams", {"upstreams": [s.to_dict() for s in statuses]})
        return 0
    if args.quiet:
        return 0
    if not statuses:
        print("no upstreams (forge store add-upstream PATH|URL, or FORGE_UPSTREAM)", file=sys.stderr)
        return 0
    rows = [
        [
            str(i + 1),
            s.location,
            "FORGE_UPSTREAM" if s.origin == "env" else "config",
            str(s.generation) if s.generation is not None else "-",
            str(s.entries),
            str(s.linked),
            "ok" if s.available else (s.problem or "unavailable"),
        ]
        for i, s in enumerate(statuses)
    ]
    print(table(rows, ["#", "UPSTREAM", "FROM", "GENERATION", "ENTRIES", "LINKED", "STATE"]))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"store": _cmd_store}
