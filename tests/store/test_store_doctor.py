"""``forge doctor``: each kind of drift made by hand is found exactly, planned by ``--fix --dry-run``
without a change, repaired by ``--fix``; then doctor is clean and the env imports what its catalog says.

Everything runs through the real ``forge`` CLI in a subprocess, on wheels these tests build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store import pip_frontend, seal
from forge_store.catalog import Catalog
from forge_store.errors import ExitCode
from forge_store.locks import file_lock
from forge_store.seal import remove_tree
from tests.conftest import forge_cli, run_py
from tests.support.frontend import write_older_front_end
from tests.support.wheels import make_wheel

SITE = "lib/python3.11/site-packages"


# -- helpers ---------------------------------------------------------------------------------------


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    proc = forge_cli("doctor", "--json", *args, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError((proc.returncode, proc.stdout, proc.stderr)) from None
    assert doc["version"] == "1" and doc["kind"] == "doctor"
    return proc.returncode, doc


class _Age:
    """Equal to any age past gc's grace (a trash item's age grows while the test runs)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and other > 3600

    def __repr__(self) -> str:
        return "AGE"


AGE = _Age()


def kinds(doc: dict[str, object]) -> list[tuple[str, dict[str, object]]]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    return sorted(((f["kind"], f["data"]) for f in findings), key=lambda x: (x[0], x[1].get("path", "")))


def snapshot(*roots: Path) -> dict[str, object]:
    """Every path below ``roots`` with its type, mode, link target and content hash; the catalog's rows."""
    out: dict[str, object] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                p = Path(dirpath) / name
                st = p.lstat()
                if p.is_symlink():
                    out[str(p)] = ("link", os.readlink(p))
                elif p.is_file():
                    if p.name.endswith(("-wal", "-shm")):
                        continue
                    out[str(p)] = ("file", st.st_mode, st.st_ino, hashlib.sha256(p.read_bytes()).hexdigest())
                else:
                    out[str(p)] = ("dir", st.st_mode)
            dirs.sort()
        catalog = root / "catalog.sqlite3"
        if catalog.exists():
            db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
            out["catalog"] = list(db.iterdump())
            db.close()
    return out


def check_repaired(
    *fix_args: str, roots: tuple[Path, ...], expect: list[tuple[str, dict[str, object]]]
) -> None:
    """doctor finds exactly ``expect``; --fix --dry-run plans it and changes nothing; --fix repairs it."""
    code, doc = doctor(*fix_args)
    assert kinds(doc) == sorted(expect, key=lambda x: (x[0], x[1].get("path", ""))), kinds(doc)
    assert code == int(ExitCode.UNHEALTHY)
    before = snapshot(*roots)
    code, plan = doctor("--fix", "--dry-run", *fix_args)
    assert code == int(ExitCode.UNHEALTHY)
    fix = plan["fix"]
    assert isinstance(fix, dict) and fix["dry_run"] and fix["planned"] >= 1 and fix["applied"] == 0
    assert snapshot(*roots) == before, "--fix --dry-run changed something"
    code, done = doctor("--fix", *fix_args)
    fix = done["fix"]
    assert isinstance(fix, dict)
    assert code == 0, (fix["remaining"], fix["repairs"])
    assert fix["failed"] == 0 and fix["applied"] == fix["planned"]
    assert len(fix["fixed_issues"]) == len(expect)
    code, after = doctor(*fix_args)
    assert code == 0 and after["findings"] == [], after["findings"]


@pytest.fixture
def wheels(wheel_dir: Path) -> dict[str, Path]:
    return {
        "alpha": make_wheel(
            wheel_dir,
            "alpha",
            "1.0",
            files={"alpha/__init__.py": "VALUE = 1\n", "alpha/sub.py": "X = 2\n"},
            console_scripts={"alpha-run": "alpha:main"},
        ),
        "beta": make_wheel(wheel_dir, "beta", "2.0", files={"beta.py": "B = 2\n"}),
        "gamma": make_wheel(wheel_dir, "gamma", "3.0", files={"gamma/__init__.py": "G = 3\n"}),
    }


