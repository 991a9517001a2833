"""Fixtures for the index client tests: a hermetic environment, a demo index, a recording reporter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.index.helpers import METADATA, RecordingReporter, make_file
from tests.support.index_server import LocalIndex


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxies and no real ~/.netrc leak into a test."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-such-netrc"))


@pytest.fixture
def demo_index(tmp_path: Path) -> LocalIndex:
    """``demo`` 1.0 wheel (with metadata), 1.1 sdist (Requires-Python), 0.9 yanked; ``other`` 2.0."""
    src = tmp_path / "src"
    index = LocalIndex(tmp_path / "index")
    index.add(make_file(src, "demo-1.0-py3-none-any.whl"), metadata=METADATA)
    index.add(make_file(src, "demo-1.1.tar.gz"), requires_python=">=3.8,<4")
    index.add(make_file(src, "demo-0.9-py3-none-any.whl"), yanked="broken build")
    index.add(make_file(src, "other-2.0-py3-none-any.whl"), yanked=True)
    index.write()
    return index


@pytest.fixture
def reporter() -> RecordingReporter:
    return RecordingReporter()
