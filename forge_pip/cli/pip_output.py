"""pip's install output, computed from a resolution and a plan (pure functions; the CLI prints).

- ``looking_in``: pip's ``Looking in indexes:`` / ``Looking in links:`` lines (none for PyPI alone);
- ``collect_lines``: ``Collecting X (from -r req.txt (line 2))`` / ``Collecting beta>=1 (from
  alpha)`` / ``Requirement already satisfied: beta>=1 in SITE (from alpha) (2.0)``, in the order
  pip's resolver meets the requirements (the user's, then their dependencies breadth first), with
  the requirement text and the chain pip shows (``from_path``);
- ``install_order``: pip's order for ``Installing collected packages`` (its topological weights:
  leaves first, repeatedly, then by reverse name);
- ``conflict_lines``: pip's post-install warning when the result breaks another installed dist.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName

from forge_pip.index.urls import redact_url
from forge_store.records import record

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from forge_pip.install import IndexOptions
    from forge_pip.plan import Plan
    from forge_pip.reqfile import ReqLine
    from forge_pip.resolve import Resolution

PYPI_SIMPLE = "https://pypi.org/simple"
CONFLICT_HEADER = (
    "ERROR: pip's dependency resolver does not currently take into account all the packages that are"
    " installed. This behaviour is the source of the following dependency conflicts."
)


def looking_in(index: IndexOptions) -> list[str]:
    lines = []
    urls = list(index.index_urls)
    if urls and urls != [PYPI_SIMPLE]:
        lines.append("Looking in indexes: " + ", ".join(redact_url(u) for u in urls))
    if index.find_links:
        lines.append("Looking in links: " + ", ".join(redact_url(u) for u in index.find_links))
    return lines


def _source_words(source: str) -> str | None:
    """``req.txt:3`` -> ``-r req.txt (line 3)`` (pip's comes_from); None for a command-line argument."""
    path, sep, line = source.rpartition(":")
    if sep and line.isdigit() and path:
        return f"-r {path} (line {line})"
    return None


@record(frozen=True, slots=True)
class Origin:
    """How pip names the requirement that brought a dist in: its text and its ``from`` chain."""

    text: str
    chain: str | None  # pip's from_path of the parent ("alpha", "alpha->-r req.txt (line 1)")
    written: str = ""
    """The name as the requirement spells it (what pip prints in "Successfully installed")."""

    @property
    def path(self) -> str:
        return self.text + (f"->{self.chain}" if self.chain else "")

    def suffix(self) -> str:
        return f" (from {self.chain})" if self.chain else ""


def origins(resolution: Resolution, roots: Sequence[ReqLine]) -> dict[str, Origin]:
    """The requirement that first reached each pinned name, breadth first from the user's."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Req
    from packaging.utils import canonicalize_name

    found: dict[str, Origin] = {}
    queue: deque[str] = deque()
    for line in roots:
        if line.requirement is None or line.constraint:
            continue
        text = line.requirement
        try:
            parsed = Req(text)
        except InvalidRequirement:
            continue
        name = canonicalize_name(parsed.name)
        if name in resolution.pins and name not in found:
            found[name] = Origin(_requirement_text(parsed), _source_words(line.source), parsed.name)
            queue.append(name)
    for pin in resolution.pins.values():  # paths and URLs without a name: the metadata's name
        if pin.requested and pin.name not in found:
            found[pin.name] = Origin(pin.name, None, "")
            queue.append(pin.name)
    while queue:
        parent = queue.popleft()
        for req in resolution.pins[NormalizedName(parent)].requires:
            name = canonicalize_name(req.name)
            if name in resolution.pins and name not in found:
                found[name] = Origin(_requirement_text(req), found[parent].path, req.name)
                queue.append(name)
    return found


def _requirement_text(req: Requirement) -> str:
    """pip's ``str(req)`` without the marker (pip drops markers that applied)."""
    text = req.name
    if req.extras:
        text += "[" + ",".join(sorted(req.extras)) + "]"
    if req.url:
        return f"{text}@ {req.url}"
    return text + str(req.specifier)


def install_order(graph: Mapping[NormalizedName, Sequence[str]], names: Iterable[str]) -> list[str]:
    """pip's ``get_installation_order``: prune leaves again and again, each round weighing less;
    what remains (cycles) by its longest path from the roots; then by (weight, name), descending."""
    wanted = set(names)
    keys = set(graph)
    nodes: dict[str, set[str]] = {str(n): set(deps) & keys for n, deps in graph.items()}
    weights: dict[str, int] = {}
    while True:
        leaves = {n for n, deps in nodes.items() if not deps}
        if not leaves:
            break
        weight = len(nodes)  # pip's len(graph) - 1, its graph also holding the root None
        for leaf in leaves:
            weights[leaf] = weight
            del nodes[leaf]
        for deps in nodes.values():
            deps -= leaves
    for n in nodes:  # cycles: pip's longest-path walk; every node here is on a cycle
        weights[n] = 0
    return sorted((n for n in weights if n in wanted), key=lambda n: (weights[n], n), reverse=True)


def conflict_lines(
    dists: Mapping[str, tuple[str, str, Sequence[Requirement]]], changed: Iterable[str]
) -> list[str]:
    """pip's ``check_install_conflicts`` after an install: missing or incompatible dependencies of
    the dists just installed and of every dist that depends on one of them.

    ``dists`` maps canonical names to ``(display name, version, applicable requirements)``.
    """
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    changed = set(changed)
    whitelist = set(changed)
    for name, (_display, _version, reqs) in dists.items():
        if any(canonicalize_name(r.name) in changed for r in reqs):
            whitelist.add(name)
    missing: list[str] = []
    conflicting: list[str] = []
    for name in sorted(whitelist):
        if name not in dists:
            continue
        display, version, reqs = dists[name]
        for req in reqs:
            dep = dists.get(canonicalize_name(req.name))
            if dep is None:
                missing.append(f"{display} {version} requires {req.name}, which is not installed.")
                continue
            try:
                ok = req.specifier.contains(Version(dep[1]), prereleases=True)
            except InvalidVersion:
                ok = True
            if not ok:
                conflicting.append(
                    f"{display} {version} requires {_requirement_text(req)}, but you have"
                    f" {dep[0]} {dep[1]} which is incompatible."
                )
    problems = missing + conflicting
    return [CONFLICT_HEADER, *problems] if problems else []


def conflict_pairs(lines: Iterable[str]) -> set[tuple[str, str]]:
    """``(dist, required name)``, canonical, of each problem line :func:`conflict_lines` made."""
    import re

    from packaging.utils import canonicalize_name

    out: set[tuple[str, str]] = set()
    for line in lines:
        m = re.match(r"(\S+) \S+ requires ([A-Za-z0-9._-]+)", line)
        if m is not None and line != CONFLICT_HEADER:
            out.add((canonicalize_name(m.group(1)), canonicalize_name(m.group(2))))
    return out


def would_install(plan: Plan, names: Mapping[str, str]) -> str:
    """pip's dry-run line: ``Would install a-1.0 b-2.0``, sorted by the names pip shows."""
    items = sorted(f"{names.get(i.name, i.name)}-{i.version}" for i in plan.installs)
    return "Would install " + " ".join(items)
