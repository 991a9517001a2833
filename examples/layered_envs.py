"""Forge as a library: a shared base env, a child that adds one package, and what each layer provides.

    FORGE_HOME=/tmp/forge-example python examples/layered_envs.py WHEEL [WHEEL ...]

The first wheel goes into the base env, the others into the child; nothing is copied twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from forge_store import Store


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    wheels = [Path(a) for a in argv]
    with Store() as store:
        names = {e.name for e in store.envs()}
        if "example-base" not in names:
            store.create_env("example-base")
        if "example-child" not in names:
            store.create_env("example-child", parent="example-base")
        for action in store.install_wheels("example-base", wheels[:1]).actions:
            print(f"base:  {action.action:<12} {action.name} {action.version}")
        if wheels[1:]:
            for action in store.install_wheels("example-child", wheels[1:]).actions:
                print(f"child: {action.action:<12} {action.name} {action.version}")
        for dist in store.visible("example-child"):
            print(f"example-child sees {dist.name} {dist.version} from {dist.layer.value} ({dist.env})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
