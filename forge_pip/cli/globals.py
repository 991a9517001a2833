"""The ``forge`` command's global options, taken out of the arguments before a subcommand parses
them: ``-q/--quiet``, ``-v/--verbose`` (counted, ``-qq``/``-vv`` too), ``--enforce`` and
``--enforce-profile warn|strict`` (also ``--enforce-profile=strict``).

Before the subcommand each is global (``forge -q --enforce doctor``); after it, ``-q``/``-v`` stay
where they are (every subcommand takes them itself) and ``--enforce``/``--enforce-profile`` are
taken out wherever they stand, up to a ``--``.
"""

from __future__ import annotations

from collections.abc import Sequence

from forge_store.errors import UsageError
from forge_store.records import record

ENFORCE = "--enforce"
PROFILE = "--enforce-profile"
PROFILES = ("warn", "strict")


@record(frozen=True, slots=True)
class GlobalOptions:
    quiet: int = 0
    verbose: int = 0
    enforce: bool = False  # --enforce, or implied by --enforce-profile
    profile: str | None = None  # "warn" | "strict"

    def verbosity_args(self) -> list[str]:
        """The global ``-q``/``-v`` as arguments for a front end that parses them itself."""
        return ["-q"] * self.quiet + ["-v"] * self.verbose


def _count(token: str) -> tuple[str, int] | None:
    """``("quiet"|"verbose", n)`` for ``-q``, ``-qq``, ``--quiet``, ``-v``, ...; else None."""
    if token in ("--quiet", "--verbose"):
        return token[2:], 1
    if len(token) >= 2 and token[0] == "-" and token[1] in "qv" and set(token[1:]) == {token[1]}:
        return ("quiet" if token[1] == "q" else "verbose"), len(token) - 1
    return None


def _profile(value: str) -> str:
    if value not in PROFILES:
        raise UsageError(
            f"{PROFILE} takes warn or strict, not {value!r}",
            hint="forge --enforce-profile strict install ... (see docs/enforcement.md)",
        )
    return value


def split(argv: Sequence[str]) -> tuple[GlobalOptions, list[str]]:
    """The global options and the arguments left for the subcommand, in order."""
    quiet = verbose = 0
    enforce = False
    profile: str | None = None
    rest: list[str] = []
    args = list(argv)
    leading = True  # still before the subcommand
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            rest.extend(args[i:])
            break
        name, eq, value = token.partition("=")
        counted = _count(token) if leading else None
        if counted is not None:
            if counted[0] == "quiet":
                quiet += counted[1]
            else:
                verbose += counted[1]
        elif token == ENFORCE:
            enforce = True
        elif name == PROFILE:
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError(f"{PROFILE} needs a value: warn or strict")
                i += 1
                value = args[i]
            profile = _profile(value)
            enforce = True
        else:  # the subcommand, or an option of the top parser (--version, -h): globals end
            leading = False
            rest.append(token)
        i += 1
    return GlobalOptions(quiet, verbose, enforce, profile), rest
