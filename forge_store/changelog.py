"""Forge's version and the CHANGELOG that ships with it, parsed into releases.

The CHANGELOG is package data: ``forge_store/CHANGELOG.md`` is a symlink to the repository's
``CHANGELOG.md`` in the source tree, which setuptools dereferences into the sdist and the wheel, so
an installed Forge carries the very text of its release (a test builds the wheel and compares).

A release is a ``## X.Y.Z (YYYY-MM-DD)`` heading (``## Unreleased (X.Y.Z)`` before the release
date is known), its sections are ``### Title`` headings, their items the ``- `` bullets (with their
continuation lines folded into one string). Text before the first release is the preamble.
"""

from __future__ import annotations

import re
from pathlib import Path

from forge_store.records import record

from .errors import ChangelogMissing, ReleaseNotFound
from .version import DISTRIBUTION, forge_version

__all__ = ["DISTRIBUTION", "Changelog", "Release", "Section", "forge_version", "parse", "read_shipped"]

_RELEASE = re.compile(r"^## +(?P<head>[^()\s]+)(?: +\((?P<paren>[^)]*)\))? *$")
_SECTION = re.compile(r"^### +(?P<title>.+?) *$")
_VERSION = re.compile(r"^\d+(\.\d+)*([a-z]+\d*)?$")


@record(frozen=True, slots=True)
class Section:
    """One ``### Title`` of a release and its bullet items (continuation lines folded in)."""

    title: str
    items: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"title": self.title, "items": list(self.items)}


@record(frozen=True, slots=True)
class Release:
    """One ``## VERSION (DATE)`` section; ``date`` None while unreleased."""

    version: str
    date: str | None
    sections: tuple[Section, ...]
    text: str
    """The release's own Markdown, heading included, as written."""

    @property
    def unreleased(self) -> bool:
        return self.date is None

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "date": self.date,
            "unreleased": self.unreleased,
            "sections": [s.to_dict() for s in self.sections],
        }


@record(frozen=True, slots=True)
class Changelog:
    """A parsed CHANGELOG: its preamble and its releases, newest first (as written)."""

    preamble: str
    releases: tuple[Release, ...]

    def release(self, version: str) -> Release:
        """The release ``version`` (``unreleased`` names the one without a date)."""
        wanted = version.strip().lstrip("v")
        for rel in self.releases:
            if rel.version == wanted or (wanted.lower() == "unreleased" and rel.unreleased):
                return rel
        known = ", ".join(r.version for r in self.releases) or "none"
        raise ReleaseNotFound(f"no release {version!r} in the changelog", hint=f"releases: {known}")


def shipped_path() -> Path:
    """The CHANGELOG shipped in the package (package data), else the source tree's."""
    here = Path(__file__).resolve().parent
    for candidate in (Path(__file__).parent / "CHANGELOG.md", here.parent / "CHANGELOG.md"):
        if candidate.is_file():
            return candidate
    raise ChangelogMissing(
        f"no CHANGELOG.md in {here} (this Forge installation is incomplete)",
        hint="reinstall Forge (scripts/install.sh, pipx install or uv tool install)",
    )


def read_shipped() -> str:
    """The text of the shipped CHANGELOG."""
    path = shipped_path()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChangelogMissing(f"cannot read {path}: {exc}") from exc


def _release_head(head: str, paren: str | None) -> tuple[str, str | None]:
    """(version, date) of a release heading's two parts."""
    if head.lower() == "unreleased":
        target = (paren or "").strip().lstrip("v")
        return (target if _VERSION.match(target) else "unreleased"), None
    return head.lstrip("v"), (paren.strip() if paren and paren.strip() else None)


def _sections(lines: list[str]) -> tuple[Section, ...]:
    out: list[Section] = []
    title: str | None = None
    items: list[str] = []

    def close() -> None:
        if title is not None:
            out.append(Section(title, tuple(items)))

    fenced = False
    for line in lines:
        fence = line.lstrip().startswith("```")
        if fenced or fence:  # a code block belongs to the item above it, line breaks kept
            fenced = fenced != fence
            if title is not None:
                if items:
                    items[-1] = f"{items[-1]}\n{line}"
                else:
                    items.append(line)
            continue
        match = _SECTION.match(line)
        if match:
            close()
            title, items = match["title"], []
        elif title is None:
            continue  # prose between the release heading and its first section
        elif line.startswith(("- ", "* ")):
            items.append(line[2:].strip())
        elif line.strip() and items and line[:1].isspace():
            items[-1] = f"{items[-1]} {line.strip()}"
        elif line.strip():
            items.append(line.strip())  # a paragraph inside a section: keep it as an item
    close()
    return tuple(out)


def parse(text: str) -> Changelog:
    """Parse CHANGELOG Markdown into releases (headings inside fenced code are not headings)."""
    lines = text.splitlines()
    starts: list[tuple[int, str, str | None]] = []
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else _RELEASE.match(line)
        if match:
            version, date = _release_head(match["head"], match["paren"])
            starts.append((i, version, date))
    preamble_end = starts[0][0] if starts else len(lines)
    releases = []
    for n, (start, version, date) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        body = lines[start:end]
        releases.append(Release(version, date, _sections(body[1:]), "\n".join(body).rstrip("\n") + "\n"))
    return Changelog("\n".join(lines[:preamble_end]).strip("\n"), tuple(releases))
