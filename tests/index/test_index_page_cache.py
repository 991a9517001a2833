"""The parsed-page cache: a page is parsed once per change, changes are always seen, bad entries ignored.

Every client here is a new ``IndexClient`` on the same ``cache_dir``: what a later run of Forge sees.
Parses are counted by wrapping the parsers the page reader calls.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from forge_pip.index import IndexClient
from forge_pip.index import pages as pages_module
from forge_pip.index.pagecache import PageCache
from tests.index.helpers import METADATA, RecordingReporter, make_file
from tests.support.index_server import LocalIndex, serve

FAST = {"timeout": 5.0, "retries": 0}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs of every page parse (index pages and find-links pages)."""
    seen: list[str] = []
    real_page, real_html = pages_module.parse_page, pages_module.parse_html

    def parse_page(body: bytes, page_url: str, *args: object, **kwargs: object) -> object:
        seen.append(page_url)
        return real_page(body, page_url, *args, **kwargs)

    def parse_html(body: bytes, page_url: str, *args: object, **kwargs: object) -> object:
        seen.append(page_url)
        return real_html(body, page_url, *args, **kwargs)

    monkeypatch.setattr(pages_module, "parse_page", parse_page)
    monkeypatch.setattr(pages_module, "parse_html", parse_html)
    return seen


def names(client: IndexClient, project: str = "demo") -> list[str]:
    return [f.filename for f in client.project_files(project)]


def release(index: LocalIndex, tmp_path: Path, filename: str, **kwargs: object) -> None:
    """Upload one more file and rewrite the pages (their content changes, not only their time)."""
    index.add(make_file(tmp_path / "upload", filename), **kwargs)
    index.write()


VALIDATORS = {
    "etag": ("etag",),
    "last-modified": ("last-modified",),
    "both": ("etag", "last-modified"),
    "none": (),  # a mirror that sends no validators: every request is a 200, compared by digest
}


@pytest.mark.parametrize("kind", list(VALIDATORS))
@pytest.mark.parametrize("json_pages", [True, False], ids=["json", "html"])
def test_unchanged_page_is_revalidated_not_parsed_and_a_change_is_seen(
    demo_index: LocalIndex, tmp_path: Path, parses: list[str], kind: str, json_pages: bool
) -> None:
    cache = tmp_path / "cache"
    page = "/simple/demo/"
    with serve(demo_index.root, validators=VALIDATORS[kind], json_pages=json_pages) as server:
        for _ in range(3):
            with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
                first = names(client)
        assert first == ["demo-1.0-py3-none-any.whl", "demo-1.1.tar.gz", "demo-0.9-py3-none-any.whl"]
        assert server.requests[page] == 3  # revalidated every time, as pip does
        assert len(parses) == 1  # ... but parsed once
        expected_304 = 0 if kind == "none" else 2
        assert server.not_modified[page] == expected_304
        if kind in ("etag", "both"):
            assert "if-none-match" in server.log[-1][1]
        if kind in ("last-modified", "both"):
            assert "if-modified-since" in server.log[-1][1]

        time.sleep(1.1 if kind == "last-modified" else 0)  # Last-Modified has whole seconds
        release(demo_index, tmp_path, "demo-2.0-py3-none-any.whl")
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert names(client)[-1] == "demo-2.0-py3-none-any.whl"
        assert len(parses) == 2
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert names(client)[-1] == "demo-2.0-py3-none-any.whl"
        assert len(parses) == 2


@pytest.mark.parametrize("max_age", [600, 1])
def test_new_release_appears_within_and_after_max_age(
    demo_index: LocalIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_age: int
) -> None:
    """A server's max-age never hides an upload: pip revalidates index pages (max-age=0)."""
    cache = tmp_path / "cache"
    with serve(demo_index.root, cache_control=f"max-age={max_age}") as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert "demo-3.0-py3-none-any.whl" not in names(client)
        release(demo_index, tmp_path, "demo-3.0-py3-none-any.whl")
        later = time.time() + max_age + 5  # the cached page is past its max-age now
        monkeypatch.setattr(time, "time", lambda: later)
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert "demo-3.0-py3-none-any.whl" in names(client)
    assert server.requests["/simple/demo/"] == 2


