"""Real clients of ``python -m pip`` against Forge envs: pip-sync, pip-compile, pip-audit, nox, an
ipykernel kernel's ``%pip``, tox, pipdeptree, ``pkg_resources`` and ``importlib.metadata``.

The tools' wheels are fetched once with plain ``pip download`` (the machine's pip configuration:
its local indexes and PyPI) into ``$FORGE_TEST_CACHE`` (default ~/.cache/forge-tests); after that
every install here is offline (``PIP_NO_INDEX``, find-links: that cache and the small wheels the
tests build). Tools that import pip's internals (pip-tools) live in a ``--seed pip`` env; the envs
they act on have Forge's front end as their pip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from forge_store import pip_frontend
from forge_store.seal import remove_tree
from forge_store.store import Store
from tests.support.wheel_cache import cache_set, fill
from tests.support.wheels import make_wheel

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.xdist_group("clients")]

FORGE = Path(sys.executable).parent / "forge"
TOOLS = [
    "pip-tools",
    "pip-audit",
    "pipdeptree",
    "nox",
    "tox",
    "ipykernel",
    "jupyter_client",
    "setuptools<81",  # pkg_resources is gone from later releases
    "wheel",
    "pip",
]


def _cache_dir() -> Path:
    return cache_set(f"clients-wheels-py{sys.version_info[0]}{sys.version_info[1]}")


@pytest.fixture(scope="module")
def tool_wheels() -> Path:
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the machine's local package indexes carry cp311 wheels")
    return fill(_cache_dir(), TOOLS, once=True)


class World:
    """One FORGE_HOME with offline pip settings, a tools env (real pip) and fresh target envs."""

    def __init__(self, root: Path, tool_wheels: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.demo = root / "demo-wheels"
        for name, version, requires in [
            ("demo-a", "1.0", []),
            ("demo-a", "2.0", []),
            ("demo-b", "1.0", []),
            ("demo-c", "1.0", []),
            ("demo-top", "1.0", ["demo-a<2"]),
        ]:
            module = name.replace("-", "_")
            make_wheel(
                self.demo,
                name,
                version,
                requires=requires,
                files={f"{module}/__init__.py": f"__version__ = {version!r}\n"},
            )
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
        self.environ.update(
            FORGE_HOME=str(self.home),
            PIP_CONFIG_FILE=os.devnull,
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS=f"{self.demo} {tool_wheels}",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            # the tools' own caches and state stay in this test's directory, not in ~
            XDG_CACHE_HOME=str(root / "xdg-cache"),
            XDG_DATA_HOME=str(root / "xdg-data"),
            IPYTHONDIR=str(root / "ipython"),
            JUPYTER_CONFIG_DIR=str(root / "jupyter-config"),
            JUPYTER_DATA_DIR=str(root / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(root / "jupyter-runtime"),
            VIRTUALENV_OVERRIDE_APP_DATA=str(root / "virtualenv-app-data"),
        )
        self.environ.pop("VIRTUAL_ENV", None)
        self._n = 0

    def run(
        self, argv: list[str | Path], *, cwd: Path | None = None, timeout: float = 180, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.environ, **extra)
        return subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd or self.root,
            timeout=timeout,
            check=False,
        )

    def ok(self, argv: list[str | Path], **kw: object) -> str:
        proc = self.run(argv, **kw)  # type: ignore[arg-type]
        assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-3000:])
        return proc.stdout

    def env(self, *packages: str) -> Path:
        """A fresh Forge env (Forge's pip front end) with ``packages`` installed."""
        self._n += 1
        name = f"app{self._n}"
        self.ok([FORGE, "create", name, "-q"])
        if packages:
            self.ok([FORGE, "install", "--env", name, "-q", *packages])
        return self.home / "envs" / name

    def listed(self, env: Path) -> dict[str, str]:
        out = self.ok([env / "bin/python", "-m", "pip", "list", "--format", "json"])
        return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tool_wheels: Path) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("clients"), tool_wheels)
    yield w
    remove_tree(w.home)


@pytest.fixture(scope="module")
def tools(world: World) -> Path:
    """pip-tools, nox and tox in a ``--seed pip`` env (pip-tools imports pip's internals)."""
    world.ok([FORGE, "create", "tools", "--seed", "pip", "-q"])
    world.ok([FORGE, "install", "--env", "tools", "-q", "pip-tools", "nox", "tox"])
    return world.home / "envs" / "tools"


def _front_end_intact(env: Path) -> None:
    site = next((env / "lib").glob("python3.*/site-packages"))
    assert pip_frontend.front_end_version(site) == pip_frontend.PIP_VERSION
    assert pip_frontend.has_forge_launchers(env)


# -- pip-tools ----------------------------------------------------------------------------------


