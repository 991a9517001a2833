"""A downloaded file is hashed once, as it streams in: checking it again (``verify_file``, by the
prepare stage) reads nothing, unless the file changed since, whatever the change."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from forge_pip.index import HashMismatch, IndexClient
from forge_pip.index.download import known_digests
from forge_pip.models import DistFile
from forge_pip.sources import verify_file
from tests.index.helpers import make_file
from tests.support.index_server import LocalIndex, serve

BODY = os.urandom(700_000)


@pytest.fixture
def downloaded(tmp_path: Path) -> tuple[DistFile, Path]:
    index = LocalIndex(tmp_path / "index")
    index.add(make_file(tmp_path / "s", "demo-1.0-py3-none-any.whl", BODY))
    index.write()
    with (
        serve(index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=tmp_path / "cache", timeout=5.0, retries=0) as c,
    ):
        (file,) = c.project_files("demo")
        path = c.download(file, tmp_path / "dest")
    return file, path


def test_a_downloaded_file_is_not_read_again_to_be_checked(
    downloaded: tuple[DistFile, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    file, path = downloaded
    sha = hashlib.sha256(BODY).hexdigest()
    assert known_digests(path)["sha256"] == sha  # after the cache's hardlink moved the ctime

    opened: list[Path] = []
    real_open = Path.open

    def spy(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", spy)
    assert verify_file(file, path, {"sha256": frozenset({sha})}) == sha
    assert opened == []
    # an algorithm the download did not compute is read for, once
    assert verify_file(file, path, {"sha512": frozenset({hashlib.sha512(BODY).hexdigest()})}) == sha
    assert opened == [path]


@pytest.mark.parametrize("change", ["same-size-same-mtime", "replaced", "appended"])
def test_a_file_changed_after_its_download_is_hashed_again(
    downloaded: tuple[DistFile, Path], change: str
) -> None:
    file, path = downloaded
    st = os.stat(path)
    if change == "same-size-same-mtime":  # bytes flipped in place, the mtime put back
        with open(path, "r+b") as handle:
            handle.seek(1000)
            handle.write(b"\0" * 16)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "replaced":
        tmp = path.with_name("other")
        tmp.write_bytes(BODY[::-1])
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        tmp.replace(path)
    else:
        with open(path, "ab") as handle:
            handle.write(b"x")
    assert known_digests(path) == {}
    with pytest.raises(HashMismatch):
        verify_file(file, path)
