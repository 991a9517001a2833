"""Requirement checks across layers: what the stack breaks, and which layer overrides which.

The stack must satisfy the requirements of every dist it makes visible, whichever layer holds
that dist: a child's ``numpy 2.4.6`` breaks a parent's ``scipy 1.10.0`` (``numpy<1.27``) even
though neither layer alone is inconsistent. Shadowing (a nearer layer holds another version of
a farther layer's dist) is the mechanism of every such break, so it is reported too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .models import Layer
from .policy import CheckContext, Finding, Kind

if TYPE_CHECKING:
    from .stack import Edge, StackDist, StackView


def _where(d: StackDist) -> str:
    return {Layer.LOCAL: "local", Layer.PARENT: "parent", Layer.GLOBAL: "global"}[d.layer] + f" {d.env!r}"


def requested_by(view: StackView, name: str) -> list[str]:
    """A shortest chain of dist names from a requested dist (or a root nobody requires) down to
    ``name``, e.g. ``["app-tool", "scipy"]``: why ``name`` is in the stack at all."""
    winners = view.winners()
    parents: dict[str, str | None] = {name: None}
    todo = [name]
    while todo:
        cur = todo.pop(0)
        d = winners.get(cur)
        if d is not None and d.requested and cur != name:
            chain = [cur]
            while parents[chain[-1]] is not None:
                chain.append(parents[chain[-1]])  # type: ignore[arg-type]
            return chain
        for e in view.required_by(cur):
            if e.source not in parents:
                parents[e.source] = cur
                todo.append(e.source)
    return [name]


def broken_requirements(view: StackView, ctx: CheckContext) -> Iterable[Finding]:
    """One finding per requirement of a visible dist that the stack's winners do not meet."""
    winners = view.winners()
    for e in view.unsatisfied():
        yield _broken(view, winners, e)


def _broken(view: StackView, winners: dict[str, StackDist], e: Edge) -> Finding:
    source = winners[e.source]
    got = winners.get(e.target)
    head = f"{source.name} {source.version} ({_where(source)}) requires {e.requirement}"
    if got is None:
        message = f"{head}, which is not installed in any layer of {view.env.name!r}"
    else:
        message = f"{head}, but {view.env.name!r} has {got.name} {got.version} ({_where(got)})"
    chain: list[str] = []
    roots = requested_by(view, source.name)
    if len(roots) > 1:
        chain.append(" -> ".join(roots))  # requester first: "app-tool -> scipy"
    chain.append(f"{source.name} {source.version} requires {e.requirement}")
    layers = [source.env]
    packages = [source.name, e.target]
    if got is not None:
        layers.append(got.env)
        losers = [d for d in view.candidates(e.target) if d is not got]
        if losers:
            chain.append(
                f"{got.name} {got.version} in {got.env!r} shadows "
                + ", ".join(f"{d.version} in {d.env!r}" for d in losers)
            )
            layers += [d.env for d in losers]
        else:
            chain.append(f"{got.name} {got.version} is the only one, in {got.env!r}")
    return Finding(
        Kind.BROKEN_REQUIREMENT,
        view.env.name,
        source.name,
        message,
        tuple(chain),
        tuple(dict.fromkeys(packages)),
        tuple(dict.fromkeys(layers)),
    )


def shadowing(view: StackView, ctx: CheckContext) -> Iterable[Finding]:
    """One finding per dist a nearer layer overrides with another version."""
    for name, win in sorted(view.winners().items()):
        losers = [d for d in view.candidates(name) if d is not win and d.version != win.version]
        if not losers:
            continue
        over = ", ".join(f"{d.version} ({_where(d)})" for d in losers)
        yield Finding(
            Kind.SHADOWED,
            view.env.name,
            name,
            f"{name} {win.version} ({_where(win)}) shadows {name} {over}",
            tuple(f"{name} {d.version} in {d.env!r} is hidden by {win.env!r}" for d in losers),
            (name,),
            tuple(dict.fromkeys([win.env, *(d.env for d in losers)])),
        )


CHECKS = (broken_requirements, shadowing)