def test_pip_sync_drives_a_forge_env(world: World, tools: Path) -> None:
    app = world.env("demo-c", "demo-a==2.0")
    reqs = world.root / "sync.txt"
    reqs.write_text("demo-a==1.0\ndemo-b==1.0\n")
    out = world.ok([tools / "bin/pip-sync", "--python-executable", app / "bin/python", reqs])
    assert "demo-c" in out or "Uninstalling demo-c" in out
    listed = world.listed(app)
    assert {k: v for k, v in listed.items() if k.startswith("demo")} == {"demo-a": "1.0", "demo-b": "1.0"}
    assert listed["pip"] == pip_frontend.PIP_VERSION, "pip-sync leaves pip alone"
    _front_end_intact(app)


def test_pip_compile_output_installs_with_r(world: World, tools: Path) -> None:
    src = world.root / "top.in"
    src.write_text("demo-top\n")
    for extra, name in (([], "top.txt"), (["--generate-hashes"], "top-hashed.txt")):
        out = world.root / name
        world.ok([tools / "bin/pip-compile", "-q", "--strip-extras", *extra, "-o", out, src])
        assert "demo-a==1.0" in out.read_text()
        app = world.env()
        text = world.ok([app / "bin/python", "-m", "pip", "install", "-r", out])
        assert "Successfully installed demo-a-1.0 demo-top-1.0" in text, text
        assert "--hash" not in extra or "sha256:" in out.read_text()


# -- pip-audit (through pip-api, which depends on pip) -------------------------------------------


def test_pip_audit_lists_a_forge_env_offline(world: World) -> None:
    """``pip-audit --dry-run`` collects the env's dists through ``python -m pip list`` and stops
    before the vulnerability service: it runs offline. (An actual audit needs the network.)"""
    app = world.env("pip-audit", "demo-top")
    listed = world.listed(app)
    assert "pip-api" in listed and listed["pip"] == pip_frontend.PIP_VERSION
    proc = world.run([app / "bin/pip-audit", "--dry-run", "--local", "--progress-spinner", "off"])
    assert proc.returncode == 0, proc.stderr
    assert f"would have audited {len(listed)} packages" in proc.stderr, proc.stderr
    code = "import pip_api; print(json.dumps(sorted(pip_api.installed_distributions(local=True))))"
    names = json.loads(world.ok([app / "bin/python", "-c", f"import json; {code}"]))
    assert {"demo-top", "demo-a", "pip-audit"} <= {canonicalize_name(n) for n in names}, names
    version = world.ok([app / "bin/python", "-c", "import pip_api; print(pip_api.PIP_VERSION)"])
    assert version.strip() == pip_frontend.PIP_VERSION


# -- nox ------------------------------------------------------------------------------------------


def test_nox_session_runs_python_m_pip_in_a_forge_env(world: World, tools: Path) -> None:
    """A session with ``venv_backend="none"`` runs in the env on PATH (an activated Forge env)."""
    app = world.env()
    project = world.root / "noxproject"
    project.mkdir()
    (project / "noxfile.py").write_text(
        textwrap.dedent(
            """\
            import nox

            @nox.session(venv_backend="none")
            def deps(session):
                session.run("python", "-m", "pip", "install", "demo-b")
                session.run("python", "-c", "import demo_b, sys; print('IN', sys.prefix)")
            """
        )
    )
    path = f"{app / 'bin'}{os.pathsep}{world.environ['PATH']}"
    out = world.ok([tools / "bin/nox", "-s", "deps"], cwd=project, PATH=path, VIRTUAL_ENV=str(app))
    assert world.listed(app).get("demo-b") == "1.0"
    proc = world.run([tools / "bin/nox", "-s", "deps"], cwd=project, PATH=path, VIRTUAL_ENV=str(app))
    assert f"IN {app}" in proc.stdout + proc.stderr + out


# -- Jupyter: %pip in an ipykernel kernel ------------------------------------------------------------

_KERNEL_DRIVER = """
import json
from jupyter_client.manager import KernelManager

km = KernelManager(kernel_name="python3")
km.start_kernel()
kc = km.client()
kc.start_channels()
out = []
try:
    kc.wait_for_ready(timeout=60)

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])

    cells = ("%pip install demo-b", "import demo_b, sys; print('KERNEL', demo_b.__version__, sys.executable)")
    for code in cells:
        reply = kc.execute_interactive(code, timeout=120, output_hook=hook)
        out.append("STATUS " + reply["content"]["status"])
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(json.dumps(out))
"""


def test_ipykernel_pip_magic_installs_into_the_forge_env(world: World) -> None:
    nb = world.env("ipykernel", "jupyter_client")
    assert (nb / "share/jupyter/kernels/python3/kernel.json").is_file(), "ipykernel's .data reached the env"
    driver = world.root / "drive_kernel.py"
    driver.write_text(_KERNEL_DRIVER)
    out = json.loads(world.ok([nb / "bin/python", driver], timeout=240).splitlines()[-1])
    text = "".join(out)
    assert "Successfully installed demo-b-1.0" in text, text
    assert f"KERNEL 1.0 {nb / 'bin/python'}" in text, text
    assert "ERROR" not in text and out.count("STATUS ok") == 2, text
    assert world.listed(nb).get("demo-b") == "1.0"


