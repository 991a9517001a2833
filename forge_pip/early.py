"""Early ingest: unpack and compile the wheels the resolver reads while it is still resolving.

A cold resolution reads the metadata of most candidates from the wheel files themselves (a
``file://`` mirror or find-links directory has no PEP 658 files; a downloaded wheel is read once
it is verified), and it spends most of its time waiting for index pages, with the cores idle.
:class:`EarlyIngest` hears of each such wheel (``IndexFiles.on_local``: verified, local, its sha256
known) and ingests it at once in a few background threads, with the bytecode workers that the
prepare stage then shares (:mod:`forge_store.bytecode`), so that most of the compile, the cold
path's biggest cost, is done when resolution ends.

It is speculation, and changes nothing the user sees: an ingest is the store's ordinary one (the
per-wheel lock, wheelcheck's limits and path refusals, RECORD verification, the atomic publish),
the prepare stage :meth:`take` s an entry only for a file the plan names (and checks its digests
against ``--hash`` first, as before), a failed early ingest is forgotten (prepare ingests that
wheel again and reports what happens then), and :meth:`close` (when the operation ends, however
it ends) stops what is queued, kills running compiles, and discards every new entry that
nothing took. On only with ``FORGE_EARLY_INGEST=1``; off with ``FORGE_JOBS=1``, for dry runs,
and in hash-checking mode.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forge_pip.models import DistFile
    from forge_pip.sources import IndexFiles
    from forge_store.bytecode import Compiler
    from forge_store.models import Interpreter, StoredWheel
    from forge_store.store import Store

__all__ = ["PER_PROJECT", "VARIABLE", "EarlyIngest", "start"]

VARIABLE = "FORGE_EARLY_INGEST"
"""``1`` switches early ingest on (off by default: on a saturated 2-core machine the benchmark
showed no gain, the speculative compiles compete with resolution for the same cores)."""

PER_PROJECT = 2
"""Versions of one project ingested early at most: a resolver that backtracks through many
releases reads each one's metadata, and speculating on every one would cost more than it saves."""


def start(
    store: Store, interpreter: Interpreter, files: IndexFiles, *, dry_run: bool, hash_checking: bool
) -> EarlyIngest | None:
    """An :class:`EarlyIngest` that ``files`` tells of every wheel it verifies, or None where it
    must not run (a dry run ingests nothing; in hash-checking mode only files checked against the
    user's hashes are unpacked) or cannot help (one core: ``FORGE_JOBS=1``)."""
    from forge_pip.prepare import jobs_from_environ
    from forge_store.bytecode import machine_cores

    if os.environ.get(VARIABLE, "") != "1":  # off until it is measured faster on a quiet machine
        return None
    workers = jobs_from_environ() or machine_cores()
    if dry_run or hash_checking or workers < 2:
        return None
    early = EarlyIngest(store, interpreter, workers=workers)
    files.on_local = early.offer
    return early


class EarlyIngest:
    """Background ingests of wheels offered during resolution, taken by the prepare stage.

    Usage::

        early = EarlyIngest(store, interpreter, workers=2)
        files.on_local = early.offer          # resolution offers verified local wheels
        ...resolve...
        entry = early.take(sha256)             # prepare: the entry, or None (ingest it yourself)
        early.close()                          # discards what nothing took
    """

    def __init__(self, store: Store, interpreter: Interpreter, *, workers: int) -> None:
        from forge_store.bytecode import Compiler

        self._store = store
        self._interpreter = interpreter
        self.compiler: Compiler = Compiler(workers)
        self._lock = threading.Lock()
        self._closed = False
        self._futures: dict[str, Future[StoredWheel]] = {}
        self._taken: set[str] = set()
        self._projects: dict[str, list[str]] = {}  # name -> the sha256s offered for it
        self._siblings = [store.sibling() for _ in range(workers)]  # made here: holder file held
        self._stores: queue.SimpleQueue[Store] = queue.SimpleQueue()
        for sibling in self._siblings:
            self._stores.put(sibling)
        self._pool = ThreadPoolExecutor(workers, "forge-early")

    def offer(self, file: DistFile, path: Path, sha256: str) -> None:
        """A wheel the resolver has verified at ``path``: ingest it in the background (once)."""
        if not file.is_wheel or not path.name.endswith(".whl"):
            return
        from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

        try:
            name = str(canonicalize_name(parse_wheel_filename(file.filename)[0]))
        except InvalidWheelFilename:
            return  # the ingest of the plan's file says what is wrong with it
        with self._lock:
            if self._closed or sha256 in self._futures:
                return
            offered = self._projects.setdefault(name, [])
            if len(offered) >= PER_PROJECT:
                return
            for earlier in offered:  # the resolver moved on to another version: drop the queued one
                self._futures[earlier].cancel()
            offered.append(sha256)
            self._futures[sha256] = self._pool.submit(self._ingest, path, sha256)

    def _ingest(self, path: Path, sha256: str) -> StoredWheel:
        from forge_store import timeline

        store = self._stores.get()
        try:
            with timeline.span("early-ingest", path.name):
                return store.add_wheel(
                    path, interpreters_=[self._interpreter], wheel_sha256=sha256, compiler=self.compiler
                )
        finally:
            self._stores.put(store)

    def take(self, sha256: str) -> StoredWheel | None:
        """The entry made early for the wheel with ``sha256`` (waiting for it if it is under
        way), or None: never offered, not started yet (then it never will be), or failed."""
        with self._lock:
            future = self._futures.get(sha256)
            if future is None or future.cancel():
                return None
        try:
            entry = future.result()
        except Exception:  # the prepare stage ingests it again and reports what goes wrong
            return None
        with self._lock:
            self._taken.add(sha256)
        return entry

    def close(self) -> None:
        """Stop: drop what has not started, kill running compiles, wait, then discard the new
        entries that nothing took (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            futures = dict(self._futures)
            taken = set(self._taken)
        for future in futures.values():
            future.cancel()
        if any(f.running() for f in futures.values()):
            self.compiler.cancel()  # an unfinished compile is not wanted any more
        self._pool.shutdown(wait=True)
        self.compiler.close()
        unused: list[StoredWheel] = []
        for sha, future in futures.items():
            if sha in taken or future.cancelled():
                continue
            with contextlib.suppress(Exception):
                unused.append(future.result())
        try:
            if unused:
                self._store._discard_unused(unused)
        finally:
            for sibling in self._siblings:
                sibling.close()
