"""``lock``: pip 25.1's ``pip lock`` -- resolve the requirements and write a PEP 751 ``pylock.toml``.

``-o/--output PATH`` (default ``pylock.toml``; ``-`` for stdout). The resolution ignores what any
env has installed and the store (as ``download`` does): a lock records index files.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from forge_pip.cli.target import open_target

__all__ = ["cmd_lock"]


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a failed lock never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".pylock-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def cmd_lock(ns: argparse.Namespace) -> int:
    from forge_pip.cli.pip_install import CliReporter, _options
    from forge_pip.install import InstallOptions, lock
    from forge_store import interpreters
    from forge_store.errors import UsageError
    from forge_store.store import Store

    with Store() as store:
        prefix: Path | None = None
        env = None
        if ns.python is not None or ns.env is not None:
            env = open_target(ns, store)
            interp, prefix = env.interpreter, env.path
        else:
            interp = interpreters.current()
        options = _options(ns, prefix, interp)
        assert isinstance(options, InstallOptions)
        if options.lock_files:
            raise UsageError("lock: -r takes requirements files here, not a pylock.toml")
        quiet = ns.quiet + (1 if ns.output_file == "-" else 0)
        reporter = CliReporter(quiet, dry_run=True)
        lock_dir = Path.cwd() if ns.output_file == "-" else Path(ns.output_file).absolute().parent
        resolution, text = lock(store, interp, options, reporter=reporter, lock_dir=lock_dir, env=env)
        if ns.output_file == "-":
            sys.stdout.write(text)
        else:
            _write(Path(ns.output_file), text)
            names = " ".join(f"{p.name}-{p.version}" for _, p in sorted(resolution.pins.items()))
            reporter.out(f"Locked {names} in {ns.output_file}")
        return 0
