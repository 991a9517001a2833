"""The benchmark report: Forge vs uv vs pip in one run, as a markdown table and PNG charts.

    .venv/bin/pip install -e ".[bench]"          # matplotlib, in the bench's env only
    .venv/bin/python bench/report.py             # everything, sets A and B, 3 runs (takes a while)
    .venv/bin/python bench/report.py --quick     # 1 run, set A only, 2 envs for disk-10 (development)
    .venv/bin/python bench/report.py --from docs/bench/results.json   # re-render, no benchmark run

It runs ``bench/bench.py`` (every row, or ``--only``) in a subprocess with ``--json``, and adds
what the rows do not know: the machine (CPU model, cores, RAM, kernel, filesystem, Python, uv and
pip versions, the Forge commit), the load average before and after, the dates. The document is
saved as ``OUT/results.json`` (``OUT`` is ``docs/bench`` unless ``--out``), then rendered into
``OUT/README.md`` (tables of medians, min-max, ratios to each row's first contender, peak RSS,
pycs, the targets) and one PNG chart per group (``OUT/*.png``, log scale where one contender
dwarfs another). Rendering writes into a scratch directory beside ``OUT`` and moves the files in
at the end, so a failed render changes nothing. ``--no-charts`` renders the markdown alone
(without matplotlib).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import charts

import bench

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent / "bench.py"
OUT = REPO / "docs" / "bench"
VERSION = 1
CHUNKS = (
    {
        "startup",
        "create",
        "create-r",
        "resolve-a",
        "offline-a",
        "warm-pip-a",
        "warm-pins-a",
        "warm-offline-a",
        "warm-a",
        "cold-a",
    },
    {"warm-b", "warm-pip-b", "cold-b"},
    {"disk-10", "import-a"},
)
"""Rows run by one bench process each (set A's share primed caches); other rows run last."""
QUICK_ROWS = (
    "startup,create,create-r,resolve-a,offline-a,warm-pip-a,warm-pins-a,warm-offline-a,"
    "warm-a,cold-a,disk-10,import-a"
)


class ReportError(Exception):
    """A user mistake or a fault of the environment: one line, exit 2."""


# -- what the rows are -------------------------------------------------------------------------

GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("time-create", "Creating envs", ("create", "create-r", "disk-10")),
    ("time-resolve", "Resolving (warm)", ("resolve-a", "offline-a")),
    (
        "time-warm",
        "Warm installs into a fresh env",
        ("warm-pip-a", "warm-pins-a", "warm-offline-a", "warm-a", "warm-b", "warm-pip-b"),
    ),
    ("time-cold", "Cold installs (empty store and caches)", ("cold-a", "cold-b")),
    ("import", "Import time right after install", ("import-a",)),
    ("startup", "CLI start-up", ("startup",)),
    ("time-nodes", "A second node: set B from a team upstream (bench/nodes.py)", ("node-b",)),
)
"""(chart name, heading, bench rows): the order of the report."""
KNOWN = {row for _chart, _title, rows in GROUPS for row in rows}
CHARTS = {f"{chart}.png" for chart, _title, _rows in GROUPS} | {"disk.png", "rss.png", "other.png"}
RSS_LIMIT_MB = 300.0
"""Issue #10: the peak RSS of a cold install of set B stays under this."""


