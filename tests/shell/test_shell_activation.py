"""``forge activate`` in real bash, zsh and fish: the shell keeps working, and ``deactivate`` undoes it.

In each shell: eval the activation, then in the same shell ``pip --version``, ``pip install`` from a
test index, ``pip list``, ``forge envs``, ``forge pip list``, the env's ``python``, another
interpreter, ``deactivate``; each step under a timeout. The env path holds a space and a quote.
The ``leaky`` variant starts the shell with the layered PYTHONPATH exported (what activation used to
do, and what users still export by hand): Forge's own commands must not loop or break on it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from forge_store.activation import activate_script, detect_shell, fish_quote
from forge_store.pip_frontend import PIP_VERSION
from tests.shell.conftest import FORGE_BIN, ShellRun, run_shell, steps_script, user_environ
from tests.support.index_server import LocalIndex, serve

SHELLS = ["bash", "zsh", "fish"]
OTHER_PYTHON = "/usr/bin/python3.11"  # not the env's interpreter (the test venv's is pyenv's 3.11)


def _forge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``forge`` console script, with the environment as it is (no stripping)."""
    return subprocess.run(
        [str(FORGE_BIN / "forge"), *args],
        capture_output=True,
        text=True,
        env=env or user_environ(),
        check=False,
        timeout=120,
    )


def _create(name: str, *extra: str) -> Path:
    proc = _forge("create", name, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["env"]["path"])


def _activate_line(shell: str, name: str) -> str:
    if shell == "fish":
        return f"timeout 60 forge activate {name} --shell fish | source\n"
    return f'eval "$(timeout 60 forge activate {name} --shell {shell})"\n'


def _session(shell: str, name: str, steps: list[tuple[str, str]]) -> str:
    """Activate, show the state, run the steps, deactivate, show the state again."""
    if shell == "fish":
        return (
            "set -g before_path $PATH\n"
            "set -g before_prompt (fish_prompt | string collect)\n"
            + _activate_line(shell, name)
            + "printf '@@ VIRTUAL_ENV=%s\\n' \"$VIRTUAL_ENV\"\n"
            + "printf '@@ PATH0=%s\\n' $PATH[1]\n"
            + "printf '@@ PROMPT=%s\\n' (fish_prompt | string collect)\n"
            + "set -q PYTHONPATH; and printf '@@ PYTHONPATH=%s\\n' \"$PYTHONPATH\"\n"
            + steps_script(shell, steps)
            + "deactivate\n"
            + "set -q VIRTUAL_ENV; or printf '@@ AFTER_VIRTUAL_ENV=unset\\n'\n"
            + "test (string join : $PATH) = (string join : $before_path)\n"
            + "and printf '@@ PATH_RESTORED=yes\\n'\n"
            + 'test (fish_prompt | string collect) = "$before_prompt"\n'
            + "and printf '@@ PROMPT_RESTORED=yes\\n'\n"
            + "functions -q deactivate; or printf '@@ DEACTIVATE_GONE=yes\\n'\n"
        )
    return (
        "PS1='user$ '\n"
        'before_path="$PATH"\n'
        + _activate_line(shell, name)
        + "printf '@@ VIRTUAL_ENV=%s\\n' \"$VIRTUAL_ENV\"\n"
        + "printf '@@ PATH0=%s\\n' \"${PATH%%:*}\"\n"
        + "printf '@@ PROMPT=%s\\n' \"$PS1\"\n"
        + '[ -n "${PYTHONPATH+set}" ] && printf \'@@ PYTHONPATH=%s\\n\' "$PYTHONPATH"\n'
        + steps_script(shell, steps)
        + "deactivate\n"
        + "[ -z \"${VIRTUAL_ENV+set}\" ] && printf '@@ AFTER_VIRTUAL_ENV=unset\\n'\n"
        + '[ "$PATH" = "$before_path" ] && printf \'@@ PATH_RESTORED=yes\\n\'\n'
        + "[ \"$PS1\" = 'user$ ' ] && printf '@@ PROMPT_RESTORED=yes\\n'\n"
        + "type deactivate 2>/dev/null | grep -q function || printf '@@ DEACTIVATE_GONE=yes\\n'\n"
    )


