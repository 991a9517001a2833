"""Replay of a repeated dry run (:mod:`forge_pip.replay`): an answer only while every input is unchanged.

Every run is a real ``python -m forge_pip`` process (replay lives at the process entry point), on
a local find-links directory or the store (no socket: a run that connects is never replayed). Each
change below is one kind of input a dry run reads; after it, the run must not be a replay, and its
output must be what the front end prints with replay turned off (``FORGE_REPLAY=0``). What replay
did is read from ``FORGE_REPLAY_LOG``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from forge_store.store import Store
from tests.support.index_server import LocalIndex, serve
from tests.support.wheels import make_wheel

SETTLE = 0.06
"""Longer than replay's 20 ms granule: inputs made just before a run are not "racy"."""


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str
    replay: str  # the FORGE_REPLAY_LOG lines of this run


@dataclasses.dataclass
class World:
    tmp: Path
    home: Path
    links: Path
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str, replay: bool = True, extra: dict[str, str] | None = None) -> Run:
        log = self.tmp / "replay.log"
        log.unlink(missing_ok=True)
        env = dict(self.env, **(extra or {}), FORGE_REPLAY_LOG=str(log))
        if not replay:
            env["FORGE_REPLAY"] = "0"
        proc = subprocess.run(
            [sys.executable, "-m", "forge_pip", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.cwd,
            timeout=120,
            check=False,
        )
        lines = log.read_text() if log.exists() else ""
        return Run(proc.returncode, proc.stdout, proc.stderr, lines.strip())

    def records(self) -> list[Path]:
        return sorted((self.home / "cache" / "replay").glob("*.json"))


@pytest.fixture
def w(tmp_path: Path, store: Store, forge_home: Path, hermetic_pip: None) -> World:
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "app", "1.0", requires=["lib>=1"])
    make_wheel(links, "lib", "1.0")
    store.create_env("e")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORGE_REPLAY", "FORGE_REPLAY_LOG")}
    cwd = tmp_path / "work"
    cwd.mkdir()
    time.sleep(SETTLE)
    return World(tmp_path, forge_home, links, env, cwd)


def dry(*extra: str) -> list[str]:
    return ["install", "--env", "e", "--dry-run", *extra]


def settle() -> None:
    time.sleep(SETTLE)


def record(w: World, args: list[str], **kw: str) -> Run:
    """Run ``args`` until a run is recorded (a first run may fill a cache in the catalog, which
    makes its stamps too new to trust): at most twice, every output the same."""
    first = w.run(*args, **kw)
    assert first.code == 0, first.err
    if not first.replay.startswith("recorded") and "\nrecorded" not in first.replay:
        assert "racy" in first.replay, first.replay
        settle()
        second = w.run(*args, **kw)
        assert (second.out, second.err) == (first.out, first.err)
        assert "\nrecorded" in second.replay, second.replay
    return first


def assert_fresh_answer(w: World, args: list[str]) -> Run:
    """The run is not a replay, and prints what the front end prints without replay."""
    got = w.run(*args)
    assert got.code == 0, got.err
    assert not got.replay.startswith("hit"), got.replay
    plain = w.run(*args, replay=False)
    assert (got.out, got.err) == (plain.out, plain.err)
    return got


def test_a_repeated_dry_run_is_replayed_with_the_same_output(w: World) -> None:
    args = dry("--no-index", "--find-links", str(w.links), "app")
    first = record(w, args)
    assert "Would install app-1.0 lib-1.0" in first.out
    assert first.replay.splitlines()[0] == "miss: no record"
    again = w.run(*args)
    assert again.replay == "hit"
    assert (again.code, again.out, again.err) == (first.code, first.out, first.err)
    plain = w.run(*args, replay=False)
    assert (plain.out, plain.err) == (first.out, first.err)
    assert plain.replay == ""  # FORGE_REPLAY=0: replay is not even consulted
    # -q and other spellings are other commands, with records of their own
    quiet = record(w, [*args, "-q"])
    assert quiet.replay.startswith("miss: no record") and quiet.out == ""
    assert w.run(*args, "-q").replay == "hit"


def test_the_record_names_the_inputs_and_the_code(w: World) -> None:
    record(w, dry("--no-index", "--find-links", str(w.links), "app"))
    (path,) = w.records()
    names = {item[0] for item in json.loads(path.read_text())["inputs"]}
    assert str(w.links) in names  # the find-links listing
    assert str(w.home / "catalog.sqlite3") in names  # the layers and the store
    env_site = next(p for p in names if p.endswith("site-packages") and str(w.home) in p)
    assert "envs" in env_site  # the target env's site-packages
    import forge_pip.install

    assert forge_pip.install.__file__ in names  # Forge's own code


