"""Forge's own version, as ``forge --version`` prints it: from the installed distribution's
metadata, found without ``importlib.metadata`` (email, csv, zipfile) or anything else that is not
needed to print one line. :mod:`.changelog` re-exports :func:`forge_version`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

DISTRIBUTION = "forge-runtime"
"""Forge's distribution name (its version comes from this distribution's metadata)."""

_DIST_INFO_PREFIX = DISTRIBUTION.replace("-", "_") + "-"


def _metadata_version(folder: str) -> str | None:
    """``Version:`` of the ``forge_runtime-*.dist-info`` in ``folder``, if there is one."""
    try:
        names = os.listdir(folder or os.curdir)
    except OSError:
        return None
    for name in names:
        if name.lower().startswith(_DIST_INFO_PREFIX) and name.endswith(".dist-info"):
            try:
                with open(os.path.join(folder, name, "METADATA"), encoding="utf-8") as fh:
                    for line in fh:
                        if not line.strip():
                            break  # end of the headers
                        key, _, value = line.partition(":")
                        if key.strip().lower() == "version":
                            return value.strip()
            except OSError:
                continue
    return None


def forge_version(path: Sequence[str] | None = None) -> str:
    """Forge's version from its distribution's metadata, as ``importlib.metadata.version
    ("forge-runtime")`` finds it (the first ``forge_runtime-*.dist-info`` on ``sys.path``), but
    looking first beside the running code, and without importing importlib.metadata (email, csv,
    zipfile: ``forge --version`` must stay lean); ``forge_store.__version__`` for a source tree that
    was never installed."""
    from .isolation import forge_root

    for folder in (forge_root(), *(sys.path if path is None else path)):
        found = _metadata_version(folder)
        if found:
            return found
    from . import __version__

    return __version__
