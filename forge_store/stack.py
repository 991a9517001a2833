"""``StackView``: an env's whole stack (LOCAL > parents > GLOBAL) as pure data, from the catalog.

Which dists each layer holds, which one wins at run time for every name (the nearest layer),
which are shadowed, and the requirement edges between the winners (each dist's Requires-Dist
that apply on the env's interpreter, resolved against what the env sees at run time). ``forge
inspect`` and ``forge tree`` print it; the conflict checks of an install build on it.

The env's ``pip`` is Forge's front end (:mod:`.pip_frontend`), a package written into each env's
site-packages rather than a store entry: it appears as a candidate with ``entry_id`` None and
``origin`` ``"forge-front-end"``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from forge_store.records import record

from .models import EnvInfo, EnvKind, Layer

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from .store import Store

FRONT_END = "forge-front-end"
STORE = "store"


def applicable_requirements(lines: Iterable[str], markers: Mapping[str, str]) -> list[Requirement]:
    """The Requires-Dist lines that apply on the target with no extra requested; unparsable skipped."""
    target = tuple(sorted({**markers, "extra": ""}.items()))
    out: list[Requirement] = []
    for text in lines:
        req = _parsed(str(text))
        if req is not None and (req.marker is None or _applies(str(text), target)):
            out.append(req)
    return out


@functools.lru_cache(maxsize=8192)
def _parsed(text: str) -> Requirement | None:
    """``Requirement(text)``, None if it does not parse. One install checks each dist's
    Requires-Dist several times (the policy checks before and after, pip's conflict lines):
    parse each line once. Nothing mutates a parsed requirement."""
    from packaging.requirements import InvalidRequirement

    from .reqparse import requirement

    try:
        return requirement(text)
    except InvalidRequirement:
        return None


@functools.lru_cache(maxsize=8192)
def _applies(text: str, target: tuple[tuple[str, str], ...]) -> bool:
    """Whether the marker of the requirement ``text`` holds in the marker environment ``target``."""
    req = _parsed(text)
    return req is not None and (req.marker is None or req.marker.evaluate(dict(target)))


@record(frozen=True, slots=True)
class StackDist:
    """One dist in one layer of the stack."""

    name: str  # canonical
    version: str
    layer: Layer
    env: str  # the env whose site-packages holds it
    entry_id: str | None  # None for Forge's pip front end
    tags: tuple[str, ...]
    requires_dist: tuple[str, ...]
    requested: bool
    origin: str = STORE  # "store" | "forge-front-end"
    shadowed_by: str | None = None  # the env whose dist of this name wins, if not this one

    @property
    def shadowed(self) -> bool:
        return self.shadowed_by is not None


@record(frozen=True, slots=True)
class StackLayer:
    env: str
    layer: Layer
    site: str
    dists: tuple[StackDist, ...]


@record(frozen=True, slots=True)
class Edge:
    """``source`` requires ``requirement``; at run time the env gives it ``resolved_version``."""

    source: str
    source_env: str
    target: str  # canonical
    requirement: str  # as written, e.g. "lib>=2"
    resolved_version: str | None  # None: nothing in the stack provides it
    resolved_env: str | None
    satisfied: bool


@record(frozen=True, slots=True)
class StackView:
    env: EnvInfo
    layers: tuple[StackLayer, ...]
    edges: tuple[Edge, ...]

    def candidates(self, name: str) -> list[StackDist]:
        """Every layer's dist of ``name``, nearest first (the first one wins)."""
        return [d for layer in self.layers for d in layer.dists if d.name == name]

    def winner(self, name: str) -> StackDist | None:
        found = self.candidates(name)
        return found[0] if found else None

    def winners(self) -> dict[str, StackDist]:
        out: dict[str, StackDist] = {}
        for layer in self.layers:
            for d in layer.dists:
                out.setdefault(d.name, d)
        return out

    def requires(self, name: str) -> list[Edge]:
        return [e for e in self.edges if e.source == name]

    def required_by(self, name: str) -> list[Edge]:
        return [e for e in self.edges if e.target == name]

    def unsatisfied(self) -> list[Edge]:
        return [e for e in self.edges if not e.satisfied]

    def reason(self, name: str) -> str:
        """Why the winner of ``name`` wins, in a few words."""
        found = self.candidates(name)
        if not found:
            return f"{name} is not in any layer of env {self.env.name!r}"
        win = found[0]
        where = {
            Layer.LOCAL: "local layer",
            Layer.PARENT: f"parent {win.env!r}",
            Layer.GLOBAL: "global layer",
        }
        what = where[win.layer]
        if win.origin == FRONT_END:
            what = f"Forge's pip front end in the {what}"
        if len(found) == 1:
            return f"only the {what} provides it"
        losers = ", ".join(
            f"parent {d.env!r}" if d.layer is Layer.PARENT else f"the {d.layer.value} layer"
            for d in found[1:]
        )
        return f"{what} shadows {losers}"


def _satisfied(req: Requirement, version: str | None) -> bool:
    if version is None:
        return False
    try:
        return req.specifier.contains(version, prereleases=True)
    except Exception:  # an unparsable version never satisfies a specifier
        return not str(req.specifier)


def build(
    store: Store, env: EnvInfo, *, local_rows: Mapping[str, Sequence[tuple[str, bool]]] | None = None
) -> StackView:
    """The stack of ``env`` from the catalog (and each env's pip front end).

    ``local_rows``: for the envs named, their LOCAL layer as ``(entry id, requested)`` pairs instead
    of the catalog's, to see the stack a change would make before it is made (the entries must be
    in the catalog already)."""
    from packaging.utils import canonicalize_name

    from .pip_frontend import PACKAGE, front_end_version
    from .store import GLOBAL_PREFIX

    raw: list[tuple[EnvInfo, Layer, list[StackDist]]] = []
    for info, layer in store.layers(env):
        if local_rows is not None and info.name in local_rows:
            pairs = list(local_rows[info.name])
        else:
            pairs = [
                (r.entry_id, r.requested)
                for r in store.catalog.links(info.name)
                if r.layer == Layer.LOCAL.value
            ]
        entries = store.catalog.entries([eid for eid, _ in pairs])
        dists: list[StackDist] = []
        for eid, requested in pairs:
            e = entries.get(eid)
            if e is None:
                continue
            reqs = e.meta.get("requires_dist") or []
            requires = tuple(str(x) for x in reqs) if isinstance(reqs, list) else ()
            dists.append(StackDist(e.name, e.version, layer, info.name, e.id, e.tags, requires, requested))
        if not any(d.name == PACKAGE for d in dists):
            version = front_end_version(info.site_packages)
            if version is not None:
                dists.append(StackDist(PACKAGE, version, layer, info.name, None, (), (), False, FRONT_END))
        raw.append((info, layer, sorted(dists, key=lambda d: d.name)))
    owner: dict[str, str] = {}
    for info, _layer, dists in raw:
        for d in dists:
            owner.setdefault(d.name, info.name)
    layers = tuple(
        StackLayer(
            info.name,
            layer,
            str(info.site_packages),
            tuple(
                d if owner[d.name] == info.name else dataclasses.replace(d, shadowed_by=owner[d.name])
                for d in dists
            ),
        )
        for info, layer, dists in raw
    )
    if env.kind in (EnvKind.ENV, EnvKind.ADOPTED) and all(la.layer is not Layer.GLOBAL for la in layers):
        # no GLOBAL env yet: the layer is still in the stack (the start-up hook names its site)
        glob = GLOBAL_PREFIX + env.interpreter.abi_key
        layers += (StackLayer(glob, Layer.GLOBAL, str(store.global_site(env.interpreter)), ()),)
    view = StackView(env, layers, ())
    winners = view.winners()
    markers = env.interpreter.marker_env()
    edges: list[Edge] = []
    for d in winners.values():
        for req in applicable_requirements(d.requires_dist, markers):
            target = canonicalize_name(req.name)
            got = winners.get(target)
            version = got.version if got is not None else None
            edges.append(
                Edge(
                    d.name,
                    d.env,
                    target,
                    str(req),
                    version,
                    got.env if got is not None else None,
                    _satisfied(req, version),
                )
            )
    return dataclasses.replace(view, edges=tuple(edges))


def dist_json(d: StackDist) -> dict[str, object]:
    return {
        "name": d.name,
        "version": d.version,
        "layer": d.layer.value,
        "env": d.env,
        "entry": d.entry_id,
        "origin": d.origin,
        "tags": list(d.tags),
        "requested": d.requested,
        "shadowed": d.shadowed,
        "shadowed_by": d.shadowed_by,
    }


def edge_json(e: Edge) -> dict[str, object]:
    return {
        "from": e.source,
        "from_env": e.source_env,
        "to": e.target,
        "requirement": e.requirement,
        "resolved_version": e.resolved_version,
        "resolved_env": e.resolved_env,
        "satisfied": e.satisfied,
    }


def edges_json(edges: Sequence[Edge]) -> list[dict[str, object]]:
    return [edge_json(e) for e in edges]
