"""Bytecode for store entries: long-lived compiler workers, one pool per target interpreter.

Usage::

    with Compiler() as compiler:               # several threads may share one
        tags = compiler.compile(site, [interp])  # blocks until every .py of ``site`` is compiled

Each worker is a process of the *target* interpreter (``python -I -c WORKER``) that compiles the
files it is sent, one request at a time, and answers with how many pycs it wrote; a pool starts
as many as the machine gives this process cores (``os.process_cpu_count`` / the affinity mask),
on first use, and keeps them for every later entry, so a cold install pays the interpreter's
start-up once per worker instead of once per wheel, and every core compiles while other threads
are still downloading and unpacking. A tree is cut into chunks of files that any idle worker
takes, first come first served, so one big wheel is spread over all cores too.

The pycs are what ``py_compile`` writes with ``--invalidation-mode unchecked-hash`` and the path
relative to the tree as ``dfile``: identical sources give identical pycs whatever the staging
path, however the work was split. The workers die with Forge (``PR_SET_PDEATHSIG``, set by the
worker itself: no ``preexec_fn`` in a threaded process); their answers are checked (a worker
that dies or says it wrote pycs that are not there is ``BytecodeFailed``, a full disk
``DiskFull``), so pyc tags are never recorded for missing files. :meth:`Compiler.cancel` fails
every queued and running request at once and kills the workers (a failure elsewhere in a
parallel install stops the compiles without waiting for them).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from . import timeline
from .errors import BytecodeFailed, StorageError, storage_error
from .models import Interpreter

__all__ = ["CompileCancelled", "Compiler", "compile_tree", "machine_cores"]

CHUNK = 16
"""Files per request: small enough to spread one wheel over every worker, big enough that the
round trip (a line each way) costs nothing next to compiling."""

WORKER = """\
import ctypes, errno, json, os, py_compile, signal, sys

def die_with_parent(parent):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

def one(root, rel):
    try:
        py_compile.compile(os.path.join(root, rel), dfile=rel, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        return 0  # a source that does not compile gets no pyc (as with compileall)
    except (SyntaxError, UnicodeError, ValueError):
        return 0
    return 1

die_with_parent(int(sys.argv[1]))
inp, out = sys.stdin.buffer, sys.stdout
while True:
    line = inp.readline()
    if not line:
        break
    root, rels = json.loads(line)
    done, failed = 0, None
    for rel in rels:
        try:
            done += one(root, rel)
        except OSError as exc:
            failed = [exc.errno or errno.EIO, f"{os.path.join(root, rel)}: {exc.strerror or exc}"]
            break
    out.write(json.dumps(failed if failed else done) + "\\n")
    out.flush()
"""


class CompileCancelled(BytecodeFailed):
    """The compile was stopped by :meth:`Compiler.cancel` (another part of the operation failed)."""

    reference = "bytecode-cancelled"


def machine_cores() -> int:
    """Cores this process may run on (its affinity mask, or cgroup-aware ``process_cpu_count``)."""
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        found = counter()
        if found:
            return int(found)
    with contextlib.suppress(AttributeError, OSError):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class _Batch:
    """The chunks of one tree for one interpreter: a countdown, a total, the first error."""

    def __init__(self, chunks: int) -> None:
        self._left = chunks
        self._lock = threading.Lock()
        self.done = threading.Event()
        self.compiled = 0
        self.error: StorageError | None = None
        if chunks == 0:
            self.done.set()

    def finish(self, compiled: int, error: StorageError | None) -> None:
        with self._lock:
            self.compiled += compiled
            if error is not None and self.error is None:
                self.error = error
            self._left -= 1
            if self._left == 0:
                self.done.set()


_Job = tuple[str, list[str], _Batch]


class _Worker(threading.Thread):
    """One compiler process and the thread that feeds it; the thread spawns the process, so the
    process's death signal is tied to a thread that lives as long as the pool."""

    def __init__(self, pool: _Pool, index: int) -> None:
        super().__init__(name=f"forge-pyc-{pool.interp.cache_tag}-{index}", daemon=True)
        self.pool = pool
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def run(self) -> None:
        jobs = self.pool.jobs
        while True:
            job = jobs.get()
            if job is None:
                break
            root, rels, batch = job
            if self.pool.cancelled.is_set():
                batch.finish(0, CompileCancelled("the bytecode compile was cancelled"))
                continue
            if batch.error is not None:  # the tree failed already: its other chunks need not run
                batch.finish(0, None)
                continue
            try:
                with timeline.span("pyc-chunk", root):
                    compiled = self._send(root, rels)
            except StorageError as exc:  # BytecodeFailed, or DiskFull & co. from the worker
                batch.finish(0, exc)
                continue
            except Exception as exc:  # never leave a waiting ingest without an answer
                interp = self.pool.interp.executable
                batch.finish(0, BytecodeFailed(f"the bytecode compiler ({interp}) failed: {exc}"))
                self._stop()
                continue
            batch.finish(compiled, None)
        self._stop()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._stop()  # the one before, if it exited after its last answer
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        # a file, not a pipe: never blocks the worker; closed with it (_stop)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [str(self.pool.interp.executable), "-I", "-c", WORKER, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
            )
        except OSError as exc:
            self._stop()
            raise BytecodeFailed(
                f"cannot start the bytecode compiler {self.pool.interp.executable}: {exc.strerror or exc}",
                hint="check that the env's interpreter still exists",
            ) from None
        return self.proc

    def _send(self, root: str, rels: list[str]) -> int:
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._spawn()
        assert proc.stdin is not None and proc.stdout is not None
        request = json.dumps([root, rels]).encode() + b"\n"  # ASCII: any file name survives
        with contextlib.suppress(OSError):  # gone already? what it said before it went counts
            proc.stdin.write(request)
            proc.stdin.flush()
        try:
            line = proc.stdout.readline()
        except OSError:
            line = b""
        if not line:
            raise self._died(proc)
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if isinstance(reply, int) and not isinstance(reply, bool):
            return reply
        if isinstance(reply, list) and len(reply) == 2:
            code, text = reply
            raise _os_fault(self.pool.interp, code if isinstance(code, int) else 0, str(text))
        raise BytecodeFailed(f"the bytecode compiler ({self.pool.interp.executable}) reported nothing")

    def _died(self, proc: subprocess.Popen[bytes]) -> StorageError:
        """The error for a worker that stopped answering (it is gone, or is killed now)."""
        if self.pool.cancelled.is_set():
            self._stop()
            return CompileCancelled("the bytecode compile was cancelled")
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # closed its output but lives on: not ours any more
            proc.kill()
            status = proc.wait()
        err = b""
        if self._stderr is not None:
            self._stderr.seek(0)
            err = self._stderr.read()[-4096:]
        self._stop()
        lines = err.decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else ""
        interp = self.pool.interp
        if status == 3 and last:
            code, _, text = last.partition(" ")
            return _os_fault(interp, int(code) if code.isdigit() else 0, text)
        return BytecodeFailed(
            f"the bytecode compiler ({interp.executable}) exited with status {status}"
            + (f": {last}" if last else ""),
            hint="run the command again; if it keeps failing, check the interpreter",
        )

    def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()

    def _stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    if stream is not None:
                        stream.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _os_fault(interp: Interpreter, code: int, text: str) -> StorageError:
    """A worker's ``OSError``: the machine's fault (``DiskFull``...) or ``BytecodeFailed``."""
    fault = storage_error(OSError(code, text))
    if fault is not None:
        return fault
    return BytecodeFailed(f"compiling bytecode with {interp.executable} failed: {text}")


