"""The prepare stage: make every planned distribution a store entry, ready to link.

Remote files are downloaded in parallel (hashed as they stream in, by the index client, and not
read again to be checked), local ``file://`` files are verified and used in place (no copy: a
200 MB torch wheel from find-links is read to be hashed, then by ingest), sdists and project
directories are built, and every wheel is ingested with the *target* interpreter so its pycs
exist. Every entry this stage adds is appended to ``added`` as soon as it exists, so the caller
can discard unused new entries whatever fails later.

The cold path is parallel (:class:`_Parallel`): a wheel is unpacked as soon as it is there while
others still download, by a few threads (each with a sibling ``Store``: the per-wheel ingest
lock, the intent, staging, seal, rename and catalog row are the same protocol that keeps two
processes apart), and the bytecode of every wheel is compiled by one pool of long-lived workers
per interpreter, one per core (:mod:`forge_store.bytecode`). ``FORGE_JOBS=N`` sets the workers
(``1``: everything in the calling thread, one wheel after the other, as before).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.utils import canonicalize_name

from forge_pip.index.urls import is_file_url
from forge_pip.plan import Action, Plan, PlanItem
from forge_pip.sources import IndexFiles, verify_file
from forge_store import faults, timeline
from forge_store.records import record
from forge_store.store import entry_gone

if TYPE_CHECKING:
    from forge_pip.build import Builder
    from forge_pip.early import EarlyIngest
    from forge_pip.index import IndexClient
    from forge_store.bytecode import Compiler
    from forge_store.models import Interpreter, StoredWheel
    from forge_store.store import Store

log = logging.getLogger(__name__)

__all__ = [
    "JOBS_VARIABLE",
    "NullPrepareReporter",
    "PrepareReporter",
    "Prepared",
    "jobs_from_environ",
    "prepare",
]

JOBS_VARIABLE = "FORGE_JOBS"
MAX_INGEST_THREADS = 16


class PrepareReporter(Protocol):
    """Progress of the prepare stage (the CLI prints pip-like lines from it)."""

    def on_fetched(self, item: PlanItem, path: Path) -> None: ...

    def on_built(self, item: PlanItem, wheel: Path, cached: bool) -> None: ...

    def on_ingested(self, item: PlanItem, entry: StoredWheel) -> None: ...


class NullPrepareReporter:
    def on_fetched(self, item: PlanItem, path: Path) -> None:
        pass

    def on_built(self, item: PlanItem, wheel: Path, cached: bool) -> None:
        pass

    def on_ingested(self, item: PlanItem, entry: StoredWheel) -> None:
        pass


@record(frozen=True, slots=True)
class Prepared:
    """A planned distribution as a store entry, with the PEP 610 record of where it came from."""

    item: PlanItem
    entry: StoredWheel
    direct_url: str | None = None


def _direct_url(item: PlanItem, source: Path | None, sha256: str | None) -> str | None:
    """PEP 610 ``direct_url.json`` for a direct requirement (None for index installs)."""
    if not item.direct or item.file is None:
        return None
    if source is not None and source.is_dir():
        info: dict[str, object] = {"editable": True} if item.editable else {}
        return json.dumps({"dir_info": info, "url": source.absolute().as_uri()}, sort_keys=True)
    from forge_store.linker import direct_url_json

    return direct_url_json(item.file.url, archive_hash=sha256)


def jobs_from_environ(environ: Mapping[str, str] | None = None) -> int | None:
    """``$FORGE_JOBS`` if it is a positive integer (see :func:`prepare`'s ``workers``), else None."""
    raw = (os.environ if environ is None else environ).get(JOBS_VARIABLE, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def prepare(
    plan: Plan,
    *,
    store: Store,
    interpreter: Interpreter,
    files: IndexFiles,
    client: IndexClient | None,
    builder: Builder | None,
    download_dir: Path,
    added: list[StoredWheel],
    hashes: Mapping[str, Mapping[str, frozenset[str]]] | None = None,
    reporter: PrepareReporter | None = None,
    jobs: int = 4,
    workers: int | None = None,
    early: EarlyIngest | None = None,
) -> list[Prepared]:
    """Turn the plan's LINK / DOWNLOAD / BUILD items into store entries (see module doc).

    ``jobs``: downloads at once. ``workers``: bytecode workers per interpreter; twice as many
    wheels (plus two) are unpacked at once (default ``$FORGE_JOBS``, else the cores this process may use);
    ``1``: one wheel after the other, in this thread. Either way the entries, the reporter's
    events and their order are the same; on a failure, the first one in plan order is raised
    once nothing runs any more. ``early``: entries ingested while resolving
    (:mod:`forge_pip.early`), taken instead of ingesting those wheels again, and its bytecode
    workers, shared instead of starting others."""
    if timeline.enabled():
        start = timeline.process_start()
        if start is not None:
            timeline.record("process-start", "", start, start)
    wanted = {name: {a: frozenset(d) for a, d in by.items()} for name, by in (hashes or {}).items()}
    steps = _Steps(store, interpreter, files, builder, wanted, added, early)
    try:
        with timeline.span("prepare"):
            return _prepare(
                plan, steps, client, download_dir, reporter or NullPrepareReporter(), jobs, workers
            )
    finally:
        if early is not None:  # nothing takes an early entry any more: stop, discard the rest
            early.close()
        if timeline.enabled():  # this process's CPU and its reaped children's (the compile workers)
            t = os.times()
            now = time.time()
            timeline.record("cpu-process", "", now, now, t.user + t.system)
            timeline.record("cpu-children", "", now, now, t.children_user + t.children_system)


def _prepare(
    plan: Plan,
    steps: _Steps,
    client: IndexClient | None,
    download_dir: Path,
    rep: PrepareReporter,
    jobs: int,
    workers: int | None,
) -> list[Prepared]:
    store, interpreter, files, early = steps.store, steps.interpreter, steps.files, steps.early
    out: dict[int, Prepared] = {}
    work: list[tuple[int, PlanItem]] = []
    links: list[tuple[int, PlanItem, str]] = []
    for n, item in enumerate(plan.installs):
        if item.action is Action.LINK:
            assert item.entry_id is not None
            links.append((n, item, item.entry_id))
        else:
            work.append((n, item))
    # held until the link step commits; pycs for the target added if the entry was made for
    # another interpreter (reused by its tags)
    faults.point("prepare-lease")
    leased = store.lease_present([eid for _, _, eid in links], interpreters_=[interpreter])
    for (n, item, eid), entry in zip(links, leased, strict=True):
        if entry is not None:
            out[n] = Prepared(item, entry)
        elif item.refetch is not None and (client is not None or is_file_url(item.refetch.url)):
            # gc took it after the plan chose it: fetch the same file (offline: only a local one)
            action = Action.DOWNLOAD if item.refetch.is_wheel else Action.BUILD
            work.append((n, dataclasses.replace(item, action=action, file=item.refetch, entry_id=None)))
        else:
            raise entry_gone(eid)
    work.sort(key=lambda job: job[0])
    if not work:
        return [out[n] for n in sorted(out)]
    from forge_store.bytecode import machine_cores

    cores = workers or jobs_from_environ() or machine_cores()
    if cores > 1 and len(work) > 1:
        compiler = early.compiler if early is not None else None
        _Parallel(steps, rep, downloads=max(1, jobs), workers=cores, compiler=compiler).run(work, out)
        return [out[n] for n in sorted(out)]
    fetch = [
        i.file
        for _, i in work
        if i.file is not None
        and not is_file_url(i.file.url)
        and i.file.url not in files.direct
        and i.file not in files.fetched
    ]
    if fetch and client is not None:
        files.fetched.update(client.download_many(fetch, download_dir, jobs=jobs))
    for n, item in work:
        fetched = steps.fetch(item)
        built = steps.build(item, fetched)
        out[n] = steps.ingest(item, fetched, built, store, None)
        _report(rep, item, fetched, built, out[n])
    return [out[n] for n in sorted(out)]


@record(frozen=True, slots=True)
class _Fetched:
    source: Path
    sha: str | None  # None: a directory (a project to build)


@record(frozen=True, slots=True)
class _Built:
    wheel: Path
    sha: str | None  # None: a built wheel (ingest hashes it)
    cached: bool | None = None  # None: not built (the fetched wheel itself)


def _report(rep: PrepareReporter, item: PlanItem, fetched: _Fetched, built: _Built, done: Prepared) -> None:
    rep.on_fetched(item, fetched.source)
    if built.cached is not None:
        rep.on_built(item, built.wheel, built.cached)
    rep.on_ingested(item, done.entry)


class _Steps:
    """What happens to one planned distribution: the same steps whatever thread runs them."""

    def __init__(
        self,
        store: Store,
        interpreter: Interpreter,
        files: IndexFiles,
        builder: Builder | None,
        wanted: Mapping[str, dict[str, frozenset[str]]],
        added: list[StoredWheel],
        early: EarlyIngest | None = None,
    ) -> None:
        self.store = store
        self.early = early
        self.interpreter = interpreter
        self.files = files
        self.builder = builder
        self.wanted = wanted
        self.added = added
        self._added_lock = threading.Lock()

    def fetch(self, item: PlanItem) -> _Fetched:
        """Download (or find) the file and check its digests; any thread."""
        assert item.file is not None
        with timeline.span("fetch", item.file.filename):
            source = self.files.local_path(item.file)
            sha: str | None = None
            if source.is_file():
                sha = verify_file(item.file, source, self.wanted.get(item.name))
        return _Fetched(source, sha)

    def build(self, item: PlanItem, fetched: _Fetched) -> _Built:
        """Build an sdist or a project directory (the thread that owns the builder)."""
        assert item.file is not None
        if item.action is not Action.BUILD:
            return _Built(fetched.source, fetched.sha)
        if self.builder is None:
            from forge_store.errors import UsageError

            raise UsageError(f"{item.file.filename} must be built, but builds are disabled")
        settings = self.files.config_settings.get(canonicalize_name(item.name))
        built = self.builder.build_wheel(fetched.source, editable=item.editable, config_settings=settings)
        return _Built(built.path, None, built.cached)

    def ingest(
        self, item: PlanItem, fetched: _Fetched, built: _Built, store: Store, compiler: Compiler | None
    ) -> Prepared:
        """Make the wheel a store entry; any thread, with a ``store`` of its own."""
        assert item.file is not None
        entry = None
        if self.early is not None and built.sha is not None and built.cached is None:
            with timeline.span("early-take", built.wheel.name):
                entry = self.early.take(built.sha)  # the file the plan names, verified by fetch
        if entry is None:
            with timeline.span("ingest", built.wheel.name):
                entry = store.add_wheel(
                    built.wheel, interpreters_=[self.interpreter], wheel_sha256=built.sha, compiler=compiler
                )
        with self._added_lock:  # known at once: the caller discards it if anything fails later
            self.added.append(entry)
        _check_identity(item, entry)
        direct = self.files.direct.get(item.file.url)
        record = direct.direct_url if direct is not None and direct.direct_url else None
        return Prepared(item, entry, record or _direct_url(item, fetched.source, fetched.sha))


class _Skipped(Exception):
    """A step not started, or not finished, because another one failed."""


class _Parallel:
    """Downloads in one pool, ingests in another (each with a sibling Store: its own catalog
    connection), the bytecode of every wheel in one shared
    :class:`~forge_store.bytecode.Compiler`; builds and the reporter stay in the calling thread.

    An ingest starts as soon as its file is there, whatever the plan order; the reporter hears
    of each item in plan order once it and those before it are done. The first failure stops
    what has not started and kills the running compiles (an unpack in progress fails at its
    compile); every ingest is all or nothing, and the caller discards the entries nothing links.
    """

    def __init__(
        self,
        steps: _Steps,
        rep: PrepareReporter,
        *,
        downloads: int,
        workers: int,
        compiler: Compiler | None = None,
    ) -> None:
        from forge_store.bytecode import Compiler

        self.steps = steps
        self.rep = rep
        self.downloads = downloads
        self.workers = workers
        self._own_compiler = compiler is None  # a shared one is closed by its owner
        self.compiler = compiler or Compiler(workers)
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._stores: queue.SimpleQueue[Store] = queue.SimpleQueue()
        self._fetches: ThreadPoolExecutor | None = None
        self._ingests: ThreadPoolExecutor | None = None

    def run(self, work: Sequence[tuple[int, PlanItem]], out: dict[int, Prepared]) -> None:
        # a thread waits for its wheel's compile: twice the workers keep unpacking meanwhile, so
        # the compile queue never runs dry behind a big wheel (measured: workers + 2 let it)
        threads = min(2 * self.workers + 2, MAX_INGEST_THREADS, len(work))
        siblings = [self.steps.store.sibling() for _ in range(threads)]  # made here: holder file held
        for sibling in siblings:
            self._stores.put(sibling)
        fetches = self._fetches = ThreadPoolExecutor(min(self.downloads, len(work)), "forge-fetch")
        ingests = self._ingests = ThreadPoolExecutor(threads, "forge-ingest")
        fetched: dict[int, Future[_Fetched]] = {}
        built: dict[int, _Built] = {}
        results: dict[int, Future[Prepared]] = {n: Future() for n, _ in work}
        try:
            try:
                for n, item in work:
                    fetched[n] = fetches.submit(self._fetch, item)
                for n, item in work:
                    if item.action is not Action.BUILD:
                        fetched[n].add_done_callback(functools.partial(self._fetched, item, results[n]))
                for n, item in work:  # builds here, in plan order, while the pools work
                    if item.action is Action.BUILD:
                        done = self._build(item, fetched[n], results[n])
                        if done is not None:
                            built[n] = done
                self._collect(work, fetched, built, results, out)
            except BaseException:
                self._stop()
                raise
            finally:
                fetches.shutdown(wait=True)  # then every ingest is submitted or skipped
                ingests.shutdown(wait=True)
                for future in results.values():  # what is left: builds never started
                    _settle(future, _Skipped())
            if self.stopped.is_set():
                raise _first_error([results[n] for n, _ in work])
        finally:
            if self._own_compiler:
                self.compiler.close()
            for sibling in siblings:
                sibling.close()

    def _fetch(self, item: PlanItem) -> _Fetched:
        if self.stopped.is_set():
            raise _Skipped()
        return self.steps.fetch(item)

    def _fetched(self, item: PlanItem, result: Future[Prepared], done: Future[_Fetched]) -> None:
        """A download is done (in its thread; here if it was done already): start the ingest."""
        try:
            fetched = done.result()
            self._ingest(item, fetched, _Built(fetched.source, fetched.sha), result)
        except BaseException as exc:  # handed to the collecting thread
            self._fail(result, exc)

    def _build(self, item: PlanItem, done: Future[_Fetched], result: Future[Prepared]) -> _Built | None:
        """Build (in plan order, in this thread), then hand the wheel to an ingest thread."""
        try:
            fetched = done.result()
            if self.stopped.is_set():
                raise _Skipped()
            built = self.steps.build(item, fetched)
            self._ingest(item, fetched, built, result)
        except Exception as exc:  # reported in plan order by the collecting loop
            self._fail(result, exc)
            return None
        return built

    def _ingest(self, item: PlanItem, fetched: _Fetched, built: _Built, result: Future[Prepared]) -> None:
        def task() -> None:
            try:
                if self.stopped.is_set():
                    raise _Skipped()
                store = self._stores.get()
                try:
                    prepared = self.steps.ingest(item, fetched, built, store, self.compiler)
                finally:
                    self._stores.put(store)
                _settle(result, None, prepared)
            except BaseException as exc:  # handed to the collecting thread
                self._fail(result, exc)

        assert self._ingests is not None
        with self._lock:
            if self.stopped.is_set():
                raise _Skipped()
            self._ingests.submit(task)

    def _collect(
        self,
        work: Sequence[tuple[int, PlanItem]],
        fetched: Mapping[int, Future[_Fetched]],
        built: Mapping[int, _Built],
        results: Mapping[int, Future[Prepared]],
        out: dict[int, Prepared],
    ) -> None:
        """Report each item in plan order as soon as it and those before it are done; return at
        the first failure (``stopped`` is set then)."""
        waiting = list(work)
        while waiting and not self.stopped.is_set():
            n, item = waiting[0]
            try:
                prepared = results[n].result(timeout=0.2)
            except FutureTimeout:
                continue
            except BaseException:  # a failure: _fail has stopped everything (stopping is idempotent)
                self._stop()
                return
            fetch = fetched[n].result()
            _report(self.rep, item, fetch, built.get(n, _Built(fetch.source, fetch.sha)), prepared)
            out[n] = prepared
            waiting.pop(0)

    def _fail(self, result: Future[Prepared], exc: BaseException) -> None:
        from forge_store.bytecode import CompileCancelled

        if isinstance(exc, CancelledError):
            exc = _Skipped()
        _settle(result, exc)
        if not isinstance(exc, _Skipped | CompileCancelled):
            self._stop()

    def _stop(self) -> None:
        """Stop everything: no new step starts, queued downloads are dropped, compiles killed."""
        with self._lock:
            if self.stopped.is_set():
                return
            self.stopped.set()
        self.compiler.cancel()
        if self._fetches is not None:
            self._fetches.shutdown(wait=False, cancel_futures=True)


def _settle(future: Future[Prepared], exc: BaseException | None, value: Prepared | None = None) -> None:
    with contextlib.suppress(InvalidStateError):
        if exc is not None:
            future.set_exception(exc)
        else:
            assert value is not None
            future.set_result(value)


def _first_error(results: Sequence[Future[Prepared]]) -> BaseException:
    """The first real failure in plan order (not a step skipped or a compile cancelled for it)."""
    from forge_store.bytecode import CompileCancelled

    errors = [f.exception() for f in results if f.done()]
    real = [e for e in errors if e is not None and not isinstance(e, _Skipped | CompileCancelled)]
    found = real or [e for e in errors if e is not None]
    return found[0] if found else _Skipped()


def _check_identity(item: PlanItem, entry: StoredWheel) -> None:
    """A built or fetched wheel must be the dist the resolver pinned."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    if canonicalize_name(entry.name) != item.name or Version(entry.version) != Version(item.version):
        from forge_store.errors import IntegrityError

        raise IntegrityError(
            f"{item.file.filename if item.file else item.name} produced {entry.name} {entry.version},"
            f" but {item.name} {item.version} was expected",
            hint="the project's metadata is inconsistent with its file name",
        )
