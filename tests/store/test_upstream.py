"""Upstream stores in directory form: two FORGE_HOMEs on one machine, as two nodes of a cluster.

Node A installs wheels the tests build and publishes its entries (``forge store publish``); node B,
with the indexes switched off, installs the same set from the published directory, seen through
a read-only bind mount where root may make one (else made read-only with ``chmod -R a-w``, and
run as an unprivileged user in CI): B's store gains zero bytes, imports work, and not one inode
of the upstream changes (mode, size, mtime, ctime, inode and link count, before and after).
Removing the upstream turns into doctor findings; gc leaves upstream entries alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_store.errors import ExitCode
from forge_store.seal import remove_tree
from forge_store.store import Store
from forge_store.upstream import MANIFEST
from tests.conftest import REPO
from tests.support.wheels import make_wheel

SET = ["alpha", "beta", "nsone", "gamma"]


# -- helpers ------------------------------------------------------------------------------------------


def forge(home: Path, *args: str, upstream: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORGE_UPSTREAM", "FORGE_ENV")}
    env["FORGE_HOME"] = str(home)
    if upstream is not None:
        env["FORGE_UPSTREAM"] = upstream
    return subprocess.run(
        [sys.executable, "-c", "import sys; from forge_pip.cli.forge import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=str(REPO),
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def run_in(env_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    """The env's python as a user runs it: bytecode writes allowed (a pyc written into the upstream
    would show in the snapshot), no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    return subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env, check=False
    )


IMPORTS = "import alpha, beta, ns.one, gamma; print(alpha.A, beta.B, ns.one.X, gamma.where())"


def snapshot(root: Path) -> dict[str, tuple[int, ...]]:
    """Everything about every inode below ``root`` that a write, chmod, hardlink or rename changes."""
    out: dict[str, tuple[int, ...]] = {}
    for path in [root, *root.rglob("*")]:
        st = os.lstat(path)
        out[str(path.relative_to(root))] = (
            st.st_mode,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
            st.st_nlink,
        )
    return out


def store_usage(home: Path) -> tuple[int, int]:
    """(files, bytes) in a FORGE_HOME's store."""
    files = size = 0
    for path in (home / "store").rglob("*"):
        st = os.lstat(path)
        files += 1
        size += st.st_size
    return files, size


def _writable(root: Path) -> None:
    for dirpath, _dirs, names in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in names:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, os.lstat(p).st_mode | 0o200)


@contextlib.contextmanager
def read_only_view(src: Path, where: Path) -> Iterator[Path]:
    """``src`` seen read-only: a ``mount --bind -o ro`` at ``where`` if root may, else ``src``
    itself after ``chmod -R a-w`` (meaningful for an unprivileged user; the snapshot checks both)."""
    if os.geteuid() == 0 and shutil.which("mount"):
        where.mkdir()
        made = subprocess.run(["mount", "--bind", "-o", "ro", str(src), str(where)], capture_output=True)
        if made.returncode == 0:
            try:
                yield where
            finally:
                subprocess.run(["umount", "-l", str(where)], capture_output=True)
            return
        where.rmdir()
    for dirpath, dirs, names in os.walk(src, topdown=False):
        for name in [*names, *dirs]:
            p = os.path.join(dirpath, name)
            os.chmod(p, os.lstat(p).st_mode & ~0o222)
        os.chmod(dirpath, os.lstat(dirpath).st_mode & ~0o222)
    try:
        yield src
    finally:
        _writable(src)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    make_wheel(
        d,
        "alpha",
        "1.0",
        files={"alpha/__init__.py": "A = 1\ndef main():\n    print('alpha-cli', A)\n"},
        console_scripts={"alpha-cli": "alpha:main"},
    )
    make_wheel(d, "beta", "2.0", files={"beta.py": "B = 2\n"}, requires=["alpha"])
    make_wheel(d, "nsone", "1.0", files={"ns/one/__init__.py": "X = 1\n"})
    # a single-file module that finds its .data through its real path (as gmsh does): copied
    gamma = "import os\ndef where():\n    top = os.path.dirname(os.path.realpath(__file__))\n"
    gamma += "    return os.path.isfile(os.path.join(top, '..', '..', '..', 'share', 'gamma.txt'))\n"
    make_wheel(d, "gamma", "1.0", files={"gamma.py": gamma}, data={"data/share/gamma.txt": "g\n"})
    return d


