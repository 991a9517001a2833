"""Turn resolvelib's ``ResolutionImpossible`` into pip-like prose.

Three shapes, as pip: a Requires-Python that rejects the target, a requirement that no version
matches (``NoMatchingDistribution``: which versions exist, why files were skipped, who required
it), and a real conflict (``ResolutionError``: "Cannot install A and B because ...").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from forge_pip.resolve.candidates import (
    Candidate,
    ExplicitReq,
    NamedReq,
    PythonCandidate,
    PythonReq,
    Req,
    split_identifier,
)
from forge_pip.resolve.errors import NoMatchingDistribution, ResolutionError

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from resolvelib.structs import RequirementInformation

    from forge_pip.resolve.provider import ForgeProvider

    Cause = RequirementInformation[Req, Candidate]

CONFLICT_HINT = (
    "loosen the range of package versions you've specified, or remove package versions "
    "to allow the resolver to attempt to solve the dependency conflict"
)


def _text_join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _name_of(req: Req) -> NormalizedName:
    return split_identifier(req.identifier)[0]


def explain(
    causes: Collection[Cause],
    provider: ForgeProvider,
    *,
    roots: Mapping[NormalizedName, str],
    constraints: Mapping[NormalizedName, str],
) -> ResolutionError | NoMatchingDistribution:
    """The error to raise for ``causes``; ``roots`` and ``constraints`` map names to the user's text."""
    python = provider.python.version
    py_causes = [c for c in causes if isinstance(c.requirement, PythonReq) and c.parent is not None]
    if py_causes:
        py_lines = [
            f"Package '{c.parent.name}' {c.parent.version} requires a different Python: "  # type: ignore[union-attr]
            f"{python} not in '{c.requirement.specifier}'"  # type: ignore[union-attr]
            for c in py_causes
        ]
        return NoMatchingDistribution(
            "\n".join(py_lines),
            hint="use a target interpreter the package supports, or an older version of the package",
            requirement=str(py_causes[0].requirement),
        )

    unmatched = [c for c in causes if not provider.matches_alone(c.requirement)]
    # a requirement that matches versions, only none within the constraints, is pip's conflict
    # ("The user requested x==2 / The user requested (constraint) x==1"), not "no matching"
    constrained_out = all(_matches_unconstrained(c.requirement, provider) for c in unmatched)
    if unmatched and len(unmatched) == len(causes) and not constrained_out:
        return _no_match(unmatched, provider, constraints)

    triggers: set[str] = set()
    lines: list[str] = []
    for req, parent in causes:
        if parent is None:
            shown = _root_text(req, roots)
            triggers.add(shown)
            lines.append(f"The user requested {shown if isinstance(req, ExplicitReq) else _format(req)}")
        else:
            triggers.add(_trigger(parent, provider, roots))
            lines.append(f"{parent.identifier} {parent.version} depends on {_format(req)}")
    names = {_name_of(c.requirement) for c in causes}
    names |= {c.parent.name for c in causes if c.parent is not None}  # type: ignore[union-attr]
    lines.extend(
        f"The user requested (constraint) {constraints[n]}" for n in sorted(names) if n in constraints
    )
    tried = [
        f"{n} " + ", ".join(str(v) for v in provider.tried[n]) for n in sorted(names) if provider.tried.get(n)
    ]
    message = (
        f"Cannot install {_text_join(sorted(triggers)) or 'the requested packages'} because these "
        "package versions have conflicting dependencies.\nThe conflict is caused by:\n    "
        + "\n    ".join(lines)
    )
    if tried:
        message += "\nVersions tried: " + "; ".join(tried)
    return ResolutionError(message, hint=CONFLICT_HINT, causes=lines)


def _matches_unconstrained(req: Req, provider: ForgeProvider) -> bool:
    """Whether a requirement that matches nothing with the constraints would match without them."""
    if not isinstance(req, NamedReq) or req.name not in provider.constraints:
        return False
    return next(provider.iter_base_candidates(req.name, req.specifier), None) is not None


def _format(req: Req) -> str:
    return str(req)


def _root_text(req: Req, roots: Mapping[NormalizedName, str]) -> str:
    """How pip names a user's requirement in a conflict: ``a 1.0 (from URL)`` for a direct one."""
    if isinstance(req, ExplicitReq):
        base = req.candidate.base
        if base.direct and base.file is not None:
            return f"{req.candidate.identifier} {base.version} (from {base.file.source or base.file.url})"
    text = roots.get(_name_of(req), str(req))
    # the name's first root may be a URL requirement while this one is a named one (a @ URL, a==2)
    return str(req) if " @ " in text and not isinstance(req, ExplicitReq) else text


def _chain(name: NormalizedName, provider: ForgeProvider) -> list[str]:
    """``["bar 1.0", "requested"]``: who required ``name``, up to the user's request."""
    ancestors, reached = provider.ancestry(name)
    return [str(a) for a in ancestors] + (["requested"] if reached else [])


def _trigger(parent: Candidate, provider: ForgeProvider, roots: Mapping[NormalizedName, str]) -> str:
    """The user's requirement that brought ``parent`` in (pip's "describe_trigger")."""
    if isinstance(parent, PythonCandidate):
        return str(parent)
    ancestors, reached = provider.ancestry(parent.name)
    top = ancestors[-1].name if ancestors else parent.name
    if reached and top in roots:
        return roots[top]
    return f"{parent.name}=={parent.version}"


def _versions(name: NormalizedName, provider: ForgeProvider) -> Sequence[str]:
    installed = provider.visible_installed(name)
    return provider.finder.known_versions(name, [installed.version] if installed else [])


def _no_match(
    causes: Sequence[Cause], provider: ForgeProvider, constraints: Mapping[NormalizedName, str]
) -> NoMatchingDistribution:
    """pip's "No matching distribution found for X (from versions: ...)", one line per requirement."""
    name = _name_of(causes[0].requirement)
    versions = _versions(name, provider)
    skipped = provider.finder.skipped(name)
    parts: list[str] = []
    for req, parent in causes:
        shown = _versions(_name_of(req), provider)
        text = (
            f"No matching distribution found for {_format(req)} (from versions: {', '.join(shown) or 'none'})"
        )
        if parent is not None:
            chain = [str(parent), *_chain(parent.name, provider)]  # type: ignore[union-attr]
            text += "; required by " + " <- ".join(chain)
        parts.append(text)
    if name in constraints:
        parts.append(f"The user requested (constraint) {constraints[name]}")
    if skipped:
        parts.append("Skipped files: " + "; ".join(skipped))
    hint = None
    if not versions and not skipped:
        hint = f"check the spelling of {name!r} and the configured indexes"
    elif any("Python" in s for s in skipped):
        hint = "some versions need another Python: pick another target interpreter or an older version"
    return NoMatchingDistribution(
        "\n".join(parts),
        hint=hint,
        requirement=_format(causes[0].requirement),
        versions=versions,
        skipped=skipped,
    )
