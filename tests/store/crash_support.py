"""What the crash tests and ``bench/stress.py`` share: running the CLI with a fault point armed,
and checking a FORGE_HOME after the next command (every env imports exactly what its catalog
links, refcounts equal links, nothing left behind)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

CLI = "import sys; from forge_pip.cli.forge import main; sys.exit(main())"
REPO = Path(__file__).resolve().parents[2]


def cli_env(home: Path, fault: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORGE_TEST_FAULT")}
    env["FORGE_HOME"] = str(home)
    env.pop("FORGE_ENV", None)
    env.pop("VIRTUAL_ENV", None)
    if fault:
        env["FORGE_TEST_FAULT"] = fault
    env.update(extra or {})
    return env


def forge(
    home: Path, *args: str, fault: str | None = None, extra: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        capture_output=True,
        text=True,
        env=cli_env(home, fault, extra),
        check=False,
        cwd=str(REPO),
        timeout=300,
    )


def _db(home: Path) -> sqlite3.Connection:
    db = sqlite3.connect(home / "catalog.sqlite3")
    db.row_factory = sqlite3.Row
    return db


def catalog_view(home: Path) -> dict[str, dict[str, str]]:
    """env name -> {dist name: version} of its LOCAL links, from the catalog."""
    with _db(home) as db:
        envs: dict[str, dict[str, str]] = {
            r["name"]: {} for r in db.execute("SELECT name FROM envs WHERE kind = 'env'")
        }
        rows = db.execute(
            "SELECT l.env, e.name, e.version FROM links l JOIN entries e ON e.id = l.entry_id"
            " WHERE l.layer = 'local'"
        )
        for r in rows:
            if r["env"] in envs:
                envs[r["env"]][r["name"]] = r["version"]
    return envs


def problems(home: Path, modules: Sequence[str]) -> list[str]:
    """Everything wrong with a FORGE_HOME after a command finished (empty: healthy).

    ``modules``: every top-level module the test wheels provide (wheel ``name`` provides module
    ``name``); each env must import exactly those its catalog links, at the linked version."""
    out: list[str] = []
    if not (home / "catalog.sqlite3").exists():
        return out
    view = catalog_view(home)
    with _db(home) as db:
        for r in db.execute(
            "SELECT e.id, e.refcount, (SELECT count(*) FROM links l WHERE l.entry_id = e.id) AS n"
            " FROM entries e"
        ):
            if r["refcount"] != r["n"]:
                out.append(f"entry {r['id'][:12]}: refcount {r['refcount']} but {r['n']} links")
        for r in db.execute("SELECT e.dir FROM entries e WHERE e.refcount > 0"):
            if not (home / "store" / r["dir"]).is_dir():
                out.append(f"linked entry {r['dir']} is gone from the store")
        for r in db.execute("SELECT kind, lock, holder FROM intents"):
            out.append(f"pending intent {r['kind']} on {r['lock']} by {r['holder']}")
        for r in db.execute("SELECT holder FROM leases"):
            out.append(f"lease left by {r['holder']}")
        env_paths = {r["name"]: Path(r["path"]) for r in db.execute("SELECT name, path FROM envs")}
    for leftover in ("tmp",):
        for p in sorted((home / leftover).glob("*")) if (home / leftover).is_dir() else []:
            if p.name.startswith(("ingest-", "pyc-")):
                out.append(f"staging left: {p}")
    envs_dir = home / "envs"
    for p in sorted(envs_dir.iterdir()) if envs_dir.is_dir() else []:
        if ".forge-rm-" in p.name or ".forge-tmp-" in p.name:
            out.append(f"env leftover: {p}")
        elif p.name not in env_paths and not p.name.startswith("."):
            out.append(f"env dir without a catalog row: {p}")
    for name, path in env_paths.items():
        if not path.is_dir():
            out.append(f"env {name}: dir {path} is gone")
    for name, linked in view.items():
        out.extend(env_problems(env_paths[name], name, linked, modules))
    return out


_CHECK = """\
import importlib, importlib.metadata as m, json, os, re, sys
site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)][0]
dists, missing = {}, []
for d in m.distributions(path=[site]):
    dists[re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()] = d.version
    for f in d.files or ():
        if "__pycache__" in f.parts or f.suffix == ".pyc":
            continue
        if not os.path.lexists(d.locate_file(f)):
            missing.append(str(f))
seen = {}
for name in sys.argv[1:]:
    try:
        mod = importlib.import_module(name)
    except ImportError:
        continue
    seen[name] = getattr(mod, "VERSION", "?")
print(json.dumps({"dists": dists, "missing": missing[:5], "imports": seen}))
"""


def env_problems(path: Path, name: str, linked: Mapping[str, str], modules: Sequence[str] = ()) -> list[str]:
    """What is wrong with one env: the distributions its site-packages shows (and their files)
    must be exactly ``linked`` (canonical name -> version, from the catalog); each of
    ``modules`` must import exactly when its dist is linked, at the linked ``VERSION``."""
    import json

    out: list[str] = []
    for p in path.glob(".forge-txn-*"):
        out.append(f"journal left: {p}")
    python = path / "bin" / "python"
    if not python.exists():
        return [*out, f"env {name}: no bin/python"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([str(python), "-c", _CHECK, *modules], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return [*out, f"env {name}: python failed: {proc.stderr.strip()[-300:]}"]
    seen = json.loads(proc.stdout)
    if "pip" not in linked:  # a Forge env's own pip package (Forge's front end), not a link
        seen["dists"].pop("pip", None)
    if seen["dists"] != dict(linked):
        out.append(f"env {name}: shows {seen['dists']}, catalog links {dict(linked)}")
    if seen["missing"]:
        out.append(f"env {name}: files missing: {seen['missing']}")
    want = {m: linked[m] for m in modules if m in linked}
    if seen["imports"] != want:
        out.append(f"env {name}: imports {seen['imports']}, catalog links {want}")
    return out
