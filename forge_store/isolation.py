"""Keep Forge's own processes on Forge's own code, whatever ``PYTHONPATH`` says.

Every Forge env's site-packages holds ``forge_pip.py`` (the launcher module behind ``ENV/bin/python
-m forge_pip``), a ``pip`` package (``ENV/bin/python -m pip``, :mod:`forge_store.pip_frontend`) and
``_forge_layers.py`` (its start-up hook), next to the env's packages. A
``PYTHONPATH`` that names such a directory (an activation once exported one; tools copy an env's
``sys.path`` into ``PYTHONPATH``) put that launcher ahead of the real ``forge_pip`` package in
Forge's own interpreter, which then re-ran itself forever, and the env's packages (an old
``packaging``, say) ahead of Forge's dependencies.

So Forge's entry points, the ``forge`` command (:func:`forge_main`, which lives here because the
top-level name ``forge_pip`` is the one an env's launcher takes) and ``python -m forge_pip``, call
:func:`enter` before importing anything else: it drops every Forge env's site-packages from
``sys.path`` (except the directory Forge itself is imported from) and forgets the launcher
variable, so that Forge's children start clean. The launcher module and ``bin/pip`` set
:data:`LAUNCHED_VAR` when they re-execute Forge's interpreter; a launcher module that meets it steps
aside for the real package instead of re-executing again, so no chain of them can loop.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

LAUNCHED_VAR = "_FORGE_PIP_LAUNCHED"
"""Set by an env's launchers on the Forge process they start; Forge removes it at start-up."""

ENV_SITE_MARKERS = ("_forge_layers.py", "forge_pip.py")
"""Files that only a Forge env's site-packages holds (the layer hook, the pip launcher module)."""


def is_env_site(entry: str) -> bool:
    """Whether the ``sys.path`` entry ``entry`` is a Forge env's site-packages."""
    folder = entry or os.curdir
    if os.path.isdir(os.path.join(folder, "forge_pip")):
        return False  # the real package lives here (Forge installed into this env)
    return any(os.path.isfile(os.path.join(folder, marker)) for marker in ENV_SITE_MARKERS)


def without_env_sites(path: Sequence[str], keep: str) -> list[str]:
    """``path`` without Forge envs' site-packages; ``keep`` (Forge's own directory) always stays."""
    kept = os.path.realpath(keep)
    return [p for p in path if os.path.realpath(p or os.curdir) == kept or not is_env_site(p)]


def forge_root() -> str:
    """The directory that Forge's packages are imported from (site-packages, or a source tree)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def enter() -> None:
    """Make this process Forge's own: no env site-packages on ``sys.path``, no launcher variable."""
    sys.path[:] = without_env_sites(sys.path, forge_root())
    os.environ.pop(LAUNCHED_VAR, None)


def forge_main() -> NoReturn:
    """The ``forge`` console script (``forge --version`` is answered without the parser)."""
    enter()
    leave(run_main(_forge))


def _forge() -> int:
    from forge_pip.cli.quick import answer

    quick = answer(sys.argv[1:])
    if quick is not None:
        return quick
    from forge_pip.cli.forge import main

    return main()


FULL_EXIT_VAR = "FORGE_FULL_EXIT"
"""``1``: a Forge command ends with Python's own exit (module teardown and all), see :func:`leave`."""


def run_main(main: Callable[[], object]) -> object:
    """``main()``'s exit code; a ``SystemExit`` it raises gives its code (as ``sys.exit`` would)."""
    try:
        return main()
    except SystemExit as exc:
        return exc.code


def leave(code: object) -> NoReturn:
    """End a Forge command's process with ``code`` (as ``sys.exit(code)``) without the interpreter's
    teardown, which frees every module and object: ~25 ms of each command, some 200 modules.

    What of a normal exit matters is done first, in the interpreter's order: threading's shutdown
    (its at-exit hooks, executors joining their workers among them, then every non-daemon thread
    joined), the ``atexit`` callbacks (``logging`` flushes its handlers there), stdout and stderr
    flushed (a failed flush exits 120, as Python does). Forge closes what it opens (files, the
    catalog) before its commands return; a committed catalog write is in SQLite's WAL either way.
    ``FORGE_FULL_EXIT=1`` keeps Python's own exit (for a tool that needs finalizers to run).
    """
    if os.environ.get(FULL_EXIT_VAR) == "1":
        sys.exit(code)  # type: ignore[arg-type]
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            status = status or 120
    os._exit(status & 0xFF)