class Cluster:
    """Two nodes (FORGE_HOMEs) and the directory node A publishes to."""

    def __init__(self, tmp_path: Path, wheels: Path) -> None:
        self.tmp = tmp_path
        self.wheels = wheels
        self.a = tmp_path / "node-a"
        self.b = tmp_path / "node-b"
        self.published = tmp_path / "published"

    def node_a_publishes(self, names: list[str] = SET) -> dict[str, Any]:
        ok(forge(self.a, "create", "app", "-q"))
        ok(forge(self.a, "pip", "install", "--env", "app", "--no-index", "-f", str(self.wheels), *names))
        doc = json.loads(ok(forge(self.a, "store", "publish", str(self.published), "--json")).stdout)
        assert doc["kind"] == "store-publish"
        return dict(doc)

    def close(self) -> None:
        for home in (self.a, self.b):
            remove_tree(home)
        if self.published.exists():
            _writable(self.published)


@pytest.fixture
def cluster(tmp_path: Path, wheels: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, wheels)
    yield c
    c.close()


def b_install(
    c: Cluster, up: Path, how: str, env: str = "app", names: list[str] = SET
) -> subprocess.CompletedProcess[str]:
    args = ["--offline"] if how == "offline" else ["--no-index", "-f", str(c.wheels)]
    return forge(c.b, "pip", "install", "--env", env, *args, *names, upstream=str(up))


# -- node B installs from node A's upstream ----------------------------------------------------------


@pytest.mark.parametrize("how", ["offline", "find-links"])
def test_node_b_links_the_upstream_with_zero_new_bytes_and_never_writes_it(
    cluster: Cluster, how: str
) -> None:
    published = cluster.node_a_publishes()
    assert {p["name"] for p in published["published"]} == set(SET) and published["generation"] == 1
    with read_only_view(cluster.published, cluster.tmp / "ro") as up:
        before = snapshot(up)
        ok(forge(cluster.b, "create", "app", "-q", upstream=str(up)))
        usage = store_usage(cluster.b)
        proc = ok(b_install(cluster, up, how))
        assert "Successfully installed alpha-1.0 beta-2.0 gamma-1.0 nsone-1.0" in proc.stdout
        assert store_usage(cluster.b) == usage  # zero new files or bytes in node B's store
        env = cluster.b / "envs" / "app"
        out = run_in(env, IMPORTS)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["1", "2", "1", "True"]
        cli = subprocess.run([str(env / "bin" / "alpha-cli")], capture_output=True, text=True, check=False)
        assert cli.stdout.strip() == "alpha-cli 1"
        site = env / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        assert os.readlink(site / "alpha").startswith(str(up) + "/entries/")
        # files in real (merged) directories are symlinks into the upstream, never hardlinks
        assert (site / "ns" / "one").is_symlink()
        assert os.readlink(site / "ns" / "one").startswith(str(up))
        with Store(cluster.b) as s:
            rows = s.catalog.all_entries()
            assert {r.name for r in rows} == set(SET)
            for row in rows:
                assert row.dir.startswith("@upstream-")
                assert row.meta["upstream"]["root"] == str(up)  # type: ignore[index]
                assert row.meta["upstream"]["generation"] == 1  # type: ignore[index]
        ok(forge(cluster.b, "doctor", "--verify", upstream=str(up)))
        # a second env on node B: the rows are known, still nothing new in the store
        ok(forge(cluster.b, "create", "two", "-q", upstream=str(up)))
        ok(b_install(cluster, up, how, env="two"))
        assert store_usage(cluster.b) == usage
        assert snapshot(up) == before  # not one inode of the upstream changed