def timing_rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(title, row) of every timed row, in bench order."""
    return [(t, r) for t, r in results.items() if isinstance(r, dict) and "median_s" in r]


def validate(doc: object, source: str) -> dict[str, Any]:
    """The document if it is a results document of this version; else one line saying why not."""
    if not isinstance(doc, dict) or doc.get("kind") != "forge-bench-report":
        raise ReportError(f"{source}: not a Forge benchmark results document")
    if doc.get("version") != VERSION:
        raise ReportError(f"{source}: results version {doc.get('version')!r}, this report reads {VERSION}")
    for key in ("machine", "results"):
        if not isinstance(doc.get(key), dict):
            raise ReportError(f"{source}: {key!r} is missing or not an object")
    notes = doc.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ReportError(f"{source}: 'notes' is not a list of strings")
    for title, row in timing_rows(doc["results"]):
        for field in ("median_s", "peak_rss_mb"):
            values = row.get(field)
            if not isinstance(values, dict) or not values:
                raise ReportError(f"{source}: row {title!r}: {field} is not an object of numbers")
            for value in values.values():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ReportError(f"{source}: row {title!r}: {field} holds {value!r}, not a number >= 0")
        if set(row["median_s"]) != set(row["peak_rss_mb"]):
            raise ReportError(f"{source}: row {title!r}: median_s and peak_rss_mb name other contenders")
    for title, row in doc["results"].items():
        if isinstance(row, dict) and row.get("kind") == "disk":
            for tool, fig in row.items():
                if isinstance(fig, dict) and not all(
                    isinstance(fig.get(k), int) for k in ("env_inodes", "env_bytes", "shared_bytes")
                ):
                    raise ReportError(f"{source}: {title!r}: {tool}'s figures are not whole numbers")
    return doc


# -- the markdown ------------------------------------------------------------------------------


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f}" if n < 1e10 else f"{n / 1e9:,.1f} G"


def _row_table(title: str, row: dict[str, Any]) -> list[str]:
    med: dict[str, float] = row["median_s"]
    base = next(iter(med))
    runs: dict[str, list[float]] = row.get("runs_s") or {}
    pycs: dict[str, bool | None] = row.get("pycs") or {}
    note = f" ({row['note']})" if row.get("note") else ""
    lines = [
        f"**{title}**{note}",
        "",
        f"| contender | median s | min-max s | x {base} | peak RSS MB | pycs |",
        "|---|---:|---:|---:|---:|:---:|",
    ]
    for label, value in med.items():
        spread = runs.get(label) or [value]
        ratio = value / med[base] if med[base] else float("nan")
        has = pycs.get(label)
        mark = "" if has is None else ("yes" if has else "**no**")
        lines.append(
            f"| {label} | {_s(value)} | {_s(min(spread))}-{_s(max(spread))} | {ratio:.2f} |"
            f" {row['peak_rss_mb'][label]:.0f} | {mark} |"
        )
    for target in row.get("targets") or []:
        lines.append("")
        lines.append(f"- target {'met' if target.get('met') else '**NOT met**'}: {target.get('text', '')}")
    return [*lines, ""]


def _disk_tables(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for title, row in results.items():
        if not isinstance(row, dict):
            continue
        if row.get("kind") == "disk":
            figures = {k: v for k, v in row.items() if isinstance(v, dict)}
            count = max((int(f.get("envs", 0)) for f in figures.values()), default=0)
            lines += [
                f"**{title}**: new inodes and bytes, each inode once; what is shared with the tool's",
                "store or cache counts once, in its own columns.",
                "",
                f"| tool | {count} envs: inodes | {count} envs: MB | store/cache: inodes | store/cache: MB"
                " | total inodes | total MB | MB per extra env |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for tool, f in figures.items():
                per_env = f["env_bytes"] / max(int(f.get("envs", 1)), 1)
                lines.append(
                    f"| {tool} | {f['env_inodes']:,} | {_mb(f['env_bytes'])} | {f['shared_inodes']:,}"
                    f" | {_mb(f['shared_bytes'])} | {f['total_inodes']:,} | {_mb(f['total_bytes'])}"
                    f" | {per_env / 1e6:.2f} |"
                )
            lines.append("")
        elif row.get("kind") == "extra-env":
            parts = [
                f"{tool}: {f['inodes']:,} inodes, {f['bytes'] / 1e6:.2f} MB"
                for tool, f in row.items()
                if isinstance(f, dict)
            ]
            lines += [f"- {title}, one extra env: " + "; ".join(parts), ""]
    return lines


def _rss_check(results: dict[str, Any]) -> list[str]:
    for _title, row in timing_rows(results):
        if row.get("row") == "cold-b" and "forge pip" in row["peak_rss_mb"]:
            rss = float(row["peak_rss_mb"]["forge pip"])
            met = rss <= RSS_LIMIT_MB
            return [
                f"- target {'met' if met else '**NOT met**'}: peak RSS of forge's cold install of set B"
                f" {rss:.0f} MB (issue #10: under {RSS_LIMIT_MB:.0f} MB)",
                "",
            ]
    return []


def _glance(ordered: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """One line per row: each tool's first contender, and Forge's time over theirs."""
    lines = [
        "| row | Forge | uv | pip (or venv) | Forge / uv | Forge / pip |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for title, row in ordered:
        first: dict[str, float] = {}
        for label, value in row["median_s"].items():
            tool = charts.tool_of(label)
            first.setdefault("pip" if tool == "venv" else tool, float(value))
        forge, uv, pip = (first.get(t) for t in ("forge", "uv", "pip"))

        def ratio(other: float | None, forge: float | None = forge) -> str:
            return f"{forge / other:.2f}" if forge is not None and other else ""

        cells = [f"{v:.3g} s" if v is not None else "" for v in (forge, uv, pip)]
        lines.append(f"| {title} | {' | '.join(cells)} | {ratio(uv)} | {ratio(pip)} |")
    return [*lines, ""]


def _command(opts: dict[str, Any]) -> str:
    """The command line that made the figures (as far as the options say)."""
    words = ["python bench/report.py"]
    if opts.get("quick"):
        words.append("--quick")
    for flag, default in (("runs", 1 if opts.get("quick") else 3), ("envs", 2 if opts.get("quick") else 10)):
        if opts.get(flag) not in (None, default):
            words.append(f"--{flag} {opts[flag]}")
    rows = opts.get("rows")
    if isinstance(rows, list) and rows and ",".join(rows) not in (bench.ALL, QUICK_ROWS):
        words.append(f"--only {','.join(rows)}")
    return " ".join(words)


def _runs_text(runs: object) -> str:
    if runs == 1:
        return "one run per contender, so each figure is one run, not a median"
    return f"{runs} runs per contender, interleaved; medians"


def markdown(doc: dict[str, Any], pngs: Sequence[str]) -> str:
    """The report as markdown; ``pngs`` are the chart files made beside it."""
    m, results, opts = doc["machine"], doc["results"], doc.get("options", {})
    lb, la = doc.get("load_before") or [], doc.get("load_after") or []
    lines = [
        "# Forge vs uv vs pip: the benchmark report",
        "",
        f"Generated by `{_command(opts)}` ({_runs_text(opts.get('runs'))}; ratios to the first"
        " contender of each row). Re-render without running: `python bench/report.py --from"
        " docs/bench/results.json`. Every figure is whole-process wall time into a fresh env unless"
        " the row says otherwise; peak RSS is that of the largest process of a run. What each row"
        " does: `bench/bench.py` and `bench/footprint.py`.",
        "",
        'Run it yourself: `.venv/bin/pip install -e ".[bench]"` (matplotlib, for the charts), then'
        " `.venv/bin/python bench/report.py` (every row, sets A and B; `--runs N`, `--envs N`,"
        " `--only ROWS`), or `--quick` (1 run, set A only, 2 envs) while developing. It rewrites"
        " this directory: `README.md`, the charts and `results.json` (the raw figures).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    facts = [
        ("CPU", m.get("cpu")),
        ("cores", m.get("cores")),
        ("RAM", m.get("ram")),
        ("kernel", m.get("kernel")),
        ("scratch filesystem", m.get("filesystem")),
        ("Python", m.get("python")),
        ("uv", m.get("uv")),
        ("pip", m.get("pip")),
        ("Forge", m.get("forge")),
        ("PYTHONDONTWRITEBYTECODE", m.get("pythondontwritebytecode")),
        ("date (UTC)", f"{doc.get('started', '?')} to {doc.get('finished', '?')}"),
        ("load average before (1/5/15 min)", " / ".join(f"{x:.2f}" for x in lb) or "?"),
        ("load average after (1/5/15 min)", " / ".join(f"{x:.2f}" for x in la) or "?"),
    ]
    lines += [f"| {k} | {v if v not in (None, '') else '?'} |" for k, v in facts]
    lines.append("")
    for chunk in doc.get("chunks") or []:
        before, after = chunk.get("load_before") or [], chunk.get("load_after") or []
        lines.append(
            f"- rows {', '.join(chunk.get('rows') or [])}: load {' / '.join(f'{x:.2f}' for x in before)}"
            f" before, {' / '.join(f'{x:.2f}' for x in after)} after"
        )
    lines += [f"- {note}" for note in doc.get("notes") or []]
    lines.append("")
    rows = timing_rows(results)
    by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for title, row in rows:
        key = row.get("row") or ""
        by_key.setdefault(key if key in KNOWN else "", []).append((title, row))
    ordered = [item for _c, _h, keys in GROUPS for key in keys for item in by_key.get(key, [])]
    if ordered:
        lines += [
            "## At a glance",
            "",
            "Each tool's first contender of each row"
            + (" (medians)" if opts.get("runs") != 1 else " (one run each)")
            + "; below, every contender of every row.",
            "",
            *_glance(ordered),
        ]
    for chart, heading, keys in GROUPS:
        found = [item for key in keys for item in by_key.get(key, [])]
        if not found and not (chart == "time-create" and _disk_tables(results)):
            continue
        lines += [f"## {heading}", ""]
        if f"{chart}.png" in pngs:
            lines += [f"![{heading}]({chart}.png)", ""]
        for title, row in found:
            lines += _row_table(title, row)
        if chart == "time-create":
            disk = _disk_tables(results)
            if disk:
                lines += ["### Disk and inodes", ""]
                lines += [f"![Disk and inodes]({p})" for p in pngs if p == "disk.png"]
                lines += ["", *disk]
        if chart == "time-cold":
            lines += _rss_check(results)
    if by_key.get(""):
        lines += ["## Other rows", ""]
        lines += ["![Other rows](other.png)", ""] if "other.png" in pngs else []
        for title, row in by_key[""]:
            lines += _row_table(title, row)
    if "rss.png" in pngs:
        lines += ["## Peak memory", "", "![Peak RSS](rss.png)", ""]
    verdicts = (results.get("targets") or {}).get("verdicts") or []
    if verdicts:
        lines += ["## Targets", "", "| row | target | |", "|---|---|---|"]
        for v in verdicts:
            lines.append(f"| {v.get('row')} | {v.get('text')} | {'met' if v.get('met') else '**NOT met**'} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render(doc: dict[str, Any], out: Path, *, with_charts: bool = True) -> list[Path]:
    """Write README.md and the charts into ``out`` (all or nothing); the files written."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".render-") as scratch:
        tmp = Path(scratch)
        pngs = charts.draw(doc["results"], GROUPS, tmp) if with_charts else []
        (tmp / "README.md").write_text(markdown(doc, pngs), encoding="utf-8")
        made = [*pngs, "README.md"]
        if with_charts:  # charts of an earlier render that this one has not made would mislead
            for old in out.glob("*.png"):
                if old.name in CHARTS and old.name not in pngs:
                    old.unlink()
        for name in made:
            os.replace(tmp / name, out / name)
    return [out / name for name in made]


