"""The resolve stage: requirements in, pins out, across the env's layers, the indexes and Forge's store.

See :func:`resolve`. The policy (what to prefer) lives in :mod:`.provider`: the layers satisfy as
installed packages do in pip, the indexes decide versions, the store is a cache of their files.
The inputs are the Protocols of :mod:`.sources`.

:func:`resolve` (with resolvelib, the finder and its candidates) is loaded on first use (PEP 562):
an answer from the resolution memo or the pinned fast path needs only the request's types.
"""

from __future__ import annotations

from forge_pip.resolve.errors import InvalidConstraint, NoMatchingDistribution, ResolutionError
from forge_pip.resolve.request import Pin, Resolution, ResolveRequest, UpgradeStrategy
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from forge_pip.resolve.resolver import resolve

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


def __getattr__(name: str) -> object:
    if name != "resolve":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from forge_pip.resolve.resolver import resolve

    globals()["resolve"] = resolve
    return resolve
