"""``forge --enforce`` / ``--enforce-profile``: the CLI side of :mod:`forge_store.enforce`.

The session is opened around the whole command (:func:`enforcing`). Change commands (``forge
install``, ``forge uninstall``, ``forge pip install/uninstall``) count what their changes were
allowed to make with a warning (the policy does that as it judges); read commands count the
findings of the stack they show before they print (:func:`prepare`): ``forge inspect PKG`` those
that involve PKG, ``forge tree`` and ``forge pip check`` the env's whole stack, ``forge doctor``
every env's (its own ``layers`` section). :func:`finish` then decides the exit code; every
``--json`` document carries the decision as its ``enforce`` member (:func:`json_member`).

The exit code (docs/enforcement.md): a command that failed keeps its code (a refusal 4 or 5, an
unknown env 3, ...); otherwise, when a finding counts, the code of the first kind in
:data:`forge_store.policy.EXIT_CODES` order. A read command's own "found something" code
(``forge doctor``'s 11, ``pip check``'s 1) is a result, not a failure: the table's code replaces it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from forge_store.errors import ExitCode, ForgeError

from .globals import GlobalOptions

if TYPE_CHECKING:
    from forge_store.enforce import Session
    from forge_store.models import EnvInfo
    from forge_store.policy import Finding, Verdict
    from forge_store.store import Store

#: The exit codes with which each read command says "ran, and found something": replaced by the
#: table's code when a finding counts. Every other command: only 0.
RESULT_CODES: dict[str, frozenset[int]] = {
    "doctor": frozenset({0, int(ExitCode.UNHEALTHY)}),
    "inspect": frozenset({0}),
    "tree": frozenset({0}),
    "pip check": frozenset({0, 1}),
}


@contextlib.contextmanager
def enforcing(opts: GlobalOptions) -> Iterator[Session | None]:
    """The enforcement session of one ``forge`` command; None without ``--enforce``."""
    if not opts.enforce:
        yield None
        return
    from forge_store.enforce import Profile, session

    with session(Profile(opts.profile) if opts.profile else None) as active:
        yield active


def _active() -> Session | None:
    mod = sys.modules.get("forge_store.enforce")  # never imported: no session was opened
    return None if mod is None else mod.active()


def enforcing_now() -> bool:
    """Whether the running command enforces."""
    return _active() is not None


def note_judged(pairs: Iterable[tuple[Finding, Verdict]], *, package: str | None = None) -> None:
    """Count the judged findings at warn level or above (those involving ``package`` only)."""
    session = _active()
    if session is None:
        return
    from forge_store.policy import Verdict

    session.note(
        f
        for f, verdict in pairs
        if verdict >= Verdict.WARN and (package is None or package == f.subject or package in f.packages)
    )


def count_stack(store: Store, env: EnvInfo, *, package: str | None = None) -> None:
    """Count the findings of ``env``'s stack as it is now (a read command's)."""
    if _active() is None:
        return
    from forge_store.enforce import judged

    note_judged(judged(store, env), package=package)


def prepare(command: str, args: argparse.Namespace) -> None:
    """Before a read command prints: count the findings of the stack it shows."""
    if _active() is None or command not in ("inspect", "tree"):
        return  # doctor counts its own layers section
    from forge_store.store import Store

    from .env_target import target_env

    package = None
    if command == "inspect":
        from packaging.utils import canonicalize_name

        package = canonicalize_name(args.package)
    with Store() as store:
        count_stack(store, target_env(store, args), package=package)


def prepare_pip(argv: Sequence[str]) -> str:
    """``forge pip ARGS`` under enforcement: the command's name for :func:`finish`; for ``pip
    check``, the target env's findings are counted first. A target that cannot be opened is left
    to pip's own command, which says so in pip's words."""
    from .pip import split_command

    command, rest = split_command(argv)
    if _active() is None or command != "check":
        return f"pip {command}"
    from forge_store.store import Store

    from . import pip_options
    from .target import open_target

    parsed = pip_options.parse(command, rest)
    if isinstance(parsed, int):
        return "pip check"
    try:
        with Store() as store:
            count_stack(store, open_target(parsed, store))
    except ForgeError:
        pass
    return "pip check"


def finish(command: str, code: int, *, prog: str = "forge") -> int:
    """The command's exit code under enforcement (``code`` unchanged without it)."""
    session = _active()
    if session is None:
        return code
    decided = session.exit_code
    if not decided or code not in RESULT_CODES.get(command, frozenset({0})):
        return code
    found = session.findings
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    profile = f", profile {session.profile.value}" if session.profile is not None else ""
    print(
        f"{prog}: enforce{profile}: exit {decided} ({first.kind.value}): {first.message}{more}",
        file=sys.stderr,
    )
    return decided


def run(command: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """One argparse subcommand: count (read commands), run, decide."""
    prepare(command, args)
    return finish(command, body(args))


def json_member() -> dict[str, object] | None:
    """The ``enforce`` member of a ``--json`` document: ``{profile, exit_code, findings}``."""
    session = _active()
    return None if session is None else session.to_dict()
