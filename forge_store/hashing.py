"""Hashing helpers that load nothing heavy (the warm install path imports only these)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def record_sha256_hex(value: str) -> str | None:
    """A RECORD hash field (``sha256=<urlsafe b64>``, or the hex digests some wheels write) as sha256
    hex; ``None`` if absent or not sha256."""
    if not value:
        return None
    algo, _, digest = value.partition("=")
    if algo != "sha256" or not digest:
        return None
    if len(digest) == 64 and all(c in "0123456789abcdefABCDEF" for c in digest):
        return digest.lower()
    try:
        return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
    except ValueError:
        return None
