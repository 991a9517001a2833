"""Forge vs uv vs pip, side by side in one run: medians and paired ratios, never single times.

    .venv/bin/python bench/bench.py [--runs 5] [--only create,warm-a,...] [--json out.json]

Measured (whole-process wall time, each run into a fresh env, runs interleaved A/B so drift hits
both sides):
- ``create``: ``forge create`` vs ``uv venv`` vs ``python -m venv --without-pip``.
- ``warm-a`` / ``warm-b``: install the pinned wheels of set A / set B (../shared/bench) into a fresh
  env with everything already local: ``forge install WHEELS`` (store warm; pycs present) vs
  ``uv pip install`` from the same files with a warm uv cache, hardlink mode, without and with
  ``--compile-bytecode`` (uv writes no pycs unless asked: say which is "ready to import").
- ``warm-pip-a``: the same through the pip front ends: ``forge pip install -r set-a.txt`` (store warm)
  vs ``uv pip install`` (cache warm) vs ``pip install`` (its cache warm).
- ``cold-a``: set A into a fresh env from the configured indexes with empty store/caches:
  ``forge pip install`` vs ``uv pip install`` vs ``pip install``.
- ``resolve-a``: resolution only (``--dry-run``) of set-a.in: forge vs uv vs pip.
Also the disk an extra env costs (new inodes and bytes, hardlinks to the store/cache are free).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "bench"
PY = sys.executable


def _run(cmd: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return dt


def _uv() -> str:
    found = shutil.which("uv") or str(Path(PY).parent / "uv")
    if not Path(found).exists():
        subprocess.run([PY, "-m", "pip", "install", "-q", "uv"], check=True)
    return found


def _uv_index_args() -> list[str]:
    """uv does not read pip's configuration: hand it the same indexes and find-links pip uses here,
    so every tool installs from the same files."""
    from forge_pip.config import load_pip_config

    config = load_pip_config("install", os.environ)
    args: list[str] = []
    index = config.get_str("index-url")
    if index:
        args += ["--index-url", index]
    for url in config.get_list("extra-index-url"):
        args += ["--extra-index-url", url]
    for link in config.get_list("find-links"):
        args += ["--find-links", link]
    constraint = config.get_list("constraint")
    for path in constraint:
        args += ["--constraint", path]
    return args


def _forge(*args: str) -> list[str]:
    return [PY, "-m", "forge_pip.cli.forge", *args]


def _wheels(set_name: str, cache: Path) -> list[Path]:
    """The pinned wheels of a set, fetched once with plain pip into a cache dir."""
    pins = SHARED / f"{set_name}.txt"
    dest = cache / f"wheels-{set_name}"
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            PY,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
            "-r",
            str(pins),
        ],
        check=True,
    )
    wanted = {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in pins.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    out = []
    for whl in sorted(dest.glob("*.whl")):
        name = whl.name.split("-")[0].lower().replace("_", "-")
        if name in wanted:
            out.append(whl)
    return out


def _usage(env_path: Path, shared_roots: Sequence[Path]) -> tuple[int, int]:
    """New inodes and bytes an env adds; inodes shared with the store or uv's cache are free."""
    shared: set[int] = set()
    for root in shared_roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                shared.add(os.lstat(os.path.join(dirpath, name)).st_ino)
    seen: set[int] = set()
    size = 0
    for dirpath, dirs, files in os.walk(env_path):
        for name in (*dirs, *files):
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in shared and st.st_ino not in seen:
                seen.add(st.st_ino)
                size += st.st_blocks * 512
    return len(seen), size


