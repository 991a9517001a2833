"""Real shells (bash, zsh, fish) running what a user types after ``forge activate``.

Nothing is stripped from the environment: ``PYTHONPATH`` and the rest reach the shells as they are
(the helpers in ``tests/conftest.py`` strip ``PYTHONPATH``, which once hid a launcher that re-ran
itself forever). ``forge`` comes from the test venv's ``bin``, put first on ``PATH`` like an installed
Forge. Every command in a script runs under ``timeout``, and the whole shell under a subprocess
timeout: a hang is a failure, not a stuck suite.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from forge_store.seal import remove_tree
from tests.pip.conftest import build_demo_index, hermetic_pip  # noqa: F401  (fixture)
from tests.support.index_server import LocalIndex

FORGE_BIN = Path(sys.executable).parent
STEP_TIMEOUT = 120
SHELL_TIMEOUT = 300

_FLAGS = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "fish": ["--no-config"]}


def shell_path(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/test.sh installs bash, zsh and fish as root)")
    return path


@pytest.fixture
def tricky_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A FORGE_HOME whose path has a space and a single quote (so every env path has them)."""
    home = tmp_path / "it's a home" / "forge"
    monkeypatch.setenv("FORGE_HOME", str(home))
    for name in ("FORGE_ENV", "VIRTUAL_ENV", "_OLD_VIRTUAL_PATH", "_OLD_VIRTUAL_PS1"):
        monkeypatch.delenv(name, raising=False)
    yield home
    remove_tree(home)


@pytest.fixture
def shell_index(tmp_path: Path, hermetic_pip: None) -> LocalIndex:  # noqa: F811
    return build_demo_index(tmp_path / "demo")


def user_environ(**extra: str) -> dict[str, str]:
    """The test process's environment as a user's shell would have it, ``forge`` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{FORGE_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


@dataclasses.dataclass
class ShellRun:
    proc: subprocess.CompletedProcess[str]
    marks: dict[str, str]  # "@@ key=value" lines
    steps: dict[str, tuple[int, str]]  # label -> (exit code, output)

    def step(self, label: str) -> str:
        """The output of a step that must have succeeded."""
        assert label in self.steps, f"step {label} did not run:\n{self.proc.stdout}\n{self.proc.stderr}"
        code, out = self.steps[label]
        assert code == 0, f"step {label} exited {code} (124 = timed out):\n{out}\n{self.proc.stderr}"
        return out


def posix_step(label: str, command: str) -> str:
    return (
        f"printf '@@ begin %s\\n' {label}\ntimeout {STEP_TIMEOUT} {command}\n"
        f"printf '@@ end %s %s\\n' {label} $?\n"
    )


def fish_step(label: str, command: str) -> str:
    return (
        f"printf '@@ begin %s\\n' {label}\ntimeout {STEP_TIMEOUT} {command}\n"
        f"printf '@@ end %s %s\\n' {label} $status\n"
    )


def run_shell(shell: str, script: str, env: dict[str, str], cwd: Path) -> ShellRun:
    argv = [shell_path(shell), *_FLAGS[shell], "-c", script]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=SHELL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{shell} hung for {SHELL_TIMEOUT}s; output so far:\n{exc.stdout!r}\n{exc.stderr!r}")
    marks: dict[str, str] = {}
    steps: dict[str, tuple[int, str]] = {}
    current: str | None = None
    buf: list[str] = []
    for line in proc.stdout.splitlines():
        begin = re.fullmatch(r"@@ begin (\S+)", line)
        end = re.fullmatch(r"@@ end (\S+) (\d+)", line)
        if begin:
            current, buf = begin.group(1), []
        elif end and current == end.group(1):
            steps[current] = (int(end.group(2)), "\n".join(buf))
            current = None
        elif line.startswith("@@ ") and "=" in line:
            key, _, value = line[3:].partition("=")
            marks[key] = value
        elif current is not None:
            buf.append(line)
    return ShellRun(proc, marks, steps)


def steps_script(shell: str, steps: Sequence[tuple[str, str]]) -> str:
    make = fish_step if shell == "fish" else posix_step
    return "".join(make(label, command) for label, command in steps)