Change = Callable[[World], None]


def _new_release(w: World) -> None:
    make_wheel(w.links, "lib", "2.0")


def _replaced_in_place(w: World) -> None:
    """The same file name, other bytes (find-links dir listing unchanged)."""
    (w.links / "lib-1.0-py3-none-any.whl").unlink()
    make_wheel(w.links, "lib", "1.0", requires=["extra-missing; python_version < '3'"])


def _installed_in_env(w: World) -> None:
    with Store(w.home) as store:
        store.install_wheels("e", [make_wheel(w.tmp / "other", "lib", "1.5")])


def _store_gains(w: World) -> None:
    with Store(w.home) as store:
        store.create_env("seed2")
        store.install_wheels("seed2", [make_wheel(w.tmp / "other", "unrelated", "1.0")])


def _pip_config_appears(w: World) -> None:
    conf = w.tmp / "xdg-home" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[install]\nno-deps = true\n")


CHANGES: dict[str, Change] = {
    "a new release in the find-links dir": _new_release,
    "a wheel replaced in place": _replaced_in_place,
    "a package installed in the target env": _installed_in_env,
    "the catalog changed by another env": _store_gains,
    "a pip configuration file appeared": _pip_config_appears,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_changed_input_is_seen(w: World, change: str) -> None:
    w.env.pop("PIP_CONFIG_FILE", None)  # pip reads its config files (XDG_CONFIG_HOME below)
    w.env["XDG_CONFIG_HOME"] = str(w.tmp / "xdg-home")
    args = dry("--no-index", "--find-links", str(w.links), "app")
    before = record(w, args)
    assert w.run(*args).replay == "hit"
    CHANGES[change](w)
    settle()
    after = assert_fresh_answer(w, args)
    assert after.replay.startswith("miss: changed"), after.replay
    if change in ("a new release in the find-links dir", "a package installed in the target env"):
        assert after.out != before.out
    if change == "a pip configuration file appeared":
        assert "Would install app-1.0\n" in after.out  # no-deps
    logs = [w.run(*args).replay for _ in range(2)]  # recorded anew (the fresh run, or the next)
    assert logs[-1] == "hit", logs


def test_requirement_files_nested_and_edited_in_place_are_inputs(w: World) -> None:
    inner = w.cwd / "inner.txt"
    inner.write_text("lib==1.0\n")
    outer = w.cwd / "reqs.txt"
    outer.write_text("app\n-r inner.txt\n")
    make_wheel(w.links, "lib", "1.1")
    settle()
    args = dry("--no-index", "--find-links", str(w.links), "-r", "reqs.txt")
    assert "lib-1.0" in record(w, args).out
    assert w.run(*args).replay == "hit"
    inner.write_text("lib==1.1\n")  # the same size: only the stamps say it changed
    settle()
    after = assert_fresh_answer(w, args)
    assert "lib-1.1" in after.out
    # the same relative path from another directory is another command
    other = w.tmp / "elsewhere"
    other.mkdir()
    (other / "reqs.txt").write_text("lib\n")
    settle()
    w.cwd = other
    moved = w.run(*args)
    assert moved.replay.startswith("miss: no record") and "Would install lib-1.1" in moved.out


def test_environment_variables_are_part_of_the_command(w: World) -> None:
    args = dry("--no-index", "--find-links", str(w.links), "app")
    record(w, args)
    assert w.run(*args).replay == "hit"
    nodeps = w.run(*args, extra={"PIP_NO_DEPS": "1"})
    assert nodeps.replay.startswith("miss: no record")
    assert "Would install app-1.0\n" in nodeps.out


def test_an_offline_dry_run_from_the_store_is_replayed_and_sees_the_store(w: World, store: Store) -> None:
    store.create_env("seed")
    store.install_wheels("seed", [make_wheel(w.tmp / "seed", "stored", "1.0")])
    settle()
    args = dry("--offline", "stored")
    first = record(w, args)
    assert "Would install stored-1.0" in first.out, first.out + first.err
    assert w.run(*args).replay == "hit"
    store.install_wheels("seed", [make_wheel(w.tmp / "seed", "stored", "2.0")])
    settle()
    after = assert_fresh_answer(w, args)
    assert "Would install stored-2.0" in after.out


def test_what_a_record_cannot_vouch_for_is_not_recorded(w: World, tmp_path: Path) -> None:
    base = dry("--no-index", "--find-links", str(w.links), "app")
    report = w.run(*base, "--report", str(tmp_path / "report.json"))  # a file outside FORGE_HOME
    assert report.code == 0 and report.replay.startswith("miss: no record")
    assert "not recorded: wrote" in report.replay
    failed = w.run(*dry("--no-index", "--find-links", str(w.links), "no-such-project"))
    assert failed.code != 0 and "not recorded: exit" in failed.replay
    (w.links / "late-1.0-py3-none-any.whl").unlink(missing_ok=True)
    make_wheel(w.links, "late", "1.0")  # just now: its stamp could change again unseen
    racy = w.run(*dry("--no-index", "--find-links", str(w.links), "late"))
    assert "not recorded: racy" in racy.replay, racy.replay
    assert w.records() == []


def test_a_run_that_asks_the_network_is_not_recorded(w: World, tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index")
    index.add(make_wheel(tmp_path / "src", "netapp", "1.0"))
    index.write()
    with serve(index.root) as server:
        settle()
        args = dry("-i", server.index_url, "netapp")
        for _ in range(2):
            got = w.run(*args)
            assert "Would install netapp-1.0" in got.out, got.err
            assert "not recorded: socket.connect" in got.replay, got.replay


@pytest.mark.parametrize("damage", ["truncated", "not json", "another key", "malformed inputs"])
def test_a_damaged_record_is_ignored_and_replaced(w: World, damage: str) -> None:
    args = dry("--no-index", "--find-links", str(w.links), "app")
    first = record(w, args)
    (path,) = w.records()
    doc = json.loads(path.read_text())
    text = {
        "truncated": path.read_text()[:40],
        "not json": "\x00\xff garbage",
        "another key": json.dumps({**doc, "key": doc["key"] + "x"}),
        "malformed inputs": json.dumps({**doc, "inputs": [["/x", 1, 2]]}),
    }[damage]
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    settle()
    got = w.run(*args)
    assert got.replay.startswith("miss:") and "hit" not in got.replay
    assert (got.out, got.err) == (first.out, first.err)
    assert w.run(*args).replay == "hit"


def test_an_envs_own_pip_is_replayed_too(w: World, store: Store) -> None:
    pip = str(store.env("e").path / "bin" / "pip")
    args = ["install", "--dry-run", "--no-index", "--find-links", str(w.links), "app"]
    log = w.tmp / "replay.log"
    env = dict(w.env, FORGE_REPLAY_LOG=str(log))
    outs = []
    for _ in range(3):
        log.unlink(missing_ok=True)
        proc = subprocess.run([pip, *args], capture_output=True, text=True, env=env, timeout=120, check=True)
        outs.append((proc.stdout, proc.stderr, log.read_text().strip()))
    assert outs[0][:2] == outs[1][:2] == outs[2][:2] and "Would install app-1.0 lib-1.0" in outs[0][0]
    assert outs[2][2] == "hit"


def test_what_changes_beside_the_inputs_does_not_stop_replay(w: World) -> None:
    """Directories the run only stat'ed (each component of a realpath, an ``is_dir``) count for
    what they are, not for what they hold: new files beside the env do not make a miss."""
    args = dry("--no-index", "--find-links", str(w.links), "app")
    record(w, args)
    (w.tmp / "sibling").mkdir()
    (w.home / "envs" / "e" / "notes.txt").write_text("a file beside the env's lib/\n")
    settle()
    assert w.run(*args).replay == "hit"
    (w.links / "unrelated-1.0.tar.gz").write_bytes(b"")  # the listed directory: a miss
    settle()
    assert w.run(*args).replay.startswith("miss: changed")


def test_a_database_opened_by_uri_is_an_input_by_its_path(tmp_path: Path) -> None:
    """The read-only catalog is opened as ``file:<quoted path>?mode=ro``: the record keeps the
    database's own path (and its WAL's), unquoted, without the ctime SQLite moves."""
    from urllib.parse import quote

    from forge_pip.replay import _Recorder

    db = tmp_path / "a home" / "catalog.sqlite3"
    recorder = _Recorder(str(tmp_path / "home"))
    recorder._active = True
    recorder._note("sqlite3.connect", ("file:" + quote(str(db)) + "?mode=ro",))
    assert recorder.databases == {str(db), f"{db}-wal"}
