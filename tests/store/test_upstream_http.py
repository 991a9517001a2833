"""Upstream stores in HTTP form: node A publishes, a real HTTP server on loopback serves the layout,
node B (indexes switched off) substitutes entries into its own store.

Every attack on the archive (a flipped byte, a cut, extra bytes, a ``../`` member, a symlink out,
a file that is not what RECORD says) is refused with one line and B's store lists the same before
and after; an unreachable server costs one warning; B never sends anything but GET, and the
served directory does not change by one inode.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_store.errors import ExitCode
from forge_store.store import Store
from forge_store.upstream import MANIFEST
from forge_store.upstream_http import SUBSTITUTED_KEY
from tests.store import test_upstream as dirform
from tests.store.test_upstream import IMPORTS, SET, Cluster, _writable, forge, ok, run_in, snapshot
from tests.support.index_server import IndexServer, serve

# the directory form's fixtures: node A's wheels and the two-node cluster
wheels = dirform.wheels
cluster = dirform.cluster

# -- helpers ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def served(root: Path, validators: tuple[str, ...] = ("etag",)) -> Iterator[IndexServer]:
    with serve(root, json_pages=False, validators=validators) as server:
        yield server


def manifest(root: Path) -> dict[str, object]:
    return dict(json.loads((root / MANIFEST).read_text()))


def cid_of(root: Path, name: str) -> str:
    entries = manifest(root)["entries"]
    assert isinstance(entries, dict)
    return str(next(cid for cid, e in entries.items() if e["name"] == name))


def listing(home: Path) -> list[str]:
    """Every path below a FORGE_HOME's store and its staging area."""
    out = []
    for sub in ("store", "tmp"):
        base = home / sub
        out += [f"{sub}/{p.relative_to(base)}" for p in sorted(base.rglob("*"))] if base.is_dir() else []
    return out


def local_rows(home: Path) -> dict[str, dict[str, Any]]:
    with Store(home) as s:
        return {r.name: dict(r.meta) for r in s.catalog.all_entries()}


def b_install(
    c: Cluster, url: str, how: str = "offline", names: list[str] = SET
) -> subprocess.CompletedProcess[str]:
    args = ["--offline"] if how == "offline" else ["--no-index", "-f", str(c.wheels)]
    return forge(c.b, "pip", "install", "--env", "app", *args, *names, upstream=url)


