"""``forge activate ENV [--shell bash|zsh|fish] [--pythonpath]``.

Prints shell code for ``eval "$(forge activate ENV)"`` (fish: ``forge activate ENV | source``): the
env's ``VIRTUAL_ENV``, ``PATH``, prompt and ``deactivate``, like a venv's ``bin/activate``, and no
``PYTHONPATH`` (``forge_store.activation`` says why). ``--pythonpath`` prints the env's layered
``PYTHONPATH`` value instead, for one tool that needs it:
``PYTHONPATH="$(forge activate ENV --pythonpath)" tool``.
"""

from __future__ import annotations

import argparse
import sys

from .common import emit_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the env to activate")
    p.add_argument(
        "--shell", choices=["bash", "zsh", "fish"], default=None, help="default: $SHELL's, else bash"
    )
    p.add_argument(
        "--pythonpath",
        action="store_true",
        help="print the env's layered PYTHONPATH value (LOCAL first) instead of activation code",
    )


def cmd_activate(args: argparse.Namespace) -> int:
    from forge_store.activation import activate_script, detect_shell, layered_pythonpath
    from forge_store.store import Store

    shell = args.shell or detect_shell()
    with Store() as store:
        env = store.env(args.name)
        pythonpath = layered_pythonpath([env.site_packages, *store.runtime_layers(env)])
    script = activate_script(name=env.name, path=env.path, shell=shell)
    if args.json:
        emit_json(
            "activate",
            {
                "env": env.name,
                "path": str(env.path),
                "shell": shell,
                "script": script,
                "pythonpath": pythonpath,
            },
        )
    elif args.pythonpath:
        print(pythonpath)
    else:
        sys.stdout.write(script)
    return 0
