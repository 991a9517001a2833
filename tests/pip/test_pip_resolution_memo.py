"""The resolution memo (:mod:`forge_pip.resolve.memo`): an answer is reused only when every input is the same.

Each ``pip(...)`` call is a new run on the same ``FORGE_HOME``. The resolver's runs are counted (a
run the memo answers does not call it); every answer is compared with what the resolver gives with
the memo out of the way (``--no-cache-dir`` keeps no memo), so a memo can only be a shortcut.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_store.store import Store
from tests.support.index_server import IndexServer, LocalIndex, serve
from tests.support.wheels import make_wheel

Pip = Any


@dataclasses.dataclass
class World:
    index: LocalIndex
    server: IndexServer
    tmp: Path
    home: Path
    runs: list[int]

    @property
    def url(self) -> str:
        return self.server.index_url

    def memos(self) -> list[Path]:
        return sorted(p for p in (self.home / "cache" / "resolutions").glob("*/*") if p.parent.name != "last")

    def release(self, name: str, version: str, **kw: Any) -> None:
        self.index.add(make_wheel(self.tmp / "up", name, version, **kw))
        self.index.write()

    def yank(self, filename: str) -> None:
        self.index.entries = [
            dataclasses.replace(e, yanked="broken") if e.filename == filename else e
            for e in self.index.entries
        ]
        self.index.write()


@pytest.fixture
def w(
    tmp_path: Path, forge_home: Path, hermetic_pip: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    src = tmp_path / "src"
    index = LocalIndex(tmp_path / "index")
    index.add(make_wheel(src, "alpha", "1.0", requires=["beta>=1"]))
    index.add(make_wheel(src, "beta", "1.0"))
    index.add(make_wheel(src, "beta", "2.0"))
    index.add(make_wheel(src, "fancy", "1.0", extras={"color": ["gamma"]}))
    index.add(make_wheel(src, "gamma", "1.0"))
    index.add(make_wheel(src, "prerel", "1.0"))
    index.add(make_wheel(src, "prerel", "2.0b1"))
    index.write()
    runs: list[int] = []
    import forge_pip.resolve as resolve_pkg

    real = resolve_pkg.resolve

    def counting(*args: Any, **kw: Any) -> Any:
        runs.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(resolve_pkg, "resolve", counting)
    with serve(index.root) as server:
        yield World(index, server, tmp_path, forge_home, runs)


def dry(pip: Pip, env: str, *args: str, index: str) -> tuple[str, str]:
    """``pip install --dry-run``: (the "Would install" line, stderr)."""
    r = pip("install", "--env", env, "-i", index, "--dry-run", *args)
    assert r.code == 0, r.out + r.err
    lines = [line for line in r.out.splitlines() if line.startswith("Would install")]
    return (lines[-1] if lines else ""), r.err


def resolves(pip: Pip, w: World, env: str, *args: str, index: str | None = None) -> tuple[str, bool]:
    """The answer and whether the resolver ran; the same as the resolver's without any memo
    (``--no-cache-dir``; offline, the memo moved aside for one run)."""
    before = len(w.runs)
    answer, err = dry(pip, env, *args, index=index or w.url)
    ran = len(w.runs) > before
    if "--offline" in args:
        root = w.home / "cache" / "resolutions"
        aside = w.tmp / "memos-aside"
        root.rename(aside)
        try:
            plain, plain_err = dry(pip, env, *args, index=index or w.url)
        finally:
            if root.exists():
                import shutil

                shutil.rmtree(root)
            aside.rename(root)
    else:
        plain, plain_err = dry(pip, env, "--no-cache-dir", *args, index=index or w.url)
    assert (answer, err) == (plain, plain_err)
    return answer, ran


@pytest.mark.parametrize("where", ["http", "file"])
def test_the_same_request_is_answered_from_the_memo_and_a_changed_page_is_seen(
    store: Store, pip: Pip, w: World, where: str
) -> None:
    url = w.url if where == "http" else w.index.file_url
    store.create_env("e")
    assert resolves(pip, w, "e", "alpha", index=url) == ("Would install alpha-1.0 beta-2.0", True)
    assert len(w.memos()) == 1
    w.server.log.clear()
    w.server.not_modified.clear()
    before = len(w.runs)
    assert dry(pip, "e", "alpha", index=url)[0] == "Would install alpha-1.0 beta-2.0"
    assert len(w.runs) == before  # the memo answered
    if where == "http":  # each page was asked again, as pip asks (max-age=0), and was unchanged
        pages = {path: headers for path, headers in w.server.log if path.startswith("/simple/")}
        assert sorted(pages) == ["/simple/alpha/", "/simple/beta/"]
        assert all(h.get("cache-control") == "max-age=0" for h in pages.values())
        assert w.server.not_modified["/simple/alpha/"] == w.server.not_modified["/simple/beta/"] == 1
        assert not [path for path, _ in w.server.log if path.startswith("/files/")]  # no metadata read
    w.release("beta", "3.0")
    assert resolves(pip, w, "e", "alpha", index=url) == ("Would install alpha-1.0 beta-3.0", True)
    assert resolves(pip, w, "e", "alpha", index=url) == ("Would install alpha-1.0 beta-3.0", False)


def test_a_file_yanked_after_the_memo_is_not_picked(store: Store, pip: Pip, w: World) -> None:
    store.create_env("e")
    for _ in range(2):
        assert resolves(pip, w, "e", "alpha")[0] == "Would install alpha-1.0 beta-2.0"
    w.yank("beta-2.0-py3-none-any.whl")
    assert resolves(pip, w, "e", "alpha") == ("Would install alpha-1.0 beta-1.0", True)
    assert resolves(pip, w, "e", "alpha") == ("Would install alpha-1.0 beta-1.0", False)
    # a pin may still take the yanked file, with pip's warning, from the memo too
    for _ in range(2):
        answer, err = dry(pip, "e", "beta==2.0", index=w.url)
        assert answer == "Would install beta-2.0" and "yanked" in err


def test_what_a_parent_layer_installs_invalidates_the_childs_memo(store: Store, pip: Pip, w: World) -> None:
    store.create_env("base")
    store.create_env("kid", parent="base")
    for _ in range(2):
        assert resolves(pip, w, "kid", "alpha")[0] == "Would install alpha-1.0 beta-2.0"
    r = pip("install", "--env", "base", "-i", w.url, "beta==1.0")
    assert r.code == 0, r.err
    # beta 1.0 in the parent satisfies beta>=1: the child installs alpha alone
    assert resolves(pip, w, "kid", "alpha") == ("Would install alpha-1.0", True)
    assert resolves(pip, w, "kid", "alpha") == ("Would install alpha-1.0", False)


def test_what_the_store_holds_changes_the_pins_origin(store: Store, pip: Pip, w: World) -> None:
    store.create_env("e")
    assert resolves(pip, w, "e", "alpha")[1]
    store.create_env("other")
    assert pip("install", "--env", "other", "-i", w.url, "alpha").code == 0  # the store now holds both
    r = pip("install", "--env", "e", "-i", w.url, "alpha")
    assert r.code == 0, r.err
    assert "2 reused from the store, 0 new" in r.out, r.out


def test_offline_uses_the_memo_without_the_network(store: Store, pip: Pip, w: World) -> None:
    store.create_env("e")
    assert resolves(pip, w, "e", "alpha")[0] == "Would install alpha-1.0 beta-2.0"  # pages cached
    assert resolves(pip, w, "e", "--offline", "alpha") == ("Would install alpha-1.0 beta-2.0", True)
    w.server.requests.clear()
    answer, ran = resolves(pip, w, "e", "--offline", "alpha")
    assert (answer, ran) == ("Would install alpha-1.0 beta-2.0", False)
    assert not w.server.requests


def test_an_offline_memo_hit_compares_store_entries_without_reading_them(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's answer is compared by entry id and wheel digest: a hit describes no entry (no
    METADATA read); a new entry of a name the memo asked about is a miss."""
    import forge_pip.sources as sources

    store.create_env("e")
    store.create_env("other")
    assert pip("install", "--env", "other", "-i", w.url, "alpha").code == 0  # the store holds alpha, beta 2.0
    assert resolves(pip, w, "e", "--offline", "alpha") == ("Would install alpha-1.0 beta-2.0", True)
    described: list[str] = []
    real = sources.stored_dist

    def counting(entry: Any) -> Any:
        described.append(entry.name)
        return real(entry)

    monkeypatch.setattr(sources, "stored_dist", counting)
    before = len(w.runs)
    assert dry(pip, "e", "--offline", "alpha", index=w.url)[0] == "Would install alpha-1.0 beta-2.0"
    assert len(w.runs) == before and described == []
    assert pip("install", "--env", "other", "-i", w.url, "beta==1.0").code == 0  # a new entry of beta
    assert resolves(pip, w, "e", "--offline", "alpha") == ("Would install alpha-1.0 beta-2.0", True)
    assert described  # the resolver described the entries again


