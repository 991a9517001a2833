"""Where Forge keeps its state: ``FORGE_HOME`` and the fixed layout below it.

``FORGE_HOME`` (environment) wins; otherwise the platform's user data dir for ``forge``
(``~/.local/share/forge`` on Linux). Everything Forge writes lives below it, except envs
created with an explicit ``--path``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from forge_store.records import record


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$FORGE_HOME``, else the user data dir (XDG on Linux) + ``forge``."""
    env = os.environ if environ is None else environ
    explicit = env.get("FORGE_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    import platformdirs  # lazy: only when no FORGE_HOME is set

    return Path(platformdirs.user_data_dir("forge", appauthor=False))


def home_of_venv(prefix: Path) -> Path | None:
    """The ``FORGE_HOME`` a Forge env at ``prefix`` belongs to (``forge_home`` in its
    ``pyvenv.cfg``), when that home still holds a catalog; None otherwise (a plain venv, an env of
    an older Forge, a home moved or deleted since)."""
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "forge_home":
            root = Path(value.strip())
            return root if root.is_absolute() and ForgeHome(root).catalog.is_file() else None
    return None


@record(frozen=True, slots=True)
class ForgeHome:
    """The fixed layout below ``FORGE_HOME``; creating the object touches nothing on disk."""

    root: Path

    @property
    def store(self) -> Path:
        """Published, sealed entries: ``store/<id16>/``."""
        return self.root / "store"

    @property
    def tmp(self) -> Path:
        """Staging for ingest; same filesystem as ``store`` so publishing is one ``rename``."""
        return self.root / "tmp"

    @property
    def trash(self) -> Path:
        """Entries collected by gc wait here for their grace period."""
        return self.root / "trash"

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    @property
    def globals(self) -> Path:
        """One GLOBAL base layer per interpreter ABI: ``globals/<abi key>/``."""
        return self.root / "globals"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def cache(self) -> Path:
        """HTTP, download and built-wheel caches (forge_pip), interpreter probes."""
        return self.root / "cache"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite3"

    def ensure(self) -> ForgeHome:
        """Create the directories that must exist before any write."""
        for path in (self.store, self.tmp, self.envs, self.locks, self.cache):
            path.mkdir(parents=True, exist_ok=True)
        marker = self.store / ".empty"  # shared target of every env's REQUESTED (linker.EMPTY_MARKER)
        if not marker.exists():
            tmp = self.store / f".empty.{os.getpid()}"
            tmp.write_bytes(b"")
            tmp.chmod(0o444)
            os.replace(tmp, marker)
        return self
