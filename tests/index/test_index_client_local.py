"""IndexClient over file:// indexes and find-links directories and pages (no network at all)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from forge_pip.index import HashMismatch, IndexClient
from forge_pip.models import DistFile
from tests.index.helpers import METADATA, RecordingReporter, make_file
from tests.support.index_server import LocalIndex


def test_file_index_lists_project_files(demo_index: LocalIndex, reporter: RecordingReporter) -> None:
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=None, reporter=reporter) as client:
        files = client.project_files("Demo")
    assert [f.filename for f in files] == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.1.tar.gz",
        "demo-0.9-py3-none-any.whl",
    ]
    wheel, sdist, yanked = files
    assert wheel.url == (demo_index.root / "files" / "demo-1.0-py3-none-any.whl").as_uri()
    assert wheel.hashes["sha256"] == hashlib.sha256(Path(wheel.url[7:]).read_bytes()).hexdigest()
    assert wheel.metadata_hashes == {"sha256": hashlib.sha256(METADATA).hexdigest()}
    assert sdist.requires_python == ">=3.8,<4"
    assert yanked.yanked == "broken build"
    assert reporter.pages == [demo_index.file_url + "/demo/"]


def test_unknown_project_is_empty(demo_index: LocalIndex) -> None:
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=None) as client:
        assert client.project_files("nothing-here") == []


def test_plain_path_index_root_and_memoisation(demo_index: LocalIndex, reporter: RecordingReporter) -> None:
    with IndexClient(index_urls=[str(demo_index.simple) + "/"], cache_dir=None, reporter=reporter) as client:
        assert len(client.project_files("demo")) == 3
        assert len(client.project_files("DEMO")) == 3
    assert len(reporter.pages) == 1


def test_several_indexes_and_find_links_are_merged_in_order(demo_index: LocalIndex, tmp_path: Path) -> None:
    second = LocalIndex(tmp_path / "second")
    second.add(make_file(tmp_path / "src2", "demo-3.0-py3-none-any.whl"))
    second.write()
    wheels = tmp_path / "wheels"
    make_file(wheels, "demo-4.0-py3-none-any.whl")
    make_file(wheels, "demo-0.1.tar.bz2")  # not a supported archive
    make_file(wheels, "unrelated-1.0.tar.gz")
    page_dir = tmp_path / "page"
    make_file(page_dir, "demo-5.0.zip")
    (page_dir / "links.html").write_text('<a href="demo-5.0.zip">5</a><a href="unrelated-1.0.zip">u</a>')
    with IndexClient(
        index_urls=[demo_index.file_url, second.file_url],
        find_links=[str(wheels), (page_dir / "links.html").as_uri()],
        cache_dir=None,
    ) as client:
        names = [f.filename for f in client.project_files("demo")]
    assert names == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.1.tar.gz",
        "demo-0.9-py3-none-any.whl",
        "demo-3.0-py3-none-any.whl",
        "demo-4.0-py3-none-any.whl",
        "demo-5.0.zip",
    ]


def test_missing_find_links_location_is_a_warning(tmp_path: Path, reporter: RecordingReporter) -> None:
    with IndexClient(
        index_urls=[], find_links=[str(tmp_path / "nope")], cache_dir=None, reporter=reporter
    ) as c:
        assert c.project_files("demo") == []
    assert any("does not exist" in w for w in reporter.warnings)


def test_file_download_is_verified_and_reported(
    demo_index: LocalIndex, tmp_path: Path, reporter: RecordingReporter
) -> None:
    dest = tmp_path / "dest"
    with IndexClient(
        index_urls=[demo_index.file_url], cache_dir=tmp_path / "cache", reporter=reporter
    ) as client:
        wheel = client.project_files("demo")[0]
        path = client.download(wheel, dest)
    assert path == dest / wheel.filename
    assert hashlib.sha256(path.read_bytes()).hexdigest() == wheel.hashes["sha256"]
    assert reporter.started == [(wheel.filename, path.stat().st_size)]
    assert reporter.done == [(wheel.filename, path)]
    assert reporter.progress[-1] == (wheel.filename, path.stat().st_size)


def test_hash_mismatch_leaves_nothing_behind(tmp_path: Path) -> None:
    src = make_file(tmp_path / "src", "demo-1.0.tar.gz")
    bogus = "0" * 64
    file = DistFile(url=src.as_uri(), filename=src.name, hashes={"sha256": bogus})
    dest = tmp_path / "dest"
    with IndexClient(index_urls=[], cache_dir=None) as client, pytest.raises(HashMismatch) as info:
        client.download(file, dest)
    error = info.value
    assert error.filename == "demo-1.0.tar.gz" and error.expected == bogus
    assert error.actual == hashlib.sha256(src.read_bytes()).hexdigest()
    assert bogus in error.message and error.actual in error.message and int(error.exit_code) == 6
    assert os.listdir(dest) == []


def test_every_known_hash_is_checked(tmp_path: Path) -> None:
    src = make_file(tmp_path / "src", "demo-1.0.tar.gz")
    data = src.read_bytes()
    good = {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    with IndexClient(index_urls=[], cache_dir=None) as client:
        client.download(DistFile(url=src.as_uri(), filename=src.name, hashes=good), tmp_path / "ok")
        bad = {**good, "sha512": "00"}
        with pytest.raises(HashMismatch, match="sha512"):
            client.download(DistFile(url=src.as_uri(), filename=src.name, hashes=bad), tmp_path / "bad")


def test_fetch_metadata_from_file_index(demo_index: LocalIndex, tmp_path: Path) -> None:
    with IndexClient(index_urls=[demo_index.file_url], cache_dir=None) as client:
        wheel, sdist, _ = client.project_files("demo")
        assert client.fetch_metadata(wheel) == METADATA
        assert client.fetch_metadata(sdist) is None
        tampered = DistFile(url=wheel.url, filename=wheel.filename, metadata_hashes={"sha256": "1" * 64})
        with pytest.raises(HashMismatch, match=r"\.metadata"):
            client.fetch_metadata(tampered)


def test_unsafe_filename_is_refused(tmp_path: Path) -> None:
    from forge_pip.index import UnsafeFilename

    src = make_file(tmp_path / "src", "demo-1.0.tar.gz")
    with IndexClient(index_urls=[], cache_dir=None) as client, pytest.raises(UnsafeFilename):
        client.download(DistFile(url=src.as_uri(), filename="../demo-1.0.tar.gz"), tmp_path / "dest")


@pytest.mark.skipif(not Path("/opt/pypi/simple/numpy/index.html").is_file(), reason="no local index here")
def test_machine_local_index_lists_numpy() -> None:
    with IndexClient(index_urls=["file:///opt/pypi/simple"], cache_dir=None) as client:
        files = client.project_files("numpy")
    wheels = [f for f in files if f.is_wheel]
    assert wheels and all(f.name == "numpy" for f in files)
    assert all(len(f.hashes["sha256"]) == 64 for f in wheels)
    assert all(f.url.startswith("file:///opt/pypi/files/") for f in wheels)


def test_offline_still_reads_local_indexes_and_find_links(demo_index: LocalIndex, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    make_file(wheels, "demo-9.0-py3-none-any.whl")
    client = IndexClient(
        index_urls=[demo_index.file_url], find_links=[str(wheels)], cache_dir=None, offline=True
    )
    with client:
        files = client.project_files("demo")
        assert [f.filename for f in files][-1] == "demo-9.0-py3-none-any.whl"
        assert (
            client.download(files[-1], tmp_path / "dest").read_bytes()
            == (wheels / files[-1].filename).read_bytes()
        )
