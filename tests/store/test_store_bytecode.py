"""``forge_store.bytecode``: long-lived compiler workers shared by the ingests of one operation.

The pycs must be exactly what ``py_compile`` writes (unchecked hash, the path inside the tree
as ``dfile``), however many threads share the workers; a cancel stops every compile at once and
leaves no worker behind; a worker that dies is a ``BytecodeFailed``, never a hang.
"""

from __future__ import annotations

import os
import py_compile
import signal
import threading
import time
from pathlib import Path

import pytest

from forge_store import interpreters
from forge_store.bytecode import CompileCancelled, Compiler
from forge_store.errors import BytecodeFailed

INTERP = interpreters.current()  # once: it redirects sys.stdout, which threads share
TAG = INTERP.cache_tag


def _tree(root: Path, modules: int, *, lines: int = 5) -> Path:
    for i in range(modules):
        package = root / f"pkg{i % 3}"
        package.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def f{j}(x):\n    return x + {i * j}\n" for j in range(lines))
        (package / f"m{i}.py").write_text(body)
    (root / "pkg0" / "broken.py").write_text("def (:\n")  # gets no pyc, as with compileall
    return root


def _expected(source: Path, root: Path, scratch: Path) -> bytes:
    out = scratch / "expected.pyc"
    py_compile.compile(
        str(source),
        cfile=str(out),
        dfile=os.path.relpath(source, root),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return out.read_bytes()


def _pids(compiler: Compiler) -> set[int]:
    return {
        w.proc.pid
        for pool in compiler._pools.values()
        for w in pool.workers
        if w.proc is not None and w.proc.poll() is None
    }


def test_threads_sharing_the_workers_get_the_pycs_py_compile_writes(tmp_path: Path) -> None:
    trees = [_tree(tmp_path / f"t{i}", 40 + 17 * i) for i in range(4)]
    errors: list[BaseException] = []
    with Compiler(2) as compiler:

        def run(tree: Path) -> None:
            try:
                assert compiler.compile(tree, [INTERP]) == [TAG]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(t,)) for t in trees]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        workers = _pids(compiler)
        assert errors == []
        assert 1 <= len(workers) <= 2  # long-lived: the same processes served every tree
        again = _tree(tmp_path / "again", 30)
        compiler.compile(again, [INTERP])
        assert _pids(compiler) <= workers
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for tree in [*trees, again]:
        sources = sorted(p for p in tree.rglob("*.py") if p.name != "broken.py")
        for source in sources:
            pyc = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
            assert pyc.read_bytes() == _expected(source, tree, scratch), source
        assert not list(tree.rglob(f"__pycache__/broken.{TAG}.pyc"))


def test_cancel_stops_a_running_compile_and_its_workers(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "big", 600, lines=300)
    compiler = Compiler(2)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            compiler.compile(tree, [INTERP])
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tree.rglob("__pycache__/*.pyc")):
        time.sleep(0.01)  # compiling has begun
    workers = _pids(compiler)
    assert workers
    compiler.cancel()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CompileCancelled)
    compiler.close()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(CompileCancelled):  # a cancelled compiler takes no more work
        compiler.compile(_tree(tmp_path / "late", 3), [INTERP])


def test_a_worker_killed_mid_compile_is_a_bytecode_failure(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "big", 400, lines=300)
    with Compiler(1) as compiler:
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                compiler.compile(tree, [INTERP])
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(tree.rglob("__pycache__/*.pyc")):
            time.sleep(0.01)
        (pid,) = _pids(compiler)
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], BytecodeFailed)
        assert "exited with status -9" in str(outcome[0])
        # the next compile gets a new worker
        small = _tree(tmp_path / "small", 5)
        assert compiler.compile(small, [INTERP]) == [TAG]


def test_an_interpreter_that_cannot_start_is_a_bytecode_failure_not_a_hang(tmp_path: Path) -> None:
    import dataclasses

    gone = dataclasses.replace(INTERP, executable=tmp_path / "no-such-python")
    with Compiler(2) as compiler, pytest.raises(BytecodeFailed, match="cannot start the bytecode compiler"):
        compiler.compile(_tree(tmp_path / "t", 40), [gone])
