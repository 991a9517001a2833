"""A team base stack: node A publishes an env as a stack, node B layers on it (``--parent team:torch``).

Two FORGE_HOMEs on one machine, as in ``test_upstream.py``: node A installs numpy (a real wheel
with C extensions, from the machine's local index through the test wheel cache) and small built
wheels, and publishes; node B, with the indexes switched off, creates ``app --parent team:torch``
through a read-only view of the published directory, installs one more package into app, and
imports both from app's interpreter. B's store gains zero bytes for the stack's entries, and not
one inode of the upstream changes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forge_store.store import Store
from forge_store.upstream import MANIFEST, split_env
from forge_store.upstream_names import derive, named, split_item
from tests.store.test_upstream import (
    Cluster,
    forge,
    ok,
    read_only_view,
    run_in,
    snapshot,
    store_usage,
)
from tests.support.wheel_cache import cache_set, fill
from tests.support.wheels import make_wheel

NUMPY = "numpy==2.2.6"


def fails(proc: Any, code: int | None = None) -> str:
    """The one error line of a refused command (no traceback)."""
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("hint:")]
    assert len(lines) == 1, proc.stderr
    return str(lines[0])


@pytest.fixture(scope="module")
def numpy_wheel() -> Path:
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the machine's local package index carries cp311 wheels")
    dest = fill(
        cache_set("upstream-stacks-py311"),
        [NUMPY],
        pip_args=("--only-binary=:all:", "--no-deps", "--index-url", "file:///opt/pypi/simple"),
        once=True,
    )
    found = sorted(dest.glob("numpy-2.2.6-*.whl"))
    assert found, f"no numpy wheel in {dest}"
    return found[0]


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    make_wheel(d, "alpha", "1.0", files={"alpha/__init__.py": "A = 1\n"})
    make_wheel(d, "beta", "2.0", files={"beta.py": "B = 2\n"}, requires=["alpha"])
    make_wheel(d, "gamma", "1.0", files={"gamma.py": "G = 3\n"})
    make_wheel(d, "delta", "1.0", files={"delta.py": "D = 4\n"})
    return d


class Team(Cluster):
    """Node A (the publisher), node B (a consumer) and the published directory ``team``."""

    def __init__(self, tmp: Path, wheels: Path) -> None:
        super().__init__(tmp, wheels)
        self.published = tmp / "team"

    def a_install(self, env: str, *names: str) -> None:
        ok(forge(self.a, "pip", "install", "--env", env, "--no-index", "-f", str(self.wheels), "-q", *names))

    def publish(self, *args: str) -> dict[str, Any]:
        doc = json.loads(ok(forge(self.a, "store", "publish", str(self.published), "--json", *args)).stdout)
        return dict(doc)

    def manifest(self) -> dict[str, Any]:
        return dict(json.loads((self.published / MANIFEST).read_text()))

    def write_manifest(self, doc: dict[str, Any]) -> None:
        path = self.published / MANIFEST
        os.chmod(path, 0o644)
        path.write_text(json.dumps(doc))


@pytest.fixture
def team(tmp_path: Path, wheels: Path) -> Iterator[Team]:
    t = Team(tmp_path, wheels)
    yield t
    t.close()


def envs_json(home: Path, upstream: str | None = None) -> dict[str, dict[str, Any]]:
    doc = json.loads(ok(forge(home, "envs", "--json", upstream=upstream)).stdout)
    return {e["name"]: e for e in doc["envs"]}


# -- the team base stack, end to end ------------------------------------------------------------------


def test_node_b_layers_on_the_published_stack_without_copying_it(team: Team, numpy_wheel: Path) -> None:
    os.link(numpy_wheel, team.wheels / numpy_wheel.name)
    ok(forge(team.a, "create", "torch", "-q"))
    team.a_install("torch", "numpy", "alpha")
    doc = team.publish("--env", "torch")
    assert doc["stacks"] == ["torch"] and doc["generation"] == 1
    stack = team.manifest()["stacks"]["torch"]
    assert team.manifest()["stacks_version"] == 1 and stack["parent"] is None
    assert {(d["name"], d["version"], d["requested"]) for d in stack["links"]} == {
        ("numpy", "2.2.6", True),
        ("alpha", "1.0", True),
    }
    assert stack["python"]["abi"] == Store(team.a).env("torch").interpreter.abi_key
    assert set(team.manifest()["entries"]) >= {d["id"] for d in stack["links"]}

    with read_only_view(team.published, team.tmp / "ro") as up:
        before = snapshot(up)
        ok(forge(team.b, "store", "add-upstream", str(up), "--name", "team", "-q"))
        made = ok(forge(team.b, "create", "app", "--parent", "team:torch"))
        assert "mirrored team:torch" in made.stdout and "on top of team:torch" in made.stdout
        assert store_usage(team.b)[1] == 0  # the stack's entries: not one byte in B's store
        assert not [p for p in (team.b / "store").iterdir() if not p.name.startswith(".")]

        # one more package into app, indexes off: beta's dependency alpha comes from the stack
        added = ok(
            forge(team.b, "pip", "install", "--env", "app", "--no-index", "-f", str(team.wheels), "beta")
        )
        assert "in the parent layer 'team:torch'" in added.stdout
        files, size = store_usage(team.b)
        assert 0 < size < 64 * 1024, (files, size)  # beta's entry only (numpy alone is ~60 MB)

        app = team.b / "envs" / "app"
        code = (
            "import numpy, alpha, beta\nprint(numpy.__version__, int(numpy.arange(4).sum()), alpha.A, beta.B)"
        )
        imported = run_in(app, code)
        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.split() == ["2.2.6", "6", "1", "2"]
        where = run_in(app, "import numpy, os; print(os.path.realpath(numpy.__file__))")
        assert where.stdout.strip().startswith(str(up)), where.stdout  # linked straight into it

        envs = envs_json(team.b)
        assert envs["app"]["parent"] == "team:torch"
        assert envs["team:torch"]["kind"] == "mirror"
        assert Path(envs["team:torch"]["path"]) == team.b / "envs" / "@team" / "torch"
        listed = json.loads(ok(forge(team.b, "list", "--env", "app", "--json")).stdout)
        owners = {d["name"]: d["env"] for d in listed["packages"]}
        assert owners["numpy"] == "team:torch" and owners["beta"] == "app"

        # the mirror is read-only for users, whichever way they try
        args = ["--no-index", "-f", str(team.wheels), "gamma"]
        line = fails(forge(team.b, "pip", "install", "--env", "team:torch", *args), 1)  # pip's code
        assert "mirrors a stack" in line
        fails(forge(team.b, "install", "--env", "team:torch", *args), 2)
        fails(forge(team.b, "uninstall", "--env", "team:torch", "alpha"), 2)
        fails(forge(team.b, "pip", "uninstall", "--env", "team:torch", "alpha", "-y"), 1)
        mirror_pip = team.b / "envs" / "@team" / "torch" / "bin" / "pip"
        assert "mirrors a stack" in fails(run_cmd(team.b, [str(mirror_pip), "install", *args]), 1)

        # a second app reuses the mirror as it is; gc keeps the stack and touches no upstream file
        again = ok(forge(team.b, "create", "app2", "--parent", "team:torch"))
        assert "mirrored" not in again.stdout
        ok(forge(team.b, "gc"))
        assert run_in(app, code).returncode == 0
        doctor = forge(team.b, "doctor", "--json")
        assert doctor.returncode == 0, doctor.stdout
        assert snapshot(up) == before

    # the upstream went away (unmounted or made writable again and moved): doctor says so
    team.published.rename(team.tmp / "moved")
    try:
        if (team.tmp / "ro").is_dir():
            (team.tmp / "ro").rmdir()
        report = forge(team.b, "doctor", "--json")
        assert report.returncode != 0
        findings = json.loads(report.stdout)["findings"]
        gone = [f for f in findings if f["kind"] == "upstream-entry-gone"]
        assert {f["data"]["name"] for f in gone} == {"numpy", "alpha"}, findings
        assert all("team:torch" in f["data"]["envs"] for f in gone)
        assert "numpy" not in run_in(team.b / "envs" / "app", "import numpy").stdout
    finally:
        (team.tmp / "moved").rename(team.published)


def run_cmd(home: Path, argv: list[str]) -> Any:
    """``argv`` as a user of node ``home`` runs it (its FORGE_HOME, no PYTHONPATH)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORGE_UPSTREAM", "FORGE_ENV")}
    env["FORGE_HOME"] = str(home)
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


