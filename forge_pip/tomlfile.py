"""TOML for the requirement sources (``pylock.toml``, ``pyproject.toml`` groups, PEP 723 blocks):
``tomllib`` on 3.11+, ``tomli`` on 3.10; every failure becomes the caller's one-line error."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from forge_store.errors import ForgeError

__all__ = ["loads"]


def loads(text: str, *, what: str, error: Callable[[str], ForgeError]) -> dict[str, Any]:
    """Parse ``text``; raise ``error("<what>: <problem>")`` when it is not TOML."""
    module: Any
    if sys.version_info >= (3, 11):
        import tomllib

        module = tomllib
    else:
        try:
            module = importlib.import_module("tomli")
        except ImportError:
            raise error(f"{what}: reading TOML on Python 3.10 needs the 'tomli' package") from None
    try:
        doc = module.loads(text)
    except ValueError as exc:  # TOMLDecodeError is a ValueError in both
        raise error(f"{what}: {exc}") from None
    if not isinstance(doc, dict):
        raise error(f"{what}: not a TOML document")
    return doc
