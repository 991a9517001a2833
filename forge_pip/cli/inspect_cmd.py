"""``forge inspect PKG`` and ``forge tree``: where a package comes from in an env's stack, and why.

Both print :class:`forge_store.stack.StackView` and the layer-policy findings of the stack as it
is (:func:`forge_store.policy.findings`: broken requirements, shadowing, and whatever the ABI and
native checks find); ``inspect PKG`` only those that concern PKG. ``--mode`` / ``--abi-policy``
(default: the env's settings) decide each finding's verdict and wording: ``note`` (ignored),
``warning``, ``conflict (strict would refuse)``. The exit code is 0 in every mode (the
enforcement belongs to installs and to ``--enforce``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .common import emit_json, table
from .env_target import add_env_args, target_env
from .policy_args import add_policy_args, policy_from_args

if TYPE_CHECKING:
    from forge_store.policy import Finding, Policy
    from forge_store.stack import StackView
    from forge_store.store import Store


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "inspect", parents=[common], help="where a package comes from in an env's stack, and why"
    )
    p.add_argument("package", metavar="PKG", help="the distribution name")
    add_env_args(p, allow_global=False)
    add_policy_args(p)
    p = sub.add_parser("tree", parents=[common], help="an env's stack: layers, packages, requirement edges")
    add_env_args(p, allow_global=False)
    add_policy_args(p)


def _policies(store: Store, args: argparse.Namespace) -> tuple[StackView, Policy, list[Finding]]:
    """The stack, the modes (flags over the env's settings) and the stack's findings now."""
    from forge_store import policy, stack

    env = target_env(store, args)
    view = stack.build(store, env)
    return (
        view,
        policy_from_args(store, env, args, explicit_local=False),
        policy.findings(view, policy.CheckContext(store, env)),
    )


def _prefix(rules: Policy, f: Finding) -> str:
    """How a finding is worded under the chosen modes: ``note`` (ignored), ``warning`` (an
    install would warn), ``conflict (strict would refuse)`` (an install would be refused)."""
    from forge_store.policy import GOVERNED_BY, Verdict

    verdict = rules.verdict(f)
    if verdict is Verdict.IGNORE:
        return "note"
    if verdict is Verdict.WARN:
        return "warning"
    setting = GOVERNED_BY[f.kind]
    value = rules.abi_policy.value if setting == "abi_policy" else rules.conflict_mode.value
    return f"conflict ({value} would refuse)"


def _finding_json(rules: Policy, f: Finding) -> dict[str, object]:
    return {**f.to_dict(), "verdict": rules.verdict(f).name.lower()}


def _finding_lines(rules: Policy, found: list[Finding]) -> list[str]:
    lines = []
    for f in found:
        lines.append(f"{_prefix(rules, f)}: {f.message}")
        lines.extend(f"  {step}" for step in f.chain)
    return lines


def _about(found: list[Finding], name: str) -> list[Finding]:
    """The findings that concern ``name``: about it, or naming it among their packages."""
    return [f for f in found if f.subject == name or name in f.packages]


def _cmd_inspect(args: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from forge_store.errors import NotFoundError
    from forge_store.stack import FRONT_END, dist_json, edges_json
    from forge_store.store import Store

    name = canonicalize_name(args.package)
    with Store() as store:
        view, rules, stack_found = _policies(store, args)
        cuda = _cuda(store, view)
    mode, policy = rules.conflict_mode, rules.abi_policy
    found = view.candidates(name)
    if not found:
        raise NotFoundError(
            f"{name} is not in any layer of env {view.env.name!r}", hint=f"`forge tree --env {view.env.name}`"
        )
    win = found[0]
    requires, required_by = view.requires(name), view.required_by(name)
    findings = _about(stack_found, name)
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
                "findings": [_finding_json(rules, f) for f in findings],
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
    for line in _finding_lines(rules, findings):
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
        view, rules, findings = _policies(store, args)
        cuda = _cuda(store, view)
    mode = rules.conflict_mode
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
                "findings": [_finding_json(rules, f) for f in findings],
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
    for line in _finding_lines(rules, findings):
        print(line, file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"inspect": _cmd_inspect, "tree": _cmd_tree}
