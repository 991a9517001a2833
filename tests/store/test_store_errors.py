"""Faults of the machine, seen through the real ``forge`` CLI: each is one typed line and an exit
code, never "internal error", and nothing changes.

A read-only FORGE_HOME (reading commands still work), a catalog another process keeps locked, a
corrupt catalog, a full disk (a real tiny tmpfs where the test may mount one, else ENOSPC injected
at the OSError level in the CLI process), an env directory or a store entry deleted by hand.

Run as root and as an ordinary user (CI does both): where a mechanism differs (root ignores
modes), the test picks one that is real for the user it runs as.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from forge_store.errors import ExitCode
from forge_store.seal import is_sealed, remove_tree
from tests.support.wheels import make_wheel

IS_ROOT = os.geteuid() == 0
MAIN = "import sys; from forge_pip.cli.forge import main; sys.exit(main())"
REPO = Path(__file__).resolve().parents[2]


def forge(
    *args: str, prelude: str = "", wrap: Sequence[str] = (), extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``forge ARGS`` in a fresh process; ``prelude``: test-only Python run before ``main``
    (fault injection); ``wrap``: a command line to run it under (a mount namespace)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra or {})
    code = textwrap.dedent(prelude) + "\n" + MAIN
    return subprocess.run(
        [*wrap, sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=str(REPO),
        timeout=120,
    )


def one_line(proc: subprocess.CompletedProcess[str], code: ExitCode, *words: str) -> str:
    assert proc.returncode == int(code), (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"one line expected, got: {proc.stderr!r}"
    line = lines[0]
    assert "Traceback" not in proc.stderr and "internal error" not in line, line
    for word in words:
        assert word in line, (word, line)
    return line


def pip_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """``forge pip`` fails as pip does: exit 1, an ``ERROR:`` line, then at most a ``hint:`` line
    (Forge's finer exit code is for ``forge`` itself)."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[0].startswith("ERROR: "), proc.stderr
    assert all(line.startswith("hint: ") for line in lines[1:]) and len(lines) <= 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    return lines[0]


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def snapshot(home: Path) -> dict[str, str]:
    """Every path below ``home`` (but the lock files and the catalog's WAL) -> link target/size,
    plus what the catalog says."""
    out: dict[str, str] = {}
    for path in sorted(home.rglob("*")):
        rel = str(path.relative_to(home))
        if rel.startswith("locks") or rel.startswith("catalog.sqlite3") or rel.startswith("cache"):
            continue
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = str(path.stat().st_size)
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def demo(forge_home: Path, wheel_dir: Path) -> dict[str, Path]:
    """Env ``x`` with demo 1.0 linked; the wheels of demo 1.0 and 2.0 and of ``other``."""
    wheels = {
        "demo1": make_wheel(wheel_dir, "demo", "1.0", files={"demo/__init__.py": "V = 1\n"}),
        "demo2": make_wheel(wheel_dir, "demo", "2.0", files={"demo/__init__.py": "V = 2\n"}),
        "other": make_wheel(wheel_dir, "other", "1.0", files={"other/__init__.py": "O = 1\n"}),
    }
    ok(forge("create", "x"))
    ok(forge("install", str(wheels["demo1"]), "--env", "x"))
    return wheels


def _entry_dir(home: Path, name: str) -> Path:
    doc = json.loads(ok(forge("list", "--env", "x", "--json")))
    entry = next(p["entry"] for p in doc["packages"] if p["name"] == name)
    return home / "store" / entry[:16]


# -- read-only FORGE_HOME ---------------------------------------------------------------------


def _can_unshare_mount() -> bool:
    if not IS_ROOT or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "none", "/mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _set_flag_tree(home: Path, on: bool) -> None:
    flag = "+i" if on else "-i"
    paths = [str(p) for p in [home, *home.rglob("*")] if not p.is_symlink()]
    subprocess.run(["chattr", "-f", flag, *paths], capture_output=True, check=False)


@contextlib.contextmanager
def read_only_home(home: Path) -> Iterator[tuple[str, ...]]:
    """Make ``home`` read-only for this user; yields the wrapper to run commands under.

    As root, modes mean nothing: a read-only bind mount in a private mount namespace (what a
    read-only volume is), else the immutable flag on every file and directory. As an ordinary
    user: ``chmod a-w`` on every directory and the catalog."""
    if _can_unshare_mount():
        script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        yield ("unshare", "-m", "--propagation", "private", "sh", "-c", script, str(home))
        return
    if IS_ROOT:
        if shutil.which("chattr") is None:
            pytest.skip("root without unshare/mount or chattr cannot make a directory read-only")
        _set_flag_tree(home, True)
        try:
            yield ()
        finally:
            _set_flag_tree(home, False)
        return
    paths = [
        p for p in [home, *home.rglob("*")] if not p.is_symlink() and (p.is_dir() or p.suffix == ".sqlite3")
    ]
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(modes[p] & ~0o222)
    try:
        yield ()
    finally:
        for p in reversed(paths):
            p.chmod(modes[p])


def test_read_only_home_reads_work_and_writes_say_why(forge_home: Path, demo: dict[str, Path]) -> None:
    ok(forge("install", str(demo["other"]), "--env", "x"))
    forge("envs")  # a clean close: the WAL is checkpointed and its files removed
    before = snapshot(forge_home)
    with read_only_home(forge_home) as wrap:
        assert "x" in ok(forge("envs", wrap=wrap))
        assert "demo" in ok(forge("list", "--env", "x", wrap=wrap))
        assert "demo==1.0" in ok(forge("export", "--env", "x", wrap=wrap))
        listed = ok(forge("pip", "list", "--env", "x", wrap=wrap))
        assert "demo" in listed and "other" in listed
        assert "demo" in ok(forge("pip", "freeze", "--env", "x", wrap=wrap))
        assert "Version: 1.0" in ok(forge("pip", "show", "--env", "x", "demo", wrap=wrap))
        assert "x" in ok(forge("du", wrap=wrap))
        for args in (
            ("create", "y"),
            ("install", str(demo["demo2"]), "--env", "x"),
            ("uninstall", "demo", "--env", "x"),
            ("remove", "x"),
            ("gc",),
        ):
            one_line(forge(*args, wrap=wrap), ExitCode.STORAGE, "read-only", "FORGE_HOME")
        proc = forge(
            "pip",
            "install",
            "--env",
            "x",
            "--no-index",
            "-f",
            str(demo["demo2"].parent),
            "demo==2.0",
            wrap=wrap,
        )
        pip_error(proc, "read-only")
    assert snapshot(forge_home) == before


# -- a catalog or lock file held by another process -------------------------------------------


@contextlib.contextmanager
def holding(code: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``code`` in another process until it prints ``ready``; it is killed on exit."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(code) + "\nprint('ready', flush=True)\nimport time; time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_catalog_locked_by_another_process(forge_home: Path, demo: dict[str, Path]) -> None:
    writer = f"""
        import sqlite3
        db = sqlite3.connect({str(forge_home / "catalog.sqlite3")!r}, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO file_hashes VALUES ('/x', 1, 1, 1, 'ab')")
    """
    reader = f"""
        import sqlite3
        db = sqlite3.connect({str(forge_home / "catalog.sqlite3")!r}, isolation_level=None)
        db.execute("BEGIN")
        db.execute("SELECT * FROM envs").fetchall()
    """
    with holding(reader) as bystander, holding(writer) as holder:
        start = time.monotonic()
        proc = forge("create", "y", extra={"FORGE_LOCK_TIMEOUT": "1"})
        took = time.monotonic() - start
        line = one_line(
            proc, ExitCode.LOCKED, "catalog", "locked", f"pid {holder.pid}", "1s", "FORGE_LOCK_TIMEOUT"
        )
        assert f"pid {bystander.pid}" not in line, "a reader does not hold the lock"
        assert took < 8, f"gave up after {took:.1f}s, not after the 1 s asked for"
        assert "x" in ok(forge("envs")), "readers are not blocked by a writer"
    assert not (forge_home / "envs" / "y").exists()
    ok(forge("create", "y"))


def test_lock_file_held_by_another_process(forge_home: Path, demo: dict[str, Path]) -> None:
    lock = forge_home / "locks" / "env-x.lock"
    locker = f"""
        import fcntl, os
        fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
    """
    before = snapshot(forge_home)
    with holding(locker) as holder:
        start = time.monotonic()
        proc = forge("install", str(demo["demo2"]), "--env", "x", extra={"FORGE_LOCK_TIMEOUT": "0.5"})
        took = time.monotonic() - start
        one_line(proc, ExitCode.LOCKED, "env-x lock", f"pid {holder.pid}", "0.5s")
        assert took < 8
    after = snapshot(forge_home)
    new = {k for k in after.keys() - before.keys() if not k.startswith("store/")}
    assert new == set(), new
    assert "demo==1.0" in ok(forge("export", "--env", "x"))


def test_default_lock_timeout_is_short_and_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    from forge_store.locks import default_timeout
    from forge_store.store import Store

    monkeypatch.delenv("FORGE_LOCK_TIMEOUT", raising=False)
    assert default_timeout() == 10.0
    assert Store("/nonexistent").lock_timeout == 10.0
    monkeypatch.setenv("FORGE_LOCK_TIMEOUT", "2.5")
    assert Store("/nonexistent").lock_timeout == 2.5
    monkeypatch.setenv("FORGE_LOCK_TIMEOUT", "soon")
    assert default_timeout() == 10.0


# -- a corrupt catalog ------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "torn-pages"])
def test_corrupt_catalog_is_one_line_with_a_remedy(
    forge_home: Path, demo: dict[str, Path], damage: str
) -> None:
    ok(forge("envs"))
    path = forge_home / "catalog.sqlite3"
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data = bytearray(b"this is not a database" * 100)
    else:  # keep the header, overwrite the pages after the first
        for i in range(4096, len(data)):
            data[i] = (i * 7) & 0xFF
    path.write_bytes(bytes(data))
    for args in (("envs",), ("list", "--env", "x"), ("install", str(demo["demo2"]), "--env", "x")):
        line = one_line(forge(*args), ExitCode.INTEGRITY, str(path), "corrupt", "mv ")
        assert "forge doctor" not in line and "forge repair" not in line
    proc = forge("pip", "list", "--env", "x")
    pip_error(proc, "corrupt")


# -- a full disk ------------------------------------------------------------------------------

INJECT_ENOSPC_WRITE = """
    import errno, forge_store.ingest as ing
    _write = ing.StoreDestination.write_to_fs
    class _Filling:
        # the disk fills after the first 1000 bytes of blob.bin: a partial file is left behind
        def __init__(self, stream):
            self.stream, self.given = stream, 0
        def read(self, n=-1):
            if self.given:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.given = 1
            return self.stream.read(1000)
    def _full(self, scheme, path, stream, is_executable):
        if path.endswith("blob.bin"):
            stream = _Filling(stream)
        return _write(self, scheme, path, stream, is_executable)
    ing.StoreDestination.write_to_fs = _full
"""
INJECT_ENOSPC_SYMLINK = """
    import errno, os
    _symlink, _calls = os.symlink, [0]
    def _full(src, dst, *a, **k):
        _calls[0] += 1
        if _calls[0] > 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return _symlink(src, dst, *a, **k)
    os.symlink = _full
"""


def _big_wheel(directory: Path, size: int) -> Path:
    return make_wheel(
        directory, "big", "1.0", files={"big/__init__.py": "", "big/blob.bin": os.urandom(size)}
    )


def _many_wheel(directory: Path) -> Path:
    return make_wheel(directory, "many", "1.0", files={f"m{i}/__init__.py": f"I = {i}\n" for i in range(40)})


def _assert_unchanged(home: Path, before: dict[str, str]) -> None:
    after = snapshot(home)
    assert after == before, {k: (before.get(k), after.get(k)) for k in before.keys() ^ after.keys()}
    assert list((home / "tmp").iterdir()) == []
    doc = json.loads(ok(forge("list", "--env", "x", "--json")))
    assert [p["name"] for p in doc["packages"]] == ["demo"]


def test_disk_full_during_ingest_injected(forge_home: Path, demo: dict[str, Path], wheel_dir: Path) -> None:
    big = _big_wheel(wheel_dir, 200_000)
    before = snapshot(forge_home)
    proc = forge("install", str(big), "--env", "x", prelude=INJECT_ENOSPC_WRITE)
    one_line(proc, ExitCode.STORAGE, "no space left on device")
    _assert_unchanged(forge_home, before)


def test_disk_full_while_linking_injected(forge_home: Path, demo: dict[str, Path], wheel_dir: Path) -> None:
    many = _many_wheel(wheel_dir)
    before = snapshot(forge_home)
    proc = forge("install", str(many), "--env", "x", prelude=INJECT_ENOSPC_SYMLINK)
    one_line(proc, ExitCode.STORAGE, "no space left on device", "site-packages")
    _assert_unchanged(forge_home, before)


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str, inodes: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root (the injected variants run for everyone)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},nr_inodes={inodes}", "forge-test", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()!r}")
    try:
        yield where
    finally:
        remove_tree(where / "home")
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(directory: Path, *, leave_bytes: int | None = None, leave_inodes: int | None = None) -> None:
    """Use up a filesystem's space (or inodes) until only about that much is left."""
    directory.mkdir()
    st = os.statvfs(directory)
    if leave_bytes is not None:
        free = st.f_bavail * st.f_frsize - leave_bytes
        with open(directory / "filler", "wb") as f:
            while free > 0:
                chunk = min(free, 1 << 20)
                f.write(b"\0" * chunk)
                free -= chunk
    if leave_inodes is not None:
        for i in range(st.f_favail - leave_inodes):
            (directory / f"i{i}").touch()


