"""Cache files written whole or not at all: a temporary file beside the target, ``os.replace``-d."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def write_cache_file(path: Path, *parts: bytes, what: str) -> None:
    """Write ``parts`` to ``path`` atomically (readers see the old file or the whole new one).

    A cache must never break an install: an ``OSError`` (read-only or full disk) is logged as
    "could not write ``what`` ``path``" and swallowed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        log.info("could not write %s %s: %s", what, path, exc)
