"""Forge vs uv vs pip, side by side in one run: medians, paired ratios, peak RSS, pycs, targets.

    .venv/bin/python bench/bench.py [--runs 3] [--only resolve-a,warm-pip-a,...] [--json out.json]
                                    [--without-pip]

Every row is whole-process wall time, each run into a fresh env, runs interleaved (A B C A B C)
so that drift hits every contender; the first contender of a row is the base of its ratios. For
each contender the row also gives the peak RSS (``ru_maxrss`` of the largest process of its tree
that was waited for, from ``os.wait4`` or GNU ``time``) and whether the env it made holds pycs for the
interpreter ("ready to import"; uv writes none unless ``--compile-bytecode``). The RSS comes
from GNU ``time`` where it exists (``ru_maxrss`` survives ``execve``: a child forked from the
bench would start at the bench's own size).

uv gets the sources pip's configuration gives Forge (index URL, extra indexes, find-links,
constraints: :func:`_uv_index_args`) and ``--index-strategy unsafe-best-match``, pip's semantics
across several indexes (uv's default stops at the first index that has a project, which is
faster and answers another question).

Rows (``--only`` keys):
- ``create``: ``forge create`` vs ``uv venv`` vs ``python -m venv --without-pip``.
- ``create-r``: ``forge create NAME -r set-a.txt`` (one process) vs ``forge create`` then
  ``forge pip install -r`` vs ``uv venv`` then ``uv pip install -r`` (warm store / cache).
- ``resolve-a``: warm ``--dry-run -r set-a.in`` into an empty venv: forge pip vs uv pip vs pip.
- ``offline-a``: the same with ``--offline`` (forge vs uv; pip has no offline mode).
- ``warm-pip-a``: install ``set-a.in`` into a fresh env through each pip front end (warm);
  ``warm-pins-a``: the same for the pins of ``set-a.txt`` (Forge's pinned fast path);
  ``warm-offline-a``: ``set-a.in`` with ``--offline`` (forge vs uv).
- ``warm-a`` / ``warm-b``: the wheel files of set A / set B into a fresh env (``forge install
  WHEELS`` vs ``uv pip install`` hardlink, without and with ``--compile-bytecode``), and the disk
  an extra env costs; ``warm-pip-b``: set B's pins through the pip front ends.
- ``cold-a`` / ``cold-b``: set A / set B from the configured indexes with empty store and caches:
  forge (pycs) vs uv ``--compile-bytecode`` (ready to import) vs uv (no pycs) vs pip (pycs).
- ``disk-10``, ``import-a`` (``bench/footprint.py``): ten envs of set A per tool, timed, then their
  disk and inodes; import time of set A right after install, the first import and the second.
- ``node-b-dir``, ``node-b-http``, ``node-b-stack``, ``node-b-index``, ``node-b-uv``: a fresh env
  of set B on a second node from node A's upstream (directory / HTTP; ``--parent team:setb`` on
  its published stack), from the indexes, vs uv with a shared cache (``bench/nodes.py``).
- ``startup``: ``forge --version``, ``python -m forge_pip --version``, an env's ``bin/pip
  --version`` vs ``uv --version`` and ``pip --version``.

Targets (issue #10 and DESIGN.md §7) are checked at the end: met / NOT met. The Forge under test
is this checkout installed as users install it (``scripts/install.sh``): its wheel, built first,
in a venv of its own, with pycs (pip compiles at install; so does pipx; ``uv tool install`` only
with ``--compile-bytecode``, which docs/install.md asks for). Forge's rows run that venv's ``forge``
console script and ``python -m forge_pip``, the entry points users run. ``--editable`` runs the
checkout from the bench's own venv instead (compiled first: this machine exports
``PYTHONDONTWRITEBYTECODE=1``), whose editable finder and ``.pth`` files every process pays for.
A cold run's trees are deleted and synced (``os.sync``) before the next run starts, so that no
contender's timed run pays for the writeback of another's deletion; and every timed run starts
after an ``os.sync`` (untimed), so that none pays for the writeback of the run before it (a warm
pip install leaves up to ~1 GB dirty, which the kernel wrote back during the next contender's
run: Forge's warm installs that followed pip's took 0.46-0.49 s, and 0.33 s after a sync).
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import footprint

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "bench"
PY = sys.executable
ALL = (
    "startup,create,create-r,resolve-a,offline-a,warm-pip-a,warm-pins-a,warm-offline-a,"
    "warm-a,warm-b,warm-pip-b,cold-a,cold-b,disk-10,import-a,node-b-dir,node-b-http,node-b-stack,"
    "node-b-index,node-b-uv"
)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One run of one contender."""

    seconds: float
    rss_mb: float
    """Peak RSS of the largest process of the run (MB)."""
    pycs: bool | None = None
    """Whether the env it made has pycs for this interpreter (None: no env, or not asked)."""

    def __add__(self, other: Sample) -> Sample:
        pycs = other.pycs if other.pycs is not None else self.pycs
        return Sample(self.seconds + other.seconds, max(self.rss_mb, other.rss_mb), pycs)


