"""bench/report.py renders its markdown and charts from a results document (no benchmark run).

The document here is synthetic, shaped as ``bench/bench.py --json`` writes rows and as the report
adds the machine; the report runs as people run it, ``python bench/report.py --from FILE``, in a
subprocess. These are renderer tests, not timings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "bench" / "report.py"
HAS_MPL = importlib.util.find_spec("matplotlib") is not None


def _row(key: str, medians: dict[str, float], rss: float = 50.0, **extra: Any) -> dict[str, Any]:
    base = next(iter(medians))
    return {
        "row": key,
        "median_s": medians,
        f"ratio_to_{base}": {k: v / medians[base] for k, v in medians.items()},
        "peak_rss_mb": {k: rss + i * 10 for i, k in enumerate(medians)},
        "pycs": {k: None for k in medians},
        "runs_s": {k: [v * 0.9, v, v * 1.2] for k, v in medians.items()},
        "note": "",
        "targets": [],
        **extra,
    }


def synthetic() -> dict[str, Any]:
    results: dict[str, Any] = {
        "start-up: --version": _row(
            "startup", {"forge --version": 0.061, "uv --version": 0.004, "pip --version": 0.351}
        ),
        "create an env": _row(
            "create",
            {"forge create": 0.05, "uv venv": 0.031, "python -m venv --without-pip": 0.09},
            targets=[{"text": "forge create / uv venv = 1.61 (target <= 1.5: x)", "met": False}],
        ),
        "resolve set-a.in (warm --dry-run, configured indexes)": _row(
            "resolve-a",
            {
                "forge pip install --dry-run": 0.4,
                "uv pip install --dry-run": 0.5,
                "pip install --dry-run": 6.3,
            },
            targets=[{"text": "forge pip install --dry-run / uv pip install --dry-run = 0.80", "met": True}],
        ),
        "cold install set B's pins (empty store and caches), ready to import": _row(
            "cold-b",
            {
                "forge pip": 21.0,
                "uv pip --compile-bytecode": 30.0,
                "uv pip (no pycs)": 6.0,
                "pip --no-cache-dir": 80.0,
            },
            rss=180.0,
        ),
        "make 10 envs of set A's pins, one after another (warm)": _row(
            "disk-10",
            {
                "forge create NAME -r set-a.txt": 0.3,
                "uv venv + uv pip install -r (hardlink)": 0.6,
                "python -m venv + pip install -r": 33.0,
            },
        ),
        "disk and inodes for 10 envs of set A": {
            "row": "disk-10",
            "kind": "disk",
            **{
                tool: {
                    "envs": 10,
                    "env_inodes": inodes,
                    "env_bytes": size,
                    "shared_inodes": s_inodes,
                    "shared_bytes": s_size,
                    "total_inodes": inodes + s_inodes,
                    "total_bytes": size + s_size,
                }
                for tool, inodes, size, s_inodes, s_size in (
                    ("forge", 2417, 1_900_000, 16_012, 410_000_000),
                    ("uv", 20_561, 96_000_000, 16_500, 490_000_000),
                    ("pip", 242_600, 6_010_000_000, 310, 113_000_000),
                )
            },
        },
        "disk set-a": {
            "row": "warm-a",
            "kind": "extra-env",
            "forge": {"inodes": 190, "bytes": 180_000},
            "uv_hardlink": {"inodes": 2056, "bytes": 9_600_000},
        },
        "import numpy, pandas (set A)": _row(
            "import-a",
            {
                "forge env: first import after install": 1.3,
                "forge env: second import": 1.25,
                "uv env: first import after install": 9.5,
                "uv env: second import": 1.3,
                "pip env: first import after install": 1.28,
                "pip env: second import": 1.27,
            },
        ),
        "a row this report does not know": _row("some-new-row", {"forge thing": 1.0, "uv thing": 2.0}),
        "targets": {
            "verdicts": [
                {"row": "create an env", "text": "forge create / uv venv = 1.61", "met": False},
                {"row": "resolve set-a.in", "text": "forge / uv = 0.80", "met": True},
            ]
        },
    }
    results["import numpy, pandas (set A)"]["pycs"]["uv env: first import after install"] = False
    return {
        "kind": "forge-bench-report",
        "version": 1,
        "machine": {
            "cpu": "Synthetic CPU 9000",
            "cores": "2",
            "ram": "23.4 GiB",
            "kernel": "Linux 6.1.0-test",
            "filesystem": "ext4 (/tmp)",
            "python": "CPython 3.11.7",
            "uv": "uv 0.13.9",
            "pip": "pip 23.2.1",
            "forge": "0.2.0, commit abcdef123456",
            "pythondontwritebytecode": "1",
        },
        "started": "2026-12-01 23:00:00",
        "finished": "2026-12-01 23:40:00",
        "seconds": 2400.0,
        "load_before": [1.5, 1.2, 1.0],
        "load_after": [2.25, 1.75, 1.5],
        "options": {"runs": 3, "envs": 10, "quick": False, "rows": ["startup", "create"]},
        "chunks": [
            {"rows": ["startup", "create"], "load_before": [1.5, 1.2, 1.0], "load_after": [2.0, 1.5, 1.25]}
        ],
        "notes": ["a note said as given"],
        "results": results,
    }


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPORT), *args], capture_output=True, text=True, cwd=REPO, check=False
    )


@pytest.mark.parametrize("charts", [True, False], ids=["charts", "markdown-only"])
def test_report_renders_every_row_and_the_machine(tmp_path: Path, charts: bool) -> None:
    if charts and not HAS_MPL:
        pytest.skip('matplotlib is the bench extra: pip install -e ".[bench]"')
    doc = synthetic()
    source = tmp_path / "in.json"
    source.write_text(json.dumps(doc))
    out = tmp_path / "out"
    done = _report("--from", str(source), "--out", str(out), *([] if charts else ["--no-charts"]))
    assert done.returncode == 0, done.stderr
    text = (out / "README.md").read_text()
    assert json.loads((out / "results.json").read_text()) == doc
    for title, row in doc["results"].items():
        if "median_s" in row:
            assert f"**{title}**" in text
            for label, median in row["median_s"].items():
                line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} |"))
                assert f"| {median:.3f} |" in line or f"| {median:.1f} |" in line, line
    assert "| pip --no-cache-dir | 80.0 | 72.0-96.0 | 3.81 | 210 |" in text
    assert "| uv env: first import after install | 9.500 | 8.550-11.4 | 7.31 | 70 | **no** |" in text
    assert "| forge | 2,417 | 1.9 | 16,012 | 410.0 | 18,429 | 411.9 | 0.19 |" in text
    assert "| pip | 242,600 | 6,010.0 | 310 | 113.0 | 242,910 | 6,123.0 | 601.00 |" in text
    assert "forge: 190 inodes, 0.18 MB; uv_hardlink: 2,056 inodes, 9.60 MB" in text
    assert "peak RSS of forge's cold install of set B 180 MB" in text
    assert "| create an env | forge create / uv venv = 1.61 | **NOT met** |" in text
    assert (
        "| cold install set B's pins (empty store and caches), ready to import"
        " | 21 s | 30 s | 80 s | 0.70 | 0.26 |" in text
    )
    assert "| create an env | 0.05 s | 0.031 s | 0.09 s | 1.61 | 0.56 |" in text
    assert "## Other rows" in text and "**a row this report does not know**" in text
    for fact in ("Synthetic CPU 9000", "23.4 GiB", "Linux 6.1.0-test", "uv 0.13.9", "pip 23.2.1"):
        assert fact in text
    assert "- rows startup, create: load 1.50 / 1.20 / 1.00 before, 2.00 / 1.50 / 1.25 after" in text
    assert "- a note said as given" in text and "`python bench/report.py --only startup,create`" in text
    assert "commit abcdef123456" in text and "1.50 / 1.20 / 1.00" in text and "2.25 / 1.75 / 1.50" in text
    pngs = sorted(p.name for p in out.glob("*.png"))
    if not charts:
        assert pngs == [] and ".png)" not in text
        return
    expected = ["disk.png", "import.png", "other.png", "rss.png", "startup.png", "time-cold.png"]
    assert pngs == sorted([*expected, "time-create.png", "time-resolve.png"])
    for name in pngs:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
        assert f"]({name})" in text
    assert not list(out.glob(".render-*"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["results"]["create an env"]["median_s"].update({"uv venv": "fast"}), "not a number"),
        (lambda d: d.update(version=99), "results version 99"),
        (lambda d: d.pop("machine"), "'machine' is missing"),
        (
            lambda d: d["results"]["disk and inodes for 10 envs of set A"]["uv"].update(env_bytes=1.5),
            "not whole numbers",
        ),
    ],
)
def test_a_bad_document_is_refused_in_one_line_and_nothing_changes(
    tmp_path: Path, change: Any, message: str
) -> None:
    doc = synthetic()
    change(doc)
    source = tmp_path / "in.json"
    source.write_text(json.dumps(doc))
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("the last report\n")
    done = _report("--from", str(source), "--out", str(out), "--no-charts")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]
    assert (out / "README.md").read_text() == "the last report\n"


def test_not_json_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text("{ truncated")
    done = _report("--from", str(source), "--out", str(tmp_path / "out"), "--no-charts")
    assert done.returncode == 2 and "not JSON" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--only", "warm-a,no-such-row"], "unknown rows: no-such-row"), (["--runs", "0"], "at least 1")],
)
def test_bad_options_are_refused_before_anything_runs(tmp_path: Path, args: list[str], message: str) -> None:
    done = _report(*args, "--out", str(tmp_path / "out"), "--no-charts")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_disk_counter_counts_each_new_inode_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench.usage``, which the disk rows use: hardlinks into the cache are free, an inode two
    envs share counts once, a file given as a root counts."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location("bench_under_test", REPO / "bench" / "bench.py")
    assert spec is not None and spec.loader is not None
    core = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, core)  # its dataclasses look their module up
    spec.loader.exec_module(core)
    cache, one, two = tmp_path / "cache", tmp_path / "one", tmp_path / "two"
    for d in (cache, one, two):
        d.mkdir()
    (cache / "big").write_bytes(b"x" * 100_000)
    os.link(cache / "big", one / "big")
    (one / "own").write_bytes(b"y" * 10_000)
    os.link(one / "own", two / "own")
    (tmp_path / "catalog.db").write_bytes(b"z" * 5000)
    inodes, size = core.usage([one, two], [cache])
    assert inodes == 1 and 10_000 <= size < 100_000
    assert core.usage([one], [])[0] == 2 and core.usage([one], [])[1] >= 110_000
    assert core.usage([tmp_path / "catalog.db"], [])[0] == 1
    assert core._usage(one, [cache]) == core.usage([one], [cache])
