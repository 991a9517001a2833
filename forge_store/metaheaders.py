"""The header fields of a METADATA / PKG-INFO text, without feeding its body to ``email``.

``email.parser.Parser().parsestr(text, headersonly=True)`` still splits and buffers every line of
the long description that follows the headers (pandas' METADATA: thousands of lines), and the
pip front end reads the METADATA of every dist an env sees several times per install (names for
the output, requirements for the post-install conflict check). :func:`parse_headers` hands the
parser only the header block, so the fields it returns are the very ones the full parse gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import email.message

_BLANK_LINES = ("\n\n", "\n\r\n")
"""The end of the header block: a line break, then an empty line (``\\n`` or ``\\r\\n``)."""


def header_block(text: str) -> str:
    """``text`` up to and including its first empty line (the whole text if it has none).

    ``email``'s parser ends the headers at the first empty line (or earlier, at a line that is
    not a header), and every line up to that one is split exactly as in the whole text, so
    parsing the block gives the same fields as parsing the whole text."""
    ends = [i + len(sep) for sep in _BLANK_LINES if (i := text.find(sep)) >= 0]
    return text[: min(ends)] if ends else text


def parse_headers(text: str) -> email.message.Message:
    """The header fields of a core-metadata text (``Name``, ``Version``, ``Requires-Dist``, ...):
    the message ``Parser().parsestr(text, headersonly=True)`` gives, less its body."""
    import email.parser

    return email.parser.Parser().parsestr(header_block(text), headersonly=True)
