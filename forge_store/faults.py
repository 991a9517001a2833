"""Named fault points for crash tests (Nix's ``_NIX_TEST_*`` sync points are the model).

Test-only. ``FORGE_TEST_FAULT=NAME:ACTION[,NAME:ACTION...]`` arms points; ``point("NAME")`` in
the code then acts when reached:

- ``kill``: SIGKILL this process, exactly there (what a power cut or an OOM kill does to us);
- ``pause``: append ``NAME PID`` to the file or FIFO named by ``FORGE_TEST_FAULT_SYNC`` and wait
  until the file ``$FORGE_TEST_FAULT_SYNC.go`` exists (the test releases it, or kills us);
- ``log``: append ``NAME PID`` to ``FORGE_TEST_FAULT_SYNC`` and go on (counting how often a step
  runs, say unpacks of one wheel).

``NAME@N`` acts on the N-th time the point is reached (``link@5:kill``: mid-link, after 5
operations); ``NAME`` with ``*`` acts at every point whose name starts with the prefix. Unset,
``point`` is one global lookup and a return: the variable is read once, at import.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

VARIABLE = "FORGE_TEST_FAULT"
SYNC_VARIABLE = "FORGE_TEST_FAULT_SYNC"


def _parse(raw: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for item in raw.split(","):
        name, _, action = item.strip().rpartition(":")
        if not name or action not in ("kill", "pause", "log"):
            continue
        name, _, nth = name.partition("@")
        out[name] = (action, int(nth) if nth.isdigit() else 1)
    return out


_ARMED: dict[str, tuple[str, int]] = _parse(os.environ.get(VARIABLE, ""))
_SEEN: dict[str, int] = {}
_SEEN_LOCK = threading.Lock()


def armed() -> bool:
    return bool(_ARMED)


def _match(name: str) -> tuple[str, int] | None:
    hit = _ARMED.get(name)
    if hit is not None:
        return hit
    for key, value in _ARMED.items():
        if key.endswith("*") and name.startswith(key[:-1]):
            return value
    return None


def _sync_write(name: str) -> Path | None:
    target = os.environ.get(SYNC_VARIABLE)
    if not target:
        return None
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{name} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return Path(target)


def point(name: str) -> None:
    """Act if ``name`` is armed in ``FORGE_TEST_FAULT`` (costs nothing when it is not)."""
    if not _ARMED:
        return
    hit = _match(name)
    if hit is None:
        return
    action, nth = hit
    with _SEEN_LOCK:  # threads of a parallel install pass the same points: count each once
        count = _SEEN.get(name, 0) + 1
        _SEEN[name] = count
    if action == "log":
        _sync_write(name)
        return
    if count != nth:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # never reached: SIGKILL is not deliverable late
    sync = _sync_write(name)
    release = Path(f"{sync}.go") if sync is not None else None
    while release is not None and not release.exists():
        time.sleep(0.01)
