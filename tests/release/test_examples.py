"""The examples/ run as their docstrings say: real subprocesses, real venvs, a loopback index.

Every example reads the index from pip's configuration, so each test points ``PIP_INDEX_URL`` at a
loopback index of factory wheels and turns the machine's pip configuration off. The layered ML
stack with real numpy/scipy/torch is ``real`` and opt-in (``FORGE_TEST_ML_STACK=1``): it ingests a
~190 MB torch wheel (about 1 GB unpacked); the test took 95 s here (the build alone 54 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store.seal import remove_tree
from tests.support.index_server import IndexServer, LocalIndex, serve
from tests.support.user_env import BIN, user_environ
from tests.support.wheels import make_wheel

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    """idna, six, attrs, packaging, typing-extensions and a small app with a dependency."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    local = LocalIndex(tmp_path / "index")
    specs: list[tuple[str, str, tuple[str, ...]]] = [
        ("idna", "3.10", ()),
        ("six", "1.17.0", ()),
        ("attrs", "25.1.0", ()),
        ("packaging", "25.0", ()),
        ("typing-extensions", "4.15.0", ()),
        ("deplib", "1.0", ()),
        ("deplib", "2.0", ()),
        ("toolpkg", "1.0", ("deplib<2",)),
    ]
    for name, version, requires in specs:
        module = name.replace("-", "_")
        local.add(
            make_wheel(
                wheels,
                name,
                version,
                files={f"{module}/__init__.py": f"__version__ = {version!r}\n"},
                requires=requires,
            )
        )
    local.write()
    with serve(local.root) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, index: IndexServer) -> Iterator[dict[str, str]]:
    """The environment a user would run the examples in: Forge on PATH, pip configured with one index."""
    home = tmp_path / "forge-home"
    (tmp_path / "home").mkdir()
    environ = user_environ(tmp_path, forge_home=home, home=tmp_path / "home", index_url=index.index_url)
    yield environ
    remove_tree(home)


def run(args: list[str], environ: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=environ, cwd=cwd, check=False, timeout=300
    )


def example(name: str, *args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(EXAMPLES / name), *args], environ)


def forge(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "forge"), *args], environ)


def env_python(environ: dict[str, str], name: str) -> Path:
    return Path(environ["FORGE_HOME"]) / "envs" / name / "bin" / "python"


