"""pip inside a Forge env: ``python -m pip``, ``pip3``, ``import pip``; the requirement ``pip``;
pip's cache configuration; ``forge install REQUIREMENT``.

Every command runs as a real subprocess in a real env against a local index the tests build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from forge_store import pip_frontend
from forge_store.isolation import LAUNCHED_VAR
from forge_store.models import EnvInfo, Layer
from forge_store.store import Store
from tests.conftest import forge_cli, run_py
from tests.support.frontend import write_older_front_end
from tests.support.index_server import LocalIndex, serve
from tests.support.wheels import make_wheel

Pip = Any
FORGE_BIN = Path(sys.executable).parent
PIP_VERSION = pip_frontend.PIP_VERSION


def _run(argv: list[str | Path], cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    try:
        return subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv} did not finish (a launcher loop?): {exc.stderr!r}")


@pytest.fixture
def pip_index(tmp_path: Path, hermetic_pip: None) -> LocalIndex:
    """A real pip look-alike (a newer pip with pip's scripts), setuptools and wheel in two versions,
    and packages that depend on pip."""
    src = tmp_path / "src"
    index = LocalIndex(tmp_path / "pipindex")
    scripts = {"pip": "pip._internal:main", "pip3": "pip._internal:main", "pip3.11": "pip._internal:main"}
    index.add(
        make_wheel(
            src,
            "pip",
            "99.0",
            files={
                "pip/__init__.py": "__version__ = '99.0'\n",
                "pip/_internal/__init__.py": "def main(): 0\n",
            },
            console_scripts=scripts,
        )
    )
    for name in ("setuptools", "wheel"):
        for version in ("1.0", "2.0"):
            index.add(make_wheel(src, name, version))
    index.add(make_wheel(src, "needs-pip", "1.0", requires=["pip>=22.2", "wheel"]))
    index.add(make_wheel(src, "needs-future-pip", "1.0", requires=["pip>=99"]))
    index.add(make_wheel(src, "gamma", "1.0"))
    index.write()
    return index


def _front_end_intact(env: EnvInfo) -> None:
    site = env.site_packages
    assert pip_frontend.front_end_version(site) == PIP_VERSION
    assert pip_frontend.has_forge_launchers(env.path)
    for name in ("pip3", f"pip{env.interpreter.short_version}"):
        assert os.readlink(env.bin / name) == "pip"
    proc = run_py(env.python, "import pip; print(pip.__version__, pip.FORGE_FRONT_END)")
    assert proc.stdout.split() == [PIP_VERSION, "True"], proc.stderr


def _local(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


# -- python -m pip, pip3, pip3.X, import pip ----------------------------------------------------


def test_every_spelling_of_pip_runs_forge_on_its_env(store: Store, pip_index: LocalIndex) -> None:
    env = store.create_env("e")
    other = store.create_env("other")
    short = env.interpreter.short_version
    spellings: list[list[str | Path]] = [
        [env.python, "-m", "pip"],
        [env.bin / "python3", "-m", "pip"],
        [env.bin / "pip3"],
        [env.bin / f"pip{short}"],
    ]
    for i, argv in enumerate(spellings):
        proc = _run([*argv, "install", "-i", pip_index.file_url, f"setuptools=={1 + i % 2}.0"])
        assert proc.returncode == 0, (argv, proc.stderr)
        assert "Successfully installed setuptools" in proc.stdout or "already satisfied" in proc.stdout
        assert _local(store, "e")["setuptools"] == f"{1 + i % 2}.0", argv
    assert "setuptools" not in _local(store, "other"), "each env's pip acts on its own env"
    assert run_py(other.python, "import setuptools").returncode != 0
    proc = _run([env.python, "-m", "pip", "--version"])
    assert proc.returncode == 0
    words = proc.stdout.split()
    assert words[:3] == ["pip", PIP_VERSION, "from"], proc.stdout  # pip-api and pip-tools parse this
    assert words[3] == str(env.site_packages / "pip") and "[forge " in proc.stdout
    assert _run([env.python, "-m", "pip", "-V"]).stdout == proc.stdout
    proc = _run([env.python, "-m", "pip", "list", "--format", "freeze"])
    assert proc.returncode == 0 and "setuptools==2.0" in proc.stdout, proc.stderr


def test_import_pip_and_its_metadata(store: Store) -> None:
    env = store.create_env("e")
    code = (
        "import importlib.metadata as md, json, os, pip, sys\n"
        "d = md.distribution('pip')\n"
        "site = os.path.dirname(os.path.dirname(pip.__file__))\n"
        "files = [str(f) for f in d.files]\n"
        "print(json.dumps({'v': pip.__version__, 'md': md.version('pip'),"
        " 'installer': d.read_text('INSTALLER'),"
        " 'files': files, 'exist': all(os.path.isfile(os.path.join(site, f)) for f in files),"
        " 'rc': pip.main(['list', '--format', 'freeze'])}))\n"
    )
    proc = run_py(env.python, code)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.splitlines()[-1])
    assert doc["v"] == doc["md"] == PIP_VERSION
    assert doc["installer"].strip() == "forge"
    assert doc["exist"] and doc["rc"] == 0
    on_disk = sorted(
        str(p.relative_to(env.site_packages))
        for d in ("pip", f"pip-{PIP_VERSION}.dist-info")
        for p in (env.site_packages / d).rglob("*")
        if p.is_file()
    )
    assert sorted(doc["files"]) == on_disk, "RECORD lists exactly what exists"
    assert f"pip=={PIP_VERSION}" in proc.stdout, "pip.main ran Forge's front end"


def test_child_and_build_envs_get_their_own_front_end(store: Store) -> None:
    store.create_env("base")
    kid = store.create_env("kid", parent="base")
    _front_end_intact(kid)
    proc = run_py(kid.python, "import pip; print(pip.ENV_PREFIX)")
    assert proc.stdout.strip() == str(kid.path), "LOCAL shadows the parent's pip"


_FILES_PROBE = """
import importlib.metadata as md, json, os, sys
site = sys.argv[1]
out = {}
for name in sys.argv[2:]:
    d = md.distribution(name)
    listed = {os.path.normpath(os.path.join(site, str(f))) for f in d.files}
    tops = {str(f).split("/")[0] for f in d.files if not str(f).startswith("..")}
    on_disk = set()
    for top in tops:
        path = os.path.join(site, top)
        if os.path.isfile(path):
            on_disk.add(os.path.normpath(path))
        for root, dirs, files in os.walk(path, followlinks=True):
            on_disk.update(os.path.normpath(os.path.join(root, f)) for f in files)
    # a top-level module's pycs live in site-packages/__pycache__
    top_pycs = {
        os.path.normpath(os.path.join(site, "__pycache__", f))
        for f in os.listdir(os.path.join(site, "__pycache__"))
        if f.split(".")[0] in {t[:-3] for t in tops if t.endswith(".py")}
    } if os.path.isdir(os.path.join(site, "__pycache__")) else set()
    on_disk |= top_pycs
    out[name] = {
        "missing": sorted(p for p in listed if not os.path.isfile(p)),
        "unlisted": sorted(p for p in on_disk if p not in listed),
        "pycs": sum(1 for p in listed if p.endswith(".pyc")),
        "direct_url": d.read_text("direct_url.json") is not None,
        "requested": d.read_text("REQUESTED") is not None,
    }
print(json.dumps(out))
"""


def test_files_lists_exactly_what_exists(store: Store, pip_index: LocalIndex, wheel_dir: Path) -> None:
    """``importlib.metadata.files()`` of Forge-installed dists: every listed file exists (no
    ``REQUESTED``/``direct_url.json`` the env does not have), every file there is listed (pycs too)."""
    env = store.create_env("e")
    mono = make_wheel(
        wheel_dir,
        "mono",
        "1.0",
        files={"mono.py": "X = 1\n"},
        console_scripts={"mono": "mono:main"},
        data={"data/share/mono/x.txt": "x\n"},
    )
    pkg = make_wheel(wheel_dir, "pkgd", "1.0", files={"pkgd/__init__.py": "", "pkgd/sub/m.py": "Y = 2\n"})
    url = pip_index.file_url
    assert _run([env.bin / "pip", "install", "-i", url, "needs-pip"]).returncode == 0  # wheel: a dependency
    assert _run([env.bin / "pip", "install", mono, pkg]).returncode == 0  # direct: direct_url.json
    proc = _run([env.python, "-c", _FILES_PROBE, env.site_packages, "needs-pip", "wheel", "mono", "pkgd"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    for name, facts in doc.items():
        assert facts["missing"] == [], (name, facts)
        assert facts["unlisted"] == [], (name, facts)
        assert facts["pycs"] >= 1, (name, "pycs are listed")
    assert doc["needs-pip"]["requested"] and not doc["needs-pip"]["direct_url"]
    assert not doc["wheel"]["requested"] and not doc["wheel"]["direct_url"]
    assert doc["mono"]["direct_url"] and doc["pkgd"]["direct_url"]
    # a requested dist's own RECORD is a shared variant in its store entry: no new inode per env
    entry = next(e for e in store.entries("needs-pip"))
    record = env.site_packages / entry.dist_info / "RECORD"
    assert os.stat(record).st_ino == os.stat(entry.path / "records" / "REQUESTED").st_ino
    doc = json.loads(forge_cli("doctor", "--verify", "--json").stdout)
    assert doc["findings"] == [] and doc["summary"]["entries_verified"] >= 4, doc


# -- the requirement pip ------------------------------------------------------------------------


def test_upgrade_pip_setuptools_wheel_leaves_pip_alone(store: Store, pip_index: LocalIndex) -> None:
    env = store.create_env("e")
    assert (
        _run(
            [env.python, "-m", "pip", "install", "-i", pip_index.file_url, "setuptools==1.0", "wheel==1.0"]
        ).returncode
        == 0
    )
    launcher = (env.bin / "pip").read_bytes()
    proc = _run(
        [env.python, "-m", "pip", "install", "-U", "pip", "setuptools", "wheel", "-i", pip_index.file_url]
    )
    assert proc.returncode == 0, proc.stderr
    # pip's line: the requirement as written, where it is, who asked for it, the version
    satisfied = re.compile(
        rf"^Requirement already satisfied: pip\S* in {re.escape(str(env.site_packages))}"
        rf"( \(from \S+\))? \({re.escape(PIP_VERSION)}\)$",
        re.M,
    )
    assert satisfied.search(proc.stdout), proc.stdout
    assert "Successfully installed setuptools-2.0 wheel-2.0" in proc.stdout
    assert _local(store, "e") == {"setuptools": "2.0", "wheel": "2.0"}
    assert (env.bin / "pip").read_bytes() == launcher
    _front_end_intact(env)


@pytest.mark.parametrize(
    "args",
    [
        ["pip"],
        ["-U", "pip"],
        ["pip>=22"],
        [f"pip=={PIP_VERSION}"],
        ["--force-reinstall", "pip"],
        ["--upgrade-strategy", "eager", "-U", "needs-pip"],
        ["needs-pip"],
    ],
)
def test_requirement_pip_is_satisfied_by_the_front_end(
    args: list[str], store: Store, pip_index: LocalIndex
) -> None:
    env = store.create_env("e")
    proc = _run([env.bin / "pip", "install", "-i", pip_index.file_url, *args])
    assert proc.returncode == 0, proc.stderr
    # pip's line: the requirement as written, where it is, who asked for it, the version
    satisfied = re.compile(
        rf"^Requirement already satisfied: pip\S* in {re.escape(str(env.site_packages))}"
        rf"( \(from \S+\))? \({re.escape(PIP_VERSION)}\)$",
        re.M,
    )
    assert satisfied.search(proc.stdout), proc.stdout
    assert "pip" not in _local(store, "e")
    if "needs-pip" in args[-1]:
        assert _local(store, "e") == {"needs-pip": "1.0", "wheel": "2.0"}
        assert run_py(env.python, "import needs_pip").returncode == 0
    _front_end_intact(env)


@pytest.mark.parametrize("args", [["pip>=99"], ["needs-future-pip"], ["pip<20"]])
def test_pip_versions_the_front_end_cannot_be_are_one_line(
    args: list[str], store: Store, pip_index: LocalIndex
) -> None:
    env = store.create_env("e")
    before = sorted(p.name for p in env.site_packages.iterdir())
    proc = _run([env.bin / "pip", "install", "-i", pip_index.file_url, *args])
    assert proc.returncode == 1, proc.stderr  # pip's status for a failed install
    lines = proc.stderr.strip().splitlines()  # pip's ERROR: line, then Forge's hint
    assert len(lines) == 2 and lines[0].startswith("ERROR: ") and "Forge's front end" in lines[0], proc.stderr
    assert lines[1].startswith("hint: ") and "--seed pip" in lines[1], proc.stderr
    assert sorted(p.name for p in env.site_packages.iterdir()) == before
    _front_end_intact(env)


def _pip_dist_infos(env: EnvInfo) -> list[str]:
    return sorted(p.name for p in env.site_packages.glob("pip-*.dist-info"))


def test_the_next_install_refreshes_an_older_forges_front_end(store: Store, pip_index: LocalIndex) -> None:
    """An env whose front end an older Forge wrote answers as that pip (pip-tools 7.7 needs
    ``pip>=26.2.2``): a dry run says so and names ``forge doctor --fix``, changing nothing; the
    next install refreshes it (under the env's lock, file by file) and the same requirement is
    satisfied, as ``importlib.metadata`` in the env and ``forge doctor`` agree."""
    env = store.create_env("e")
    write_older_front_end(env.site_packages, env.path, "26.0")
    wanted = f"pip>={PIP_VERSION}"
    proc = _run([env.bin / "pip", "install", "--dry-run", "-i", pip_index.file_url, wanted])
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "answers as pip 26.0" in lines[0], proc.stderr
    assert lines[1].startswith("hint: ") and "`forge doctor --fix`" in lines[1], proc.stderr
    assert _pip_dist_infos(env) == ["pip-26.0.dist-info"]
    proc = _run([env.bin / "pip", "install", "-i", pip_index.file_url, wanted])
    assert proc.returncode == 0 and "Requirement already satisfied: pip" in proc.stdout, proc.stderr
    assert _pip_dist_infos(env) == [f"pip-{PIP_VERSION}.dist-info"]
    probe = "import importlib.metadata as m, pip; print(m.version('pip'), pip.__version__)"
    answer = _run([env.python, "-c", probe]).stdout.split()
    assert answer == [PIP_VERSION, PIP_VERSION]
    written = [
        *(env.site_packages / "pip").iterdir(),
        *(env.site_packages / _pip_dist_infos(env)[0]).iterdir(),
    ]
    assert not [p.name for p in written if p.name.startswith(".")], "no temp file left"
    doctor = forge_cli("doctor", "--json")
    assert "answers for pip" not in doctor.stdout, doctor.stdout
    _front_end_intact(env)


def test_a_front_end_of_another_forge_is_left_to_doctor(
    store: Store, pip_index: LocalIndex, tmp_path: Path
) -> None:
    """A front end whose Forge is another interpreter is not refreshed by an install (it would
    then describe a Forge that does not answer): the refusal names ``forge doctor --fix``, which
    rewrites it; after the fix the same requirement is satisfied."""
    env = store.create_env("e")
    other = tmp_path / "other-forge-python"
    other.symlink_to(sys.executable)
    write_older_front_end(env.site_packages, env.path, "26.0", forge_python=other)
    wanted = f"pip>={PIP_VERSION}"
    proc = _run([env.bin / "pip", "install", "-i", pip_index.file_url, wanted])
    assert proc.returncode == 1, proc.stderr
    assert "`forge doctor --fix`" in proc.stderr, proc.stderr
    assert _pip_dist_infos(env) == ["pip-26.0.dist-info"]
    assert forge_cli("doctor", "--fix").returncode == 0
    proc = _run([env.bin / "pip", "install", "-i", pip_index.file_url, wanted])
    assert proc.returncode == 0 and "Requirement already satisfied: pip" in proc.stdout, proc.stderr
    _front_end_intact(env)


def test_a_pip_wheel_file_is_satisfied_not_linked(
    store: Store, pip_index: LocalIndex, tmp_path: Path
) -> None:
    env = store.create_env("e")
    wheel = pip_index.root / "files" / "pip-99.0-py3-none-any.whl"
    proc = _run([env.python, "-m", "pip", "install", wheel, "--no-index"])
    assert proc.returncode == 0, proc.stderr
    assert "Requirement already satisfied: pip" in proc.stdout
    assert "Forge's front end" in proc.stderr and "--seed pip" in proc.stderr
    proc = forge_cli("install", str(wheel), "--env", "e", "--no-index")
    assert proc.returncode == 0, proc.stderr
    proc = forge_cli("install", str(wheel), "--env", "e")
    assert proc.returncode == 0, proc.stderr
    assert "pip" not in _local(store, "e")
    _front_end_intact(env)


def test_scripts_named_pip_never_replace_the_launchers(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    short = env.interpreter.short_version
    evil = make_wheel(
        wheel_dir,
        "evil",
        "1.0",
        files={"evil.py": "def main():\n    print('evil')\n"},
        console_scripts={
            "pip": "evil:main",
            "pip3": "evil:main",
            f"pip{short}": "evil:main",
            "evil": "evil:main",
        },
        data={"scripts/pip": "#!/bin/sh\necho evil\n"},
    )
    launcher = (env.bin / "pip").read_bytes()
    proc = forge_cli("install", str(evil), "--env", "e")
    assert proc.returncode == 0, proc.stderr
    assert (env.bin / "pip").read_bytes() == launcher
    assert (env.bin / "evil").is_file()
    _front_end_intact(env)
    proc = forge_cli("uninstall", "evil", "--env", "e")
    assert proc.returncode == 0 and (env.bin / "pip").read_bytes() == launcher


def test_uninstall_pip_is_refused_in_one_line(store: Store) -> None:
    env = store.create_env("e")
    proc = _run([env.python, "-m", "pip", "uninstall", "-y", "pip"])
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("ERROR: ") and "Forge's front end" in lines[0], proc.stderr
    assert all(line.startswith("hint: ") for line in lines[1:]) and len(lines) <= 2, proc.stderr
    _front_end_intact(env)


def test_an_adopted_venv_keeps_its_real_pip(store: Store, pip_index: LocalIndex, tmp_path: Path) -> None:
    """A plain venv's pip is a real pip: no front end there, so the requirement pip is pip's own."""
    venv = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    proc = _run(
        [
            FORGE_BIN / "forge",
            "pip",
            "install",
            "--python",
            venv / "bin/python",
            "-i",
            pip_index.file_url,
            "pip",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert (venv / "bin/pip").is_file(), "a real pip wheel's scripts are linked into a plain venv"
    assert "99.0" in run_py(venv / "bin/python", "import pip; print(pip.__version__)").stdout


# -- no loops -----------------------------------------------------------------------------------


def test_pip_package_never_loops(store: Store, tmp_path: Path) -> None:
    env = store.create_env("e")
    site = str(env.site_packages)
    # started by a Forge launcher: never handed back to Forge
    proc = _run([env.python, "-m", "pip", "list"], **{LAUNCHED_VAR: "1"})
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    # the Forge that made the env is gone
    envs_mod = __import__("forge_store.envs", fromlist=["write_pip_launchers"])
    envs_mod.write_pip_launchers(env.path, env.interpreter, tmp_path / "gone" / "python3")
    proc = _run([env.python, "-m", "pip", "list"])
    assert proc.returncode == 1 and "is gone" in proc.stderr and len(proc.stderr.splitlines()) == 1
    # met by an interpreter with a real pip (PYTHONPATH names the env): that pip runs
    base = "/usr/bin/python3.11"
    if subprocess.run([base, "-c", "import pip._internal"], capture_output=True).returncode != 0:
        pytest.skip("no interpreter with a real pip")
    proc = _run([base, "-m", "pip", "--version"], PYTHONPATH=site)
    assert proc.returncode == 0 and proc.stdout.startswith("pip ") and "Forge" not in proc.stdout, proc.stdout


def test_forges_own_processes_never_import_the_pip_package(store: Store, tmp_path: Path) -> None:
    env = store.create_env("e")
    probe = (
        "import sys; from forge_store import isolation; isolation.enter()\n"
        "from forge_pip.cli import pip_install, pip_inspect, forge\n"
        "print('pip' in sys.modules)"
    )
    proc = _run([sys.executable, "-c", probe], PYTHONPATH=str(env.site_packages))
    assert proc.stdout.strip() == "False", proc.stderr


# -- cache-dir ----------------------------------------------------------------------------------


def _http_install(
    env: EnvInfo, url: str, req: str, *extra: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    return _run([env.bin / "pip", "install", "-i", url, req, *extra], **environ)


def _cached(root: Path, pattern: str = "*.whl") -> bool:
    return any((root / "files").rglob(pattern))


@pytest.mark.parametrize("how", ["config", "env", "option"])
def test_cache_dir_moves_the_http_and_download_cache(
    how: str, store: Store, pip_index: LocalIndex, tmp_path: Path, forge_home: Path
) -> None:
    env = store.create_env("e")
    cache = tmp_path / "my cache"
    extra: list[str] = []
    environ: dict[str, str] = {}
    if how == "config":
        conf = tmp_path / "pip.conf"
        conf.write_text(f"[global]\ncache-dir = {cache}\n")
        environ["PIP_CONFIG_FILE"] = str(conf)
    elif how == "env":
        environ["PIP_CACHE_DIR"] = str(cache)
    else:
        extra = ["--cache-dir", str(cache)]
    with serve(pip_index.root) as server:
        proc = _http_install(env, server.index_url, "gamma", *extra, **environ)
    assert proc.returncode == 0, proc.stderr
    assert _cached(cache, "gamma-1.0-py3-none-any.whl"), "downloads cached in cache-dir"
    assert any((cache / "pages").rglob("*")), "parsed index pages cached in cache-dir"
    assert not _cached(forge_home / "cache"), "not in Forge's own cache"
    proc = _run([FORGE_BIN / "forge", "pip", "cache", "dir", *extra], **environ)
    assert proc.stdout.strip() == str(cache), proc.stderr


def test_no_cache_dir_and_defaults(
    store: Store, pip_index: LocalIndex, tmp_path: Path, forge_home: Path
) -> None:
    env = store.create_env("e")
    own = forge_home / "cache"
    with serve(pip_index.root) as server:
        url = server.index_url
        proc = _http_install(env, url, "setuptools==1.0", "--no-cache-dir", PIP_CACHE_DIR=str(tmp_path / "c"))
        assert proc.returncode == 0, proc.stderr
        assert not (tmp_path / "c").exists() and not _cached(own)
        proc = _http_install(env, url, "setuptools==2.0", PIP_NO_CACHE_DIR="1")
        assert proc.returncode == 0 and not _cached(own), proc.stderr
        proc = _http_install(env, url, "wheel==1.0")  # unset: Forge's own cache dir
        assert proc.returncode == 0 and _cached(own, "wheel-1.0-*.whl"), proc.stderr
        # pip's order: a later cache-dir (here [install] over [global]) turns the cache back on
        conf = tmp_path / "pip.conf"
        conf.write_text(f"[global]\nno-cache-dir = true\n[install]\ncache-dir = {tmp_path / 'back'}\n")
        proc = _http_install(env, url, "wheel==2.0", PIP_CONFIG_FILE=str(conf))
        assert proc.returncode == 0, proc.stderr
        assert _cached(tmp_path / "back", "wheel-2.0-*.whl")
    proc = _run([FORGE_BIN / "forge", "pip", "cache", "dir", "--no-cache-dir"])
    assert proc.returncode == 1 and "cache is disabled" in proc.stderr


# -- forge install REQUIREMENT ------------------------------------------------------------------


def test_forge_install_takes_requirements(store: Store, pip_index: LocalIndex, tmp_path: Path) -> None:
    store.create_env("base")
    store.create_env("app", parent="base")
    url = pip_index.file_url
    proc = forge_cli("install", "setuptools==1.0", "--env", "base", "-i", url)
    assert proc.returncode == 0, proc.stderr
    assert "Successfully installed setuptools-1.0" in proc.stdout
    proc = forge_cli("install", "setuptools==1.0", "--env", "app", "-i", url)
    assert "Requirement already satisfied: setuptools==1.0 in the parent layer 'base'" in proc.stdout
    assert "setuptools" not in _local(store, "app")
    proc = forge_cli("install", "setuptools==1.0", "--env", "app", "--local", "-i", url)
    assert proc.returncode == 0 and _local(store, "app")["setuptools"] == "1.0", proc.stderr
    reqs = tmp_path / "reqs.txt"
    reqs.write_text(f"--index-url {url}\nneeds-pip\ngamma==1.0\n")
    proc = forge_cli("install", "-r", str(reqs), "-e", "app", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert {"needs-pip", "gamma", "wheel"} <= set(_local(store, "app"))
    proc = forge_cli("install", "-U", "wheel==1.0", "--env", "app", "-i", url, "--json")
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "install" and [a["name"] for a in doc["actions"]] == ["wheel"], doc
    proc = forge_cli("install", "gamma", "--env", "app", "-i", url, "--json")
    assert json.loads(proc.stdout)["actions"][0]["action"] == "satisfied"
    proc = forge_cli("install", "nosuch", "--env", "app", "-i", url)
    assert proc.returncode == 23 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("forge: error:")


# -- forge create --seed pip --------------------------------------------------------------------


def test_seed_pip_links_the_real_pip_and_keeps_forges_launchers(
    store: Store, pip_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", pip_index.file_url)
    proc = forge_cli("create", "real", "--seed", "pip")
    assert proc.returncode == 0, proc.stderr
    env = store.env("real")
    assert pip_frontend.front_end_version(env.site_packages) is None
    assert _local(store, "real") == {"pip": "99.0"}
    proc = run_py(env.python, "import pip._internal, pip; print(pip.__version__)")
    assert proc.stdout.strip() == "99.0", proc.stderr
    assert pip_frontend.has_forge_launchers(env.path), "bin/pip is still Forge's, not pip's script"
    proc = _run([env.bin / "pip", "install", "needs-pip"])
    assert proc.returncode == 0 and "Requirement already satisfied: pip" in proc.stdout, proc.stderr
    doc = json.loads(forge_cli("doctor", "--verify", "--json").stdout)
    assert doc["findings"] == [], "a real pip is no finding; its entry verifies"
    # the seed fails (no pip on the index): no env is left behind
    empty = pip_index.root / "empty"
    empty.mkdir()
    monkeypatch.setenv("PIP_INDEX_URL", empty.as_uri())
    proc = forge_cli("create", "broken", "--seed", "pip")
    assert proc.returncode == 23 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "No matching distribution found for pip" in proc.stderr
    assert "broken" not in [e.name for e in store.envs()]
    assert not (store.home.envs / "broken").exists()


def test_a_venv_made_again_at_an_adopted_path_is_adopted_afresh(
    store: Store, pip_index: LocalIndex, tmp_path: Path
) -> None:
    """``tox -r`` and ``python -m venv --clear`` make a new venv where Forge adopted one: the
    catalog's links of the old one must not make Forge skip linking into the new one."""
    venv = tmp_path / "recreated"
    for _round in range(2):
        if venv.exists():
            import shutil

            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        proc = _run(
            [FORGE_BIN / "forge", "pip", "install", "--python", venv, "-i", pip_index.file_url, "gamma"]
        )
        assert proc.returncode == 0, proc.stderr
        assert "Successfully installed gamma-1.0" in proc.stdout
        assert run_py(venv / "bin/python", "import gamma").returncode == 0
    assert [e.name for e in store.envs() if e.path == venv] != []


def test_doctor_finds_a_missing_or_stale_pip_package_and_fix_rewrites_it(store: Store) -> None:
    """Envs made before the pip package existed (or whose package names another env) are found by
    ``forge doctor``; ``--fix`` writes it; a ``--seed pip`` env's real pip is not a finding."""
    import shutil

    env = store.create_env("e")
    shutil.rmtree(env.site_packages / "pip")
    shutil.rmtree(env.site_packages / f"pip-{PIP_VERSION}.dist-info")
    proc = forge_cli("doctor", "--json")
    doc = json.loads(proc.stdout)
    stale = [f["data"] for f in doc["findings"] if f["kind"] == "launcher-stale"]
    assert [(f["env"], f["file"]) for f in stale] == [("e", f"{env.interpreter.site_packages_rel}/pip")], doc
    proc = forge_cli("doctor", "--fix")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _front_end_intact(env)
    assert _run([env.python, "-m", "pip", "--version"]).returncode == 0
    init = env.site_packages / "pip" / "__init__.py"
    init.write_text(init.read_text().replace(repr(str(env.path)), repr("/elsewhere")))
    doc = json.loads(forge_cli("doctor", "--json").stdout)
    assert any(f["data"].get("problem") == "targets another env" for f in doc["findings"]), doc
    assert forge_cli("doctor", "--fix").returncode == 0
    assert json.loads(forge_cli("doctor", "--json").stdout)["findings"] == []
