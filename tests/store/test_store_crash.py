"""kill -9 at every named fault point of every mutation, through the real CLI: the next command
heals, every env imports exactly what its catalog links, re-running the killed command yields
the state it asked for, and nothing is left behind (staging, journals, trash, leases, intents).

Plus a Hypothesis state machine over random create / install / uninstall / remove / gc / kill
sequences, and the concurrency cases (one wheel ingested by two processes at once: one unpack).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from forge_store.seal import remove_tree
from tests.store.crash_support import CLI, REPO, catalog_view, cli_env, forge, problems
from tests.support.wheels import make_wheel

MODULES = ("alpha", "beta", "gamma", "delta")
KILLED = -signal.SIGKILL


def _wheels(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(MODULES):
        files = {f"{name}/__init__.py": f"VERSION = '1.{i}'\n", f"{name}/sub/m.py": "X = 1\n"}
        out[name] = make_wheel(directory, name, f"1.{i}", files=files)
    return out


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (proc.args[3:], proc.stdout, proc.stderr)


def _killed(proc: subprocess.CompletedProcess[str], point: str) -> None:
    assert proc.returncode == KILLED, f"{point} was not reached: {proc.returncode} {proc.stderr}"


@pytest.fixture
def wheels(tmp_path: Path) -> dict[str, Path]:
    return _wheels(tmp_path / "wheels")


def _healthy(home: Path) -> None:
    found = problems(home, MODULES)
    assert not found, "\n".join(found)


INSTALL_POINTS = [
    "ingest-intent",
    "ingest-unpacked",
    "ingest-compiled",
    "publish-rename",
    "publish-renamed",
    "publish-committed",
    "change-intent",
    "link-op@1",
    "link-op@4",
    "link-op@9",
    "change-linked",
    "change-committed",
]


@pytest.mark.parametrize("point", INSTALL_POINTS)
def test_install_killed_at_each_point(forge_home: Path, wheels: dict[str, Path], point: str) -> None:
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["alpha"])))
    args = ("install", "--env", "e", str(wheels["beta"]), str(wheels["gamma"]))
    _killed(forge(forge_home, *args, fault=f"{point}:kill"), point)
    # the next command (another env, any lock) heals; the env matches its catalog
    _ok(forge(forge_home, "create", "other"))
    _healthy(forge_home)
    _ok(forge(forge_home, *args))  # the killed command, again
    _healthy(forge_home)
    assert catalog_view(forge_home)["e"] == {"alpha": "1.0", "beta": "1.1", "gamma": "1.2"}


@pytest.mark.parametrize(
    "point", ["change-intent", "link-op@1", "link-op@3", "change-linked", "change-committed"]
)
def test_uninstall_killed_at_each_point(forge_home: Path, wheels: dict[str, Path], point: str) -> None:
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", *map(str, wheels.values())))
    args = ("uninstall", "--env", "e", "beta", "gamma")
    _killed(forge(forge_home, *args, fault=f"{point}:kill"), point)
    again = forge(forge_home, *args)  # heals under the env lock, then does it
    _ok(again)  # as pip: names already uninstalled are skipped with a warning
    if point == "change-committed":  # the change was recorded: it is done
        assert "not installed" in again.stderr, again.stderr
    _healthy(forge_home)
    assert catalog_view(forge_home)["e"] == {"alpha": "1.0", "delta": "1.3"}
    # the bug this replaces: an install after a killed uninstall said "already linked"
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["beta"])))
    _healthy(forge_home)


@pytest.mark.parametrize("point", ["create-intent", "create-written", "create-renamed", "create-committed"])
def test_create_killed_at_each_point(forge_home: Path, point: str) -> None:
    _ok(forge(forge_home, "create", "seed"))
    _killed(forge(forge_home, "create", "e", fault=f"{point}:kill"), point)
    again = forge(forge_home, "create", "e")
    if point == "create-committed":
        assert again.returncode != 0 and "already exists" in again.stderr
    else:
        _ok(again)
    _healthy(forge_home)
    assert "e" in catalog_view(forge_home)
    _ok(forge(forge_home, "remove", "e"))
    _healthy(forge_home)


@pytest.mark.parametrize("point", ["create-written", "create-renamed"])
def test_killed_create_leaves_a_name_remove_accepts_too(forge_home: Path, point: str) -> None:
    _killed(forge(forge_home, "create", "e", fault=f"{point}:kill"), point)
    gone = forge(forge_home, "remove", "e")  # finishes the rollback: nothing is left to remove
    assert gone.returncode == 0 or "no env named" in gone.stderr, gone.stderr
    _healthy(forge_home)
    _ok(forge(forge_home, "create", "e"))
    _healthy(forge_home)


@pytest.mark.parametrize("point", ["remove-intent", "remove-moved", "remove-committed", "remove-deleted"])
def test_remove_killed_at_each_point(forge_home: Path, wheels: dict[str, Path], point: str) -> None:
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["alpha"])))
    _killed(forge(forge_home, "remove", "e", fault=f"{point}:kill"), point)
    _ok(forge(forge_home, "remove", "e"))  # rolled forward: the env is gone either way
    _healthy(forge_home)
    assert "e" not in catalog_view(forge_home)
    _ok(forge(forge_home, "create", "e"))
    _healthy(forge_home)


@pytest.mark.parametrize("point", ["gc-intent", "gc-move@1", "gc-move@2", "gc-committed"])
def test_gc_killed_at_each_point(forge_home: Path, wheels: dict[str, Path], point: str) -> None:
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", *map(str, wheels.values())))
    _ok(forge(forge_home, "uninstall", "--env", "e", "beta", "gamma"))
    _killed(forge(forge_home, "gc", "--grace", "0", fault=f"{point}:kill"), point)
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["beta"])))  # heals first
    _healthy(forge_home)
    _ok(forge(forge_home, "gc", "--grace", "0"))
    _healthy(forge_home)
    assert sorted(p.name for p in (forge_home / "trash").glob("*")) == []
    with_entries = sorted(p.name for p in (forge_home / "store").iterdir() if not p.name.startswith("."))
    assert len(with_entries) == 3  # alpha, beta, delta


def test_dead_leases_and_old_staging_are_swept(forge_home: Path, wheels: dict[str, Path]) -> None:
    """Leftovers of older Forge versions, which recorded no intents, are swept by the store lock."""
    _ok(forge(forge_home, "create", "e"))
    (forge_home / "tmp" / "ingest-0123456789abcdef").mkdir(parents=True)
    (forge_home / "tmp" / "ingest-0123456789abcdef" / "junk").write_bytes(b"x" * 1000)
    (forge_home / "envs" / ".e.forge-rm-deadbeef").mkdir()
    (forge_home / "envs" / "e" / ".forge-txn-0123456789ab").mkdir()
    _killed(forge(forge_home, "install", "--env", "e", str(wheels["alpha"]), fault="change-linked:kill"), "x")
    stale_locks = [
        forge_home / "locks" / f"ingest-{'0' * 64}.lock",
        forge_home / "locks" / "holders" / "1-x.lock",
    ]
    for lock in stale_locks:
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.touch()
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["beta"])))  # cold ingest: store lock
    _healthy(forge_home)
    assert not [p for p in stale_locks if p.exists()]
    assert not list((forge_home / "locks").glob("ingest-*"))


def test_the_bytecode_compiler_dies_with_forge(forge_home: Path, tmp_path: Path) -> None:
    """SIGKILL of Forge mid-compile takes the compiler (and its workers) with it."""
    files = {f"big/m{i}.py": "X = 1\n" * 2000 for i in range(600)}
    wheel = make_wheel(tmp_path, "big", "1.0", files=files)
    sync = tmp_path / "sync"
    env = cli_env(forge_home, "ingest-unpacked:log", {"FORGE_TEST_FAULT_SYNC": str(sync)})
    _ok(forge(forge_home, "create", "e"))
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "e", str(wheel)],
        env=env,
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        if sync.exists() and "ingest-unpacked" in sync.read_text():
            children = _descendants(proc.pid)
        time.sleep(0.02)
    assert children, "the compiler never started"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)], "compiler processes outlived Forge"
    _ok(forge(forge_home, "install", "--env", "e", str(wheel)))


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
            out.extend(_descendants(int(entry.name)))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_processes_ingesting_one_wheel_unpack_it_once(forge_home: Path, wheels: dict[str, Path]) -> None:
    _ok(forge(forge_home, "create", "a"))
    _ok(forge(forge_home, "create", "b"))
    sync = forge_home.parent / "sync"
    common = {"FORGE_TEST_FAULT_SYNC": str(sync)}
    first = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "a", str(wheels["alpha"])],
        env=cli_env(forge_home, "ingest-unpack:log,ingest-unpacked:pause", common),
        cwd=str(REPO),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(sync, "ingest-unpacked")
    second = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "b", str(wheels["alpha"])],
        env=cli_env(forge_home, "ingest-unpack:log,ingest-lock-wait:log", common),
        cwd=str(REPO),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(sync, "ingest-lock-wait")
    Path(f"{sync}.go").touch()
    for proc in (first, second):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sync.read_text().count("ingest-unpack ") == 1, sync.read_text()
    with_entries = [p for p in (forge_home / "store").iterdir() if not p.name.startswith(".")]
    assert len(with_entries) == 1
    _healthy(forge_home)


def _wait_for(sync: Path, line: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sync.exists() and f"{line} " in sync.read_text():
            return
        time.sleep(0.01)
    raise AssertionError(f"{line} never reached")


def test_many_installers_at_once(forge_home: Path, wheels: dict[str, Path]) -> None:
    """N installers into N envs and several into one env: no errors, one entry per wheel."""
    names = [f"e{i}" for i in range(4)]
    for name in names:
        _ok(forge(forge_home, "create", name))
    jobs = [*names, "e0", "e0"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLI, "install", "--env", name, *map(str, wheels.values())],
            env=cli_env(forge_home),
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in jobs
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (out, err)
    with_entries = [p for p in (forge_home / "store").iterdir() if not p.name.startswith(".")]
    assert len(with_entries) == len(wheels)
    _healthy(forge_home)


# -- a state machine over random sequences, with kills at random points ----------------------

KILL_POINTS = [*INSTALL_POINTS, "create-written", "create-renamed", "remove-moved", "remove-committed"]
KILL_POINTS += ["gc-move@1", "gc-committed"]


class CrashMachine(RuleBasedStateMachine):
    """After every step: every env imports exactly its catalog's links, refcounts equal links,
    nothing is left behind (a linked entry never collected: the import check would fail)."""

    home: Path
    wheels: dict[str, Path]

    @initialize()
    def start(self) -> None:
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="forge-crash-"))
        self.home = self.root / "home"
        self.wheels = _wheels(self.root / "wheels")
        self.envs: set[str] = set()

    def teardown(self) -> None:
        if hasattr(self, "root"):
            remove_tree(self.root)

    @rule(name=st.sampled_from(["a", "b", "c"]))
    def create(self, name: str) -> None:
        proc = forge(self.home, "create", name)
        assert proc.returncode == 0 or (name in self.envs and "already exists" in proc.stderr), proc.stderr
        self.envs.add(name)

    @rule(name=st.sampled_from(["a", "b", "c"]), dists=st.sets(st.sampled_from(MODULES), min_size=1))
    def install(self, name: str, dists: set[str]) -> None:
        proc = forge(self.home, "install", "--env", name, *(str(self.wheels[d]) for d in sorted(dists)))
        assert proc.returncode == 0 or name not in self.envs, proc.stderr

    @rule(name=st.sampled_from(["a", "b", "c"]), dist=st.sampled_from(MODULES))
    def uninstall(self, name: str, dist: str) -> None:
        forge(self.home, "uninstall", "--env", name, dist)  # "not installed" is fine

    @rule(name=st.sampled_from(["a", "b", "c"]))
    def remove(self, name: str) -> None:
        proc = forge(self.home, "remove", name)
        assert proc.returncode == 0 or name not in self.envs, proc.stderr
        self.envs.discard(name)

    @rule()
    def gc(self) -> None:
        _ok(forge(self.home, "gc", "--grace", "0"))

    @rule(
        point=st.sampled_from(KILL_POINTS),
        name=st.sampled_from(["a", "b", "c"]),
        dists=st.sets(st.sampled_from(MODULES), min_size=1),
    )
    def kill(self, point: str, name: str, dists: set[str]) -> None:
        kind = point.split("-")[0]
        wheels = [str(self.wheels[d]) for d in sorted(dists)]
        args = {
            "create": ("create", name),
            "remove": ("remove", name),
            "gc": ("gc", "--grace", "0"),
        }.get(kind, ("install", "--env", name, *wheels))
        proc = forge(self.home, *args, fault=f"{point}:kill")
        if proc.returncode == KILLED and kind == "remove":
            self.envs.discard(name)
        # the next command heals (gc takes the store lock: every dead intent)
        _ok(forge(self.home, "gc", "--grace", "0"))
        self.envs = set(catalog_view(self.home)) if (self.home / "catalog.sqlite3").exists() else set()

    @invariant()
    def healthy(self) -> None:
        if hasattr(self, "home"):
            _healthy(self.home)


CrashMachine.TestCase.settings = settings(
    max_examples=6,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
test_random_sequences_with_kills = CrashMachine.TestCase


@pytest.fixture(autouse=True)
def _no_fault_in_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORGE_TEST_FAULT", raising=False)
    os.environ.pop("FORGE_TEST_FAULT_SYNC", None)


def _forget_pycs(home: Path) -> None:
    """Make the catalog believe no entry has bytecode, as if each served a new interpreter."""
    import sqlite3

    with sqlite3.connect(home / "catalog.sqlite3") as db:
        db.execute("UPDATE entries SET pyc_tags = ''")


def _pycs(home: Path) -> list[Path]:
    return sorted((home / "store").glob("*/site/**/__pycache__/*.pyc"))


def test_bytecode_for_a_new_interpreter_compiles_outside_the_store_lock(
    forge_home: Path, wheels: dict[str, Path]
) -> None:
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["alpha"])))
    _forget_pycs(forge_home)
    sync = forge_home.parent / "sync"
    _ok(forge(forge_home, "create", "f"))
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "f", str(wheels["alpha"])],
        env=cli_env(forge_home, "pyc-compiled:pause", {"FORGE_TEST_FAULT_SYNC": str(sync)}),
        cwd=str(REPO),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(sync, "pyc-compiled")
    # the compile is done and not yet moved in: the store lock is free meanwhile
    quick = forge(forge_home, "gc", "--grace", "0", extra={"FORGE_LOCK_TIMEOUT": "1"})
    assert quick.returncode == 0, quick.stderr
    Path(f"{sync}.go").touch()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    _healthy(forge_home)
    import sqlite3

    with sqlite3.connect(forge_home / "catalog.sqlite3") as db:
        assert [r[0] for r in db.execute("SELECT pyc_tags FROM entries")] == [sys.implementation.cache_tag]
    assert _pycs(forge_home)


@pytest.mark.parametrize("point", ["pyc-intent", "pyc-compiled", "pyc-moved"])
def test_bytecode_update_killed_at_each_point(forge_home: Path, wheels: dict[str, Path], point: str) -> None:
    from forge_store.seal import is_sealed

    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["alpha"])))
    _ok(forge(forge_home, "create", "f"))
    _forget_pycs(forge_home)
    args = ("install", "--env", "f", str(wheels["alpha"]))
    _killed(forge(forge_home, *args, fault=f"{point}:kill"), point)
    _ok(forge(forge_home, *args))
    _healthy(forge_home)
    entry = next(p for p in (forge_home / "store").iterdir() if not p.name.startswith("."))
    assert is_sealed(entry)
    assert _pycs(forge_home)


def _fake_compiler(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("exit 1", "exited with status 1"),
        ("kill -9 $$", "exited with status -9"),
        ("echo 3", "wrote 0 of 3 pyc files"),  # says it wrote pycs that are not there
        ("echo '28 /x/y.py: No space left on device' >&2; exit 3", "no space left on device"),
    ],
)
def test_a_failing_compiler_records_no_pyc_tags(tmp_path: Path, body: str, message: str) -> None:
    import dataclasses

    from forge_store import ingest, interpreters
    from forge_store.errors import StorageError

    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("X = 1\n")
    fake = dataclasses.replace(interpreters.current(), executable=_fake_compiler(tmp_path, body))
    with pytest.raises(StorageError, match=message):
        ingest.compile_bytecode(site, [fake])


def test_a_change_committed_by_a_process_that_then_died_is_kept(
    forge_home: Path, wheels: dict[str, Path]
) -> None:
    """The healer listed the intent while it was "started"; its holder then committed and died.
    The healer must act on what the intent is when it gets the lock (keep the change), not on
    what it listed (undo it)."""
    _ok(forge(forge_home, "create", "e"))
    sync_a, sync_b = forge_home.parent / "sync-a", forge_home.parent / "sync-b"
    installer = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "e", str(wheels["beta"])],
        env=cli_env(
            forge_home, "change-linked:pause,change-committed:kill", {"FORGE_TEST_FAULT_SYNC": str(sync_a)}
        ),
        cwd=str(REPO),
    )
    _wait_for(sync_a, "change-linked")
    healer = subprocess.Popen(
        [sys.executable, "-c", CLI, "create", "other"],
        env=cli_env(forge_home, "heal-listed:pause", {"FORGE_TEST_FAULT_SYNC": str(sync_b)}),
        cwd=str(REPO),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(sync_b, "heal-listed")
    Path(f"{sync_a}.go").touch()
    assert installer.wait(timeout=120) == KILLED
    Path(f"{sync_b}.go").touch()
    _, err = healer.communicate(timeout=120)
    assert healer.returncode == 0, err
    _healthy(forge_home)
    assert catalog_view(forge_home)["e"] == {"beta": "1.1"}


def _wait_for_lock_fd(pid: int, lock: Path) -> None:
    """Until process ``pid`` has ``lock`` open (it is then in the lock's wait loop)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            fds = [os.readlink(p) for p in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            fds = []
        if str(lock) in fds:
            return
        time.sleep(0.01)
    raise AssertionError(f"{pid} never opened {lock}")


def test_an_env_removed_while_an_install_waits_for_its_lock(
    forge_home: Path, wheels: dict[str, Path]
) -> None:
    """The install re-reads the env under the lock: one clear line, not a FileNotFoundError."""
    _ok(forge(forge_home, "create", "e"))
    sync = forge_home.parent / "sync"
    remover = subprocess.Popen(
        [sys.executable, "-c", CLI, "remove", "e"],
        env=cli_env(forge_home, "remove-intent:pause", {"FORGE_TEST_FAULT_SYNC": str(sync)}),
        cwd=str(REPO),
    )
    _wait_for(sync, "remove-intent")
    installer = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "e", str(wheels["alpha"])],
        env=cli_env(forge_home),
        cwd=str(REPO),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_lock_fd(installer.pid, forge_home / "locks" / "env-e.lock")
    Path(f"{sync}.go").touch()
    assert remover.wait(timeout=120) == 0
    _, err = installer.communicate(timeout=120)
    assert installer.returncode != 0 and "no env named 'e'" in err, err
    assert "internal error" not in err
    _healthy(forge_home)


