"""``python -m forge_pip`` / ``forge pip`` / an env's ``bin/pip``: pip's commands, linking into envs.

pip's spellings, output and exit codes where pip has them; pip's configuration files and
``PIP_*`` variables are honoured with pip's precedence (``forge_pip.config``). Options pip has but
Forge does not support fail with one line naming them. Commands live in ``pip_install.py`` and
``pip_inspect.py`` and are imported only when they run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

PROG = "forge_pip"
COMMANDS = ("install", "uninstall", "list", "freeze", "show", "check", "download", "wheel", "cache", "lock")
# General options that take a value: the command is the first bare word that is not one of their values.
_VALUE_OPTIONS = frozenset(
    (
        "--python",
        "--env",
        "--cache-dir",
        "--log",
        "--timeout",
        "--retries",
        "--cert",
        "--client-cert",
        "--proxy",
        "--trusted-host",
        "--exists-action",
        "--progress-bar",
        "--keyring-provider",
        "--root-user-action",
    )
)


def version_text() -> str:
    from pathlib import Path

    from forge_pip import __version__

    where = Path(__file__).resolve().parents[1]
    return f"{PROG} {__version__} from {where} (python {sys.version_info[0]}.{sys.version_info[1]})"


def split_command(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """``(command, the other arguments)``: general options may come before or after the command."""
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            break
        if token.startswith("-"):
            if token in _VALUE_OPTIONS:
                i += 1
            i += 1
            continue
        return token, args[:i] + args[i + 1 :]
    return None, args


_USAGE = f"""Usage:
  {PROG} <command> [options]

Commands:
  install      Install packages (linked from Forge's store).
  download     Download packages.
  uninstall    Uninstall packages.
  freeze       Output installed packages in requirements format.
  list         List installed packages, with the layer that provides each.
  show         Show information about installed packages.
  check        Verify installed packages have compatible dependencies (across all layers).
  cache        Inspect and manage Forge's HTTP, download and built-wheel caches.
  wheel        Build wheels from your requirements.
  lock         Resolve requirements and write a pylock.toml (PEP 751).

General Options:
  --python PATH    Act on the venv of this interpreter (or venv prefix).
  --env NAME       Act on the Forge env NAME.
  -v, -q           More / less output.
  -V, --version    Show version and exit.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m forge_pip ARGS``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = split_command(args)
    if command is None:
        if any(a in ("-V", "--version") for a in rest):  # also after --python/--env, as pip allows
            print(version_text())
            return 0
        if any(a in ("-h", "--help") for a in rest) or not rest:
            print(_USAGE)
            return 0 if rest else 1
        bad = next((a for a in rest if a.startswith("-")), rest[0] if rest else "")
        print(f"{PROG}: {bad} is not supported", file=sys.stderr)
        return 2
    if command == "help":
        print(_USAGE)
        return 0
    if command not in COMMANDS:
        print(f'{PROG}: ERROR: unknown command "{command}"', file=sys.stderr)
        return 1
    from forge_pip.cli import pip_options

    parsed = pip_options.parse(command, rest)
    if isinstance(parsed, int):
        return parsed
    from forge_pip.cli.common import run_guarded, setup_logging

    setup_logging(max(parsed.verbose - parsed.quiet, -1))
    if command == "lock":
        from forge_pip.cli import pip_lock

        return run_guarded(PROG, lambda: pip_lock.cmd_lock(parsed), verbose=parsed.verbose)
    if command in ("install", "uninstall", "download", "wheel"):
        from forge_pip.cli import pip_install

        body = getattr(pip_install, f"cmd_{command}")
    else:
        from forge_pip.cli import pip_inspect

        body = getattr(pip_inspect, f"cmd_{command}")
    return run_guarded(PROG, lambda: int(body(parsed)), verbose=parsed.verbose)
