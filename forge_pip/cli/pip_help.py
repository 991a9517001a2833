"""One-line help for pip's options, in pip's words where pip has them (``--help`` and ``docs/cli.md``).

``pip_options.build_parser`` applies :func:`apply` last: an option that declares its own ``help``
keeps it (Forge's extensions say ``Forge: ...`` there); the others get the text below, by command
first (``("list", "--local")``), then by option.
"""

from __future__ import annotations

import argparse

HELP: dict[str, str] = {
    # general options
    "--verbose": "give more output (counted: -vv)",
    "--quiet": "give less output (counted: -qq)",
    "--no-cache-dir": "disable the HTTP, download and built-wheel caches",
    "--timeout": "socket timeout in seconds (default 15)",
    "--retries": "how many times each connection is retried (default 3)",
    "--cert": "path to a PEM CA bundle used to verify index certificates",
    "--client-cert": "path to a PEM client certificate (with its private key) for the index",
    "--trusted-host": "treat this host (or host:port) as trusted even without valid HTTPS",
    "--no-proxy-env": "do not read proxy settings from the *_proxy environment variables",
    "--disable-pip-version-check": "accepted for pip's sake; Forge never checks for a newer pip",
    "--no-color": "no colored output",
    "--no-input": "never prompt for input",
    "--require-virtualenv": "refuse to run outside a virtual environment",
    "--break-system-packages": "accepted for pip's sake (Forge envs are never externally managed)",
    # package index options
    "--index-url": "base URL of the package index (PEP 503 simple API; default: PyPI or pip's config)",
    "--extra-index-url": "another index to search, after --index-url",
    "--no-index": "ignore the package indexes (only --find-links)",
    "--find-links": "a directory, wheel/sdist file or HTML page URL to look for archives in",
    "--refresh-package": "fetch these projects' index pages whole, not revalidated (:all: or names)",
    # selection
    "requirements": "requirement specifiers (PEP 508), wheel or sdist files, directories or URLs",
    "--requirement": "install from this requirements file (pylock.toml too)",
    "--constraint": "constrain versions with this constraints file",
    "--editable": "install a local project (or VCS URL) in editable mode",
    "--no-deps": "do not install dependencies",
    "--pre": "include pre-release and development versions",
    "--only-binary": "do not use source distributions (:all:, :none: or package names)",
    "--no-binary": "do not use wheels (:all:, :none: or package names)",
    "--prefer-binary": "prefer older wheels over newer source distributions",
    "--require-hashes": "require a --hash for each requirement",
    "--no-build-isolation": "build in the target environment instead of an isolated build env",
    "--config-settings": "KEY=VALUE handed to the PEP 517 build backend (repeat a key for a list)",
    "--dry-run": "resolve and report what would be installed; change nothing",
    "--report": "write pip's JSON installation report to this file ('-': stdout)",
    "--build-constraint": "constrain build dependencies with this constraints file",
    "--check-build-dependencies": "check the build dependencies when PEP 517 builds run in the target env",
    "--group": "install a PEP 735 dependency group from pyproject.toml (path:group for another file)",
    "--requirements-from-script": "install the PEP 723 inline script metadata dependencies of this file",
    "--only-deps": "install the dependencies of the named projects, not the projects",
    "--uploaded-prior-to": "only consider files uploaded before this date/time or duration ago",
    "--all-releases": "allow pre-releases for these packages (:all: or names)",
    "--only-final": "only final releases for these packages (:all: or names)",
    "--no-require-hashes": "do not require hashes, even where a requirements file would",
    "--ignore-requires-python": "ignore the Requires-Python metadata of candidates",
    # install
    "--upgrade": "upgrade the named packages to the newest allowed version",
    "--upgrade-strategy": "which dependencies -U upgrades: only-if-needed (default) or eager",
    "--force-reinstall": "reinstall every package even when it is up to date",
    "--ignore-installed": "install even what is already installed, over it",
    "--no-warn-script-location": "no warning when scripts are installed outside PATH",
    "--no-warn-conflicts": "no warning about broken dependencies after installing",
    # download / wheel / lock
    "--dest": "write the downloaded archives into this directory",
    "--wheel-dir": "write the built wheels into this directory",
    "--output": "the lock file to write",
    "--platform": "only wheels for this platform tag (repeatable; implies --only-binary=:all:)",
    "--python-version": "the Python version wheels must suit (3, 3.11 or 311)",
    "--implementation": "the Python implementation wheels must suit (cp, pp, py...)",
    "--abi": "only wheels for this ABI tag (repeatable)",
    # uninstall
    "names": "package names",
    "--yes": "do not ask for confirmation",
    # list / freeze / show
    "--format": "output format",
    "--exclude": "leave this package out of the output",
    "--not-required": "only packages no other installed package requires",
    "--outdated": "only packages with a newer version on the index",
    "--uptodate": "only packages that are up to date",
    "--include-editable": "include editable projects (the default)",
    "--exclude-editable": "leave editable projects out",
    "--all": "also list pip, setuptools, wheel and distribute",
    "--files": "list the files of each package",
    # hash
    "files": "archive files to hash",
    "--algorithm": "the hash algorithm",
    # index / config / cache
    "words": "the subcommand and its arguments",
    "--json": "print JSON",
    "--editor": "the editor for config edit",
    "--global": "the system-wide configuration file",
    "--user": "the per-user configuration file",
    "--site": "the configuration file of the current environment",
    # inspect
    "--path": "only the packages found on this path (repeatable)",
}

