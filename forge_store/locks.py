"""Inter-process locks on lock files with ``fcntl.flock``, polled until a timeout.

flock locks belong to the open file description and vanish when the process dies, so a crashed
Forge never leaves a stale lock behind. (The stdlib covers this; ``filelock`` cost 11 ms of import.)

When a lock cannot be had in time, :func:`holders` names who holds it: the kernel's lock table
(``/proc/locks``) lists the pid of every flock and POSIX (SQLite) lock on a file; the pid's
command line comes from ``/proc/PID/cmdline``. The holder of a lock file also writes its own pid
and command into the file, which is the fallback where ``/proc`` is not available.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

DEFAULT_TIMEOUT = 10.0
TIMEOUT_VARIABLE = "FORGE_LOCK_TIMEOUT"


class Timeout(Exception):
    """The lock was still held by another process when the timeout ran out."""

    def __init__(self, path: Path, timeout: float, holders: tuple[str, ...]) -> None:
        super().__init__(str(path))
        self.path = path
        self.timeout = timeout
        self.holders = holders


def default_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds to wait for a lock: ``$FORGE_LOCK_TIMEOUT`` if it is a number >= 0, else 10."""
    raw = (os.environ if environ is None else environ).get(TIMEOUT_VARIABLE, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value >= 0 else DEFAULT_TIMEOUT


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())  # one line, always
    return text if len(text) <= 120 else text[:117] + "..."


def describe(pid: int, command: str = "") -> str:
    command = command or _command(pid)
    return f"pid {pid} ({command})" if command else f"pid {pid}"


def _proc_lock_pids(inodes: set[tuple[int, int]]) -> list[int]:
    """Pids holding an exclusive (WRITE) lock on any of the (device, inode) pairs, from
    ``/proc/locks``: flock's LOCK_EX, and SQLite's writer (readers hold READ locks only)."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    me = os.getpid()
    out: list[int] = []
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; blocked waiters start with "->"
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->" or fields[3] != "WRITE":
            continue
        try:
            pid = int(fields[4])
            major, minor, ino = fields[5].split(":")
            key = (os.makedev(int(major, 16), int(minor, 16)), int(ino))
        except ValueError:
            continue
        if key in inodes and pid != me and pid not in out:
            out.append(pid)
    return out


def holders(paths: Iterable[Path]) -> tuple[str, ...]:
    """Who holds a lock on any of ``paths``: ``("pid 123 (forge pip install six)", ...)``."""
    inodes: set[tuple[int, int]] = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        inodes.add((st.st_dev, st.st_ino))
    return tuple(describe(pid) for pid in _proc_lock_pids(inodes))


def _recorded_holder(fd: int) -> tuple[str, ...]:
    """The pid and command the current holder wrote into the lock file (if it is still alive)."""
    try:
        text = os.pread(fd, 512, 0).decode(errors="replace")
        pid_text, _, command = text.strip().partition(" ")
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return ()
    return (describe(pid, " ".join(command.split())),)


def _record_holder(fd: int) -> None:
    """Write ``PID COMMAND`` into the lock file we now hold (best effort)."""
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else ""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command[:200]}\n".encode(errors="replace"), 0)
    except OSError:
        pass


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, *, unlink: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``unlink``: delete the lock file before letting go (for per-wheel locks, which would pile up
    otherwise); a waiter that then holds the deleted file sees it is not the one at ``path`` any
    more and starts again, so two processes never both believe they hold the lock.
    """
    deadline = time.monotonic() + timeout
    local = _thread_lock(path)
    if not local.acquire(timeout=max(timeout, 0.0)):
        raise Timeout(path, timeout, holders([path]) or (describe(os.getpid()),))
    try:
        yield from _file_lock(path, deadline, timeout, unlink)
    finally:
        local.release()


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    """The in-process lock taken before the file lock: threads of one process queue on it instead
    of polling flock against each other (flock alone would also keep them apart: each ``open``
    is its own open file description)."""
    key = os.path.abspath(path)
    with _THREAD_LOCKS_GUARD:
        found = _THREAD_LOCKS.get(key)
        if found is None:
            found = _THREAD_LOCKS[key] = threading.Lock()
        return found


def _file_lock(path: Path, deadline: float, timeout: float, unlink: bool) -> Iterator[None]:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            delay = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Timeout(path, timeout, holders([path]) or _recorded_holder(fd)) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
            if unlink and not _is_current(fd, path):
                continue  # the holder deleted it as we waited: lock the file there now
            _record_holder(fd)
            try:
                yield
            finally:
                if unlink:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                fcntl.flock(fd, fcntl.LOCK_UN)
            return
        finally:
            os.close(fd)


def _is_current(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


@contextlib.contextmanager
def try_lock(path: Path) -> Iterator[bool]:
    """Lock ``path`` if nobody holds it, without waiting: yields whether we hold it (a missing
    file counts as free: its holder deleted it, or never got that far). This is how a dead
    holder is told from a live one: flock dies with its process."""
    try:
        fd = os.open(path, os.O_RDONLY)  # flock needs no write access (a read-only FORGE_HOME)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """Whether another process holds the lock on ``path`` now (read-only: opens, never creates)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # no lock file: nobody ever locked it here
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class HeldFile:
    """A lock file held for the life of this object (or the process): a lease holder's proof of
    life. ``close()`` lets go and deletes it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(self._fd)
            self._fd = None