@pytest.mark.parametrize(
    ("first", "then", "answer"),
    [
        (("alpha",), ("alpha", "-c", "CONSTRAINTS"), "Would install alpha-1.0 beta-1.0"),
        (("alpha",), ("alpha", "--no-deps"), "Would install alpha-1.0"),
        (("prerel",), ("prerel", "--pre"), "Would install prerel-2.0b1"),
        (("fancy",), ("fancy[color]",), "Would install fancy-1.0 gamma-1.0"),
    ],
)
def test_other_options_and_constraints_do_not_share_a_memo(
    store: Store, pip: Pip, w: World, first: tuple[str, ...], then: tuple[str, ...], answer: str
) -> None:
    constraints = w.tmp / "constraints.txt"
    constraints.write_text("beta<2\n")
    then = tuple(str(constraints) if a == "CONSTRAINTS" else a for a in then)
    store.create_env("e")
    for _ in range(2):
        resolves(pip, w, "e", *first)
    assert resolves(pip, w, "e", *then) == (answer, True)
    assert resolves(pip, w, "e", *then) == (answer, False)
    assert len(w.memos()) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw[:-3] + b"xyz",  # a payload whose CRC does not match
        lambda raw: b"not a memo",
        lambda raw: _reframed(raw, lambda doc: {**doc, "pins": [{"name": "alpha"}]}),  # well framed, bad
        lambda raw: _reframed(raw, lambda doc: {**doc, "dists": {"x": {"url": 1}}}),
    ],
    ids=["truncated", "crc", "garbage", "bad-pins", "bad-dists"],
)
def test_a_damaged_memo_is_ignored_and_healed(store: Store, pip: Pip, w: World, damage: Any) -> None:
    store.create_env("e")
    assert resolves(pip, w, "e", "alpha")[1]
    (memo,) = w.memos()
    memo.write_bytes(damage(memo.read_bytes()))
    assert resolves(pip, w, "e", "alpha") == ("Would install alpha-1.0 beta-2.0", True)
    assert resolves(pip, w, "e", "alpha") == ("Would install alpha-1.0 beta-2.0", False)  # rewritten


