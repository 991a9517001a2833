"""The pinned fast path (:mod:`forge_pip.fastpath`): ``==`` pins the store holds skip the resolver.

Every case runs the real front end against a loopback HTTP index, counts the resolver's runs and
the server's requests, and compares the answer with the resolver's (the fast path switched off)
in a second fresh env: same report, same ``pip list``, same warnings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import IndexServer, LocalIndex, serve
from tests.support.wheels import make_wheel

Pip = Any


@dataclasses.dataclass
class World:
    index: LocalIndex
    server: IndexServer
    tmp: Path
    resolver_runs: list[int]

    @property
    def url(self) -> str:
        return self.server.index_url

    def pages(self) -> int:
        return sum(n for path, n in self.server.requests.items() if path.startswith("/simple/"))

    def metadata_and_files(self) -> int:
        return sum(n for path, n in self.server.requests.items() if path.startswith("/files/"))


@pytest.fixture
def w(tmp_path: Path, hermetic_pip: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    src = tmp_path / "src"
    index = LocalIndex(tmp_path / "index")

    def add(path: Path, **kw: Any) -> None:  # every wheel also offers PEP 658 metadata
        from forge_pip.sources import wheel_metadata

        index.add(path, metadata=wheel_metadata(path), **kw)

    add(make_wheel(src, "alpha", "1.0", requires=["beta>=1"]))
    add(make_wheel(src, "beta", "1.0"))
    add(make_wheel(src, "beta", "2.0"))
    add(make_wheel(src, "tool", "2.0", requires=["beta<2"]))
    add(
        make_wheel(src, "fancy", "1.0", extras={"color": ["gamma"]}, requires=['never; python_version < "3"'])
    )
    add(make_wheel(src, "gamma", "1.0"))
    add(make_wheel(src, "yank", "2.0"), yanked="broken")
    add(make_wheel(src, "local", "1.0"))
    add(make_wheel(src, "local", "1.0+cpu"))
    index.write()
    runs: list[int] = []
    import forge_pip.resolve as resolve_pkg

    real = resolve_pkg.resolve

    def counting(*args: Any, **kw: Any) -> Any:
        runs.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(resolve_pkg, "resolve", counting)
    with serve(index.root) as server:
        yield World(index, server, tmp_path, runs)


def no_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver's own answer: no fast path, and no resolution memo of an earlier run."""
    import forge_pip.fastpath
    import forge_pip.resolve.memo

    monkeypatch.setattr(forge_pip.fastpath, "pinned_resolution", lambda *a, **k: None)
    monkeypatch.setattr(forge_pip.resolve.memo.MemoFile, "load", lambda self: None)


