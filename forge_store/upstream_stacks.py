"""Published stacks: named envs an upstream's manifest describes, so other nodes can layer on them.

Usage::

    records = stack_records(store, ["torch"], as_name=None)    # publisher: one record per env
    stacks = read_stacks(Path("/srv/forge/team"))              # consumer: {name: Stack}

``forge store publish DEST --env torch`` writes, beside the manifest's ``entries``::

    "stacks_version": 1,
    "stacks": {"torch": {"python": {"implementation": "cpython", "version": "3.11.7",
                                    "abi": "cpython-311-x86_64-linux-gnu", "abiflags": ""},
                         "parent": "base" | null,
                         "links": [{"id": ..., "name": "numpy", "version": "2.2.6",
                                    "requested": true}, ...],
                         "requirements": {"numpy": "numpy==2.2.6"},
                         "generation": 3}}

The manifest ``version`` stays 1: a reader that predates stacks ignores the new keys and keeps
using the entries; a reader of this version accepts a manifest without them (no stacks).
``stacks_version`` guards the stack records alone: one this Forge does not know leaves the
entries usable and refuses only ``--parent UPSTREAM:STACK``.

A stack's ``links`` are what its env links itself (its LOCAL layer); a stack without a parent also
carries the publisher's GLOBAL-layer dists the env sees, so a consumer's mirror shows what
``forge list --env torch`` showed on the publisher. A parent is published as a stack of its own
(under its env name). ``generation`` is the manifest generation in which the stack last changed:
re-publishing the same stack keeps it (and the manifest's generation) as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from .errors import UpstreamInvalid, UsageError
from .models import EnvKind, Layer
from .upstream import MANIFEST

if TYPE_CHECKING:
    from .models import EnvInfo
    from .store import Store
    from .upstream import Manifest
    from .upstream_http import RemoteManifest

log = logging.getLogger(__name__)

STACKS_KEY = "stacks"
STACKS_VERSION_KEY = "stacks_version"
STACKS_VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ID = re.compile(r"^[0-9a-f]{64}$")


@record(frozen=True, slots=True)
class StackLink:
    id: str
    name: str
    version: str
    requested: bool


@record(frozen=True, slots=True)
class StackPython:
    """The interpreter a stack was built for: a consumer needs one with this ABI."""

    implementation: str
    version: str  # "3.11.7"
    abi: str  # Interpreter.abi_key: "cpython-311-x86_64-linux-gnu"
    abiflags: str

    @property
    def short(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def request(self) -> str:
        """What :func:`.interpreters.find` takes for it: ``3.11`` (``3.13t`` free-threaded)."""
        return self.short + ("t" if self.abiflags == "t" else "")


@record(frozen=True, slots=True)
class Stack:
    name: str
    python: StackPython
    parent: str | None
    links: tuple[StackLink, ...]
    requirements: dict[str, str]
    generation: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


# -- publishing ---------------------------------------------------------------------------------------


def stack_name(env: EnvInfo) -> str:
    """The name an env is published under: its own (a mirror ``team:torch``: ``torch``)."""
    return env.name.rpartition(":")[2]


def with_parents(store: Store, names: Sequence[str]) -> list[str]:
    """``names`` and every parent of theirs (published as stacks too), each once."""
    out: dict[str, None] = {}
    for name in names:
        env = store.env(name)
        out.setdefault(env.name, None)
        for parent in store.chain(env):
            out.setdefault(parent.name, None)
    return list(out)


def _record(store: Store, env: EnvInfo) -> dict[str, object]:
    rows = [r for r in store.catalog.links(env.name) if r.layer == Layer.LOCAL.value]
    entries = store.catalog.entries([r.entry_id for r in rows])
    links = [(entries[r.entry_id], r.requested) for r in rows if r.entry_id in entries]
    if env.parent is None:  # the root of the chain carries what the publisher's GLOBAL layer adds
        own = {row.name for row, _req in links}
        extra = [d for d in store.visible(env.name) if d.layer is Layer.GLOBAL and d.name not in own]
        found = store.catalog.entries([d.entry_id for d in extra])
        links += [(found[d.entry_id], False) for d in extra if d.entry_id in found]
    interp = env.interpreter
    parent = None if env.parent is None else stack_name(store.env(env.parent))
    return {
        "python": {
            "implementation": interp.implementation,
            "version": interp.full_version,
            "abi": interp.abi_key,
            "abiflags": interp.abiflags,
        },
        "parent": parent,
        "links": [
            {"id": row.id, "name": row.name, "version": row.version, "requested": bool(req)}
            for row, req in sorted(links, key=lambda item: item[0].name)
        ],
        "requirements": dict(sorted(store.catalog.manifest(env.name).items())),
    }


def stack_records(
    store: Store, envs: Sequence[str] | None, as_name: str | None = None
) -> dict[str, dict[str, object]]:
    """The stack records (without ``generation``) of ``envs`` (default: every env Forge made or
    mirrors) and their parents; ``as_name``: the one named env is published under that name."""
    kinds = (EnvKind.ENV, EnvKind.MIRROR)
    names = list(envs) if envs else [e.name for e in store.envs() if e.kind in kinds]
    if as_name is not None:
        if len(names) != 1:
            raise UsageError("--as names one stack: give exactly one --env with it")
        if not NAME_RE.match(as_name):
            raise UsageError(
                f"invalid stack name {as_name!r}",
                hint="use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
            )
    top = names[0] if names else None
    out: dict[str, dict[str, object]] = {}
    for name in with_parents(store, names):
        env = store.env(name)
        published = as_name if (as_name is not None and name == top) else stack_name(env)
        doc = _record(store, env)
        if published in out and out[published] != doc:
            raise UsageError(f"two envs would be published as stack {published!r}", hint="use --as")
        out[published] = doc
    return out


def read_raw(dest: Path) -> dict[str, dict[str, object]]:
    """The stack records a manifest holds, as written ({} when there are none)."""
    try:
        data = (dest / MANIFEST).read_bytes()
    except FileNotFoundError:
        return {}
    return raw_stacks(data, str(dest))


def raw_stacks(data: bytes, dest: str) -> dict[str, dict[str, object]]:
    """The stack records of a manifest's bytes (``dest``: the upstream, for errors)."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise UpstreamInvalid(f"{dest}/{MANIFEST} is not JSON") from None
    raw = doc.get(STACKS_KEY) if isinstance(doc, dict) else None
    if not isinstance(raw, dict):
        return {}
    if doc.get(STACKS_VERSION_KEY) != STACKS_VERSION:
        raise UpstreamInvalid(
            f"{dest} holds stacks of version {doc.get(STACKS_VERSION_KEY)!r}; this Forge writes"
            f" version {STACKS_VERSION}",
            hint="publish with the Forge that wrote them (or a newer one)",
        )
    return {str(k): v for k, v in raw.items() if isinstance(v, dict)}


