"""``forge create NAME --seed pip``: the real pip wheel in an env, for tools that need pip's internals.

A Forge env's ``pip`` is normally Forge's front-end package (:mod:`forge_store.pip_frontend`). Some
tools import ``pip._internal`` (pip-tools' ``pip-compile`` run inside the env, old plugins); for
them the env gets the real pip wheel from the configured indexes instead, linked from the store
like any other dist (and upgradable with ``-U pip``). ``bin/pip*`` stay Forge's launchers, so
``pip install`` still links from the store; ``python -m pip`` is then the real pip, which copies
files in (and must not be used to uninstall Forge-linked dists: their files live in the store).
If the install fails the new env is removed again: the create is all or nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forge_store.models import EnvInfo
    from forge_store.store import Store


def seed_real_pip(store: Store, env: EnvInfo, *, quiet: int = 0) -> None:
    """Replace the env's front-end package by the real pip wheel (the newest the indexes allow)."""
    from forge_pip.cli import pip_install, pip_options
    from forge_store.errors import UsageError
    from forge_store.pip_frontend import remove_front_end

    try:
        remove_front_end(env.site_packages)
        parsed = pip_options.parse(
            "install", ["install", "--env", env.name, "pip", *(["-q"] * (quiet + 1))][1:]
        )
        if isinstance(parsed, int):
            raise UsageError("the pip install options for --seed pip did not parse")
        pip_install.cmd_install(parsed)
    except BaseException:
        store.remove_env(env.name)
        raise
