"""The report's PNG charts (matplotlib, Agg backend): horizontal bars, one panel per bench row.

Colours name the tool (Forge, uv, pip, plain venv), hatching marks the second of two runs of one
env (import time) or a tool's shared store or cache (disk); a figure goes to log scale when its
largest bar is more than 30 times its smallest, so that pip's figures do not flatten the others.
matplotlib is imported only here and only when a chart is drawn: it is the bench's optional
extra (``pip install -e ".[bench]"``), not a dependency of Forge.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLOURS = {"forge": "#e8702a", "uv": "#6f42c1", "pip": "#3776ab", "venv": "#9a9a9a"}
NAMES_TOOL = {"forge": "Forge", "uv": "uv", "pip": "pip", "venv": "python -m venv"}
LOG_SPREAD = 30.0


class ChartsUnavailable(Exception):
    """matplotlib is not installed in this interpreter."""


def require() -> None:
    """Fail early, in one line, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ChartsUnavailable(
            'matplotlib is not installed here: .venv/bin/pip install -e ".[bench]" (or --no-charts)'
        )


@dataclasses.dataclass(frozen=True)
class Bar:
    """One bar: its label, length, the text written after it, its tool and whether hatched."""

    label: str
    value: float
    text: str
    tool: str
    hatched: bool = False


def tool_of(label: str) -> str:
    """Which tool a contender label measures."""
    low = label.lower()
    if "forge" in low:
        return "forge"
    if low.startswith("uv"):
        return "uv"
    if "venv" in low and "pip" not in low.replace("--without-pip", ""):
        return "venv"
    return "pip"


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _scale(ax: Any, bars: Sequence[Bar], log: bool, low: float, top: float, xlabel: str) -> None:
    """Log or linear x axis for ``ax`` with room for the texts after the bars."""
    if log:
        ax.set_xscale("log")
        ax.set_xlim(low / 2, top * 8)
    else:
        ax.set_xlim(0, top * 1.3)
    ax.set_xlabel(xlabel + (" (log scale)" if log else ""), fontsize=8.5)


