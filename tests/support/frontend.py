"""An env's pip front end as an older Forge wrote it (one that answered for an older pip)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from forge_store import pip_frontend


def write_older_front_end(
    site: Path, prefix: Path, pip_version: str, forge_python: Path | None = None
) -> None:
    """Rewrite the front end in ``site`` (of the env at ``prefix``) answering as ``pip_version``,
    for the Forge at ``forge_python`` (default: this one, the tests' interpreter)."""
    with pytest.MonkeyPatch.context() as older:
        older.setattr(pip_frontend, "PIP_VERSION", pip_version)
        pip_frontend.write_front_end(site, forge_python or Path(sys.executable), prefix)
