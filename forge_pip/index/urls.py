"""URL helpers: credential splitting and redaction, secure origins, ``file://`` <-> path.

Credentials never leave this client in text: every URL that reaches a message, a log line or a repr
goes through :func:`redact_url` or :func:`redact_text` first.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def _redacted_userinfo(userinfo: str) -> str:
    user, sep, _password = userinfo.partition(":")
    return f"{user}:****" if sep else "****"


def redact_url(url: str) -> str:
    """``https://user:pw@host/x`` -> ``https://user:****@host/x``; a lone token becomes ``****``."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """Redact every ``scheme://userinfo@`` occurrence in free text (error causes, log lines)."""
    return _CREDENTIALS.sub(lambda m: m["scheme"] + _redacted_userinfo(m["userinfo"]) + "@", text)


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """Remove ``user:password@`` from ``url``; return the clean URL and the (unquoted) credentials."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, (urllib.parse.unquote(user), urllib.parse.unquote(password))


def netloc_key(url: str) -> str:
    """``host:port`` (lower-case host, default port filled in): the unit credentials and pools are kept by."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}"


def is_file_url(url: str) -> bool:
    return url.lower().startswith("file:")


def file_url_to_path(url: str) -> Path:
    """``file:///opt/x%20y`` -> ``/opt/x y`` (only local ``file://`` URLs, as pip accepts them)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if netloc and netloc.lower() != "localhost":
        return Path("//" + netloc + urllib.parse.unquote(parts.path))
    return Path(urllib.parse.unquote(parts.path))


def path_to_file_url(path: Path | str) -> str:
    resolved = Path(os.path.abspath(path))
    url = resolved.as_uri()
    if Path(path).is_dir() and not url.endswith("/"):
        url += "/"
    return url


def strip_fragment(url: str) -> tuple[str, str]:
    base, _, fragment = url.partition("#")
    return base, fragment


def filename_from_url(url: str) -> str:
    """The unquoted last path segment (no query, no fragment)."""
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(path.rsplit("/", 1)[-1])


def ascii_host(host: str) -> str | bytes:
    """``host`` as the bytes the ``idna`` codec would make of it, when it is ASCII with labels that
    codec accepts unchanged (1-63 characters, the last one may be empty); else ``host`` itself, for
    the codec to convert or refuse as before. ``socket.getaddrinfo`` and ``ssl``'s
    ``server_hostname`` take either; given text, they import ``encodings.idna`` (with
    ``stringprep`` and ``unicodedata``, ~5 ms of the first connection's thread) to do the same."""
    try:
        raw = host.encode("ascii")
    except UnicodeEncodeError:
        return host
    labels = raw.split(b".")
    if not raw or any(not 0 < len(label) < 64 for label in labels[:-1]) or len(labels[-1]) >= 64:
        return host
    return raw
