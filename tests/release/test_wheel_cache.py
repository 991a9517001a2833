"""The real-package tests' wheel cache (tests/support/wheel_cache.py) under concurrent and killed fills.

Two test runs at once once collided on ``~/.cache/forge-tests``: ``pip download -d CACHE`` writes
into the shared directory in place, and a second pip takes a half-written file there for "already
downloaded". Here fills run as real processes (``python -m tests.support.wheel_cache``) with plain
pip, offline from a directory of wheels the test builds; the named fault point
``test-cache-publish`` pauses or kills a fill after its download, before it publishes.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.wheel_cache import LOCK_NAME, TEMP_PREFIX, cache_set, fill, opens
from tests.support.wheels import make_wheel

pytestmark = pytest.mark.slow

NAMES = ["cache-alpha", "cache-beta", "cache-gamma"]
WANT = ["cache-alpha", "cache-beta"]  # cache-gamma comes as cache-beta's dependency


def _source_args(source: Path) -> list[str]:
    return ["--no-index", "-f", str(source)]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A find-links directory: three wheels, one of them a few MB of incompressible data."""
    out = tmp_path / "source"
    out.mkdir()
    make_wheel(
        out,
        "cache-alpha",
        "1.0",
        files={"cache_alpha/__init__.py": "", "cache_alpha/blob": os.urandom(4 << 20)},
    )
    make_wheel(out, "cache-beta", "2.0", files={"cache_beta/__init__.py": ""}, requires=["cache-gamma"])
    make_wheel(out, "cache-gamma", "3.0", files={"cache_gamma/__init__.py": ""})
    return out


def _env(tmp_path: Path, fault: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "FORGE_TEST_FAULT"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONPATH=str(REPO))
    if fault:
        env["FORGE_TEST_FAULT"] = f"test-cache-publish:{fault}"
        env["FORGE_TEST_FAULT_SYNC"] = str(tmp_path / "sync")
    return env


def _start(dest: Path, source: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.wheel_cache", str(dest), *_source_args(source), "--", *WANT],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not (path.is_file() and path.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fill never reached its publish point"
        time.sleep(0.02)


def _wait_blocked(proc: subprocess.Popen[str]) -> None:
    """Until /proc/locks lists ``proc`` as waiting for a lock (``->`` lines are blocked requests)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()
        waiting = [line.split() for line in Path("/proc/locks").read_text().splitlines() if " -> " in line]
        if any(str(proc.pid) in fields for fields in waiting):
            return
        assert time.monotonic() < deadline, "the second fill never waited for the lock"
        time.sleep(0.02)


def _complete(dest: Path) -> None:
    wheels = sorted(dest.glob("*.whl"))
    assert sorted(w.name.split("-")[0] for w in wheels) == [n.replace("-", "_") for n in NAMES]
    assert all(opens(w, full=True) for w in wheels)
    assert not list(dest.glob(f"{TEMP_PREFIX}*")), "a fill left its work directory behind"


def _lock_is_held(dest: Path) -> bool:
    fd = os.open(dest / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_two_fills_at_once_both_succeed_and_readers_never_see_a_partial_wheel(
    tmp_path: Path, source: Path
) -> None:
    dest = tmp_path / "cache" / "set"
    first = _start(dest, source, _env(tmp_path, "pause"))
    _wait_for(tmp_path / "sync", first)
    # paused after its download, before publishing: it holds the lock, the set shows nothing yet
    assert _lock_is_held(dest)
    assert not list(dest.glob("*.whl"))
    second = _start(dest, source, _env(tmp_path))
    _wait_blocked(second)  # the second fill waits on the lock, as the kernel reports it
    (tmp_path / "sync.go").touch()
    for proc in (first, second):
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    _complete(dest)


def test_many_fills_started_together_all_succeed(tmp_path: Path, source: Path) -> None:
    dest = tmp_path / "cache" / "set"
    procs = [_start(dest, source, _env(tmp_path)) for _ in range(4)]
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    _complete(dest)


def test_a_killed_fill_publishes_nothing_and_the_next_fill_recovers(tmp_path: Path, source: Path) -> None:
    dest = tmp_path / "cache" / "set"
    killed = _start(dest, source, _env(tmp_path, "kill"))
    killed.communicate(timeout=120)
    assert killed.returncode == -9
    assert not list(dest.glob("*.whl"))
    assert list(dest.glob(f"{TEMP_PREFIX}*"))  # its work directory, never seen as cached wheels
    fill(dest, ["cache-alpha", "cache-beta"], pip_args=["--no-index", "-f", str(source)])
    _complete(dest)


def test_a_wheel_cut_short_in_the_cache_is_fetched_again(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an older, in-place fill left when it was killed mid-copy: plain ``pip download -d``
    takes that file for "already downloaded" and the tests then read a broken zip."""
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    dest = tmp_path / "cache" / "set"
    dest.mkdir(parents=True)
    whole = next(source.glob("cache_alpha-*.whl"))
    (dest / whole.name).write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    fill(dest, ["cache-alpha", "cache-beta"], pip_args=["--no-index", "-f", str(source)])
    assert (dest / whole.name).read_bytes() == whole.read_bytes()
    _complete(dest)


def test_once_skips_pip_when_the_same_requirements_were_filled(tmp_path: Path, source: Path) -> None:
    dest = tmp_path / "set"
    args = ["--no-index", "-f", str(source)]
    fill(dest, ["cache-gamma"], pip_args=args, once=True)
    assert [w.name for w in dest.glob("*.whl")] == ["cache_gamma-3.0-py3-none-any.whl"]
    # a pip that cannot run proves the second fill did not call it
    fill(dest, ["cache-gamma"], pip_args=args, once=True, python=str(tmp_path / "no-such-python"))
    fill(dest, ["cache-alpha", "cache-beta"], pip_args=args, once=True)
    _complete(dest)


def test_cache_location_is_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_TEST_CACHE", str(tmp_path / "elsewhere"))
    assert cache_set("x") == tmp_path / "elsewhere" / "x"
    monkeypatch.delenv("FORGE_TEST_CACHE")
    assert cache_set("x") == Path.home() / ".cache" / "forge-tests" / "x"
