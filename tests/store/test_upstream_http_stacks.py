"""A team base stack from an HTTP binary cache: ``forge create app --parent team:torch`` where
``team`` is a URL.

Node A publishes an env as a stack; a real ``ThreadingHTTPServer`` on loopback serves the published
directory; node B (a second FORGE_HOME, indexes switched off) adds the URL with ``add-upstream``
and layers ``app`` on the stack. The stack's entries are substituted into B's store (they are
ordinary local entries the mirror links), gc keeps them while the mirror links them, and a corrupt
archive refuses the command with one line, leaving no mirror env and nothing of that entry.
"""

from __future__ import annotations

import json
from pathlib import Path

from forge_store.store import Store
from forge_store.upstream_http import SUBSTITUTED_KEY
from tests.store import test_upstream_stacks as stacks
from tests.store.test_upstream import forge, ok, run_in, snapshot
from tests.store.test_upstream_http import _flip, cid_of, copy_layout, listing, served, set_archive
from tests.store.test_upstream_stacks import Team, envs_json, fails

# the stack tests' fixtures: node A's small wheels and the two nodes
wheels = stacks.wheels
team = stacks.team

IMPORTS = "import alpha, beta, os; print(alpha.A, beta.B, os.path.realpath(alpha.__file__))"


def _stacks(home: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(ok(forge(home, "store", "stacks", "--json")).stdout)
    return {f"{s['upstream']}:{s['stack']}": s for s in doc["stacks"]}


def test_node_b_layers_on_a_stack_of_an_http_upstream(team: Team) -> None:
    ok(forge(team.a, "create", "torch", "-q"))
    team.a_install("torch", "beta")  # beta needs alpha: two entries
    team.publish("--env", "torch")
    before = snapshot(team.published)
    with served(team.published) as server:
        ok(forge(team.b, "store", "add-upstream", server.url + "/", "--name", "team"))
        assert _stacks(team.b)["team:torch"]["mirror"] == "-"
        made = ok(forge(team.b, "create", "app", "--parent", "team:torch"))
        assert "mirrored team:torch" in made.stdout + made.stderr, (made.stdout, made.stderr)
        assert "Traceback" not in made.stderr and "warning" not in made.stderr.lower(), made.stderr
        app = team.b / "envs" / "app"
        run = run_in(app, IMPORTS)
        assert run.returncode == 0, run
        one, two, where = run.stdout.split()
        assert (one, two) == ("1", "2") and where.startswith(str(team.b / "store")), run.stdout
        with Store(team.b) as s:  # substituted: ordinary local entries, linked by the mirror
            rows = {r.name: r for r in s.catalog.all_entries()}
            assert set(rows) == {"alpha", "beta"}
            for r in rows.values():
                came = r.meta[SUBSTITUTED_KEY]
                assert not r.dir.startswith("@") and isinstance(came, dict) and came["url"] == server.url
                assert r.refcount > 0
        envs = envs_json(team.b)
        assert envs["team:torch"]["kind"] == "mirror" and envs["app"]["parent"] == "team:torch"
        assert _stacks(team.b)["team:torch"]["mirror"] == "current"
        synced = ok(forge(team.b, "store", "sync"))
        assert "Traceback" not in synced.stderr, synced.stderr
        refused = fails(forge(team.b, "pip", "install", "--env", "team:torch", "--offline", "alpha"))
        assert "mirrors a stack" in refused

        # gc keeps what the mirror links (the mirror's links count as any env's)
        ok(forge(team.b, "gc", "--grace", "0"))
        with Store(team.b) as s:
            assert {r.name for r in s.catalog.all_entries()} == {"alpha", "beta"}
        assert run_in(app, IMPORTS).stdout == run.stdout
        ok(forge(team.b, "doctor", "--verify"))

        # a second env on the stack: the entries are local now, nothing is downloaded again
        fetched = {k: v for k, v in server.requests.items() if k.startswith("/archives/")}
        assert len(fetched) == 2 and set(fetched.values()) == {1}, server.requests
        ok(forge(team.b, "create", "two", "--parent", "team:torch", "-q"))
        assert {k: v for k, v in server.requests.items() if k.startswith("/archives/")} == fetched
        assert run_in(team.b / "envs" / "two", "import beta; print(beta.B)").stdout.strip() == "2"
    assert snapshot(team.published) == before  # only GETs


def test_a_corrupt_archive_leaves_no_mirror_and_publishes_nothing_of_it(team: Team, tmp_path: Path) -> None:
    ok(forge(team.a, "create", "torch", "-q"))
    team.a_install("torch", "beta")
    team.publish("--env", "torch")
    layout = copy_layout(team.published, tmp_path / "served")
    beta = cid_of(layout, "beta")
    good = (layout / "archives" / f"{beta}.tar.gz").read_bytes()
    set_archive(layout, "beta", _flip(good), record=False)  # the manifest's sha256 no longer holds
    with served(layout) as server:
        ok(forge(team.b, "store", "add-upstream", server.url, "--name", "team"))
        envs_before = envs_json(team.b)
        proc = forge(team.b, "create", "app", "--parent", "team:torch")
        line = fails(proc)
        assert "beta-2.0" in line and "sha256" in line and "nothing was published" in line, line
        # the hint names the way out of an upstream add-upstream configured (not FORGE_UPSTREAM=)
        assert f"forge store remove-upstream {server.url}" in proc.stderr, proc.stderr
        assert "FORGE_UPSTREAM" not in proc.stderr, proc.stderr
        assert envs_json(team.b) == envs_before
        assert not (team.b / "envs" / "app").exists() and not (team.b / "envs" / "@team").exists()
        assert not any(p.startswith("tmp/") for p in listing(team.b))  # no staging left
        with Store(team.b) as s:  # alpha verified and is an unlinked local entry (gc's); beta: none
            rows = {r.name: r for r in s.catalog.all_entries()}
            assert "beta" not in rows and all(r.refcount == 0 for r in rows.values())
            assert not s.catalog.links("team:torch")

        # the publisher fixes the archive: the next create substitutes beta alone and works
        set_archive(layout, "beta", good, record=False)
        ok(forge(team.b, "create", "app", "--parent", "team:torch", "-q"))
        assert server.requests[f"/archives/{cid_of(layout, 'alpha')}.tar.gz"] == 1
        run = run_in(team.b / "envs" / "app", IMPORTS)
        assert run.returncode == 0 and run.stdout.split()[:2] == ["1", "2"], run