# -- running the benchmark -----------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _version_of(cmd: Sequence[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.strip() or "?"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in _read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem = next((ln.split()[1] for ln in _read("/proc/meminfo").splitlines() if ln.startswith("MemTotal")), "")
    ram = f"{int(mem) / 2**20:.1f} GiB" if mem.isdigit() else "?"
    scratch = Path(tempfile.gettempdir()).resolve()
    mounts = [ln.split() for ln in _read("/proc/mounts").splitlines()]
    best = max(
        (mt for mt in mounts if len(mt) > 2 and (scratch == Path(mt[1]) or Path(mt[1]) in scratch.parents)),
        key=lambda mt: len(mt[1]),
        default=None,
    )
    commit = _version_of(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    dirty = _version_of(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    from forge_store import __version__

    uv = Path(sys.executable).parent / "uv"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "kernel": f"{platform.system()} {platform.release()}",
        "filesystem": f"{best[2]} ({scratch})" if best else str(scratch),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "uv": _version_of([str(uv) if uv.exists() else "uv", "--version"]),
        "pip": _version_of([sys.executable, "-m", "pip", "--version"]).split(" from ")[0],
        "forge": f"{__version__}, commit {commit}" + (" + local changes" if dirty not in ("", "?") else ""),
        "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _chunks(rows: Sequence[str]) -> list[list[str]]:
    """The rows in the bench processes they run in: rows that share primed caches together."""
    out = [[r for r in rows if r in chunk] for chunk in CHUNKS]
    out.append([r for r in rows if not any(r in chunk for chunk in CHUNKS)])
    return [chunk for chunk in out if chunk]


def collect(runs: int, only: Sequence[str], envs: int, quick: bool) -> dict[str, Any]:
    """Run the benchmark (its progress on this terminal), one bench process per chunk of rows,
    and return the results document. The rows done so far are kept in a scratch file, named
    when a later chunk fails, so that an hour of figures is not lost with it."""
    doc: dict[str, Any] = {
        "kind": "forge-bench-report",
        "version": VERSION,
        "machine": machine(),
        "started": _now(),
        "load_before": list(os.getloadavg()),
        "options": {"runs": runs, "envs": envs, "quick": quick, "rows": list(only)},
        "chunks": [],
        "results": {},
    }
    t0 = time.monotonic()
    fd, name = tempfile.mkstemp(prefix="forge-report-", suffix=".json")
    os.close(fd)
    partial = Path(name)
    for chunk in _chunks(only):
        with tempfile.TemporaryDirectory(prefix="forge-report-") as scratch:
            raw = Path(scratch) / "rows.json"
            cmd = [sys.executable, str(BENCH), "--runs", str(runs), "--envs", str(envs), "--json", str(raw)]
            before = list(os.getloadavg())
            code = subprocess.run([*cmd, "--only", ",".join(chunk)], check=False).returncode
            if code != 0:
                kept = (
                    f"; the rows done before are in {partial} (--from renders them)" if doc["results"] else ""
                )
                if not doc["results"]:
                    partial.unlink()
                raise ReportError(f"the benchmark failed in rows {','.join(chunk)} (exit {code}){kept}")
            rows = json.loads(raw.read_text(encoding="utf-8"))
        verdicts = rows.pop("targets", {}).get("verdicts", [])
        doc["results"].update(rows)
        doc["results"].setdefault("targets", {"verdicts": []})["verdicts"] += verdicts
        doc["chunks"].append({"rows": chunk, "load_before": before, "load_after": list(os.getloadavg())})
        doc.update(finished=_now(), seconds=round(time.monotonic() - t0, 1), load_after=list(os.getloadavg()))
        if doc["machine"].get("uv") == "?":  # the bench installs uv on first use, after machine()
            doc["machine"]["uv"] = machine()["uv"]
        _write_json(doc, partial)
    partial.unlink()
    return doc


def _write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run, set A only, 2 envs for disk-10")
    parser.add_argument("--runs", type=int, help="runs per contender (default 3; --quick: 1)")
    parser.add_argument("--envs", type=int, help="envs per tool for disk-10 (default 10; --quick: 2)")
    parser.add_argument("--only", default="", help="comma-separated bench rows (default: all)")
    parser.add_argument("--from", dest="source", type=Path, help="re-render this results JSON, run nothing")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    parser.add_argument("--no-charts", action="store_true", help="the markdown alone (no matplotlib)")
    args = parser.parse_args(argv)
    try:
        if not args.no_charts:
            charts.require()
        if args.source is not None:
            try:
                text = args.source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ReportError(f"cannot read {args.source}: {exc}")
            try:
                doc = validate(json.loads(text), str(args.source))
            except json.JSONDecodeError as exc:
                raise ReportError(f"{args.source}: not JSON ({exc})")
            target = args.out / "results.json"
            if not target.exists() or not target.samefile(args.source):
                _write_json(doc, target)
        else:
            runs = args.runs if args.runs is not None else (1 if args.quick else 3)
            envs = args.envs if args.envs is not None else (2 if args.quick else 10)
            if runs < 1 or envs < 1:
                raise ReportError("--runs and --envs must be at least 1")
            rows = [r for r in (args.only or (QUICK_ROWS if args.quick else bench.ALL)).split(",") if r]
            unknown = sorted(set(rows) - set(bench.ALL.split(",")))
            if unknown or not rows:
                raise ReportError(
                    f"unknown rows: {', '.join(unknown) or '(none given)'} (known: {bench.ALL})"
                )
            doc = validate(collect(runs, rows, envs, args.quick), "the benchmark's results")
            _write_json(doc, args.out / "results.json")
        written = render(doc, args.out, with_charts=not args.no_charts)
    except (ReportError, charts.ChartsUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the report into {args.out}: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
