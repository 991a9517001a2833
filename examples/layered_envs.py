"""Forge as a library: a shared base env, a child that adds one package, and what each layer provides.

    FORGE_HOME=/tmp/forge-example .venv/bin/python examples/layered_envs.py [WHEEL ...]

Run it with the project's own interpreter (``.venv/bin/python`` after ``python3.11 -m venv .venv &&
.venv/bin/pip install -e ".[dev]"``) or any venv where forge-runtime is installed; another
``python`` cannot import Forge and the example says so.

The wheels: any local ``.whl`` files you name (``python -m forge_pip download --no-deps -d wheels
idna six`` gets two from your index). With no WHEEL, the example downloads ``idna`` and ``six``
itself (no dependencies) from the index pip is configured with (pip.conf, ``PIP_INDEX_URL``,
``PIP_FIND_LINKS``...; PyPI by default) into a temporary directory.

The first wheel goes into the base env, the others into the child; nothing is copied twice: the
child sees the base's packages through its PARENT layer. ``FORGE_HOME`` says where the store and
the envs live (default: Forge's home, ``forge envs`` lists them); running it again changes nothing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _support import configured_index, describe, require_forge

require_forge()

from forge_store import Store  # noqa: E402

DEFAULT_PACKAGES = ("idna", "six")


def download(store: Store, names: tuple[str, ...], dest: Path) -> list[Path]:
    """The wheels of ``names`` (no dependencies) from the configured index, via the library API."""
    from forge_pip.install import InstallOptions, fetch, requests_from_strings
    from forge_store import interpreters

    index = configured_index("download")
    print(f"downloading {' '.join(names)} from {describe(index)}")
    options = InstallOptions(
        requirements=requests_from_strings(list(names)),
        index=index,
        no_deps=True,
        only_binary=frozenset({":all:"}),
    )
    interpreter = interpreters.find(None, store.home.cache / "interpreters")
    _plan, files = fetch(store, interpreter, options, dest, build_wheels=False)
    by_name = {f.name.split("-", 1)[0].lower(): f for f in files}
    return [by_name[n] for n in names]


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    with Store() as store, tempfile.TemporaryDirectory(prefix="forge-example-wheels-") as tmp:
        print(f"FORGE_HOME: {store.home.root}")
        wheels = [Path(a) for a in argv] or download(store, DEFAULT_PACKAGES, Path(tmp))
        missing = [w for w in wheels if not w.is_file()]
        if missing:
            print(f"error: no such wheel file: {missing[0]}", file=sys.stderr)
            return 2
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
        child = store.env("example-child")
        print(f"try it: {child.python} -c 'import {wheels[0].name.split('-', 1)[0]}'")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as exc:  # a ForgeError is one line, as the CLI prints it
        from forge_store.errors import ForgeError

        if not isinstance(exc, ForgeError):
            raise
        print(f"error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""), file=sys.stderr)
        sys.exit(int(exc.exit_code))
