"""Re-hash a store entry against its RECORD (``forge doctor --verify``), and find the wheel it came from.

What an entry holds and where RECORD says it (ingest writes RECORD relative to an env's
site-packages, with the hashes ``installer`` computed while writing):

- ``site/X``          <- ``X``
- ``scripts/X``       <- ``../../../bin/X``
- ``headers/X``       <- ``../../../include/site/python3/NAME/X``
- ``data/X``          <- ``../../../X``

RECORD lists ``INSTALLER`` (with a hash: Forge writes it at ingest), itself, and ``REQUESTED`` /
``direct_url.json`` and console scripts without a hash (they live in envs, never in the entry).
Forge adds two things RECORD does not know: bytecode (``__pycache__/NAME.TAG.pyc`` beside a
``NAME.py``, for the entry's compiled tags; ingest lists them in RECORD without a hash too),
``forge-entry.json`` at the entry root and ``records/`` (RECORD with per-env marker rows). Anything
else is "added". For the running interpreter's tag a pyc's header is checked too (its magic, the
unchecked-hash flag and the source hash of the ``.py`` beside it); other tags are checked by name.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from forge_store.records import record

from .hashing import file_sha256, record_sha256_hex

ENTRY_META = "forge-entry.json"  # ingest.ENTRY_META (kept here to keep ingest's imports off this path)
RECORD_VARIANTS = "records"  # ingest.RECORD_VARIANTS: RECORD plus per-env marker rows (derived)
_PARTS = ("site", "scripts", "data", "headers")


@record(frozen=True, slots=True)
class FileProblem:
    """One file of an entry that does not match its RECORD."""

    path: str  # relative to the entry directory, e.g. "site/pkg/mod.py"
    problem: str  # "changed" | "missing" | "added" | "bytecode-mismatch" (a pyc not of its source)
    expected: str | None = None  # sha256 hex RECORD names
    actual: str | None = None  # sha256 hex of the file now


def entry_path(record_path: str) -> str | None:
    """Where a RECORD path lives inside the entry directory (None: outside any part of it)."""
    if record_path.startswith("../../../"):
        rest = record_path[len("../../../") :]
        if rest.startswith("bin/"):
            return "scripts/" + rest[len("bin/") :]
        if rest.startswith("include/site/python3/"):
            tail = rest[len("include/site/python3/") :].partition("/")[2]
            return "headers/" + tail if tail else None
        return "data/" + rest
    if record_path.startswith("../") or record_path.startswith("/"):
        return None
    return "site/" + record_path


def read_record(entry_dir: Path, dist_info: str) -> dict[str, str | None] | None:
    """Entry-relative path -> sha256 hex (None: listed without a hash); None if RECORD is unreadable."""
    try:
        text = (entry_dir / "site" / dist_info / "RECORD").read_text("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    out: dict[str, str | None] = {}
    for row in rows:
        if not row:
            continue
        where = entry_path(row[0])
        if where is not None:
            out[where] = record_sha256_hex(row[1]) if len(row) > 1 and row[1] else None
    return out


def _pyc_ok(pyc: Path, source: Path, tag: str, tags: Sequence[str], current_tag: str) -> bool:
    """A pyc Forge compiled at ingest: named for a compiled tag, beside its source; for the running
    interpreter's tag, an unchecked-hash pyc of exactly that source."""
    if tag not in tags:
        return False
    if tag != current_tag:
        return True
    import importlib.util

    try:
        with pyc.open("rb") as f:
            header = f.read(16)
        data = source.read_bytes()
    except OSError:
        return False
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(header[4:8], "little")
    return flags == 0b01 and header[8:16] == importlib.util.source_hash(data)


def _walk(entry_dir: Path) -> Iterable[tuple[str, os.stat_result]]:
    for part in _PARTS:
        root = entry_dir / part
        if not root.is_dir():
            continue
        for dirpath, dirs, files in os.walk(root):
            rel_dir = os.path.relpath(dirpath, entry_dir)
            for name in dirs + files:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
                    continue
                yield f"{rel_dir}/{name}", st


def verify_entry(
    entry_dir: Path, dist_info: str, pyc_tags: Sequence[str], current_tag: str
) -> tuple[list[FileProblem], int]:
    """Every file of the entry that differs from RECORD, is missing, or was added; and how many
    files were hashed."""
    record = read_record(entry_dir, dist_info)
    if record is None:
        return [FileProblem(f"site/{dist_info}/RECORD", "missing")], 0
    problems: list[FileProblem] = []
    hashed = 0
    seen: set[str] = set()
    for rel, st in _walk(entry_dir):
        seen.add(rel)
        expected = record.get(rel)
        if rel in record and expected is None and not _is_pyc(rel):
            continue  # RECORD itself
        if expected is not None:
            if not stat.S_ISREG(st.st_mode):
                problems.append(FileProblem(rel, "changed", expected, None))
                continue
            actual = file_sha256(entry_dir / rel)
            hashed += 1
            if actual != expected:
                problems.append(FileProblem(rel, "changed", expected, actual))
            continue
        head, _, name = rel.rpartition("/")
        if head.endswith("__pycache__") and name.endswith(".pyc") and stat.S_ISREG(st.st_mode):
            stem, _, rest = name.partition(".")
            tag = rest.split(".")[0]
            source = entry_dir / head.rpartition("/")[0] / f"{stem}.py"
            if source.is_file():
                if _pyc_ok(entry_dir / rel, source, tag, pyc_tags, current_tag):
                    continue
                if tag in pyc_tags:  # Forge's pyc, but not of this source (or not Forge's kind)
                    problems.append(FileProblem(rel, "bytecode-mismatch"))
                    continue
        problems.append(FileProblem(rel, "added", None, _sha_or_none(entry_dir / rel, st)))
    try:
        top = sorted(os.listdir(entry_dir))
    except OSError:
        top = []
    for name in top:
        if name not in _PARTS and name not in (ENTRY_META, RECORD_VARIANTS):
            problems.append(FileProblem(name, "added"))
    for rel, expected in record.items():
        if expected is not None and rel not in seen:
            problems.append(FileProblem(rel, "missing", expected, None))
    return sorted(problems, key=lambda p: p.path), hashed


def _is_pyc(rel: str) -> bool:
    """A bytecode file: RECORD lists Forge's pycs without a hash; they are checked by header."""
    head, _, name = rel.rpartition("/")
    return head.endswith("__pycache__") and name.endswith(".pyc")


def _sha_or_none(path: Path, st: os.stat_result) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        return file_sha256(path)
    except OSError:
        return None


def find_wheel(candidates: Iterable[Path], aliases: Iterable[str]) -> Path | None:
    """The first candidate file whose sha256 is one of the entry's wheel aliases (hashed now)."""
    wanted = set(aliases)
    tried: set[Path] = set()
    for path in candidates:
        if path in tried:
            continue
        tried.add(path)
        try:
            if path.is_file() and file_sha256(path) in wanted:
                return path
        except OSError:
            continue
    return None