def test_upstream_entries_follow_the_store_is_a_cache_rule(cluster: Cluster, tmp_path: Path) -> None:
    """An upstream entry serves only the very file the sources offer: a rebuilt alpha 1.0 with
    other bytes on the find-links is not the published one, so it is unpacked locally."""
    cluster.node_a_publishes(["alpha"])
    other = tmp_path / "other-wheels"
    other.mkdir()
    make_wheel(other, "alpha", "1.0", files={"alpha/__init__.py": "A = 'rebuilt'\n"})
    ok(forge(cluster.b, "create", "app", "-q"))
    proc = forge(
        cluster.b,
        "pip",
        "install",
        "--env",
        "app",
        "--no-index",
        "-f",
        str(other),
        "alpha",
        upstream=str(cluster.published),
    )
    ok(proc)
    assert run_in(cluster.b / "envs" / "app", "import alpha; print(alpha.A)").stdout.strip() == "rebuilt"
    with Store(cluster.b) as s:
        (row,) = s.catalog.all_entries()
        assert not row.dir.startswith("@")


# -- publishing -------------------------------------------------------------------------------------------


def test_publish_is_incremental_idempotent_and_never_changes_an_entry(cluster: Cluster, wheels: Path) -> None:
    first = cluster.node_a_publishes(["alpha", "beta"])
    manifest = cluster.published / MANIFEST
    text = manifest.read_bytes()
    entries = snapshot(cluster.published / "entries")
    again = json.loads(ok(forge(cluster.a, "store", "publish", str(cluster.published), "--json")).stdout)
    assert again["published"] == [] and len(again["skipped"]) == 2
    assert again["generation"] == first["generation"] and not again["manifest_written"]
    assert manifest.read_bytes() == text  # nothing new: the manifest is not rewritten
    ok(forge(cluster.a, "pip", "install", "--env", "app", "--no-index", "-f", str(wheels), "nsone"))
    third = json.loads(ok(forge(cluster.a, "store", "publish", str(cluster.published), "--json")).stdout)
    assert [p["name"] for p in third["published"]] == ["nsone"] and third["generation"] == 2
    after = snapshot(cluster.published / "entries")
    assert {k: v for k, v in after.items() if k in entries and k != "."} == {
        k: v for k, v in entries.items() if k != "."
    }  # published entries untouched
    doc = json.loads(manifest.read_text())
    assert doc["format"] == "forge-upstream" and doc["version"] == 1 and doc["generation"] == 2
    assert not [p for p in cluster.published.iterdir() if p.name.startswith(f".{MANIFEST}")]  # no temp left
    for rel in {e["dir"] for e in doc["entries"].values()}:  # sealed read-only
        for p in [cluster.published / rel, *(cluster.published / rel).rglob("*")]:
            assert not os.lstat(p).st_mode & 0o222, p
    # a published entry changed by hand: the next publish refuses to touch it, manifest unchanged
    victim = next(
        (cluster.published / doc["entries"][c]["dir"])
        for c in doc["entries"]
        if doc["entries"][c]["name"] == "alpha"
    )
    target = victim / "site" / "alpha" / "__init__.py"
    os.chmod(target.parent, 0o755)
    os.chmod(target, 0o644)
    target.write_text("A = 'tampered'\n")
    text = manifest.read_bytes()
    proc = forge(cluster.a, "store", "publish", str(cluster.published))
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    assert "never changed in place" in proc.stderr and proc.stderr.count("\n") == 1
    assert manifest.read_bytes() == text


@pytest.mark.parametrize(
    "args, words",
    [
        (["--env", "nope"], "no env named 'nope'"),
        (["--env", "app", "INSIDE_HOME"], "inside FORGE_HOME"),
    ],
)
def test_publish_bad_input_is_one_line_and_writes_nothing(
    cluster: Cluster, args: list[str], words: str
) -> None:
    ok(forge(cluster.a, "create", "app", "-q"))
    dest = cluster.tmp / "dest"
    if "INSIDE_HOME" in args:
        args = ["--env", "app"]
        dest = cluster.a / "pub"
    proc = forge(cluster.a, "store", "publish", str(dest), *args)
    assert proc.returncode != 0 and words in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not dest.exists()


# -- removing the upstream, gc, degrading --------------------------------------------------------------


