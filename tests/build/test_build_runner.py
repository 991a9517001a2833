"""The hook runner: clean environment, merged line capture, failures as data."""

from __future__ import annotations

import sys

import pytest

from forge_pip.build.runner import CapturingRunner, HookProcessFailed

SCRIPT = """
import os, sys
print("PYTHONPATH=" + str(os.environ.get("PYTHONPATH")), flush=True)
print("PYTHONHOME=" + str(os.environ.get("PYTHONHOME")), flush=True)
print("PYTHONNOUSERSITE=" + os.environ["PYTHONNOUSERSITE"], flush=True)
print("EXTRA=" + os.environ["EXTRA"], flush=True)
print("to stderr", file=sys.stderr, flush=True)
print("cwd=" + os.getcwd(), flush=True)
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def test_runner_cleans_the_environment_and_captures_lines(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.delenv("PYTHONNOUSERSITE", raising=False)
    seen: list[str] = []
    runner = CapturingRunner(seen.append, tail_size=3)

    runner([sys.executable, "-c", SCRIPT], cwd=str(tmp_path), extra_environ={"EXTRA": "yes"})

    assert seen[:6] == [
        "PYTHONPATH=None",
        "PYTHONHOME=None",
        "PYTHONNOUSERSITE=1",
        "EXTRA=yes",
        "to stderr",
        f"cwd={tmp_path}",
    ]
    assert list(runner.tail) == seen[-3:]


def test_runner_reports_a_failing_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXIT", "3")
    runner = CapturingRunner(lambda line: None)
    with pytest.raises(HookProcessFailed, match="status 3"):
        runner([sys.executable, "-c", SCRIPT], extra_environ={"EXTRA": "x"})
    assert runner.tail[-1].startswith("cwd=")
