"""Every ``--json`` document kind the CLIs emit has its section in docs/json.md (and the kind table)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMIT = re.compile(r"""emit_json\(\s*["']([a-z][a-z0-9-]*)["']""")


def _emitted_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in (ROOT / "forge_pip").rglob("*.py"):
        kinds.update(EMIT.findall(path.read_text(encoding="utf-8")))
    return kinds


def test_the_scan_finds_the_known_kinds() -> None:
    kinds = _emitted_kinds()
    assert {"envs", "install", "gc", "du", "error", "doctor"} <= kinds, kinds


def test_every_emitted_kind_is_documented() -> None:
    doc = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^##+ `([a-z][a-z0-9-]*)`", doc, flags=re.M))
    table = set(re.findall(r"^\|[^|]*\| `([a-z][a-z0-9-]*)` \|$", doc, flags=re.M))
    kinds = _emitted_kinds()
    assert not kinds - sections, f"kinds without a section in docs/json.md: {sorted(kinds - sections)}"
    assert not kinds - table, f"kinds missing from the table in docs/json.md: {sorted(kinds - table)}"
