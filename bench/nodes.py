"""A fresh env of set B (torch) on node B: from an upstream directory, an HTTP binary cache, the
indexes, against uv with a shared cache (issue #12).

    .venv/bin/python bench/bench.py --runs 3 --only node-b-dir,node-b-http,node-b-stack,node-b-index,node-b-uv

Two ``FORGE_HOME``s on one machine stand for two nodes. Setup (not timed): node A installs the
pins of ``set-b.txt`` into an env and publishes it (``forge store publish DIR --env E``); "node A"
also fills a uv cache with the same pins (``UV_CACHE_DIR`` on the same filesystem, uv's answer to
a team cache). Then every run starts with an empty node B and times one fresh env of set B, end
to end (env creation included):

- ``node-b-dir``: node B with ``forge store add-upstream DIR``; ``forge create NAME -r set-b.txt
  --offline`` (one process). ``--offline`` switches the indexes off for Forge *and* uv: both answer
  from what they hold (upstream / shared cache) and neither reads an index page, so they answer
  the same question. The first env on a fresh node hashes the upstream entries against their
  RECORD (once per node and manifest generation); a second contender times a further env on a
  node that has done so already.
- ``node-b-http``: the same with the publish dir served on loopback (nginx when installed, else
  Python's ``http.server``, a ThreadingHTTPServer, in a subprocess) and ``forge store add-upstream
  http://127.0.0.1:PORT/``; entries are fetched into node B's store. A Forge without the HTTP form
  refuses the URL: the row then says "n/a (...)" with the refusal and the rest runs.
- ``node-b-stack``: node B layers an env on the published stack instead of resolving set B:
  ``forge store add-upstream LOCATION --name team`` then ``forge create app --parent team:setb``
  (the mirror env ``team:setb`` made, then ``app`` on it), from the directory (links into it) and
  from the HTTP binary cache (the stack's entries substituted into node B's store first).
- ``node-b-index``: node B with no upstream and an empty store, set B from the configured indexes
  (here local files: ``/opt/wheels`` and file:// indexes; PyPI's pages are read too); uv cold
  (empty cache, same sources) beside it, without and with ``--compile-bytecode``.
- ``node-b-uv``: more uv modes on the shared cache: ``--link-mode copy`` (what a cache on NFS,
  another filesystem than the venv, comes to: uv falls back from hardlink to copy), ``symlink``
  (links into the cache like Forge's directory upstream; ``uv cache clean`` breaks such envs) and
  hardlink ``--compile-bytecode`` (ready to import).

The base of the ratios is always uv hardlink from the shared cache with ``--offline`` (uv's
default link mode on Linux). Each contender reports median time, peak RSS, pycs yes/no and the
bytes and inodes the env added to node B: for Forge everything new under its ``FORGE_HOME``
(store, catalog, env), for uv the venv's inodes not shared with the cache (cold: venv + its own
cache). ``import torch`` is checked once per contender, after its first run (outside timing),
and where torch was imported from is printed.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bench import PY, SHARED, Bench, Sample, _forge, _run, _usage, has_pycs

ROWS = ("node-b-dir", "node-b-http", "node-b-stack", "node-b-index", "node-b-uv")
SET_B = SHARED / "set-b.txt"
BASE = "uv hardlink, shared cache --offline"
TITLE = "a fresh env of set B (torch) on node B"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@dataclasses.dataclass(frozen=True)
class Usage:
    """What a run added to node B: inodes (files, dirs, links) and bytes of disk blocks."""

    inodes: int
    bytes: int

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.inodes + other.inodes, self.bytes + other.bytes)


def usage(roots: Sequence[Path], shared: Sequence[Path] = ()) -> Usage:
    """What ``roots`` hold on disk, each inode once, not counting those they share with ``shared``
    files (:func:`bench._usage`; roots must not share inodes with each other)."""
    counts = [_usage(root, shared) for root in roots]
    return Usage(sum(c[0] for c in counts), sum(c[1] for c in counts))


def _try(cmd: Sequence[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a setup command; its exit code and the last line it wrote on stderr."""
    proc = subprocess.run(list(cmd), env=env, capture_output=True, text=True)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return proc.returncode, lines[-1] if lines else ""