@dataclasses.dataclass(frozen=True)
class Target:
    """``row``'s ``contender`` must take at most ``limit`` times ``base``'s median."""

    contender: str
    base: str
    limit: float
    why: str


TIME = Path("/usr/bin/time")
"""GNU time: Linux keeps ``ru_maxrss`` across ``execve``, so a child forked from this Python
starts at the bench's own RSS; forked from ``time`` it starts near zero."""


def _run(cmd: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> Sample:
    """Run one command (output to scratch files) and measure its wall time and peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile() as rss,
    ):
        wrapped = [str(TIME), "-q", "-f", "%M", "-o", rss.name, *cmd] if TIME.exists() else list(cmd)
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if check and proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
        text = Path(rss.name).read_text().strip().splitlines() if TIME.exists() else []
        kilobytes = int(text[-1]) if text and text[-1].isdigit() else usage.ru_maxrss
    return Sample(dt, kilobytes / 1024)


def _site(prefix: Path) -> Path:
    return prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def has_pycs(prefix: Path) -> bool:
    """Whether the packages in an env (through its links) have pycs for this interpreter: every
    top-level package directory with an ``__init__.py`` is looked at."""
    from forge_store.pip_frontend import front_end_version

    tag = sys.implementation.cache_tag
    site = _site(prefix)
    seen = 0
    for child in sorted(site.iterdir()) if site.is_dir() else ():
        init = child / "__init__.py"
        if child.name.startswith(("_", ".")) or not init.is_file():
            continue
        if child.name == "pip" and front_end_version(site) is not None:
            continue  # a Forge env's pip: Forge's front-end shim, not an installed dist
        seen += 1
        if not (child / "__pycache__" / f"__init__.{tag}.pyc").exists():
            return False
    return seen > 0


def _uv() -> str:
    found = shutil.which("uv") or str(Path(PY).parent / "uv")
    if not Path(found).exists():
        subprocess.run([PY, "-m", "pip", "install", "-q", "uv"], check=True)
    return found


def _uv_index_args() -> list[str]:
    """uv does not read pip's configuration: hand it the sources pip's configuration gives Forge
    (pip's default index when none is set), and pip's semantics across several indexes."""
    from forge_pip.config import load_pip_config
    from forge_pip.install import DEFAULT_INDEX

    config = load_pip_config("install", os.environ)
    args = ["--index-strategy", "unsafe-best-match"]
    if not config.get_bool("no-index"):
        args += ["--index-url", config.get_str("index-url") or DEFAULT_INDEX]
        for url in config.get_list("extra-index-url"):
            args += ["--extra-index-url", url]
    for link in config.get_list("find-links"):
        args += ["--find-links", link]
    for path in config.get_list("constraint"):
        args += ["--constraint", path]
    return args


FORGE_PY = PY
"""The interpreter of the Forge under test: a tool venv with this checkout installed from a wheel
(:func:`install_forge`), as ``scripts/install.sh`` installs it; the bench's own with ``--editable``."""


def install_forge(work: Path) -> str:
    """Build this checkout's wheel and install it (with its dependencies, from the configured
    sources) into a venv of its own: what users run. An editable install in the bench's venv would
    add its import finder (and setuptools' ``.pth``) to every Forge process's start-up; pip
    compiles the tool's modules at install, as ``scripts/install.sh`` and pipx do."""
    dist, tool = work / "forge-dist", work / "forge-tool"

    def run(*cmd: str) -> None:
        subprocess.run(cmd, capture_output=True, check=True)

    run(PY, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO))
    run(PY, "-m", "venv", str(tool))
    (wheel,) = dist.glob("forge_runtime-*.whl")
    run(str(tool / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel))
    return str(tool / "bin" / "python")


def _check_under_test(python: str, tool: Path) -> None:
    """Stop unless ``python -m forge_pip``, run where the contenders run, imports the tool venv's
    Forge, with its pycs: the bench measures what users install, not a checkout on the path."""
    code = "import forge_pip; print(forge_pip.__file__, forge_pip.__spec__.cached)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    where, cached = out.split()
    if not Path(where).is_relative_to(tool) or not Path(cached).is_file():
        raise SystemExit(f"the Forge under test is not the tool venv's compiled one: {where} ({cached})")


def _forge(*args: str) -> list[str]:
    """The ``forge`` console script of the Forge under test, as users run it (its entry point,
    ``forge_store.isolation:forge_main``, answers ``--version`` before any parser is built)."""
    script = Path(FORGE_PY).parent / "forge"
    if script.is_file():
        return [str(script), *args]
    main = "import sys; from forge_store.isolation import forge_main; sys.exit(forge_main())"
    return [FORGE_PY, "-c", main, *args]


def _front(*args: str) -> list[str]:
    return [FORGE_PY, "-m", "forge_pip", *args]


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
    return [w for w in sorted(dest.glob("*.whl")) if w.name.split("-")[0].lower().replace("_", "-") in wanted]


def below(root: Path) -> Iterator[os.stat_result]:
    """``lstat`` of everything under ``root`` (of ``root`` itself when it is not a directory)."""
    if not root.is_dir() or root.is_symlink():
        if os.path.lexists(root):
            yield os.lstat(root)
        return
    for dirpath, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            yield os.lstat(os.path.join(dirpath, name))


def usage(roots: Sequence[Path], shared_roots: Sequence[Path]) -> tuple[int, int]:
    """New inodes and bytes (allocated blocks) under ``roots``, each inode once; inodes shared
    with ``shared_roots`` (the store, uv's cache) are free."""
    shared = {st.st_ino for root in shared_roots for st in below(root)}
    seen: set[int] = set()
    size = 0
    for st in (st for root in roots for st in below(root)):
        if st.st_ino not in shared and st.st_ino not in seen:
            seen.add(st.st_ino)
            size += st.st_blocks * 512
    return len(seen), size


def _usage(env_path: Path, shared_roots: Sequence[Path]) -> tuple[int, int]:
    """New inodes and bytes one env adds (:func:`usage` of one root)."""
    return usage([env_path], shared_roots)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


class Bench:
    def __init__(self, runs: int, work: Path) -> None:
        self.runs = runs
        self.work = work
        self.results: dict[str, dict[str, object]] = {}
        self.verdicts: list[tuple[str, str, bool, str]] = []

    def compare(
        self,
        name: str,
        contenders: dict[str, Callable[[int], Sample]],
        note: str = "",
        targets: Sequence[Target] = (),
        key: str = "",
    ) -> None:
        """Run ``contenders`` interleaved; ``key`` is the row's ``--only`` name (for the report)."""
        samples: dict[str, list[Sample]] = {k: [] for k in contenders}
        for i in range(self.runs):
            for label, fn in contenders.items():  # interleaved: A B C A B C ...
                os.sync()  # untimed: the previous run's writes are on disk before this one starts
                samples[label].append(fn(i))
        med = {k: statistics.median(s.seconds for s in v) for k, v in samples.items()}
        rss = {k: max(s.rss_mb for s in v) for k, v in samples.items()}
        pycs = {k: v[-1].pycs for k, v in samples.items()}
        base = next(iter(contenders))
        ratios = {k: med[k] / med[base] for k in contenders}
        print(f"\n== {name}{' (' + note + ')' if note else ''}   [{_load()}]")
        for k in contenders:
            shown = "" if pycs[k] is None else ("  pycs: yes" if pycs[k] else "  pycs: NO")
            print(
                f"  {k:<44} median {med[k]:8.3f} s   x{ratios[k]:6.2f} of {base:<14.14}"
                f"  peak RSS {rss[k]:7.1f} MB{shown}"
            )
        verdicts = []
        for t in targets:
            ratio = med[t.contender] / med[t.base]
            met = ratio <= t.limit
            text = f"{t.contender} / {t.base} = {ratio:.2f} (target <= {t.limit:g}: {t.why})"
            print(f"  target {'met' if met else 'NOT met'}: {text}")
            self.verdicts.append((name, text, met, t.why))
            verdicts.append({"text": text, "met": met})
        self.results[name] = {
            "row": key,
            "median_s": med,
            "ratio_to_" + base: ratios,
            "peak_rss_mb": rss,
            "pycs": pycs,
            "runs_s": {k: [s.seconds for s in v] for k, v in samples.items()},
            "note": note,
            "targets": verdicts,
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=ALL, help=f"comma-separated rows (default: all: {ALL})")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "forge-bench")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--envs", type=int, default=10, help="envs per tool for disk-10 (default 10)")
    parser.add_argument(
        "--editable",
        action="store_true",
        help="run the checkout in the bench's venv instead of a tool venv installed from its wheel",
    )
    parser.add_argument(
        "--without-pip",
        action="store_true",
        help="leave plain pip out of the resolve and warm front-end rows (minutes per run on a busy machine)",
    )
    args = parser.parse_args(argv)
    args.cache, args.json = args.cache.resolve(), args.json.resolve() if args.json else None
    only = set(args.only.split(","))
    unknown = only - set(ALL.split(","))
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))} (known: {ALL})")
    uv = _uv()
    work = Path(tempfile.mkdtemp(prefix="forge-bench-"))
    # Every contender runs from the scratch directory, as a user runs it from a project of theirs:
    # from this checkout, ``python -m forge_pip`` would import the checkout (the current directory
    # comes first on ``sys.path``), not the Forge under test, and compile it anew on each run.
    os.chdir(work)
    global FORGE_PY
    if args.editable:
        for package in ("forge_pip", "forge_store"):  # what a wheel install of Forge would have
            compileall.compile_dir(str(REPO / package), quiet=1)
    else:
        FORGE_PY = install_forge(work)
        _check_under_test(FORGE_PY, work / "forge-tool")
    home = work / "forge-home"
    env = dict(os.environ, FORGE_HOME=str(home), UV_CACHE_DIR=str(work / "uv-cache"))
    env.pop("VIRTUAL_ENV", None)
    os.environ.update(FORGE_HOME=str(home))
    bench = Bench(args.runs, work)
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    pip_version = subprocess.run(
        [PY, "-m", "pip", "--version"], capture_output=True, text=True
    ).stdout.split()[1]
    print(f"python {sys.version.split()[0]}; {uv_version}; pip {pip_version}; {_load()}")
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; runs={args.runs}")
    print(f"uv sources: {' '.join(_uv_index_args())}")
    uv_src = _uv_index_args()
    set_a_in, set_a_txt = str(SHARED / "set-a.in"), str(SHARED / "set-a.txt")
    set_b_txt = str(SHARED / "set-b.txt")

    def fresh(prefix: str, i: int) -> Path:
        return work / f"{prefix}-{i}-{time.monotonic_ns()}"

    def name(prefix: str, i: int) -> str:
        return f"{prefix}{i}x{time.monotonic_ns()}"

    def venv(path: Path) -> Sample:
        return _run([PY, "-m", "venv", "--without-pip", str(path)])

    def forge_env(env_name: str) -> Path:
        return home / "envs" / env_name

    primed: set[tuple[str, bool]] = set()

    def prime(req: str, *, pip: bool = True) -> None:
        """Warm Forge's store and caches, uv's cache and (``pip``) pip's cache for ``req`` (once)."""
        if (req, pip) in primed or (req, True) in primed:
            return
        if (req, False) in primed:  # Forge and uv are warm already
            primed.add((req, True))
            target = fresh("pipprime", 0)
            venv(target)
            _run([PY, "-m", "pip", "--python", str(target / "bin/python"), "install", "-q", "-r", req], env)
            return
        primed.add((req, pip))
        tag = Path(req).name.replace(".", "-")
        _run(_forge("create", "-q", f"prime-{tag}"), env)
        _run(_front("install", "-q", "--env", f"prime-{tag}", "-r", req), env)
        target = fresh(f"uvprime-{tag}", 0)
        _run([uv, "venv", "-q", str(target)], env)
        _run([uv, "pip", "install", "-q", "--python", str(target / "bin/python"), *uv_src, "-r", req], env)
        if pip:
            target = fresh(f"pipprime-{tag}", 0)
            venv(target)
            _run([PY, "-m", "pip", "--python", str(target / "bin/python"), "install", "-q", "-r", req], env)

    if "startup" in only:
        _run(_forge("create", "-q", "startup"), env)
        env_pip = str(forge_env("startup") / "bin" / "pip")
        bench.compare(
            "start-up: --version",
            {
                "forge --version": lambda i: _run(_forge("--version"), env),
                "python -m forge_pip --version": lambda i: _run(_front("--version"), env),
                "ENV/bin/pip --version (Forge's)": lambda i: _run([env_pip, "--version"], env),
                "uv --version": lambda i: _run([uv, "--version"], env),
                "pip --version": lambda i: _run([PY, "-m", "pip", "--version"], env),
            },
            key="startup",
        )

    if "create" in only:
        bench.compare(
            "create an env",
            {
                "forge create": lambda i: _run(_forge("create", "-q", name("c", i)), env),
                "uv venv": lambda i: _run([uv, "venv", "-q", str(fresh("uv", i))], env),
                "python -m venv --without-pip": lambda i: venv(fresh("v", i)),
            },
            targets=[Target("forge create", "uv venv", 1.5, "DESIGN.md §7: within 1.5x of uv venv")],
            key="create",
        )

    if "create-r" in only:
        prime(set_a_txt, pip=False)

        def forge_create_r(i: int) -> Sample:
            env_name = name("cr", i)
            s = _run(_forge("create", "-q", env_name, "-r", set_a_txt), env)
            return dataclasses.replace(s, pycs=has_pycs(forge_env(env_name)))

        def forge_two(i: int) -> Sample:
            env_name = name("ct", i)
            s = _run(_forge("create", "-q", env_name), env)
            s += _run(_front("install", "-q", "--env", env_name, "-r", set_a_txt), env)
            return dataclasses.replace(s, pycs=has_pycs(forge_env(env_name)))

        def uv_two(i: int) -> Sample:
            target = fresh("uvcr", i)
            s = _run([uv, "venv", "-q", str(target)], env)
            s += _run(
                [
                    uv,
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    str(target / "bin/python"),
                    *uv_src,
                    "-r",
                    set_a_txt,
                ],
                env,
            )
            return dataclasses.replace(s, pycs=has_pycs(target))

        bench.compare(
            "create an env with set A's pins (warm)",
            {
                "forge create NAME -r set-a.txt": forge_create_r,
                "forge create + forge pip install -r": forge_two,
                "uv venv + uv pip install -r (no pycs)": uv_two,
            },
            key="create-r",
        )

    if "resolve-a" in only or "offline-a" in only:
        prime(set_a_in, pip="resolve-a" in only and not args.without_pip)
        target = fresh("resolve", 0)
        venv(target)
        tpy = str(target / "bin/python")
        if "resolve-a" in only:
            bench.compare(
                "resolve set-a.in (warm --dry-run, configured indexes)",
                {
                    "forge pip install --dry-run": lambda i: _run(
                        _front("--python", tpy, "install", "-q", "--dry-run", "-r", set_a_in), env
                    ),
                    "uv pip install --dry-run": lambda i: _run(
                        [uv, "pip", "install", "-q", "--dry-run", "--python", tpy, *uv_src, "-r", set_a_in],
                        env,
                    ),
                    **(
                        {}
                        if args.without_pip
                        else {
                            "pip install --dry-run": lambda i: _run(
                                [
                                    PY,
                                    "-m",
                                    "pip",
                                    "--python",
                                    tpy,
                                    "install",
                                    "-q",
                                    "--dry-run",
                                    "-r",
                                    set_a_in,
                                ],
                                env,
                            )
                        }
                    ),
                },
                targets=[
                    Target(
                        "forge pip install --dry-run",
                        "uv pip install --dry-run",
                        2.0,
                        "issue #10: warm dry-run",
                    )
                ],
                key="resolve-a",
            )
        if "offline-a" in only:
            bench.compare(
                "resolve set-a.in --offline (warm --dry-run)",
                {
                    "forge pip install --offline --dry-run": lambda i: _run(
                        _front("--python", tpy, "install", "-q", "--offline", "--dry-run", "-r", set_a_in),
                        env,
                    ),
                    "uv pip install --offline --dry-run": lambda i: _run(
                        [
                            uv,
                            "pip",
                            "install",
                            "-q",
                            "--offline",
                            "--dry-run",
                            "--python",
                            tpy,
                            *uv_src,
                            "-r",
                            set_a_in,
                        ],
                        env,
                    ),
                },
                note="pip has no offline mode",
                targets=[
                    Target(
                        "forge pip install --offline --dry-run",
                        "uv pip install --offline --dry-run",
                        2.0,
                        "issue #10: offline dry-run",
                    )
                ],
                key="offline-a",
            )

    def front_ends(
        req: str, *, offline: bool = False, with_pip: bool = True
    ) -> dict[str, Callable[[int], Sample]]:
        flag = ["--offline"] if offline else []

        def forge_pip(i: int) -> Sample:
            env_name = name("pw", i)
            s = _run(_forge("create", "-q", env_name), env)
            s += _run(_front("install", "-q", *flag, "--env", env_name, "-r", req), env)
            return dataclasses.replace(s, pycs=has_pycs(forge_env(env_name)))

        def uv_pip(i: int) -> Sample:
            target = fresh("uvpw", i)
            s = _run([uv, "venv", "-q", str(target)], env)
            cmd = [
                uv,
                "pip",
                "install",
                "-q",
                *flag,
                "--python",
                str(target / "bin/python"),
                *uv_src,
                "-r",
                req,
            ]
            s += _run(cmd, env)
            return dataclasses.replace(s, pycs=has_pycs(target))

        def pip(i: int) -> Sample:
            target = fresh("pippw", i)
            s = venv(target)
            s += _run(
                [PY, "-m", "pip", "--python", str(target / "bin/python"), "install", "-q", "-r", req], env
            )
            return dataclasses.replace(s, pycs=has_pycs(target))

        out: dict[str, Callable[[int], Sample]] = {"forge pip": forge_pip, "uv pip (hardlink)": uv_pip}
        if with_pip:
            out["pip"] = pip
        return out

    front_target = [
        Target("forge pip", "uv pip (hardlink)", 0.5, "issue #10: warm install via the front end")
    ]
    for key, req, title, offline in (
        ("warm-pip-a", set_a_in, "warm install set-a.in into a fresh env through the pip front ends", False),
        (
            "warm-pins-a",
            set_a_txt,
            "warm install set-a.txt (pins) into a fresh env through the pip front ends",
            False,
        ),
        ("warm-offline-a", set_a_in, "warm install set-a.in --offline into a fresh env", True),
    ):
        if key in only:
            with_pip = not offline and not args.without_pip
            prime(req, pip=with_pip)
            bench.compare(
                title,
                front_ends(req, offline=offline, with_pip=with_pip),
                note="env creation included; pip has no offline mode" if offline else "env creation included",
                targets=front_target,
                key=key,
            )

    for set_name, key in (("set-a", "warm-a"), ("set-b", "warm-b")):
        if key not in only:
            continue
        wheels = _wheels(set_name, args.cache)
        names = [str(w) for w in wheels]
        _run(_forge("create", "-q", f"warm-{set_name}"), env)
        _run(_forge("install", "-q", "--env", f"warm-{set_name}", *names), env)  # warm the store
        warm_uv = fresh("uvwarm", 0)
        _run([uv, "venv", "-q", str(warm_uv)], env)
        _run([uv, "pip", "install", "-q", "--python", str(warm_uv / "bin/python"), "--no-deps", *names], env)

        def forge_install(i: int, names: list[str] = names) -> Sample:
            env_name = name("w", i)
            s = _run(_forge("create", "-q", env_name), env)
            s += _run(_forge("install", "-q", "--env", env_name, *names), env)
            return dataclasses.replace(s, pycs=has_pycs(forge_env(env_name)))

        def uv_install(i: int, compile_: bool, names: list[str] = names) -> Sample:
            target = fresh("uvenv", i)
            s = _run([uv, "venv", "-q", str(target)], env)
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
            s += _run(cmd, env)
            return dataclasses.replace(s, pycs=has_pycs(target))

        share = 0.5 if set_name == "set-a" else 0.2
        bench.compare(
            f"warm install {set_name} ({len(wheels)} wheel files) into a fresh env, end to end",
            {
                "forge create + install": forge_install,
                "uv venv + pip install hardlink": lambda i: uv_install(i, False),
                "uv ... --compile-bytecode": lambda i: uv_install(i, True),
            },
            targets=[
                Target(
                    "forge create + install",
                    "uv venv + pip install hardlink",
                    share,
                    f"DESIGN.md §7: {set_name}, ready to import, in {share:g}x uv hardlink's time",
                )
            ],
            key=key,
        )
        f_inodes, f_bytes = usage([forge_env(f"warm-{set_name}")], [home / "store"])
        u_inodes, u_bytes = usage([warm_uv], [work / "uv-cache"])
        bench.results[f"disk {set_name}"] = {
            "row": key,
            "kind": "extra-env",
            "forge": {"inodes": f_inodes, "bytes": f_bytes},
            "uv_hardlink": {"inodes": u_inodes, "bytes": u_bytes},
        }
        print(
            f"  extra env on disk: forge {f_inodes} inodes {f_bytes / 1e6:.2f} MB;"
            f" uv hardlink {u_inodes} inodes {u_bytes / 1e6:.2f} MB"
        )

    if "warm-pip-b" in only:
        prime(set_b_txt)
        bench.compare(
            "warm install set-b.txt (torch) into a fresh env through the pip front ends",
            front_ends(set_b_txt),
            note="env creation included",
            targets=front_target,
            key="warm-pip-b",
        )

    for key, req, set_title in (("cold-a", set_a_in, "set A"), ("cold-b", set_b_txt, "set B's pins")):
        if key not in only:
            continue

        def cold(i: int, tool: str, req: str = req) -> Sample:
            scratch = fresh(f"cold-{tool}", i)
            cenv = dict(env, FORGE_HOME=str(scratch / "home"), UV_CACHE_DIR=str(scratch / "uvc"))
            venv(scratch / "v")
            vpy = str(scratch / "v/bin/python")
            if tool == "forge":
                cmd = _front("--python", vpy, "install", "-q", "-r", req)
            elif tool.startswith("uv"):
                cmd = [uv, "pip", "install", "-q", "--python", vpy, *uv_src, "-r", req]
                cmd += ["--compile-bytecode"] if tool == "uv-pyc" else []
            else:
                cmd = [PY, "-m", "pip", "--python", vpy, "install", "-q", "--no-cache-dir", "-r", req]
            sample = dataclasses.replace(_run(cmd, cenv), pycs=has_pycs(scratch / "v"))
            from forge_store.seal import remove_tree

            remove_tree(scratch)
            os.sync()  # the deletion's writeback happens here, not in the next contender's run
            return sample

        bench.compare(
            f"cold install {set_title} (empty store and caches), ready to import",
            {
                "forge pip": lambda i: cold(i, "forge"),
                "uv pip --compile-bytecode": lambda i: cold(i, "uv-pyc"),
                "uv pip (no pycs)": lambda i: cold(i, "uv"),
                "pip --no-cache-dir": lambda i: cold(i, "pip"),
            },
            targets=[  # issue #10 sets it for set A; set B's is a peak RSS (bench/report.py checks)
                Target("forge pip", "uv pip --compile-bytecode", 1.0, "issue #10: cold set A ready to import")
            ]
            if key == "cold-a"
            else [],
            key=key,
        )

    if only & set(footprint.ROWS):
        ctx = footprint.Context(PY, uv, uv_src, env, work, Path(set_a_txt))
        footprint.run(bench, only, ctx, args.envs)

    import nodes  # bench/nodes.py: the node-B rows of issue #12

    nodes.run(bench, only, uv, uv_src, env)
    print(f"\n== targets   [{_load()}]")
    for row, text, met, _why in bench.verdicts:
        print(f"  {'met    ' if met else 'NOT met'}  {row}: {text}")
    if args.json:
        bench.results["targets"] = {
            "verdicts": [{"row": r, "text": t, "met": m} for r, t, m, _w in bench.verdicts]
        }
        args.json.write_text(json.dumps(bench.results, indent=1))
    if not args.keep:
        from forge_store.seal import remove_tree

        remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