@pytest.mark.parametrize("how", ["offline", "find-links"])
def test_a_removed_upstream_is_a_doctor_finding_and_fix_relinks_to_a_local_copy(
    cluster: Cluster, how: str
) -> None:
    cluster.node_a_publishes()
    up = str(cluster.published)
    ok(forge(cluster.b, "create", "app", "-q"))
    ok(b_install(cluster, cluster.published, how))
    ok(forge(cluster.b, "doctor", upstream=up))
    cluster.published.rename(cluster.tmp / "published.unmounted")  # the upstream goes away
    env = cluster.b / "envs" / "app"
    assert run_in(env, "import beta").returncode != 0  # what a user would otherwise see
    proc = forge(cluster.b, "doctor", "--json", upstream=up)
    assert proc.returncode == ExitCode.UNHEALTHY
    findings = json.loads(proc.stdout)["findings"]
    assert {f["kind"] for f in findings} == {"upstream-entry-gone"}  # no bare dangling-link noise
    assert {f["data"]["name"] for f in findings} == set(SET)
    for f in findings:
        assert up in f["message"] and "app" in f["message"]
    if how == "offline":  # node B never saw the wheel files: doctor says exactly what to do
        assert not any(f["fixable"] for f in findings)
        for f in findings:
            assert f"mount {up} again" in f["message"]
            assert f"forge pip install --env app --force-reinstall {f['data']['name']}==" in f["message"]
        fixed = forge(cluster.b, "doctor", "--fix", upstream=up)
        assert fixed.returncode == ExitCode.UNHEALTHY
        return
    assert all(f["fixable"] for f in findings)  # the find-links files are known by their sha256
    ok(forge(cluster.b, "doctor", "--fix", upstream=up))
    out = run_in(env, IMPORTS)
    assert out.returncode == 0 and out.stdout.split() == ["1", "2", "1", "True"], out.stderr
    with Store(cluster.b) as s:
        assert not [r for r in s.catalog.all_entries() if r.dir.startswith("@")]
    ok(forge(cluster.b, "doctor", "--verify", upstream=up))


def test_gc_never_deletes_upstream_entries(cluster: Cluster) -> None:
    cluster.node_a_publishes()
    up = cluster.published
    before = snapshot(up)
    ok(forge(cluster.b, "create", "app", "-q"))
    ok(b_install(cluster, up, "offline"))
    usage = store_usage(cluster.b)
    gc = json.loads(ok(forge(cluster.b, "gc", "--grace", "0", "--json", upstream=str(up))).stdout)
    assert gc["entries"] == [] and gc["orphans"] == []
    assert run_in(cluster.b / "envs" / "app", IMPORTS).returncode == 0
    ok(forge(cluster.b, "remove", "app", upstream=str(up)))
    gc = json.loads(ok(forge(cluster.b, "gc", "--grace", "0", "--json", upstream=str(up))).stdout)
    assert gc["entries"] == [] and gc["totals"]["freed_bytes"] == 0
    with Store(cluster.b) as s:
        assert s.catalog.all_entries() == []  # the rows are forgotten ...
    assert snapshot(up) == before  # ... the upstream's files are not touched
    assert store_usage(cluster.b) == usage
    ok(forge(cluster.b, "create", "again", "-q"))  # and the next use records them again
    ok(b_install(cluster, up, "offline", env="again"))


def test_an_unavailable_upstream_degrades_with_one_warning(cluster: Cluster, tmp_path: Path) -> None:
    gone = tmp_path / "not-mounted"
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / MANIFEST).write_text("{not json")
    ok(forge(cluster.b, "create", "app", "-q"))
    proc = forge(
        cluster.b,
        "pip",
        "install",
        "--env",
        "app",
        "--no-index",
        "-f",
        str(cluster.wheels),
        *SET,
        upstream=f"{gone}{os.pathsep}{bogus}",
    )
    ok(proc)
    assert proc.stderr.count(str(gone)) == 1 and proc.stderr.count(str(bogus)) == 1, proc.stderr
    assert "using the local store and the indexes" in proc.stderr
    with Store(cluster.b) as s:
        assert len([r for r in s.catalog.all_entries() if not r.dir.startswith("@")]) == len(SET)
    assert run_in(cluster.b / "envs" / "app", IMPORTS).returncode == 0


