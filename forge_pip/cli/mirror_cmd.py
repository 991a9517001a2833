"""``forge store stacks`` / ``forge store sync``, and what ``forge create --parent NAME:STACK`` says
about the mirror env it makes (:mod:`forge_store.mirror`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import emit_json, table

if TYPE_CHECKING:
    from forge_store.mirror import MirrorResult
    from forge_store.store import Store


def describe(result: MirrorResult) -> str:
    what = {"created": "mirrored", "updated": "updated mirror", "current": "mirror"}[result.action]
    tail = " (up to date)" if result.action == "current" else ""
    return (
        f"{what} {result.env.name}: stack {result.stack} of upstream {result.upstream} ({result.root}),"
        f" generation {result.generation}, at {result.env.path}{tail}"
    )


def prepare_parent(store: Store, args: argparse.Namespace, *, announce: bool) -> None:
    """For ``forge create --parent NAME:STACK``: make or update the mirror first, and say so."""
    from forge_store.mirror import ensure, is_ref

    if not is_ref(args.parent):
        return
    result = ensure(store, args.parent)
    for done in (*result.parents, result):
        if announce and not args.quiet and done.action != "current":
            print(describe(done))


def cmd_stacks(store: Store, args: argparse.Namespace) -> int:
    from forge_store.mirror import states

    found, problems = states(store)
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    if args.json:
        emit_json("store-stacks", {"stacks": [s.to_dict() for s in found], "problems": problems})
        return 0
    if not found:
        if not args.quiet:
            print("no stacks published (forge store publish DIR --env ENV)", file=sys.stderr)
        return 0
    rows = [
        [f"{s.upstream}:{s.stack}", s.python, s.parent or "-", str(s.dists), str(s.generation), s.mirror]
        for s in found
    ]
    print(table(rows, ["STACK", "PYTHON", "PARENT", "DISTS", "GENERATION", "MIRROR"]))
    return 0


def cmd_sync(store: Store, args: argparse.Namespace) -> int:
    from forge_store.mirror import ensure, mirrors

    refs = list(args.refs) or [e.name for e in mirrors(store)]
    results = [ensure(store, ref) for ref in refs]
    if args.json:
        emit_json("store-sync", {"mirrors": [r.to_dict() for r in results]})
    elif not args.quiet:
        for result in results:
            print(describe(result))
        if not results:
            print("no mirror envs (forge create NAME --parent UPSTREAM:STACK)", file=sys.stderr)
    return 0
