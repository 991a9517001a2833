"""The built-wheel cache: wheels built from sdists, keyed by the sdist's bytes and the config settings.

Layout: ``<root>/<key[:2]>/<key>/<wheel filename>``. A key directory may hold wheels for several
interpreters (a native sdist built for 3.11 and 3.12); a lookup picks the best one for the target's
tags. Entries appear atomically: a fresh key directory is renamed into place, a further wheel for
an existing key is hard-linked (or renamed) in, so a concurrent reader never sees half a wheel.
Wheels built from project directories are not cached; they go to ``<root>/local/<key>/``,
replaced by the next build of the same directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.tags import Tag

ConfigSettings = Mapping[str, "str | list[str]"]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(source_hash: str, config_settings: ConfigSettings | None, *extra: str) -> str:
    """The cache key: the source hash itself when there are no settings, else a hash of both."""
    if not config_settings and not extra:
        return source_hash
    settings = json.dumps(config_settings or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256("\0".join((source_hash, settings, *extra)).encode()).hexdigest()


def _pure(tags: frozenset[Tag]) -> bool:
    return any(tag.abi == "none" and tag.platform == "any" for tag in tags)


class BuiltWheelCache:
    """The ``built/`` directory of Forge's cache (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def lookup(self, key: str, tags: Sequence[Tag] | None) -> Path | None:
        """The best cached wheel for ``key`` usable with ``tags`` (best first).

        Without ``tags`` only pure-Python wheels (``*-none-any``) are returned: a native wheel
        built for another interpreter must not be mistaken for ours.
        """
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename

        entry = self.entry(key)
        if not entry.is_dir():
            return None
        rank = {tag: i for i, tag in enumerate(tags or ())}
        best: tuple[int, Path] | None = None
        for wheel in sorted(entry.glob("*.whl")):
            try:
                wheel_tags = parse_wheel_filename(wheel.name)[3]
            except InvalidWheelFilename:
                continue
            if tags is None:
                score = 0 if _pure(wheel_tags) else None
            else:
                score = min((rank[tag] for tag in wheel_tags if tag in rank), default=None)
            if score is not None and (best is None or score < best[0]):
                best = (score, wheel)
        return best[1] if best else None

    def work_dir(self) -> Path:
        """A fresh scratch directory on the cache's filesystem (so publishing is a rename)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".build-", dir=self.root))

    def publish(self, key: str, wheel: Path) -> Path:
        """Move ``wheel`` into the entry for ``key`` atomically; return where it now is.

        If a concurrent builder already published a wheel of the same name, theirs is kept.
        """
        entry = self.entry(key)
        final = entry / wheel.name
        if final.is_file():
            return final
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
        try:
            shutil.move(wheel, staging / wheel.name)
            try:
                staging.rename(entry)
                return final
            except OSError:  # the entry exists: add our wheel to it, one file, atomically
                pass
            try:
                os.link(staging / wheel.name, final)
            except FileExistsError:
                pass
            except OSError:
                os.replace(staging / wheel.name, final)
            return final
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def publish_local(self, key: str, wheel: Path) -> Path:
        """Put a wheel built from a directory at ``local/<key>/``, replacing earlier builds there."""
        entry = self.root / "local" / key
        entry.mkdir(parents=True, exist_ok=True)
        final = entry / wheel.name
        handle, name = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=entry)
        os.close(handle)
        staged = Path(name)
        shutil.move(wheel, staged)
        os.replace(staged, final)
        for stale in entry.glob("*.whl"):
            if stale != final:
                stale.unlink(missing_ok=True)
        return final
