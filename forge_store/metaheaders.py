"""The header fields of a METADATA / PKG-INFO text, read as ``email`` reads them, without ``email``.

The pip front end reads the METADATA of every dist an env sees several times per install (names for
the output, requirements for the post-install conflict check), and ingest checks every wheel's.
``email.parser.Parser().parsestr(text, headersonly=True)`` costs ~6 ms to import and ~0.2 ms per
text (its feed parser buffers every line, the long description too). :func:`parse_headers` gives
the very fields that parse gives (the compat32 policy: the same names, values, order, folding and
the same rules for where the headers end), from the header block alone; a text it cannot read as
``email`` would (lone surrogates) goes to ``email`` itself. ``tests/store/test_store_metaheaders.py``
holds it to ``email`` on crafted and random texts and on the METADATA of real wheels.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import email.message
    from pathlib import Path

_BLANK_LINES = ("\n\n", "\n\r\n")
"""The end of the header block: a line break, then an empty line (``\\n`` or ``\\r\\n``)."""

_HEADER = re.compile(r"(From |[\041-\071\073-\176]*:|[\t ])")
"""``email.feedparser.headerRE``: what a header line (or a continuation) starts with."""
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
"""One line with its end (``\\r\\n``, ``\\r`` or ``\\n``, as ``email`` splits), or a last line without one."""


class Fields(Protocol):
    """What callers read of a metadata text: ``email.message.Message``'s ``get`` and ``get_all``."""

    def get(self, name: str, failobj: Any = None) -> Any: ...

    def get_all(self, name: str, failobj: Any = None) -> Any: ...


class HeaderFields:
    """The header fields in order, looked up by name case-insensitively, as ``Message`` does
    (what callers use of it: ``get``, ``get_all``, ``[name]``, ``items``)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def get(self, name: str, failobj: Any = None) -> Any:
        """The first field called ``name`` (any case), else ``failobj``."""
        wanted = name.lower()
        for key, value in self._fields:
            if key.lower() == wanted:
                return value
        return failobj

    def get_all(self, name: str, failobj: Any = None) -> Any:
        """Every field called ``name`` (any case), in order, else ``failobj``."""
        wanted = name.lower()
        found = [value for key, value in self._fields if key.lower() == wanted]
        return found or failobj

    def __getitem__(self, name: str) -> str | None:
        value: str | None = self.get(name)
        return value

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)


def header_block(text: str) -> str:
    """``text`` up to and including its first empty line (the whole text if it has none).

    ``email``'s parser ends the headers at the first empty line (or earlier, at a line that is
    not a header), and every line up to that one is split exactly as in the whole text, so
    parsing the block gives the same fields as parsing the whole text."""
    ends = [i + len(sep) for sep in _BLANK_LINES if (i := text.find(sep)) >= 0]
    return text[: min(ends)] if ends else text


def parse_headers(text: str) -> HeaderFields | email.message.Message:
    """The header fields of a core-metadata text (``Name``, ``Version``, ``Requires-Dist``, ...):
    the fields ``Parser().parsestr(text, headersonly=True)`` gives (see the module docstring)."""
    block = header_block(text)
    try:
        block.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: email hands such values back as Header objects
        import email.parser

        return email.parser.Parser().parsestr(block, headersonly=True)
    lines = []
    for line in _LINES.findall(block):  # feedparser._parsegen: the header lines
        if not _HEADER.match(line):
            break  # an empty line (the separator) or a line that begins the body
        lines.append(line)
    return HeaderFields(_fields(lines))


def _fields(lines: list[str]) -> list[tuple[str, str]]:
    """``feedparser._parse_headers`` + ``compat32.header_source_parse`` over the header lines."""
    out: list[tuple[str, str]] = []
    current: list[str] = []

    def flush() -> None:
        name, value = current[0].split(":", 1)
        value = value.lstrip(" \t") + "".join(current[1:])
        out.append((name, value.rstrip("\r\n")))

    last = len(lines) - 1
    for number, line in enumerate(lines):
        if line[0] in " \t":
            if current:  # a continuation; before any header it is a defect, dropped
                current.append(line)
            continue
        if current:
            flush()
            current = []
        if line.startswith("From "):
            if number == last and number != 0:
                break  # the first line of the body (pushed back): not a field
            continue  # the envelope line (first), or a misplaced one (a defect): not fields
        if line.find(":") == 0:
            continue  # "Missing header name": a defect, dropped
        current = [line]
    if current:
        flush()
    return out


_read: dict[tuple[int, int], tuple[tuple[int, int, int], HeaderFields | email.message.Message]] = {}


def read_headers(path: Path) -> HeaderFields | email.message.Message | None:
    """:func:`parse_headers` of the file ``path`` (UTF-8, undecodable bytes replaced), ``None``
    when it cannot be read.

    Remembered for the life of the process by the file itself (device and inode, whatever the
    path or symlink it is reached by) while its size, mtime and ctime hold: one install reads each
    dist-info's METADATA several times (the env's dists, pip's conflict lines), through the env's
    links into the store, where it never changes."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (st.st_dev, st.st_ino)
    stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _read.get(key)
    if known is not None and known[0] == stamp:
        return known[1]
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    fields = parse_headers(text)
    _read[key] = (stamp, fields)  # one assignment: safe without a lock
    return fields
