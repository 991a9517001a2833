"""Parse "simple" repository pages into :class:`~forge_pip.models.DistFile` lists.

PEP 503 HTML (with PEP 592 ``data-yanked``, ``data-requires-python`` and PEP 658/714
``data-core-metadata`` / ``data-dist-info-metadata``) and PEP 691 JSON. Links are resolved against the
page URL (or its ``<base href>``), ``#sha256=...`` fragments become hashes. A file whose name is not a
wheel or an sdist (``.tar.gz`` / ``.zip``) is skipped; a malformed page yields nothing and a warning,
never an exception.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Mapping

from forge_pip.models import DistFile

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"
ACCEPT = f"{JSON_CONTENT_TYPE}, {HTML_CONTENT_TYPE};q=0.2, text/html;q=0.01"

_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")
_HASH_NAMES = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s"})

Warn = Callable[[str], None]


class PageError(ValueError):
    """The page could not be parsed at all (the caller turns it into a warning)."""


def is_dist_filename(filename: str) -> bool:
    """Wheels and ``.tar.gz`` / ``.zip`` sdists only (pip skips eggs, installers and other archives)."""
    lower = filename.lower()
    return lower.endswith(_DIST_SUFFIXES) and "/" not in filename and "\\" not in filename


def _hashes_from_fragment(fragment: str) -> dict[str, str]:
    name, sep, value = fragment.partition("=")
    if sep and name.lower() in _HASH_NAMES and value:
        return {name.lower(): value.lower()}
    return {}


def _metadata_attr(value: str | None) -> dict[str, str] | None:
    """PEP 658/714 attribute: ``"true"`` -> ``{}``, ``"sha256=ab.."`` -> ``{"sha256": "ab.."}``."""
    if value is None or value.strip().lower() == "true":
        return {}
    name, sep, digest = value.strip().partition("=")
    if sep and name.lower() in _HASH_NAMES and digest:
        return {name.lower(): digest.lower()}
    if sep and digest:  # an algorithm we do not know: the file is served, we just cannot check it
        return {}
    return None


def _make_file(
    href: str,
    base_url: str,
    source: str,
    *,
    hashes: Mapping[str, str] | None = None,
    requires_python: str | None = None,
    yanked: str | None = None,
    metadata_hashes: Mapping[str, str] | None = None,
    size: int | None = None,
    filename: str | None = None,
    upload_time: str | None = None,
) -> DistFile | None:
    href = href.strip()
    # PyPI's JSON pages give absolute URLs for thousands of files: skip urljoin/urlsplit for those
    absolute = href if href.startswith(("https://", "http://")) else urllib.parse.urljoin(base_url, href)
    url, _, fragment = absolute.partition("#")
    name = filename or urllib.parse.unquote(url.split("?", 1)[0].rsplit("/", 1)[-1])
    if not is_dist_filename(name):
        return None
    all_hashes = _hashes_from_fragment(fragment)
    all_hashes.update({k.lower(): v.lower() for k, v in (hashes or {}).items() if isinstance(v, str)})
    return DistFile(
        url=url,
        filename=name,
        hashes=all_hashes,
        requires_python=(requires_python.strip() or None) if requires_python else None,
        yanked=yanked,
        metadata_hashes=metadata_hashes,
        size=size,
        source=source,
        upload_time=upload_time,
    )


def parse_html(
    body: bytes | str, page_url: str, *, source: str = "", charset: str = "utf-8"
) -> list[DistFile]:
    """Every wheel/sdist ``<a href>`` of a PEP 503 page (or any page of links, for find-links)."""
    text = body if isinstance(body, str) else body.decode(charset or "utf-8", errors="replace")
    from forge_pip.index.htmllinks import LinkParser

    parser = LinkParser()
    parser.feed(text)
    parser.close()
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    files: list[DistFile] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        yanked: str | bool | None = attrs.get("data-yanked", False)
        metadata: dict[str, str] | None = None
        for key in ("data-core-metadata", "data-dist-info-metadata"):  # PEP 714: the new name wins
            if key in attrs:
                metadata = _metadata_attr(attrs[key])
                break
        dist = _make_file(
            href,
            base,
            source or page_url,
            requires_python=attrs.get("data-requires-python"),
            yanked=None if yanked is False else (yanked if isinstance(yanked, str) else ""),
            metadata_hashes=metadata,
        )
        if dist is not None:
            files.append(dist)
    return files


def _json_metadata(value: object) -> dict[str, str] | None:
    if value is True:
        return {}
    if isinstance(value, Mapping):
        return {str(k).lower(): str(v).lower() for k, v in value.items() if isinstance(v, str)}
    return None


def parse_json(body: bytes, page_url: str, *, source: str = "", warn: Warn | None = None) -> list[DistFile]:
    """The ``files`` of a PEP 691 project page. Raises :class:`PageError` for an unusable document."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PageError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise PageError("not a PEP 691 project page (no 'files' list)")
    meta = doc.get("meta")
    version = str(meta.get("api-version", "1.0")) if isinstance(meta, dict) else "1.0"
    if version.split(".")[0] != "1":
        raise PageError(f"unsupported simple API version {version}")
    files: list[DistFile] = []
    for entry in doc["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            if warn:
                warn(f"skipping a malformed file entry on {page_url}")
            continue
        yanked = entry.get("yanked", False)
        metadata_key = "core-metadata" if "core-metadata" in entry else "dist-info-metadata"
        hashes = entry.get("hashes")
        size = entry.get("size")
        requires_python = entry.get("requires-python")
        filename = entry.get("filename")
        upload_time = entry.get("upload-time")
        dist = _make_file(
            entry["url"],
            page_url,
            source or page_url,
            hashes=hashes if isinstance(hashes, dict) else None,
            requires_python=requires_python if isinstance(requires_python, str) else None,
            yanked=(yanked if isinstance(yanked, str) else "") if yanked not in (False, None) else None,
            metadata_hashes=_json_metadata(entry.get(metadata_key)),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            filename=filename if isinstance(filename, str) and filename else None,
            upload_time=upload_time if isinstance(upload_time, str) else None,
        )
        if dist is not None:
            files.append(dist)
    return files


def parse_page(
    body: bytes, page_url: str, content_type: str, *, source: str = "", warn: Warn | None = None
) -> list[DistFile]:
    """Dispatch on ``Content-Type``: PEP 691 JSON, else HTML. Raises :class:`PageError`."""
    mime, _, params = content_type.partition(";")
    mime = mime.strip().lower()
    charset = "utf-8"
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    if mime == JSON_CONTENT_TYPE:
        return parse_json(body, page_url, source=source, warn=warn)
    if mime in (HTML_CONTENT_TYPE, "text/html", ""):
        try:
            return parse_html(body, page_url, source=source, charset=charset)
        except LookupError:  # unknown charset
            return parse_html(body, page_url, source=source)
    raise PageError(f"unexpected content type {mime!r}")


def matching(files: Iterable[DistFile], project: str, warn: Warn) -> list[DistFile]:
    """Only files whose parsed name is ``project`` (canonical); malformed names are skipped with a warning."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
    )

    wanted = canonicalize_name(project)
    kept: list[DistFile] = []
    for dist in files:
        try:
            name = dist.name
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            log.info("skipping malformed file name %s: %s", dist.filename, exc)
            if canonicalize_name(dist.filename.split("-", 1)[0]) == wanted:
                warn(f"skipping {dist.filename}: not a valid wheel or sdist file name")
            continue
        if name == wanted:
            kept.append(dist)
    return kept
