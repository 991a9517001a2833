"""The parallel cold path of ``forge pip install`` (``forge_pip.prepare``): wheels fetched, unpacked
and compiled at once must give exactly what one-at-a-time gives, never two entries for one
wheel, and nothing half-published when one wheel fails or the process is killed.

Every install here runs through the real CLI in a subprocess, from a ``--no-index -f`` directory
of wheels big enough (hundreds of modules) that several ingests and compiles overlap.
"""

from __future__ import annotations

import os
import py_compile
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.store.crash_support import CLI, REPO, cli_env, forge, problems
from tests.support.wheels import make_wheel

NAMES = ("pa", "pb", "pc", "pd", "pe", "pf")
KILLED = -signal.SIGKILL


def _wheel(directory: Path, name: str, modules: int = 120) -> Path:
    files = {f"{name}/__init__.py": "VERSION = '1.0'\n"}
    for i in range(modules):
        body = "".join(f"def f{j}(x):\n    return x * {j} + {i}\n\n" for j in range(40))
        files[f"{name}/m{i}.py"] = body
    return make_wheel(directory, name, "1.0", files=files)


@pytest.fixture
def links(tmp_path: Path, hermetic_pip: None) -> Path:
    directory = tmp_path / "links"
    directory.mkdir()
    for name in NAMES:
        _wheel(directory, name)
    return directory