# -- names, parents, new generations ------------------------------------------------------------------


def test_stack_chain_names_and_updates(team: Team) -> None:
    ok(forge(team.a, "create", "base", "-q"))
    team.a_install("base", "alpha")
    ok(forge(team.a, "create", "torch", "--parent", "base", "-q"))
    team.a_install("torch", "beta")
    doc = team.publish("--env", "torch")
    assert sorted(doc["stacks"]) == ["base", "torch"]
    assert team.manifest()["stacks"]["torch"]["parent"] == "base"
    unchanged = team.publish("--env", "torch")
    assert not unchanged["manifest_written"] and unchanged["generation"] == 1

    # FORGE_UPSTREAM=NAME=PATH names it per process; nothing is configured
    up = f"team={team.published}"
    made = ok(forge(team.b, "create", "app", "--parent", "team:torch", upstream=up))
    assert "mirrored team:base" in made.stdout and "mirrored team:torch" in made.stdout
    envs = envs_json(team.b)
    assert envs["team:torch"]["parent"] == "team:base" and envs["app"]["parent"] == "team:torch"
    seen = run_in(team.b / "envs" / "app", "import alpha, beta; print(alpha.A, beta.B)")
    assert seen.stdout.split() == ["1", "2"], seen.stderr

    # unknown upstream / stack: one line naming what exists
    line = fails(forge(team.b, "create", "x", "--parent", "nope:torch", upstream=up), 3)
    assert "no upstream named 'nope'" in line and f"team ({team.published})" in line
    line = fails(forge(team.b, "create", "x", "--parent", "team:nope", upstream=up), 3)
    assert "no stack 'nope'" in line and "base, torch" in line
    assert "x" not in envs_json(team.b)

    # a new generation: the stack changed; `stacks` says the mirror is behind, `sync` updates it
    team.a_install("torch", "gamma")
    assert team.publish("--env", "torch")["generation"] == 2
    stacks = json.loads(ok(forge(team.b, "store", "stacks", "--json", upstream=up)).stdout)["stacks"]
    state = {f"{s['upstream']}:{s['stack']}": (s["mirror"], s["generation"]) for s in stacks}
    assert state == {"team:base": ("current", 1), "team:torch": ("behind", 2)}
    synced = ok(forge(team.b, "store", "sync", "--json", upstream=up))
    actions = {m["env"]: m["action"] for m in json.loads(synced.stdout)["mirrors"]}
    assert actions == {"team:base": "current", "team:torch": "updated"}
    seen = run_in(team.b / "envs" / "app", "import gamma; print(gamma.G)")
    assert seen.stdout.strip() == "3", seen.stderr

    # --as publishes one env under another name; add-upstream names (derived, unique)
    team.publish("--env", "base", "--as", "core")
    assert set(team.manifest()["stacks"]) == {"base", "core", "torch"}
    fails(forge(team.a, "store", "publish", str(team.published), "--as", "x"), 2)
    ok(forge(team.b, "store", "add-upstream", str(team.published), "-q"))
    ups = json.loads(ok(forge(team.b, "store", "upstreams", "--json")).stdout)["upstreams"]
    assert [(u["name"], u["location"]) for u in ups] == [("team", str(team.published))]
    other = team.tmp / "elsewhere" / "team"
    other.mkdir(parents=True)
    line = fails(forge(team.b, "store", "add-upstream", str(other)), 2)
    assert "upstream name 'team' is taken" in line
    ok(forge(team.b, "store", "add-upstream", str(other), "--name", "team2", "-q"))
    made = ok(forge(team.b, "create", "app3", "--parent", "team:core"))
    assert "mirrored team:core" in made.stdout
    ok(forge(team.b, "remove", "app3"))
    ok(forge(team.b, "remove", "team:core"))
    ok(forge(team.b, "store", "remove-upstream", "team2", "-q"))
    ups = json.loads(ok(forge(team.b, "store", "upstreams", "--json")).stdout)["upstreams"]
    assert [u["name"] for u in ups] == ["team"]