def test_yanked_file_stays_yanked_from_the_cache(demo_index: LocalIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        for _ in range(2):
            with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
                files = {f.filename: f for f in client.project_files("demo")}
                assert files["demo-0.9-py3-none-any.whl"].yanked == "broken build"
                assert files["demo-1.0-py3-none-any.whl"].yanked is None
                assert files["demo-1.1.tar.gz"].requires_python == ">=3.8,<4"
                assert files["demo-1.0-py3-none-any.whl"].metadata_hashes == {
                    "sha256": hashlib.sha256(METADATA).hexdigest()
                }
                (other,) = client.project_files("other")
                assert other.yanked == ""  # data-yanked without a reason
        assert server.not_modified["/simple/demo/"] == 1


def _set_old(path: Path, age: float = 100.0) -> None:
    moment = time.time() - age
    os.utime(path, (moment, moment))


def test_file_index_page_is_parsed_once_and_a_change_is_seen(
    demo_index: LocalIndex, tmp_path: Path, parses: list[str]
) -> None:
    cache = tmp_path / "cache"
    page = demo_index.simple / "demo" / "index.html"
    _set_old(page)
    for _ in range(3):
        with IndexClient(index_urls=[demo_index.file_url], cache_dir=cache) as client:
            assert len(names(client)) == 3
    assert len(parses) == 1
    release(demo_index, tmp_path, "demo-2.0-py3-none-any.whl")  # new mtime, size, content
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=cache) as client:
        assert names(client)[-1] == "demo-2.0-py3-none-any.whl"
    assert len(parses) == 2


def test_file_page_rewritten_within_one_timestamp_is_seen(demo_index: LocalIndex, tmp_path: Path) -> None:
    """Same size, mtime put back: a page changed right after it was cached is still seen."""
    cache = tmp_path / "cache"
    page = demo_index.simple / "demo" / "index.html"
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=cache) as client:
        assert "demo-1.0-py3-none-any.whl" in names(client)
    st = page.stat()
    text = page.read_text()
    page.write_text(text.replace("demo-1.0-py3-none-any.whl", "demo-1.5-py3-none-any.whl"))
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert page.stat().st_size == st.st_size
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=cache) as client:
        assert "demo-1.5-py3-none-any.whl" in names(client)


def test_touched_file_page_is_not_parsed_again(
    demo_index: LocalIndex, tmp_path: Path, parses: list[str]
) -> None:
    cache = tmp_path / "cache"
    page = demo_index.simple / "demo" / "index.html"
    _set_old(page, 200)
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=cache) as client:
        names(client)
    _set_old(page, 100)  # mtime changed, content not
    for _ in range(2):
        with IndexClient(index_urls=[demo_index.file_url], cache_dir=cache) as client:
            assert len(names(client)) == 3
    assert len(parses) == 1


def test_find_links_directory_and_page_changes_are_seen(tmp_path: Path, parses: list[str]) -> None:
    cache = tmp_path / "cache"
    wheels = tmp_path / "wheels"
    make_file(wheels, "demo-1.0-py3-none-any.whl")
    make_file(wheels, "other-1.0.tar.gz")
    page = tmp_path / "links.html"
    page.write_text('<a href="wheels/demo-0.5.tar.gz">d</a>')
    _set_old(page)
    locations = [str(wheels), page.as_uri()]
    with IndexClient(index_urls=[], find_links=locations, cache_dir=cache) as client:
        assert names(client) == ["demo-1.0-py3-none-any.whl", "demo-0.5.tar.gz"]
        assert names(client, "other") == ["other-1.0.tar.gz"]
    make_file(wheels, "demo-2.0-py3-none-any.whl")
    (wheels / "other-1.0.tar.gz").unlink()
    with IndexClient(index_urls=[], find_links=locations, cache_dir=cache) as client:
        assert names(client) == ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl", "demo-0.5.tar.gz"]
        assert names(client, "other") == []
    assert len(parses) == 1  # the page did not change
    page.write_text('<a href="wheels/demo-0.6.tar.gz">d</a>')
    with IndexClient(index_urls=[], find_links=locations, cache_dir=cache) as client:
        assert names(client)[-1] == "demo-0.6.tar.gz"


def test_find_links_http_page_is_revalidated(tmp_path: Path, parses: list[str]) -> None:
    root = tmp_path / "site"
    make_file(root / "dl", "demo-1.0-py3-none-any.whl")
    (root / "links.html").write_text('<a href="dl/demo-1.0-py3-none-any.whl">w</a>')
    cache = tmp_path / "cache"
    with serve(root, cache_control="max-age=600") as server:
        for _ in range(2):
            with IndexClient(index_urls=[], find_links=[server.url + "/links.html"], cache_dir=cache) as c:
                assert names(c) == ["demo-1.0-py3-none-any.whl"]
        (root / "links.html").write_text('<a href="dl/demo-2.0-py3-none-any.whl">w</a>')
        with IndexClient(index_urls=[], find_links=[server.url + "/links.html"], cache_dir=cache) as c:
            assert names(c) == ["demo-2.0-py3-none-any.whl"]
        assert server.requests["/links.html"] == 3
        assert server.not_modified["/links.html"] == 1
    assert len(parses) == 2


