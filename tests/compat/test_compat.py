"""The compatibility suite: every case of ``cases.toml`` run by real pip and by Forge, then compared.

Each case runs twice from scratch against the same loopback index (``world.py``): real pip (this
venv's ``python -m pip --python VENV/bin/python``, on a fresh plain ``python -m venv --without-pip``
venv) and Forge (a fresh ``FORGE_HOME`` and env, through the env's ``bin/pip``). Both runs get the
same isolated configuration: no config file, no ``PIP_*`` of the machine, ``PIP_INDEX_URL`` = the
loopback index, ``PIP_NO_CACHE_DIR``.

Compared aspects:

- ``code``: the exit status;
- ``installed``: ``name==version`` of every distribution the env's interpreter sees
  (``importlib.metadata``; pip, setuptools and wheel left out);
- ``output``: the normalized key lines of stdout+stderr (``output = "key"``, the default: lines
  such as ``Successfully installed``, ``Requirement already satisfied``, ``ERROR: ...``), or all of
  stdout (``output = "stdout"``), or nothing (``output = "none"``); paths, the index URL and sizes
  are replaced by placeholders;
- ``files``: the names of the files in ``dir`` (``download -d``, ``wheel -w``).

A case lists its known differences with a reason (``differs = {output = "reason"}``). The suite
fails on any difference that is not listed, and on a listed one that is gone (so the table stays
true). ``expect`` is real pip's exit code: it proves the case tests what it says. The table names
the pip release it was written against (``referee``); with another pip in the test venv the
comparisons are skipped rather than judged against another pip's output.

All cases run in threads when the first one is requested (they are subprocesses); every case
test is in one xdist group so that one worker does that.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from forge_store.seal import remove_tree
from tests.compat.world import build_world
from tests.support.index_server import serve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

HERE = Path(__file__).resolve().parent
TABLE: dict[str, Any] = tomllib.loads((HERE / "cases.toml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = TABLE["case"]
REFEREE: str = TABLE["referee"]
"""The pip release (major.minor) the table's known differences were written against."""
ASPECTS = ("code", "installed", "output", "files", "report")
SIDES = ("pip", "forge")
KEYS = {
    "id",
    "args",
    "setup",
    "files",
    "stdin",
    "output",
    "keep",
    "dir",
    "differs",
    "expect",
    "report",
    "inspect",
    "environ",
}
TIMEOUT = 120
pytestmark = pytest.mark.xdist_group("compat")

KEY_LINES = re.compile(
    r"^\s*(Looking in (indexes|links):"
    r"|Requirement already satisfied:"
    r"|Collecting "
    r"|Ignoring "
    r"|Installing collected packages:"
    r"|Successfully (installed|uninstalled|downloaded|built)"
    r"|Found existing installation:"
    r"|Attempting uninstall:"
    r"|Uninstalling \S+:"
    r"|Would (install|uninstall)"
    r"|ERROR: "
    r"|WARNING: (Skipping|Package\(s\) not found|The candidate selected)"
    r"|Proceed \(Y/n\)\?"
    r"|Saved "
    r"|\S.* requires .*, but you have .*"
    r"|\S+ --hash=sha256:"
    r"|Expected sha256"
    r"|Got "
    r")"
)
_SIZE = re.compile(r"\(\d+(\.\d+)? ([kMG]?B|bytes)\)")
_SKIP_DISTS = {"pip", "setuptools", "wheel"}
_OWN_PIP_ROW = re.compile(r"^pip(==| +\d)")
_OWN_PIP_JSON = re.compile(r'(, )?\{"name": "pip", "version": "[^"]*"[^}]*\}(?(1)|(, )?)')


@dataclasses.dataclass(frozen=True)
class World:
    root: Path
    index_url: str
    links: Path
    pip_dir: Path
    """A directory holding only this venv's ``pip`` package: a case venv's ``.pth`` names it, so
    real pip runs inside the case venv (no ``--python`` re-execution) and is not installed there."""


def _pip_dir(root: Path) -> Path:
    import pip

    folder = root / "pip-only"
    folder.mkdir()
    (folder / "pip").symlink_to(Path(pip.__file__).resolve().parent)
    return folder


@dataclasses.dataclass(frozen=True)
class Side:
    """One tool's run of one case, as compared."""

    code: int
    installed: tuple[str, ...]
    output: tuple[str, ...]
    files: tuple[str, ...]
    report: tuple[str, ...]
    raw: str

    def aspect(self, name: str) -> object:
        return getattr(self, name)


