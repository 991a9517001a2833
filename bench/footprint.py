"""Rows of ``bench/bench.py`` about what envs cost after they exist: disk and inodes of ten envs,
and import time right after install.

- ``disk-10``: ten envs of set A's pins, made one after another (warm) by each tool, timed as a
  row (medians over the ten), then counted: the new inodes and bytes the ten envs hold themselves
  (inodes shared with the tool's store or cache are free: ``bench.usage``) and the
  tool's own directory beside them (Forge's home without its envs, uv's cache, pip's cache),
  each tool with its own empty home and cache, so that nothing but set A is counted. Forge links
  into its store, uv hardlinks files from its cache, pip copies.
- ``import-a``: ``python -c "import numpy, pandas, ..."`` (set A's top-level modules) in an env
  nothing has imported from yet, then a second time: Forge env vs uv venv vs pip venv. This runs
  with ``PYTHONDONTWRITEBYTECODE`` unset (Python's default, which this machine overrides), so an
  env installed without pycs (uv) pays for compiling on its first import and writes them then;
  the row's pycs column says whether the env had pycs right after install. Matplotlib's font
  cache is built once beforehand in a shared ``MPLCONFIGDIR``, so no contender pays for it.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench import Bench, Sample

ROWS = ("disk-10", "import-a")
IMPORTS = "numpy, pandas, scipy, sklearn, matplotlib, requests, ipykernel, seaborn"
"""Set A's top-level modules (set-a.in's projects by their import names)."""
TOOLS = ("forge", "uv", "pip")
EXTRA_ENV_INODES = 250
EXTRA_ENV_BYTES = 500_000
"""DESIGN.md §7: an extra env of set A costs under 250 inodes and 0.5 MB."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What the rows need from ``bench.main``: the interpreter, uv and its sources, the base
    environment of every command, the scratch directory and the pins file."""

    py: str
    uv: str
    uv_src: Sequence[str]
    env: dict[str, str]
    work: Path
    pins: Path


class Envs:
    """Envs of set A made by each tool, in homes and caches of their own; made on demand, each
    used by at most one import run so that its first import is the first."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        root = ctx.work / "footprint"
        self.home = root / "forge-home"
        self.uv_cache = root / "uv-cache"
        self.pip_cache = root / "pip-cache"
        self.root = root
        self.env = dict(
            ctx.env,
            FORGE_HOME=str(self.home),
            UV_CACHE_DIR=str(self.uv_cache),
            PIP_CACHE_DIR=str(self.pip_cache),
        )
        self.made: dict[str, list[Path]] = {tool: [] for tool in TOOLS}
        self.primed = False

    def _make(self, tool: str, label: str) -> tuple[Sample, Path]:
        from bench import _forge, _run

        ctx, pins = self.ctx, str(self.ctx.pins)
        if tool == "forge":  # the console script, as bench.py's Forge rows run it
            sample = _run(_forge("create", "-q", label, "-r", pins), self.env)
            return sample, self.home / "envs" / label
        target = self.root / label
        if tool == "uv":
            sample = _run([ctx.uv, "venv", "-q", str(target)], self.env)
            cmd = [ctx.uv, "pip", "install", "-q", "--link-mode", "hardlink", "--python"]
            sample += _run([*cmd, str(target / "bin/python"), *ctx.uv_src, "-r", pins], self.env)
        else:
            sample = _run([ctx.py, "-m", "venv", "--without-pip", str(target)], self.env)
            cmd = [ctx.py, "-m", "pip", "--python", str(target / "bin/python"), "install", "-q"]
            sample += _run([*cmd, "-r", pins], self.env)
        return sample, target

    def prime(self) -> None:
        """Fill the store and both caches (one env each, not counted as one of the envs)."""
        if not self.primed:
            self.primed = True
            for tool in TOOLS:
                self._make(tool, f"{tool}-prime")

    def make(self, tool: str) -> Sample:
        """One more env of ``tool``: its time, peak RSS and whether it has pycs."""
        from bench import has_pycs

        self.prime()
        sample, path = self._make(tool, f"{tool}-{len(self.made[tool])}")
        self.made[tool].append(path)
        return dataclasses.replace(sample, pycs=has_pycs(path))

    def maker(self, tool: str) -> Callable[[int], Sample]:
        return lambda _i: self.make(tool)

    def at_least(self, count: int) -> None:
        for tool in TOOLS:
            while len(self.made[tool]) < count:
                self.make(tool)

    def disk(self) -> dict[str, dict[str, int]]:
        """Per tool: the envs' own inodes and bytes, the tool's directory beside them, the total."""
        own = {
            "forge": [p for p in self.home.iterdir() if p.name != "envs"] if self.home.is_dir() else [],
            "uv": [self.uv_cache],
            "pip": [self.pip_cache] if self.pip_cache.is_dir() else [],
        }
        from bench import usage

        out: dict[str, dict[str, int]] = {}
        for tool in TOOLS:
            env_inodes, env_bytes = usage(self.made[tool], own[tool])
            tool_inodes, tool_bytes = usage(own[tool], [])
            out[tool] = {
                "envs": len(self.made[tool]),
                "env_inodes": env_inodes,
                "env_bytes": env_bytes,
                "shared_inodes": tool_inodes,
                "shared_bytes": tool_bytes,
                "total_inodes": env_inodes + tool_inodes,
                "total_bytes": env_bytes + tool_bytes,
            }
        return out


