"""``forge install``: wheel files, or requirements resolved exactly as ``forge pip install`` does.

``forge install requests==2.32.3 --env app --local`` and ``forge install -r reqs.txt`` go through
the pip front end's install path (same resolver, indexes, configuration and options: ``-i``,
``-c``, ``-U``, ``--no-deps``...). Only a command made of local wheel files alone keeps the direct
path (``Store.install_wheels``: the given files are linked, nothing is resolved), except for a
``pip`` wheel, which the pip path answers with the env's front end.

Forge's own options are taken out first, wherever they stand: ``--env/-e NAME``, ``--global``,
``--python`` (with ``--global``), ``--local``, ``--mode/--conflict-mode``, ``--abi-policy``,
``--json``, ``-q``/``-v``. Everything else is handed to pip's ``install`` parser in its order, so
an option Forge's pip does not have fails with its one line. The policy options reach both paths:
a list of wheel files is judged with them as a requirement install is.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forge_store.store import Store

_FORGE_VALUE = {"--env": "env", "-e": "env", "--python": "python"}
_FORGE_FLAG = {"--global": "global_", "--local": "local", "--json": "json"}


def split_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Forge's own options (a namespace like the ``forge install`` parser's) and the rest, in order."""
    from forge_pip.cli.policy_args import VALUE_OPTIONS, check_value

    ns = argparse.Namespace(
        env=None,
        python=None,
        global_=False,
        local=False,
        json=False,
        quiet=0,
        verbose=0,
        conflict_mode=None,
        abi_policy=None,
    )
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            rest.extend(args[i:])
            break
        name, eq, value = token.partition("=")
        if name in _FORGE_VALUE or name in VALUE_OPTIONS:
            if not eq:
                if i + 1 >= len(args):
                    from forge_store.errors import UsageError

                    raise UsageError(f"{name} needs a value", hint="see `forge install --help`")
                value = args[i + 1]
                i += 1
            if name in VALUE_OPTIONS:
                setattr(ns, VALUE_OPTIONS[name], check_value(name, value))
            else:
                setattr(ns, _FORGE_VALUE[name], value)
        elif token in _FORGE_FLAG:
            setattr(ns, _FORGE_FLAG[token], True)
        elif token in ("-q", "--quiet", "-v", "--verbose") or (
            len(token) > 2 and token[0] == "-" and token[1] in "qv" and set(token[1:]) <= {token[1]}
        ):
            key = "quiet" if token.lstrip("-")[0] == "q" else "verbose"
            setattr(ns, key, getattr(ns, key) + (1 if token.startswith("--") else len(token) - 1))
        else:
            rest.append(token)
        i += 1
    return ns, rest


def _wheel_files_only(rest: Sequence[str]) -> list[Path] | None:
    """The wheel files when ``rest`` is nothing but local wheel files (not a ``pip`` wheel)."""
    if not rest or any(a.startswith("-") for a in rest):
        return None
    paths = [Path(a) for a in rest]
    if not all(p.name.endswith(".whl") for p in paths):
        return None
    if any(p.name.split("-", 1)[0].lower() == "pip" for p in paths):
        return None
    return paths


def main(argv: Sequence[str]) -> int:
    """``forge install ARGS``; returns the exit code."""
    from forge_pip.cli.common import run_guarded, setup_logging

    if any(a in ("-h", "--help") for a in argv):
        from forge_pip.cli.forge import _build_parser

        try:
            _build_parser("install").parse_args(["install", "--help"])
        except SystemExit as exc:
            return int(exc.code or 0) if isinstance(exc.code, int) else 0

    def body() -> int:
        ns, rest = split_args(argv)
        setup_logging(ns.verbose - ns.quiet)
        return _install(ns, rest)

    return run_guarded("forge", body, verbose=argv.count("-v"), as_json="--json" in argv)


def _install(ns: argparse.Namespace, rest: list[str]) -> int:
    from forge_pip.cli.common import emit_json
    from forge_pip.cli.env_target import target_env as _target_env
    from forge_pip.cli.forge import _print_report, _report_json, _store
    from forge_store.errors import UsageError

    if not rest:
        raise UsageError(
            "nothing to install", hint="give requirements, wheel files or -r FILE: forge install --env ENV X"
        )
    wheels = _wheel_files_only(rest)
    with _store() as store:
        env = _target_env(store, ns)
        if wheels is not None:
            from forge_pip.cli.policy_args import policy_from_args

            rules = policy_from_args(store, env, ns, explicit_local=ns.local)
            report = store.install_wheels(env.name, wheels, local=ns.local, policy=rules)
            if ns.json:
                emit_json("install", _report_json(report))
            else:
                _print_report(report, ns.quiet)
            return 0
        argv = ["install", *rest, "--env", env.name]
        if ns.local:
            argv.append("--local")
        if ns.conflict_mode:
            argv += ["--mode", ns.conflict_mode]
        if ns.abi_policy:
            argv += ["--abi-policy", ns.abi_policy]
        argv += ["-q"] * ns.quiet + ["-v"] * ns.verbose
        if ns.json:
            return _install_json(store, argv)
    from forge_pip.cli import pip_install, pip_options

    parsed = pip_options.parse(argv[0], argv[1:])
    if isinstance(parsed, int):
        return parsed
    parsed.reuse_report = True  # Forge's own command: how the store served each dist, always
    return pip_install.cmd_install(parsed)


def _install_json(store: Store, argv: list[str]) -> int:
    """``--json``: the pip install path, printing Forge's install document instead of pip's lines."""
    from forge_pip.cli import pip_options
    from forge_pip.cli.common import emit_json

    parsed = pip_options.parse(argv[0], argv[1:])
    if isinstance(parsed, int):
        return parsed
    emit_json("install", install_document(store, parsed))
    return 0


def install_document(store: Store, parsed: argparse.Namespace) -> dict[str, object]:
    """Run pip's install for parsed ``install`` options; Forge's install document (``--json``)."""
    from forge_pip.cli.forge import _report_json
    from forge_pip.cli.pip_install import _options
    from forge_pip.cli.policy_args import overrides
    from forge_pip.cli.target import open_target
    from forge_pip.install import InstallOptions, NullInstallReporter, install

    env = open_target(parsed, store)
    mode, abi = overrides(parsed)
    options = _options(
        parsed,
        env.path,
        upgrade=bool(parsed.upgrade),
        force_reinstall=bool(parsed.force_reinstall or parsed.ignore_installed),
        local=bool(parsed.local),
        conflict_mode=mode,
        abi_policy=abi,
    )
    assert isinstance(options, InstallOptions)
    result = install(store, env, options, reporter=NullInstallReporter())
    if result.report is not None:
        return _report_json(result.report)
    satisfied: list[dict[str, object]] = [
        {
            "name": i.name,
            "version": i.version,
            "action": i.action.value,
            "reused": True,
            "reuse_kind": "exact",
            "warnings": [],
        }
        for i in result.plan.items
    ]
    return {"env": env.name, "actions": satisfied, "warnings": [], "findings": []}
