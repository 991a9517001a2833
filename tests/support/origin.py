"""The ``$ORIGIN`` property every env must keep: each recorded climb lands where the env shows."""

from __future__ import annotations

import os

from forge_store.models import Layer
from forge_store.store import Store


def _origin_rel(entry: str) -> str | None:
    for token in ("$ORIGIN", "${ORIGIN}"):
        if entry == token or entry.startswith(token + "/"):
            return entry[len(token) + 1 :] or "."
    return None


def climb_escapes(store: Store, env_name: str) -> list[str]:
    """Every recorded climb of the env's entries whose target, resolved as the kernel does from the
    env path, is not what the env shows at that path (or leaves both the env and the linked entries).
    A target that exists in neither view is fine: the loader finds nothing either way."""
    env = store.env(env_name)
    site = env.site_packages
    entries = [store.entry(d.entry_id) for d in store.visible(env_name) if d.layer is Layer.LOCAL]
    roots = [str(env.path)] + [str(e.path) for e in entries]
    bad: list[str] = []
    for entry in entries:
        for climb in entry.climbs:
            rel = _origin_rel(climb.rpath)
            assert rel is not None
            raw = f"{site / os.path.dirname(climb.file)}/{rel}"
            physical = os.path.realpath(raw)  # resolves each component, then '..' of the result
            shown = os.path.realpath(os.path.normpath(raw))
            if not os.path.exists(physical) and not os.path.exists(shown):
                continue
            inside = any(physical == r or physical.startswith(r + os.sep) for r in roots)
            if physical != shown or not inside:
                bad.append(f"{entry.name}: {climb.file} {climb.rpath} -> {physical} (env shows {shown})")
    return bad