def _assert_restored(run: ShellRun) -> None:
    for mark in ("AFTER_VIRTUAL_ENV", "PATH_RESTORED", "PROMPT_RESTORED", "DEACTIVATE_GONE"):
        assert mark in run.marks, f"{mark} missing after deactivate:\n{run.proc.stdout}\n{run.proc.stderr}"


@pytest.mark.parametrize("leaky", [False, True], ids=["clean", "leaky-pythonpath"])
@pytest.mark.parametrize("shell", SHELLS)
def test_activate_then_use_the_shell(
    shell: str, leaky: bool, tricky_home: Path, shell_index: LocalIndex, tmp_path: Path
) -> None:
    base = _create("base")
    env_path = _create("ml", "--parent", "base")
    assert " " in str(env_path) and "'" in str(env_path)
    extra = {"PIP_INDEX_URL": shell_index.file_url}
    if leaky:
        layered = _forge("activate", "ml", "--pythonpath").stdout.strip()
        assert str(base) in layered
        extra["PYTHONPATH"] = layered
    steps = [
        ("pip-version", "pip --version"),
        ("pip-install", "pip install alpha"),
        ("pip-list", "pip list --format freeze"),
        ("forge-envs", "forge envs"),
        ("forge-pip-list", "forge pip list --format freeze"),
        ("python-m-forge-pip", "python -m forge_pip --version"),
        ("env-python", "python -c 'import alpha, sys; print(sys.prefix)'"),
        ("other-python", f"{OTHER_PYTHON} -c 'import sys; print(sys.version_info[:2])'"),
        (
            "other-python-sees-env",
            f"{OTHER_PYTHON} -c 'import importlib.util as u; print(u.find_spec(\"alpha\") is not None)'",
        ),
    ]
    run = run_shell(shell, _session(shell, "ml", steps), user_environ(**extra), cwd=tmp_path)
    assert run.marks.get("VIRTUAL_ENV") == str(env_path), run.proc.stderr
    assert run.marks.get("PATH0") == str(env_path / "bin")
    assert "(ml) " in re.sub(r"\x1b[\[(][0-9;]*[A-Za-z]", "", run.marks.get("PROMPT", "")), run.marks
    if not leaky:
        assert "PYTHONPATH" not in run.marks, "activation must not export PYTHONPATH"
    assert run.step("pip-version").startswith("pip ")
    assert "Successfully installed alpha-1.0 beta-2.0" in run.step("pip-install")
    assert run.step("pip-list").splitlines() == ["alpha==1.0", "beta==2.0", f"pip=={PIP_VERSION}"]
    assert "ml" in run.step("forge-envs") and "base" in run.step("forge-envs")
    assert run.step("forge-pip-list").splitlines() == ["alpha==1.0", "beta==2.0", f"pip=={PIP_VERSION}"]
    assert run.step("python-m-forge-pip").startswith("pip ")
    assert run.step("env-python").strip() == str(env_path)
    assert run.step("other-python").strip() == "(3, 11)"
    # without a PYTHONPATH, another interpreter sees nothing of the env
    assert run.step("other-python-sees-env").strip() == ("True" if leaky else "False")
    _assert_restored(run)