def _tamper(published: Path, name: str) -> None:
    doc = json.loads((published / MANIFEST).read_text())
    rel = next(e["dir"] for e in doc["entries"].values() if e["name"] == name)
    target = published / rel / "site" / name / "__init__.py"
    os.chmod(target.parent, 0o755)
    os.chmod(target, 0o644)
    target.write_text("A = 'evil'\n")


def test_a_corrupt_upstream_entry_is_refused(cluster: Cluster) -> None:
    cluster.node_a_publishes(["alpha"])
    _tamper(cluster.published, "alpha")
    up = cluster.published
    ok(forge(cluster.b, "create", "app", "-q"))
    # only the upstream could serve it: refused, one line, the env unchanged
    proc = forge(cluster.b, "pip", "install", "--env", "app", "--offline", "alpha", upstream=str(up))
    assert proc.returncode != 0 and "does not match its RECORD" in proc.stderr, proc.stderr
    assert run_in(cluster.b / "envs" / "app", "import alpha").returncode != 0
    # with the wheel at hand it is unpacked locally instead, with a warning
    proc = ok(
        forge(
            cluster.b,
            "pip",
            "install",
            "--env",
            "app",
            "--no-index",
            "-f",
            str(cluster.wheels),
            "alpha",
            upstream=str(up),
        )
    )
    assert "does not match its RECORD" in proc.stderr
    assert run_in(cluster.b / "envs" / "app", "import alpha; print(alpha.A)").stdout.strip() == "1"


def test_a_republished_generation_is_checked_again(cluster: Cluster, wheels: Path) -> None:
    cluster.node_a_publishes(["alpha"])
    up = cluster.published
    ok(forge(cluster.b, "create", "app", "-q"))
    ok(b_install(cluster, up, "offline", names=["alpha"]))
    ok(forge(cluster.a, "pip", "install", "--env", "app", "--no-index", "-f", str(wheels), "nsone"))
    assert json.loads(ok(forge(cluster.a, "store", "publish", str(up), "--json")).stdout)["generation"] == 2
    ok(forge(cluster.b, "create", "two", "-q"))
    ok(b_install(cluster, up, "offline", env="two", names=["alpha", "nsone"]))
    with Store(cluster.b) as s:
        gens = {r.name: r.meta["upstream"]["generation"] for r in s.catalog.all_entries()}  # type: ignore[index]
    assert gens == {"alpha": 2, "nsone": 2}


# -- hostile manifests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(dir="../../../../etc"),
        lambda e: e.update(dir="entries/" + "0" * 16),  # not this entry's id
        lambda e: e.update(name=7),
        lambda e: e["meta"].update(
            entry_points=[{"name": "../../x", "module": "m", "attr": "a", "section": "console"}]
        ),
        lambda e: e["meta"].update(entry_points=[{"bogus": 1}]),
        lambda e: e.update(dist_info="../../x.dist-info"),
        lambda e: e.update(wheels=[["zz", "../w.whl"]]),
    ],
)
def test_hostile_manifest_entries_are_ignored(cluster: Cluster, mutate: Any) -> None:
    cluster.node_a_publishes(["alpha"])
    manifest = cluster.published / MANIFEST
    doc = json.loads(manifest.read_text())
    (entry,) = doc["entries"].values()
    mutate(entry)
    os.chmod(manifest, 0o644)
    manifest.write_text(json.dumps(doc))
    ok(forge(cluster.b, "create", "app", "-q"))
    proc = forge(
        cluster.b,
        "pip",
        "install",
        "--env",
        "app",
        "--no-index",
        "-f",
        str(cluster.wheels),
        "alpha",
        upstream=str(cluster.published),
    )
    ok(proc)
    assert "Traceback" not in proc.stderr
    with Store(cluster.b) as s:
        (row,) = s.catalog.all_entries()
        assert not row.dir.startswith("@")  # unpacked locally: the upstream's record was not used
    assert not (Path("/etc") / "x").exists()


# -- the commands ----------------------------------------------------------------------------------------