def _corruptions() -> dict[str, Callable[[Path, Path], None]]:
    def truncate(path: Path, _other: Path) -> None:
        path.write_bytes(path.read_bytes()[:-7])

    def flip(path: Path, _other: Path) -> None:
        raw = bytearray(path.read_bytes())
        raw[-20] ^= 0x01
        path.write_bytes(bytes(raw))

    def garbage(path: Path, _other: Path) -> None:
        path.write_bytes(os.urandom(300))

    def empty(path: Path, _other: Path) -> None:
        path.write_bytes(b"")

    def header_only(path: Path, _other: Path) -> None:
        path.write_bytes(path.read_bytes().partition(b"\n")[0])

    def other_url(path: Path, other: Path) -> None:  # a whole, valid entry for another page
        shutil.copyfile(other, path)

    def other_format(path: Path, _other: Path) -> None:
        path.write_bytes(path.read_bytes().replace(b'"format": 1', b'"format": 99', 1))

    def wrong_types(path: Path, _other: Path) -> None:  # valid JSON and CRC, nonsense columns
        import json
        import zlib

        payload = json.dumps({"columns": {"urls": [1], "filenames": [None]}, "warnings": []}).encode()
        header = json.loads(path.read_bytes().partition(b"\n")[0])
        header.update(length=len(payload), crc32=zlib.crc32(payload))
        path.write_bytes(json.dumps(header).encode() + b"\n" + payload)

    return {
        f.__name__: f
        for f in (truncate, flip, garbage, empty, header_only, other_url, other_format, wrong_types)
    }


@pytest.mark.parametrize("damage", list(_corruptions()))
def test_unusable_cache_entry_is_ignored_and_rewritten(
    demo_index: LocalIndex, tmp_path: Path, damage: str
) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            good = client.project_files("demo")
            client.project_files("other")
        pages = PageCache(cache / "pages")
        path = pages._path(server.index_url + "/demo/")
        other = pages._path(server.index_url + "/other/")
        _corruptions()[damage](path, other)
        assert pages.load(server.index_url + "/demo/") is None
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert client.project_files("demo") == good
        assert "if-none-match" not in server.log[-1][1]  # refetched in full, not revalidated
        assert pages.load(server.index_url + "/demo/") is not None  # and written again
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert client.project_files("demo") == good
        assert server.not_modified["/simple/demo/"] == 1


