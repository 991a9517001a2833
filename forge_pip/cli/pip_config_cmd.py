"""``pip config list|get|set|unset|debug``: pip's configuration as Forge reads it (``forge_pip.config``).

Output is pip's: ``list`` prints ``section.name='value'`` sorted (environment variables as
``:env:.name``), ``get`` prints the value, ``debug`` lists every file pip would try with whether it
exists and what it sets. ``set``/``unset`` edit the file of ``--global``/``--user``/``--site``
(default: the user file, ``$XDG_CONFIG_HOME/pip/pip.conf``), as pip does. ``edit`` is refused:
run your editor on the file ``debug`` names.
"""

from __future__ import annotations

import argparse
import configparser
import os
from pathlib import Path

from forge_store.errors import NotFoundError, UsageError


def _site_prefix(ns: argparse.Namespace) -> Path | None:
    if ns.python is None and ns.env is None:
        return None
    from forge_pip.cli.target import open_target
    from forge_store.store import Store

    with Store() as store:
        return open_target(ns, store).path


def _file_for(variant: str | None, site: Path | None) -> Path:
    from forge_pip.config import ConfigKind, config_files

    environ = {k: v for k, v in os.environ.items() if k != "PIP_CONFIG_FILE"}
    kind = {"global": ConfigKind.GLOBAL, "site": ConfigKind.SITE}.get(variant or "user", ConfigKind.USER)
    if kind is ConfigKind.SITE and site is None:
        raise UsageError("--site needs a target environment", hint="add --python PATH or --env NAME")
    files = [p for k, p in config_files(environ, site_prefix=str(site) if site else None) if k is kind]
    return files[-1]


def _split_key(name: str | None) -> tuple[str, str]:
    if not name or "." not in name:
        raise UsageError(
            "Key does not contain dot separated section and key."
            f" Perhaps you wanted to use 'global.{name}' instead?"
        )
    section, key = name.split(".", 1)
    return section, key


def cmd_config(ns: argparse.Namespace) -> int:
    from forge_pip.cli.pip_options import load_config
    from forge_pip.config import config_files

    if ns.action is None:
        raise UsageError("Need an action (debug, edit, get, list, set, unset) to perform.")
    site = _site_prefix(ns)
    if ns.action == "list":
        config = load_config(ns, site)
        for key, value in sorted(config.items()):
            print(f"{key}={value.value!r}")
        return 0
    if ns.action == "get":
        section, key = _split_key(ns.name)
        config = load_config(ns, site)
        found = dict(config.items()).get(f"{section}.{key}")
        if found is None:
            raise NotFoundError(f"No such key - {ns.name}")
        print(found.value)
        return 0
    if ns.action == "debug":
        by_kind: dict[str, list[Path]] = {}
        for kind, path in config_files(os.environ, site_prefix=str(site) if site else None):
            by_kind.setdefault(kind.value, []).append(path)
        print("env_var:")
        for var, text in sorted(os.environ.items()):
            if var.startswith("PIP_"):
                print(f"  {var}={text!r}")
        for kind_name, paths in by_kind.items():
            print(f"{kind_name}:")
            for path in paths:
                print(f"  {path}, exists: {path.exists()}")
                if path.is_file():
                    parser = configparser.RawConfigParser()
                    parser.read(path)
                    for section in parser.sections():
                        for option, text in parser.items(section):
                            print(f"    {section}.{option}: {text}")
        return 0
    if ns.action == "edit":
        raise UsageError(
            "pip config edit is not supported by Forge", hint="edit the file that `pip config debug` names"
        )
    section, key = _split_key(ns.name)
    path = _file_for(ns.variant, site)
    parser = configparser.RawConfigParser()
    if path.is_file():
        parser.read(path)
    if ns.action == "set":
        if ns.value is None:
            raise UsageError(
                'Got unexpected number of arguments, expected 2. (example: "pip config set [name] [value]")'
            )
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, ns.value)
        print(f"Writing to {path}")
    else:
        if not parser.has_option(section, key):
            raise NotFoundError(f"No such key - {ns.name}")
        parser.remove_option(section, key)
        if not parser.items(section):
            parser.remove_section(section)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return 0