def merge(
    old: Mapping[str, dict[str, object]], new: Mapping[str, dict[str, object]], next_generation: int
) -> tuple[dict[str, dict[str, object]], bool]:
    """The stacks to write and whether any changed: a changed or new stack gets
    ``next_generation``; an unchanged one keeps its record; stacks not published now stay."""
    out = dict(old)
    changed = False
    for name, doc in new.items():
        before = old.get(name)
        if before is not None and {k: v for k, v in before.items() if k != "generation"} == doc:
            continue
        out[name] = {**doc, "generation": next_generation}
        changed = True
    return dict(sorted(out.items())), changed


# -- consuming ----------------------------------------------------------------------------------------


def _parse(name: str, raw: Mapping[str, object], entries: Mapping[str, object]) -> Stack:
    """One stack record, checked field by field (a manifest is input, not our own state)."""
    if not NAME_RE.match(name):
        raise ValueError("bad stack name")
    py = raw.get("python")
    if not isinstance(py, dict) or not all(
        isinstance(py.get(k), str) for k in ("implementation", "version", "abi", "abiflags")
    ):
        raise ValueError("bad python")
    if not re.match(r"^\d+\.\d+(\.\d+)?$", str(py["version"])):
        raise ValueError("bad python version")
    parent = raw.get("parent")
    if parent is not None and not (isinstance(parent, str) and NAME_RE.match(parent)):
        raise ValueError("bad parent")
    links: list[StackLink] = []
    seen: set[str] = set()
    raw_links = raw.get("links")
    if not isinstance(raw_links, list):
        raise ValueError("bad links")
    for item in raw_links:
        if not isinstance(item, dict):
            raise ValueError("bad link")
        cid, dist, version = item.get("id"), item.get("name"), item.get("version")
        if not (isinstance(cid, str) and _ID.match(cid)):
            raise ValueError("bad link id")
        if not (isinstance(dist, str) and isinstance(version, str)):
            raise ValueError("bad link name or version")
        if cid not in entries:
            raise ValueError(f"links {dist}-{version}, which the manifest does not list")
        if dist in seen:
            raise ValueError(f"links {dist} twice")
        seen.add(dist)
        links.append(StackLink(cid, dist, version, bool(item.get("requested"))))
    reqs = raw.get("requirements") or {}
    if not isinstance(reqs, dict) or not all(isinstance(v, str) for v in reqs.values()):
        raise ValueError("bad requirements")
    generation = raw.get("generation")
    if not isinstance(generation, int):
        raise ValueError("bad generation")
    python = StackPython(str(py["implementation"]), str(py["version"]), str(py["abi"]), str(py["abiflags"]))
    return Stack(name, python, parent, tuple(links), {str(k): v for k, v in reqs.items()}, generation)


def read_stacks(root: Path) -> tuple[Manifest, dict[str, Stack]]:
    """An upstream's manifest and the stacks it publishes. ``OSError`` when the manifest cannot be
    read, ``UpstreamInvalid`` when it is none or its stacks are of a version this Forge does not
    know; a stack record that does not parse is left out, with a warning. (The stacks are read
    first: a manifest replaced in between only lists more entries.)"""
    from .upstream import read_manifest

    raw = read_raw(root)
    manifest = read_manifest(root)
    return manifest, _parse_all(str(root), raw, manifest.entries)


def fetch_stacks(store: Store, url: str) -> tuple[RemoteManifest, dict[str, Stack]]:
    """An HTTP binary cache's manifest and the stacks it publishes, both from one fetch of the
    manifest (revalidated as for installs: :func:`.upstream_http.fetch_document`). ``FetchError``
    when it cannot be fetched; otherwise as :func:`read_stacks`."""
    from .upstream_http import check_url, fetch_document

    url = check_url(url)
    manifest, data = fetch_document(store, url, store.upstreams.fetcher)
    return manifest, _parse_all(url, raw_stacks(data, url), manifest.entries)


def _parse_all(
    root: str, raw: Mapping[str, dict[str, object]], entries: Mapping[str, object]
) -> dict[str, Stack]:
    out: dict[str, Stack] = {}
    for name, doc in raw.items():
        try:
            out[name] = _parse(name, doc, entries)
        except (ValueError, TypeError) as exc:
            log.warning("upstream %s: ignoring stack %r: %s", root, name[:64], exc)
    return out
