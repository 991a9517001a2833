"""How the pip front end reports errors: pip's ``ERROR:`` lines and pip's exit codes.

pip exits 1 for every failure of a command and 2 for a usage error its option parser finds
(that one never reaches here: ``pip_options.parse`` returns 2). Forge's finer exit codes and the
error's ``reference`` stay available: ``-v`` prints them, and ``forge`` (not the pip front end)
still exits with them. A layer-policy refusal, which pip has no counterpart of, keeps Forge's code
(4, or 5 for the ABI policy) and prints its chain indented under the ``ERROR:`` line.

pip's shapes, reproduced from its source:

- no matching version: ``ERROR: Could not find a version that satisfies the requirement X (from
  versions: ...)`` and ``ERROR: No matching distribution found for X`` (why files were skipped only
  with ``-v``: pip's list of skipped links is that long);
- a conflict: Forge's "Cannot install ... The conflict is caused by:" explanation, then pip's
  "To fix this you could try to" advice and its ``ERROR: ResolutionImpossible`` line;
- a hash that ``--hash`` does not allow: ``THESE PACKAGES DO NOT MATCH THE HASHES ...`` with
  ``Expected`` / ``Got`` per file;
- anything else: ``ERROR: message`` (further lines of the message as they are), ``hint: ...``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import chain, repeat

from forge_store.errors import ExitCode, ForgeError

RESOLUTION_HELP = (
    "https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts"
)
HASHES_HEADER = (
    "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the"
    " package versions, please update the hashes. Otherwise, examine the package contents carefully;"
    " someone may have tampered with them."
)


def _spec_of(filename: str) -> str:
    """``name==version`` of a wheel or sdist file name (the file name itself if it does not parse)."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return filename
    return f"{name}=={version}"


def render(exc: ForgeError, *, verbose: int = 0) -> list[str]:
    """The lines pip would print for ``exc`` (stderr)."""
    from forge_pip.index.errors import RequirementHashMismatch
    from forge_pip.resolve.errors import NoMatchingDistribution, ResolutionError

    if isinstance(exc, NoMatchingDistribution) and exc.message.startswith("No matching distribution"):
        req = exc.requirement
        lines = [
            "ERROR: Could not find a version that satisfies the requirement"
            f" {req} (from versions: {', '.join(exc.versions) or 'none'})",
            f"ERROR: No matching distribution found for {req}",
        ]
        if verbose:
            lines.extend(exc.message.splitlines()[1:])
        if exc.hint and not exc.versions:
            lines.append(f"hint: {exc.hint}")
        return lines
    if isinstance(exc, ResolutionError) and exc.message.startswith("Cannot install"):
        first, *rest = exc.message.splitlines()
        return [
            f"ERROR: {first}",
            "",
            *rest,
            "",
            "To fix this you could try to:",
            "1. loosen the range of package versions you've specified",
            "2. remove package versions to allow pip to attempt to solve the dependency conflict",
            "",
            f"ERROR: ResolutionImpossible: for help visit {RESOLUTION_HELP}",
        ]
    if isinstance(exc, RequirementHashMismatch):
        lines = [f"ERROR: {HASHES_HEADER}", f"    {_spec_of(exc.filename)} from {exc.url}:"]
        for algorithm, expected in exc.expected.items():
            prefix = chain([algorithm], repeat("    or"))
            lines.extend(f"        Expected {next(prefix)} {digest}" for digest in expected)
            lines.append(f"             Got        {exc.got.get(algorithm, '?')}")
        return lines
    from forge_pip.cli.common import error_details

    first, *rest = exc.message.splitlines() or [""]
    lines = [f"ERROR: {first}", *rest, *(f"  {d}" for d in error_details(exc))]
    if exc.hint:
        lines.append(f"hint: {exc.hint}")
    return lines


def pip_exit_code(exc: ForgeError) -> int:
    """pip's status for a failed command: 1 (ERROR); usage errors of the parser are 2 elsewhere.

    A question that got no answer is 2: pip's ``input()`` raises there, an unknown error to pip;
    so is an option value pip's parser rejects (``OptionValueError``)."""
    from forge_store.errors import AnswerUnavailable, OptionValueError
    from forge_store.policy import PolicyRefused

    if isinstance(exc, PolicyRefused):  # pip never refuses a layer conflict: Forge's own code
        return int(exc.exit_code)
    return 2 if isinstance(exc, AnswerUnavailable | OptionValueError) else int(ExitCode.ERROR)


def run_pip_guarded(body: Callable[[], int], *, verbose: int = 0) -> int:
    """Run a pip command body: a ``ForgeError`` becomes pip's lines on stderr and pip's exit code."""
    from forge_pip.cli.common import environment_fault, run_guarded

    def report(exc: ForgeError) -> int:
        for line in render(exc, verbose=verbose):
            print(line, file=sys.stderr)
        if verbose:
            print(
                f"forge: error reference {exc.reference} (Forge's exit code {int(exc.exit_code)})",
                file=sys.stderr,
            )
        return pip_exit_code(exc)

    def guarded() -> int:
        try:
            return body()
        except ForgeError as exc:
            return report(exc)
        except (KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as exc:
            typed = environment_fault(exc)  # the machine said no (permissions, space, a lock)
            if typed is None:
                raise
            return report(typed)

    return run_guarded("forge_pip", guarded, verbose=verbose)
