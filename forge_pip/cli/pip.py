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
COMMANDS = (
    "install",
    "uninstall",
    "list",
    "freeze",
    "show",
    "check",
    "download",
    "wheel",
    "cache",
    "hash",
    "index",
    "config",
    "inspect",
    "debug",
    "lock",
)
# The module that holds each command's ``cmd_<name>`` (imported only when the command runs).
_MODULES = {
    "install": "pip_install",
    "uninstall": "pip_install",
    "download": "pip_install",
    "wheel": "pip_install",
    "hash": "pip_hash",
    "index": "pip_index",
    "config": "pip_config_cmd",
    "debug": "pip_debug",
    "inspect": "pip_inspect_json",
    "lock": "pip_lock",
}
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
    """pip's shape, with Forge named after it: ``pip 26.3 from PATH (python 3.11) [forge 0.2.0]``."""
    from pathlib import Path

    from forge_pip import __version__
    from forge_pip.pipcompat import PIP_VERSION

    where = Path(__file__).resolve().parents[1]
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"pip {PIP_VERSION} from {where} (python {python}) [forge {__version__}]"


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


# Each command's one-line purpose, in the order ``python -m forge_pip --help`` lists them.
SUMMARIES: dict[str, str] = {
    "install": "Install packages (linked from Forge's store).",
    "download": "Download packages.",
    "uninstall": "Uninstall packages.",
    "freeze": "Output installed packages in requirements format.",
    "list": "List installed packages, with the layer that provides each.",
    "show": "Show information about installed packages.",
    "check": "Verify installed packages have compatible dependencies (across all layers).",
    "cache": "Inspect and manage Forge's HTTP, download and built-wheel caches.",
    "wheel": "Build wheels from your requirements.",
    "hash": "Compute hashes of package archives.",
    "index": "Inspect information available from package indexes.",
    "config": "Show pip's configuration (files, values).",
    "inspect": "Inspect the python environment (pip's JSON, with Forge's layers).",
    "debug": "Show information useful for debugging.",
    "lock": "Resolve requirements and write a pylock.toml (PEP 751).",
}

_USAGE = (
    f"Usage:\n  {PROG} <command> [options]\n\nCommands:\n"
    + "".join(f"  {name:<12} {text}\n" for name, text in SUMMARIES.items())
    + """
General Options:
  --python PATH    Act on the venv of this interpreter (or venv prefix).
  --env NAME       Act on the Forge env NAME.
  -v, -q           More / less output.
  -V, --version    Show version and exit.
"""
)


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
        print(f'ERROR: unknown command "{command}"', file=sys.stderr)
        return 1
    from forge_pip.cli import pip_options

    parsed = pip_options.parse(command, rest)
    if isinstance(parsed, int):
        return parsed
    import importlib

    from forge_pip.cli.common import setup_logging
    from forge_pip.cli.pip_errors import run_pip_guarded

    setup_logging(max(parsed.verbose - parsed.quiet, -1))
    from forge_pip.cli.target import use_target_home

    use_target_home(parsed)
    module = importlib.import_module(f"forge_pip.cli.{_MODULES.get(command, 'pip_inspect')}")
    body = getattr(module, f"cmd_{command}")
    return run_pip_guarded(lambda: int(body(parsed)), verbose=parsed.verbose)
