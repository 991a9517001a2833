"""Names of upstream stores, so ``team:torch`` means "stack torch of the upstream named team".

Usage::

    upstream_names.add(store, "/srv/forge/team", name=None)   # name derived: "team"
    src = upstream_names.lookup(store, "team")                 # an upstream.Source
    upstream_names.named(store)                                # [(name, Source), ...] in order

Where names come from, for each upstream in :func:`.upstream.sources` order:

- ``FORGE_UPSTREAM`` items may be written ``NAME=PATH`` (``team=/mnt/team:/mnt/b``);
- ``forge store add-upstream PATH --name NAME`` keeps the name in ``config.json`` under
  ``upstream_names`` (``{NAME: PATH}``), beside the ``upstreams`` list, which keeps its old form
  so an older Forge still reads it;
- otherwise the name is derived from the path's last component (``/srv/forge/team`` -> ``team``).

Names are unique: an explicit name that another upstream holds is refused; a derived name that an
earlier upstream already has gets ``-2``, ``-3``... (``forge store upstreams`` shows them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import StackNotFound, UpstreamInvalid

if TYPE_CHECKING:
    from .store import Store
    from .upstream import Source

CONFIG_KEY = "upstream_names"
ENV_VAR = "FORGE_UPSTREAM"
"""Upstreams named by the environment, before the configured ones (:func:`.upstream.sources`)."""
UPSTREAMS_KEY = "upstreams"
"""The ``config.json`` key of the configured upstreams (``forge store add-upstream``)."""


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAMED_ITEM = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(.+)$")


def any_configured(store: Store, environ: Mapping[str, str] | None = None) -> bool:
    """Whether an upstream may be in use: ``FORGE_UPSTREAM`` set, or ``config.json`` lists one
    (an unreadable ``config.json`` counts: :mod:`.upstream` says what is wrong with it). Without,
    nothing loads the upstream machinery (~8 ms of every install's start-up)."""
    from .errors import ForgeError
    from .settings import read_document

    env = os.environ if environ is None else environ
    if env.get(ENV_VAR, "").strip():
        return True
    try:
        return bool(read_document(store).get(UPSTREAMS_KEY))
    except ForgeError:
        return True


def split_item(item: str) -> tuple[str | None, str]:
    """``NAME=PATH`` -> ``(NAME, PATH)``; a plain path (even one with ``=`` in it) -> ``(None, item)``."""
    m = _NAMED_ITEM.match(item)
    return (m.group(1), m.group(2)) if m else (None, item)


def derive(location: str) -> str:
    """A name from a path's (or URL's) last component: ``/srv/forge/team`` -> ``team``."""
    last = location.rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]", "-", last).lstrip("._-")[:64]
    return name or "upstream"


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UpstreamInvalid(
            f"invalid upstream name {name!r}",
            hint="use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
        )
    return name


def _configured(store: Store) -> dict[str, str]:
    """``{name: normalised location}`` as ``config.json`` keeps them."""
    from .settings import read_document
    from .upstream import _normalise

    raw = read_document(store).get(CONFIG_KEY)
    if not isinstance(raw, dict):
        return {}
    return {
        str(k): _normalise(v) for k, v in raw.items() if isinstance(v, str) and v and NAME_RE.match(str(k))
    }


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``{normalised location: name}`` of the ``NAME=PATH`` items of ``FORGE_UPSTREAM``."""
    from .upstream import _normalise, split_env

    out: dict[str, str] = {}
    for item in split_env(environ.get(ENV_VAR, "")):
        name, location = split_item(item)
        if name is not None:
            out.setdefault(_normalise(location), name)
    return out


def named(store: Store, environ: Mapping[str, str] | None = None) -> list[tuple[str, Source]]:
    """Every upstream with its name, in order of preference (see the module doc)."""
    from .upstream import sources

    env = os.environ if environ is None else environ
    explicit_env = _from_env(env)
    explicit_cfg = {loc: name for name, loc in _configured(store).items()}
    items = sources(store, env)
    given = {s.location: explicit_env.get(s.location) or explicit_cfg.get(s.location) for s in items}
    reserved = {n for n in given.values() if n}  # a derived name never takes an explicit one
    taken: set[str] = set()
    out: list[tuple[str, Source]] = []
    for src in items:
        name = given[src.location]
        if name is None or name in taken:
            base = name or derive(src.location)
            name, i = base, 1
            while name in taken or (name in reserved and name != given[src.location]):
                i += 1
                name = f"{base[:60]}-{i}"
        taken.add(name)
        out.append((name, src))
    return out


def lookup(store: Store, name: str) -> Source:
    """The upstream named ``name``; :class:`StackNotFound` listing the names there are."""
    found = named(store)
    for n, src in found:
        if n == name:
            return src
    listed = ", ".join(f"{n} ({s.location})" for n, s in found) or "none"
    raise StackNotFound(
        f"no upstream named {name!r} (upstreams: {listed})",
        hint="forge store add-upstream PATH --name NAME, or FORGE_UPSTREAM=NAME=PATH",
    )


def add(store: Store, location: str, name: str | None) -> tuple[str, object]:
    """``forge store add-upstream PATH [--name NAME]``: record the upstream (:func:`.upstream.add`)
    and its name; returns ``(name, manifest or None)``. An explicit name another upstream holds, or
    a derived one that is taken (then ``--name`` is needed), is refused before anything changes."""
    from . import upstream
    from .settings import read_document, write_document

    where = upstream._normalise(location)
    names = _configured(store)
    current = next((n for n, loc in names.items() if loc == where), None)
    wanted = check_name(name) if name is not None else (current or derive(where))
    holder = names.get(wanted)
    if holder is not None and holder != where:
        how = "another --name" if name is not None else "--name NAME"
        raise UpstreamInvalid(f"upstream name {wanted!r} is taken by {holder}", hint=f"pick {how}")
    _items, manifest = upstream.add(store, location)
    if current != wanted:
        with store.config_lock():
            doc = read_document(store)
            fresh = {n: loc for n, loc in _configured(store).items() if loc != where}
            if fresh.get(wanted, where) != where:
                raise UpstreamInvalid(f"upstream name {wanted!r} is taken by {fresh[wanted]}")
            fresh[wanted] = where
            write_document(store, {**doc, CONFIG_KEY: dict(sorted(fresh.items()))})
    return wanted, manifest


def remove(store: Store, location_or_name: str) -> None:
    """``forge store remove-upstream PATH|NAME``: forget the upstream and its name."""
    from . import upstream
    from .settings import read_document, write_document

    names = _configured(store)
    where = names.get(location_or_name) or location_or_name
    upstream.remove(store, where)
    normal = upstream._normalise(where)
    if normal in names.values():
        with store.config_lock():
            doc = read_document(store)
            fresh = {n: loc for n, loc in _configured(store).items() if loc != normal}
            write_document(store, {**doc, CONFIG_KEY: fresh})