#: The placeholder ``--help`` shows for an option's value (argparse's default is its dest in capitals).
METAVAR: dict[str, str] = {
    "--cache-dir": "DIR",
    "--cert": "PATH",
    "--client-cert": "PATH",
    "--timeout": "SECONDS",
    "--retries": "N",
    "--trusted-host": "HOST",
    "--progress-bar": "MODE",
    "--env": "NAME",
    "--index-url": "URL",
    "--extra-index-url": "URL",
    "--find-links": "URL|DIR",
    "--requirement": "FILE",
    "--constraint": "FILE",
    "--build-constraint": "FILE",
    "--editable": "PATH|URL",
    "--only-binary": "FORMATS",
    "--no-binary": "FORMATS",
    "--all-releases": "PACKAGES",
    "--only-final": "PACKAGES",
    "--config-settings": "KEY=VALUE",
    "--report": "FILE",
    "--dest": "DIR",
    "--wheel-dir": "DIR",
    "--target": "DIR",
    "--prefix": "DIR",
    "--root": "DIR",
    "--platform": "PLATFORM",
    "--abi": "ABI",
    "--python-version": "VERSION",
    "--implementation": "IMPL",
    "--exclude": "PACKAGE",
    "--path": "PATH",
}

#: Where one option means something else in one command.
BY_COMMAND: dict[tuple[str, str], str] = {
    ("uninstall", "--requirement"): "uninstall the packages named in this requirements file",
    ("freeze", "--requirement"): "list this requirements file's packages first, in its order",
    ("list", "--editable"): "only editable projects",
    ("inspect", "--local"): "only the env's own layer",
    ("inspect", "--user"): "refused in a venv, as pip refuses it",
    ("index", "words"): "versions PACKAGE",
    ("config", "words"): "list | get NAME | set NAME VALUE | unset NAME | debug | edit",
    ("cache", "words"): "dir | info | list [PATTERN] | remove PATTERN | purge",
    ("index", "--json"): "print pip's JSON document (versions)",
}


def _key(action: argparse.Action) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return (longs or list(action.option_strings) or [action.dest])[0]


def apply(command: str, parser: argparse.ArgumentParser) -> None:
    """Give every option of ``parser`` without a ``help`` (or metavar) its own (never overrides one)."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        key = _key(action)
        if action.metavar is None and action.option_strings and action.nargs != 0 and key in METAVAR:
            action.metavar = METAVAR[key]
        if action.help is not None:
            continue
        text = BY_COMMAND.get((command, key), HELP.get(key))
        if text is not None:
            action.help = text