def test_manifest_versions_and_interpreter(team: Team) -> None:
    ok(forge(team.a, "create", "torch", "-q"))
    team.a_install("torch", "alpha")
    team.publish("--env", "torch")
    up = f"team={team.published}"
    doc = team.manifest()

    # a stack for an interpreter this node lacks: one line naming the one it needs
    wrong = json.loads(json.dumps(doc))
    wrong["stacks"]["torch"]["python"].update(version="3.99.0", abi="cpython-399-x86_64-linux-gnu")
    team.write_manifest(wrong)
    line = fails(forge(team.b, "create", "app", "--parent", "team:torch", upstream=up), 3)
    assert "needs cpython 3.99.0 (cpython-399-x86_64-linux-gnu)" in line
    assert envs_json(team.b) == {}

    # stacks of a newer version: refused for --parent, the entries still serve installs
    newer = {**doc, "stacks_version": 2}
    team.write_manifest(newer)
    line = fails(forge(team.b, "create", "app", "--parent", "team:torch", upstream=up), 2)
    assert "stacks of version 2" in line
    ok(forge(team.b, "create", "plain", "-q", upstream=up))
    ok(forge(team.b, "pip", "install", "--env", "plain", "--offline", "alpha", "-q", upstream=up))
    assert store_usage(team.b)[1] == 0

    # a manifest from before stacks: read as ever, it publishes no stacks
    old = {k: v for k, v in doc.items() if k not in ("stacks", "stacks_version")}
    team.write_manifest(old)
    line = fails(forge(team.b, "create", "app", "--parent", "team:torch", upstream=up), 3)
    assert "no stack 'torch' (stacks: none)" in line
    # ... and publishing into it adds them (generation bumps once; the entries stay as they were)
    assert team.publish("--env", "torch")["generation"] == doc["generation"] + 1
    assert set(team.manifest()["stacks"]) == {"torch"}


