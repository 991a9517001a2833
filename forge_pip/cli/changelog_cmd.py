"""``forge changelog [--json] [--version X]``: the CHANGELOG shipped with this Forge.

Registered from :mod:`forge_pip.cli.forge`; :mod:`forge_store.changelog` finds and parses it. Plain
output is the Markdown as shipped (one release's with ``--version``); ``--json`` is one versioned
``changelog`` document (docs/json.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import emit_json

_HELP = """\
Print the CHANGELOG that ships with this Forge installation: every release, newest first, or only
the release named by --version (X.Y.Z, or `unreleased`). --json prints one document of kind
`changelog`: forge_version and releases, each with version, date (null while unreleased) and
sections (title and items).
"""


class VersionAction(argparse._VersionAction):
    """``forge --version``: the installed distribution's version, looked up only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        from .quick import version_line

        print(version_line())
        raise SystemExit(0)


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "changelog", parents=[common], help="the CHANGELOG shipped with this Forge", description=_HELP
    )
    p.add_argument(
        "--version", dest="release", metavar="X.Y.Z", help="only this release (`unreleased`: the next one)"
    )


def _cmd_changelog(args: argparse.Namespace) -> int:
    from forge_store.changelog import forge_version, parse, read_shipped

    text = read_shipped()
    changelog = parse(text)
    releases = changelog.releases if args.release is None else (changelog.release(args.release),)
    if args.json:
        emit_json(
            "changelog",
            {"forge_version": forge_version(), "releases": [r.to_dict() for r in releases]},
        )
    elif args.release is None:
        sys.stdout.write(text)
    else:
        sys.stdout.write(releases[0].text)
    return 0


COMMANDS = {"changelog": _cmd_changelog}
