"""Kill and concurrency loops at scale: Forge must never lose or corrupt anything.

    .venv/bin/python bench/stress.py [--procs 8] [--kills 200] [--wheels auto|built|real] [--json out.json]

``--procs`` workers run random operations at once on one FORGE_HOME (install a random set of
wheels into a random env, uninstall, create, remove, gc); a random share of them runs with a
random fault point armed (``FORGE_TEST_FAULT=POINT:kill``), so the process SIGKILLs itself
there. After each kill the worker runs the killed command again (the next command: it heals
what the kill left), then, holding the env's lock so no other worker changes it meanwhile,
checks that env: the distributions it shows, their files and (built wheels) their imports must
be exactly what the catalog links. The loop ends when ``--kills`` kills happened.

At the end: ``forge gc --grace 0`` (and ``forge doctor --fix`` when this Forge has it), then
every env is checked again and everything left that nothing uses is counted as leaked bytes:
unreferenced entries, store dirs the catalog does not know, trash, staging dirs, journals,
env leftovers. Printed: operations, kills, unexpected errors, envs broken after the next
command (must be 0), bytes leaked (must be 0), time.

Wheels: ``built`` makes small wheels (one module each, with a ``VERSION``); ``real`` uses the
smallest wheels of ``~/.cache/forge-tests/real-wheels-py311`` (``auto``: real if present).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.store.crash_support import catalog_view, env_problems, forge  # noqa: E402
from tests.support.wheels import make_wheel  # noqa: E402

REAL = Path.home() / ".cache" / "forge-tests" / "real-wheels-py311"
CHANGE = ["change-intent", "change-linked", "change-committed", "link-op"]
POINTS = {  # the fault points each command passes
    "install": [
        *CHANGE,
        "ingest-intent",
        "ingest-unpacked",
        "ingest-compiled",
        "publish-rename",
        "publish-renamed",
        "publish-committed",
    ],
    "uninstall": CHANGE,
    "create": ["create-intent", "create-written", "create-renamed", "create-committed"],
    "remove": ["remove-intent", "remove-moved", "remove-committed", "remove-deleted"],
    "gc": ["gc-intent", "gc-move", "gc-committed"],
}
# races between workers that are right answers, not failures
EXPECTED = re.compile(
    r"no env named|already exists|is not installed|not installed in|is gone|has children"
    r"|a concurrent `forge gc` removed it|run the command again"
)
ENV_NAMES = [f"env{i}" for i in range(6)]


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheels(kind: str, directory: Path, count: int) -> tuple[list[Path], list[str]]:
    """(wheel files, modules to import-check)."""
    if kind == "auto":
        kind = "real" if REAL.is_dir() and any(REAL.glob("*.whl")) else "built"
    if kind == "real":
        files = sorted(REAL.glob("*.whl"), key=lambda p: p.stat().st_size)[:count]
        return files, []
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    modules = []
    for i in range(count):
        name = f"stress{i}"
        members = {f"{name}/__init__.py": f"VERSION = '1.{i}'\n"}
        members.update({f"{name}/m{j}.py": "X = 1\n" * 50 for j in range(20)})
        out.append(make_wheel(directory, name, f"1.{i}", files=members))
        modules.append(name)
    return out, modules


class Stress:
    def __init__(self, home: Path, wheels: Sequence[Path], modules: Sequence[str], kills: int) -> None:
        self.home = home
        self.wheels = list(wheels)
        self.modules = list(modules)
        self.target_kills = kills
        self.lock = threading.Lock()
        self.ops = 0
        self.kills = 0
        self.unexpected: list[str] = []
        self.broken: list[str] = []
        self.extra = {"FORGE_LOCK_TIMEOUT": "600"}

    def _command(self, rng: random.Random) -> tuple[list[str], str | None]:
        roll = rng.random()
        env = rng.choice(ENV_NAMES)
        if roll < 0.55:
            picks = rng.sample(self.wheels, rng.randint(1, min(4, len(self.wheels))))
            return ["install", "--env", env, *map(str, picks)], env
        if roll < 0.7:
            names = [_canon(w.name.split("-")[0]) for w in rng.sample(self.wheels, 2)]
            return ["uninstall", "--env", env, *names], env
        if roll < 0.82:
            return ["create", env], env
        if roll < 0.92:
            return ["remove", env], env
        return ["gc", "--grace", "0"], None

    def _run(self, args: list[str], fault: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = forge(self.home, *args, fault=fault, extra=self.extra)
        with self.lock:
            self.ops += 1
        if proc.returncode not in (0, -9) and not EXPECTED.search(proc.stderr):
            with self.lock:
                self.unexpected.append(f"{' '.join(args[:3])}: {proc.stderr.strip()[-300:]}")
        return proc

    def _pending(self, env: str) -> int:
        with sqlite3.connect(self.home / "catalog.sqlite3") as db:
            row = db.execute("SELECT count(*) FROM intents WHERE lock = ?", (f"env-{env}",)).fetchone()
        return int(row[0])

    def _check_env(self, env: str) -> None:
        """Check one env with its lock held (no other worker changes it meanwhile). Another
        worker's kill may have hit this env after our healing command: then an intent of a dead
        process is pending under the lock we hold; a next command (``forge envs`` heals on
        opening the catalog) goes first, and the check starts again."""
        lock = self.home / "locks" / f"env-{env}.lock"
        for _attempt in range(20):
            if not lock.exists():
                return
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self._pending(env):
                    found = None
                else:
                    view = catalog_view(self.home)
                    if env not in view:
                        return
                    found = env_problems(self.home / "envs" / env, env, view[env], self.modules)
            finally:
                os.close(fd)
            if found is None:
                self._run(["envs"])
                continue
            if found:
                with self.lock:
                    self.broken.extend(found)
            return
        with self.lock:
            self.broken.append(f"env {env}: an intent stayed pending through 20 healing commands")

    def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        while True:
            with self.lock:
                if self.kills >= self.target_kills:
                    return
            args, env = self._command(rng)
            fault = None
            if rng.random() < 0.45:
                point = rng.choice(POINTS[args[0]])
                nth = rng.randint(1, 8) if point in ("link-op", "gc-move") else 1
                fault = f"{point}@{nth}:kill"
            proc = self._run(args, fault)
            if proc.returncode == -9:
                with self.lock:
                    self.kills += 1
                self._run(args)  # the next command: the same again, which heals first
                if env is not None:
                    self._check_env(env)


def _leaked(home: Path) -> tuple[int, list[str]]:
    """Bytes (and what) that nothing uses after gc --grace 0."""
    from forge_store.du import walk

    what: list[str] = []
    total = 0
    with sqlite3.connect(home / "catalog.sqlite3") as db:
        known = {r[0] for r in db.execute("SELECT dir FROM entries")}
        unref = [r[0] for r in db.execute("SELECT dir FROM entries WHERE refcount = 0")]
        intents = db.execute("SELECT count(*) FROM intents").fetchone()[0]
        leases = db.execute("SELECT count(*) FROM leases").fetchone()[0]
    if intents:
        what.append(f"{intents} intents")
    if leases:
        what.append(f"{leases} leases")
    paths = [home / "store" / d for d in unref]
    store = home / "store"
    paths += [p for p in store.iterdir() if not p.name.startswith(".") and p.name not in known]
    for sub in ("trash", "tmp"):
        if (home / sub).is_dir():
            paths += list((home / sub).iterdir())
    for base in (home / "envs",):
        paths += [p for p in base.iterdir() if ".forge-" in p.name]
        paths += list(base.glob("*/.forge-txn-*"))
    for p in paths:
        if os.path.lexists(p):
            size = walk(p).bytes
            total += size
            what.append(f"{p.relative_to(home)} ({size} bytes)")
    return total, what


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--wheels", choices=("auto", "built", "real"), default="auto")
    ap.add_argument("--count", type=int, default=12, help="how many wheels")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the FORGE_HOME (its path is printed)")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="forge-stress-"))
    home = root / "home"
    wheels, modules = _wheels(args.wheels, root / "wheels", args.count)
    stress = Stress(home, wheels, modules, args.kills)
    t0 = time.perf_counter()
    for env in ENV_NAMES[:3]:
        forge(home, "create", env)
    threads = [threading.Thread(target=stress.worker, args=(seed,)) for seed in range(args.procs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loop_time = time.perf_counter() - t0
    final = [forge(home, "gc", "--grace", "0", extra=stress.extra)]
    doctor = forge(home, "doctor", "--help")
    if doctor.returncode == 0:
        final.append(forge(home, "doctor", "--fix", extra=stress.extra))
    view = catalog_view(home)
    broken_after = [
        p for env, linked in view.items() for p in env_problems(home / "envs" / env, env, linked, modules)
    ]
    leaked, what = _leaked(home)
    doc = {
        "procs": args.procs,
        "wheels": f"{len(wheels)} {'real' if not modules else 'built'}",
        "operations": stress.ops,
        "kills": stress.kills,
        "unexpected_errors": len(stress.unexpected),
        "envs_broken_after_next_command": len(stress.broken),
        "envs_broken_at_end": len(broken_after),
        "final_commands_ok": all(p.returncode == 0 for p in final),
        "bytes_leaked": leaked,
        "leaked": what[:20],
        "seconds": round(loop_time, 1),
        "doctor": doctor.returncode == 0,
    }
    for key, value in doc.items():
        print(f"{key:32} {value}")
    for line in (stress.unexpected + stress.broken + broken_after)[:20]:
        print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    if not args.keep:
        from forge_store.seal import remove_tree

        remove_tree(root)
    else:
        print(f"FORGE_HOME kept: {home}")
    bad = doc["unexpected_errors"] or doc["envs_broken_after_next_command"] or broken_after or leaked
    return 1 if bad or not doc["final_commands_ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
