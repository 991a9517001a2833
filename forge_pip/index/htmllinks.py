"""The ``<base href>`` and ``<a>`` tags of an HTML page (PEP 503 pages, find-links pages).

Its own module so that ``html.parser`` (and ``html.entities``, ``_markupbase``) loads only when a
page is parsed: a resolution memo answered from cached page headers parses none.
"""

from __future__ import annotations

from html.parser import HTMLParser


class LinkParser(HTMLParser):
    """Collects the first ``<base href>`` and every ``<a>``'s attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))
