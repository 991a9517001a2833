"""What both CLIs share: error rendering, exit codes, JSON output, logging set-up.

Only this layer prints. Library errors (``ForgeError``) become one line on stderr and their own
exit code; so do faults of the machine that reach here untyped (``OSError`` of permissions, a
read-only file system or a full disk; SQLite errors). Anything else is a bug: one line too, with
the traceback only under ``-v``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TextIO

from forge_store.errors import ExitCode, ForgeError

JSON_VERSION = "1"


def emit_json(kind: str, data: dict[str, object], out: TextIO | None = None) -> None:
    """One versioned JSON document on stdout; under ``forge --enforce`` it carries the exit-code
    decision as ``enforce`` (an ``error`` document does not: its error's code is the exit code)."""
    doc = {"version": JSON_VERSION, "kind": kind, **data}
    if kind != "error":
        from .enforce import json_member

        member = json_member()
        if member is not None:
            doc["enforce"] = member
    (out or sys.stdout).write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def setup_logging(verbosity: int) -> None:
    """Configure stderr logging only when -v/-q ask for it (logging costs 5 ms to import);
    without it, warnings still reach stderr through logging's last-resort handler."""
    if not verbosity:
        return
    import logging

    level = logging.WARNING - 10 * verbosity
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s: %(message)s", stream=sys.stderr
    )


def environment_fault(exc: BaseException) -> ForgeError | None:
    """The typed error for a fault of the machine that reached the CLI untyped: an ``OSError``
    of permissions, a read-only file system, a full disk or I/O (anywhere on the exception's
    chain), or a SQLite error; None for everything else (a bug)."""
    from forge_store.errors import storage_error

    typed = storage_error(exc)
    if typed is not None:
        return typed
    sqlite3 = sys.modules.get("sqlite3")  # only loaded when the catalog was opened
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        from forge_store.catalog import sqlite_fault
        from forge_store.home import ForgeHome, default_home
        from forge_store.locks import default_timeout

        return sqlite_fault(exc, ForgeHome(default_home()).catalog, default_timeout())
    return None


def _print_error(prog: str, exc: ForgeError, as_json: bool) -> int:
    if as_json:
        emit_json("error", {"error": exc.to_dict()})
    line = f"{prog}: error: {exc.message}"
    if exc.hint:
        line += f" (hint: {exc.hint})"
    print(line, file=sys.stderr)
    for detail in error_details(exc):
        print(f"  {detail}", file=sys.stderr)
    return int(exc.exit_code)


def error_details(exc: ForgeError) -> tuple[str, ...]:
    """The lines an error shows indented under its one line (a policy refusal's chain); most
    errors have none."""
    details = getattr(exc, "details", ())
    return tuple(str(d) for d in details) if isinstance(details, tuple) else ()


def run_guarded(prog: str, body: Callable[[], int], *, verbose: int = 0, as_json: bool = False) -> int:
    """Run a command body, mapping errors to one stderr line (or a JSON error document) + exit code."""
    try:
        return body()
    except ForgeError as exc:
        return _print_error(prog, exc, as_json)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was changed that was not undone", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (| head): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.OK)
    except Exception as exc:
        typed = environment_fault(exc)
        if typed is not None:  # the machine said no (permissions, space, a locked catalog)
            if verbose:
                import traceback

                traceback.print_exc()
            return _print_error(prog, typed, as_json)
        if verbose:  # a bug: say so in one line, traceback only when asked
            raise
        print(
            f"{prog}: internal error: {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr
        )
        return int(ExitCode.ERROR)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
    return "\n".join(lines)