def test_add_remove_and_list_upstreams(cluster: Cluster, tmp_path: Path) -> None:
    home = cluster.b
    ok(forge(home, "create", "app", "-q"))
    ok(forge(home, "env", "set", "app", "conflict_mode", "strict"))
    cluster.node_a_publishes(["alpha"])
    second = tmp_path / "second"
    second.mkdir()
    ok(forge(home, "store", "add-upstream", str(cluster.published)))
    ok(forge(home, "store", "add-upstream", str(cluster.published)))  # idempotent
    proc = ok(forge(home, "store", "add-upstream", str(second)))
    assert "nothing is published" in proc.stderr
    via_env = tmp_path / "via-env"
    doc = json.loads(ok(forge(home, "store", "upstreams", "--json", upstream=str(via_env))).stdout)
    got = [(u["location"], u["origin"], u["available"], u["entries"]) for u in doc["upstreams"]]
    assert got == [
        (str(via_env), "env", False, 0),
        (str(cluster.published), "config", True, 1),
        (str(second), "config", False, 0),
    ]
    config = json.loads((home / "config.json").read_text())
    assert config["envs"]["app"]["conflict_mode"] == "strict"  # other settings are kept
    ok(forge(home, "store", "remove-upstream", str(second)))
    doc = json.loads(ok(forge(home, "store", "upstreams", "--json")).stdout)
    assert [u["location"] for u in doc["upstreams"]] == [str(cluster.published)]
    text = (home / "config.json").read_text()
    for bad, code in [
        (["add-upstream", str(tmp_path / "missing")], ExitCode.USAGE),
        (["add-upstream", "https://cache.example/forge"], ExitCode.USAGE),
        (["remove-upstream", str(tmp_path / "never-added")], ExitCode.USAGE),
    ]:
        proc = forge(home, "store", *bad)
        assert proc.returncode == code and proc.stderr.count("\n") == 1, proc.stderr
    assert (home / "config.json").read_text() == text
    # B installs through the configured list alone (no FORGE_UPSTREAM)
    ok(forge(home, "pip", "install", "--env", "app", "--offline", "alpha"))
    with Store(home) as s:
        assert [r.dir.startswith("@upstream-") for r in s.catalog.all_entries()] == [True]


def test_forge_upstream_keeps_urls_whole() -> None:
    from forge_store.upstream import split_env

    sep = os.pathsep
    assert split_env(f"/a{sep}https://cache.example/x{sep}{sep}/b") == ["/a", "https://cache.example/x", "/b"]
    assert split_env("") == []


def test_upstream_files_are_never_hardlinked(cluster: Cluster) -> None:
    """Same filesystem, no read-only mount, a hardlink env: still no link count of the upstream
    changes (the upstream's files are symlinked or copied, never hardlinked)."""
    cluster.node_a_publishes()
    up = cluster.published
    before = snapshot(up)
    ok(forge(cluster.b, "create", "app", "-q", "--link-mode", "hardlink"))
    proc = ok(b_install(cluster, up, "offline"))
    assert run_in(cluster.b / "envs" / "app", IMPORTS).returncode == 0, proc.stderr
    assert snapshot(up) == before
    for path in (cluster.b / "envs" / "app").rglob("*"):
        st = os.lstat(path)
        assert not (stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and str(path).endswith(".py")), path


