"""The real-package tests' wheel cache: filled with plain ``pip download``, safe for concurrent runs.

Where: ``$FORGE_TEST_CACHE``, else ``~/.cache/forge-tests`` (a directory per wheel set below it; the
full suite puts about 500 MB there: torch, numpy, scipy, pandas, the pip tools...; the pytest
header says where and how big it is). Each set is filled by :func:`fill`:

- an exclusive ``fcntl`` lock on ``SET/.lock`` around the whole fill, so two test runs (or xdist
  workers) fill a set one after the other, and the second finds the first's wheels;
- ``pip download`` writes into a fresh ``SET/.fill-XXXX`` directory (the same file system), which
  starts with hard links to the wheels already cached, so pip downloads only what is missing;
- every new file is verified (a wheel's name parses, its zip CRCs check out) and moved into the set
  with ``os.replace``: a reader never sees a half-written wheel, a killed fill leaves only its
  ``.fill-*`` directory, which the next fill removes; a cached wheel that no longer opens (cut short
  by an older, non-atomic fill) is dropped and fetched again.

A fill can be paused between its download and its publish at the named fault point
``test-cache-publish`` (:mod:`forge_store.faults`), which is how the tests make two fills overlap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from forge_store import faults

LOCK_NAME = ".lock"
STAMP_NAME = "requirements.stamp"
TEMP_PREFIX = ".fill-"


class CacheFillError(RuntimeError):
    """``pip download`` failed, or gave a file that is not a sound wheel."""


def cache_root() -> Path:
    """``$FORGE_TEST_CACHE``, else ``~/.cache/forge-tests``."""
    raw = os.environ.get("FORGE_TEST_CACHE")
    return Path(raw) if raw else Path.home() / ".cache" / "forge-tests"


def cache_set(name: str) -> Path:
    """The directory of one wheel set in the cache."""
    return cache_root() / name


def disk_usage(root: Path) -> int:
    """Bytes on disk below ``root`` (each inode once; 0 if it does not exist)."""
    seen: set[int] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                if st.st_ino not in seen:
                    seen.add(st.st_ino)
                    total += st.st_blocks * 512
    return total


def opens(path: Path, *, full: bool) -> bool:
    """Whether ``path`` is a wheel: its name parses and its zip opens (``full``: every CRC checks)."""
    try:
        parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as zf:
            return not full or zf.testzip() is None
    except (InvalidWheelFilename, zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


@contextlib.contextmanager
def locked(dest: Path) -> Iterator[None]:
    """Hold the set's fill lock (blocking)."""
    dest.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def fill(
    dest: Path,
    requirements: Sequence[str],
    *,
    pip_args: Sequence[str] = ("--only-binary=:all:",),
    once: bool = False,
    python: str = sys.executable,
) -> Path:
    """Make ``dest`` hold the wheels ``pip download`` gives for ``requirements``; returns ``dest``.

    ``once``: skip ``pip download`` when a stamp says this very requirement list was filled before
    (the set is then offline); otherwise pip runs every time and fetches only what is missing.
    """
    wanted = "\n".join([*requirements, *pip_args])
    stamp = dest / STAMP_NAME
    with locked(dest):
        if once and stamp.is_file() and stamp.read_text() == wanted:
            return dest
        for stale in dest.glob(f"{TEMP_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)  # a fill that was killed
        work = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=dest))
        try:
            for cached in dest.glob("*.whl"):
                if opens(cached, full=False):
                    _link_or_copy(cached, work / cached.name)
                else:
                    cached.unlink()  # cut short by an older fill: fetch it again
            proc = subprocess.run(
                [python, "-m", "pip", "download", "-q", *pip_args, "-d", str(work), *requirements],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise CacheFillError(f"pip download failed: {proc.stderr[-3000:]}")
            fresh = []
            for got in sorted(work.iterdir()):
                old = dest / got.name
                if old.exists() and os.path.samefile(old, got):
                    continue
                if got.suffix == ".whl" and not opens(got, full=True):
                    raise CacheFillError(f"pip download gave a broken wheel: {got.name}")
                fresh.append(got)
            faults.point("test-cache-publish")
            for got in fresh:
                os.replace(got, dest / got.name)
            tmp_stamp = work / STAMP_NAME
            tmp_stamp.write_text(wanted)
            os.replace(tmp_stamp, stamp)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.support.wheel_cache DEST [--once] [PIP_ARG...] -- REQ...`` (used by tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    dest = Path(args.pop(0))
    once = "--once" in args
    args = [a for a in args if a != "--once"]
    split = args.index("--")
    fill(dest, args[split + 1 :], pip_args=args[:split], once=once)
    return 0


if __name__ == "__main__":
    sys.exit(main())
