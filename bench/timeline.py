"""Summarise a ``FORGE_TIMELINE`` file: where a cold install's time goes, phase by phase.

    FORGE_TIMELINE=/tmp/t.jsonl python -m forge_pip install -r set-a.in
    python bench/timeline.py /tmp/t.jsonl [--wheels]

Prints, relative to the process start: when prepare ran; per phase the spans, their summed wall
and thread-CPU time and when the first began and the last ended; how busy the bytecode workers
were (the union of their chunks over the prepare window), how long no worker compiled while
prepare ran; the command's CPU (this process and its compile workers) against what the cores
could give; with ``--wheels`` one line per wheel (fetched, unpacked, compiled, published).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """One line of the file (see :mod:`forge_store.timeline`)."""

    phase: str
    label: str
    start: float
    end: float
    cpu: float
    thread: str

    @classmethod
    def parse(cls, line: str) -> Span:
        d = json.loads(line)
        return cls(
            str(d["phase"]),
            str(d["label"]),
            float(d["start"]),
            float(d["end"]),
            float(d.get("cpu") or 0.0),
            str(d.get("thread", "")),
        )


def _union(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by ``intervals``."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def summarise(spans: list[Span], wheels: bool, cores: int) -> str:
    out: list[str] = []
    starts = [s.start for s in spans if s.phase == "process-start"]
    t0 = min(starts) if starts else min(s.start for s in spans)
    by: dict[str, list[Span]] = collections.defaultdict(list)
    for s in spans:
        by[s.phase].append(s)

    def rel(x: float) -> float:
        return x - t0

    prep = by.get("prepare", [])
    if prep:
        p = prep[0]
        window = (p.start, p.end)
        out.append(f"prepare: {rel(p.start):7.2f} -> {rel(p.end):7.2f} s after the process start")
    else:
        window = (t0, max(s.end for s in spans))
    out.append(f"{'phase':<16}{'spans':>6}{'wall sum':>10}{'cpu sum':>10}{'first':>9}{'last':>9}")
    for phase, items in sorted(by.items(), key=lambda kv: min(s.start for s in kv[1])):
        if phase in ("process-start", "cpu-process", "cpu-children"):
            continue
        wall = sum(s.end - s.start for s in items)
        cpu = sum(s.cpu for s in items)
        first = min(rel(s.start) for s in items)
        last = max(rel(s.end) for s in items)
        out.append(f"{phase:<16}{len(items):>6}{wall:>10.2f}{cpu:>10.2f}{first:>9.2f}{last:>9.2f}")
    chunks = by.get("pyc-chunk", [])
    if chunks:
        per: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        for c in chunks:
            per[c.thread].append((c.start, c.end))
        span = window[1] - window[0]
        busy = sum(_union(v) for v in per.values())
        anyone = _union([iv for v in per.values() for iv in v])
        share = 100 * busy / (len(per) * span)
        out.append(
            f"compile workers: {len(per)}; busy {busy:.2f} s of {len(per)} x {span:.2f} s ({share:.0f}%);"
            f" no worker compiling for {span - anyone:.2f} s of prepare"
        )
    own, children = by.get("cpu-process", []), by.get("cpu-children", [])
    if own and children:
        mine = own[-1].cpu
        theirs = children[-1].cpu
        wall = rel(own[-1].end)
        cpu = mine + theirs
        out.append(
            f"CPU until prepare's end: process {mine:.2f} s + compile workers {theirs:.2f} s = {cpu:.2f} s"
            f" in {wall:.2f} s on {cores} cores ({100 * cpu / (wall * cores):.0f}% of what they could give)"
        )
    if wheels:
        out.append("")
        out.append(f"{'wheel':<60}{'fetch':>15}{'ingest':>15}{'compile':>9}")
        rows: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(dict)
        for phase in ("fetch", "ingest", "compile", "unpack"):
            for s in by.get(phase, []):
                rows[s.label][phase] = (rel(s.start), rel(s.end))
        for name, r in sorted(
            rows.items(), key=lambda kv: kv[1].get("fetch", kv[1].get("ingest", (0, 0)))[0]
        ):
            f = r.get("fetch")
            i = r.get("ingest")
            c2 = r.get("compile")
            out.append(
                f"{name[:59]:<60}"
                + (f"{f[0]:7.2f}-{f[1]:7.2f}" if f else " " * 15)
                + (f"{i[0]:7.2f}-{i[1]:7.2f}" if i else " " * 15)
                + (f"{c2[1] - c2[0]:9.2f}" if c2 else "")
            )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--wheels", action="store_true", help="one line per wheel")
    args = parser.parse_args(argv)
    spans = [Span.parse(line) for line in args.file.read_text().splitlines() if line.strip()]
    if not spans:
        print(f"{args.file}: no spans", file=sys.stderr)
        return 1
    print(summarise(spans, args.wheels, os.cpu_count() or 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
