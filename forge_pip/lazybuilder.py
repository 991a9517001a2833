"""A :class:`~forge_pip.build.Builder` that is made on first use.

Every install builds its pipeline with a builder, but a warm install, an ``--offline`` one and a
``--dry-run`` of wheels build nothing: making the builder imports ``forge_pip.build`` (``tarfile``,
``zipfile``, the hook runner's ``subprocess`` plumbing, the build-env factory) for no use.
:func:`lazy_builder` hands out a stand-in that makes the real one the first time any attribute is
asked for, and forwards everything to it from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from forge_pip.build import Builder


class _Deferred:
    __slots__ = ("_made", "_make")

    def __init__(self, make: Callable[[], Builder]) -> None:
        self._make = make
        self._made: Builder | None = None

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)


def lazy_builder(make: Callable[[], Builder]) -> Builder:
    """A builder that calls ``make`` (once) when it is first used."""
    return cast("Builder", _Deferred(make))