def _reframed(raw: bytes, change: Any) -> bytes:
    """The memo with its payload changed, framed again (length and CRC right)."""
    import zlib

    line, _, payload = raw.partition(b"\n")
    header = json.loads(line)
    new = json.dumps(change(json.loads(payload))).encode()
    header.update(length=len(new), crc32=zlib.crc32(new))
    return json.dumps(header).encode() + b"\n" + new


def test_find_links_metadata_no_digest_pins_is_read_again(store: Store, pip: Pip, w: World) -> None:
    links = w.tmp / "links"
    make_wheel(links, "omega", "1.0", requires=["beta<2"])
    store.create_env("e")
    args = ("--no-index", "-f", str(links), "-f", str(w.index.root / "files"), "omega")
    for _ in range(2):
        assert resolves(pip, w, "e", *args)[0] == "Would install beta-1.0 omega-1.0"
    # the same file name with other dependencies: its page (a directory listing) did not change
    (links / "omega-1.0-py3-none-any.whl").unlink()
    make_wheel(links, "omega", "1.0", requires=["gamma"])
    assert resolves(pip, w, "e", *args) == ("Would install gamma-1.0 omega-1.0", True)


def test_the_real_cli_uses_the_memo_offline(store: Store, w: World, forge_home: Path) -> None:
    """``python -m forge_pip`` in subprocesses, as users and tools run it."""
    store.create_env("e")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "forge_pip", "install", "--env", "e", "-i", w.url, "--dry-run", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)

    assert run("alpha").returncode == 0  # online: pages cached
    assert run("--offline", "alpha").returncode == 0  # offline: resolved, memo written
    w.server.requests.clear()
    again = run("--offline", "alpha")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "Would install alpha-1.0 beta-2.0"
    assert not w.server.requests


