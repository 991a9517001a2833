"""What the resolve stage takes and gives: a :class:`ResolveRequest` in, a :class:`Resolution` of
:class:`Pin` s out (:func:`forge_pip.resolve.resolve`).

Apart from the resolver (:mod:`.resolver`), so that what answers a request without searching (the
resolution memo, the pinned fast path) loads neither resolvelib nor the finder and its candidates.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from forge_pip.resolve.sources import DirectRequirement, Origin
from forge_store.records import record

if TYPE_CHECKING:
    from packaging.version import Version

    from forge_pip.models import DistFile, TargetPython
    from forge_pip.resolve.sources import InstalledDist


class UpgradeStrategy(enum.Enum):
    """pip's ``--upgrade-strategy``: which names ``-U`` upgrades."""

    ONLY_IF_NEEDED = "only-if-needed"
    """Only the names the user asked for; dependencies are upgraded only if they must be."""
    EAGER = "eager"
    """Every name in the resolution."""


@record(frozen=True, slots=True, kw_only=True)
class ResolveRequest:
    """What to resolve, for which interpreter, with pip's options."""

    requirements: tuple[Requirement | DirectRequirement, ...]
    target: TargetPython
    constraints: tuple[Requirement, ...] = ()
    upgrade: bool = False
    """``-U``: requested names prefer the newest version anywhere over what the layers have."""
    upgrade_strategy: UpgradeStrategy = UpgradeStrategy.ONLY_IF_NEEDED
    force_local: bool = False
    """``--local``: a parent or global layer's dist does not satisfy a requirement."""
    pre: bool = False
    prefer_binary: bool = False
    only_binary: frozenset[str] = frozenset()
    """Canonical names, or ``":all:"``."""
    no_binary: frozenset[str] = frozenset()
    allow_yanked_pinned: bool = True
    no_deps: bool = False
    hashes: Mapping[NormalizedName, Mapping[str, frozenset[str]]] = dataclasses.field(default_factory=dict)
    """``--hash`` pinning: name -> algorithm -> allowed hex digests (lower case)."""
    prefer_store: bool = False
    """``--prefer-offline`` / ``--offline``: store entries are candidates, ranked before index files.
    Otherwise the store only supplies a file the indexes offer (see :mod:`.provider`)."""
    all_releases: frozenset[str] = frozenset()
    """pip 26's ``--all-releases``: names (or ``":all:"``) whose pre-releases are candidates."""
    only_final: frozenset[str] = frozenset()
    """pip 26's ``--only-final``: names (or ``":all:"``) that never get a pre-release, even when
    the specifier names one. A name in one set wins over ``:all:`` in the other (pip's rule)."""
    uploaded_prior_to: datetime.datetime | None = None
    """pip 26's ``--uploaded-prior-to``: see :class:`~forge_pip.resolve.finder.FinderOptions`."""
    fixed: Mapping[NormalizedName, InstalledDist] = dataclasses.field(default_factory=dict)
    """Dists that are the only candidate of their name, whatever is asked (``-U``,
    ``--force-reinstall``): the env's ``pip``, which is Forge's front end."""

    def __post_init__(self) -> None:
        # Accept pip's spelling ("eager") as well as the enum.
        object.__setattr__(self, "upgrade_strategy", UpgradeStrategy(self.upgrade_strategy))


@record(frozen=True, slots=True)
class Pin:
    """One resolved distribution and where to get it."""

    name: NormalizedName
    version: Version
    origin: Origin
    layer: str | None = None
    """For ``Origin.LAYER``: the layer that provides it (``"local"``, ``"parent:<env>"``, ``"global"``)."""
    store_entry: str | None = None
    """For ``Origin.STORE``: the store entry id."""
    file: DistFile | None = None
    """For ``Origin.INDEX``: the file to fetch (a direct requirement's file when ``direct``). For
    ``Origin.STORE``: the index file the entry holds (None for a ``prefer_store`` store pick)."""
    extras: frozenset[NormalizedName] = frozenset()
    requested: bool = False
    """The user asked for this name (not only a dependency)."""
    requires: tuple[Requirement, ...] = ()
    """The Requires-Dist entries that applied for the target (markers and extras evaluated)."""
    direct: bool = False


@record(frozen=True, slots=True)
class Resolution:
    pins: Mapping[NormalizedName, Pin]
    graph: Mapping[NormalizedName, tuple[NormalizedName, ...]]
    """Name -> the pinned names it requires (sorted); use it for trees and explanations."""