LABELS = {
    "forge": "forge create NAME -r set-a.txt",
    "uv": "uv venv + uv pip install -r (hardlink)",
    "pip": "python -m venv + pip install -r",
}


def run(bench: Bench, only: set[str], ctx: Context, count: int) -> None:
    """The rows of this module that ``only`` names, into ``bench.results``."""
    envs = Envs(ctx)
    if "disk-10" in only:
        runs, bench.runs = bench.runs, count
        try:
            contenders = {LABELS[tool]: envs.maker(tool) for tool in TOOLS}
            bench.compare(
                f"make {count} envs of set A's pins, one after another (warm)", contenders, key="disk-10"
            )
        finally:
            bench.runs = runs
        figures = envs.disk()
        title = f"disk and inodes for {count} envs of set A"
        bench.results[title] = {"row": "disk-10", "kind": "disk", **figures}
        for tool, fig in figures.items():
            print(
                f"  {count} {tool} envs: {fig['env_inodes']} inodes {fig['env_bytes'] / 1e6:.1f} MB"
                f" of their own, + {tool}'s store/cache {fig['shared_inodes']} inodes"
                f" {fig['shared_bytes'] / 1e6:.1f} MB"
            )
        forge = figures["forge"]
        inodes, size = forge["env_inodes"] / count, forge["env_bytes"] / count
        met = inodes < EXTRA_ENV_INODES and size < EXTRA_ENV_BYTES
        text = (
            f"forge: {inodes:.0f} inodes and {size / 1e6:.2f} MB per env (target < {EXTRA_ENV_INODES}"
            f" inodes and {EXTRA_ENV_BYTES / 1e6:g} MB: DESIGN.md §7)"
        )
        print(f"  target {'met' if met else 'NOT met'}: {text}")
        bench.verdicts.append((title, text, met, "DESIGN.md §7"))
    if "import-a" in only:
        envs.at_least(bench.runs)
        mpl = ctx.work / "mplconfig"
        env = {k: v for k, v in envs.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["MPLCONFIGDIR"] = str(mpl)
        py_of = {tool: [p / "bin" / "python" for p in envs.made[tool]] for tool in TOOLS}
        code = ["-c", f"import {IMPORTS}"]
        from bench import Target, _run, has_pycs

        # matplotlib's font cache, once, from an env none of the runs uses
        prime_env = envs.home / "envs" / "forge-prime" / "bin" / "python"
        _run([str(prime_env), *code], env)

        def first(tool: str) -> Callable[[int], Sample]:
            def go(i: int) -> Sample:
                pycs = has_pycs(py_of[tool][i].parents[1])
                return dataclasses.replace(_run([str(py_of[tool][i]), *code], env), pycs=pycs)

            return go

        def second(tool: str) -> Callable[[int], Sample]:
            return lambda i: _run([str(py_of[tool][i]), *code], env)

        imports: dict[str, Callable[[int], Sample]] = {}
        for tool in TOOLS:
            imports[f"{tool} env: first import after install"] = first(tool)
            imports[f"{tool} env: second import"] = second(tool)
        bench.compare(
            f"import {IMPORTS} (set A)",
            imports,
            note="PYTHONDONTWRITEBYTECODE unset; pycs: the env's, right after install",
            targets=[
                Target(
                    "forge env: first import after install",
                    "pip env: first import after install",
                    1.05,
                    "DESIGN.md §7: imports as fast as in a pip venv (5% for noise)",
                )
            ],
            key="import-a",
        )
    shutil.rmtree(ctx.work / "mplconfig", ignore_errors=True)
