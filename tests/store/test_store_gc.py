"""``forge gc`` and ``forge du`` as a user runs them: what goes, what stays, leases, the trash, races."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from forge_store.errors import ExitCode, GcFailed, NotFoundError
from forge_store.gc import parse_duration
from forge_store.store import Store
from tests.conftest import REPO, forge_cli, run_py
from tests.support.wheels import make_wheel

GC_KEYS = {
    "dry_run",
    "grace",
    "entries",
    "orphans",
    "kept_leased",
    "dead_leases",
    "trash",
    "caches",
    "totals",
}


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc


def _gc(*args: str) -> dict[str, Any]:
    doc = json.loads(_ok(forge_cli("gc", "--json", *args)).stdout)
    assert doc["version"] == "1" and doc["kind"] == "gc"
    assert set(doc) >= GC_KEYS
    return dict(doc)


def _names(doc: dict[str, Any]) -> set[str]:
    entries = doc["entries"]
    assert isinstance(entries, list)
    return {str(e["name"]) for e in entries}


def _entry_dirs(home: Path) -> set[str]:
    store = home / "store"
    return {p.name for p in store.iterdir() if not p.name.startswith(".")} if store.is_dir() else set()


def _tree(home: Path) -> list[str]:
    return sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if "locks" not in p.parts and not p.name.startswith("catalog.sqlite3")
    )


def _catalog_state(home: Path) -> tuple[object, ...]:
    with Store(home) as s:
        entries = sorted((e.id, e.refcount) for e in s.catalog.all_entries())
        links = sorted((e.name, r.entry_id) for e in s.catalog.envs() for r in s.catalog.links(e.name))
        leases = s.catalog.leases()
    return entries, links, leases


def _assert_refcounts_match(home: Path) -> None:
    with Store(home) as s:
        counts: dict[str, int] = {}
        for env in s.catalog.envs():
            for row in s.catalog.links(env.name):
                counts[row.entry_id] = counts.get(row.entry_id, 0) + 1
        for entry in s.catalog.all_entries():
            assert entry.refcount == counts.get(entry.id, 0), entry.name
            assert (home / "store" / entry.dir).is_dir(), f"{entry.name}: catalogued but not on disk"
        assert set(counts) <= {e.id for e in s.catalog.all_entries()}


@pytest.fixture
def three(forge_home: Path, wheel_dir: Path) -> dict[str, Path]:
    """Env ``e`` links alpha and gamma; beta was installed and uninstalled (unreferenced)."""
    wheels = {
        n: make_wheel(wheel_dir, n, "1.0", files={f"{n}.py": f"NAME = {n!r}\n"})
        for n in ("alpha", "beta", "gamma")
    }
    _ok(forge_cli("create", "e"))
    _ok(forge_cli("install", "--env", "e", *map(str, wheels.values())))
    _ok(forge_cli("uninstall", "--env", "e", "beta"))
    return wheels


def test_dry_run_lists_exactly_the_unreferenced_and_changes_nothing(
    forge_home: Path, three: dict[str, Path]
) -> None:
    before = (_tree(forge_home), _catalog_state(forge_home))
    doc = _gc("--dry-run", "--grace", "0")
    assert doc["dry_run"] is True and _names(doc) == {"beta"}
    entry = doc["entries"][0]
    assert set(entry) >= {"name", "version", "id", "bytes"} and entry["bytes"] > 0
    assert doc["totals"]["entries"] == 1 and doc["totals"]["bytes"] == entry["bytes"]
    text = _ok(forge_cli("gc", "--dry-run")).stdout
    assert "would remove: beta 1.0" in text and "alpha" not in text
    assert (_tree(forge_home), _catalog_state(forge_home)) == before


def test_gc_removes_unreferenced_and_keeps_what_envs_link(forge_home: Path, three: dict[str, Path]) -> None:
    with Store(forge_home) as s:
        beta_dir = s.entries("beta")[0].path.name
    doc = _gc("--grace", "0")
    assert doc["dry_run"] is False and _names(doc) == {"beta"}
    assert beta_dir not in _entry_dirs(forge_home)
    with Store(forge_home) as s:
        assert {e.name for e in s.entries()} == {"alpha", "gamma"}
        assert s.catalog.entry_by_alias(s.wheel_sha256(three["beta"])) is None, "aliases dropped too"
    assert not (forge_home / "trash").exists()
    py = forge_home / "envs/e/bin/python"
    proc = run_py(py, "import alpha, gamma; print(alpha.NAME, gamma.NAME)")
    assert proc.stdout.split() == ["alpha", "gamma"], proc.stderr
    assert _names(_gc("--grace", "0")) == set(), "nothing more to collect"
    _assert_refcounts_match(forge_home)
    # what gc removed comes back on the next install
    _ok(forge_cli("install", "--env", "e", str(three["beta"])))
    assert run_py(py, "import beta").returncode == 0


@pytest.mark.parametrize("layering", ["stacked", "flat"])
def test_a_child_keeps_its_parents_entries(forge_home: Path, wheel_dir: Path, layering: str) -> None:
    base = make_wheel(wheel_dir, "basepkg", "1.0")
    top = make_wheel(wheel_dir, "toppkg", "1.0")
    _ok(forge_cli("create", "p"))
    _ok(forge_cli("install", "--env", "p", str(base)))
    _ok(forge_cli("create", "k", "--parent", "p", "--layering", layering))
    _ok(forge_cli("install", "--env", "k", str(top)))
    assert _names(_gc("--grace", "0")) == set()
    proc = run_py(forge_home / "envs/k/bin/python", "import basepkg, toppkg")
    assert proc.returncode == 0, proc.stderr
    _ok(forge_cli("remove", "k"))
    assert _names(_gc("--grace", "0")) == {"toppkg"}
    assert run_py(forge_home / "envs/p/bin/python", "import basepkg").returncode == 0


def test_leases_of_live_holders_keep_entries_dead_ones_do_not(forge_home: Path, wheel_dir: Path) -> None:
    host = socket.gethostname()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        with Store(forge_home) as s:
            live = s.add_wheel(make_wheel(wheel_dir, "held", "1.0"))
            dead = s.add_wheel(make_wheel(wheel_dir, "orphaned", "1.0"))
            other = s.add_wheel(make_wheel(wheel_dir, "remote", "1.0"))
            s.release()
            with s.catalog.transaction():
                s.catalog.add_lease(live.id, f"{host}:{sleeper.pid}:abcd1234")
                s.catalog.add_lease(dead.id, f"{host}:{gone.pid}:abcd1234")
                s.catalog.add_lease(other.id, "another-host.example:1:abcd1234")  # cannot tell: kept
        plan = _gc("--dry-run")
        assert _names(plan) == {"orphaned"} and set(plan["kept_leased"]) == {live.id, other.id}
        doc = _gc("--grace", "0")
        assert _names(doc) == {"orphaned"} and doc["dead_leases"] == 1
        with Store(forge_home) as s:
            assert {e.name for e in s.entries()} == {"held", "remote"}
            assert (live.id, f"{host}:{sleeper.pid}:abcd1234") in s.catalog.leases()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _names(_gc("--grace", "0")) == {"held"}, "its holder is gone now"


def test_lease_all_leases_each_entry_in_one_transaction(forge_home: Path, wheel_dir: Path) -> None:
    """What a warm install's link step leases: every entry, in order, with one commit; an entry
    that is gone is refused as a single lease is, and gc keeps what was leased."""
    with Store(forge_home) as s:
        entries = [s.add_wheel(make_wheel(wheel_dir, f"lease-{n}", "1.0")) for n in "abc"]
        s.release()
        assert s.lease_all([]) == [] and s.catalog.leases() == []
        commits: list[str] = []
        db = s.catalog._db
        assert db is not None
        db.set_trace_callback(lambda sql: commits.append(sql) if sql.startswith("COMMIT") else None)
        leased = s.lease_all([e.id for e in reversed(entries)])
        db.set_trace_callback(None)
        assert [e.id for e in leased] == [e.id for e in reversed(entries)]
        assert all(e.reused for e in leased) and len(commits) == 1
        assert {eid for eid, holder in s.catalog.leases() if holder == s.holder} == {e.id for e in entries}
        with pytest.raises(NotFoundError):
            s.lease_all([entries[0].id, "0" * 64])
        s.release()
        assert s.catalog.leases() == []


def test_grace_keeps_collected_entries_in_the_trash(forge_home: Path, three: dict[str, Path]) -> None:
    doc = _gc()  # default grace: one hour
    assert _names(doc) == {"beta"} and doc["grace"] == 3600
    trash = forge_home / "trash"
    items = sorted(trash.iterdir())
    assert len(items) == 1 and (items[0] / "site/beta.py").is_file()
    with Store(forge_home) as s:
        assert not s.entries("beta"), "the catalog rows go at once"
    again = _gc("--grace", "10m")
    assert _names(again) == set() and len(again["trash"]["kept"]) == 1
    assert items[0].exists()
    # an item older than the grace is deleted by any later gc
    stamp, rest = items[0].name.split(".", 1)
    aged = trash / f"{int(stamp) - 700}.{rest}"
    os.rename(items[0], aged)
    doc = _gc("--grace", "10m")
    assert [t["name"] for t in doc["trash"]["deleted"]] == [aged.name]
    assert not trash.exists()
    # --grace 0 deletes what it collects at once
    _ok(forge_cli("uninstall", "--env", "e", "gamma"))
    doc = _gc("--grace", "0")
    assert _names(doc) == {"gamma"} and not trash.exists()


def test_removing_every_env_then_gc_leaves_an_empty_store(
    forge_home: Path, three: dict[str, Path], wheel_dir: Path
) -> None:
    _ok(forge_cli("create", "kid", "--parent", "e"))
    _ok(forge_cli("install", "--env", "kid", str(make_wheel(wheel_dir, "kidpkg", "1.0"))))
    _ok(forge_cli("create", "other", "--link-mode", "hardlink"))
    _ok(forge_cli("install", "--env", "other", str(three["alpha"])))
    _gc()  # beta into the trash, with a grace
    for name in ("e", "other"):
        _ok(forge_cli("remove", name, "--recursive"))
    doc = _gc("--grace", "0")
    assert _names(doc) == {"alpha", "gamma", "kidpkg"}
    assert _entry_dirs(forge_home) == set()
    assert not (forge_home / "trash").exists()
    with Store(forge_home) as s:
        assert s.entries() == [] and s.catalog.leases() == []


def test_gc_racing_installs(forge_home: Path, wheel_dir: Path) -> None:
    """An install reusing an entry gc is collecting either leases it first or ingests it again."""
    wheels = [
        str(make_wheel(wheel_dir, f"race{i}", "1.0", files={f"race{i}.py": "X = 1\n"})) for i in range(3)
    ]
    _ok(forge_cli("create", "e"))
    py = forge_home / "envs/e/bin/python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import sys; from forge_pip.cli.forge import main; sys.exit(main())"
    for _round in range(6):
        _ok(forge_cli("install", "--env", "e", *wheels))
        _ok(forge_cli("uninstall", "--env", "e", "race0", "race1", "race2"))
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, *args],
                env=env,
                cwd=str(REPO),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in (["install", "--env", "e", *wheels], ["gc", "--grace", "0"])
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (proc.args, out, err)
        check = run_py(py, "import race0, race1, race2")
        assert check.returncode == 0, check.stderr
        _assert_refcounts_match(forge_home)


def test_du_counts_shared_entries_once(forge_home: Path, wheel_dir: Path) -> None:
    n = 6
    wheels = [
        str(
            make_wheel(
                wheel_dir, f"pkg{i}", "1.0", files={f"pkg{i}/m{j}.py": "X = 1\n" * 200 for j in range(10)}
            )
        )
        for i in range(n)
    ]
    _ok(forge_cli("create", "empty"))
    _ok(forge_cli("create", "full"))
    _ok(forge_cli("create", "twin"))
    _ok(forge_cli("install", "--env", "full", *wheels))
    _ok(forge_cli("install", "--env", "twin", *wheels))
    doc = json.loads(_ok(forge_cli("du", "--json")).stdout)
    assert doc["version"] == "1" and doc["kind"] == "du"
    assert set(doc) >= {"store", "caches", "trash", "envs", "total"}
    assert set(doc["store"]) >= {"bytes", "inodes", "entries"} and doc["store"]["entries"] == n
    envs = {e["name"]: e for e in doc["envs"]}
    keys = {"links", "bytes", "inodes", "added_bytes", "added_inodes", "linked_bytes", "saved_bytes"}
    assert keys <= set(envs["full"])
    entry_inodes = doc["store"]["inodes"]
    assert entry_inodes > n * 12
    extra = envs["full"]["added_inodes"] - envs["empty"]["added_inodes"]
    assert 0 < extra <= 6 * n, f"{n} linked dists added {extra} inodes"
    assert envs["full"]["linked_bytes"] == envs["twin"]["linked_bytes"] > 0
    assert envs["full"]["saved_bytes"] == envs["full"]["linked_bytes"] - envs["full"]["added_bytes"]
    # every inode counted once: the total is far less than two copies of the store
    assert doc["total"]["bytes"] < doc["store"]["bytes"] + 2 * envs["full"]["bytes"]
    assert doc["total"]["saved_bytes"] > 0
    added = sum(e["added_inodes"] for e in doc["envs"])
    assert doc["total"]["inodes"] >= doc["store"]["inodes"] + doc["caches"]["inodes"] + added
    one = json.loads(_ok(forge_cli("du", "--json", "--env", "twin")).stdout)
    assert [e["name"] for e in one["envs"]] == ["twin"] and one["total"] == doc["total"]
    text = _ok(forge_cli("du")).stdout
    assert "env full" in text and "total" in text


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["gc", "--grace", "soon"], ExitCode.USAGE, "invalid duration 'soon'"),
        (["gc", "--grace", "-5"], ExitCode.USAGE, "invalid duration"),
        (["gc", "--older-than", "1y"], ExitCode.USAGE, "invalid duration '1y'"),
        (["du", "--env", "nope"], ExitCode.NOT_FOUND, "no env named 'nope'"),
    ],
)
def test_bad_input_one_line_nothing_changes(
    forge_home: Path, three: dict[str, Path], args: list[str], code: ExitCode, words: str
) -> None:
    before = (_tree(forge_home), _catalog_state(forge_home))
    proc = forge_cli(*args)
    assert proc.returncode == int(code), (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr
    assert (_tree(forge_home), _catalog_state(forge_home)) == before


def test_older_than_cleans_stale_cache_files(forge_home: Path, three: dict[str, Path]) -> None:
    cache = forge_home / "cache"
    old_page = cache / "http/ab/ab12"
    new_page = cache / "http/cd/cd34"
    old_wheel = cache / "built/ef/ef56/x-1.0-py3-none-any.whl"
    probe = cache / "interpreters/probe.json"
    for path in (old_page, new_page, old_wheel, probe):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 5000)
    week_ago = time.time() - 8 * 86400
    for path in (old_page, old_wheel, probe):
        os.utime(path, (week_ago, week_ago))
    plan = _gc("--dry-run", "--older-than", "7d")
    assert plan["caches"]["files"] == 2 and old_page.exists()
    doc = _gc("--older-than", "1w")
    assert doc["caches"]["files"] == 2 and doc["caches"]["bytes"] > 0
    assert not old_page.exists() and not old_wheel.exists() and not (cache / "built/ef").exists()
    assert new_page.exists() and probe.exists(), "fresh files and interpreter probes stay"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("3600", 3600), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_unrecorded_store_directories_are_collected(forge_home: Path, three: dict[str, Path]) -> None:
    orphan = forge_home / "store" / ("ab" * 8)
    (orphan / "site").mkdir(parents=True)
    (orphan / "site" / "left.py").write_text("X = 1\n")
    keep = forge_home / "store" / "not-an-entry"
    keep.mkdir()
    plan = _gc("--dry-run")
    assert [o["dir"] for o in plan["orphans"]] == [orphan.name] and orphan.exists()
    doc = _gc("--grace", "0")
    assert [o["dir"] for o in doc["orphans"]] == [orphan.name] and _names(doc) == {"beta"}
    assert not orphan.exists() and keep.is_dir(), "only entry-shaped names are touched"
    assert run_py(forge_home / "envs/e/bin/python", "import alpha, gamma").returncode == 0


def test_a_lease_on_a_collected_entry_is_refused_and_the_wheel_ingested_again(
    forge_home: Path, wheel_dir: Path
) -> None:
    wheel = make_wheel(wheel_dir, "again", "1.0")
    with Store(forge_home) as s:
        first = s.add_wheel(wheel)
        s.release()
        assert _names(_gc("--grace", "0")) == {"again"}
        with pytest.raises(NotFoundError, match="no store entry"):
            s.lease(first.id)
        assert s.catalog.leases() == [], "no lease is left on a missing entry"
        back = s.add_wheel(wheel)  # the alias is gone with the entry: ingested anew
        assert back.id == first.id and not back.reused and back.path.is_dir()
        s.release()


def test_a_failing_move_is_undone_and_reported_in_one_line(
    forge_home: Path, three: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(forge_cli("uninstall", "--env", "e", "gamma"))  # two collectable entries: beta, gamma
    before = (_tree(forge_home), _catalog_state(forge_home))
    (forge_home / "trash").write_text("not a directory")
    proc = forge_cli("gc", "--grace", "0")
    assert proc.returncode == int(ExitCode.ERROR), (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "gc could not move entries to the trash" in lines[0], proc.stderr
    (forge_home / "trash").unlink()
    assert (_tree(forge_home), _catalog_state(forge_home)) == before
    # the second move fails after the first succeeded: the first is moved back and resealed
    import forge_store.gc as gc_mod

    real = gc_mod._to_trash
    calls: list[str] = []

    def flaky(store: Store, rel: str, stamp: float, token: str) -> Path:
        calls.append(rel)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", rel)
        return real(store, rel, stamp, token)

    monkeypatch.setattr(gc_mod, "_to_trash", flaky)
    with Store(forge_home) as s, pytest.raises(GcFailed, match="Permission denied"):
        gc_mod.collect(s, grace=0)
    assert len(calls) == 2
    assert (_tree(forge_home), _catalog_state(forge_home)) == before
    with Store(forge_home) as s:
        moved_back = s.home.store / calls[0]
        assert os.stat(moved_back).st_mode & 0o222 == 0, "sealed again"
