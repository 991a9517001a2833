"""``--find-links`` locations: a local directory, a ``file://`` directory or page, or an http(s) page.

Each location is read once per client (through the parsed-page cache, see
:mod:`forge_pip.index.pages`) and kept in memory with its rows grouped by project, so that asking
for one project costs a dictionary lookup.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

from forge_pip.models import DistFile

from .pagecache import PageEntry
from .pages import PageReader, links_parser
from .parsed import FileColumns, ProjectFiles, Segment
from .simple import Warn
from .urls import file_url_to_path, is_file_url, path_to_file_url, redact_url

log = logging.getLogger(__name__)


def is_remote(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


class _Location:
    """One read location: its columns and, per project, its row numbers."""

    def __init__(self, columns: FileColumns) -> None:
        self.columns = columns
        self.rows: dict[str, list[int]] = {}
        for row, project in enumerate(columns.projects or ()):
            self.rows.setdefault(project, []).append(row)


class FindLinks:
    """The files of all find-links locations, read lazily and once (thread-safe)."""

    def __init__(self, locations: Sequence[str], reader: PageReader, warn: Warn) -> None:
        self.locations = tuple(locations)
        self._reader = reader
        self._warn = warn
        self._lock = threading.Lock()
        self._read: dict[str, _Location] = {}

    def load(self) -> list[_Location]:
        """Every location, read on first use."""
        result: list[_Location] = []
        for location in self.locations:
            with self._lock:
                known = self._read.get(location)
            if known is None:
                known = _Location(self._load(location))
                with self._lock:
                    known = self._read.setdefault(location, known)
            result.append(known)
        return result

    def segments(self, project: str) -> list[Segment]:
        """The rows of ``project`` in every location, in order (malformed names are warned about)."""
        result: list[Segment] = []
        for location, known in zip(self.locations, self.load(), strict=True):
            for row in known.rows.get("!" + project, ()):
                filename = known.columns.filenames[row]
                log.info("skipping malformed file name %s", filename)
                self._warn(f"skipping {filename}: not a valid wheel or sdist file name")
            rows = known.rows.get(project)
            if rows:
                result.append(Segment(known.columns, location, rows))
        return result

    def files(self, project: str) -> list[DistFile]:
        return list(ProjectFiles(self.segments(project)))

    def _load(self, location: str) -> FileColumns:
        entry = self._entry(location)
        if entry is None:
            return FileColumns([], [], [], [], [], [], [], [], projects=[])
        for warning in entry.warnings:
            self._warn(warning)
        return entry.columns

    def _entry(self, location: str) -> PageEntry | None:
        if is_remote(location):
            return self._reader.http_page(location, links_parser, accept="text/html")
        path = file_url_to_path(location) if is_file_url(location) else Path(location).expanduser()
        try:
            st = os.stat(path)
            if stat.S_ISDIR(st.st_mode):
                return self._reader.directory(path)
            if stat.S_ISREG(st.st_mode):
                return self._reader.file_page(path, path_to_file_url(path), links_parser, st)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            self._warn(f"cannot read find-links location {redact_url(location)}: {exc}")
            return None
        self._warn(f"find-links location {redact_url(location)} does not exist")
        return None
