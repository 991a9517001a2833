"""Requirement strings parsed once per process.

One warm install parses the same Requires-Dist lines in several places: the resolution memo's
pins and their metadata, the policy checks before and after the change, the env's installed
dists. ``packaging``'s parser costs ~0.07 ms a line, ~500 lines a set-A install. The objects
returned are shared: nothing may change one (nothing in Forge does).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement

__all__ = ["requirement"]


@functools.lru_cache(maxsize=16384)
def requirement(text: str) -> Requirement:
    """``Requirement(text)``, the same object for the same text; raises ``InvalidRequirement``
    (a ``ValueError``) as ``Requirement`` does, every time (failures are not remembered)."""
    from packaging.requirements import Requirement

    return Requirement(text)
