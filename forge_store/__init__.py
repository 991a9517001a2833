"""forge_store: Forge's content-addressed wheel store, catalog, linker and layered envs.

No network here: this package turns wheel files into immutable store entries and store
entries into environments made of links. Start with :class:`Store`::

    from forge_store import Store
    store = Store()                      # $FORGE_HOME, else the user data dir
    store.create_env("ml")
    store.install_wheels("ml", [path_to_wheel])

Names are loaded lazily so that ``import forge_store`` costs next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
"""Forge's version, the one place it is written (pyproject.toml reads it; forge_pip re-exports it)."""

__all__ = [
    "EnvInfo",
    "ForgeError",
    "InstallReport",
    "LayeringMode",
    "LinkMode",
    "Store",
    "StoredWheel",
    "__version__",
]

if TYPE_CHECKING:
    from .errors import ForgeError
    from .models import EnvInfo, InstallReport, LayeringMode, LinkMode, StoredWheel
    from .store import Store

_LAZY = {
    "Store": "store",
    "ForgeError": "errors",
    "EnvInfo": "models",
    "InstallReport": "models",
    "LayeringMode": "models",
    "LinkMode": "models",
    "StoredWheel": "models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'forge_store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