@pytest.mark.parametrize("point", ["upstream-publish-copied", "upstream-publish-manifest"])
def test_a_publish_killed_midway_publishes_nothing_and_the_next_one_completes(
    cluster: Cluster, wheels: Path, point: str
) -> None:
    """Readers see the old generation while a publish is killed anywhere before its manifest; the
    next publish sweeps what it left and publishes everything."""
    cluster.node_a_publishes(["alpha"])
    manifest = (cluster.published / MANIFEST).read_bytes()
    ok(forge(cluster.a, "pip", "install", "--env", "app", "--no-index", "-f", str(wheels), "nsone"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORGE_UPSTREAM")}
    env.update(FORGE_HOME=str(cluster.a), FORGE_TEST_FAULT=f"{point}:kill")
    code = "import sys; from forge_pip.cli.forge import main; sys.exit(main())"
    killed = subprocess.run(
        [sys.executable, "-c", code, "store", "publish", str(cluster.published)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=str(REPO),
    )
    assert killed.returncode == -9, killed.stderr
    assert (cluster.published / MANIFEST).read_bytes() == manifest  # readers: generation 1, whole
    ok(forge(cluster.b, "create", "app", "-q"))
    ok(
        forge(
            cluster.b, "pip", "install", "--env", "app", "--offline", "alpha", upstream=str(cluster.published)
        )
    )
    doc = json.loads(ok(forge(cluster.a, "store", "publish", str(cluster.published), "--json")).stdout)
    assert [p["name"] for p in doc["published"]] == ["nsone"] and doc["generation"] == 2
    names = {p.name for p in (cluster.published / "entries").iterdir()}
    listed = {
        e["dir"].split("/")[1]
        for e in json.loads((cluster.published / MANIFEST).read_text())["entries"].values()
    }
    assert names == listed  # no temp dir, no unlisted entry left
    ok(
        forge(
            cluster.b, "pip", "install", "--env", "app", "--offline", "nsone", upstream=str(cluster.published)
        )
    )
    assert run_in(cluster.b / "envs" / "app", "import alpha, ns.one").returncode == 0


def test_a_named_wheel_file_is_served_from_the_upstream(cluster: Cluster, wheels: Path) -> None:
    """``forge install WHEEL`` names the very file: the upstream entry unpacked from it serves."""
    cluster.node_a_publishes(["alpha"])
    ok(forge(cluster.b, "create", "app", "-q"))
    usage = store_usage(cluster.b)
    wheel = next(wheels.glob("alpha-*.whl"))
    ok(forge(cluster.b, "install", "--env", "app", str(wheel), upstream=str(cluster.published)))
    assert store_usage(cluster.b) == usage
    assert run_in(cluster.b / "envs" / "app", "import alpha; print(alpha.A)").stdout.strip() == "1"
    with Store(cluster.b) as s:
        (row,) = s.catalog.all_entries()
        assert row.dir.startswith("@upstream-")


def test_a_changed_upstream_entry_is_a_doctor_finding(cluster: Cluster) -> None:
    cluster.node_a_publishes(["alpha", "nsone"])
    up = str(cluster.published)
    ok(forge(cluster.b, "create", "app", "-q"))
    ok(b_install(cluster, cluster.published, "find-links", names=["alpha", "nsone"]))
    _tamper(cluster.published, "alpha")  # files changed under a published id
    assert forge(cluster.b, "doctor", upstream=up).returncode == 0  # cheap checks: still listed
    proc = forge(cluster.b, "doctor", "--verify", "--json", upstream=up)
    assert proc.returncode == ExitCode.UNHEALTHY
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["kind"] == "upstream-entry-changed" and finding["data"]["name"] == "alpha"
    assert "differ from its RECORD" in finding["message"] and finding["fixable"]
    # the manifest no longer lists nsone: changed, without --verify
    manifest = cluster.published / MANIFEST
    doc = json.loads(manifest.read_text())
    doc["entries"] = {k: v for k, v in doc["entries"].items() if v["name"] != "nsone"}
    doc["generation"] += 1
    os.chmod(manifest, 0o644)
    manifest.write_text(json.dumps(doc))
    proc = forge(cluster.b, "doctor", "--json", upstream=up)
    kinds = {(f["kind"], f["data"]["name"]) for f in json.loads(proc.stdout)["findings"]}
    assert kinds == {("upstream-entry-changed", "nsone")}
    ok(forge(cluster.b, "doctor", "--verify", "--fix", upstream=up))
    out = run_in(cluster.b / "envs" / "app", "import alpha, ns.one; print(alpha.A)")
    assert out.stdout.strip() == "1", out.stderr  # the local copy, not the tampered one
    with Store(cluster.b) as s:
        assert not [r for r in s.catalog.all_entries() if r.dir.startswith("@")]


def test_fix_relinks_to_another_upstream_with_the_same_content(cluster: Cluster) -> None:
    cluster.node_a_publishes()
    mirror = cluster.tmp / "mirror"
    ok(forge(cluster.a, "store", "publish", str(mirror)))
    ok(forge(cluster.b, "create", "app", "-q"))
    ok(b_install(cluster, cluster.published, "offline"))  # B never sees a wheel file
    cluster.published.rename(cluster.tmp / "gone")
    both = f"{cluster.published}{os.pathsep}{mirror}"
    proc = forge(cluster.b, "doctor", "--json", upstream=both)
    findings = json.loads(proc.stdout)["findings"]
    assert {f["kind"] for f in findings} == {"upstream-entry-gone"}
    assert {f["data"]["elsewhere"] for f in findings} == {str(mirror)} and all(f["fixable"] for f in findings)
    ok(forge(cluster.b, "doctor", "--fix", upstream=both))
    out = run_in(cluster.b / "envs" / "app", IMPORTS)
    assert out.returncode == 0 and out.stdout.split() == ["1", "2", "1", "True"], out.stderr
    with Store(cluster.b) as s:
        roots = {r.meta["upstream"]["root"] for r in s.catalog.all_entries()}  # type: ignore[index]
    assert roots == {str(mirror)}
    assert store_usage(cluster.b)[1] == 0  # still zero bytes in B's store


def _entry_dir(published: Path, name: str) -> Path:
    doc = json.loads((published / MANIFEST).read_text())
    return published / next(e["dir"] for e in doc["entries"].values() if e["name"] == name)


@pytest.mark.parametrize("attack", ["site-symlink", "extra-symlink", "claims-another-project"])
def test_hostile_upstream_trees_are_not_linked(cluster: Cluster, attack: str) -> None:
    """What the manifest says is checked against the tree it describes before anything links it."""
    cluster.node_a_publishes(["alpha", "beta"])
    alpha = _entry_dir(cluster.published, "alpha")
    os.chmod(alpha, 0o755)
    want = "alpha"
    if attack == "site-symlink":  # the same files, reached through a link out of the entry
        copy = cluster.tmp / "elsewhere"
        shutil.copytree(alpha / "site", copy, symlinks=True)
        _writable(alpha / "site")
        shutil.rmtree(alpha / "site")
        os.symlink(copy, alpha / "site")
    elif attack == "extra-symlink":
        os.chmod(alpha / "site", 0o755)
        os.symlink("/etc", alpha / "site" / "etc")
    else:  # alpha's tree listed as beta 2.0
        manifest = cluster.published / MANIFEST
        doc = json.loads(manifest.read_text())
        for cid, e in list(doc["entries"].items()):
            if e["name"] == "beta":
                del doc["entries"][cid]
        for e in doc["entries"].values():
            e.update(name="beta", version="2.0")
        os.chmod(manifest, 0o644)
        manifest.write_text(json.dumps(doc))
        want = "beta"
    ok(forge(cluster.b, "create", "app", "-q"))
    proc = forge(
        cluster.b,
        "pip",
        "install",
        "--env",
        "app",
        "--offline",
        "--no-deps",
        want,
        upstream=str(cluster.published),
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "not using it" in proc.stderr or "does not match" in proc.stderr, proc.stderr
    with Store(cluster.b) as s:
        assert s.catalog.all_entries() == []


def test_a_corrupt_entry_in_the_first_upstream_lets_the_next_one_serve(cluster: Cluster) -> None:
    cluster.node_a_publishes(["alpha"])
    mirror = cluster.tmp / "mirror"
    ok(forge(cluster.a, "store", "publish", str(mirror)))
    _tamper(cluster.published, "alpha")
    ok(forge(cluster.b, "create", "app", "-q"))
    both = f"{cluster.published}{os.pathsep}{mirror}"
    for how in ("offline", "find-links"):
        sources = ["--offline"] if how == "offline" else ["--no-index", "-f", str(cluster.wheels)]
        args = ["pip", "install", "--env", "app", "--force-reinstall", *sources, "alpha"]
        proc = ok(forge(cluster.b, *args, upstream=both))
        # the first time it is looked at; then the node's catalog knows the mirror's (checked) copy
        assert ("does not match its RECORD" in proc.stderr) == (how == "offline"), proc.stderr
        assert run_in(cluster.b / "envs" / "app", "import alpha; print(alpha.A)").stdout.strip() == "1"
        with Store(cluster.b) as s:
            (row,) = s.catalog.all_entries()
            assert row.meta["upstream"]["root"] == str(mirror)  # type: ignore[index]
