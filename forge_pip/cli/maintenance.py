"""``forge gc`` and ``forge du``: collect what nothing uses, and show what the store really costs.

Registered from :mod:`forge_pip.cli.forge`; the store modules they run are imported only then.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .common import emit_json, human_size, table

_GC_HELP = """\
Remove store entries that no env links and no running Forge operation leases (leases of
processes that are gone do not count). Plain `forge gc` collects; `--dry-run` only lists what
would go and changes nothing. Collected entries are moved to FORGE_HOME/trash at once (a running
program that imported from one keeps working) and deleted once they are older than the grace
period, on this or a later gc.
"""


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gc",
        parents=[common],
        help="remove store entries no env uses (--dry-run: only list them)",
        description=_GC_HELP,
    )
    p.add_argument("--dry-run", "-n", action="store_true", help="list what would be removed; change nothing")
    p.add_argument(
        "--grace",
        default="1h",
        metavar="SECONDS|DURATION",
        help="keep collected entries in the trash this long before deleting them (default 1h; 0: delete now)",
    )
    p.add_argument(
        "--older-than",
        metavar="DURATION",
        help="also delete cache files (HTTP pages, downloads, built wheels) unchanged for this long",
    )
    p = sub.add_parser("du", parents=[common], help="real disk use of the store, the caches and each env")
    p.add_argument("--env", "-e", dest="env", help="show only this env (totals stay store-wide)")


def _cmd_gc(args: argparse.Namespace) -> int:
    from forge_store.gc import collect, parse_duration
    from forge_store.store import Store

    grace = parse_duration(args.grace)
    older = parse_duration(args.older_than) if args.older_than is not None else None
    with Store() as store:
        report = collect(store, dry_run=args.dry_run, grace=grace, older_than=older)
    doc = report.to_dict()
    if args.json:
        emit_json("gc", doc)
        return 0
    if args.quiet:
        return 0
    verb = "would remove" if report.dry_run else "removed"
    for e in report.entries:
        print(f"{verb}: {e.name} {e.version} ({e.id}) {human_size(e.bytes)}")
    for e in report.orphans:
        print(f"{verb}: unrecorded store directory {e.dir} {human_size(e.bytes)}")
    for entry_id in report.kept_leased:
        print(f"kept (leased by a running operation): {entry_id}")
    totals = doc["totals"]
    assert isinstance(totals, dict)
    print(
        f"{verb} {totals['entries']} entries, {human_size(int(totals['bytes']))};"
        f" trash: {len(report.trash_deleted)} deleted, {len(report.trash_kept)} kept"
        f" (grace {report.grace:g}s)"
    )
    if report.older_than is not None:
        done = "to delete" if report.dry_run else "deleted"
        print(f"stale cache files {done}: {report.cache_files} ({human_size(report.cache_bytes)})")
    return 0


def _cmd_du(args: argparse.Namespace) -> int:
    from forge_store.du import disk_usage
    from forge_store.store import Store

    with Store() as store:
        usage = disk_usage(store, env=args.env)
    if args.json:
        emit_json("du", usage.to_dict())
        return 0
    rows = [
        ["store", f"{usage.entries} entries", human_size(usage.store.bytes), str(usage.store.inodes), "", ""],
        ["caches", "", human_size(usage.caches.bytes), str(usage.caches.inodes), "", ""],
    ]
    if usage.trash.inodes:
        rows.append(["trash", "", human_size(usage.trash.bytes), str(usage.trash.inodes), "", ""])
    for e in usage.envs:
        rows.append(
            [
                f"env {e.name}",
                f"{e.links} links",
                human_size(e.added.bytes),
                str(e.added.inodes),
                human_size(e.linked_bytes),
                human_size(e.saved_bytes),
            ]
        )
    rows.append(
        [
            "total",
            "",
            human_size(usage.total.bytes),
            str(usage.total.inodes),
            "",
            human_size(usage.saved_bytes),
        ]
    )
    print(table(rows, ["WHAT", "", "BYTES", "INODES", "AS COPIES", "SAVED"]))
    if usage.envs:
        print("(an env's bytes and inodes are what it adds beyond the store; AS COPIES: its entries copied)")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"gc": _cmd_gc, "du": _cmd_du}
