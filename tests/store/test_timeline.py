"""FORGE_TIMELINE: spans of the cold path appended as JSON lines (profiling only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from forge_store import timeline
with timeline.span("unpack", "six.whl"):
    sum(range(100000))
try:
    with timeline.span("compile", "bad.whl"):
        raise ValueError("boom")
except ValueError:
    pass
print(timeline.enabled())
"""


def _run(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_spans_are_appended_as_json_lines(tmp_path: Path) -> None:
    target = tmp_path / "t.jsonl"
    target.write_text('{"phase": "earlier", "label": "", "start": 0, "end": 0}\n')
    env = dict(os.environ, FORGE_TIMELINE=str(target))
    assert _run(env) == "True"
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["phase"] for line in lines] == ["earlier", "unpack", "compile"]  # appended, also on error
    unpack = lines[1]
    assert unpack["label"] == "six.whl"
    assert unpack["end"] >= unpack["start"] > 0
    assert unpack["cpu"] >= 0 and unpack["pid"] > 0 and unpack["thread"] == "MainThread"


def test_nothing_is_written_without_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FORGE_TIMELINE"}
    assert _run(env) == "False"
    unwritable = dict(env, FORGE_TIMELINE=str(tmp_path / "missing-dir" / "t.jsonl"))
    assert _run(unwritable) == "False"  # a path that cannot be opened: ignored, never an error
