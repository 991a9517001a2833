"""``pip hash FILE...``: the ``--hash`` line to put in a requirements file for each archive."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from forge_store.errors import NotFoundError


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of ``path``, read in chunks."""
    hasher = hashlib.new(algorithm)
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
    except OSError as exc:
        raise NotFoundError(f"Could not read {path}: {exc.strerror or exc}") from None
    return hasher.hexdigest()


def cmd_hash(ns: argparse.Namespace) -> int:
    """pip's output: ``FILE:`` then ``--hash=ALGO:DIGEST`` for each file, in the order given."""
    lines: list[str] = []
    for name in ns.files:
        lines.append(f"{name}:\n--hash={ns.algorithm}:{file_digest(Path(name), ns.algorithm)}")
    if ns.quiet <= 0:
        print("\n".join(lines))
    return 0