def _environ(world: World, home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "FORGE_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=world.index_url,
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_PYTHON_VERSION_WARNING="1",
        PIP_ROOT_USER_ACTION="ignore",
        PIP_PROGRESS_BAR="off",
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        XDG_CONFIG_DIRS=str(home / "xdg-dirs"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        NETRC=str(home / "no-netrc"),
        FORGE_HOME=str(home / "forge-home"),
        COLUMNS="200",
    )
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        env.pop(name, None)
        env.pop(name.upper(), None)
    return env


_SHA = re.compile(r"\{sha256:([^}/]+)\}")


def _expand(text: str, world: World, cwd: Path) -> str:
    def digest(m: re.Match[str]) -> str:
        return hashlib.sha256((world.links / m.group(1)).read_bytes()).hexdigest()

    text = _SHA.sub(digest, text).replace("{py}", f"{sys.version_info[0]}.{sys.version_info[1]}")
    return (
        text.replace("{index}", world.index_url)
        .replace("{links}", str(world.links))
        .replace("{world}", str(world.root))
        .replace("{tmp}", str(cwd))
    )


def _normalize(text: str, world: World, cwd: Path, env_dir: Path) -> str:
    site = env_dir / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    for path, token in (
        (str(site), "{site}"),
        (str(env_dir), "{env}"),
        (str(world.links), "{links}"),
        (str(world.root), "{world}"),
        (str(cwd), "{tmp}"),
        (str(cwd.parent), "{work}"),
    ):
        text = text.replace(path, token)
    text = text.replace(world.index_url, "{index}").replace(world.index_url.rsplit("/", 1)[0], "{server}")
    return _SIZE.sub("(SIZE)", text)


def _installed(python: Path, env: Mapping[str, str]) -> tuple[str, ...]:
    code = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps(sorted({d.metadata['Name'] + '==' + d.version for d in m.distributions()})))"
    )
    proc = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=python.parent,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    names: list[str] = json.loads(proc.stdout)
    return tuple(n for n in names if n.split("==")[0].lower() not in _SKIP_DISTS)


def _forge(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from forge_pip.cli.forge import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=TIMEOUT,
        check=False,
    )


def report_shape(doc: dict[str, Any]) -> tuple[str, ...]:
    """What must agree in two ``--report`` documents: pip's keys at every level and what is installed
    (Forge's extra ``forge`` key per item left out)."""
    out = [f"keys: {sorted(doc)}", f"version: {doc.get('version')}"]
    out.append(f"environment keys: {sorted(doc.get('environment', {}))}")
    for item in sorted(doc.get("install", []), key=lambda i: str(i.get("metadata", {}).get("name"))):
        meta = item.get("metadata", {})
        info = item.get("download_info", {})
        out.append(
            f"{meta.get('name')}=={meta.get('version')}: keys {sorted(k for k in item if k != 'forge')}"
            f" requested={item.get('requested')} direct={item.get('is_direct')}"
            f" extras={item.get('requested_extras')} yanked={item.get('is_yanked')}"
            f" download_info {sorted(info)} archive_info {sorted(info.get('archive_info', {}))}"
            f" metadata keys {sorted(meta)}"
        )
    return tuple(out)


def inspect_shape(doc: dict[str, Any]) -> tuple[str, ...]:
    """What must agree in two ``pip inspect`` documents (Forge's extra ``forge`` key left out)."""
    out = [f"keys: {sorted(doc)}", f"version: {doc.get('version')}"]
    out.append(f"environment keys: {sorted(doc.get('environment', {}))}")
    for item in doc.get("installed", []):
        meta = item.get("metadata", {})
        if str(meta.get("name", "")).lower() in _SKIP_DISTS:
            continue
        keys = sorted(k for k in item if k != "forge")
        out.append(
            f"{meta.get('name')}=={meta.get('version')}: keys {keys} requested={item.get('requested')}"
        )
    return tuple(out)


