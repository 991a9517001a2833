"""``--find-links`` locations: a local directory, a ``file://`` directory or page, or an http(s) page.

Each location is read once per client and kept in memory; callers filter by project name.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from forge_pip.models import DistFile

from .simple import Warn, is_dist_filename, parse_html
from .urls import file_url_to_path, is_file_url, path_to_file_url, redact_url

log = logging.getLogger(__name__)

FetchPage = Callable[[str], "tuple[str, bytes] | None"]
"""``url -> (final_url, body)`` for a remote page, or ``None`` when it has nothing (404, offline miss)."""


def is_remote(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


def list_directory(directory: Path, source: str) -> list[DistFile]:
    """Every wheel/sdist directly inside ``directory``, sorted by file name."""
    files: list[DistFile] = []
    with os.scandir(directory) as entries:
        names = sorted(entry.name for entry in entries if entry.is_file())
    for name in names:
        if is_dist_filename(name):
            files.append(DistFile(url=path_to_file_url(directory / name), filename=name, source=source))
    return files


class FindLinks:
    """The files of all find-links locations, read lazily and once (thread-safe)."""

    def __init__(self, locations: Sequence[str], fetch_page: FetchPage, warn: Warn) -> None:
        self.locations = tuple(locations)
        self._fetch_page = fetch_page
        self._warn = warn
        self._lock = threading.Lock()
        self._files: dict[str, list[DistFile]] = {}

    def files(self) -> list[DistFile]:
        result: list[DistFile] = []
        for location in self.locations:
            with self._lock:
                cached = self._files.get(location)
            if cached is None:
                cached = self._read(location)
                with self._lock:
                    self._files.setdefault(location, cached)
            result.extend(cached)
        return result

    def _read(self, location: str) -> list[DistFile]:
        if is_remote(location):
            fetched = self._fetch_page(location)
            if fetched is None:
                return []
            final_url, body = fetched
            return parse_html(body, final_url, source=location)
        path = file_url_to_path(location) if is_file_url(location) else Path(location).expanduser()
        try:
            if path.is_dir():
                return list_directory(path, location)
            if path.is_file():
                return parse_html(path.read_bytes(), path_to_file_url(path), source=location)
        except OSError as exc:
            self._warn(f"cannot read find-links location {redact_url(location)}: {exc}")
            return []
        self._warn(f"find-links location {redact_url(location)} does not exist")
        return []
