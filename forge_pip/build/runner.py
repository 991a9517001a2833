"""The subprocess runner ``pyproject_hooks`` calls: a clean environment, output captured line by line.

Stdout and stderr are merged (so lines keep their order), each line goes to a callback (the
reporter) and the last ``tail_size`` lines are kept for the error message should the hook fail.
"""

from __future__ import annotations

import collections
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence

_DROPPED_VARIABLES = ("PYTHONPATH", "PYTHONHOME")


class HookProcessFailed(Exception):
    """Internal: the hook process exited non-zero or could not start (the builder wraps it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without what would leak our interpreter's paths into the backend's, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_VARIABLES}
    env["PYTHONNOUSERSITE"] = "1"
    if extra:
        env.update(extra)
    return env


class CapturingRunner:
    """A ``pyproject_hooks`` subprocess runner that feeds each output line to ``on_line``.

    Example: ``BuildBackendHookCaller(src, backend, runner=CapturingRunner(reporter.on_build_output))``.
    One instance per build: ``tail`` accumulates across the hooks of that build.
    """

    def __init__(self, on_line: Callable[[str], None], *, tail_size: int = 20) -> None:
        self._on_line = on_line
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_size)

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        try:
            process = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=clean_environment(extra_environ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            raise HookProcessFailed(f"could not start {cmd[0]}: {exc.strerror or exc}")
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.rstrip("\r\n")
                self.tail.append(line)
                self._on_line(line)
            returncode = process.wait()
        finally:
            if process.poll() is None:  # interrupted while reading: do not leave the backend running
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if returncode != 0:
            raise HookProcessFailed(f"exited with status {returncode}")
