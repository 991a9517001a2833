"""Helpers for the index client tests: stand-in distribution files and a recording reporter."""

from __future__ import annotations

import threading
from pathlib import Path

from forge_pip.models import DistFile

METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: other>=1\n"


def make_file(directory: Path, filename: str, content: bytes | None = None) -> Path:
    """A stand-in distribution file (the index client never opens archives)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_bytes(content if content is not None else f"contents of {filename}\n".encode() * 50)
    return path


class RecordingReporter:
    """Collects every hook call (thread-safe), for assertions."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.warnings: list[str] = []
        self.started: list[tuple[str, int | None]] = []
        self.progress: list[tuple[str, int]] = []
        self.done: list[tuple[str, Path]] = []
        self._lock = threading.Lock()

    def on_fetch_page(self, url: str) -> None:
        with self._lock:
            self.pages.append(url)

    def on_download_start(self, file: DistFile, total: int | None) -> None:
        with self._lock:
            self.started.append((file.filename, total))

    def on_download_progress(self, file: DistFile, done: int) -> None:
        with self._lock:
            self.progress.append((file.filename, done))

    def on_download_done(self, file: DistFile, path: Path) -> None:
        with self._lock:
            self.done.append((file.filename, path))

    def on_warning(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)