def _figure(
    path: Path,
    title: str,
    panels: Sequence[tuple[str, Sequence[Bar]]],
    xlabel: str | Sequence[str],
) -> None:
    """Stacked panels of horizontal bars, saved as ``path``. One ``xlabel``: the panels share one
    x axis (one unit); one per panel: each has its own scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    shared = isinstance(xlabel, str)
    labels = [xlabel] * len(panels) if isinstance(xlabel, str) else list(xlabel)
    ratios = [len(bars) + (1.1 if shared else 2.0) for _t, bars in panels]
    height = 1.1 + 0.36 * sum(ratios)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(11, height),
        sharex=shared,
        squeeze=False,
        gridspec_kw={"height_ratios": ratios},
        layout="constrained",
    )

    def spread(bars: Sequence[Bar]) -> tuple[bool, float, float]:
        values = [b.value for b in bars if b.value > 0] or [1.0]
        return max(values) / min(values) > LOG_SPREAD, min(values), max(values)

    everything = [b for _t, bars in panels for b in bars]
    for n, (ax, (panel_title, bars)) in enumerate(zip(axes[:, 0], panels, strict=True)):
        log, low, top = spread(everything if shared else bars)
        ys = list(range(len(bars)))
        ax.barh(
            ys,
            [b.value if b.value > 0 or not log else 0 for b in bars],
            color=[COLOURS[b.tool] for b in bars],
            hatch=[("///" if b.hatched else "") for b in bars],
            edgecolor="white",
            height=0.72,
        )
        ax.set_yticks(ys, [_wrap(b.label, 38) for b in bars], fontsize=8.5)
        ax.invert_yaxis()
        ax.set_title(_wrap(panel_title, 110), loc="left", fontsize=9.5, fontweight="bold")
        ax.grid(axis="x", which="major", alpha=0.3)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for y, b in zip(ys, bars, strict=True):
            at = max(b.value, low / 1.5) * 1.08 if log else b.value + top * 0.01
            ax.text(at, y, b.text, va="center", fontsize=8)
        if not shared or n == len(panels) - 1:
            _scale(ax, bars, log, low, top, labels[n])
    tools = sorted({b.tool for b in everything}, key=list(COLOURS).index)
    fig.legend(
        handles=[Patch(color=COLOURS[t], label=NAMES_TOOL[t]) for t in tools],
        loc="outside upper right",
        ncol=len(tools),
        fontsize=9,
        frameon=False,
    )
    fig.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.2)
    plt.close(fig)


def _time_bars(row: dict[str, Any]) -> list[Bar]:
    med: dict[str, float] = row["median_s"]
    base = next(iter(med))
    pycs: dict[str, bool | None] = row.get("pycs") or {}
    bars = []
    for label, value in med.items():
        ratio = value / med[base] if med[base] else float("nan")
        times = f"x{ratio:.2f}" if ratio < 10 else f"x{ratio:.0f}"
        shown = f"{value:.3g} s" + ("" if label == base else f"  {times}")
        if pycs.get(label) is False:
            shown += "  (no pycs)"
        bars.append(Bar(label, value, shown, tool_of(label), hatched="second" in label))
    return bars


def _disk_panels(row: dict[str, Any]) -> list[tuple[str, list[Bar]]]:
    figures = {k: v for k, v in row.items() if isinstance(v, dict)}
    count = max((int(f.get("envs", 0)) for f in figures.values()), default=0)
    panels = []
    for unit, key, fmt in (("MB", "bytes", "{:,.1f} MB"), ("inodes", "inodes", "{:,.0f} inodes")):
        scale = 1e6 if key == "bytes" else 1
        bars = []
        for tool, f in figures.items():
            colour = tool if tool in COLOURS else tool_of(tool)
            for part, label, hatched in (
                ("env", f"{tool}: {count} envs' own", False),
                ("shared", f"{tool}: its store/cache", True),
                ("total", f"{tool}: total", False),
            ):
                value = float(f.get(f"{part}_{key}", 0)) / scale
                bars.append(Bar(label, value, fmt.format(value), colour, hatched))
        panels.append((f"{count} envs of set A: {unit}", bars))
    return panels


def draw(results: dict[str, Any], groups: Sequence[tuple[str, str, Sequence[str]]], out: Path) -> list[str]:
    """Every chart the results have data for, into ``out``; the file names made."""
    timed = [(t, r) for t, r in results.items() if isinstance(r, dict) and "median_s" in r]
    made: list[str] = []
    known = {row for _c, _h, rows in groups for row in rows}
    for chart, heading, keys in groups:
        panels = [(t, _time_bars(r)) for key in keys for t, r in timed if r.get("row") == key]
        if panels:
            _figure(out / f"{chart}.png", heading, panels, "median wall time, seconds")
            made.append(f"{chart}.png")
    others = [(t, _time_bars(r)) for t, r in timed if r.get("row") not in known]
    if others:
        _figure(out / "other.png", "Other rows", others, "median wall time, seconds")
        made.append("other.png")
    for title, row in results.items():
        if isinstance(row, dict) and row.get("kind") == "disk":
            _figure(out / "disk.png", title[:1].upper() + title[1:], _disk_panels(row), ("MB", "inodes"))
            made.append("disk.png")
            break
    memory = [
        (
            t,
            [
                Bar(label, float(mb), f"{float(mb):.0f} MB", tool_of(label), "second" in label)
                for label, mb in r["peak_rss_mb"].items()
            ],
        )
        for t, r in timed
        if r.get("row") not in ("startup", "import-a")
    ]
    if memory:
        _figure(out / "rss.png", "Peak memory (RSS of the largest process of a run)", memory, "MB")
        made.append("rss.png")
    return made
