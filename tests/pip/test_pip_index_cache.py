"""Resolution from the parsed-page cache through the pip front end: same answers as a first run.

Each ``pip(...)`` call is a new run on the same ``FORGE_HOME`` (its cache survives between calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import forge_pip.sources
from forge_store.store import Store
from tests.support.index_server import LocalIndex, serve
from tests.support.wheels import make_wheel

Pip = Any


def _index(request: pytest.FixtureRequest, demo_index: LocalIndex) -> Any:
    if request.param == "file":
        return demo_index.file_url, None
    server = serve(demo_index.root)
    state = server.__enter__()
    request.addfinalizer(lambda: server.__exit__(None, None, None))
    return state.index_url, state


@pytest.fixture(params=["file", "http"])
def index(request: pytest.FixtureRequest, demo_index: LocalIndex) -> Any:
    return _index(request, demo_index)


def test_yanked_stays_unpicked_and_a_pin_still_gets_it(store: Store, pip: Pip, index: Any) -> None:
    url, _server = index
    store.create_env("e")
    for _ in range(3):  # first run parses; later runs use the parsed form
        r = pip("install", "--env", "e", "-i", url, "--dry-run", "yank")
        assert r.code == 0, r.err
        assert "Would install yank-1.0" in r.out
    r = pip("install", "--env", "e", "-i", url, "--dry-run", "yank==2.0")
    assert r.code == 0, r.err
    assert "Would install yank-2.0" in r.out and "yanked" in r.err  # pip: a pin may take it, warned
    r = pip("install", "--env", "e", "-i", url, "--dry-run", "future")
    assert "Would install future-1.0" in r.out  # 2.0 needs Python >= 4: still skipped


def test_a_new_release_is_seen_on_the_next_run(
    store: Store, pip: Pip, index: Any, demo_index: LocalIndex, tmp_path: Path
) -> None:
    url, _server = index
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", url, "--dry-run", "beta")
    assert "Would install beta-2.0" in r.out
    demo_index.add(make_wheel(tmp_path / "up", "beta", "3.0"))
    demo_index.write()
    r = pip("install", "--env", "e", "-i", url, "--dry-run", "beta")
    assert r.code == 0, r.err
    assert "Would install beta-3.0" in r.out


def test_offline_resolves_from_the_parsed_cache_without_reopening_wheels(
    store: Store, pip: Pip, demo_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_env("e")
    with serve(demo_index.root) as server:
        r = pip("install", "--env", "e", "-i", server.index_url, "--dry-run", "app")
        assert r.code == 0, r.err
        warm = r.out.splitlines()[-1]
        url = server.index_url
    assert warm == "Would install app-1.0 beta-2.0 tool-1.0"
    opened: list[Path] = []
    real = forge_pip.sources.wheel_metadata

    def counting(path: Path) -> bytes:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(forge_pip.sources, "wheel_metadata", counting)
    r = pip("install", "--env", "e", "-i", url, "--offline", "--dry-run", "app")  # the server is gone
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == warm
    assert opened == []  # metadata of every wheel, backtracking included, came from the cache
