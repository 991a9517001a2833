"""``pip inspect``: pip's JSON report of the environment (version "1"), with Forge's layers added.

Each ``installed`` item has pip's keys (``metadata`` as PEP 566 JSON, ``metadata_location``,
``direct_url``, ``requested``, ``installer``, ``editable_project_location``) plus
``forge``: ``{"layer": "local" | "unmanaged" | "parent:<env>" | "global"}``. Every layer the env
sees is listed; ``--local`` keeps the env's own.
"""

from __future__ import annotations

import argparse
import email.message
import json

from forge_pip.cli.pip_inspect import SeenDist, seen_dists

# PEP 566: fields that may appear several times become lists
_MULTI = {
    "classifier",
    "dynamic",
    "license_file",
    "obsoletes_dist",
    "platform",
    "project_url",
    "provides_dist",
    "provides_extra",
    "requires_dist",
    "requires_external",
    "supported_platform",
}


def metadata_json(meta: email.message.Message) -> dict[str, object]:
    """Core metadata as PEP 566 JSON: lower-case keys with ``_``, lists for multiple-use fields,
    ``keywords`` split on commas, the body as ``description``."""
    out: dict[str, object] = {}
    keys = dict.fromkeys(k.lower().replace("-", "_") for k in meta)
    for key in keys:
        values = [str(v) for v in meta.get_all(key.replace("_", "-")) or ()]
        if key in _MULTI:
            out[key] = values
        elif key == "keywords":
            out[key] = [k.strip() for k in values[0].split(",") if k.strip()] if values else []
        elif values:
            out[key] = values[0]
    body = meta.get_payload()
    if isinstance(body, str) and body.strip() and "description" not in out:
        out["description"] = body
    return out


def _item(d: SeenDist) -> dict[str, object]:
    meta = d.full_metadata()
    item: dict[str, object] = {"metadata": metadata_json(meta), "metadata_location": str(d.dist_info)}
    try:
        direct = json.loads((d.dist_info / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        direct = None
    if isinstance(direct, dict):
        item["direct_url"] = direct
        location = d.editable_location()
        if location is not None:
            item["editable_project_location"] = location
    try:
        installer = (d.dist_info / "INSTALLER").read_text(encoding="utf-8").strip()
    except OSError:
        installer = ""
    if installer:
        item["installer"] = installer
    item["requested"] = (d.dist_info / "REQUESTED").exists()
    item["forge"] = {"layer": d.layer}
    return item


def cmd_inspect(ns: argparse.Namespace) -> int:
    from forge_pip.cli.target import open_target
    from forge_pip.pipcompat import PIP_VERSION
    from forge_store.store import Store

    with Store() as store:
        env = open_target(ns, store)
        dists = seen_dists(store, env, local_only=bool(ns.local))
        markers = env.interpreter.marker_env()
    doc = {
        "version": "1",
        "pip_version": PIP_VERSION,
        "installed": [_item(d) for d in dists],
        "environment": dict(markers),
    }
    print(json.dumps(doc, indent=2))
    return 0
