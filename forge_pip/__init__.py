"""forge_pip: Forge's pip-compatible front end (index client, resolver, builds, CLIs)."""

from __future__ import annotations

__version__ = "0.1.0"
