"""forge_pip: Forge's pip-compatible front end (index client, resolver, builds, CLIs)."""

from __future__ import annotations

from forge_store import __version__  # one version for the distribution (pyproject reads it there)

__all__ = ["__version__"]
