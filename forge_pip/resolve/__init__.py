"""The resolve stage: requirements in, pins out, across the env's layers, the indexes and Forge's store.

See :func:`resolve`. The policy (what to prefer) lives in :mod:`.provider`: the layers satisfy as
installed packages do in pip, the indexes decide versions, the store is a cache of their files.
The inputs are the Protocols of :mod:`.sources`.
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
