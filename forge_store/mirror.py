"""Mirror envs: a local, read-only env of a stack an upstream publishes (``team:torch``).

Usage::

    result = mirror.ensure(store, "team:torch")     # created, updated or already current
    store.create_env("app", parent="team:torch")    # does the same, then layers app on it

``forge create app --parent team:torch`` makes (or brings up to date) the env ``team:torch`` at
``FORGE_HOME/envs/@team/torch``: a real venv for the interpreter the stack was built for (one with
the same ABI must exist on this node), whose site-packages links straight into the upstream's
entry directories (adopted as upstream rows, :func:`.upstream.adopt`: checked against their
RECORD once per node and manifest generation, zero bytes copied), with the stack's parent
mirrored the same way as its parent. It is registered as an env of kind ``mirror``: it is a layer
for other envs, and every install, uninstall or mode change of it is refused
(:class:`~.errors.MirrorReadOnly`); only :func:`ensure` changes it.

Freshness, the smallest sound design: every ``--parent team:torch`` and every
``forge store sync [team:torch]`` compares the mirror's links with the stack in the upstream's
current manifest and applies the difference in one undoable change (so the layer checks judge it
for the mirror's children too, and flat children are relinked); nothing is checked in between.
``forge store stacks`` shows which mirrors are behind their stack. An upstream that is gone
leaves the mirror as it is: ``forge doctor`` reports its entries (``upstream-entry-gone``).

From an HTTP(S) binary cache the stack's entries cannot be linked in place: each is substituted
into the local store first (:func:`.upstream.adopt`: streamed, hashed, RECORD-checked, published
atomically; one the store already holds is reused), and the mirror links those local entries as
any env links local entries (gc counts its links like any env's). Every entry of the stack and
its parents is substituted before the first mirror env is made or changed, so an archive that
fails its checks refuses the command with one line and leaves no half-made mirror.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from . import interpreters
from .errors import (
    EnvExists,
    ForgeError,
    InterpreterNotFound,
    StackNotFound,
    UpstreamError,
    UpstreamInvalid,
)
from .models import EnvInfo, EnvKind, Interpreter, Layer

if TYPE_CHECKING:
    from .catalog import EntryRow
    from .models import InstallReport
    from .store import Store
    from .upstream import Manifest
    from .upstream_http import RemoteManifest
    from .upstream_stacks import Stack

SEP = ":"


@record(frozen=True, slots=True)
class MirrorResult:
    """What :func:`ensure` did: ``action`` is created, updated or current."""

    env: EnvInfo
    action: str
    upstream: str  # the upstream's name
    root: str
    stack: str
    generation: int  # the stack's generation now mirrored
    report: InstallReport | None = None
    parents: tuple[MirrorResult, ...] = ()  # what ensuring its parent stacks did, farthest first

    def to_dict(self) -> dict[str, object]:
        return {
            "env": self.env.name,
            "action": self.action,
            "upstream": self.upstream,
            "root": self.root,
            "stack": self.stack,
            "generation": self.generation,
        }


def is_ref(name: str | None) -> bool:
    """Whether ``name`` means a published stack (``UPSTREAM:STACK``; env names hold no ``:``)."""
    return name is not None and SEP in name


def split_ref(ref: str) -> tuple[str, str]:
    from .upstream_names import NAME_RE

    up, _sep, stack = ref.partition(SEP)
    if not (NAME_RE.match(up) and NAME_RE.match(stack)):
        raise StackNotFound(
            f"{ref!r} is no published stack: write UPSTREAM:STACK (e.g. team:torch)",
            hint="`forge store upstreams` lists upstream names, `forge store stacks` their stacks",
        )
    return up, stack


def mirror_path(store: Store, up: str, stack: str) -> Path:
    return store.home.envs / f"@{up}" / stack


def _source(store: Store, up: str) -> tuple[str, Manifest | RemoteManifest, dict[str, Stack]]:
    """The upstream's location, its current manifest and the stacks it publishes."""
    from . import upstream_names, upstream_stacks
    from .upstream_http import FetchError

    src = upstream_names.lookup(store, up)
    if src.is_url:
        try:
            remote, found = upstream_stacks.fetch_stacks(store, src.location)
        except FetchError as exc:
            raise UpstreamError(
                f"upstream {up} ({src.location}) is not available ({exc.why})",
                hint="check that the server is up, or `forge store upstreams` to see what is configured",
            ) from None
        return src.location, remote, found
    root = Path(src.location)
    try:
        manifest, stacks = upstream_stacks.read_stacks(root)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UpstreamError(
            f"upstream {up} ({root}) is not available ({why})",
            hint="mount it again, or `forge store upstreams` to see what is configured",
        ) from None
    return str(root), manifest, stacks


