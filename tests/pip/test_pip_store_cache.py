"""The indexes decide versions; the store is a cache of their files (DESIGN.md §8, first trap).

Every case runs Forge against a loopback HTTP index built from wheels and an sdist made here,
and where pip has an answer, real pip (``python -m pip install --dry-run --report``, no cache, the
same index) runs side by side and must pick the same versions and kinds of file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import IndexServer, LocalIndex, serve
from tests.support.wheels import make_wheel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build"))
from build_support import make_project, make_sdist

Pip = Any
GENUINE = "numpy-2.4.6-py3-none-any.whl"


@dataclasses.dataclass
class World:
    index: LocalIndex
    server: IndexServer
    find_links: Path
    """A directory of wheels the index does not have (six 1.15.0, attrs 21.4.0)."""
    forged: Path
    """A wheel named like the index's numpy 2.4.6, with other content."""
    tmp: Path

    @property
    def url(self) -> str:
        return self.server.index_url

    def downloads(self, filename: str) -> int:
        return self.server.requests[f"/files/{filename}"]


@pytest.fixture(autouse=True)
def _tiny_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TINY_BACKEND_FAIL", "TINY_BACKEND_EXTRA_REQUIRES", "TINY_BACKEND_LOG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def world(tmp_path: Path, hermetic_pip: None) -> Iterator[World]:
    src = tmp_path / "src"
    index = LocalIndex(tmp_path / "index")
    for version in ("22.2.0", "26.1.0"):
        index.add(make_wheel(src, "attrs", version))
    index.add(make_wheel(src, "six", "1.16.0"))
    index.add(make_wheel(src, "six", "1.17.0"))
    project = make_project(tmp_path / "six-src", name="six", version="1.16.0")
    index.add(make_sdist(project, tmp_path / "sdist", stem="six-1.16.0"))
    index.add(make_wheel(src, "idna", "3.10"))
    index.add(make_wheel(src, "numpy", "2.4.6", files={"numpy/__init__.py": "GENUINE = True\n"}))
    index.write()
    find_links = tmp_path / "find-links"
    make_wheel(find_links, "six", "1.15.0")
    make_wheel(find_links, "attrs", "21.4.0")
    forged = make_wheel(tmp_path / "forged", "numpy", "2.4.6", files={"numpy/__init__.py": "FORGED = True\n"})
    assert forged.name == GENUINE
    with serve(index.root) as server:
        yield World(index, server, find_links, forged, tmp_path)


