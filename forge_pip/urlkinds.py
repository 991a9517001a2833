"""What kind of URL a requirement names (VCS or an archive), without loading :mod:`forge_pip.vcs`:
every install classifies its requirements, few of them are VCS URLs (its git machinery, hashing
and subprocess imports cost ~7 ms of start-up)."""

from __future__ import annotations

import re

from forge_store.errors import UnsupportedUrl

__all__ = ["OTHER_VCS", "is_vcs_url", "refuse_unusable_url", "url_scheme"]

OTHER_VCS = {"hg": "Mercurial", "svn": "Subversion", "bzr": "Bazaar"}
_ARCHIVE_SCHEMES = ("https", "http", "file")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def url_scheme(text: str) -> str:
    """The lower-cased scheme of a URL (``git+https``), "" when ``text`` has none."""
    head, sep, _ = text.partition(":")
    return head.lower() if sep and _SCHEME.fullmatch(head) else ""


def is_vcs_url(text: str) -> bool:
    """Whether ``text`` is a ``vcs+...`` URL (git, or one Forge refuses: hg, svn, bzr)."""
    vcs, plus, _ = url_scheme(text).partition("+")
    if plus:
        return vcs == "git" or vcs in OTHER_VCS
    # pip's scp-like stub: git+git@host:path (no "://"): the "scheme" then holds an @
    return text.lower().startswith("git+") and "://" not in text


def refuse_unusable_url(url: str, what: str) -> None:
    """Refuse (``UnsupportedUrl``) a requirement URL that is neither VCS nor http(s)/file."""
    if not is_vcs_url(url) and url_scheme(url) not in _ARCHIVE_SCHEMES:
        raise UnsupportedUrl(
            f"{what}: Forge cannot install from {url!r}: unsupported URL scheme",
            hint="use an https:// or file:// URL of a wheel or sdist, or a git+ URL",
        )
