"""Write Forge envs: a real venv (no real pip), Forge's launchers, and the start-up hook for layers.

``bin/pip*``, ``python -m forge_pip`` and ``python -m pip`` (a small ``pip`` package, see
:mod:`.pip_frontend`) all run Forge's pip front end on the env.

We write the venv ourselves instead of calling ``venv``: it is a handful of files and links, and
``python -m venv`` costs a subprocess and tens of milliseconds more. The result is what ``venv``
makes (``pyvenv.cfg``, ``bin/python*`` links, ``lib/pythonX.Y/site-packages``, ``lib64``, activate
scripts) and what ``sys.prefix``/``site`` expect.

Layers are stacked at start-up by ``_forge_layers.pth`` (an ``import`` line, for Python <= 3.14)
and ``_forge_layers.start`` (PEP 829 entry point, Python >= 3.15), both calling the same idempotent
``_forge_layers.activate()``. ``site.addsitedir`` processes each layer's own ``.pth`` files too
(editables, nspkg files, the grandparent's hook), which a plain path line would skip.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from . import __version__, pip_frontend
from .activation import activate_script
from .isolation import LAUNCHED_VAR
from .models import Interpreter

LAYERS_MODULE = "_forge_layers"
PIP_SHIM = "forge_pip.py"

_LAYERS_SOURCE = '''\
"""Forge layer hook: stacks this env's parent and global layers on sys.path (generated; do not edit)."""

LAYERS = {layers!r}


def activate():
    import os
    import site
    import sys

    done = sys.__dict__.setdefault("_forge_layers_done", set())
    for path in LAYERS:
        if path in done or not os.path.isdir(path):
            continue
        done.add(path)
        site.addsitedir(path)
'''

_PIP_SHIM_SOURCE = '''\
"""Forge's pip launcher for this env (generated; do not edit).

``python -m forge_pip`` in this env re-executes Forge's own interpreter, which runs Forge's front end
against this env: nothing of Forge is imported into the env. Met in another interpreter (a
PYTHONPATH put this directory on its path), it steps aside for the real ``forge_pip`` package, and
it never re-executes a process that a Forge launcher started ({launched}), so it cannot loop."""

import os
import sys

FORGE_PYTHON = {forge_python!r}
ENV_PREFIX = {prefix!r}
LAUNCHED = {launched!r}