@pytest.mark.parametrize("shell", SHELLS)
def test_newcomer_activate_pip_install_list(
    shell: str, tricky_home: Path, shell_index: LocalIndex, tmp_path: Path
) -> None:
    """The first thing a newcomer types, against a real HTTP index: activate, install, list, envs;
    and ``alias pip='forge pip'`` does the same in any shell."""
    env_path = _create("ml")
    with serve(shell_index.root) as server:
        env = user_environ(PIP_INDEX_URL=server.index_url)
        steps = [
            ("install", "pip install app 'fancy[color]'"),
            ("list", "pip list"),
            ("envs", "forge envs"),
            ("forge-pip-install", "forge pip install yank"),
            ("freeze", "forge pip freeze"),
        ]
        run = run_shell(shell, _session(shell, "ml", steps), env, cwd=tmp_path)
    assert "Successfully installed" in run.step("install")
    listing = run.step("list")
    for name in ("app", "tool", "beta", "fancy", "gamma"):
        assert name in listing
    assert "ml" in run.step("envs")
    assert "yank-1.0" in run.step("forge-pip-install")
    assert run.step("freeze").splitlines() == [
        "app==1.0",
        "beta==2.0",
        "fancy==1.0",
        "gamma==1.0",
        "tool==1.0",
        "yank==1.0",
    ]
    assert run.marks.get("VIRTUAL_ENV") == str(env_path)
    _assert_restored(run)


@pytest.mark.parametrize("shell", SHELLS)
def test_alias_pip_is_forge_pip(
    shell: str, tricky_home: Path, shell_index: LocalIndex, tmp_path: Path
) -> None:
    env_path = _create("ml")
    alias = "alias pip 'forge pip'\n" if shell == "fish" else "alias pip='forge pip'\n"
    if shell == "bash":
        alias = "shopt -s expand_aliases\n" + alias
    # an alias is expanded when its line is read: it is defined on a line before those using it
    script = alias + _activate_line(shell, "ml") + "pip install gamma\npip list --format freeze\ndeactivate\n"
    run = run_shell(shell, script, user_environ(PIP_INDEX_URL=shell_index.file_url), cwd=tmp_path)
    assert run.proc.returncode == 0, run.proc.stderr
    assert "gamma==1.0" in run.proc.stdout.splitlines(), run.proc.stdout
    assert list((env_path / "lib").glob("python3*/site-packages/gamma"))


