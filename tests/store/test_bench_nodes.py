"""bench/nodes.py's own machinery: the disk count and the loopback HTTP server (the timings are
the bench's business; these check that what it reports is counted and served right)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # bench/ is a directory of scripts, not a package

import nodes  # noqa: E402


def test_usage_counts_each_new_inode_once_and_not_what_it_links(tmp_path: Path) -> None:
    shared = tmp_path / "cache"
    shared.mkdir()
    (shared / "big").write_bytes(b"x" * 100_000)
    env = tmp_path / "env"
    env.mkdir()
    os.link(shared / "big", env / "hard")  # shared with the cache: free
    (env / "own").write_bytes(b"y" * 10_000)
    os.link(env / "own", env / "own2")  # the same inode twice: once
    os.symlink(shared / "big", env / "link")  # the link itself, not its target
    use = nodes.usage([env], [shared])
    assert use.inodes == 2  # own (twice), link; below the root only
    assert 10_000 <= use.bytes < 100_000
    alone = nodes.usage([env])
    assert alone.inodes == 3 and alone.bytes >= 110_000
    assert nodes.usage([env], [shared]) + nodes.usage([shared]) == nodes.Usage(3, alone.bytes)


@pytest.mark.parametrize("kind", ["nginx", "python http.server"])
def test_serve_serves_the_publish_dir_on_loopback(tmp_path: Path, kind: str) -> None:
    if kind == "nginx" and nodes.NGINX is None:
        pytest.skip("nginx is not installed")
    root = tmp_path / "pub"
    (root / "entries" / "ab").mkdir(parents=True)
    (root / "forge-upstream.json").write_text('{"format": "forge-upstream"}')
    (root / "entries" / "ab" / "f.bin").write_bytes(b"\0" * 5000)
    nginx = nodes.NGINX if kind == "nginx" else None
    with nodes.serve(root, tmp_path / "http", nginx) as (url, server):
        assert server == kind
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "entries/ab/f.bin", timeout=5) as r:
            assert r.read() == b"\0" * 5000
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "missing", timeout=5)
    with pytest.raises(OSError):  # stopped when the block ends
        urllib.request.urlopen(url + "forge-upstream.json", timeout=2)


def test_try_reports_the_refusal_line(tmp_path: Path) -> None:
    code = "import sys; print('noise', file=sys.stderr); sys.exit('forge: error: no')"
    rc, line = nodes._try([sys.executable, "-c", code], dict(os.environ))
    assert (rc, line) == (1, "forge: error: no")