def _pip(
    home: Path,
    links: Path,
    env: str,
    *names: str,
    jobs: str | None = "4",
    fault: str | None = None,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    more = dict(extra or {})
    if jobs is not None:
        more["FORGE_JOBS"] = jobs
    args = ("pip", "install", "--env", env, "--no-index", "-f", str(links), *(names or NAMES))
    return forge(home, *args, fault=fault, extra=more)


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (proc.args[3:], proc.stdout, proc.stderr)


def _healthy(home: Path) -> None:
    found = problems(home, NAMES)
    assert not found, "\n".join(found)


def _entries(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "catalog.sqlite3") as db:
        return sorted((r[0], r[1]) for r in db.execute("SELECT name, id FROM entries"))


def _store_dirs(home: Path) -> list[Path]:
    store = home / "store"
    return sorted(p for p in store.iterdir() if not p.name.startswith(".")) if store.is_dir() else []


def _staging(home: Path) -> list[Path]:
    tmp = home / "tmp"
    return sorted(tmp.glob("ingest-*")) + sorted(tmp.glob("pyc-*")) if tmp.is_dir() else []


def _tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative path, with its bytes (links as their target)."""
    out: dict[str, bytes] = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            out[rel] = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return out


def _site_listing(home: Path, env: str) -> list[str]:
    site = next((home / "envs" / env / "lib").glob("python*/site-packages"))
    return sorted(str(p.relative_to(site)) for p in site.rglob("*"))


def test_parallel_and_sequential_installs_give_identical_entries_and_output(
    tmp_path: Path, links: Path
) -> None:
    homes = {jobs: tmp_path / f"home-{jobs}" for jobs in ("1", "4")}
    outs = {}
    for jobs, home in homes.items():
        _ok(forge(home, "create", "e"))
        proc = _pip(home, links, "e", jobs=jobs)
        _ok(proc)
        outs[jobs] = proc.stdout
        _healthy(home)
    assert outs["1"] == outs["4"]
    seq, par = (_entries(homes[j]) for j in ("1", "4"))
    assert seq == par and len(seq) == len(NAMES)
    assert [p.name for p in _store_dirs(homes["1"])] == [p.name for p in _store_dirs(homes["4"])]
    for _, entry_id in seq:
        seq_dir, par_dir = (homes[j] / "store" / entry_id[:16] for j in ("1", "4"))
        assert _tree(seq_dir) == _tree(par_dir)
    # and the pycs are what py_compile writes (unchecked hash, the path inside the entry as dfile)
    site = _store_dirs(homes["4"])[0] / "site"
    pycs = sorted(site.rglob(f"__pycache__/*.{sys.implementation.cache_tag}.pyc"))
    sources = sorted(site.rglob("*.py"))
    assert len(pycs) == len(sources) > 100
    for source in sources[:10]:
        rel = str(source.relative_to(site))
        expected = tmp_path / "expected.pyc"
        py_compile.compile(
            str(source),
            cfile=str(expected),
            dfile=rel,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        cached = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        assert cached.read_bytes() == expected.read_bytes(), rel


@pytest.mark.parametrize("order", ["waits-for-the-lock", "finds-it-published-under-the-lock"])
def test_two_processes_installing_the_same_wheels_at_once_make_one_entry_each(
    tmp_path: Path, links: Path, order: str
) -> None:
    """Two cold installs of the same wheels at once: each wheel is unpacked once, in one of
    them, and both envs link that one entry. Either the second meets the first's ingest lock
    (the first pauses holding it), or it decided to ingest before the first published and
    finds the entry when it gets the lock (the second pauses before taking it)."""
    home = tmp_path / "home"
    for env in ("a", "b"):
        _ok(forge(home, "create", env))
    sync = tmp_path / "sync"
    common = {"FORGE_TEST_FAULT_SYNC": str(sync), "FORGE_JOBS": "4"}

    def start(env: str, fault: str) -> subprocess.Popen[str]:
        args = ("pip", "install", "--env", env, "--no-index", "-f", str(links), *NAMES)
        return subprocess.Popen(
            [sys.executable, "-c", CLI, *args],
            env=cli_env(home, f"{fault},ingest-unpack:log", common),
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    if order == "waits-for-the-lock":
        first = start("a", "ingest-unpacked:pause")
        _wait_for(sync, "ingest-unpacked")
        second = start("b", "ingest-lock-wait:log")
        _wait_for(sync, "ingest-lock-wait")
        procs = [first, second]
    else:
        second = start("b", "ingest-lock-wait:pause")
        _wait_for(sync, "ingest-lock-wait")
        first = start("a", "publish-committed:log")
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, (out, err)
        procs = [second]
    Path(f"{sync}.go").touch()
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (out, err)
    assert [n for n, _ in _entries(home)] == sorted(NAMES)
    assert len(_store_dirs(home)) == len(NAMES)
    assert sync.read_text().count("ingest-unpack ") == len(NAMES), sync.read_text()  # each once
    _healthy(home)
    assert _staging(home) == []


def _wait_for(sync: Path, line: str, count: int = 1) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sync.exists() and sync.read_text().count(f"{line} ") >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{line} never reached {count} time(s)")


def _corrupt_record(path: Path) -> None:
    """Change one module's bytes but not its RECORD hash (a tampered wheel)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/m7.py"):
                data += b"# tampered\n"
            dst.writestr(info, data)
    tmp.replace(path)


def _not_a_zip(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 this is no wheel" * 100)


@pytest.mark.parametrize(
    ("spoil", "extra", "code", "message"),
    [
        (_corrupt_record, {}, 1, "does not match its RECORD hash"),
        (_not_a_zip, {}, 1, "not a valid wheel"),
        # a zip-bomb limit only the spoiled (bigger) wheel exceeds
        (lambda p: _wheel(p.parent, "pd", modules=400), {"FORGE_MAX_WHEEL_FILES": "300"}, 1, "files"),
    ],
    ids=["tampered", "not-a-zip", "too-many-files"],
)
def test_one_bad_wheel_in_a_parallel_install_changes_nothing(
    tmp_path: Path, links: Path, spoil: object, extra: dict[str, str], code: int, message: str
) -> None:
    home = tmp_path / "home"
    _ok(forge(home, "create", "e"))
    _ok(_pip(home, links, "e", "pa"))  # the env has something; it must keep exactly that
    before = (_entries(home), _site_listing(home, "e"))
    bad = next(links.glob("pd-*.whl"))
    assert callable(spoil)
    spoil(bad)
    proc = _pip(home, links, "e", extra=extra)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("hint: ")]
    assert len(lines) == 1 and message in lines[0] and "pd-1.0" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert (_entries(home), _site_listing(home, "e")) == before
    assert len(_store_dirs(home)) == 1
    assert _staging(home) == []
    _healthy(home)


@pytest.mark.parametrize(
    "point",
    [
        "ingest-unpacked@2",
        "ingest-compiled@3",
        "publish-rename@2",
        "publish-renamed@4",
        "publish-committed@3",
    ],
)
def test_a_parallel_install_killed_at_a_fault_point_leaves_nothing_half_published(
    tmp_path: Path, links: Path, point: str
) -> None:
    home = tmp_path / "home"
    _ok(forge(home, "create", "e"))
    proc = _pip(home, links, "e", fault=f"{point}:kill")
    assert proc.returncode == KILLED, (point, proc.returncode, proc.stderr)
    _heals_and_finishes(home, links)


def test_a_cold_install_killed_from_outside_mid_compile_leaves_nothing_half_published(
    tmp_path: Path, links: Path
) -> None:
    home = tmp_path / "home"
    _ok(forge(home, "create", "e"))
    sync = tmp_path / "sync"
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "pip", "install", "--env", "e", "--no-index", "-f", str(links), *NAMES],
        env=cli_env(
            home,
            "ingest-unpacked:log,publish-committed:log",
            {"FORGE_TEST_FAULT_SYNC": str(sync), "FORGE_JOBS": "4"},
        ),
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(sync, "ingest-unpacked", count=3)  # several wheels unpacked, compiles running
    deadline = time.monotonic() + 60
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        children = _descendants(proc.pid)  # the compiler workers
        time.sleep(0.01)
    assert children, "no compiler worker started"
    proc.kill()
    proc.wait()
    assert proc.returncode == KILLED
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)], "compiler workers outlived Forge"
    _heals_and_finishes(home, links)


def _heals_and_finishes(home: Path, links: Path) -> None:
    """The next command heals (nothing half-published, no staging, no intent, no lease), every
    published entry is complete, and re-running the install gives the full result."""
    _ok(forge(home, "create", "other"))  # the next command that takes a lock
    _healthy(home)
    assert _staging(home) == []
    published = _entries(home)
    dirs = {p.name for p in _store_dirs(home)}
    for _name, entry_id in published:
        assert entry_id[:16] in dirs
    _ok(_pip(home, links, "e"))
    _healthy(home)
    assert [n for n, _ in _entries(home)] == sorted(NAMES)
    assert len(_store_dirs(home)) == len(NAMES)  # a dir renamed in but not recorded was replaced


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
            out.extend(_descendants(int(entry.name)))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