def test_disk_full_on_a_real_tiny_filesystem(
    tmp_path: Path, wheel_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4 MB tmpfs as FORGE_HOME: a wheel that does not fit, then links that find no inode left."""
    with tiny_tmpfs(tmp_path / "tiny", "4m", 400) as mnt:
        home = mnt / "home"
        monkeypatch.setenv("FORGE_HOME", str(home))
        demo = make_wheel(wheel_dir, "demo", "1.0")
        ok(forge("create", "x"))
        ok(forge("install", str(demo), "--env", "x"))
        many = _many_wheel(wheel_dir)
        from forge_store.store import Store

        with Store(home) as store:  # in the store (no links yet): only linking needs inodes now
            store.add_wheel(many)
            store.release()
        forge("envs")
        before = snapshot(home)
        _fill(mnt / "fill", leave_bytes=600_000)
        proc = forge("install", str(_big_wheel(wheel_dir, 1_500_000)), "--env", "x")
        one_line(proc, ExitCode.STORAGE, "no space left on device")
        _assert_unchanged(home, before)
        shutil.rmtree(mnt / "fill")
        _fill(mnt / "fill", leave_inodes=8)
        proc = forge("install", str(many), "--env", "x")
        one_line(proc, ExitCode.STORAGE, "no space left on device")
        _assert_unchanged(home, before)


# -- deleted by hand --------------------------------------------------------------------------


def test_deleted_env_dir(forge_home: Path, demo: dict[str, Path]) -> None:
    shutil.rmtree(forge_home / "envs" / "x")
    for args in (
        ("install", str(demo["demo2"]), "--env", "x"),
        ("uninstall", "demo", "--env", "x"),
    ):
        one_line(forge(*args), ExitCode.NOT_FOUND, "env 'x'", "is gone", "forge remove x", "forge create x")
    found = str(demo["demo2"].parent)
    for args in (
        ("pip", "install", "--env", "x", "--no-index", "-f", found, "demo==2.0"),
        ("pip", "uninstall", "-y", "--env", "x", "demo"),
        ("pip", "list", "--env", "x"),
        ("pip", "show", "--env", "x", "demo"),
        ("pip", "freeze", "--env", "x"),
    ):
        proc = forge(*args)
        assert proc.stdout == "", args
        pip_error(proc, "is gone", "forge remove x")
    assert "demo" in ok(forge("list", "--env", "x")), "reading the catalog still works"
    # the remedy the hint names works
    ok(forge("remove", "x"))
    ok(forge("create", "x"))
    ok(forge("install", str(demo["demo2"]), "--env", "x"))


def test_deleted_store_entry_is_named_and_restored(forge_home: Path, demo: dict[str, Path]) -> None:
    entry = _entry_dir(forge_home, "demo")
    remove_tree(entry)
    line = one_line(
        forge("install", str(demo["demo2"]), "--env", "x"), ExitCode.INTEGRITY, str(entry), "demo 1.0"
    )
    assert "forge pip install --env x --force-reinstall demo==1.0" in line
    assert not entry.exists()
    # the remedy: installing the same wheel again (here into another env) unpacks it again
    ok(forge("create", "y"))
    out = ok(forge("install", str(demo["demo1"]), "--env", "y"))
    assert "store: new" in out
    assert entry.is_dir() and is_sealed(entry)
    python = forge_home / "envs" / "x" / "bin" / "python"
    got = subprocess.run([str(python), "-c", "import demo; print(demo.V)"], capture_output=True, text=True)
    assert got.stdout.strip() == "1", got.stderr
    ok(forge("install", str(demo["demo2"]), "--env", "x"))


def test_deleted_store_entry_restored_by_force_reinstall(forge_home: Path, demo: dict[str, Path]) -> None:
    entry = _entry_dir(forge_home, "demo")
    remove_tree(entry)
    found = str(demo["demo1"].parent)
    ok(forge("pip", "install", "--env", "x", "--no-index", "-f", found, "--force-reinstall", "demo==1.0"))
    assert entry.is_dir() and is_sealed(entry)
    ok(forge("pip", "install", "--env", "x", "--no-index", "-f", found, "demo==2.0"))


# -- every hint names a command that exists ---------------------------------------------------


def test_hints_name_only_commands_that_exist() -> None:
    import ast
    import re

    from forge_pip.cli.forge import _build_parser
    from forge_pip.cli.pip import COMMANDS

    parser = _build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    forge_commands = set(sub.choices)  # type: ignore[arg-type]
    bad: list[str] = []
    for package in ("forge_store", "forge_pip"):
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.keyword) or node.arg != "hint":
                    continue
                text = " ".join(
                    c.value
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
                for cmd in re.findall(r"\bforge ([a-z][a-z-]*)", text):
                    if cmd not in forge_commands:
                        bad.append(f"{path.name}:{node.value.lineno}: forge {cmd}")
                for cmd in re.findall(r"\bforge pip ([a-z][a-z-]*)", text):
                    if cmd not in COMMANDS:
                        bad.append(f"{path.name}:{node.value.lineno}: forge pip {cmd}")
    assert bad == []


# -- the CLI's last line of defence -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (
            PermissionError(13, "Permission denied", "/h/store/x"),
            ExitCode.STORAGE,
            "permission denied: /h/store/x",
        ),
        (OSError(1, "Operation not permitted", "/h/a", None, "/h/b"), ExitCode.STORAGE, "/h/a -> /h/b"),
        (OSError(30, "Read-only file system", "/h/tmp"), ExitCode.STORAGE, "read-only file system"),
        (OSError(28, "No space left on device"), ExitCode.STORAGE, "no space left on device"),
        (OSError(122, "Disk quota exceeded", "/h"), ExitCode.STORAGE, "disk quota exceeded"),
        (OSError(5, "Input/output error", "/h"), ExitCode.STORAGE, "input/output error"),
        ("sqlite-locked", ExitCode.LOCKED, "is locked"),
        ("sqlite-corrupt", ExitCode.INTEGRITY, "is corrupt"),
        ("sqlite-readonly", ExitCode.STORAGE, "read-only"),
        ("sqlite-full", ExitCode.STORAGE, "no space left"),
        ("wrapped", ExitCode.STORAGE, "no space left on device"),
    ],
)
def test_faults_of_the_machine_that_reach_the_cli_are_typed(
    fault: BaseException | str, code: ExitCode, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from forge_pip.cli.common import run_guarded

    raised: BaseException
    if fault == "sqlite-locked":
        raised = sqlite3.OperationalError("database is locked")
    elif fault == "sqlite-corrupt":
        raised = sqlite3.DatabaseError("database disk image is malformed")
    elif fault == "sqlite-readonly":
        raised = sqlite3.OperationalError("attempt to write a readonly database")
    elif fault == "sqlite-full":
        raised = sqlite3.OperationalError("database or disk is full")
    elif fault == "wrapped":  # an OSError turned into something else on the way up
        try:
            try:
                raise OSError(28, "No space left on device")
            except OSError as exc:
                raise RuntimeError("copy failed") from exc
        except RuntimeError as exc:
            raised = exc
    else:
        assert isinstance(fault, BaseException)
        raised = fault

    def body() -> int:
        raise raised

    assert run_guarded("forge", body) == int(code)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "internal error" not in err and words in err, err


def test_a_real_bug_is_still_an_internal_error(capsys: pytest.CaptureFixture[str]) -> None:
    from forge_pip.cli.common import run_guarded

    def body() -> int:
        raise KeyError("oops")

    assert run_guarded("forge", body) == int(ExitCode.ERROR)
    assert "internal error: KeyError" in capsys.readouterr().err
    with pytest.raises(KeyError):
        run_guarded("forge", body, verbose=1)

    def handling() -> int:
        try:
            raise PermissionError(13, "Permission denied", "/x")
        except PermissionError:
            return int(undefined)  # type: ignore[name-defined]  # noqa: F821

    assert run_guarded("forge", handling) == int(ExitCode.ERROR), "a bug while handling one"
    assert "internal error: NameError" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):  # ENOENT is no fault of the machine: a bug until named
        run_guarded("forge", lambda: int(open("/nonexistent/x").read()), verbose=1)  # noqa: SIM115