@pytest.fixture
def stopped_server(demo_index: LocalIndex, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A warm cache of ``demo`` (page and metadata) from a server that is gone."""
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert client.fetch_metadata(client.project_files("demo")[0]) == METADATA
        index_url = server.index_url
    yield index_url, cache


def test_offline_uses_the_parsed_cache_and_metadata_by_digest(
    stopped_server: tuple[str, Path], parses: list[str], reporter: RecordingReporter
) -> None:
    index_url, cache = stopped_server  # set up before ``parses``: only this test's parses count
    with IndexClient(index_urls=[index_url], cache_dir=cache, offline=True, reporter=reporter) as client:
        files = client.project_files("demo")
        assert files[0].filename == "demo-1.0-py3-none-any.whl"
        assert files[2].yanked == "broken build"
        assert client.fetch_metadata(files[0]) == METADATA
    assert parses == [] and reporter.pages == [] and reporter.warnings == []


def test_metadata_is_fetched_once_per_digest(demo_index: LocalIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        for _ in range(3):
            with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
                assert client.fetch_metadata(client.project_files("demo")[0]) == METADATA
        assert server.requests["/files/demo-1.0-py3-none-any.whl.metadata"] == 1
    stored = cache / "metadata" / "sha256"
    (entry,) = [p for p in stored.rglob("*") if p.is_file()]
    entry.write_bytes(b"Metadata-Version: 2.1\nName: demo\nVersion: 6.6\n")  # damaged: fails its digest
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            assert client.fetch_metadata(client.project_files("demo")[0]) == METADATA
        assert server.requests["/files/demo-1.0-py3-none-any.whl.metadata"] == 1


def test_rows_are_built_only_when_read(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index")
    for i in range(50):
        index.add(make_file(tmp_path / "s", f"demo-1.{i}-cp27-cp27m-win32.whl"))
    index.add(make_file(tmp_path / "s", "demo-2.0-py3-none-any.whl"))
    index.write()
    with IndexClient(index_urls=[index.file_url], cache_dir=tmp_path / "cache") as client:
        table = client.project_table("demo")
        assert len(table) == 51 and table.filenames[-1] == "demo-2.0-py3-none-any.whl"
        assert table[-1].filename == "demo-2.0-py3-none-any.whl"
        assert sum(built is not None for built in table._built) == 1
        assert table[-1] is table[-1]


def test_prefetched_pages_give_the_same_files_and_hold_warnings_back(
    demo_index: LocalIndex, tmp_path: Path, reporter: RecordingReporter
) -> None:
    (demo_index.simple / "other" / "index.json").write_text('{"files": "not a list"}')
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as plain:
            expected = plain.project_files("demo")
        with IndexClient(index_urls=[server.index_url], cache_dir=None, reporter=reporter, **FAST) as client:
            client.prefetch(["demo", "Other", "missing", "demo"])
            client.project_table("missing")
            while server.requests["/simple/other/"] == 0:  # read in the background ...
                time.sleep(0.01)
            time.sleep(0.05)
            assert reporter.warnings == []  # ... but its warning waits for the caller to ask
            assert client.project_files("demo") == expected
            assert client.project_files("other") == []
            assert len(reporter.warnings) == 1 and "malformed page" in reporter.warnings[0]
            client.prefetch(["demo"])  # already read: no second request
        assert server.requests["/simple/demo/"] == 2  # one per client
        assert server.requests["/simple/missing/"] == 1


def test_prefetch_errors_surface_when_the_project_is_asked_for(demo_index: LocalIndex) -> None:
    from forge_pip.index import IndexUnreachable

    with serve(demo_index.root) as server:
        server.fail["/simple/demo/"] = 503
        with IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as client:
            client.prefetch(["demo", "other"])
            assert len(client.project_files("other")) == 1
            with pytest.raises(IndexUnreachable, match="503"):
                client.project_files("demo")


def test_prefetch_is_a_no_op_offline_and_for_local_indexes(demo_index: LocalIndex, tmp_path: Path) -> None:
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=tmp_path / "c") as client:
        client.prefetch(["demo"])
        assert client._pool is None
    with IndexClient(index_urls=["https://index.test/simple"], cache_dir=tmp_path / "c", offline=True) as c:
        c.prefetch(["demo"])
        assert c._pool is None


def test_offline_reads_a_page_an_older_forge_cached_raw(demo_index: LocalIndex, tmp_path: Path) -> None:
    """Upgrading Forge and going offline at once still works: ``cache/http`` bodies are parsed once."""
    from forge_pip.index.cache import HttpCache

    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as client:
            expected = client.project_files("demo")
        url = server.index_url + "/demo/"
        body = (demo_index.simple / "demo" / "index.json").read_bytes()
        HttpCache(cache / "http").store(
            url, url, {"content-type": "application/vnd.pypi.simple.v1+json"}, body
        )
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, offline=True) as client:
            assert client.project_files("demo") == expected
        assert PageCache(cache / "pages").load(url) is not None


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_prefetch_asks_for_the_biggest_cached_pages_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages read ahead start biggest first (by their cached parse; unknown ones last, in the
    given order), so that the longest transfers do not start after the threads have gone idle."""
    from forge_pip.index import client as client_module

    src = tmp_path / "src"
    index = LocalIndex(tmp_path / "index")
    for project, releases in (("small", 1), ("big", 40), ("mid", 10)):
        for n in range(releases):
            index.add(make_file(src, f"{project}-{n}.0-py3-none-any.whl"))
    index.write()
    cache = tmp_path / "cache"
    monkeypatch.setattr(client_module, "_PREFETCH_THREADS", 1)  # one thread: requests in order
    with serve(index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            for project in ("small", "big", "mid"):
                client.project_files(project)
        server.log.clear()
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            client.prefetch(["small", "new", "mid", "big"])
            _wait_for(lambda: len(server.log) == 4)  # asking now would read the page in this thread
            assert len(client.project_files("small")) == 1
        assert [path for path, _ in server.log] == [
            "/simple/big/",
            "/simple/mid/",
            "/simple/small/",
            "/simple/new/",
        ]
        server.log.clear()
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            client.prefetch_fingerprints(["small", "mid", "big"])
            _wait_for(lambda: len(server.log) == 3)
            client.project_fingerprint("small")
        assert [path for path, _ in server.log] == ["/simple/big/", "/simple/mid/", "/simple/small/"]
