"""The resolve stage: requirements in, pins out, across the env's layers, Forge's store and indexes.

See :func:`resolve`. The policy (what to prefer) lives in :mod:`.provider`; the inputs are the
Protocols of :mod:`.sources`.
"""

from __future__ import annotations

from forge_pip.resolve.errors import InvalidConstraint, NoMatchingDistribution, ResolutionError
from forge_pip.resolve.resolver import Pin, Resolution, ResolveRequest, UpgradeStrategy, resolve
from forge_pip.resolve.sources import (
    CoreMetadata,
    DirectRequirement,
    IndexView,
    InstalledDist,
    LayerView,
    NullReporter,
    Origin,
    ResolveReporter,
    StoredDist,
    StoreView,
)

__all__ = [
    "CoreMetadata",
    "DirectRequirement",
    "IndexView",
    "InstalledDist",
    "InvalidConstraint",
    "LayerView",
    "NoMatchingDistribution",
    "NullReporter",
    "Origin",
    "Pin",
    "Resolution",
    "ResolutionError",
    "ResolveReporter",
    "ResolveRequest",
    "StoreView",
    "StoredDist",
    "UpgradeStrategy",
    "resolve",
]
