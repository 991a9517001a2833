#!/usr/bin/env python3
"""Run Forge's core checks under every Python minor of docs/compatibility-matrix.json that is here.

For each minor marked ``checked`` (3.10-3.13), found as ``python3.X`` on PATH or under pyenv
(``$PYENV_ROOT``, default ``~/.pyenv``, newest patch release):

1. **forge on X**: a venv of X with Forge installed from a wheel of this checkout (built once), then
   ``scripts/smoke.sh --forge VENV/bin/forge`` (its envs are X too);
2. **envs of X**: ``scripts/smoke.sh --forge FORGE --python X``, with Forge on the interpreter this
   script runs on (its ``forge`` beside it, else ``.venv/bin/forge``).

A missing minor is skipped with one line; any failure makes the exit code 1, with the minor, the check
and the smoke step that failed. Minors run in parallel (``--jobs``, default 2). ``--python 3.12=PATH``
names an interpreter instead of searching; ``--minors 3.10,3.12`` runs only those.

    python scripts/compat_matrix.py [--jobs N] [--minors A,B] [--python X.Y=PATH]... [--matrix FILE]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "scripts" / "smoke.sh"
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass
class Outcome:
    minor: str
    python: str | None = None
    version: str = ""
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None


def probe(python: str) -> str | None:
    """``X.Y.Z`` of the interpreter, or None when it does not run."""
    try:
        proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", out) else None


def find_python(minor: str) -> str | None:
    """An interpreter of ``minor``: ``python3.X`` on PATH that runs it, else pyenv's newest patch."""
    on_path = shutil.which(f"python{minor}")
    if on_path and (probe(on_path) or "").startswith(f"{minor}."):
        return on_path
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    patches = []
    try:
        for candidate in root.glob(f"{minor}.*/bin/python{minor}"):
            tail = candidate.parents[1].name[len(minor) + 1 :]
            if tail.isdigit():
                patches.append((int(tail), candidate))
    except OSError:  # another user's pyenv (PYENV_ROOT inherited): not ours to use
        return None
    for _, candidate in sorted(patches, reverse=True):
        if (probe(str(candidate)) or "").startswith(f"{minor}."):
            return str(candidate)
    return None


def default_forge() -> Path:
    here = Path(sys.executable).parent / "forge"
    return here if here.is_file() else ROOT / ".venv" / "bin" / "forge"


def run_step(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[bool, str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    return proc.returncode == 0, (proc.stdout + proc.stderr)


def smoke_failure(output: str) -> str:
    """The ``smoke: FAILED at step ...`` line of a smoke run and the failed step's output under it
    (else the last lines of the output)."""
    lines = [line for line in output.splitlines() if line.strip()]
    failed = [i for i, line in enumerate(lines) if line.startswith("smoke: FAILED")]
    if not failed:
        return "\n    ".join(lines[-10:] or ["no output"])
    starts = [i for i, line in enumerate(lines) if line.startswith("---- output of step")]
    block = lines[starts[-1] + 1 : failed[-1]][-15:] if starts else []
    return "\n    ".join([lines[failed[-1]], *block])


def _local_state(folder: str, names: list[str]) -> set[str]:
    """What a copy of the checkout leaves out: venvs, build output and caches (the top-level
    ``build``/``dist`` only: ``forge_pip/build`` is a package)."""
    top = Path(folder) == ROOT
    return {
        n
        for n in names
        if n in ("__pycache__", ".git")
        or n.endswith((".egg-info", "_cache"))
        or (top and (n in ("build", "dist") or n.startswith(".venv") or n == "bench"))
    }


def build_wheel(work: Path) -> Path:
    """One wheel of this checkout (built from a copy, so the tree gets no build/ directory)."""
    src = work / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=_local_state)
    out = work / "dist"
    ok, log = run_step(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(src),
        ]
    )
    if not ok:
        raise SystemExit(f"compat-matrix: error: cannot build a wheel of {ROOT}:\n{log[-3000:]}")
    return next(out.glob("forge_runtime-*.whl"))