@pytest.mark.parametrize("reader", [("envs",), ("uninstall", "--env", "e", "never-installed")])
def test_a_command_that_takes_no_lock_still_heals(
    forge_home: Path, wheels: dict[str, Path], reader: tuple[str, ...]
) -> None:
    """Opening the catalog recovers dead intents whose locks are free, so a reading command, or
    one that fails before it takes a lock, leaves the envs as their catalog says."""
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", *map(str, wheels.values())))
    args = ("uninstall", "--env", "e", "beta", "gamma")
    _killed(forge(forge_home, *args, fault="link-op@2:kill"), "link-op@2")
    forge(forge_home, *reader)
    _healthy(forge_home)
    assert catalog_view(forge_home)["e"] == {m: f"1.{i}" for i, m in enumerate(MODULES)}


@pytest.mark.parametrize("point", ["gc-move", "gc-committed"])
def test_an_install_of_an_entry_gc_is_collecting_ingests_it_again(
    forge_home: Path, wheels: dict[str, Path], point: str
) -> None:
    """An install starts while gc, holding the store lock, collects the unused entry it wants:
    at ``gc-move`` the entry is unsealed but still there (the install waits for the lock to seal
    it again, and then finds it gone), at ``gc-committed`` it is gone. Either way the install
    unpacks the wheel anew, not fails on the missing directory (CI saw the first as a rare
    ``internal error: FileNotFoundError``)."""
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, "install", "--env", "e", str(wheels["alpha"])))
    _ok(forge(forge_home, "uninstall", "--env", "e", "alpha"))
    sync = forge_home.parent / "sync"
    collector = subprocess.Popen(
        [sys.executable, "-c", CLI, "gc", "--grace", "0"],
        env=cli_env(forge_home, f"{point}:pause", {"FORGE_TEST_FAULT_SYNC": str(sync)}),
        cwd=str(REPO),
    )
    _wait_for(sync, point)
    installer = subprocess.Popen(
        [sys.executable, "-c", CLI, "install", "--env", "e", str(wheels["alpha"])],
        env=cli_env(forge_home),
        cwd=str(REPO),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_lock_fd(installer.pid, forge_home / "locks" / "store.lock")
    Path(f"{sync}.go").touch()
    assert collector.wait(timeout=120) == 0
    _, err = installer.communicate(timeout=120)
    assert installer.returncode == 0, err
    _healthy(forge_home)
    assert catalog_view(forge_home)["e"] == {"alpha": "1.0"}


def test_a_pip_install_whose_store_entry_gc_collects_before_its_lease_fetches_the_file(
    forge_home: Path, wheels: dict[str, Path]
) -> None:
    """The resolver chose a store entry; gc collects it before the install leases it. The
    install fetches the very file the sources offer for it instead of failing."""
    pip = ("pip", "install", "--env", "e", "--no-index", "--find-links", str(wheels["alpha"].parent))
    _ok(forge(forge_home, "create", "e"))
    _ok(forge(forge_home, *pip, "alpha", "beta"))
    _ok(forge(forge_home, "uninstall", "--env", "e", "alpha", "beta"))
    sync = forge_home.parent / "sync"
    installer = subprocess.Popen(
        [sys.executable, "-c", CLI, *pip, "alpha", "beta"],
        env=cli_env(forge_home, "prepare-lease:pause", {"FORGE_TEST_FAULT_SYNC": str(sync)}),
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(sync, "prepare-lease")
    gc = forge(forge_home, "gc", "--grace", "0")
    _ok(gc)
    assert "alpha 1.0" in gc.stdout and "beta 1.1" in gc.stdout, gc.stdout
    Path(f"{sync}.go").touch()
    out, err = installer.communicate(timeout=120)
    assert installer.returncode == 0, err
    assert "Successfully installed alpha-1.0 beta-1.1" in out, out
    _healthy(forge_home)
    assert catalog_view(forge_home)["e"] == {"alpha": "1.0", "beta": "1.1"}
