"""A layered ML stack: a numpy/scipy base, a torch layer on it, two app envs on top; the disk it saves.

    FORGE_HOME=/tmp/forge-ml .venv/bin/python examples/layered_ml_stack.py [--dry-run | --small]

    ml-base         numpy, scipy
    └── ml-torch    torch (CPU build) and its dependencies
        ├── ml-app-train   + tqdm
        └── ml-app-serve   + attrs

Each layer links only what it adds: an app env sees torch, numpy and scipy through its PARENT
layers, from one copy in Forge's store. At the end the example measures the real disk use with
``forge du``'s library functions (``forge_store.du``: allocated bytes, each inode once) and
compares it with what two separate venvs holding the same packages would take (every visible
package copied into each app venv, plus each venv's own files).

Everything comes from the index pip is configured with (pip.conf files and ``PIP_*`` variables;
PyPI by default): on this project's machines torch's CPU wheel and numpy/scipy are on the local
indexes (``python -m forge_pip index versions torch``). torch is a ~190 MB wheel and ~1 GB
unpacked; the whole stack took 54 s here from the local indexes (two separate venvs: 2.1 GiB,
Forge's four envs: 1.1 GiB). Running it again reuses everything (nothing downloaded or unpacked).

``--dry-run`` resolves every layer and prints the plans (index pages and metadata only, no
package is downloaded; the envs are removed again). ``--small`` builds the same four-layer shape
from small pure-Python packages (``six``/``idna``, ``attrs``, ``packaging``, ``typing-extensions``)
in a few seconds. Run it with the project's interpreter (``.venv/bin/python``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from _support import configured_index, describe, require_forge

require_forge()

from forge_pip.install import InstallOptions, install, requests_from_strings  # noqa: E402
from forge_store import Store  # noqa: E402
from forge_store.errors import ForgeError  # noqa: E402


@dataclasses.dataclass(frozen=True, slots=True)
class Layer:
    name: str
    parent: str | None
    requirements: tuple[str, ...]


TORCH = "torch==2.13.0+cpu"  # the CPU build: no CUDA wheels pulled in

FULL = (
    Layer("ml-base", None, ("numpy", "scipy")),
    Layer("ml-torch", "ml-base", (TORCH,)),
    Layer("ml-app-train", "ml-torch", ("tqdm",)),
    Layer("ml-app-serve", "ml-torch", ("attrs",)),
)
SMALL = (
    Layer("ml-base", None, ("six", "idna")),
    Layer("ml-torch", "ml-base", ("attrs",)),
    Layer("ml-app-train", "ml-torch", ("packaging",)),
    Layer("ml-app-serve", "ml-torch", ("typing-extensions",)),
)
APPS = ("ml-app-train", "ml-app-serve")


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def build(store: Store, layers: Sequence[Layer], *, dry_run: bool) -> None:
    index = configured_index()
    print(f"packages from {describe(index)}")
    known = {e.name for e in store.envs()}
    created: list[str] = []
    try:
        for layer in layers:
            if layer.name not in known:
                store.create_env(layer.name, parent=layer.parent)
                created.append(layer.name)
            env = store.env(layer.name)
            on = f" (on {layer.parent})" if layer.parent else ""
            print(f"\n{layer.name}{on}: {' '.join(layer.requirements)}")
            options = InstallOptions(
                requirements=requests_from_strings(layer.requirements),
                index=index,
                dry_run=dry_run,
                only_binary=frozenset({":all:"}),
            )
            result = install(store, env, options)
            if dry_run or result.report is None:
                for line in result.plan.render()[1:]:
                    print(line)
                continue
            for a in result.report.actions:
                where = "reused" if a.reused_entry else "new store entry"
                print(f"  {a.action:<11} {a.name} {a.version} ({where})")
    finally:
        if dry_run:  # a dry run leaves nothing: remove the envs it made, children first
            for name in reversed(created):
                store.remove_env(name)


def report(store: Store, layers: Sequence[Layer]) -> int:
    """Forge's real disk use against separate venvs; returns the bytes saved."""
    from forge_store.du import disk_usage, entry_sizes

    usage = disk_usage(store)
    sizes = entry_sizes(store)
    ours = {layer.name for layer in layers}
    envs = {e.name: e for e in usage.envs if e.name in ours}
    print("\nenv             links  own files   a separate venv would hold")
    separate_total = 0
    for name in (layer.name for layer in layers):
        row = envs[name]
        visible = store.visible(name)
        copies = sum(sizes[d.entry_id].bytes for d in visible if d.entry_id in sizes)
        # a venv's own files (interpreter links, bin/, pyvenv.cfg) are what the env adds itself
        separate = copies + row.added.bytes
        if name in APPS:
            separate_total += separate
        print(f"{name:<15} {row.links:>5}  {human(row.added.bytes):>9}   {human(separate):>9}")
    entries = {d.entry_id for name in ours for d in store.visible(name)}
    shared = sum(sizes[i].bytes for i in entries if i in sizes)
    forge_total = shared + sum(envs[n].added.bytes for n in ours)
    saved = separate_total - forge_total
    print(
        f"\nForge, all four envs: {human(forge_total)} ({human(shared)} of store entries, each once)"
        f"\ntwo separate app venvs: {human(separate_total)}"
        f"\nsaved: {human(saved)} ({saved / separate_total:.0%}), and the base and torch layers come free"
        f"\nthe whole store (forge du): {human(usage.store.bytes)} in {usage.entries} entries"
    )
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="layered_ml_stack.py", description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="resolve and print the plans; install nothing")
    mode.add_argument("--small", action="store_true", help="the same shape from small pure-Python packages")
    args = ap.parse_args(argv)
    layers = SMALL if args.small else FULL
    try:
        with Store() as store:
            print(f"FORGE_HOME: {store.home.root}")
            build(store, layers, dry_run=args.dry_run)
            if args.dry_run:
                return 0
            report(store, layers)
            train = store.env("ml-app-train")
            probe = "torch" if not args.small else "attrs"
            print(f"\ntry it: {train.python} -c 'import {probe}; print({probe}.__version__)'")
    except ForgeError as exc:
        print(f"error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""), file=sys.stderr)
        return int(exc.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