@pytest.fixture
def env(forge_home: Path, wheels: dict[str, Path]) -> Iterator[Path]:
    """Env ``e`` with alpha and beta linked; healthy."""
    assert forge_cli("create", "e").returncode == 0
    proc = forge_cli("install", "--env", "e", str(wheels["alpha"]), str(wheels["beta"]))
    assert proc.returncode == 0, proc.stderr
    yield forge_home / "envs" / "e"


def entry_dir(home: Path, name: str) -> Path:
    with Catalog(home / "catalog.sqlite3") as cat:
        rows = cat.entries_named(name)
    assert len(rows) == 1
    return home / "store" / rows[0].dir


def imports_catalog(env_path: Path) -> None:
    """The env imports exactly what its catalog links: alpha 1.0 and beta 2.0, original content."""
    listed = json.loads(forge_cli("list", "--env", env_path.name, "--json").stdout)["packages"]
    assert {(p["name"], p["version"]) for p in listed} == {("alpha", "1.0"), ("beta", "2.0")}
    code = (
        "import alpha, alpha.sub, beta, importlib.metadata as m\n"
        "print(alpha.VALUE, alpha.sub.X, beta.B, hasattr(alpha, 'EVIL'),"
        " m.version('alpha'), m.version('beta'))"
    )
    proc = run_py(env_path / "bin" / "python", code)
    assert proc.stdout.split() == ["1", "2", "2", "False", "1.0", "2.0"], proc.stderr


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- healthy ---------------------------------------------------------------------------------------


def test_healthy_store_exits_0_with_zero_findings(env: Path) -> None:
    code, doc = doctor("--verify")
    assert code == 0 and doc["findings"] == [] and doc["healthy"] is True
    summary = doc["summary"]
    assert isinstance(summary, dict)
    assert summary["envs_scanned"] == 1 and summary["entries_verified"] == 2
    assert summary["metadata_rows_scanned"] >= 5 and summary["symlinks_scanned"] > 0
    assert summary["findings_by_kind"] == {}
    proc = forge_cli("doctor")
    assert proc.returncode == 0 and "healthy: no findings" in proc.stdout
    code, doc = doctor("--fix")
    assert code == 0 and doc["fix"]["planned"] == 0  # type: ignore[index]


def test_empty_home_is_healthy_and_untouched(forge_home: Path) -> None:
    code, doc = doctor()
    assert code == 0 and doc["findings"] == []
    assert not forge_home.exists(), "a read-only diagnosis creates nothing"


def test_dry_run_needs_fix(forge_home: Path) -> None:
    proc = forge_cli("doctor", "--dry-run")
    assert proc.returncode == int(ExitCode.USAGE) and "--dry-run needs --fix" in proc.stderr


# -- links in an env -------------------------------------------------------------------------------


@pytest.mark.parametrize("victim", ["alpha", "beta.py", "alpha-1.0.dist-info"])
def test_link_deleted_by_hand(env: Path, forge_home: Path, victim: str) -> None:
    path = env / SITE / victim
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    dist = victim.split("-")[0].split(".")[0]
    check_repaired(
        roots=(forge_home,),
        expect=[("link-missing", {"env": "e", "path": f"{SITE}/{victim}", "dist": dist})],
    )
    imports_catalog(env)


def test_link_replaced_by_something_else(env: Path, forge_home: Path) -> None:
    (env / SITE / "alpha").unlink()
    (env / SITE / "alpha").mkdir()  # pip's copy of a package where Forge's link was
    (env / SITE / "alpha" / "__init__.py").write_text("VALUE = 99\n")
    check_repaired(
        roots=(forge_home,),
        expect=[
            ("link-wrong", {"env": "e", "path": f"{SITE}/alpha", "dist": "alpha", "problem": "wrong-type"})
        ],
    )
    imports_catalog(env)