def _interpreter(store: Store, ref: str, stack: Stack) -> Interpreter:
    py = stack.python
    need = f"{py.implementation} {py.version} ({py.abi})"
    interp: Interpreter | None = interpreters.current()  # Forge's own, when it has the ABI
    if interp is None or interp.abi_key != py.abi:
        try:
            interp = interpreters.find(py.request, store.home.cache / "interpreters")
        except ForgeError:  # none there, or one that does not probe: as missing
            interp = None
    if interp is None or interp.abi_key != py.abi or interp.implementation != py.implementation:
        found = f"; found {interp.implementation} {interp.full_version} ({interp.abi_key})" if interp else ""
        raise InterpreterNotFound(
            f"stack {ref} needs {need}, which this node does not have{found}",
            hint=f"install Python {py.short} (on PATH as python{py.short}), then run the command again",
        )
    return interp


def ensure(store: Store, ref: str, *, _seen: frozenset[str] = frozenset()) -> MirrorResult:
    """Create the mirror env of ``ref`` (``UPSTREAM:STACK``), or bring it up to date with the
    stack in the upstream's current manifest (see the module doc); its parent stacks first."""
    up, name = split_ref(ref)
    if ref in _seen:
        raise UpstreamInvalid(f"stack {ref} is its own ancestor (the manifest names a parent cycle)")
    root, manifest, stacks = _source(store, up)
    stack = stacks.get(name)
    if stack is None:
        listed = ", ".join(sorted(stacks)) or "none"
        raise StackNotFound(
            f"upstream {up} ({root}) publishes no stack {name!r} (stacks: {listed})",
            hint="the publisher runs `forge store publish DIR --env ENV`",
        )
    interp = _interpreter(store, ref, stack)
    store.catalog.check_writable()
    if not _seen:  # the whole chain's entries are in hand before any mirror is made or changed
        _prefetch(store, root, manifest, _chain(stacks, stack))
    above = ensure(store, f"{up}{SEP}{stack.parent}", _seen=_seen | {ref}) if stack.parent else None
    parent = above.env if above else None
    env_name = f"{up}{SEP}{name}"
    row = store.catalog.env(env_name)
    action = "updated"
    if row is None:
        try:
            env = store._create(
                env_name,
                interp,
                path=mirror_path(store, up, name),
                kind=EnvKind.MIRROR,
                parent=parent.name if parent else None,
            )
            action = "created"
        except EnvExists:  # another command made it meanwhile: bring that one up to date
            if store.catalog.env(env_name) is None:
                raise
            row = store.catalog.env(env_name)
    if row is not None:
        env = store.env(env_name)
        if env.kind is not EnvKind.MIRROR:
            raise EnvExists(f"env {env_name!r} exists and is no mirror", hint=f"forge remove {env_name}")
        if env.interpreter.abi_key != interp.abi_key or env.parent != (parent.name if parent else None):
            raise EnvExists(
                f"mirror {env_name} was made for another interpreter or parent than stack {ref} now has",
                hint=f"forge remove --recursive {env_name}, then create its children again",
            )
    report = _sync(store, env, root, manifest, stack)
    moved = report is not None and any(a.action != "unchanged" for a in report.actions)
    if action == "updated" and not moved:  # nothing changed (at most re-checked entries)
        action = "current"
    parents = (*above.parents, above) if above else ()
    return MirrorResult(store.env(env_name), action, up, root, name, stack.generation, report, parents)


def _chain(stacks: dict[str, Stack], stack: Stack) -> list[Stack]:
    """The stack and its parents, as far as the manifest names them (a cycle or a missing parent
    is refused by :func:`ensure` when it gets there)."""
    out = [stack]
    while out[-1].parent and out[-1].parent in stacks and len(out) <= len(stacks):
        out.append(stacks[out[-1].parent])
    return out