# -- names ------------------------------------------------------------------------------------------


def test_upstream_names(tmp_path: Path) -> None:
    assert split_item("team=/srv/forge") == ("team", "/srv/forge")
    assert split_item("/srv/a=b") == (None, "/srv/a=b")
    assert split_env("team=https://cache.example/x:/mnt/b") == ["team=https://cache.example/x", "/mnt/b"]
    assert derive("/srv/forge/team/") == "team" and derive("/") == "upstream"
    for d in ("w/ci", "x/team", "y/team", "z/other"):
        (tmp_path / d).mkdir(parents=True)
    store = Store(tmp_path / "home")
    items = [f"{tmp_path}/w/ci", f"{tmp_path}/x/team", f"{tmp_path}/y/team", f"ci={tmp_path}/z/other"]
    env = {"FORGE_UPSTREAM": os.pathsep.join(items)}
    # derived names give way to explicit ones, and to earlier upstreams
    assert [n for n, _s in named(store, env)] == ["ci-2", "team", "team-2", "ci"]


def test_doctor_quarantine_unlinks_from_a_mirror_and_sync_links_the_stack_again(team: Team) -> None:
    from forge_store import seal

    ok(forge(team.a, "create", "torch", "-q"))
    team.a_install("torch", "alpha")
    team.publish("--env", "torch")
    own = team.tmp / "b-wheels"
    own.mkdir()
    (own / "alpha-1.0-py3-none-any.whl").write_bytes(
        (team.wheels / "alpha-1.0-py3-none-any.whl").read_bytes()
    )
    ok(forge(team.b, "create", "mine", "-q"))
    ok(forge(team.b, "pip", "install", "--env", "mine", "--no-index", "-f", str(own), "alpha", "-q"))
    up = f"team={team.published}"
    ok(forge(team.b, "create", "app", "--parent", "team:torch", "-q", upstream=up))
    app = team.b / "envs" / "app"
    where = "import alpha, os; print(os.path.realpath(alpha.__file__))"
    assert run_in(app, where).stdout.startswith(str(team.b / "store"))  # B's own copy of that content

    # B's copy is modified and its wheel is gone: doctor --fix quarantines it, the mirror included
    entry = next(p for p in (team.b / "store").iterdir() if not p.name.startswith("."))
    seal.unseal(entry)
    target = entry / "site" / "alpha" / "__init__.py"
    target.chmod(0o644)
    target.write_text("A = 'evil'\n")
    seal.seal(entry)
    (own / "alpha-1.0-py3-none-any.whl").unlink()
    fixed = forge(team.b, "doctor", "--verify", "--fix", upstream=up)
    assert "Traceback" not in fixed.stderr and "mirrors a stack" not in fixed.stderr, fixed.stderr
    assert run_in(app, "import alpha").returncode != 0

    synced = ok(forge(team.b, "store", "sync", "team:torch", upstream=up))
    assert "updated mirror team:torch" in synced.stdout
    seen = run_in(app, where.replace("print(", "print(alpha.A, "))
    assert seen.stdout.startswith(f"1 {team.published}/entries/"), (seen.stdout, seen.stderr)
