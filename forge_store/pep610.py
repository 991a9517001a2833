"""PEP 610 records (``direct_url.json``) turned back into requirements, as ``pip freeze`` does."""

from __future__ import annotations

import json

__all__ = ["direct_reference"]


def direct_reference(name: str, direct_url: str) -> str | None:
    """pip's ``direct_url_as_pep440_direct_reference``: the freeze line of a PEP 610 record.

    ``name @ git+URL@commit[#subdirectory=...]`` for VCS, ``name @ URL[#sha256=...]`` for archives,
    ``name @ file:///dir`` for directories; None for an editable install (pip prints ``-e PATH``
    there) and for an unreadable record.
    """
    try:
        data = json.loads(direct_url)
        url = data["url"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str):
        return None
    info = data.get("dir_info")
    if isinstance(info, dict) and info.get("editable"):
        return None
    fragments: list[str] = []
    vcs = data.get("vcs_info")
    archive = data.get("archive_info")
    if isinstance(vcs, dict):
        text = f"{name} @ {vcs.get('vcs')}+{url}@{vcs.get('commit_id')}"
    else:
        text = f"{name} @ {url}"
        if isinstance(archive, dict) and isinstance(archive.get("hash"), str):
            fragments.append(archive["hash"])
    if isinstance(data.get("subdirectory"), str):
        fragments.append("subdirectory=" + data["subdirectory"])
    return text + ("#" + "&".join(fragments) if fragments else "")
