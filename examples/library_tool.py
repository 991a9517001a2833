"""A tool of your own on Forge's library API: build an env from requirements and link it.

    .venv/bin/python examples/library_tool.py ENV REQUIREMENT [REQUIREMENT ...] [--parent ENV]
                                              [--python 3.12] [--dry-run] [--run CODE]

    FORGE_HOME=/tmp/forge-tool .venv/bin/python examples/library_tool.py tool-env "attrs>=22" \\
        --run "import attrs; print(attrs.__version__)"

What a CI helper or a notebook launcher would do without shelling out to ``forge``:

1. ``forge_store.Store()`` opens the store (``$FORGE_HOME``, else Forge's home) and creates ENV
   if it does not exist (``--parent``: on top of that env; ``--python``: another interpreter).
2. ``forge_pip.install.install()`` resolves the requirements exactly as ``forge pip install``
   would, against the index pip is configured with (pip.conf files and ``PIP_*`` variables; PyPI
   by default), downloads what the store lacks, unpacks each wheel once into the store and links
   it into the env, all or nothing. What a parent layer already provides is not linked again.
3. It prints the plan, what was linked and reused, and runs ``--run CODE`` with the env's own
   interpreter (a real venv: ``ENV/bin/python``).

Run it with the project's interpreter (``.venv/bin/python``) or any venv with forge-runtime.
Exit codes are Forge's (``docs/cli.md``): 3 unknown parent, 4 impossible resolution, 7 index
unreachable, 23 no matching distribution...
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from _support import configured_index, describe, require_forge

require_forge()

from forge_pip.install import InstallOptions, install, requests_from_strings  # noqa: E402
from forge_store import Store  # noqa: E402
from forge_store.errors import ForgeError  # noqa: E402


def build_env(
    store: Store,
    name: str,
    requirements: Sequence[str],
    *,
    parent: str | None = None,
    python: str | None = None,
    dry_run: bool = False,
) -> Path | None:
    """Create ``name`` if needed and install ``requirements`` into it; print what happened.

    Returns the env's interpreter (None for a dry run)."""
    index = configured_index()
    # parse first: a bad requirement line must not leave a new env behind
    options = InstallOptions(requirements=requests_from_strings(requirements), index=index, dry_run=dry_run)
    created = name not in {e.name for e in store.envs()}
    if created:
        env = store.create_env(name, parent=parent, python=python)
        on = f" on top of {parent}" if parent else ""
        print(f"env {name}: created at {env.path} (Python {env.interpreter.full_version}{on})")
    else:
        env = store.env(name)
        print(f"env {name}: exists at {env.path}")
    print(f"resolving {' '.join(requirements)} against {describe(index)}")
    try:
        result = install(store, env, options)
    except ForgeError:
        if created:  # a failed build leaves nothing behind: not even the env it made
            store.remove_env(name)
        raise
    if dry_run or result.report is None:
        for line in result.plan.render():
            print(line)
    if dry_run:
        if created:
            store.remove_env(name)
        return None
    if result.report is not None:
        for a in result.report.actions:
            store_word = f"reused ({a.reuse_kind.value})" if a.reused_entry else "new"
            print(f"{a.action:<12} {a.name} {a.version} (store entry: {store_word})")
        for warning in result.report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    for dist in store.visible(name):
        print(f"{name} sees {dist.name} {dist.version} from {dist.layer.value} ({dist.env})")
    return env.python


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="library_tool.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("env", metavar="ENV")
    ap.add_argument("requirements", nargs="+", metavar="REQUIREMENT")
    ap.add_argument("--parent", help="create ENV on top of this env")
    ap.add_argument("--python", help="create ENV with this interpreter (3.12, a path)")
    ap.add_argument("--dry-run", action="store_true", help="resolve and print the plan; change nothing")
    ap.add_argument("--run", metavar="CODE", help="then run this Python code with the env's interpreter")
    args = ap.parse_args(argv)
    try:
        with Store() as store:
            python = build_env(
                store,
                args.env,
                args.requirements,
                parent=args.parent,
                python=args.python,
                dry_run=args.dry_run,
            )
    except ForgeError as exc:
        print(f"error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""), file=sys.stderr)
        return int(exc.exit_code)
    if args.run and python is not None:
        return subprocess.run([str(python), "-c", args.run], check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