def test_dangling_and_foreign_links(env: Path, forge_home: Path, wheels: dict[str, Path]) -> None:
    assert forge_cli("create", "other").returncode == 0
    assert forge_cli("install", "--env", "other", str(wheels["gamma"])).returncode == 0
    gamma = entry_dir(forge_home, "gamma").name
    site = env / SITE
    os.symlink(f".forge/{gamma}/site/gamma", site / "gamma")  # gamma is not linked into e
    os.symlink(".forge/0123456789abcdef/site/ghost", site / "ghost")  # into the store, at nothing
    os.symlink("/nonexistent/user-thing", site / "mine")  # a user's own dangling link
    code, doc = doctor()
    assert code == int(ExitCode.UNHEALTHY)
    assert kinds(doc) == [
        (
            "link-dangling",
            {
                "env": "e",
                "path": f"{SITE}/ghost",
                "target": ".forge/0123456789abcdef/site/ghost",
                "into_store": True,
            },
        ),
        (
            "link-dangling",
            {"env": "e", "path": f"{SITE}/mine", "target": "/nonexistent/user-thing", "into_store": False},
        ),
        (
            "link-foreign",
            {"env": "e", "path": f"{SITE}/gamma", "target": f".forge/{gamma}/site/gamma", "entry_dir": gamma},
        ),
    ]
    mine = next(f for f in doc["findings"] if f["data"]["path"].endswith("mine"))  # type: ignore[union-attr, index]
    assert mine["fixable"] is False
    before = snapshot(forge_home)
    doctor("--fix", "--dry-run")
    assert snapshot(forge_home) == before
    code, done = doctor("--fix")
    assert code == int(ExitCode.UNHEALTHY), "the user's own link is not Forge's to remove"
    remaining = done["fix"]["remaining"]  # type: ignore[index]
    assert [f["data"]["path"] for f in remaining] == [f"{SITE}/mine"]
    assert not os.path.lexists(site / "gamma") and not os.path.lexists(site / "ghost")
    assert os.path.islink(site / "mine")
    (site / "mine").unlink()
    assert doctor()[0] == 0
    imports_catalog(env)


# -- envs ------------------------------------------------------------------------------------------


def test_env_dir_deleted_by_hand_is_recreated(env: Path, forge_home: Path) -> None:
    remove_tree(env)
    check_repaired(
        roots=(forge_home,),
        expect=[("env-dir-missing", {"env": "e", "path": str(env), "env_kind": "env", "children": []})],
    )
    imports_catalog(env)
    assert (env / "bin" / "alpha-run").is_file()


def test_unknown_env_dir_is_reported_not_touched(env: Path, forge_home: Path) -> None:
    copy = forge_home / "envs" / "copied"
    shutil.copytree(env, copy, symlinks=True)
    code, doc = doctor()
    assert code == int(ExitCode.UNHEALTHY)
    assert kinds(doc) == [("env-unknown", {"path": str(copy)})]
    code, done = doctor("--fix")
    assert code == int(ExitCode.UNHEALTHY) and done["fix"]["planned"] == 0  # type: ignore[index]
    assert copy.is_dir()


@pytest.mark.parametrize("how", ["move", "copy"])
def test_forge_home_moved_or_copied(env: Path, forge_home: Path, tmp_path: Path, how: str) -> None:
    assert forge_cli("create", "kid", "--parent", "e").returncode == 0  # stacked: its hook names e
    new_home = tmp_path / "elsewhere" / "home"
    new_home.parent.mkdir()
    if how == "move":
        os.rename(forge_home, new_home)
    else:
        shutil.copytree(forge_home, new_home, symlinks=True)
    try:
        environ = dict(os.environ, FORGE_HOME=str(new_home))
        new_env = new_home / "envs" / "e"
        code, doc = doctor(env=environ)
        assert code == int(ExitCode.UNHEALTHY)
        assert kinds(doc) == [
            ("env-moved", {"env": "e", "recorded": str(env), "found": str(new_env)}),
            (
                "env-moved",
                {"env": "kid", "recorded": str(forge_home / "envs/kid"), "found": str(new_home / "envs/kid")},
            ),
        ]
        before = snapshot(new_home)
        doctor("--fix", "--dry-run", env=environ)
        assert snapshot(new_home) == before
        code, done = doctor("--fix", env=environ)
        assert code == 0, done["fix"]  # type: ignore[index]
        code, after = doctor("--verify", env=environ)
        assert code == 0 and after["findings"] == [], after["findings"]
        assert os.readlink(new_env / SITE / ".forge") == str(new_home / "store")
        assert str(new_env) in (new_env / "bin" / "pip").read_text()
        # installer's shebang: the interpreter, or a /bin/sh trampoline when its path is too long
        launcher = (new_env / "bin" / "alpha-run").read_text()
        trampoline = "#!/bin/sh\n'''exec' " + f"{new_env}/bin/python"
        assert launcher.startswith((f"#!{new_env}/bin/python", trampoline)), launcher[:200]
        proc = run_py(
            new_env / "bin" / "python", "import alpha, beta, os; print(os.path.realpath(alpha.__file__))"
        )
        assert proc.stdout.strip().startswith(str(new_home / "store")), proc.stderr
        kid = new_home / "envs" / "kid" / "bin" / "python"
        proc = run_py(kid, "import alpha; print(alpha.__file__)")
        assert proc.stdout.strip() == str(new_env / SITE / "alpha" / "__init__.py"), proc.stderr
    finally:
        remove_tree(new_home)