def copy_layout(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    _writable(dest)
    return dest


def set_archive(root: Path, name: str, data: bytes, *, record: bool = True) -> None:
    """Replace an entry's archive in a served layout (``record``: and the manifest's size and
    sha256, so that only extraction or RECORD can catch it)."""
    import hashlib

    cid = cid_of(root, name)
    path = root / "archives" / f"{cid}.tar.gz"
    path.unlink()
    path.write_bytes(data)
    if record:
        doc = manifest(root)
        entries = doc["entries"]
        assert isinstance(entries, dict)
        entries[cid]["archive"] = {
            "path": f"archives/{cid}.tar.gz",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        os.chmod(root / MANIFEST, 0o644)
        (root / MANIFEST).write_text(json.dumps(doc))


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def real_members(root: Path, name: str) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    cid = cid_of(root, name)
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(root / "archives" / f"{cid}.tar.gz", "r:gz") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isreg() else None
            out.append((m, f.read() if f is not None else None))
    return out


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


# -- node B substitutes from node A's binary cache ---------------------------------------------------


@pytest.mark.parametrize("how", ["offline", "find-links"])
def test_node_b_substitutes_entries_from_the_http_binary_cache(cluster: Cluster, how: str) -> None:
    cluster.node_a_publishes()
    doc = manifest(cluster.published)
    entries = doc["entries"]
    assert isinstance(entries, dict) and len(entries) == len(SET)
    for cid, e in entries.items():
        archive = cluster.published / e["archive"]["path"]
        assert (
            e["archive"]["path"] == f"archives/{cid}.tar.gz"
            and archive.stat().st_size == e["archive"]["size"]
        )
    before = snapshot(cluster.published)
    with served(cluster.published) as server:
        url = server.url + "/"
        ok(forge(cluster.b, "store", "add-upstream", url))
        ok(forge(cluster.b, "create", "app", "-q"))
        proc = ok(b_install(cluster, "", how))  # configured: FORGE_UPSTREAM stays empty
        assert "Traceback" not in proc.stderr and "warning" not in proc.stderr.lower(), proc.stderr
        run = run_in(cluster.b / "envs" / "app", IMPORTS)
        assert run.returncode == 0 and run.stdout.split() == ["1", "2", "1", "True"], run
        rows = local_rows(cluster.b)
        assert set(rows) == set(SET)
        for meta in rows.values():  # substituted (not unpacked from the -f wheels), local entries
            assert meta[SUBSTITUTED_KEY]["url"] == server.url and "upstream" not in meta
        with Store(cluster.b) as s:
            for r in s.catalog.all_entries():
                assert not r.dir.startswith("@") and (cluster.b / "store" / r.dir).is_dir()
                assert s.catalog.entry_by_alias(r.wheel_sha256) is not None  # its wheel alias
        ok(forge(cluster.b, "doctor", "--verify"))
        for cid in entries:
            assert server.requests[f"/archives/{cid}.tar.gz"] == 1
        # a second env: the entries are local now, nothing is downloaded again
        ok(forge(cluster.b, "create", "two", "-q"))
        ok(forge(cluster.b, "pip", "install", "--env", "two", "--offline", *SET))
        assert all(server.requests[f"/archives/{cid}.tar.gz"] == 1 for cid in entries)
        assert set(server.requests) <= {"/forge-upstream.json", *(f"/archives/{c}.tar.gz" for c in entries)}
    assert snapshot(cluster.published) == before  # and the server only ever implements GET


@pytest.mark.parametrize("validators", [("etag",), ("last-modified",)])
def test_the_manifest_is_cached_and_revalidated(cluster: Cluster, validators: tuple[str, ...]) -> None:
    cluster.node_a_publishes(["alpha"])
    with served(cluster.published, validators) as server:
        url = server.url
        ok(forge(cluster.b, "create", "app", "-q"))
        ok(forge(cluster.b, "store", "upstreams", upstream=url))
        ok(forge(cluster.b, "store", "upstreams", upstream=url))
        assert server.requests["/forge-upstream.json"] == 2
        assert server.not_modified["/forge-upstream.json"] == 1
        header = "if-none-match" if validators == ("etag",) else "if-modified-since"
        assert header in server.log[-1][1]
        # the cached copy is the answer to the 304
        ok(b_install(cluster, url, names=["alpha"]))
        assert run_in(cluster.b / "envs" / "app", "import alpha").returncode == 0


def test_a_new_generation_is_seen_after_revalidation(cluster: Cluster, wheels: Path) -> None:
    cluster.node_a_publishes(["alpha"])
    with served(cluster.published) as server:
        ok(forge(cluster.b, "create", "app", "-q"))
        assert "beta" not in ok(forge(cluster.b, "store", "upstreams", "--json", upstream=server.url)).stdout
        ok(forge(cluster.a, "pip", "install", "--env", "app", "--no-index", "-f", str(wheels), "beta"))
        ok(forge(cluster.a, "store", "publish", str(cluster.published)))
        doc = json.loads(ok(forge(cluster.b, "store", "upstreams", "--json", upstream=server.url)).stdout)
        assert doc["upstreams"][0]["generation"] == 2 and doc["upstreams"][0]["entries"] == 2
        ok(b_install(cluster, server.url, names=["alpha", "beta"]))


# -- hostile archives ---------------------------------------------------------------------------------


def _flip(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :]


Members = list[tuple[tarfile.TarInfo, bytes | None]]
ATTACKS: dict[str, tuple[Callable[[bytes, Members], bytes], bool]] = {
    # the manifest's size and sha256 stay: the download check refuses
    "flipped-byte": (lambda d, m: _flip(d), False),
    "truncated": (lambda d, m: d[: len(d) // 2], False),
    "longer": (lambda d, m: d + b"\0" * 64, False),
    # the manifest is made to agree with the archive: extraction or RECORD refuses
    "dotdot-member": (lambda d, m: tar_gz([*m, (_member("site/../../x"), b"evil")]), True),
    "absolute-member": (lambda d, m: tar_gz([*m, (_member("/tmp/forge-evil"), b"evil")]), True),
    "symlink-out": (
        lambda d, m: tar_gz([*m, (_member("site/alpha/out", tarfile.SYMTYPE, "/etc"), None)]),
        True,
    ),
    "hardlink": (lambda d, m: tar_gz([*m, (_member("site/x", tarfile.LNKTYPE, "/etc/passwd"), None)]), True),
    "device": (lambda d, m: tar_gz([*m, (_member("site/dev", tarfile.CHRTYPE), None)]), True),
    "outside-parts": (lambda d, m: tar_gz([*m, (_member("forge-entry.json"), b"{}")]), True),
    "changed-file": (
        lambda d, m: tar_gz(
            [(i, b"A = 'evil'\n" if i.name.endswith("alpha/__init__.py") else b) for i, b in m]
        ),
        True,
    ),
    "not-a-tar": (lambda d, m: gzip.compress(b"hello"), True),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_hostile_archive_is_refused_and_nothing_is_published(
    cluster: Cluster, tmp_path: Path, attack: str
) -> None:
    cluster.node_a_publishes(["alpha"])
    layout = copy_layout(cluster.published, tmp_path / "served")
    cid = cid_of(layout, "alpha")
    make, record = ATTACKS[attack]
    good = (layout / "archives" / f"{cid}.tar.gz").read_bytes()
    set_archive(layout, "alpha", make(good, real_members(layout, "alpha")), record=record)
    ok(forge(cluster.b, "create", "app", "-q"))
    before = listing(cluster.b)
    with served(layout) as server:
        proc = b_install(cluster, server.url, names=["alpha"])
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.lower().startswith("error")]
    assert len(lines) == 1 and "nothing was published" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert listing(cluster.b) == before  # no entry, no staging left
    assert not (tmp_path / "x").exists() and not Path("/tmp/forge-evil").exists()
    assert run_in(cluster.b / "envs" / "app", "import alpha").returncode != 0


def test_a_corrupt_archive_of_an_offered_wheel_is_refused_and_the_indexes_serve_without_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The plan links what the binary cache holds for the offered file (no wheel is fetched); a
    substitution that fails stops the install with one line, and bypassing the cache works."""
    cluster.node_a_publishes(["alpha"])
    layout = copy_layout(cluster.published, tmp_path / "served")
    cid = cid_of(layout, "alpha")
    set_archive(layout, "alpha", _flip((layout / "archives" / f"{cid}.tar.gz").read_bytes()), record=False)
    ok(forge(cluster.b, "create", "app", "-q"))
    before = listing(cluster.b)
    with served(layout) as server:
        proc = b_install(cluster, server.url, "find-links", names=["alpha"])
        assert proc.returncode != 0 and "sha256" in proc.stderr and "FORGE_UPSTREAM=" in proc.stderr
        assert listing(cluster.b) == before
        ok(b_install(cluster, "", "find-links", names=["alpha"]))
    assert SUBSTITUTED_KEY not in local_rows(cluster.b)["alpha"]
    assert run_in(cluster.b / "envs" / "app", "import alpha; print(alpha.A)").stdout.strip() == "1"


@pytest.mark.parametrize(
    ("var", "value"), [("FORGE_MAX_WHEEL_FILES", "2"), ("FORGE_MAX_UNPACKED_BYTES", "16")]
)
def test_archives_are_capped_like_wheels(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    cluster.node_a_publishes(["alpha"])
    ok(forge(cluster.b, "create", "app", "-q"))
    before = listing(cluster.b)
    monkeypatch.setenv(var, value)
    with served(cluster.published) as server:
        proc = b_install(cluster, server.url, names=["alpha"])
    assert proc.returncode != 0 and "exceeds the limit" in proc.stderr and "Traceback" not in proc.stderr
    assert listing(cluster.b) == before


# -- degrade -----------------------------------------------------------------------------------------


def test_an_unreachable_binary_cache_degrades_with_one_warning(cluster: Cluster, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / MANIFEST).write_text("{not json")
    empty = tmp_path / "empty"
    empty.mkdir()
    ok(forge(cluster.b, "create", "app", "-q"))
    with served(bogus) as bad, served(empty) as missing:
        with served(empty) as down:
            dead = down.url
        urls = [dead, bad.url, missing.url]  # refused connection, bad JSON, 404
        proc = ok(b_install(cluster, os.pathsep.join(urls), "find-links"))
    for url in urls:
        assert proc.stderr.count(url) == 1, proc.stderr
    assert proc.stderr.count("using the local store and the indexes") == 3
    assert "Traceback" not in proc.stderr
    assert SUBSTITUTED_KEY not in local_rows(cluster.b)["alpha"]
    assert run_in(cluster.b / "envs" / "app", IMPORTS).returncode == 0
    doc = json.loads(ok(forge(cluster.b, "store", "upstreams", "--json", upstream=dead)).stdout)
    assert doc["upstreams"][0]["available"] is False and "not available" in doc["upstreams"][0]["problem"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://forge-cache.example.com/team/", "plain http"),
        ("ftp://127.0.0.1/x/", "http(s)://"),
        ("https://user:secret@127.0.0.1/x/", "no credentials"),
    ],
)
def test_add_upstream_refuses_bad_urls_with_one_line(cluster: Cluster, url: str, why: str) -> None:
    proc = forge(cluster.b, "store", "add-upstream", url)
    assert proc.returncode == int(ExitCode.USAGE) and why in proc.stderr and "Traceback" not in proc.stderr
    assert (
        "upstreams" not in (cluster.b / "config.json").read_text()
        if (cluster.b / "config.json").exists()
        else True
    )


def test_add_upstream_checks_the_server(cluster: Cluster, tmp_path: Path) -> None:
    with served(tmp_path) as down:
        dead = down.url
    proc = forge(cluster.b, "store", "add-upstream", dead + "/")
    assert proc.returncode == int(ExitCode.USAGE) and "not reachable" in proc.stderr, proc.stderr
    with served(tmp_path) as empty:  # reachable, nothing published yet: added, with a warning
        proc = ok(forge(cluster.b, "store", "add-upstream", empty.url + "/"))
        assert "nothing is published" in proc.stderr
        ok(forge(cluster.b, "store", "remove-upstream", empty.url + "/"))


# -- publish writes the archives ----------------------------------------------------------------------


def test_publish_adds_archives_to_an_older_layout_and_stays_idempotent(cluster: Cluster) -> None:
    cluster.node_a_publishes(["alpha", "beta"])
    # an older publish: no archives in the layout or the manifest
    doc = manifest(cluster.published)
    entries = doc["entries"]
    assert isinstance(entries, dict)
    for e in entries.values():
        del e["archive"]
    os.chmod(cluster.published / MANIFEST, 0o644)
    (cluster.published / MANIFEST).write_text(json.dumps(doc))
    shutil.rmtree(cluster.published / "archives")
    again = json.loads(ok(forge(cluster.a, "store", "publish", str(cluster.published), "--json")).stdout)
    assert again["manifest_written"] and again["generation"] == 2 and not again["published"]
    entries = manifest(cluster.published)["entries"]
    assert isinstance(entries, dict) and all(
        (cluster.published / e["archive"]["path"]).is_file() for e in entries.values()
    )
    lock = ".forge-publish.lock"  # the publisher's own lock file: touched by every publish
    before = {k: v for k, v in snapshot(cluster.published).items() if k != lock}
    third = json.loads(ok(forge(cluster.a, "store", "publish", str(cluster.published), "--json")).stdout)
    assert not third["manifest_written"] and third["generation"] == 2
    assert {k: v for k, v in snapshot(cluster.published).items() if k != lock} == before
    # a published archive is never changed in place
    path = cluster.published / next(iter(entries.values()))["archive"]["path"]
    os.chmod(path, 0o644)
    path.write_bytes(b"changed")
    proc = forge(cluster.a, "store", "publish", str(cluster.published))
    assert proc.returncode == int(ExitCode.INTEGRITY) and "never changed in place" in proc.stderr


# -- doctor --fix fetches from the binary cache --------------------------------------------------------


def test_fix_relinks_a_gone_directory_upstream_from_the_http_cache(cluster: Cluster, tmp_path: Path) -> None:
    cluster.node_a_publishes(["alpha", "beta"])
    ok(forge(cluster.b, "create", "app", "-q", upstream=str(cluster.published)))
    ok(
        forge(
            cluster.b,
            "pip",
            "install",
            "--env",
            "app",
            "--offline",
            "alpha",
            "beta",
            upstream=str(cluster.published),
        )
    )
    moved = tmp_path / "moved"
    cluster.published.rename(moved)  # the directory upstream is gone; an HTTP cache serves the layout
    try:
        with served(moved) as server:
            diag = forge(cluster.b, "doctor", "--json", upstream=server.url)
            findings = json.loads(diag.stdout)["findings"]
            assert {f["kind"] for f in findings} >= {"upstream-entry-gone"}, findings
            ok(forge(cluster.b, "doctor", "--fix", upstream=server.url))
            assert server.requests[f"/archives/{cid_of(moved, 'alpha')}.tar.gz"] == 1
        ok(forge(cluster.b, "doctor", upstream=""))
        rows = local_rows(cluster.b)
        assert SUBSTITUTED_KEY in rows["alpha"] and "upstream" not in rows["alpha"]
        run = run_in(cluster.b / "envs" / "app", "import alpha, beta; print(alpha.A, beta.B)")
        assert run.stdout.split() == ["1", "2"], run
    finally:
        moved.rename(cluster.published)


# -- real wheels ---------------------------------------------------------------------------------------


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.xdist_group("real")
def test_real_wheels_round_trip_through_the_binary_cache(tmp_path: Path) -> None:
    from forge_store.seal import remove_tree
    from tests.support.wheel_cache import cache_set, fill

    if sys.version_info[:2] != (3, 11):
        pytest.skip("the machine's local package indexes carry cp311 wheels")
    wheels_dir = fill(cache_set("httpcache-py311"), ["numpy", "six", "jaraco.text"])
    a, b, published = tmp_path / "a", tmp_path / "b", tmp_path / "published"
    try:
        ok(forge(a, "create", "app", "-q"))
        names = ["numpy", "six", "jaraco.text"]
        ok(forge(a, "pip", "install", "--env", "app", "--no-index", "-f", str(wheels_dir), *names))
        ok(forge(a, "store", "publish", str(published)))
        with served(published) as server:
            ok(forge(b, "create", "app", "-q"))
            ok(forge(b, "pip", "install", "--env", "app", "--offline", *names, upstream=server.url))
        code = "import numpy, six, jaraco.text; print(numpy.arange(3).sum())"
        run = run_in(b / "envs" / "app", code)
        assert run.returncode == 0 and run.stdout.strip() == "3", run
        ok(forge(b, "doctor", "--verify"))
        assert all(SUBSTITUTED_KEY in m for m in local_rows(b).values())
    finally:
        for home in (a, b):
            remove_tree(home)
        if published.exists():
            _writable(published)


# -- URLs ----------------------------------------------------------------------------------------------


def test_forge_upstream_keeps_ports_and_ipv6_literals_whole() -> None:
    from forge_store.upstream import split_env

    value = os.pathsep.join(["http://127.0.0.1:8080", "/mnt/a", "https://h/x", "http://[::1]:80/y", "/b"])
    assert split_env(value) == ["http://127.0.0.1:8080", "/mnt/a", "https://h/x", "http://[::1]:80/y", "/b"]


def test_plain_http_needs_loopback_or_a_trusted_host() -> None:
    from forge_store.errors import UpstreamInvalid
    from forge_store.upstream_http import check_url

    assert check_url("http://127.0.0.1:9/x/", {}) == "http://127.0.0.1:9/x"
    assert check_url("http://localhost/x", {}) == "http://localhost/x"
    assert check_url("https://cache.example/x/", {}) == "https://cache.example/x"
    assert check_url("http://cache.lan:8080/x", {"PIP_TRUSTED_HOST": "other cache.lan:8080"})
    with pytest.raises(UpstreamInvalid, match="plain http"):
        check_url("http://cache.lan:8080/x", {"PIP_TRUSTED_HOST": "cache.lan:9090"})
