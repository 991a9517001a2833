"""Progress hooks of the index client; the CLI draws bars from them, tests record them.

Subclass :class:`IndexReporter` (or :class:`NullIndexReporter`) and override what you need: every hook
has a no-op default. Hooks may be called from download worker threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from forge_pip.models import DistFile


class IndexReporter(Protocol):
    """What the index client tells the outside world while it works (it never prints)."""

    def on_fetch_page(self, url: str) -> None:
        """A page (index, find-links, metadata) is about to be requested; ``url`` carries no credentials."""
        return None

    def on_download_start(self, file: DistFile, total: int | None) -> None:
        """A download starts; ``total`` is the size in bytes when known."""
        return None

    def on_download_progress(self, file: DistFile, done: int) -> None:
        """``done`` bytes of ``file`` have been written so far."""
        return None

    def on_download_done(self, file: DistFile, path: Path) -> None:
        """``file`` is verified and in place at ``path`` (also called for cache hits)."""
        return None

    def on_warning(self, message: str) -> None:
        """Something was skipped (malformed page, unreachable find-links, offline miss...)."""
        return None


class NullIndexReporter(IndexReporter):
    """Ignores everything: the default."""