def test_pyvenv_cfg_and_pip_launcher_point_elsewhere(env: Path, forge_home: Path) -> None:
    cfg = env / "pyvenv.cfg"
    real_home = next(
        line.split("=", 1)[1].strip() for line in cfg.read_text().splitlines() if line.startswith("home")
    )
    cfg.write_text(cfg.read_text().replace(f"home = {real_home}", "home = /gone/bin"))
    pip = env / "bin" / "pip"
    pip.write_text(pip.read_text().replace(f"exec {sys.executable} ", "exec /gone/forge/python "))
    check_repaired(
        roots=(forge_home,),
        expect=[
            (
                "launcher-stale",
                {
                    "env": "e",
                    "file": "bin/pip",
                    "problem": "its Forge is gone",
                    "found": "/gone/forge/python",
                },
            ),
            ("venv-cfg-mismatch", {"env": "e", "field": "home", "found": "/gone/bin", "expected": real_home}),
        ],
    )
    proc = subprocess.run([str(pip), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    imports_catalog(env)


def test_a_front_end_an_older_forge_wrote_is_rewritten(env: Path, forge_home: Path) -> None:
    """An env from a Forge whose front end answered for an older pip: importlib.metadata (and
    pip-sync's pip version check) see that pip until doctor --fix writes this Forge's."""
    site = env / SITE
    write_older_front_end(site, env, "26.0")
    assert pip_frontend.front_end_version(site) == "26.0"
    problem = f"answers for pip 26.0, this Forge for pip {pip_frontend.PIP_VERSION}"
    file = f"{SITE}/pip"
    check_repaired(
        roots=(forge_home,),
        expect=[("launcher-stale", {"env": "e", "file": file, "problem": problem, "found": None})],
    )
    assert pip_frontend.front_end_version(site) == pip_frontend.PIP_VERSION
    assert sorted(p.name for p in site.glob("pip-*.dist-info")) == [pip_frontend.dist_info_name()]
    proc = run_py(env / "bin" / "python", "import importlib.metadata as m; print(m.version('pip'))")
    assert proc.stdout.strip() == pip_frontend.PIP_VERSION, proc.stderr


def test_interpreter_gone_is_reported_not_fixed(env: Path, forge_home: Path) -> None:
    db = sqlite3.connect(forge_home / "catalog.sqlite3")
    (raw,) = db.execute("SELECT interpreter FROM envs WHERE name = 'e'").fetchone()
    data = json.loads(raw)
    data["executable"] = "/gone/python3.11"
    db.execute("UPDATE envs SET interpreter = ? WHERE name = 'e'", (json.dumps(data),))
    db.commit()
    db.close()
    code, doc = doctor()
    assert code == int(ExitCode.UNHEALTHY)
    assert kinds(doc) == [("interpreter-missing", {"env": "e", "executable": "/gone/python3.11"})]
    assert doc["findings"][0]["fixable"] is False  # type: ignore[index]
    code, done = doctor("--fix")
    assert code == int(ExitCode.UNHEALTHY) and done["fix"]["planned"] == 0  # type: ignore[index]


def test_rows_that_make_no_layout_are_reported(env: Path, forge_home: Path, wheel_dir: Path) -> None:
    other = make_wheel(wheel_dir, "delta", "1.0", files={"beta.py": "B = 'not beta'\n"})
    assert forge_cli("create", "other").returncode == 0
    assert forge_cli("install", "--env", "other", str(other)).returncode == 0
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        delta = cat.entries_named("delta")[0].id
    db = sqlite3.connect(forge_home / "catalog.sqlite3")
    db.execute("INSERT INTO links(env, entry_id, layer, requested) VALUES ('e', ?, 'local', 0)", (delta,))
    db.commit()
    db.close()
    code, doc = doctor()
    assert code == int(ExitCode.UNHEALTHY)
    ((kind, data),) = kinds(doc)
    assert kind == "env-layout-invalid" and data["env"] == "e" and "beta.py" in str(data["error"])


# -- store entries ---------------------------------------------------------------------------------


def test_unlinked_entry_dir_deleted(env: Path, forge_home: Path, wheels: dict[str, Path]) -> None:
    assert forge_cli("install", "--env", "e", str(wheels["gamma"])).returncode == 0
    assert forge_cli("uninstall", "--env", "e", "gamma").returncode == 0
    gamma = entry_dir(forge_home, "gamma")
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        gid = cat.entries_named("gamma")[0].id
    remove_tree(gamma)
    check_repaired(
        roots=(forge_home,),
        expect=[
            (
                "entry-missing",
                {
                    "entry_id": gid,
                    "name": "gamma",
                    "version": "3.0",
                    "dir": gamma.name,
                    "envs": [],
                    "wheel": None,
                },
            )
        ],
    )
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        assert cat.entries_named("gamma") == []
    imports_catalog(env)


def test_linked_entry_dir_deleted_is_reingested(env: Path, forge_home: Path, wheels: dict[str, Path]) -> None:
    alpha = entry_dir(forge_home, "alpha")
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        aid = cat.entries_named("alpha")[0].id
    remove_tree(alpha)
    check_repaired(
        roots=(forge_home,),
        expect=[
            (
                "entry-missing",
                {
                    "entry_id": aid,
                    "name": "alpha",
                    "version": "1.0",
                    "dir": alpha.name,
                    "envs": ["e"],
                    "wheel": str(wheels["alpha"]),
                },
            )
        ],
    )
    assert doctor("--verify")[0] == 0
    imports_catalog(env)


def test_linked_entry_dir_deleted_without_a_wheel_is_unlinked(
    env: Path, forge_home: Path, wheels: dict[str, Path]
) -> None:
    alpha = entry_dir(forge_home, "alpha")
    remove_tree(alpha)
    wheels["alpha"].unlink()
    code, doc = doctor()
    assert [(k, v["envs"], v["wheel"]) for k, v in kinds(doc)] == [("entry-missing", ["e"], None)]
    before = snapshot(forge_home)
    doctor("--fix", "--dry-run")
    assert snapshot(forge_home) == before
    code, done = doctor("--fix")
    assert code == 0, done["fix"]  # type: ignore[index]
    hints = [r["hint"] for r in done["fix"]["repairs"] if r["action"] == "quarantine"]  # type: ignore[index]
    assert hints == ["forge pip install --env e alpha==1.0"]
    assert doctor("--verify")[0] == 0
    code = (
        "import beta, importlib.metadata as m\n"
        "try:\n import alpha\nexcept ImportError: print('gone', m.version('beta'))"
    )
    proc = run_py(env / "bin" / "python", code)
    assert proc.stdout.split() == ["gone", "2.0"], proc.stderr
    assert not (env / "bin" / "alpha-run").exists() and not (env / SITE / "alpha-1.0.dist-info").exists()


def test_unknown_entry_dir_is_removed(env: Path, forge_home: Path) -> None:
    stray = forge_home / "store" / "deadbeefdeadbeef"
    shutil.copytree(entry_dir(forge_home, "beta"), stray)
    check_repaired(roots=(forge_home,), expect=[("entry-unknown", {"dir": "deadbeefdeadbeef"})])
    assert not stray.exists()
    imports_catalog(env)


def test_unsealed_entry_is_resealed(env: Path, forge_home: Path) -> None:
    beta = entry_dir(forge_home, "beta")
    (beta / "site" / "beta.py").chmod(0o644)
    flagged = seal.is_immutable(beta)
    if flagged:  # root on a filesystem with the flag: clearing it is drift too
        seal._set_immutable(str(beta), False)
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        bid = cat.entries_named("beta")[0].id
    check_repaired(
        roots=(forge_home,),
        expect=[
            (
                "entry-unsealed",
                {
                    "entry_id": bid,
                    "name": "beta",
                    "version": "2.0",
                    "writable": ["site/beta.py"],
                    "immutable_missing": flagged,
                },
            )
        ],
    )
    assert (beta / "site" / "beta.py").stat().st_mode & 0o222 == 0
    assert seal.is_immutable(beta) == flagged
    imports_catalog(env)


# -- leftovers of dead processes --------------------------------------------------------------------


def test_stale_leftovers_of_dead_processes_only(env: Path, forge_home: Path) -> None:
    pid = dead_pid()
    live = os.getpid()
    stale_ingest = forge_home / "tmp" / f"ingest-{pid}-{'a' * 32}"
    stale_ingest.mkdir()
    (stale_ingest / "junk").write_text("x")
    live_ingest = forge_home / "tmp" / f"ingest-{live}-{'b' * 32}"
    live_ingest.mkdir()
    stale_create = forge_home / "envs" / f".new.forge-tmp-{pid}-cafebabe"
    stale_create.mkdir()
    stale_create2 = forge_home / "envs" / f".new.forge-tmp-{pid}-deadbeef"
    stale_create2.mkdir()
    txn = env / ".forge-txn-0123456789ab"
    (txn / "1").mkdir(parents=True)
    removal = forge_home / "envs" / ".gone.forge-rm-0badf00d"
    removal.mkdir()
    (forge_home / "trash").mkdir()
    old_trash = forge_home / "trash" / "1000000000.0011223344556677.abcd1234"  # gc's naming
    old_trash.mkdir()
    fresh_trash = forge_home / "trash" / f"{int(time.time())}.8899aabbccddeeff.abcd1234"
    fresh_trash.mkdir()
    os.utime(fresh_trash, (1.0e9, 1.0e9))  # an old entry dir keeps its mtime: the name dates it
    holder = f"{socket.gethostname()}:{pid}:deadbeef"
    live_holder = f"{socket.gethostname()}:{live}:livelive"
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        aid = cat.entries_named("alpha")[0].id
        with cat.transaction():
            cat.add_lease(aid, holder)
            cat.add_lease(aid, live_holder)
    check_repaired(
        roots=(forge_home,),
        expect=[
            ("stale-env-trash", {"path": str(removal)}),
            ("stale-lease", {"holder": holder, "entries": [aid]}),
            ("stale-staging", {"path": str(stale_create), "pid": pid}),
            ("stale-staging", {"path": str(stale_create2), "pid": pid}),
            ("stale-staging", {"path": str(stale_ingest), "pid": pid}),
            ("stale-trash", {"path": str(old_trash), "age_seconds": AGE}),
            ("stale-txn", {"env": "e", "path": str(txn)}),
        ],
    )
    assert live_ingest.is_dir(), "a live process's staging is never swept"
    assert fresh_trash.is_dir() and not old_trash.exists()
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        assert cat.lease_holders(aid) == [live_holder]
    for gone in (stale_ingest, stale_create, stale_create2, txn, removal):
        assert not gone.exists()
    imports_catalog(env)


def test_journal_of_an_env_whose_lock_is_held_is_left_alone(env: Path, forge_home: Path) -> None:
    txn = env / ".forge-txn-0123456789ab"
    txn.mkdir()
    with file_lock(forge_home / "locks" / "env-e.lock", 5):
        code, doc = doctor()
        assert code == 0 and doc["findings"] == []
    code, doc = doctor()
    assert kinds(doc) == [("stale-txn", {"env": "e", "path": str(txn)})]


# -- tampering and bit rot (--verify) ---------------------------------------------------------------


def _tamper(entry: Path, rel: str, extra: bytes = b"EVIL = 1\n") -> None:
    seal.unseal(entry)
    target = entry / rel
    if target.exists():
        target.chmod(0o644)
        with target.open("ab") as f:
            f.write(extra)
    else:
        target.write_bytes(extra)
    seal.seal(entry)


def _record_sha(entry: Path, rel: str) -> str:
    import base64
    import csv

    record = entry / "site" / "alpha-1.0.dist-info" / "RECORD"
    for row in csv.reader(record.read_text().splitlines()):
        if row and row[0] == rel:
            return base64.urlsafe_b64decode(row[1].split("=", 1)[1] + "==").hex()
    raise AssertionError(rel)


def test_tampered_file_is_restored_from_the_cached_wheel(
    env: Path, forge_home: Path, wheels: dict[str, Path]
) -> None:
    assert forge_cli("create", "h", "--link-mode", "hardlink").returncode == 0
    assert forge_cli("install", "--env", "h", str(wheels["alpha"]), str(wheels["beta"])).returncode == 0
    alpha = entry_dir(forge_home, "alpha")
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        aid = cat.entries_named("alpha")[0].id
    original = (alpha / "site/alpha/__init__.py").read_bytes()
    _tamper(alpha, "site/alpha/__init__.py")
    assert doctor()[0] == 0, "without --verify no file is hashed"
    tampered = hashlib.sha256(original + b"EVIL = 1\n").hexdigest()
    common = {
        "entry_id": aid,
        "name": "alpha",
        "version": "1.0",
        "envs": ["e", "h"],
        "wheel": str(wheels["alpha"]),
    }
    check_repaired(
        "--verify",
        roots=(forge_home,),
        expect=[
            (
                "entry-modified",
                {
                    **common,
                    "file": "site/alpha/__init__.py",
                    "problem": "changed",
                    "expected": _record_sha(alpha, "alpha/__init__.py"),
                    "actual": tampered,
                },
            ),
            (
                "entry-modified",
                {
                    **common,
                    "file": "site/alpha/__pycache__/__init__.cpython-311.pyc",
                    "problem": "bytecode-mismatch",
                    "expected": None,
                    "actual": None,
                },
            ),
        ],
    )
    assert (alpha / "site/alpha/__init__.py").read_bytes() == original
    imports_catalog(env)
    imports_catalog(forge_home / "envs" / "h")  # the hardlinked copy is replaced too
    assert (forge_home / "envs/h" / SITE / "alpha/__init__.py").read_bytes() == original


def test_added_file_without_a_cached_wheel_is_quarantined(
    env: Path, forge_home: Path, wheels: dict[str, Path]
) -> None:
    alpha = entry_dir(forge_home, "alpha")
    with Catalog(forge_home / "catalog.sqlite3") as cat:
        aid = cat.entries_named("alpha")[0].id
    wheels["alpha"].unlink()  # no wheel with this content anywhere
    _tamper(alpha, "site/alpha/planted.py", b"import os\n")
    code, doc = doctor("--verify")
    assert code == int(ExitCode.UNHEALTHY)
    assert kinds(doc) == [
        (
            "entry-modified",
            {
                "entry_id": aid,
                "name": "alpha",
                "version": "1.0",
                "envs": ["e"],
                "wheel": None,
                "file": "site/alpha/planted.py",
                "problem": "added",
                "expected": None,
                "actual": hashlib.sha256(b"import os\n").hexdigest(),
            },
        )
    ]
    before = snapshot(forge_home)
    doctor("--verify", "--fix", "--dry-run")
    assert snapshot(forge_home) == before
    code, done = doctor("--verify", "--fix")
    assert code == 0, done["fix"]  # type: ignore[index]
    repairs = done["fix"]["repairs"]  # type: ignore[index]
    quarantine = next(r for r in repairs if r["action"] == "quarantine")
    assert quarantine["hint"] == "forge pip install --env e alpha==1.0"
    assert not alpha.exists() and list((forge_home / "quarantine").iterdir())
    assert doctor("--verify")[0] == 0
    proc = run_py(
        env / "bin" / "python", "import beta\ntry:\n import alpha\nexcept ImportError: print('gone')"
    )
    assert proc.stdout.strip() == "gone", "the env no longer imports the untrusted entry"


# -- installs repair instead of claiming "already linked" -------------------------------------------


def test_install_of_an_already_linked_wheel_repairs_missing_files(env: Path, wheels: dict[str, Path]) -> None:
    shutil.rmtree(env / SITE / "alpha-1.0.dist-info")
    (env / SITE / "alpha").unlink()
    proc = forge_cli("install", "--env", "e", str(wheels["alpha"]))
    assert proc.returncode == 0, proc.stderr
    assert "relinked (files were missing in the env): alpha 1.0" in proc.stdout
    assert doctor()[0] == 0
    imports_catalog(env)
    proc = forge_cli("install", "--env", "e", str(wheels["alpha"]))
    assert "already linked: alpha 1.0" in proc.stdout


@pytest.mark.parametrize("victims", [["alpha"], ["alpha", "alpha-1.0.dist-info"]])
def test_pip_install_of_a_satisfied_dist_repairs_missing_files(
    env: Path, wheel_dir: Path, victims: list[str]
) -> None:
    for victim in victims:
        remove_tree(env / SITE / victim)
    proc = forge_cli("pip", "--env", "e", "install", "--no-index", "-f", str(wheel_dir), "alpha")
    assert proc.returncode == 0, proc.stderr
    if len(victims) == 1:  # its metadata is still there: pip's "already satisfied", and repaired
        assert "Requirement already satisfied: alpha" in proc.stdout
    assert "Repaired alpha-1.0" in proc.stdout
    assert doctor()[0] == 0
    imports_catalog(env)
    proc = forge_cli("pip", "--env", "e", "install", "--no-index", "-f", str(wheel_dir), "alpha")
    assert "Repaired" not in proc.stdout


# -- a read-only FORGE_HOME (a read-only bind mount: root ignores modes, not a read-only filesystem) --


def _read_only_forge(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``forge ARGS`` in a private mount namespace where ``home`` is a read-only bind mount."""
    import shlex

    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cli = [sys.executable, "-c", "import sys; from forge_pip.cli.forge import main; sys.exit(main())", *args]
    h = shlex.quote(str(home))
    script = f"mount --bind {h} {h} && mount -o remount,ro,bind {h} {h} && exec {shlex.join(cli)}"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=environ,
        cwd=str(Path(__file__).resolve().parents[2]),
        check=False,
    )


def _can_mount_read_only(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp / "ro-probe"
    probe.mkdir()
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind {probe} {probe} && mount -o remount,ro,bind {probe} {probe}",
        ],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def test_read_only_home_is_diagnosed(env: Path, forge_home: Path, tmp_path: Path) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs unshare and mount (root)")
    (env / SITE / "alpha").unlink()
    before = snapshot(forge_home)
    proc = _read_only_forge(forge_home, "doctor", "--json")
    assert proc.returncode == int(ExitCode.UNHEALTHY), proc.stderr
    assert kinds(json.loads(proc.stdout)) == [
        ("link-missing", {"env": "e", "path": f"{SITE}/alpha", "dist": "alpha"})
    ]
    proc = _read_only_forge(forge_home, "doctor", "--verify", "--fix", "--dry-run", "--json")
    assert proc.returncode == int(ExitCode.UNHEALTHY), proc.stderr
    assert json.loads(proc.stdout)["fix"]["planned"] == 1
    proc = _read_only_forge(forge_home, "doctor", "--fix")
    assert proc.returncode == int(ExitCode.STORAGE)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert snapshot(forge_home) == before, "a read-only diagnosis changes nothing"
    assert doctor("--fix")[0] == 0  # where it can write, it repairs
    imports_catalog(env)