def _same(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _real_forge_pip():
    """Whether the real package is importable here once launcher modules like this one are hidden."""
    import importlib.util

    def launcher_dir(entry):
        folder = entry or os.curdir
        return os.path.isfile(os.path.join(folder, "forge_pip.py")) and not os.path.isdir(
            os.path.join(folder, "forge_pip")
        )

    sys.path[:] = [p for p in sys.path if not launcher_dir(p)]
    sys.modules.pop("forge_pip", None)
    spec = importlib.util.find_spec("forge_pip")
    return spec is not None and spec.submodule_search_locations is not None


def main():
    if LAUNCHED not in os.environ and (_same(sys.prefix, ENV_PREFIX) or not _real_forge_pip()):
        if not os.access(FORGE_PYTHON, os.X_OK):
            sys.stderr.write(
                "forge_pip: error: " + FORGE_PYTHON + ", the Forge that made this env, is gone"
                " (hint: reinstall Forge, or run `forge pip --python " + sys.executable + "`)\\n"
            )
            return 1
        argv = [FORGE_PYTHON, "-m", "forge_pip", "--python", sys.executable, *sys.argv[1:]]
        os.execve(FORGE_PYTHON, argv, dict(os.environ, **{{LAUNCHED: "1"}}))
    if not _real_forge_pip():
        sys.stderr.write(
            "forge_pip: error: Forge is not installed for " + sys.executable
            + " (hint: run this env's bin/pip, or `forge pip`)\\n"
        )
        return 1
    import runpy

    runpy.run_module("forge_pip", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def write_venv(
    path: Path,
    interp: Interpreter,
    *,
    name: str,
    forge_python: Path,
    layers: Sequence[Path],
    location: Path | None = None,
    seed_front_end: bool = True,
    home: Path | None = None,
) -> Path:
    """Create the venv at ``path`` (which must not exist or be empty); returns its site-packages.

    ``location``: where the venv will live once moved (it is staged, then renamed into place); the
    paths that scripts embed name it. ``seed_front_end`` False: no ``pip`` front-end package (the
    env links the real pip wheel). ``home``: the ``FORGE_HOME`` the env belongs to, written to
    ``pyvenv.cfg`` as ``forge_home`` so that its pip finds its own store when ``FORGE_HOME`` is
    not set (:func:`forge_store.home.home_of_venv`).
    """
    final = location or path
    path.mkdir(parents=True, exist_ok=True)
    site = path / interp.site_packages_rel
    bin_dir = path / "bin"
    bin_dir.mkdir()
    site.mkdir(parents=True)
    if not (path / "lib64").exists():
        os.symlink("lib", path / "lib64")
    exe = str(interp.executable)
    os.symlink(exe, bin_dir / "python")
    os.symlink("python", bin_dir / "python3")
    os.symlink("python", bin_dir / f"python{interp.short_version}")
    (path / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(exe)}\n"
        "include-system-site-packages = false\n"
        f"version = {interp.full_version}\n"
        f"executable = {exe}\n"
        f"command = forge create {name}\n"
        f"prompt = {name}\n"
        f"forge = {__version__}\n" + (f"forge_home = {home}\n" if home is not None else "")
    )
    (bin_dir / "activate").write_text(activate_script(name=name, path=final, shell="bash"))
    (bin_dir / "activate.fish").write_text(activate_script(name=name, path=final, shell="fish"))
    write_pip_launchers(path, interp, forge_python, location=final, seed_front_end=seed_front_end)
    write_layers_hook(site, interp, layers)
    return site


def write_pip_launchers(
    path: Path,
    interp: Interpreter,
    forge_python: Path,
    *,
    location: Path | None = None,
    seed_front_end: bool = True,
) -> None:
    """``bin/pip*``: Forge's pip front end targeting this env; ``python -m forge_pip`` via a shim;
    ``python -m pip`` / ``import pip`` via the front-end package (:mod:`.pip_frontend`) unless
    ``seed_front_end`` is False (the env's pip is the real pip wheel, linked from the store).

    Both mark the Forge process they start with :data:`~forge_store.isolation.LAUNCHED_VAR`, so a
    launcher module that a ``PYTHONPATH`` puts in its way steps aside instead of re-executing.
    """
    bin_dir = path / "bin"
    prefix = location or path
    env_python = prefix / "bin" / "python"
    script = (
        "#!/bin/sh\n"
        "# Forge env: pip is Forge's pip front end (links into the shared store instead of copying).\n"
        f"{LAUNCHED_VAR}=1\n"
        f"export {LAUNCHED_VAR}\n"
        f"exec {shlex.quote(str(forge_python))} -m forge_pip"
        f' --python {shlex.quote(str(env_python))} "$@"\n'
    )
    names = ("pip", "pip3", f"pip{interp.short_version}")
    for i, name in enumerate(names):
        target = bin_dir / name
        if os.path.lexists(target):
            target.unlink()
        if i == 0:
            target.write_text(script)
            target.chmod(0o755)
        else:
            os.symlink("pip", target)
    site = path / interp.site_packages_rel
    shim = _PIP_SHIM_SOURCE.format(forge_python=str(forge_python), prefix=str(prefix), launched=LAUNCHED_VAR)
    (site / PIP_SHIM).write_text(shim)
    if seed_front_end:
        pip_frontend.write_front_end(site, forge_python, prefix)


def write_layers_hook(site: Path, interp: Interpreter, layers: Sequence[Path]) -> None:
    """(Re)write the start-up hook that stacks ``layers`` (nearest first) after this env's site."""
    module = site / f"{LAYERS_MODULE}.py"
    module.write_text(_LAYERS_SOURCE.format(layers=[str(p) for p in layers]))
    pth = site / f"{LAYERS_MODULE}.pth"
    start = site / f"{LAYERS_MODULE}.start"
    if interp.version[:2] >= (3, 15):
        # PEP 829: entry points in .start files; import lines in .pth are deprecated there.
        start.write_text(f"{LAYERS_MODULE}:activate\n")
        pth.unlink(missing_ok=True)
    else:
        pth.write_text(f"import {LAYERS_MODULE}; {LAYERS_MODULE}.activate()\n")
        start.unlink(missing_ok=True)
