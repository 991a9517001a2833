"""The environment a user's shell would give a Forge command in the tests that run the CLI as a user.

Forge's own ``bin`` (this interpreter's, with its ``forge``) first on PATH, a FORGE_HOME and a HOME
of the test's, pip configured with exactly one index, and nothing of the caller's: no pip.conf, no
``PIP_*`` or ``FORGE_*`` variables, no active env, no PYTHONPATH.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
"""The project's interpreter and its ``forge`` script."""


def user_environ(tmp_path: Path, *, forge_home: Path, home: Path, index_url: str) -> dict[str, str]:
    """``os.environ`` cleaned as above, for ``subprocess`` ``env=``."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "FORGE_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    environ.update(
        FORGE_HOME=str(forge_home),
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=index_url,
        XDG_CONFIG_HOME=str(tmp_path / "no-xdg-home"),
        XDG_CONFIG_DIRS=str(tmp_path / "no-xdg"),
        PATH=f"{BIN}{os.pathsep}{environ.get('PATH', '')}",
    )
    return environ
