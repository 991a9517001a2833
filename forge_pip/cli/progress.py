"""One aggregate download progress line on a terminal (silent in a pipe or with ``-q``).

Downloads run in parallel worker threads, so one line sums them: files in flight, bytes done of
bytes known, and a bar. Redrawn at most ten times a second; cleared when the last file is done.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

_WIDTH = 24


class DownloadProgress:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._files: dict[str, list[int]] = {}  # filename -> [done, total (0 if unknown)]
        self._last = 0.0
        self._shown = 0

    def start(self, name: str, total: int | None) -> None:
        with self._lock:
            self._files[name] = [0, total or 0]
            self._draw(force=True)

    def advance(self, name: str, done: int) -> None:
        with self._lock:
            if name in self._files:
                self._files[name][0] = done
                self._draw()

    def finish(self, name: str) -> None:
        with self._lock:
            self._files.pop(name, None)
            if self._files:
                self._draw(force=True)
            elif self._shown:
                self._stream.write("\r" + " " * self._shown + "\r")
                self._stream.flush()
                self._shown = 0

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        done = sum(d for d, _t in self._files.values())
        total = sum(t for _d, t in self._files.values())
        if total:
            filled = min(_WIDTH, int(_WIDTH * done / total))
            bar = "#" * filled + "-" * (_WIDTH - filled)
            line = f"Downloading {len(self._files)} file(s) [{bar}] {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            line = f"Downloading {len(self._files)} file(s) {done / 1e6:.1f} MB"
        self._stream.write("\r" + line.ljust(self._shown))
        self._stream.flush()
        self._shown = max(self._shown, len(line))
