"""Types shared by the stages of forge_pip: what an index offers and who we resolve for.

``DistFile`` is one distribution file an index or find-links location offers (the index
client produces it, the resolver and the preparer consume it). ``TargetPython`` describes
the interpreter we install *for*, which is often not the one running Forge: tags and
markers are always evaluated against it, never against ``sys``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from forge_store.records import record

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.utils import NormalizedName
    from packaging.version import Version


@record(frozen=True)
class DistFile:
    """One file (wheel or sdist) offered for a project by an index or a find-links location.

    Frozen but not slotted: name/version/tags are parsed once, lazily, into ``__dict__``.

    Example: ``DistFile(url="https://i/f/numpy-2.0-cp311-cp311-linux_x86_64.whl",
    filename="numpy-2.0-cp311-cp311-linux_x86_64.whl", hashes={"sha256": "..."})``.
    """

    url: str
    """Absolute URL (``https://``, ``http://`` or ``file://``), without the ``#fragment``."""
    filename: str
    """The file name, unquoted: decides wheel vs sdist, name, version and tags."""
    hashes: Mapping[str, str] = dataclasses.field(default_factory=dict, hash=False)
    """Known digests, ``{"sha256": hex}``, from the index or the URL fragment."""
    requires_python: str | None = None
    """The ``data-requires-python`` / ``requires-python`` value, if the index gave one."""
    yanked: str | None = None
    """``None`` if not yanked (PEP 592), else the reason (possibly empty)."""
    metadata_hashes: Mapping[str, str] | None = dataclasses.field(default=None, hash=False)
    """PEP 658/714: ``None`` when no ``.metadata`` file is served, else its digests (may be empty)."""
    size: int | None = None
    source: str = ""
    """The index URL or find-links location this file came from (for messages)."""
    upload_time: str | None = dataclasses.field(default=None, compare=False)
    """PEP 700 ``upload-time`` (ISO 8601, JSON pages only), as the index wrote it; see ``upload_datetime``."""

    @property
    def upload_datetime(self) -> datetime.datetime | None:
        """``upload_time`` as an aware datetime (UTC when no offset is written); None if absent or invalid."""
        if not self.upload_time:
            return None
        text = self.upload_time.strip()
        if text.endswith(("Z", "z")):  # fromisoformat() of Python < 3.11 does not read "Z"
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def metadata_url(self) -> str:
        """Where the PEP 658 metadata file lives (meaningful only when ``metadata_hashes`` is set)."""
        return self.url + ".metadata"

    @functools.cached_property
    def _parsed(self) -> tuple[NormalizedName, Version, frozenset[Tag]]:
        from packaging.utils import parse_sdist_filename, parse_wheel_filename

        if self.is_wheel:
            name, version, _build, tags = parse_wheel_filename(self.filename)
            return name, version, tags
        name, version = parse_sdist_filename(self.filename)
        return name, version, frozenset()

    @property
    def name(self) -> NormalizedName:
        """Canonical project name parsed from the file name (raises ``InvalidWheelFilename`` /
        ``InvalidSdistFilename`` from packaging for malformed names: the index client filters those)."""
        return self._parsed[0]

    @property
    def version(self) -> Version:
        return self._parsed[1]

    @property
    def tags(self) -> frozenset[Tag]:
        """The wheel's tags (empty for an sdist)."""
        return self._parsed[2]


@record(frozen=True)
class TargetPython:
    """The interpreter an install is for: its version, tags (most preferred first) and markers.

    Build it with :func:`forge_store.interpreters.probe` for a real interpreter, or by hand in tests.
    """

    version: tuple[int, int, int]
    tags: tuple[Tag, ...]
    """Supported wheel tags, best first (as ``packaging.tags.sys_tags()`` would give there)."""
    markers: Mapping[str, str] = dataclasses.field(hash=False)
    """The PEP 508 marker environment of the target (``python_version``, ``sys_platform`` ...)."""

    @functools.cached_property
    def tag_priority(self) -> Mapping[Tag, int]:
        """Tag -> rank (0 is best); a wheel's rank is the best rank of its tags."""
        return {tag: i for i, tag in enumerate(self.tags)}

    @property
    def python_version(self) -> str:
        """``"3.11.7"``: what ``Requires-Python`` is checked against."""
        return ".".join(map(str, self.version))