def run_side(side: str, case: Mapping[str, Any], world: World, work: Path) -> Side:
    """Run ``case`` with one tool in ``work`` (its own cwd, env and homes)."""
    cwd = work / "cwd"
    cwd.mkdir(parents=True)
    env = _environ(world, work)
    env.update({k: _expand(str(v), world, cwd) for k, v in dict(case.get("environ", {})).items()})
    if side == "pip":
        env_dir = work / "env"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
        site = env_dir / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
        (site / "_compat_pip.pth").write_text(f"{world.pip_dir}\n", encoding="utf-8")
        base = [str(env_dir / "bin" / "python"), "-m", "pip"]
    else:
        made = _forge("create", "e", env=env)
        assert made.returncode == 0, made.stderr
        env_dir = work / "forge-home" / "envs" / "e"
        base = [str(env_dir / "bin" / "pip")]
    for rel, body in dict(case.get("files", {})).items():
        path = cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_expand(str(body), world, cwd), encoding="utf-8")

    def run(args: Sequence[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *(_expand(a, world, cwd) for a in args)],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=TIMEOUT,
            check=False,
        )

    for step in case.get("setup", []):
        done = run(step, None)
        assert done.returncode == 0, f"{side} setup {step} failed:\n{done.stdout}\n{done.stderr}"
    proc = run(case["args"], case.get("stdin"))
    raw = _normalize(proc.stdout + proc.stderr, world, cwd, env_dir)
    mode = case.get("output", "key")
    if mode == "stdout":
        # an env's own pip (a Forge env may hold a ``pip`` package) is not what the cases compare
        text = _OWN_PIP_JSON.sub("", _normalize(proc.stdout, world, cwd, env_dir))
        lines = [line for line in text.splitlines() if not _OWN_PIP_ROW.match(line)]
    elif mode == "none":
        lines = []
    else:
        keep = re.compile(case["keep"]) if "keep" in case else KEY_LINES
        text = _normalize(proc.stdout + "\n" + proc.stderr, world, cwd, env_dir)
        lines = [line.rstrip() for line in text.splitlines() if keep.match(line)]
    report: tuple[str, ...] = ()
    if "report" in case:
        where = case["report"]
        text = proc.stdout if where == "-" else (cwd / where).read_text(encoding="utf-8")
        report = report_shape(json.loads(text))
    elif case.get("inspect"):
        report = inspect_shape(json.loads(proc.stdout))
    files: tuple[str, ...] = ()
    if "dir" in case:
        folder = cwd / _expand(case["dir"], world, cwd)
        files = tuple(sorted(p.name for p in folder.iterdir())) if folder.is_dir() else ("<missing>",)
    return Side(
        code=proc.returncode,
        installed=_installed(env_dir / "bin" / "python", env),
        output=tuple(lines),
        files=files,
        report=report,
        raw=raw,
    )


def run_case(case: Mapping[str, Any], world: World, work: Path) -> dict[str, Side]:
    started = time.monotonic()
    out = {side: run_side(side, case, world, work / side) for side in SIDES}
    if os.environ.get("FORGE_COMPAT_TIMES"):  # where the suite's time goes
        with open(os.environ["FORGE_COMPAT_TIMES"], "a", encoding="utf-8") as log:
            log.write(f"{time.monotonic() - started:7.2f} {case['id']}\n")
    for side in SIDES:
        remove_tree(work / side)
    return out


def _referee_or_skip() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        have = version("pip")
    except PackageNotFoundError:
        pytest.skip("the compatibility suite needs real pip in the test venv")
    if have != REFEREE and not have.startswith(REFEREE + "."):
        pytest.skip(f"cases.toml was written against pip {REFEREE}; this venv has pip {have}")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _referee_or_skip()
    root = tmp_path_factory.mktemp("compat-world")
    index = build_world(root)
    with serve(index.root) as server:
        yield World(root=root, index_url=server.index_url, links=index.root / "files", pip_dir=_pip_dir(root))


class _Runner:
    """Runs the selected cases in a few threads, once, and hands out their results."""

    def __init__(self, world: World, work: Path, ids: Sequence[str]) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
        by_id = {c["id"]: c for c in CASES}
        self.futures = {i: self.pool.submit(run_case, by_id[i], world, work / i) for i in ids}
        self.lock = threading.Lock()

    def result(self, case_id: str) -> dict[str, Side]:
        return self.futures[case_id].result()


@pytest.fixture(scope="session")
def runner(
    world: World, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[_Runner]:
    ids = [
        item.callspec.id  # type: ignore[attr-defined]
        for item in request.session.items
        if item.path == Path(__file__) and hasattr(item, "callspec")
    ]
    r = _Runner(world, tmp_path_factory.mktemp("compat-runs"), ids)
    yield r
    r.pool.shutdown(wait=True, cancel_futures=True)


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "\n      ".join(str(v) for v in value) or "(nothing)"
    return str(value)


def test_table_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 60
    for case in CASES:
        assert set(case) <= KEYS, (case["id"], set(case) - KEYS)
        assert "expect" in case, f"{case['id']}: say which exit code real pip gives"
        assert set(case.get("differs", {})) <= set(ASPECTS), case["id"]
        assert all(str(reason).strip() for reason in case.get("differs", {}).values()), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], runner: _Runner) -> None:
    got = runner.result(case["id"])
    pip, forge = got["pip"], got["forge"]
    if "expect" in case:
        assert pip.code == case["expect"], (
            f"real pip exited {pip.code}, the case expects {case['expect']}:\n{pip.raw}"
        )
    listed: Mapping[str, str] = case.get("differs", {})
    problems: list[str] = []
    for aspect in ASPECTS:
        a, b = pip.aspect(aspect), forge.aspect(aspect)
        if a != b and aspect not in listed:
            problems.append(f"{aspect} differs:\n  pip:   {_show(a)}\n  forge: {_show(b)}")
        elif a == b and aspect in listed:
            problems.append(f"{aspect} no longer differs (remove it from differs): {listed[aspect]}")
    if problems:
        detail = f"\n--- pip output ---\n{pip.raw}\n--- forge output ---\n{forge.raw}"
        pytest.fail(f"{case['id']}: " + "\n".join(problems) + detail)
