"""Forge's package index client: from a project name to a verified file on disk, pip-compatible.

PEP 503 / PEP 691 "simple" indexes over ``https://``, ``http://`` (trusted or loopback hosts) and
``file://``, find-links directories and pages, PEP 658/714 metadata, an on-disk HTTP cache with
revalidation, and verified, cached downloads. See :class:`IndexClient`.

Importing this package costs nothing: names are loaded on first access (PEP 562), and ``ssl``,
``http.client`` and ``packaging`` only when a request or a name check needs them.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing itself costs milliseconds at start-up; mypy honours this spelling
if TYPE_CHECKING:
    from .client import IndexClient
    from .errors import (
        HashMismatch,
        HttpStatusError,
        IndexClientError,
        IndexUnreachable,
        InsecureOrigin,
        OfflineError,
        UnsafeFilename,
    )
    from .reporter import IndexReporter, NullIndexReporter
    from .urls import redact_text, redact_url

_EXPORTS = {
    "IndexClient": "client",
    "HashMismatch": "errors",
    "HttpStatusError": "errors",
    "IndexClientError": "errors",
    "IndexUnreachable": "errors",
    "InsecureOrigin": "errors",
    "OfflineError": "errors",
    "UnsafeFilename": "errors",
    "IndexReporter": "reporter",
    "NullIndexReporter": "reporter",
    "redact_text": "urls",
    "redact_url": "urls",
}

__all__ = [
    "HashMismatch",
    "HttpStatusError",
    "IndexClient",
    "IndexClientError",
    "IndexReporter",
    "IndexUnreachable",
    "InsecureOrigin",
    "NullIndexReporter",
    "OfflineError",
    "UnsafeFilename",
    "redact_text",
    "redact_url",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
