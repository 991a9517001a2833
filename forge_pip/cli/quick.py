"""What the ``forge`` command answers before it builds its parser: ``forge --version``.

Building the parser imports every subcommand module (argparse, json, dataclasses, ...), which
``forge --version`` alone (what scripts, CI logs and bug reports run) does not need. The ``forge``
console script and :func:`forge_pip.cli.forge.main` ask :func:`answer` first.
"""

from __future__ import annotations

from collections.abc import Sequence


def version_line() -> str:
    """``forge X.Y.Z``: the installed distribution's version (:mod:`forge_store.version`)."""
    from forge_store.version import forge_version

    return f"forge {forge_version()}"


def answer(argv: Sequence[str]) -> int | None:
    """Print the answer to ``argv`` and return the exit code, if it is one of the quick ones;
    None otherwise (the full command line parser takes it)."""
    if list(argv) != ["--version"]:
        return None
    print(version_line())
    return 0