@pytest.mark.parametrize("shell", SHELLS)
def test_activation_quotes_any_path(shell: str, tmp_path: Path) -> None:
    """Spaces, quotes, ``$(...)``, backquotes and backslashes in an env path stay data in every shell."""
    for i, name in enumerate(["a b'c\"d", "$(touch pwned)`touch pwned2`", "back\\slash\\", "x\\'y"]):
        path = tmp_path / f"{i}" / name
        script = activate_script(name="ml", path=path, shell=shell)
        check = (
            "printf '@@ VIRTUAL_ENV=%s\\n' \"$VIRTUAL_ENV\"\nprintf '@@ PATH0=%s\\n' $PATH[1]\n"
            if shell == "fish"
            else "printf '@@ VIRTUAL_ENV=%s\\n' \"$VIRTUAL_ENV\"\nprintf '@@ PATH0=%s\\n' \"${PATH%%:*}\"\n"
        )
        run = run_shell(shell, script + check + "deactivate\n", user_environ(), cwd=tmp_path)
        assert run.proc.returncode == 0, run.proc.stderr
        assert run.marks["VIRTUAL_ENV"] == str(path), (name, run.proc.stdout, run.proc.stderr)
        assert run.marks["PATH0"] == f"{path}/bin"
        assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_bin_activate_files_and_switching_from_a_plain_venv(
    shell: str, tricky_home: Path, tmp_path: Path
) -> None:
    """``source ENV/bin/activate[.fish]`` is the same code; activating over a plain venv's activation
    first undoes that one (CPython's variable names), and one ``deactivate`` restores the start."""
    env_path = _create("ml")
    venv = tmp_path / "plain venv"
    subprocess.run([OTHER_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    if shell == "fish":
        script = (
            "set -g before_path $PATH\n"
            f"source {fish_quote(str(venv / 'bin/activate.fish'))}\n"
            f"source {fish_quote(str(env_path / 'bin/activate.fish'))}\n"
            "printf '@@ VIRTUAL_ENV=%s\\n' \"$VIRTUAL_ENV\"\n"
            "printf '@@ PATH1=%s\\n' $PATH[2]\n"
            "deactivate\n"
            "test (string join : $PATH) = (string join : $before_path)\n"
            "and printf '@@ PATH_RESTORED=yes\\n'\n"
        )
    else:
        script = (
            'before_path="$PATH"\n'
            f". {shlex.quote(str(venv / 'bin/activate'))}\n"
            f". {shlex.quote(str(env_path / 'bin/activate'))}\n"
            "printf '@@ VIRTUAL_ENV=%s\\n' \"$VIRTUAL_ENV\"\n"
            "p=${PATH#*:}; printf '@@ PATH1=%s\\n' \"${p%%:*}\"\n"
            "deactivate\n"
            '[ "$PATH" = "$before_path" ] && printf \'@@ PATH_RESTORED=yes\\n\'\n'
        )
    run = run_shell(shell, script, user_environ(), cwd=tmp_path)
    assert run.marks.get("VIRTUAL_ENV") == str(env_path), (run.proc.stdout, run.proc.stderr)
    assert run.marks.get("PATH1") != str(venv / "bin"), "the plain venv's bin left PATH"
    assert run.marks.get("PATH_RESTORED") == "yes", (run.proc.stdout, run.proc.stderr)
    assert (env_path / "bin/activate").read_text() == _forge("activate", "ml", "--shell", "bash").stdout
    assert (env_path / "bin/activate.fish").read_text() == _forge("activate", "ml", "--shell", "fish").stdout


def test_default_shell_follows_dollar_shell(tricky_home: Path) -> None:
    _create("ml")
    fish = _forge("activate", "ml", env=user_environ(SHELL="/usr/bin/fish")).stdout
    assert "set -gx VIRTUAL_ENV" in fish
    for shell in ("/bin/zsh", "/bin/bash", "/bin/tcsh", ""):
        out = _forge("activate", "ml", env=user_environ(SHELL=shell)).stdout
        assert "\nexport VIRTUAL_ENV\n" in out, shell
    env = user_environ()
    env.pop("SHELL", None)
    assert "\nexport VIRTUAL_ENV\n" in _forge("activate", "ml", env=env).stdout
    assert detect_shell({"SHELL": "/opt/homebrew/bin/fish"}) == "fish"
    assert detect_shell({}) == "bash"


def test_pythonpath_flag_prints_the_layers_only(tricky_home: Path) -> None:
    base = _create("base")
    kid = _create("kid", "--parent", "base")
    out = _forge("activate", "kid", "--pythonpath").stdout
    parts = out.rstrip("\n").split(os.pathsep)
    assert parts[0].startswith(str(kid)) and parts[1].startswith(str(base))
    assert parts[-1].endswith("site-packages") and "globals" in parts[-1]
    assert out.count("\n") == 1


@pytest.mark.real
def test_newcomer_real_numpy_pandas(tricky_home: Path, tmp_path: Path) -> None:
    """The same path with real packages from the machine's configured indexes (pip config kept)."""
    env_path = _create("ml")
    steps = [
        ("install", "pip install numpy pandas"),
        ("import", "python -c 'import pandas, numpy; print(pandas.DataFrame({\"a\": [1, 2]}).a.sum())'"),
        ("list", "pip list --format freeze"),
        ("envs", "forge envs"),
        ("other-python", f"{OTHER_PYTHON} -c 'import sys; print(sys.version_info[:2])'"),
    ]
    run = run_shell("bash", _session("bash", "ml", steps), user_environ(), cwd=tmp_path)
    assert "Successfully installed" in run.step("install")
    assert run.step("import").strip() == "3"
    names = {line.split("==")[0].lower() for line in run.step("list").splitlines()}
    assert {"numpy", "pandas"} <= names
    assert "ml" in run.step("envs")
    assert run.step("other-python").strip() == "(3, 11)"
    assert run.marks.get("VIRTUAL_ENV") == str(env_path)
    _assert_restored(run)