def _prefetch(store: Store, root: str, manifest: Manifest | RemoteManifest, chain: Sequence[Stack]) -> None:
    """Adopt every entry of ``chain`` that the local catalog lacks or has not checked against
    this manifest generation: from an HTTP upstream that substitutes it (fetched, verified,
    published locally). A corrupt one raises before any env changes; the leases taken are
    dropped here (:func:`_sync` leases what it links again)."""
    from . import upstream

    want = [link.id for stack in chain for link in stack.links]
    known = store.catalog.entries(want)
    try:
        for cid in dict.fromkeys(want):
            if cid not in known or not _current(store, known[cid], root, manifest):
                upstream.adopt(store, manifest.entries[cid])
    finally:
        store.release()


def _sync(
    store: Store, env: EnvInfo, root: str, manifest: Manifest | RemoteManifest, stack: Stack
) -> InstallReport | None:
    """Make the mirror's LOCAL layer exactly the stack's links (None: it already is, and every
    entry was checked against this manifest generation)."""
    from . import upstream
    from .linker import DistSpec

    rows = [r for r in store.catalog.links(env.name) if r.layer == Layer.LOCAL.value]
    have = {r.entry_id: r for r in rows}
    known = store.catalog.entries(list(have))
    want = {link.id: link for link in stack.links}
    stale = [cid for cid in want if cid not in known or not _current(store, known[cid], root, manifest)]
    same_requested = all(have[c].requested == want[c].requested for c in want if c in have)
    if set(have) == set(want) and not stale and same_requested:
        return None
    specs = []
    try:
        for link in stack.links:
            entry = manifest.entries[link.id]
            adopted = upstream.adopt(store, entry)  # checked against its RECORD; leased
            specs.append(DistSpec(store._stored(adopted), requested=link.requested))
        names = {link.name for link in stack.links}
        gone = [known[c].name for c in have if c in known and known[c].name not in names]
        requirements: dict[str, str | None] = {n: None for n in store.catalog.manifest(env.name)}
        requirements.update(stack.requirements)
        with store.env_lock(env.name):
            report = store._change_locked(env, specs, gone, True, requirements, ())
        store._relink_children(env.name)
    finally:
        store.release()
    return report


def unlink_dists(store: Store, env_name: str, names: Sequence[str]) -> None:
    """Unlink dists from an env's LOCAL layer, a mirror env's too (``doctor --fix`` quarantining
    a modified entry: the next :func:`ensure` links the stack's content again)."""
    env = store.env(env_name)
    if env.kind is not EnvKind.MIRROR:
        store.change(env_name, remove=names)
        return
    with store.env_lock(env_name):
        store._change_locked(store.env(env_name), (), names, True, {}, ())


def _current(store: Store, row: EntryRow, root: str, manifest: Manifest | RemoteManifest) -> bool:
    """Whether a local row of an upstream entry was checked against this manifest's generation."""
    from .upstream import origin_of

    origin = origin_of(row)
    if origin is None:  # a local entry of the same content serves: nothing to check
        return store.entry_path(row).is_dir()
    return origin.root == root and origin.generation == manifest.generation


@record(frozen=True, slots=True)
class StackState:
    """A published stack as ``forge store stacks`` shows it."""

    upstream: str
    stack: str
    python: str
    parent: str | None
    dists: int
    generation: int
    mirror: str  # "current", "behind" (mirrored, stack changed since), "-" (not mirrored here)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def states(store: Store) -> tuple[list[StackState], list[str]]:
    """Every stack of every readable upstream, with its mirror's state; and one line per upstream
    whose stacks cannot be read."""
    from . import upstream_names

    out: list[StackState] = []
    problems: list[str] = []
    for up, _src in upstream_names.named(store):
        try:
            _root, _manifest, stacks = _source(store, up)
        except (UpstreamError, UpstreamInvalid) as exc:
            problems.append(exc.message)
            continue
        for name, stack in sorted(stacks.items()):
            mirror = "-"
            row = store.catalog.env(f"{up}{SEP}{name}") if store.home.catalog.is_file() else None
            if row is not None:
                have = {r.entry_id for r in store.catalog.links(row.name) if r.layer == Layer.LOCAL.value}
                mirror = "current" if have == {link.id for link in stack.links} else "behind"
            out.append(
                StackState(
                    up, name, stack.python.version, stack.parent, len(stack.links), stack.generation, mirror
                )
            )
    return out, problems


def mirrors(store: Store) -> Iterable[EnvInfo]:
    return [e for e in store.envs() if e.kind is EnvKind.MIRROR]