def _import_torch(python: Path, env: dict[str, str]) -> str:
    """``import torch`` in the env (once, outside timing); where it came from, or SystemExit."""
    code = "import os, torch; torch.ones(2).sum(); print(os.path.realpath(torch.__file__))"
    proc = subprocess.run([str(python), "-W", "ignore", "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"import torch failed in {python}:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nginx_conf(root: Path, port: int, work: Path) -> str:
    user = pwd.getpwuid(os.geteuid()).pw_name  # workers read the (0700) scratch dir as its owner
    return f"""user {user};
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {work}/body;
    types {{ application/json json; }}
    default_type application/octet-stream;
    server {{ listen 127.0.0.1:{port}; root {root}; autoindex off; }}
}}
"""


def _ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "forge-upstream.json", timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def serve(root: Path, work: Path, nginx: str | None = NGINX) -> Iterator[tuple[str, str]]:
    """Serve ``root`` over HTTP on loopback: (base URL, server) while in the block. ``nginx`` when
    it is installed and starts, else Python's ``http.server`` (a ThreadingHTTPServer) in a
    subprocess; the server is stopped when the block ends."""
    work.mkdir(parents=True, exist_ok=True)
    attempts: list[tuple[str, Callable[[int], list[str]]]] = []
    if nginx:

        def nginx_cmd(port: int, nginx: str = nginx) -> list[str]:
            conf = work / "nginx.conf"
            conf.write_text(_nginx_conf(root, port, work))
            return [nginx, "-p", str(work), "-e", str(work / "error.log"), "-c", str(conf)]

        attempts.append(("nginx", nginx_cmd))
    attempts.append(
        (
            "python http.server",
            lambda port: [PY, "-m", "http.server", "-b", "127.0.0.1", "-d", str(root), str(port)],
        )
    )
    for kind, make in attempts:
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        proc = subprocess.Popen(make(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if _ready(url, proc):
                yield url, kind
                return
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    raise SystemExit(f"could not serve {root} on loopback (tried: {', '.join(k for k, _ in attempts)})")


class NodeBench:
    """Node A's setup and node B's contenders, sharing one scratch dir."""

    def __init__(self, bench: Bench, uv: str, uv_src: list[str], env: dict[str, str]) -> None:
        self.bench = bench
        self.uv = uv
        self.uv_src = uv_src
        self.env = env
        self.work = bench.work / "nodes"
        self.pub = self.work / "publish"
        self.uv_cache = self.work / "uv-shared-cache"
        self.usage: dict[str, Usage] = {}
        self.where: dict[str, str] = {}
        self._second: tuple[Path, dict[str, str]] | None = None  # the node of the 2nd-env contender
        self._count = 0

    def _fresh(self, prefix: str) -> Path:
        self._count += 1
        return self.work / f"{prefix}-{self._count}"

    def setup_node_a(self) -> None:
        """Node A: set B into an env, published into ``self.pub``; uv's shared cache filled."""
        home = self.work / "node-a"
        env_a = dict(self.env, FORGE_HOME=str(home))
        t0 = time.perf_counter()
        _run(_forge("create", "-q", "setb", "-r", str(SET_B)), env_a)
        _run(_forge("store", "publish", "-q", str(self.pub), "--env", "setb"), env_a)
        target = self.work / "uv-node-a"
        env_uv = dict(self.env, UV_CACHE_DIR=str(self.uv_cache))
        _run([self.uv, "venv", "-q", str(target)], env_uv)
        py_a = str(target / "bin/python")
        _run([self.uv, "pip", "install", "-q", "--python", py_a, *self.uv_src, "-r", str(SET_B)], env_uv)
        pub = usage([self.pub])
        print(
            f"\nnode A: set B installed and published ({pub.bytes / 1e6:.0f} MB, {pub.inodes} inodes"
            f" in {self.pub.name}/), uv cache filled, in {time.perf_counter() - t0:.0f} s (not timed)"
        )

    # -- Forge on node B ----------------------------------------------------------------------------

    def _node(self, prefix: str, upstream: str | None, *names: str) -> tuple[Path, dict[str, str]]:
        home = self._fresh(prefix)
        env_b = dict(self.env, FORGE_HOME=str(home))
        env_b.pop("FORGE_UPSTREAM", None)
        if upstream is not None:
            _run(_forge("store", "add-upstream", "-q", upstream, *names), env_b)
        else:
            _run(_forge("store", "upstreams", "-q"), env_b)  # makes the (empty) home
        return home, env_b

    def forge_env(
        self, label: str, prefix: str, upstream: str | None, flags: Sequence[str], i: int
    ) -> Sample:
        """One fresh env of set B on an empty node B (``forge create NAME -r set-b.txt FLAGS``)."""
        from forge_store.seal import remove_tree

        home, env_b = self._node(prefix, upstream)
        s = _run(_forge("create", "-q", "app", "-r", str(SET_B), *flags), env_b)
        return self._done(
            label, s, home / "envs" / "app", env_b, i, lambda: usage([home]), lambda: remove_tree(home)
        )

    def forge_stack_env(self, label: str, prefix: str, upstream: str, i: int) -> Sample:
        """One fresh env on an empty node B layered on the published stack (``forge create app
        --parent team:setb``: the mirror env first); pycs are looked for in the mirror."""
        from forge_store.seal import remove_tree

        home, env_b = self._node(prefix, upstream, "--name", "team")
        s = _run(_forge("create", "-q", "app", "--parent", "team:setb"), env_b)
        pycs = has_pycs(home / "envs" / "@team" / "setb")
        out = self._done(
            label, s, home / "envs" / "app", env_b, i, lambda: usage([home]), lambda: remove_tree(home)
        )
        return dataclasses.replace(out, pycs=pycs)

    def forge_second_env(self, label: str, upstream: str, flags: Sequence[str], i: int) -> Sample:
        """A further env on a node B that has used (and so verified) the upstream's entries."""
        from forge_store.seal import remove_tree

        if self._second is None:
            home, env_b = self._node("node-b-dir-warm", upstream)
            _run(_forge("create", "-q", "first", "-r", str(SET_B), *flags), env_b)
            self._second = (home, env_b)
        home, env_b = self._second
        prefix = home / "envs" / f"app{i}"
        s = _run(_forge("create", "-q", prefix.name, "-r", str(SET_B), *flags), env_b)
        measure = lambda: usage([prefix], [home / "store"])  # noqa: E731
        cleanup = lambda: _run(_forge("remove", "-q", prefix.name), env_b)  # noqa: E731
        out = self._done(label, s, prefix, env_b, i, measure, cleanup)
        if i == self.bench.runs - 1:
            remove_tree(home)
        return out

    def _done(
        self,
        label: str,
        s: Sample,
        prefix: Path,
        env: dict[str, str],
        i: int,
        measure: Callable[[], Usage],
        cleanup: Callable[[], object],
    ) -> Sample:
        """After a timed run (untimed): pycs, disk added, ``import torch`` once; then clean up."""
        pycs = has_pycs(prefix)
        if i == 0:
            self.usage[label] = measure()
            self.where[label] = _import_torch(prefix / "bin" / "python", env)
        cleanup()
        return dataclasses.replace(s, pycs=pycs)

    # -- uv -------------------------------------------------------------------------------------------

    def uv_env(self, label: str, mode: str | None, compile_: bool, cold: bool, i: int) -> Sample:
        """``uv venv`` + ``uv pip install -r set-b.txt`` into a fresh venv: from the shared cache with
        ``--offline``, or (``cold``) with an empty cache of its own from the configured sources."""
        from forge_store.seal import remove_tree

        scratch = self._fresh("uv-cold" if cold else "uv")
        target = scratch / "venv"
        cache = scratch / "cache" if cold else self.uv_cache
        env_uv = dict(self.env, UV_CACHE_DIR=str(cache))
        cmd = [self.uv, "pip", "install", "-q", "--python", str(target / "bin/python"), *self.uv_src]
        cmd += [] if cold else ["--offline"]
        cmd += ["--link-mode", mode] if mode else []
        cmd += ["--compile-bytecode"] if compile_ else []
        s = _run([self.uv, "venv", "-q", str(target)], env_uv)
        s += _run([*cmd, "-r", str(SET_B)], env_uv)
        measure = (
            (lambda: usage([target], [cache]) + usage([cache])) if cold else lambda: usage([target], [cache])
        )
        return self._done(label, s, target, env_uv, i, measure, lambda: remove_tree(scratch))

    # -- the row ------------------------------------------------------------------------------------

    def http_flags(self, url: str) -> tuple[list[str], str]:
        """Whether this Forge takes an HTTP upstream: the flags that install set B from it (after
        one untimed probe), or ``[]`` and why not."""
        from forge_store.seal import remove_tree

        home = self._fresh("node-b-http-probe")
        env_b = dict(self.env, FORGE_HOME=str(home))
        try:
            rc, line = _try(_forge("store", "add-upstream", "-q", url), env_b)
            if rc != 0:
                return [], f"add-upstream refused {url} (exit {rc}): {line}"
            tried = []
            for flags in (["--offline"], ["--prefer-offline"]):
                rc, line = _try(_forge("create", "-q", "probe", "-r", str(SET_B), *flags), env_b)
                if rc == 0:
                    return flags, ""
                tried.append(f"{' '.join(flags)}: exit {rc}: {line}")
                _try(_forge("remove", "-q", "probe"), env_b)
            return [], "installing set B from the HTTP upstream failed (" + "; ".join(tried) + ")"
        finally:
            remove_tree(home)

    def run(self, only: set[str]) -> None:
        self.setup_node_a()
        contenders: dict[str, Callable[[int], Sample]] = {
            BASE: lambda i: self.uv_env(BASE, "hardlink", False, False, i),
        }
        missing: dict[str, str] = {}
        off, pub = ["--offline"], str(self.pub)
        dir_1, dir_2 = "forge, upstream dir --offline", "forge, upstream dir, 2nd env on the node"
        if "node-b-dir" in only:
            contenders[dir_1] = lambda i: self.forge_env(dir_1, "node-b-dir", pub, off, i)
            contenders[dir_2] = lambda i: self.forge_second_env(dir_2, pub, off, i)
        stack_dir, stack_http = "forge, upstream dir, --parent team:setb", "forge, HTTP, --parent team:setb"
        if "node-b-stack" in only:
            contenders[stack_dir] = lambda i: self.forge_stack_env(stack_dir, "node-b-stack-dir", pub, i)
        wanted = only.intersection({"node-b-http", "node-b-stack"})
        http = serve(self.pub, self.work / "http") if wanted else nullcontext(None)
        with http as served:
            if served is not None:
                url, server = served
                if "node-b-http" in only:
                    flags, why = self.http_flags(url)
                    http_label = f"forge, HTTP upstream ({server}) {' '.join(flags)}".rstrip()
                    if flags:
                        contenders[http_label] = lambda i: self.forge_env(
                            http_label, "node-b-http", url, flags, i
                        )
                    else:
                        missing[http_label] = why
                if "node-b-stack" in only:
                    contenders[stack_http] = lambda i: self.forge_stack_env(
                        stack_http, "node-b-stack-http", url, i
                    )
            if "node-b-index" in only:
                index, cold, cold_pyc = (
                    "forge, configured indexes, empty store",
                    "uv cold (empty cache)",
                    "uv cold --compile-bytecode",
                )
                contenders[index] = lambda i: self.forge_env(index, "node-b-index", None, [], i)
                contenders[cold] = lambda i: self.uv_env(cold, None, False, True, i)
                contenders[cold_pyc] = lambda i: self.uv_env(cold_pyc, None, True, True, i)
            if "node-b-uv" in only:
                for label, mode, compile_ in (
                    ("uv copy, shared cache --offline", "copy", False),
                    ("uv symlink, shared cache --offline", "symlink", False),
                    ("uv hardlink --compile-bytecode, shared", "hardlink", True),
                ):
                    contenders[label] = functools.partial(self.uv_env, label, mode, compile_, False)
            cache_before = usage([self.uv_cache])
            self.bench.compare(
                TITLE, contenders, note="env creation included; each run on an empty node B", key="node-b"
            )
        self.report(missing, cache_before)

    def report(self, missing: dict[str, str], cache_before: Usage) -> None:
        for label, why in missing.items():
            print(f"  {label:<44} n/a ({why})")
        print("  added to node B per env (store + catalog + env for Forge; venv [+ own cache] for uv):")
        for label, use in self.usage.items():
            print(f"    {label:<42} {use.inodes:7d} inodes {use.bytes / 1e6:9.2f} MB")
        grown = usage([self.uv_cache])
        print(
            f"  uv's shared cache: {cache_before.bytes / 1e6:.0f} MB, {cache_before.inodes} inodes"
            f" (grew by {(grown.bytes - cache_before.bytes) / 1e6:.2f} MB during the runs)"
        )
        print("  import torch (after each contender's first run, not timed):")
        for label, where in self.where.items():
            print(f"    {label:<42} ok: {where}")
        results = self.bench.results.setdefault(TITLE, {})
        results["added_to_node_b"] = {k: dataclasses.asdict(v) for k, v in self.usage.items()}
        results["n/a"] = missing
        results["torch_from"] = self.where


def run(bench: Bench, only: set[str], uv: str, uv_src: list[str], env: dict[str, str]) -> None:
    """The node-B rows that ``only`` selects (one table: every contender interleaved per run)."""
    if not only.intersection(ROWS):
        return
    NodeBench(bench, uv, uv_src, env).run(only)
