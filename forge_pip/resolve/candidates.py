"""The requirement and candidate types the resolvelib provider works with.

Identifiers are a canonical name (``"requests"``), a name with extras (``"requests[socks]"``),
or :data:`PYTHON_ID` for the target interpreter. As in pip, an extras candidate depends on the
base candidate at the same version (an :class:`ExplicitReq`) plus the extra's own dependencies.
Candidates are created once per (name, version, origin) by the provider and compared by identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from forge_pip.resolve.sources import Origin
from forge_store.records import record

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from forge_pip.models import DistFile
    from forge_pip.resolve.sources import InstalledDist, StoredDist

PYTHON_ID = "<python>"
"""Identifier of the target interpreter, which Requires-Python requirements depend on."""


def make_identifier(name: str, extras: frozenset[NormalizedName]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def split_identifier(identifier: str) -> tuple[NormalizedName, frozenset[NormalizedName]]:
    """``"a[x,y]"`` -> ``("a", {"x", "y"})``; identifiers are built by :func:`make_identifier`."""
    name, _, rest = identifier.partition("[")
    extras = frozenset(rest.rstrip("]").split(",")) if rest else frozenset()
    return name, extras  # type: ignore[return-value]


@record(frozen=True, slots=True)
class NamedReq:
    """A PEP 508 requirement whose marker already applied: name, extras and a specifier."""

    name: NormalizedName
    extras: frozenset[NormalizedName]
    specifier: SpecifierSet
    source: Requirement
    """The requirement as written (for messages)."""

    @property
    def identifier(self) -> str:
        return make_identifier(self.name, self.extras)

    def __str__(self) -> str:
        return make_identifier(self.name, self.extras) + str(self.specifier)


@record(frozen=True, slots=True)
class ExplicitReq:
    """Exactly this candidate: a direct file, or the base of an extras candidate."""

    candidate: DistCandidate | ExtrasCandidate

    @property
    def identifier(self) -> str:
        return self.candidate.identifier

    def __str__(self) -> str:
        base = self.candidate.base if isinstance(self.candidate, ExtrasCandidate) else self.candidate
        if base.direct and base.file is not None:
            return f"{self.candidate.identifier} @ {base.file.url}"
        return f"{self.candidate.identifier}=={base.version}"


@record(frozen=True, slots=True)
class PythonReq:
    """A Requires-Python from a candidate's metadata."""

    specifier: SpecifierSet

    @property
    def identifier(self) -> str:
        return PYTHON_ID

    def __str__(self) -> str:
        return f"Python{self.specifier}"


@record(frozen=True, slots=True, eq=False)
class DistCandidate:
    """One version of a project from one origin (identity equality: the provider caches them)."""

    name: NormalizedName
    version: Version
    origin: Origin
    installed: InstalledDist | None = None
    stored: StoredDist | None = None
    file: DistFile | None = None
    """The best file of this version for the target (index origin, and store origin when the
    entry holds that file; None for a ``prefer_store`` pick of a store entry)."""
    direct: bool = False

    @property
    def identifier(self) -> str:
        return self.name

    @property
    def base(self) -> DistCandidate:
        return self

    @property
    def extras(self) -> frozenset[NormalizedName]:
        return frozenset()

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def __repr__(self) -> str:
        return f"<DistCandidate {self.name} {self.version} from {self.origin.value}>"


@record(frozen=True, slots=True, eq=False)
class ExtrasCandidate:
    """A base candidate with extras: its dependencies are the base itself plus the extras' deps."""

    base: DistCandidate
    extras: frozenset[NormalizedName]

    @property
    def name(self) -> NormalizedName:
        return self.base.name

    @property
    def version(self) -> Version:
        return self.base.version

    @property
    def identifier(self) -> str:
        return make_identifier(self.base.name, self.extras)

    def __str__(self) -> str:
        return f"{self.identifier} {self.version}"


@record(frozen=True, slots=True, eq=False)
class PythonCandidate:
    """The target interpreter, the only candidate for :data:`PYTHON_ID`."""

    version: Version

    @property
    def identifier(self) -> str:
        return PYTHON_ID

    def __str__(self) -> str:
        return f"Python {self.version}"


Req: TypeAlias = NamedReq | ExplicitReq | PythonReq
Candidate: TypeAlias = DistCandidate | ExtrasCandidate | PythonCandidate
