"""forge_store: Forge's content-addressed wheel store, catalog, linker and layered envs.

No network here: this package turns wheel files into immutable store entries and store
entries into environments made of links. See :class:`forge_store.store.Store`.
"""

from __future__ import annotations

__version__ = "0.1.0"
