"""Resolution from the parsed-page cache through the pip front end: same answers as a first run.

Each ``pip(...)`` call is a new run on the same ``FORGE_HOME`` (its cache survives between calls).
"""

from __future__ import annotations

import socket
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


def test_refresh_package_fetches_those_pages_whole(
    store: Store, pip: Pip, demo_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip 26.3's ``--refresh-package``: the named projects' pages are asked for without validators
    (a 200, not a 304 for the cached copy); the others are revalidated as usual; ``:all:`` is all."""
    store.create_env("e")
    pages = {"/simple/app/", "/simple/beta/", "/simple/tool/"}
    with serve(demo_index.root) as server:

        def conditional(*args: str) -> dict[str, bool]:
            del server.log[:]
            r = pip("install", "--env", "e", "-i", server.index_url, "--dry-run", *args, "app")
            assert r.code == 0, r.err
            assert r.out.splitlines()[-1] == "Would install app-1.0 beta-2.0 tool-1.0"
            return {p: "if-none-match" in h for p, h in server.log if p in pages}

        assert conditional() == dict.fromkeys(pages, False)  # cold: nothing to revalidate
        assert conditional() == dict.fromkeys(pages, True)
        asked = conditional("--refresh-package", "Beta,tool")
        assert asked == {"/simple/app/": True, "/simple/beta/": False, "/simple/tool/": False}
        assert conditional("--refresh-package", ":all:") == dict.fromkeys(pages, False)
        monkeypatch.setenv("PIP_REFRESH_PACKAGE", "app")  # configured, as pip reads it
        asked = conditional("--refresh-package", "tool")
        assert asked == {"/simple/app/": False, "/simple/beta/": True, "/simple/tool/": False}


def test_no_proxy_env_ignores_the_proxy_variables(
    store: Store, pip: Pip, demo_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip 26.3's ``--no-proxy-env`` (``PIP_NO_PROXY_ENV``): ``http_proxy`` is not used."""
    with socket.socket() as s:  # a port nothing listens on: a proxy that is not there
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{dead}")
    store.create_env("e")
    with serve(demo_index.root) as server:
        args = ("install", "--env", "e", "-i", server.index_url, "--retries", "0", "--dry-run", "beta")
        r = pip(*args)
        assert r.code != 0 and not server.log, "the proxy variable is in effect without the option"
        r = pip(*args, "--no-proxy-env")
        assert r.code == 0 and "Would install beta-2.0" in r.out, r.err
        monkeypatch.setenv("PIP_NO_PROXY_ENV", "1")
        r = pip(*args)
        assert r.code == 0 and "Would install beta-2.0" in r.out, r.err
