"""Early ingest (``forge_pip.early``): wheels the resolver reads are unpacked and compiled while it
still resolves; what it does not pick, or everything when it fails, is discarded, and a dry run
ingests nothing.

Through the real CLI in a subprocess, from a ``--no-index -f`` directory: the resolver reads each
candidate's metadata from the wheel file, which is what offers it for early ingest.
``FORGE_TIMELINE`` shows which early ingests ran, so the tests know the path was taken.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.pip.test_pip_parallel_cold import _wheel
from tests.store.crash_support import forge, problems
from tests.support.wheels import make_wheel


@pytest.fixture
def links(tmp_path: Path, hermetic_pip: None) -> Path:
    """``top`` 2.0 needs ``absent``, which no source has: the resolver reads it, then falls back to
    ``top`` 1.0; ``pa`` and ``pb`` are big enough that their compiles take a while."""
    directory = tmp_path / "links"
    directory.mkdir()
    big = "".join(f"def f{j}(x):\n    return x * {j}\n\n" for j in range(40))
    files = {"top/__init__.py": "VERSION = '2.0'\n", **{f"top/m{i}.py": big for i in range(60)}}
    make_wheel(directory, "top", "2.0", files=files, requires=["absent>=1"])
    make_wheel(directory, "top", "1.0", files={"top/__init__.py": "VERSION = '1.0'\n"}, requires=["pa", "pb"])
    _wheel(directory, "pa")
    _wheel(directory, "pb")
    return directory


def _install(home: Path, links: Path, *args: str, timeline: Path, on: str = "1") -> tuple[int, str]:
    proc = forge(
        home,
        "pip",
        "install",
        "--env",
        "e",
        "--no-index",
        "-f",
        str(links),
        *args,
        extra={"FORGE_JOBS": "4", "FORGE_TIMELINE": str(timeline), "FORGE_EARLY_INGEST": on},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def _early(timeline: Path) -> list[str]:
    if not timeline.exists():
        return []
    spans = [json.loads(line) for line in timeline.read_text().splitlines()]
    return sorted(
        s["label"].split("-")[0] + "-" + s["label"].split("-")[1]
        for s in spans
        if s["phase"] == "early-ingest"
    )


def _entries(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "catalog.sqlite3") as db:
        return sorted((r[0], r[1]) for r in db.execute("SELECT name, version FROM entries"))


def _store_dirs(home: Path) -> int:
    store = home / "store"
    return len([p for p in store.iterdir() if not p.name.startswith(".")]) if store.is_dir() else 0


def test_an_early_entry_the_resolver_did_not_pick_is_discarded(tmp_path: Path, links: Path) -> None:
    home = tmp_path / "home"
    assert forge(home, "create", "e").returncode == 0
    timeline = tmp_path / "t.jsonl"
    code, err = _install(home, links, "top", timeline=timeline)
    assert code == 0, err
    assert "top-2.0" in _early(timeline)  # it was unpacked while resolving...
    assert _entries(home) == [("pa", "1.0"), ("pb", "1.0"), ("top", "1.0")]  # ...and is gone
    assert _store_dirs(home) == 3
    assert problems(home, ("top", "pa", "pb")) == []


def test_a_failed_resolution_leaves_no_early_entry(tmp_path: Path, links: Path) -> None:
    home = tmp_path / "home"
    assert forge(home, "create", "e").returncode == 0
    timeline = tmp_path / "t.jsonl"
    code, err = _install(home, links, "top==2.0", timeline=timeline)
    assert code != 0 and "absent" in err, err
    assert "top-2.0" in _early(timeline)
    assert _entries(home) == []
    assert _store_dirs(home) == 0
    assert problems(home, ("top", "pa", "pb")) == []


def test_early_ingest_is_off_unless_asked_for(tmp_path: Path, links: Path) -> None:
    home = tmp_path / "home"
    assert forge(home, "create", "e").returncode == 0
    timeline = tmp_path / "t.jsonl"
    code, err = _install(home, links, "top", timeline=timeline, on="")
    assert code == 0, err
    assert _early(timeline) == []
    assert _entries(home) == [("pa", "1.0"), ("pb", "1.0"), ("top", "1.0")]


def test_a_dry_run_ingests_nothing(tmp_path: Path, links: Path) -> None:
    home = tmp_path / "home"
    assert forge(home, "create", "e").returncode == 0
    timeline = tmp_path / "t.jsonl"
    code, err = _install(home, links, "--dry-run", "top", timeline=timeline)
    assert code == 0, err
    assert _early(timeline) == []
    assert _entries(home) == [] and _store_dirs(home) == 0