def local_names(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def install(pip: Pip, w: World, env: str, *args: str, ok: bool = True) -> tuple[Any, dict[str, Any]]:
    report = w.tmp / f"report-{env}-{len(list(w.tmp.glob('report-*')))}.json"
    r = pip("install", "--env", env, "-i", w.url, "--report", str(report), *args)
    if ok:
        assert r.code == 0, r.out + r.err
    return r, json.loads(report.read_text()) if report.exists() else {}


def listing(pip: Pip, env: str) -> list[dict[str, str]]:
    r = pip("list", "--env", env, "--format=json")
    assert r.code == 0, r.err
    return sorted(json.loads(r.out), key=lambda d: d["name"])


def reqfile(w: World, *lines: str) -> str:
    path = w.tmp / f"req-{len(list(w.tmp.glob('req-*')))}.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def warm(store: Store, pip: Pip, w: World, *pins: str) -> None:
    """Put the pins' index files into the store (through the resolver: the store is cold)."""
    store.create_env("warm")
    install(pip, w, "warm", *pins)


def same_as_resolver(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[Any, Any]:
    """Install ``args`` into a fresh env by the fast path, then into another with the resolver;
    both must answer alike. Returns both results."""
    store.create_env("fast")
    runs = len(w.resolver_runs)
    fast, fast_report = install(pip, w, "fast", *args)
    assert len(w.resolver_runs) == runs, "the fast path was not taken"
    with monkeypatch.context() as m:
        no_fast_path(m)
        store.create_env("slow")
        slow, slow_report = install(pip, w, "slow", *args)
    assert len(w.resolver_runs) == runs + 1
    assert fast_report == slow_report
    assert listing(pip, "fast") == listing(pip, "slow")
    assert fast.out == slow.out.replace("slow", "fast")
    assert fast.err == slow.err
    return fast, slow


def test_pins_the_store_holds_are_linked_without_resolution_or_metadata(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = reqfile(w, "alpha==1.0", "beta==2.0")
    warm(store, pip, w, "-r", req)
    pages, files = w.pages(), w.metadata_and_files()
    fast, _slow = same_as_resolver(store, pip, w, monkeypatch, "-r", req)
    assert "2 reused from the store, 0 new" in fast.out
    assert w.metadata_and_files() == files  # no metadata file, no download, by either path
    assert w.pages() == pages + 2 * 2  # one page per project per install: the sources are asked
    assert local_names(store, "fast") == {"alpha": "1.0", "beta": "2.0"}
    proc = run_py(store.env("fast").python, "import alpha, beta; print('ok')")
    assert proc.stdout.strip() == "ok", proc.stderr
    # the pip inspect view is the resolver's too (minus the env's own paths)
    views = []
    for env in ("fast", "slow"):
        r = pip("inspect", "--env", env)
        assert r.code == 0, r.err
        doc = json.loads(r.out)
        views.append(
            sorted(
                (d["metadata"]["name"], d["metadata"]["version"], d["requested"]) for d in doc["installed"]
            )
        )
    assert views[0] == views[1]


def test_a_pin_the_sources_no_longer_offer_is_refused_as_pip_refuses_it(
    store: Store, pip: Pip, w: World
) -> None:
    warm(store, pip, w, "beta==2.0")
    w.index.entries = [e for e in w.index.entries if e.filename != "beta-2.0-py3-none-any.whl"]
    (w.index.root / "files" / "beta-2.0-py3-none-any.whl").unlink()
    w.index.write()
    store.create_env("e")
    runs = len(w.resolver_runs)
    r, _ = install(pip, w, "e", "--no-cache-dir", "beta==2.0", ok=False)
    assert r.code == 1
    assert "ERROR: No matching distribution found for beta==2.0" in r.err
    assert "Traceback" not in r.err
    assert len(w.resolver_runs) == runs + 1  # fell back: the resolver said it in pip's words
    assert local_names(store, "e") == {}


def test_a_store_entry_of_another_file_with_the_same_name_is_not_used(
    store: Store, pip: Pip, w: World, tmp_path: Path
) -> None:
    forged = make_wheel(tmp_path / "forged", "beta", "2.0", files={"beta/__init__.py": "FORGED = True\n"})
    store.create_env("a")
    assert pip("install", "--env", "a", str(forged)).code == 0  # in the store, from another file
    forged_entry = next(d.entry_id for d in store.visible("a") if d.name == "beta")
    store.create_env("b")
    runs = len(w.resolver_runs)
    install(pip, w, "b", "--no-cache-dir", "beta==2.0")
    assert len(w.resolver_runs) == runs + 1
    assert w.server.requests["/files/beta-2.0-py3-none-any.whl"] == 1  # the genuine file
    genuine = next(d.entry_id for d in store.visible("b") if d.name == "beta")
    assert genuine != forged_entry
    sha = hashlib.sha256((w.index.root / "files" / "beta-2.0-py3-none-any.whl").read_bytes()).hexdigest()
    assert store.entry(genuine).wheel_sha256 == sha
    proc = run_py(store.env("b").python, "import beta; print(hasattr(beta, 'FORGED'))")
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.parametrize(
    ("pins", "why"),
    [
        (("alpha==1.0",), "a dependency the pins do not cover"),
        (("alpha==1.0", "beta>=2"), "a range, not a pin"),
        (("fancy[color]==1.0",), "an extra's dependency the pins do not cover"),
        (("alpha==1.0", "beta==2.0", "-U"), "an upgrade"),
    ],
)
def test_requests_the_pins_do_not_settle_go_to_the_resolver(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch, pins: tuple[str, ...], why: str
) -> None:
    warm(store, pip, w, "alpha==1.0", "beta==2.0", "fancy[color]==1.0", "gamma==1.0")
    store.create_env("fast")
    runs = len(w.resolver_runs)
    _r, fast_report = install(pip, w, "fast", *pins)
    assert len(w.resolver_runs) == runs + 1, why
    with monkeypatch.context() as m:
        no_fast_path(m)
        store.create_env("slow")
        _r, slow_report = install(pip, w, "slow", *pins)
    assert fast_report == slow_report


def test_a_conflict_among_pins_is_explained_by_the_resolver(store: Store, pip: Pip, w: World) -> None:
    warm(store, pip, w, "tool==2.0", "beta==1.0")
    warm_more = reqfile(w, "beta==2.0")
    install(pip, w, "warm", "-r", warm_more)
    store.create_env("e")
    runs = len(w.resolver_runs)
    r, _ = install(pip, w, "e", "tool==2.0", "beta==2.0", ok=False)
    assert r.code == 1 and "ResolutionImpossible" in r.err, r.err
    assert len(w.resolver_runs) == runs + 1
    assert local_names(store, "e") == {}


def test_a_constraint_that_excludes_a_pin_goes_to_the_resolver(store: Store, pip: Pip, w: World) -> None:
    warm(store, pip, w, "beta==2.0")
    store.create_env("e")
    runs = len(w.resolver_runs)
    r, _ = install(pip, w, "e", "-c", reqfile(w, "beta<2"), "beta==2.0", ok=False)
    assert r.code == 1 and "beta" in r.err
    assert len(w.resolver_runs) == runs + 1
    # a constraint the pins meet keeps the fast path
    r, _ = install(pip, w, "e", "-c", reqfile(w, "beta>=2", "unrelated<1"), "beta==2.0")
    assert len(w.resolver_runs) == runs + 1
    assert local_names(store, "e") == {"beta": "2.0"}


def test_markers_extras_and_local_versions_as_the_resolver_reads_them(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = reqfile(
        w,
        "fancy[color]==1.0",
        "gamma==1.0",
        'beta==1.0 ; python_version < "3"',  # does not apply: not installed, no page read
        "local==1.0",  # PEP 440: also matches 1.0+cpu, the newer one
    )
    warm(store, pip, w, "fancy[color]==1.0", "gamma==1.0", "local==1.0")
    same_as_resolver(store, pip, w, monkeypatch, "-r", req)
    assert local_names(store, "fast") == {"fancy": "1.0", "gamma": "1.0", "local": "1.0+cpu"}


def test_a_yanked_pin_is_linked_with_pips_warning(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm(store, pip, w, "yank==2.0")
    fast, _slow = same_as_resolver(store, pip, w, monkeypatch, "yank==2.0")
    assert "The candidate selected for download or install is a yanked version: 'yank'" in fast.err
    assert "Reason for being yanked: broken" in fast.err


def test_hashes_keep_pips_rules(store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    warm(store, pip, w, "beta==2.0")
    sha = hashlib.sha256((w.index.root / "files" / "beta-2.0-py3-none-any.whl").read_bytes()).hexdigest()
    good = reqfile(w, f"beta==2.0 --hash=sha256:{sha}")
    same_as_resolver(store, pip, w, monkeypatch, "-r", good)
    store.create_env("bad")
    runs = len(w.resolver_runs)
    r, _ = install(pip, w, "bad", "-r", reqfile(w, f"beta==2.0 --hash=sha256:{'0' * 64}"), ok=False)
    assert r.code == 1 and "THESE PACKAGES DO NOT MATCH THE HASHES" in r.err, r.err
    assert len(w.resolver_runs) == runs + 1
    assert local_names(store, "bad") == {}


def test_offline_pins_make_no_request(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm(store, pip, w, "alpha==1.0", "beta==2.0")
    before = sum(w.server.requests.values())
    same_as_resolver(store, pip, w, monkeypatch, "--offline", "alpha==1.0", "beta==2.0")
    assert sum(w.server.requests.values()) == before


def test_a_parent_layer_satisfies_a_pin_as_in_the_resolver(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm(store, pip, w, "alpha==1.0", "beta==2.0")
    store.create_env("base")
    install(pip, w, "base", "beta==2.0")
    runs = len(w.resolver_runs)
    reports = []
    for child, fast in (("fast", True), ("slow", False)):
        with monkeypatch.context() as m:
            if not fast:
                no_fast_path(m)
            store.create_env(child, parent="base")
            r, report = install(pip, w, child, "alpha==1.0", "beta==2.0")
            reports.append((report, r.out.replace(child, "X")))
            assert local_names(store, child) == {"alpha": "1.0"}
    assert len(w.resolver_runs) == runs + 1
    assert reports[0] == reports[1]


def test_a_file_the_index_replaced_under_the_same_name_is_fetched_again(
    store: Store, pip: Pip, w: World
) -> None:
    warm(store, pip, w, "beta==2.0")
    old_entry = next(d.entry_id for d in store.visible("warm") if d.name == "beta")
    src = w.tmp / "reupload"
    new_wheel = make_wheel(src, "beta", "2.0", files={"beta/__init__.py": "REUPLOADED = True\n"})
    w.index.entries = [e for e in w.index.entries if e.filename != new_wheel.name]
    w.index.add(new_wheel)
    w.index.write()
    store.create_env("e")
    runs = len(w.resolver_runs)
    install(pip, w, "e", "--no-cache-dir", "beta==2.0")
    assert len(w.resolver_runs) == runs + 1
    entry = next(d.entry_id for d in store.visible("e") if d.name == "beta")
    assert entry != old_entry
    proc = run_py(store.env("e").python, "import beta; print(beta.REUPLOADED)")
    assert proc.stdout.strip() == "True", proc.stderr


def test_find_links_files_without_a_stated_digest_are_checked_by_their_bytes(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    links = tmp_path / "links"
    make_wheel(links, "omega", "1.0")
    store.create_env("warm")
    found_at = ("-f", str(links), "omega==1.0")
    assert pip("install", "--env", "warm", "--no-index", *found_at).code == 0
    store.create_env("fast")
    runs = len(w.resolver_runs)
    r = pip("install", "--env", "fast", "--no-index", *found_at)
    assert r.code == 0 and "1 reused from the store, 0 new" in r.out, r.out + r.err
    assert len(w.resolver_runs) == runs
    # the directory's file changes under the same name: its bytes decide, the fast path steps
    # aside (the resolver, or its memo of the first run, whose answers all still hold, picks it)
    (links / "omega-1.0-py3-none-any.whl").unlink()
    make_wheel(links, "omega", "1.0", files={"omega/__init__.py": "CHANGED = True\n"})
    store.create_env("changed")
    r = pip("install", "--env", "changed", "--no-index", *found_at)
    assert r.code == 0 and "0 reused from the store, 1 new" in r.out, r.out + r.err
    proc = run_py(store.env("changed").python, "import omega; print(omega.CHANGED)")
    assert proc.stdout.strip() == "True", proc.stderr


def test_pins_the_env_already_has_read_no_page(
    store: Store, pip: Pip, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = reqfile(w, "alpha==1.0", "beta==2.0")
    warm(store, pip, w, "-r", req)
    pages = w.pages()
    same_as_resolver(store, pip, w, monkeypatch, "-r", req)
    assert w.pages() == pages + 4
    again, _ = install(pip, w, "fast", "-r", req)
    assert "Requirement already satisfied: alpha==1.0" in again.out, again.out
    assert w.pages() == pages + 4  # as the resolver: what the env has is not looked up