class _Pool:
    def __init__(self, interp: Interpreter, size: int, cancelled: threading.Event) -> None:
        self.interp = interp
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.cancelled = cancelled
        self.workers = [_Worker(self, i) for i in range(size)]
        for worker in self.workers:
            worker.start()

    def close(self) -> None:
        for _ in self.workers:
            self.jobs.put(None)
        for worker in self.workers:
            worker.join()


class Compiler:
    """Compiler workers shared by every entry of one operation (see the module docstring);
    thread-safe. ``workers``: processes per interpreter (default: the machine's cores)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or machine_cores())
        self._pools: dict[Path, _Pool] = {}
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._closed = False

    def __enter__(self) -> Compiler:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None:  # an error or Ctrl-C: what is queued is not wanted any more
            self.cancel()
        self.close()

    def _pool(self, interp: Interpreter) -> _Pool:
        with self._lock:
            if self._closed:
                raise CompileCancelled("the bytecode compiler is closed")
            pool = self._pools.get(interp.executable)
            if pool is None:
                pool = self._pools[interp.executable] = _Pool(interp, self.workers, self._cancelled)
            return pool

    def compile(self, site: Path, interpreters: Sequence[Interpreter]) -> list[str]:
        """Compile every ``.py`` below ``site`` with each interpreter; returns their cache tags."""
        files = _sources(site)
        root = str(site)
        chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
        done: list[str] = []
        for interp in interpreters:
            if chunks:
                if self._cancelled.is_set():
                    raise CompileCancelled("the bytecode compile was cancelled")
                pool = self._pool(interp)
                batch = _Batch(len(chunks))
                for chunk in chunks:
                    pool.jobs.put((root, chunk, batch))
                batch.done.wait()
                if batch.error is not None:
                    raise batch.error
                _check_written(site, interp, batch.compiled)
            done.append(interp.cache_tag)
        return done

    def cancel(self) -> None:
        """Fail every queued and running compile now (``CompileCancelled``) and kill the workers."""
        self._cancelled.set()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            for worker in pool.workers:
                worker.kill()

    def close(self) -> None:
        """Stop the workers (after the requests already queued)."""
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def _sources(site: Path) -> list[str]:
    """Every ``.py`` below ``site`` (outside ``__pycache__``), relative to it, in walk order."""
    root = str(site)
    out: list[str] = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        out.extend(os.path.relpath(os.path.join(dirpath, n), root) for n in names if n.endswith(".py"))
    return out


def _check_written(site: Path, interp: Interpreter, expected: int) -> None:
    suffix = f".{interp.cache_tag}.pyc"
    found = sum(1 for _ in site.rglob(f"__pycache__/*{suffix}"))
    if found < expected:
        raise BytecodeFailed(
            f"the bytecode compiler ({interp.executable}) wrote {found} of {expected} pyc files",
            hint="free some space and run the command again",
        )


def compile_tree(
    site: Path, interpreters: Sequence[Interpreter], compiler: Compiler | None = None
) -> list[str]:
    """:meth:`Compiler.compile` with ``compiler``, or with workers started for this tree alone
    (one for a small tree, the machine's cores for a big one)."""
    if compiler is not None:
        return compiler.compile(site, interpreters)
    count = sum(1 for _ in site.rglob("*.py"))
    if not count:
        return [i.cache_tag for i in interpreters]
    with Compiler(min(machine_cores(), -(-count // (CHUNK * 8)))) as own:
        return own.compile(site, interpreters)
