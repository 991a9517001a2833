"""Timestamps of the cold path's phases, for profiling (never for tests or behaviour).

    FORGE_TIMELINE=/tmp/t.jsonl forge pip install -r set-a.in
    python bench/timeline.py /tmp/t.jsonl

With ``$FORGE_TIMELINE`` set to a file, every :func:`span` appends one JSON line to it when it
ends: ``{"phase", "label", "start", "end", "cpu", "thread", "pid"}`` (wall-clock seconds since the
epoch; ``cpu`` is the thread's own CPU time in the span). Unset, a span costs one attribute
lookup. Lines are written with one ``write()`` on an ``O_APPEND`` descriptor, so the threads of
one process and the processes of one command share a file without tearing lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator

__all__ = ["VARIABLE", "enabled", "process_start", "record", "span"]

VARIABLE = "FORGE_TIMELINE"


class _Sink:
    def __init__(self) -> None:
        self.fd: int | None = None
        self.opened = False
        self.lock = threading.Lock()

    def get(self) -> int | None:
        if not self.opened:
            with self.lock:
                if not self.opened:
                    path = os.environ.get(VARIABLE, "")
                    if path:
                        with contextlib.suppress(OSError):
                            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                    self.opened = True
        return self.fd


_SINK = _Sink()


def enabled() -> bool:
    """Whether spans are recorded (``$FORGE_TIMELINE`` names a writable file)."""
    return _SINK.get() is not None


def record(phase: str, label: str, start: float, end: float, cpu: float | None = None) -> None:
    """Append one span measured elsewhere (a compile worker's busy time, say)."""
    fd = _SINK.get()
    if fd is None:
        return
    line = {
        "phase": phase,
        "label": label,
        "start": start,
        "end": end,
        "cpu": cpu,
        "thread": threading.current_thread().name,
        "pid": os.getpid(),
    }
    with contextlib.suppress(OSError):
        os.write(fd, (json.dumps(line) + "\n").encode())


def process_start() -> float | None:
    """When this process started (epoch seconds, from ``/proc``), or None where that is unknown:
    the summary counts what happened before the first span from it (imports, resolution)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def span(phase: str, label: str = "") -> Iterator[None]:
    """Record the wall-clock and thread CPU time of the ``with`` body as ``phase`` (``label``:
    which wheel, say), also when it raises."""
    if _SINK.get() is None:
        yield
        return
    start, cpu = time.time(), time.thread_time()
    try:
        yield
    finally:
        record(phase, label, start, time.time(), time.thread_time() - cpu)
