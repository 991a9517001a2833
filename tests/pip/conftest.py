"""Fixtures for the pip front end: hermetic pip config, a demo index (file:// and HTTP), a runner."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.index_server import LocalIndex, serve
from tests.support.wheels import make_wheel


@pytest.fixture
def hermetic_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No pip config file, no PIP_* variable, no proxy, no netrc of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-xdg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-xdg-home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def build_demo_index(root: Path) -> LocalIndex:
    """A small world: deps, a conflict to backtrack over, extras, markers, yanked, pre, Requires-Python."""
    src = root / "src"
    index = LocalIndex(root / "index")
    add = index.add
    add(make_wheel(src, "alpha", "1.0", requires=["beta>=1"]))
    add(make_wheel(src, "beta", "1.0"))
    add(make_wheel(src, "beta", "2.0"))
    # backtracking: tool 2.0 needs beta<2 while app needs beta>=2 -> tool 1.0
    add(make_wheel(src, "tool", "1.0"))
    add(make_wheel(src, "tool", "2.0", requires=["beta<2"]))
    add(make_wheel(src, "app", "1.0", requires=["tool", "beta>=2"]))
    # extras and markers
    add(
        make_wheel(src, "fancy", "1.0", extras={"color": ["gamma"]}, requires=['never; python_version < "3"'])
    )
    add(make_wheel(src, "gamma", "1.0"))
    # yanked, pre-release, Requires-Python
    add(make_wheel(src, "yank", "1.0"))
    add(make_wheel(src, "yank", "2.0"), yanked="broken")
    add(make_wheel(src, "prerel", "1.0"))
    add(make_wheel(src, "prerel", "2.0b1"))
    add(make_wheel(src, "future", "1.0"))
    add(make_wheel(src, "future", "2.0", requires_python=">=4"), requires_python=">=4")
    index.write()
    return index


@pytest.fixture
def demo_index(tmp_path: Path, hermetic_pip: None) -> LocalIndex:
    return build_demo_index(tmp_path / "demo")


@pytest.fixture
def http_index(demo_index: LocalIndex) -> Iterator[str]:
    with serve(demo_index.root) as server:
        yield server.index_url


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def pip(capsys: pytest.CaptureFixture[str], forge_home: Path) -> object:
    """Run ``forge_pip`` in-process: ``pip("install", "--env", "e", "x")`` -> Result."""
    from forge_pip.cli.pip import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