def test_a_new_request_reads_ahead_the_pages_the_last_one_read(store: Store, pip: Pip, w: World) -> None:
    """A speculation on what is read first, never on an answer."""
    store.create_env("e")
    assert resolves(pip, w, "e", "alpha")[0] == "Would install alpha-1.0 beta-2.0"
    w.server.log.clear()
    assert dry(pip, "e", "fancy", index=w.url)[0] == "Would install fancy-1.0"
    asked = {path for path, _headers in w.server.log}
    assert {"/simple/alpha/", "/simple/beta/", "/simple/fancy/"} <= asked
    hint = next((w.home / "cache" / "resolutions" / "last").iterdir())
    hint.write_bytes(b"damaged")
    assert dry(pip, "e", "gamma", index=w.url)[0] == "Would install gamma-1.0"


def test_the_memo_compares_the_very_entry_id_holding_gives(store: Store, tmp_path: Path) -> None:
    """``StoreDists.holding_id`` (the memo's cheap question) gives ``holding(file).entry_id`` for
    every kind of file: stored, not stored, no digest, a name or version the entry does not have."""
    import hashlib

    from forge_pip.index.urls import path_to_file_url
    from forge_pip.models import DistFile
    from forge_pip.sources import StoreDists

    wheels = [make_wheel(tmp_path / "w", "heldpkg", "1.0"), make_wheel(tmp_path / "w", "heldpkg", "2.0")]
    store.create_env("seed")
    store.install_wheels("seed", wheels[:1])
    sha = {w.name: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}
    stored, other = wheels
    files = [
        DistFile(path_to_file_url(stored), stored.name, {"sha256": sha[stored.name]}),  # in the store
        DistFile(
            "https://i/f/" + stored.name, stored.name, {"sha256": sha[stored.name]}
        ),  # remote, same bytes
        DistFile(path_to_file_url(other), other.name, {"sha256": sha[other.name]}),  # not stored
        DistFile(path_to_file_url(stored), stored.name),  # a local file without a stated digest
        DistFile("https://i/f/" + stored.name, stored.name),  # no digest at all
        DistFile(
            "https://i/f/impostor-1.0-py3-none-any.whl",
            "impostor-1.0-py3-none-any.whl",
            {"sha256": sha[stored.name]},
        ),
        DistFile(
            "https://i/f/heldpkg-3.0-py3-none-any.whl",
            "heldpkg-3.0-py3-none-any.whl",
            {"sha256": sha[stored.name]},
        ),
        DistFile(
            "https://i/f/heldpkg-1.0-py3-none-any.whl", "heldpkg-1.0-py3-none-any.whl", {"sha256": "zz"}
        ),
    ]
    view = StoreDists(store)
    answers = []
    for file in files:
        held = view.holding(file)
        answers.append(held.entry_id if held is not None else None)
        assert view.holding_id(file) == answers[-1], file
    assert answers[0] is not None and answers[0] == answers[1] == answers[3]
    assert answers[2] is None and answers[4] is None and answers[5:] == [None, None, None]
