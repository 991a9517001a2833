"""``forge inspect PKG`` and ``forge tree``: where a package comes from in an env's stack, and why.

Both print :class:`forge_store.stack.StackView`. ``--mode`` (default: the env's ``conflict_mode``)
decides how requirement problems are worded: ``loose`` lists them as notes, ``warn`` as warnings,
``strict`` as what an install under strict would refuse; the exit code is 0 in every mode (the
enforcement belongs to installs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .common import emit_json, table
from .env_target import add_env_args, target_env

if TYPE_CHECKING:
    from forge_store.settings import AbiPolicy, ConflictMode
    from forge_store.stack import Edge, StackView
    from forge_store.store import Store

_CONFLICT_MODES = ("loose", "warn", "strict")
_ABI_POLICIES = ("strict_abi", "warn_abi", "allow_abi")


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "inspect", parents=[common], help="where a package comes from in an env's stack, and why"
    )
    p.add_argument("package", metavar="PKG")
    add_env_args(p, allow_global=False)
    p.add_argument("--mode", choices=_CONFLICT_MODES, help="conflict mode (default: the env's conflict_mode)")
    p.add_argument("--abi-policy", choices=_ABI_POLICIES, help="ABI policy (default: the env's abi_policy)")
    p = sub.add_parser("tree", parents=[common], help="an env's stack: layers, packages, requirement edges")
    add_env_args(p, allow_global=False)


def _policies(store: Store, args: argparse.Namespace) -> tuple[StackView, ConflictMode, AbiPolicy]:
    from forge_store import settings, stack

    env = target_env(store, args)
    mode = (
        settings.ConflictMode(args.mode)
        if getattr(args, "mode", None)
        else settings.conflict_mode(store, env)
    )
    policy = (
        settings.AbiPolicy(args.abi_policy)
        if getattr(args, "abi_policy", None)
        else settings.abi_policy(store, env)
    )
    return stack.build(store, env), mode, policy


def _problem(e: Edge) -> str:
    if e.resolved_version is None:
        return f"{e.source} ({e.source_env}) requires {e.requirement}, which no layer provides"
    return (
        f"{e.source} ({e.source_env}) requires {e.requirement},"
        f" but the env runs {e.target} {e.resolved_version} from {e.resolved_env!r}"
    )


def _findings(view: StackView, edges: list[Edge], mode: ConflictMode) -> list[str]:
    prefix = {"loose": "note", "warn": "warning", "strict": "conflict (strict would refuse)"}[mode.value]
    return [f"{prefix}: {_problem(e)}" for e in edges if not e.satisfied]


def _cmd_inspect(args: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from forge_store.errors import NotFoundError
    from forge_store.stack import FRONT_END, dist_json, edges_json
    from forge_store.store import Store

    name = canonicalize_name(args.package)
    with Store() as store:
        view, mode, policy = _policies(store, args)
        cuda = _cuda(store, view)
    found = view.candidates(name)
    if not found:
        raise NotFoundError(
            f"{name} is not in any layer of env {view.env.name!r}", hint=f"`forge tree --env {view.env.name}`"
        )
    win = found[0]
    requires, required_by = view.requires(name), view.required_by(name)
    findings = _findings(view, [*requires, *required_by], mode)
    shadowed = [{"env": d.env, "layer": d.layer.value, "version": d.version} for d in found[1:]]
    note = (
        "the env's pip is Forge's pip front end: `pip` and `python -m pip` run Forge on this env"
        if win.origin == FRONT_END
        else None
    )
    if args.json:
        emit_json(
            "inspect",
            {
                "env": view.env.name,
                "package": name,
                "mode": mode.value,
                "abi_policy": policy.value,
                "winner": dist_json(win),
                "reason": view.reason(name),
                "note": note,
                "candidates": [dist_json(d) for d in found],
                "shadowed_sources": shadowed,
                "requires": edges_json(requires),
                "required_by": edges_json(required_by),
                "findings": findings,
                "cuda": list(cuda.values()),
            },
        )
        return 0
    print(f"{name} in env {view.env.name} (conflict mode {mode.value}, ABI policy {policy.value})")
    rows = [
        [
            "*" if d is win else "",
            d.layer.value,
            d.env,
            d.version,
            (d.entry_id or "-")[:16],
            "forge front end"
            if d.origin == FRONT_END
            else ",".join(d.tags[:2]) + ("…" if len(d.tags) > 2 else ""),
        ]
        for d in found
    ]
    print(table(rows, ["", "LAYER", "ENV", "VERSION", "ENTRY", "TAGS"]))
    print(f"wins: {win.version} from {win.env!r} ({view.reason(name)})")
    if note:
        print(f"note: {note}")
    for label, edges in (("requires", requires), ("required by", required_by)):
        if not edges:
            print(f"{label}: -")
            continue
        print(f"{label}:")
        for e in edges:
            other = e.target if label == "requires" else f"{e.source} ({e.source_env})"
            got = f"{e.resolved_version} from {e.resolved_env}" if e.resolved_version else "missing"
            mark = "ok" if e.satisfied else "NOT satisfied"
            what = e.requirement if label == "requires" else f"{other}: {e.requirement}"
            print(f"  {what} -> {got} [{mark}]")
    variants = [f"{env} {'+'.join(c['variants'])}" for env, c in cuda.items() if c["variants"]]
    if variants:
        print(f"cuda: {', '.join(variants)}")
    for line in findings:
        print(line, file=sys.stderr)
    return 0


def _cuda(store: Store, view: StackView) -> dict[str, dict[str, Any]]:
    """Each layer's CUDA variants (``cuda`` in the JSON documents), by env."""
    from forge_store.native import layer_cuda

    return {c.env: c.to_dict() for c in layer_cuda(store, view)}


def _cmd_tree(args: argparse.Namespace) -> int:
    from forge_store.stack import dist_json, edges_json
    from forge_store.store import Store

    with Store() as store:
        view, mode, _policy = _policies(store, args)
        cuda = _cuda(store, view)
    findings = _findings(view, list(view.edges), mode)
    if args.json:
        emit_json(
            "tree",
            {
                "env": view.env.name,
                "mode": mode.value,
                "layers": [
                    {
                        "env": layer.env,
                        "layer": layer.layer.value,
                        "site": layer.site,
                        "packages": [dist_json(d) for d in layer.dists],
                        "cuda": cuda[layer.env],
                    }
                    for layer in view.layers
                ],
                "edges": edges_json(view.edges),
                "findings": findings,
            },
        )
        return 0
    for layer in view.layers:
        print(f"{layer.layer.value.upper()} {layer.env} ({layer.site})")
        if cuda[layer.env]["variants"]:
            print(f"  cuda: {'+'.join(cuda[layer.env]['variants'])}")
        for d in layer.dists:
            mark = f"  [shadowed by {d.shadowed_by}]" if d.shadowed_by else ""
            print(f"  {d.name} {d.version}{mark}")
            if d.shadowed:
                continue
            for e in view.requires(d.name):
                got = f"{e.resolved_version} ({e.resolved_env})" if e.resolved_version else "missing"
                print(f"    -> {e.requirement}: {got}{'' if e.satisfied else '  NOT satisfied'}")
    for line in findings:
        print(line, file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"inspect": _cmd_inspect, "tree": _cmd_tree}
