"""``forge env set|get|unset``: an env's settings (:mod:`forge_store.settings`).

Registered from :mod:`forge_pip.cli.forge`; the store is imported only when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .common import emit_json, table

if TYPE_CHECKING:
    from forge_store.models import EnvInfo
    from forge_store.settings import Setting

_KEYS_HELP = (
    "keys: abi_policy (strict_abi|warn_abi|allow_abi), conflict_mode (loose|warn|strict),"
    " link_mode (symlink|hardlink|copy: relinks the env), layering (stacked|flat: relinks the env)"
)


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("env", help="an env's settings: forge env get|set|unset ENV ...", epilog=_KEYS_HELP)
    verbs = p.add_subparsers(dest="env_command", metavar="VERB", parser_class=type(common), required=True)
    q = verbs.add_parser(
        "get", parents=[common], help="effective settings (default or set)", epilog=_KEYS_HELP
    )
    q.add_argument("env_name", metavar="ENV", help="the env")
    q.add_argument("key", metavar="KEY", nargs="?", help="one setting (default: all)")
    q = verbs.add_parser("set", parents=[common], help="set a setting", epilog=_KEYS_HELP)
    q.add_argument("env_name", metavar="ENV", help="the env")
    q.add_argument("key", metavar="KEY", help="the setting (keys below)")
    q.add_argument("value", metavar="VALUE", help="its new value")
    q = verbs.add_parser("unset", parents=[common], help="back to the default", epilog=_KEYS_HELP)
    q.add_argument("env_name", metavar="ENV", help="the env")
    q.add_argument("key", metavar="KEY", help="the setting (keys below)")


def settings_json(env: EnvInfo, items: Sequence[Setting]) -> dict[str, object]:
    return {
        "env": env.name,
        "settings": {
            s.key: {
                "value": s.value.value,
                "default": s.default.value,
                "source": "set" if s.explicit else "default",
                "choices": list(s.choices),
            }
            for s in items
        },
    }


def _cmd_env(args: argparse.Namespace) -> int:
    from forge_store import settings
    from forge_store.store import Store

    with Store() as store:
        if args.env_command == "get":
            env = store.env(args.env_name)
            items = [settings.get(store, env, args.key)] if args.key else settings.effective(store, env)
        elif args.env_command == "set":
            settings.parse(args.key, args.value)  # bad input: one line before the env is looked up
            items = [settings.set_value(store, args.env_name, args.key, args.value)]
            env = store.env(args.env_name)
        else:
            settings.check_key(args.key)
            items = [settings.unset(store, args.env_name, args.key)]
            env = store.env(args.env_name)
    if args.json:
        emit_json("env-settings", settings_json(env, items))
        return 0
    if args.env_command != "get":
        if not args.quiet:
            s = items[0]
            print(f"{env.name}: {s.key} = {s.value.value} ({'set' if s.explicit else 'default'})")
        return 0
    if args.key and args.quiet:
        print(items[0].value.value)
        return 0
    rows = [[s.key, s.value.value, "set" if s.explicit else "default", "|".join(s.choices)] for s in items]
    print(table(rows, ["KEY", "VALUE", "SOURCE", "CHOICES"]))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"env": _cmd_env}
