"""Fixtures for the build-stage tests (helpers live in ``build_support``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_support import RecordingEnvFactory, RecordingReporter

from forge_pip.build import Builder


@pytest.fixture
def hook_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the tiny backend records each hook it runs."""
    path = tmp_path / "hooks.log"
    monkeypatch.setenv("TINY_BACKEND_LOG", str(path))
    monkeypatch.delenv("TINY_BACKEND_FAIL", raising=False)
    monkeypatch.delenv("TINY_BACKEND_EXTRA_REQUIRES", raising=False)
    return path


@pytest.fixture
def factory() -> RecordingEnvFactory:
    return RecordingEnvFactory()


@pytest.fixture
def reporter() -> RecordingReporter:
    return RecordingReporter()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def builder(
    cache_dir: Path, factory: RecordingEnvFactory, reporter: RecordingReporter, hook_log: Path
) -> Builder:
    return Builder(cache_dir=cache_dir, env_factory=factory, reporter=reporter)