class Bench:
    def __init__(self, runs: int, work: Path) -> None:
        self.runs = runs
        self.work = work
        self.results: dict[str, dict[str, object]] = {}

    def compare(self, name: str, contenders: dict[str, Callable[[int], float]], note: str = "") -> None:
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for i in range(self.runs):
            for label, fn in contenders.items():  # interleaved: A B C A B C ...
                times[label].append(fn(i))
        med = {k: statistics.median(v) for k, v in times.items()}
        base = next(iter(contenders))
        ratios = {k: med[k] / med[base] for k in contenders}
        self.results[name] = {"median_s": med, "ratio_to_" + base: ratios, "runs": times, "note": note}
        print(f"\n== {name}{' (' + note + ')' if note else ''}")
        for k in contenders:
            print(f"  {k:<40} median {med[k]:8.3f} s   x{ratios[k]:.2f} of {base}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="create,warm-a,warm-b,warm-pip-a,resolve-a,cold-a")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "forge-bench")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    uv = _uv()
    work = Path(tempfile.mkdtemp(prefix="forge-bench-"))
    home = work / "forge-home"
    env = dict(os.environ, FORGE_HOME=str(home), UV_CACHE_DIR=str(work / "uv-cache"))
    os.environ.update(FORGE_HOME=str(home))
    bench = Bench(args.runs, work)
    print(
        f"python {sys.version.split()[0]};"
        f" {subprocess.run([uv, '--version'], capture_output=True, text=True).stdout.strip()}"
    )
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; runs={args.runs}")

    def fresh(prefix: str, i: int) -> Path:
        return work / f"{prefix}-{i}-{time.monotonic_ns()}"

    if "create" in only:
        bench.compare(
            "create an env",
            {
                "forge create": lambda i: _run(_forge("create", f"c{i}{time.monotonic_ns()}"), env),
                "uv venv": lambda i: _run([uv, "venv", "-q", str(fresh("uv", i))], env),
                "python -m venv --without-pip": lambda i: _run(
                    [PY, "-m", "venv", "--without-pip", str(fresh("v", i))]
                ),
            },
        )

    for set_name, key in (("set-a", "warm-a"), ("set-b", "warm-b")):
        if key not in only:
            continue
        wheels = _wheels(set_name, args.cache)
        names = [str(w) for w in wheels]
        _run(_forge("create", f"warm-{set_name}"), env)
        _run(_forge("install", "-q", "--env", f"warm-{set_name}", *names), env)  # warm the store
        warm_uv = fresh("uvwarm", 0)
        _run([uv, "venv", "-q", str(warm_uv)], env)
        _run([uv, "pip", "install", "-q", "--python", str(warm_uv / "bin/python"), "--no-deps", *names], env)

        def forge_install(i: int, set_name: str = set_name, names: list[str] = names) -> float:
            name = f"w{set_name}{i}{time.monotonic_ns()}"
            t0 = time.perf_counter()
            subprocess.run(_forge("create", "-q", name), env=env, check=True)
            subprocess.run(_forge("install", "-q", "--env", name, *names), env=env, check=True)
            return time.perf_counter() - t0

        def uv_install(i: int, compile_: bool, names: list[str] = names) -> float:
            target = fresh("uvenv", i)
            t0 = time.perf_counter()
            subprocess.run([uv, "venv", "-q", str(target)], env=env, check=True)
            cmd = [
                uv,
                "pip",
                "install",
                "-q",
                "--link-mode",
                "hardlink",
                "--python",
                str(target / "bin/python"),
            ]
            cmd += ["--no-deps", *(["--compile-bytecode"] if compile_ else []), *names]
            subprocess.run(cmd, env=env, check=True)
            return time.perf_counter() - t0

        bench.compare(
            f"warm install {set_name} ({len(wheels)} wheels) into a fresh env, end to end",
            {
                "forge create + install (pycs present)": forge_install,
                "uv venv + pip install hardlink (no pycs)": lambda i: uv_install(i, False),
                "uv ... --compile-bytecode (pycs)": lambda i: uv_install(i, True),
            },
        )
        forge_env = home / "envs" / f"warm-{set_name}"
        f_inodes, f_bytes = _usage(forge_env, [home / "store"])
        u_inodes, u_bytes = _usage(warm_uv, [work / "uv-cache"])
        bench.results[f"disk {set_name}"] = {
            "forge": {"inodes": f_inodes, "bytes": f_bytes},
            "uv_hardlink": {"inodes": u_inodes, "bytes": u_bytes},
        }
        print(
            f"  extra env on disk: forge {f_inodes} inodes {f_bytes / 1e6:.2f} MB;"
            f" uv hardlink {u_inodes} inodes {u_bytes / 1e6:.2f} MB"
        )

    if "warm-pip-a" in only:
        # the pip front ends, warm: resolve set-a.txt's pins and install into a fresh env
        pins = str(SHARED / "set-a.txt")
        _run(_forge("create", "pipwarm"), env)
        _run([PY, "-m", "forge_pip", "install", "-q", "--env", "pipwarm", "-r", pins], env)
        prime = fresh("uvprime", 0)
        _run([uv, "venv", "-q", str(prime)], env)
        _run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(prime / "bin/python"),
                *_uv_index_args(),
                "-r",
                pins,
            ],
            env,
        )

        def forge_pip_warm(i: int) -> float:
            name = f"pw{i}{time.monotonic_ns()}"
            t0 = time.perf_counter()
            subprocess.run(_forge("create", "-q", name), env=env, check=True)
            subprocess.run(
                [PY, "-m", "forge_pip", "install", "-q", "--env", name, "-r", pins], env=env, check=True
            )
            return time.perf_counter() - t0

        def uv_warm(i: int) -> float:
            target = fresh("uvpw", i)
            t0 = time.perf_counter()
            subprocess.run([uv, "venv", "-q", str(target)], env=env, check=True)
            cmd = [uv, "pip", "install", "-q", "--python", str(target / "bin/python"), *_uv_index_args()]
            subprocess.run([*cmd, "-r", pins], env=env, check=True)
            return time.perf_counter() - t0

        def pip_warm(i: int) -> float:
            target = fresh("pippw", i)
            t0 = time.perf_counter()
            subprocess.run([PY, "-m", "venv", "--without-pip", str(target)], check=True)
            cmd = [PY, "-m", "pip", "--python", str(target / "bin/python"), "install", "-q", "-r", pins]
            subprocess.run(cmd, env=env, check=True)
            return time.perf_counter() - t0

        bench.compare(
            "warm install set A through the pip front ends (resolve pins + install), fresh env",
            {
                "forge pip (pycs)": forge_pip_warm,
                "uv pip hardlink (no pycs)": uv_warm,
                "pip (pycs)": pip_warm,
            },
        )

    if "resolve-a" in only or "cold-a" in only:
        req = str(SHARED / "set-a.in")
        target = fresh("resolve", 0)
        _run([PY, "-m", "venv", "--without-pip", str(target)])
        tpy = str(target / "bin/python")
        if "resolve-a" in only:
            bench.compare(
                "resolve set-a.in (dry run)",
                {
                    "forge pip install --dry-run": lambda i: _run(
                        [PY, "-m", "forge_pip", "--python", tpy, "install", "-q", "--dry-run", "-r", req], env
                    ),
                    "uv pip install --dry-run": lambda i: _run(
                        [
                            uv,
                            "pip",
                            "install",
                            "-q",
                            "--dry-run",
                            "--python",
                            tpy,
                            *_uv_index_args(),
                            "-r",
                            req,
                        ],
                        env,
                    ),
                    "pip install --dry-run": lambda i: _run(
                        [PY, "-m", "pip", "--python", tpy, "install", "-q", "--dry-run", "-r", req], env
                    ),
                },
            )
        if "cold-a" in only:

            def cold(i: int, tool: str) -> float:
                scratch = fresh(f"cold-{tool}", i)
                cenv = dict(env, FORGE_HOME=str(scratch / "home"), UV_CACHE_DIR=str(scratch / "uvc"))
                _run([PY, "-m", "venv", "--without-pip", str(scratch / "v")])
                vpy = str(scratch / "v/bin/python")
                if tool == "forge":
                    cmd = [PY, "-m", "forge_pip", "--python", vpy, "install", "-q", "-r", req]
                elif tool == "uv":
                    cmd = [uv, "pip", "install", "-q", "--python", vpy, *_uv_index_args(), "-r", req]
                else:
                    cmd = [PY, "-m", "pip", "--python", vpy, "install", "-q", "--no-cache-dir", "-r", req]
                dt = _run(cmd, cenv)
                from forge_store.seal import remove_tree

                remove_tree(scratch)
                return dt

            bench.compare(
                "cold install set A (empty store and caches)",
                {
                    "forge": lambda i: cold(i, "forge"),
                    "uv": lambda i: cold(i, "uv"),
                    "pip": lambda i: cold(i, "pip"),
                },
                note="forge compiles pycs; uv does not; pip does",
            )

    if args.json:
        args.json.write_text(json.dumps(bench.results, indent=1))
    from forge_store.seal import remove_tree

    remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