def imports(environ: dict[str, str], env_name: str, code: str) -> str:
    clean = {k: v for k, v in environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = run([str(env_python(environ, env_name)), "-c", code], clean, cwd=Path(environ["HOME"]))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


# -- (a) layered_envs.py ---------------------------------------------------------------------


def test_layered_envs_downloads_its_wheels_from_the_configured_index(
    env: dict[str, str], index: IndexServer
) -> None:
    r = example("layered_envs.py", environ=env)
    assert r.returncode == 0, r.stderr
    assert f"from index {index.index_url}" in r.stdout
    assert "base:  linked       idna 3.10" in r.stdout
    assert "child: linked       six 1.17.0" in r.stdout
    assert "example-child sees idna 3.10 from parent (example-base)" in r.stdout
    assert "example-child sees six 1.17.0 from local (example-child)" in r.stdout
    assert imports(env, "example-child", "import idna, six; print(idna.__version__, six.__version__)") == (
        "3.10 1.17.0"
    )
    again = example("layered_envs.py", environ=env)  # a second run changes nothing
    assert again.returncode == 0, again.stderr
    assert "base:  unchanged    idna 3.10" in again.stdout


def test_layered_envs_with_wheel_files(env: dict[str, str], tmp_path: Path) -> None:
    wheels = tmp_path / "mine"
    wheels.mkdir()
    first = make_wheel(wheels, "basepkg", "1.0", files={"basepkg/__init__.py": ""})
    second = make_wheel(wheels, "childpkg", "2.0", files={"childpkg/__init__.py": ""})
    r = example("layered_envs.py", str(first), str(second), environ=env)
    assert r.returncode == 0, r.stderr
    assert "example-child sees basepkg 1.0 from parent (example-base)" in r.stdout
    assert "example-child sees childpkg 2.0 from local (example-child)" in r.stdout
    missing = example("layered_envs.py", str(wheels / "nope-1.0-py3-none-any.whl"), environ=env)
    assert missing.returncode == 2 and "no such wheel file" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("script", ["layered_envs.py", "library_tool.py", "layered_ml_stack.py"])
def test_an_interpreter_without_forge_gets_one_line_naming_the_right_one(
    env: dict[str, str], script: str
) -> None:
    """What failed before: ``python examples/layered_envs.py`` with a python that has no Forge."""
    r = run([sys.executable, "-S", str(EXAMPLES / script), "x", "y"], env)  # -S: no site-packages
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f".venv/bin/python examples/{script}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not Path(env["FORGE_HOME"]).exists()


# -- (b) library_tool.py ---------------------------------------------------------------------


def test_library_tool_builds_and_links_envs_from_the_index(env: dict[str, str]) -> None:
    r = example("library_tool.py", "tool-base", "deplib", environ=env)
    assert r.returncode == 0, r.stderr
    assert "linked       deplib 2.0 (store entry: new)" in r.stdout
    r = example(
        "library_tool.py",
        "tool-app",
        "toolpkg",
        "--parent",
        "tool-base",
        "--run",
        "import toolpkg, deplib; print(toolpkg.__version__, deplib.__version__)",
        environ=env,
    )
    assert r.returncode == 0, r.stderr
    # the parent's deplib 2.0 does not meet toolpkg's deplib<2: the child links its own 1.0
    assert "linked       toolpkg 1.0" in r.stdout
    assert "tool-app sees deplib 1.0 from local (tool-app)" in r.stdout
    assert r.stdout.strip().endswith("1.0 1.0")
    listed = forge("list", "--env", "tool-app", "--json", environ=env)
    assert listed.returncode == 0 and '"toolpkg"' in listed.stdout

    r = example("library_tool.py", "tool-app2", "six", "--parent", "tool-app", environ=env)
    assert r.returncode == 0, r.stderr
    assert "tool-app2 sees toolpkg 1.0 from parent (tool-app)" in r.stdout


def test_library_tool_dry_run_and_bad_input_change_nothing(env: dict[str, str]) -> None:
    r = example("library_tool.py", "dry", "toolpkg", "--dry-run", environ=env)
    assert r.returncode == 0, r.stderr
    assert "Would install deplib-1.0 toolpkg-1.0" in r.stdout
    for args, code, words in (
        (["nothere", "no-such-package"], 23, "No matching distribution found for no-such-package"),
        (["orphan", "six", "--parent", "no-such-env"], 3, "no env named 'no-such-env'"),
        (["bad", "six==="], 2, ""),
    ):
        r = example("library_tool.py", *args, environ=env)
        assert r.returncode == code, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and words in r.stderr
    envs = forge("envs", "--json", environ=env)
    assert envs.returncode == 0
    for name in ("dry", "nothere", "orphan", "bad"):
        assert f'"name": "{name}"' not in envs.stdout


# -- (c) layered_ml_stack.py -----------------------------------------------------------------


def test_layered_ml_stack_small_mode_prints_what_it_saved(env: dict[str, str]) -> None:
    r = example("layered_ml_stack.py", "--small", environ=env)
    assert r.returncode == 0, r.stderr
    assert "ml-app-serve (on ml-torch): typing-extensions" in r.stdout
    assert "saved: " in r.stdout and "two separate app venvs: " in r.stdout
    assert imports(env, "ml-app-train", "import six, idna, attrs, packaging; print('ok')") == "ok"
    again = example("layered_ml_stack.py", "--small", environ=env)
    assert again.returncode == 0 and "new store entry" not in again.stdout


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("FORGE_TEST_ML_STACK") != "1",
    reason="ingests torch (~190 MB, ~1 GB unpacked; about a minute): FORGE_TEST_ML_STACK=1 runs it",
)
def test_layered_ml_stack_real(tmp_path: Path) -> None:
    """With the machine's configured indexes, as the docstring says."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FORGE_ENV")}
    environ["FORGE_HOME"] = str(tmp_path / "forge-home")
    try:
        dry = run([sys.executable, str(EXAMPLES / "layered_ml_stack.py"), "--dry-run"], environ)
        assert dry.returncode == 0, dry.stderr
        assert "torch==2.13.0+cpu" in dry.stdout and "Would install numpy-" in dry.stdout
        r = run([sys.executable, str(EXAMPLES / "layered_ml_stack.py")], environ)
        assert r.returncode == 0, r.stderr
        assert "saved: " in r.stdout
        python = tmp_path / "forge-home" / "envs" / "ml-app-serve" / "bin" / "python"
        code = "import torch, numpy, scipy, attrs; print(torch.tensor([1.0, 2.0]).sum().item())"
        check = run([str(python), "-c", code], environ, cwd=tmp_path)
        assert check.returncode == 0 and check.stdout.strip() == "3.0", check.stderr
    finally:
        remove_tree(tmp_path / "forge-home")


# -- (d) shell-profile.sh --------------------------------------------------------------------


def _fish_block() -> str:
    text = (EXAMPLES / "shell-profile.sh").read_text(encoding="utf-8")
    block = text.split("# fish (~/.config/fish/config.fish):\n", 1)[1]
    return "".join(line[2:] + "\n" for line in block.splitlines())


SHELLS = ("bash", "fish", "zsh")


def _profile_run(shell: str, env: dict[str, str], tmp_path: Path, body: str) -> str:
    """Run ``body`` in a shell whose startup file holds the profile lines, as a user's would."""
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed")
    profile = EXAMPLES / "shell-profile.sh"
    env = dict(env)
    if shell == "bash":  # ~/.bashrc, read by an interactive bash
        Path(env["HOME"], ".bashrc").write_text(f". {profile}\n", encoding="utf-8")
        args = [exe, "-i", "-c", body]
    elif shell == "zsh":  # $ZDOTDIR/.zshrc
        zdot = tmp_path / "zdot"
        zdot.mkdir(exist_ok=True)
        (zdot / ".zshrc").write_text(f". {profile}\n", encoding="utf-8")
        env["ZDOTDIR"] = str(zdot)
        args = [exe, "-i", "-c", body]
    else:  # ~/.config/fish/config.fish, read by every fish
        config = Path(env["XDG_CONFIG_HOME"]) / "fish"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.fish").write_text(_fish_block(), encoding="utf-8")
        args = [exe, "-c", body]
    r = run(args, env, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_shell_profile_makes_pip_forge_pip(shell: str, env: dict[str, str], tmp_path: Path) -> None:
    out = _profile_run(shell, env, tmp_path, "type pip; pip --version")
    assert "forge pip" in out  # bash: "aliased to `forge pip'", zsh: "an alias for", fish: a function
    assert "[forge " in out  # pip's --version line, with Forge named after it


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_shell_profile_activates_the_default_env(shell: str, env: dict[str, str], tmp_path: Path) -> None:
    assert forge("create", "daily", environ=env).returncode == 0
    with_env = {**env, "FORGE_DEFAULT_ENV": "daily"}
    out = _profile_run(shell, with_env, tmp_path, 'echo "VE=$VIRTUAL_ENV"; command -v python')
    daily = Path(env["FORGE_HOME"]) / "envs" / "daily"
    assert f"VE={daily}" in out
    assert f"{daily}/bin/python" in out
    missing = {**env, "FORGE_DEFAULT_ENV": "no-such-env"}
    out = _profile_run(shell, missing, tmp_path, 'echo "VE=$VIRTUAL_ENV"')
    assert out.strip() == "VE="