# -- tox --------------------------------------------------------------------------------------------


def test_tox_install_command_through_forge(world: World, tools: Path) -> None:
    """tox's own virtualenv, its installs done by Forge: ``install_command`` and ``allowlist_externals``."""
    project = world.root / "toxproject"
    project.mkdir()
    (project / "tox.ini").write_text(
        textwrap.dedent(
            f"""\
            [tox]
            env_list = t
            [testenv:t]
            skip_install = true
            deps = demo-top
            install_command = {FORGE} pip install --python {{env_python}} {{opts}} {{packages}}
            allowlist_externals = {FORGE}
            pass_env = FORGE_HOME
            commands = python check.py
            """
        )
    )
    (project / "check.py").write_text(
        "import os, demo_a\nprint('TOX', os.path.islink(os.path.dirname(demo_a.__file__)))\n"
    )
    out = world.ok([tools / "bin/tox", "-e", "t"], cwd=project)
    assert "TOX True" in out, out  # linked from Forge's store, not copied by pip
    with Store(world.home) as store:
        assert store.env_at(project / ".tox" / "t") is not None, "adopted in this FORGE_HOME"
    # tox -r makes the venv again at the same path: Forge links into the new one
    out = world.ok([tools / "bin/tox", "-r", "-e", "t"], cwd=project)
    assert "TOX True" in out, out


# -- pipdeptree, pkg_resources, importlib.metadata ---------------------------------------------------


def test_pipdeptree_sees_the_tree(world: World) -> None:
    app = world.env("pipdeptree", "demo-top")
    tree = json.loads(world.ok([app / "bin/pipdeptree", "--json-tree", "-p", "demo-top"]))
    assert [(t["key"], [d["key"] for d in t["dependencies"]]) for t in tree] == [("demo-top", ["demo-a"])]
    proc = world.run([app / "bin/pipdeptree", "--warn", "fail"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


_METADATA_PROBE = """
import importlib.metadata as md, json, os, sys
import pkg_resources

out = {"missing": {}, "pycs": {}, "direct_url": []}
site = sys.argv[1]
for d in md.distributions():
    if os.path.realpath(d.locate_file("")) != os.path.realpath(site):
        continue  # e.g. setuptools' vendored dists, once pkg_resources put them on sys.path
    name = d.metadata["Name"]
    files = d.files or []
    out["missing"][name] = [str(f) for f in files if not os.path.isfile(f.locate())]
    out["pycs"][name] = sum(1 for f in files if str(f).endswith(".pyc"))
    if d.read_text("direct_url.json") is not None:
        out["direct_url"].append(name)
dist = pkg_resources.get_distribution("demo-top")
out["pkg_resources"] = [str(r) for r in pkg_resources.require("demo-top")]
out["version"] = dist.version
out["scripts"] = sorted(ep.name for ep in pkg_resources.iter_entry_points("console_scripts"))
print(json.dumps(out))
"""


def test_pkg_resources_and_importlib_metadata_match_the_filesystem(world: World) -> None:
    app = world.env("setuptools<81", "demo-top", "pipdeptree")
    world.ok([app / "bin/pip", "install", next(world.demo.glob("demo_c-*.whl"))])  # direct: direct_url.json
    probe = world.root / "metadata_probe.py"
    probe.write_text(_METADATA_PROBE)
    site = next((app / "lib").glob("python3.*/site-packages"))
    doc = json.loads(world.ok([app / "bin/python", "-W", "ignore", probe, site]).splitlines()[-1])
    assert {name: m for name, m in doc["missing"].items() if m} == {}, "files() names only what exists"
    assert all(doc["pycs"][name] for name in ("setuptools", "demo-top", "pipdeptree")), doc["pycs"]
    assert doc["direct_url"] == ["demo-c"], "only the direct install has a direct_url.json"
    assert doc["version"] == "1.0" and "demo-a 1.0" in doc["pkg_resources"][1:] + doc["pkg_resources"]
    assert "pipdeptree" in doc["scripts"]


def test_upgrade_pip_setuptools_wheel_the_ci_first_line(world: World) -> None:
    app = world.env()
    proc = world.run([app / "bin/python", "-m", "pip", "install", "-U", "pip", "setuptools", "wheel"])
    assert proc.returncode == 0, proc.stderr
    assert "Requirement already satisfied: pip in" in proc.stdout
    listed = world.listed(app)
    assert {"setuptools", "wheel"} <= set(listed) and listed["pip"] == pip_frontend.PIP_VERSION
    _front_end_intact(app)