def local_names(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def entry_of(store: Store, env: str, name: str) -> str:
    return next(d.entry_id for d in store.visible(env) if d.name == name)


def real_pip(w: World, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Real pip, resolving only (``--dry-run``), with no cache, against the same sources; and its report."""
    report = w.tmp / f"pip-report-{len(list(w.tmp.glob('pip-report-*')))}.json"
    command = [
        sys.executable,
        *("-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-cache-dir"),
        *("--disable-pip-version-check", "--no-input", "--quiet", "--report", str(report)),
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=300)
    return proc, report


def picks(report: Path) -> dict[str, tuple[str, str]]:
    """``name -> (version, "wheel" | "sdist")`` from a pip (or Forge) ``--report``."""
    out = {}
    for item in json.loads(report.read_text())["install"]:
        url = str(item["download_info"]["url"])
        out[item["metadata"]["name"]] = (
            item["metadata"]["version"],
            "sdist" if ".tar.gz" in url else "wheel",
        )
    return out


def pip_picks(w: World, *args: str) -> dict[str, tuple[str, str]]:
    proc, report = real_pip(w, *args)
    assert proc.returncode == 0, proc.stderr
    return picks(report)


def forge_picks(pip: Pip, w: World, env: str, *args: str) -> dict[str, tuple[str, str]]:
    """What Forge installed into ``env`` (it must succeed), as its ``--report`` says."""
    report = w.tmp / f"forge-report-{env}.json"
    r = pip("install", "--env", env, "--report", str(report), *args)
    assert r.code == 0, r.err
    return picks(report)


# -- a. a fresh env gets the index's newest, not what an older env left in the store -------------


def test_a_fresh_env_gets_the_newest_version_not_the_stored_one(store: Store, world: World, pip: Pip) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", "-i", world.url, "attrs<23").code == 0
    assert local_names(store, "a") == {"attrs": "22.2.0"}
    store.create_env("b")
    assert forge_picks(pip, world, "b", "-i", world.url, "attrs") == {"attrs": ("26.1.0", "wheel")}
    assert local_names(store, "b") == {"attrs": "26.1.0"}
    assert pip_picks(world, "-i", world.url, "attrs") == {"attrs": ("26.1.0", "wheel")}
    # what an env has installed still satisfies, as in pip (itself, or through a parent layer)
    r = pip("install", "--env", "a", "-i", world.url, "attrs")
    assert r.code == 0 and "Requirement already satisfied: attrs" in r.out and "(22.2.0)" in r.out
    store.create_env("kid", parent="a")
    r = pip("install", "--env", "kid", "-i", world.url, "attrs")
    assert r.code == 0 and "parent layer 'a'" in r.out
    assert local_names(store, "kid") == {}
    # -U upgrades past the installed version
    r = pip("install", "--env", "a", "-i", world.url, "-U", "attrs")
    assert r.code == 0 and local_names(store, "a") == {"attrs": "26.1.0"}
    assert entry_of(store, "a", "attrs") == entry_of(store, "b", "attrs")  # the same file: one entry


# -- b. --no-index -f DIR takes its versions from DIR --------------------------------------------


def test_no_index_find_links_takes_versions_from_the_directory(store: Store, world: World, pip: Pip) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", "-i", world.url, "six", "attrs").code == 0
    assert local_names(store, "a") == {"six": "1.17.0", "attrs": "26.1.0"}  # newer ones in the store
    store.create_env("b")
    args = ("--no-index", "-f", str(world.find_links), "six", "attrs")
    expected = {"six": ("1.15.0", "wheel"), "attrs": ("21.4.0", "wheel")}
    assert forge_picks(pip, world, "b", *args) == expected
    assert local_names(store, "b") == {"six": "1.15.0", "attrs": "21.4.0"}
    assert pip_picks(world, *args) == expected
    # the same find-links files again: the store holds them now (hash computed for the local file)
    store.create_env("c")
    r = pip("install", "--env", "c", *args)
    assert r.code == 0 and "2 reused from the store, 0 new" in r.out, r.out
    assert entry_of(store, "c", "six") == entry_of(store, "b", "six")


# -- c. --no-index without sources fails, whatever the store holds --------------------------------


def test_no_index_without_sources_fails_even_if_the_store_has_it(
    store: Store, world: World, pip: Pip
) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", "-i", world.url, "idna").code == 0
    store.create_env("b")
    r = pip("install", "--env", "b", "--no-index", "idna")
    assert r.code != 0
    assert "No matching distribution found for idna" in r.err and "Traceback" not in r.err
    assert local_names(store, "b") == {}
    theirs, _ = real_pip(world, "--no-index", "idna")
    assert theirs.returncode != 0 and "No matching distribution found for idna" in theirs.stderr


# -- d. --no-binary builds from the sdist instead of linking the stored wheel ---------------------


def test_no_binary_builds_the_sdist_instead_of_linking_the_stored_wheel(
    store: Store, world: World, pip: Pip
) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", "-i", world.url, "six==1.16.0").code == 0
    wheel_entry = entry_of(store, "a", "six")
    store.create_env("b")
    args = ("-i", world.url, "--no-binary", ":all:", "six==1.16.0")
    report = world.tmp / "forge-b.json"
    r = pip("install", "--env", "b", "--report", str(report), *args)
    assert r.code == 0, r.err
    assert "Created wheel for six" in r.out
    assert picks(report) == {"six": ("1.16.0", "sdist")}
    built_entry = entry_of(store, "b", "six")
    assert built_entry != wheel_entry  # built from the sdist: other bytes, another entry
    assert pip_picks(world, *args) == {"six": ("1.16.0", "sdist")}
    # the wheel built from that very sdist is the same artifact: reused, not rebuilt
    store.create_env("c")
    r = pip("install", "--env", "c", *args)
    assert r.code == 0, r.err
    assert "Built wheel" not in r.out and "from the Forge store" in r.out
    assert entry_of(store, "c", "six") == built_entry
    # and without --no-binary the index's wheel is chosen again: its own entry
    store.create_env("d")
    assert pip("install", "--env", "d", "-i", world.url, "six==1.16.0").code == 0
    assert entry_of(store, "d", "six") == wheel_entry


# -- e, f. a forged wheel installed by path is never served; the genuine file is reused ----------


def test_a_wheel_installed_by_path_does_not_serve_the_index_name(
    store: Store, world: World, pip: Pip
) -> None:
    env_a = store.create_env("a")
    assert pip("install", "--env", "a", str(world.forged)).code == 0  # the user names that file
    assert run_py(env_a.python, "import numpy; print(numpy.FORGED)").stdout.strip() == "True"
    forged_entry = entry_of(store, "a", "numpy")
    env_b = store.create_env("b")
    r = pip("install", "--env", "b", "-i", world.url, "--no-cache-dir", "numpy")
    assert r.code == 0, r.err
    assert world.downloads(GENUINE) == 1  # the index's genuine file was fetched
    assert "0 reused from the store, 1 new" in r.out
    genuine_entry = entry_of(store, "b", "numpy")
    assert genuine_entry != forged_entry
    proc = run_py(env_b.python, "import numpy; print(numpy.GENUINE, hasattr(numpy, 'FORGED'))")
    assert proc.stdout.split() == ["True", "False"], proc.stderr
    genuine_sha = hashlib.sha256((world.index.root / "files" / GENUINE).read_bytes()).hexdigest()
    assert store.entry(genuine_entry).wheel_sha256 == genuine_sha
    # f. the store's entry of that very index file is linked without any download (no cache either)
    store.create_env("c")
    r = pip("install", "--env", "c", "-i", world.url, "--no-cache-dir", "numpy")
    assert r.code == 0, r.err
    assert "Using numpy-2.4.6 from the Forge store (no download)" in r.out
    assert "1 reused from the store, 0 new" in r.out
    assert world.downloads(GENUINE) == 1
    assert entry_of(store, "c", "numpy") == genuine_entry


def test_the_genuine_entry_is_reused_without_download_report_and_dry_run(
    store: Store, world: World, pip: Pip
) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", "-i", world.url, "--no-cache-dir", "idna", "attrs").code == 0
    fetched = {f: world.downloads(f) for f in ("idna-3.10-py3-none-any.whl", "attrs-26.1.0-py3-none-any.whl")}
    assert fetched == {"idna-3.10-py3-none-any.whl": 1, "attrs-26.1.0-py3-none-any.whl": 1}
    store.create_env("b")
    report = world.tmp / "b.json"
    r = pip(
        "install",
        "--env",
        "b",
        "-i",
        world.url,
        "--no-cache-dir",
        "--dry-run",
        "-v",
        "--report",
        str(report),
        "idna",
    )
    assert r.code == 0 and "idna==3.10: link from the Forge store" in r.out, r.out
    item = json.loads(report.read_text())["install"][0]
    assert item["download_info"]["url"].endswith("/files/idna-3.10-py3-none-any.whl")  # the index's file
    r = pip("install", "--env", "b", "-i", world.url, "--no-cache-dir", "idna", "attrs")
    assert r.code == 0 and "2 reused from the store, 0 new" in r.out, r.out
    assert {f: world.downloads(f) for f in fetched} == fetched


# -- g. --prefer-offline and --offline use store entries, even locally ingested ones ------------


def test_prefer_offline_uses_store_entries_first(store: Store, world: World, pip: Pip) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", str(world.forged)).code == 0
    assert pip("install", "--env", "a", "-i", world.url, "attrs<23").code == 0
    forged_entry = entry_of(store, "a", "numpy")
    env_b = store.create_env("b")
    before = sum(world.server.requests.values())
    r = pip("install", "--env", "b", "-i", world.url, "--prefer-offline", "numpy", "attrs")
    assert r.code == 0, r.err
    assert local_names(store, "b") == {"numpy": "2.4.6", "attrs": "22.2.0"}  # the store's, not 26.1.0
    assert entry_of(store, "b", "numpy") == forged_entry
    assert run_py(env_b.python, "import numpy; print(numpy.FORGED)").stdout.strip() == "True"
    assert sum(world.server.requests.values()) == before  # the store had everything: no request
    # the store comes first only within the request: specifiers, and names it lacks, go to the index
    store.create_env("c")
    r = pip("install", "--env", "c", "-i", world.url, "--prefer-offline", "attrs>23", "idna")
    assert r.code == 0, r.err
    assert local_names(store, "c") == {"attrs": "26.1.0", "idna": "3.10"}
    # --no-binary still holds: a store entry is a wheel
    store.create_env("d")
    r = pip("install", "--env", "d", "-i", world.url, "--prefer-offline", "--no-binary", "six", "six==1.16.0")
    assert r.code == 0 and "Created wheel for six" in r.out, r.out + r.err


def test_offline_uses_store_entries_and_makes_no_request(store: Store, world: World, pip: Pip) -> None:
    store.create_env("a")
    assert pip("install", "--env", "a", str(world.forged)).code == 0
    assert pip("install", "--env", "a", "-i", world.url, "six==1.16.0").code == 0
    store.create_env("b")
    before = sum(world.server.requests.values())
    r = pip("install", "--env", "b", "-i", world.url, "--offline", "numpy", "six")
    assert r.code == 0, r.err
    assert local_names(store, "b") == {"numpy": "2.4.6", "six": "1.16.0"}
    assert entry_of(store, "b", "numpy") == entry_of(store, "a", "numpy")
    assert sum(world.server.requests.values()) == before
    # what the store does not have is not fetched: one clear line, nothing changed
    store.create_env("c")
    r = pip("install", "--env", "c", "-i", world.url, "--offline", "idna")
    assert r.code != 0 and "idna" in r.err and "Traceback" not in r.err
    assert local_names(store, "c") == {}
    assert sum(world.server.requests.values()) == before


def test_offline_and_prefer_offline_are_documented(pip: Pip, hermetic_pip: None) -> None:
    r = pip("install", "--help")
    assert r.code == 0
    text = " ".join(r.out.split())
    assert "--prefer-offline" in text and "--offline" in text
    assert "store entries" in text


# -- --require-hashes with --find-links accepts the genuine file, as pip does ------------------


def test_require_hashes_with_find_links(store: Store, world: World, pip: Pip) -> None:
    wheel = world.find_links / "six-1.15.0-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    req = world.tmp / "req.txt"
    req.write_text(f"six==1.15.0 --hash=sha256:{digest}\n")
    args = ("--no-index", "-f", str(world.find_links), "--require-hashes", "-r", str(req))
    store.create_env("a")
    assert forge_picks(pip, world, "a", *args) == {"six": ("1.15.0", "wheel")}
    assert pip_picks(world, *args) == {"six": ("1.15.0", "wheel")}
    # from the store now (the same file), still checked against the hash
    store.create_env("b")
    r = pip("install", "--env", "b", *args)
    assert r.code == 0 and "1 reused from the store, 0 new" in r.out, r.out + r.err
    # a wrong hash is refused whether or not the store holds the file
    req.write_text(f"six==1.15.0 --hash=sha256:{'0' * 64}\n")
    store.create_env("c")
    r = pip("install", "--env", "c", *args)
    assert r.code != 0 and "hash" in r.err.lower() and "Traceback" not in r.err
    assert local_names(store, "c") == {}
    theirs, _ = real_pip(world, *args)
    assert theirs.returncode != 0 and "hash" in theirs.stderr.lower()