def check_minor(minor: str, python: str, wheel: Path, forge: Path, work: Path) -> Outcome:
    outcome = Outcome(minor, python, probe(python) or "?")
    start = time.monotonic()
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv = work / f"forge-py{minor}"
    ok, log = run_step([python, "-m", "venv", "--without-pip", str(venv)], clean)
    if ok:  # this interpreter's pip installs into it (no ensurepip: 5 s a minor saved)
        pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q"]
        ok, log = run_step([*pip, "--disable-pip-version-check", str(wheel)], clean)
    if not ok:
        outcome.failures.append(f"forge on {minor}: installing Forge failed: {log.strip().splitlines()[-1:]}")
    else:
        ok, log = run_step(["bash", str(SMOKE), "--forge", str(venv / "bin" / "forge")], clean)
        if not ok:
            outcome.failures.append(f"forge on {minor}: {smoke_failure(log)}")
    ok, log = run_step(["bash", str(SMOKE), "--forge", str(forge), "--python", python], clean)
    if not ok:
        outcome.failures.append(
            f"envs of {minor} from forge on {sys.version.split()[0]}: {smoke_failure(log)}"
        )
    outcome.seconds = time.monotonic() - start
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compat_matrix.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--matrix", type=Path, default=ROOT / "docs" / "compatibility-matrix.json")
    parser.add_argument("--jobs", type=int, default=2, help="minors checked at once (default 2)")
    parser.add_argument("--minors", help="comma-separated minors to check (default: all checked ones)")
    parser.add_argument("--python", action="append", default=[], metavar="X.Y=PATH", help="use PATH for X.Y")
    parser.add_argument("--forge", type=Path, default=None, help="the forge for the 'envs of X' check")
    args = parser.parse_args(argv)

    try:
        matrix = json.loads(args.matrix.read_text())
        minors = [str(p["minor"]) for p in matrix["python"] if p.get("checked")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"compat-matrix: error: {args.matrix}: not a compatibility matrix ({exc})", file=sys.stderr)
        return 2
    if args.minors:
        wanted = [m.strip() for m in args.minors.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in minors]
        if unknown:
            print(f"compat-matrix: error: not checked in the matrix: {', '.join(unknown)}", file=sys.stderr)
            return 2
        minors = wanted
    given: dict[str, str] = {}
    for item in args.python:
        minor, sep, path = item.partition("=")
        if not sep or not path:
            print(f"compat-matrix: error: --python wants X.Y=PATH, not {item!r}", file=sys.stderr)
            return 2
        given[minor] = path
    forge = args.forge or default_forge()
    if not os.access(forge, os.X_OK):
        print(f"compat-matrix: error: no forge at {forge} (use --forge)", file=sys.stderr)
        return 2

    here = sysconfig.get_platform()
    platforms = [p.get("platform") for p in matrix.get("platforms", []) if p.get("checked")]
    note = "checked in the matrix" if here in platforms else "NOT a checked platform of the matrix"
    print(f"compat-matrix: platform {here} ({note}); minors {', '.join(minors)}")

    started = time.monotonic()
    outcomes: list[Outcome] = []
    todo: list[tuple[str, str]] = []
    for minor in minors:
        python = given.get(minor) or find_python(minor)
        if python is None:
            outcomes.append(Outcome(minor, skipped=f"not installed (python{minor} on PATH or pyenv)"))
            print(f"skip {minor}: not installed (no python{minor} on PATH or under pyenv)")
        else:
            todo.append((minor, python))
    failed = False
    if todo:
        with tempfile.TemporaryDirectory(prefix="forge-compat-") as tmp:
            work = Path(tmp)
            wheel = build_wheel(work)
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                futures = [pool.submit(check_minor, m, p, wheel, forge, work) for m, p in todo]
                for future in futures:
                    out = future.result()
                    outcomes.append(out)
                    status = "ok" if not out.failures else "FAILED"
                    print(f"{status} {out.minor} ({out.version}, {out.python}): {out.seconds:.0f}s")
                    for failure in out.failures:
                        print(f"  - {failure}")
                    failed = failed or bool(out.failures)
    checked = sum(1 for o in outcomes if o.skipped is None)
    verdict = "FAILED" if failed else "passed"
    print(
        f"compat-matrix: {verdict}: {checked} minor(s) checked, {len(outcomes) - checked} skipped,"
        f" in {time.monotonic() - started:.0f}s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
