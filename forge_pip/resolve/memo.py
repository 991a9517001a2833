"""A memo of resolutions that is correct by construction: reuse an answer only when every input is the same.

The resolver is a deterministic function of its request (requirements, constraints, options,
target interpreter) and of the answers its three views gave it: ``IndexView.files`` (what the
sources offer per project), ``IndexView.metadata`` (a file's core metadata), ``LayerView.installed``
and ``StoreView.stored`` / ``holding``. :func:`resolve_memoized` runs the resolver through views
that record each question and a digest of its answer (a :class:`Trace`), and keeps the trace with
the resolution under the digest of the request (``cache/resolutions/``). Next time, with the same
request, it asks exactly those questions again, and reuses the resolution when every answer has the
same digest; any difference and the resolver runs as usual (and the memo is rewritten).

The local questions (layers, store) are asked first; then every page of the memo is revalidated at
once in threads (``prefetch_fingerprints``), as pip would revalidate it (``max-age=0``, a
conditional request; a 304, or a 200 with the same digest, is "unchanged"), comparing page digests
(``fingerprint``: the cached entry's header, so an unchanged page is not decoded); with
``--offline`` the cached pages are what the resolver would read, so only their headers are read.
Whatever answers the questions (the resolver, or the pinned fast path before it) is memoised
alike. A request without a memo reads ahead the pages that the last resolution with the same
sources read (a guess about what is read first, never about an answer).
What is *not* asked again is what cannot change: the metadata of a wheel
whose sha256 the (unchanged) page states, which is checked against that digest wherever it is read.
A file whose metadata is not pinned by a digest is read again and compared; a resolution that read
metadata from an sdist (a build) or used a direct URL is not memoised.

A memo is written like the page cache it stands beside (a framed file: format, key, length and
CRC-32 of its payload), and holds the files it names as their pages described them: it is used only
when those pages are unchanged. A memo of another format, for another request, truncated, damaged
or malformed is ignored, removed, and rewritten by the resolution that follows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from forge_pip.resolve.sources import CoreMetadata, DirectRequirement, Origin
from forge_store.records import record
from forge_store.reqparse import requirement

if TYPE_CHECKING:
    from forge_pip.models import DistFile
    from forge_pip.resolve.request import Pin, Resolution, ResolveRequest
    from forge_pip.resolve.sources import (
        IndexView,
        InstalledDist,
        LayerView,
        ResolveReporter,
        StoredDist,
        StoreView,
    )

log = logging.getLogger(__name__)

_V = TypeVar("_V")

FORMAT = 2
"""Bump when a memo's meaning changes (older memos are then ignored)."""

Resolver = Callable[..., "Resolution"]


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def request_key(request: ResolveRequest, context: Mapping[str, object]) -> str | None:
    """The digest of everything the request says, plus ``context`` (the sources, build settings):
    None when it cannot be memoised (a direct file or URL requirement)."""
    from forge_store import __version__

    reqs: list[str] = []
    for item in request.requirements:
        if isinstance(item, DirectRequirement) or item.url:
            return None
        reqs.append(str(item))
    target = request.target
    doc = {
        "format": FORMAT,
        "forge": __version__,
        "context": context,
        "requirements": reqs,
        "constraints": [str(c) for c in request.constraints],
        "target": {
            "version": list(target.version),
            "tags": [str(t) for t in target.tags],
            "markers": dict(target.markers),
        },
        "options": {
            "upgrade": request.upgrade,
            "upgrade_strategy": request.upgrade_strategy.value,
            "force_local": request.force_local,
            "pre": request.pre,
            "prefer_binary": request.prefer_binary,
            "only_binary": sorted(request.only_binary),
            "no_binary": sorted(request.no_binary),
            "allow_yanked_pinned": request.allow_yanked_pinned,
            "no_deps": request.no_deps,
            "hashes": {n: {a: sorted(d) for a, d in by.items()} for n, by in request.hashes.items()},
            "prefer_store": request.prefer_store,
            "all_releases": sorted(request.all_releases),
            "only_final": sorted(request.only_final),
            "uploaded_prior_to": (
                request.uploaded_prior_to.isoformat() if request.uploaded_prior_to is not None else None
            ),
        },
        "fixed": {name: _installed_doc(dist) for name, dist in sorted(request.fixed.items())},
    }
    return _digest(doc)


# -- digests of the views' answers -------------------------------------------------------------------


def _installed_doc(dist: InstalledDist) -> list[object]:
    return [
        dist.name,
        str(dist.version),
        [str(r) for r in dist.requires],
        dist.layer,
        dist.requires_python,
        sorted(dist.provides_extra),
    ]


def _stored_doc(dist: StoredDist) -> list[object]:
    return [
        dist.entry_id,
        dist.name,
        str(dist.version),
        sorted(str(t) for t in dist.tags),
        [str(r) for r in dist.requires],
        dist.requires_python,
        sorted(dist.provides_extra),
        sorted(dist.file_hashes.items()),
    ]


def _stored_ids_digest(store: StoreView, name: NormalizedName) -> str | None:
    """The digest of what ``store`` has of ``name`` as its entries' ids and wheel digests, when the
    view can list them (an entry is immutable and named by its content, so they decide the
    resolver's view of it, and no entry's metadata is read to compare); else None."""
    stored_ids = getattr(store, "stored_ids", None)
    return _digest(["ids", list(stored_ids(name))]) if callable(stored_ids) else None


def _stored_answer(store: StoreView, name: NormalizedName) -> str:
    """The digest of what ``store`` has of ``name`` (by ids when it can say, see above)."""
    by_ids = _stored_ids_digest(store, name)
    return by_ids if by_ids is not None else _digest([_stored_doc(d) for d in store.stored(name)])


def _metadata_doc(md: CoreMetadata) -> list[object]:
    return [
        md.name,
        str(md.version) if md.version is not None else None,
        [str(r) for r in md.requires_dist],
        md.requires_python,
        sorted(md.provides_extra),
        list(md.problems),
    ]


def _fingerprint(files: Sequence[DistFile]) -> str | None:
    """A digest of what the sources offer for one project (None: this view cannot say)."""
    fingerprint = getattr(files, "fingerprint", None)
    if callable(fingerprint):
        return str(fingerprint())
    return "empty" if len(files) == 0 else None


def _metadata_pinned(file: DistFile) -> bool:
    """Whether ``file``'s metadata is fixed by digests its page states (a wheel with a sha256 whose
    ``.metadata``, if served, is hash-checked): then an unchanged page means unchanged metadata."""
    if not file.is_wheel or not file.hashes.get("sha256"):
        return False
    return file.metadata_hashes is None or bool(file.metadata_hashes)


# -- recording ---------------------------------------------------------------------------------------


@record
class Trace:
    """The questions a resolution asked its views, each with the digest of the answer it got."""

    files: dict[str, str] = dataclasses.field(default_factory=dict)
    """Project -> :func:`_fingerprint` of its files, in the order first asked."""
    installed: dict[str, str] = dataclasses.field(default_factory=dict)
    stored: dict[str, str] = dataclasses.field(default_factory=dict)
    holding: dict[str, str | None] = dataclasses.field(default_factory=dict)
    """URL -> the id of the store entry that holds that file, or None."""
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    """URL -> digest of metadata that no page digest pins (read again to compare)."""
    dists: dict[str, DistFile] = dataclasses.field(default_factory=dict)
    """URL -> the file (of ``holding``, ``metadata`` and the pins)."""
    events: list[list[str]] = dataclasses.field(default_factory=list)
    """What the reporter was told, to tell again: ``["pin", name, version, origin]``, ``["warning", msg]``."""
    seen_metadata: dict[str, CoreMetadata] = dataclasses.field(default_factory=dict)
    """URL -> metadata read (for the report of a pin), not part of the questions."""
    memoizable: bool = True


def _file_doc(file: DistFile) -> dict[str, object]:
    return {
        "url": file.url,
        "filename": file.filename,
        "hashes": dict(file.hashes),
        "requires_python": file.requires_python,
        "yanked": file.yanked,
        "metadata_hashes": dict(file.metadata_hashes) if file.metadata_hashes is not None else None,
        "size": file.size,
        "source": file.source,
        "upload_time": file.upload_time,
    }


def _file_from_doc(doc: object) -> DistFile:
    from forge_pip.models import DistFile

    _check(isinstance(doc, dict), "a file")
    assert isinstance(doc, dict)
    size = doc["size"]
    _check(size is None or type(size) is int, "a size")
    metadata_hashes = doc["metadata_hashes"]
    return DistFile(
        url=str(_text(doc["url"])),
        filename=str(_text(doc["filename"])),
        hashes={k: str(v) for k, v in _strings(doc["hashes"]).items()},
        requires_python=_optional_text(doc["requires_python"]),
        yanked=_optional_text(doc["yanked"]),
        metadata_hashes=None
        if metadata_hashes is None
        else {k: str(v) for k, v in _strings(metadata_hashes).items()},
        size=size,
        source=str(_text(doc["source"])),
        upload_time=_optional_text(doc["upload_time"]),
    )


class _Recorder(Generic[_V]):
    """A view (or reporter) that answers as ``inner`` does and writes the questions into ``trace``."""

    def __init__(self, inner: _V, trace: Trace) -> None:
        self._inner = inner
        self._trace = trace


class _Index(_Recorder["IndexView"]):
    def files(self, name: NormalizedName) -> Sequence[DistFile]:
        files = self._inner.files(name)
        fingerprint = _fingerprint(files)
        if fingerprint is None:
            self._trace.memoizable = False
        else:
            self._trace.files.setdefault(name, fingerprint)
        return files

    def metadata(self, file: DistFile) -> CoreMetadata:
        md = self._inner.metadata(file)
        if not file.is_wheel:  # from a build: not memoised
            self._trace.memoizable = False
        elif not _metadata_pinned(file):
            self._trace.metadata[file.url] = _digest(_metadata_doc(md))
            self._trace.dists[file.url] = file
        self._trace.seen_metadata[file.url] = md
        return md

    def prefetch(self, names: Sequence[NormalizedName]) -> None:
        prefetch = getattr(self._inner, "prefetch", None)
        if prefetch is not None:
            prefetch(names)


class _Layers(_Recorder["LayerView"]):
    def installed(self, name: NormalizedName) -> list[InstalledDist]:
        dists = self._inner.installed(name)
        self._trace.installed[name] = _digest([_installed_doc(d) for d in dists])
        return dists


class _Store(_Recorder["StoreView"]):
    def stored(self, name: NormalizedName) -> list[StoredDist]:
        # the ids before the answer: an entry added in between makes the memo miss, never lie
        by_ids = _stored_ids_digest(self._inner, name)
        dists = self._inner.stored(name)
        self._trace.stored[name] = by_ids if by_ids is not None else _digest([_stored_doc(d) for d in dists])
        return dists

    def holding(self, file: DistFile) -> StoredDist | None:
        held = self._inner.holding(file)
        self._trace.holding[file.url] = held.entry_id if held is not None else None
        self._trace.dists[file.url] = file
        return held


class _Reporter(_Recorder["ResolveReporter"]):
    def on_pin(self, name: NormalizedName, version: Version, origin: Origin) -> None:
        self._trace.events.append(["pin", name, str(version), origin.value])
        self._inner.on_pin(name, version, origin)

    def on_backtrack(self, causes: Sequence[str]) -> None:
        self._inner.on_backtrack(causes)

    def on_metadata_fetch(self, file: DistFile) -> None:
        self._inner.on_metadata_fetch(file)

    def on_warning(self, message: str) -> None:
        self._trace.events.append(["warning", message])
        self._inner.on_warning(message)


# -- the memo file -----------------------------------------------------------------------------------


def _pin_doc(pin: Pin, trace: Trace) -> dict[str, object]:
    md = trace.seen_metadata.get(pin.file.url) if pin.file is not None else None
    if pin.file is not None:
        trace.dists[pin.file.url] = pin.file
    return {
        "name": pin.name,
        "version": str(pin.version),
        "origin": pin.origin.value,
        "layer": pin.layer,
        "store_entry": pin.store_entry,
        "url": pin.file.url if pin.file is not None else None,
        "extras": sorted(pin.extras),
        "requested": pin.requested,
        "requires": [str(r) for r in pin.requires],
        "metadata": None
        if md is None
        else {
            "requires_dist": [str(r) for r in md.requires_dist],
            "requires_python": md.requires_python,
            "provides_extra": sorted(md.provides_extra),
        },
    }


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _strings(value: object, *, optional: bool = False) -> dict[str, str | None]:
    _check(isinstance(value, dict), "not a map")
    assert isinstance(value, dict)
    kinds = (str, type(None)) if optional else (str,)
    _check(all(isinstance(k, str) and isinstance(v, kinds) for k, v in value.items()), "not a string map")
    return dict(value)


def _text(value: object) -> str:
    _check(isinstance(value, str), "not a string")
    assert isinstance(value, str)
    return value


def _text_list(value: object) -> list[str]:
    _check(isinstance(value, list) and all(isinstance(v, str) for v in value), "not a list of strings")
    assert isinstance(value, list)
    return list(value)


@record(frozen=True)
class _Memo:
    """A decoded memo: the trace's questions and the resolution's pins (as plain values)."""

    trace: Trace
    pins: list[dict[str, object]]
    graph: dict[str, list[str]]


def _decode(doc: object) -> _Memo:
    _check(isinstance(doc, dict), "not a map")
    assert isinstance(doc, dict)
    trace = Trace(
        files={k: str(v) for k, v in _strings(doc["files"]).items()},
        installed={k: str(v) for k, v in _strings(doc["installed"]).items()},
        stored={k: str(v) for k, v in _strings(doc["stored"]).items()},
        holding=_strings(doc["holding"], optional=True),
        metadata={k: str(v) for k, v in _strings(doc["metadata"]).items()},
    )
    dists = doc["dists"]
    _check(isinstance(dists, dict), "dists")
    for url, file_doc in dists.items():
        file = _file_from_doc(file_doc)
        _check(file.url == url, "a file under another URL")
        trace.dists[url] = file
    _check(set(trace.holding) | set(trace.metadata) <= set(trace.dists), "a file without its description")
    events = doc["events"]
    _check(isinstance(events, list), "events")
    for event in events:
        _check(isinstance(event, list) and all(isinstance(v, str) for v in event), "an event")
        kind_ok = (event[:1] == ["pin"] and len(event) == 4) or (event[:1] == ["warning"] and len(event) == 2)
        _check(kind_ok, "an event")
        trace.events.append(list(event))
    pins = doc["pins"]
    _check(isinstance(pins, list) and all(isinstance(p, dict) for p in pins), "pins")
    graph = doc["graph"]
    _check(isinstance(graph, dict), "graph")
    return _Memo(trace, list(pins), {k: _text_list(v) for k, v in graph.items()})


class MemoFile:
    """The memo of one request key under ``root`` (``cache/resolutions``): load, store, delete."""

    def __init__(self, root: Path, key: str) -> None:
        self.key = key
        self.path = root / key[:2] / key

    def load(self) -> _Memo | None:
        """The memo, or None (missing, or unusable: then it is removed, and rewritten later)."""
        from forge_pip.index.pagecache import read_framed

        try:
            raw = self.path.read_bytes()
        except OSError:
            return None
        try:
            _header, payload = read_framed(raw, FORMAT, self.key)
            return _decode(json.loads(payload))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            log.info("ignoring unusable resolution memo %s: %s", self.path, exc)
            self.delete()
            return None

    def store(self, trace: Trace, resolution: Resolution) -> None:
        from forge_pip.index.pagecache import write_framed

        pins = [_pin_doc(pin, trace) for pin in resolution.pins.values()]
        doc = {
            "files": trace.files,
            "installed": trace.installed,
            "stored": trace.stored,
            "holding": trace.holding,
            "metadata": trace.metadata,
            "events": trace.events,
            "dists": {url: _file_doc(file) for url, file in trace.dists.items()},
            "pins": pins,
            "graph": {name: list(deps) for name, deps in resolution.graph.items()},
        }
        payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogateescape"
        )
        write_framed(self.path, FORMAT, {"key": self.key}, payload)

    def delete(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


# -- replay --------------------------------------------------------------------------------------------


def _replay(
    memo: _Memo,
    *,
    layers: LayerView,
    store: StoreView,
    index: IndexView,
    reporter: ResolveReporter,
    while_waiting: Callable[[Sequence[str]], None] | None = None,
) -> Resolution | None:
    """The memo's resolution if every question gets the answer it recorded, else None.
    ``while_waiting``: run once the pages are being revalidated in the background, given the
    store entries the memo's answer links."""
    from forge_pip.resolve.request import Pin, Resolution

    trace = memo.trace
    # what the layers and the store say first: they are local, and a change there makes the
    # pages' answers moot (no request is made for them); the files are as the memo describes them
    for name, digest in trace.installed.items():
        if _digest([_installed_doc(d) for d in layers.installed(NormalizedName(name))]) != digest:
            return _miss(f"what the layers have of {name} changed")
    for name, digest in trace.stored.items():
        if _stored_answer(store, NormalizedName(name)) != digest:
            return _miss(f"the store's entries of {name} changed")
    holding_id = getattr(store, "holding_id", None)  # the id alone, when the view can say it
    for url, entry in trace.holding.items():
        if callable(holding_id):
            held_id = holding_id(trace.dists[url])
        else:
            held = store.holding(trace.dists[url])
            held_id = held.entry_id if held is not None else None
        if held_id != entry:
            return _miss(f"what the store holds of {url} changed")
    prefetch = getattr(index, "prefetch_fingerprints", None) or getattr(index, "prefetch", None)
    if prefetch is not None and trace.files:
        prefetch([NormalizedName(n) for n in trace.files])  # every page at once
        if while_waiting is not None:  # the pages' threads mostly wait for the network meanwhile
            while_waiting(_pinned_entries(memo))
        _preparse(memo)
    fingerprint: Callable[[NormalizedName], str | None] | None = getattr(index, "fingerprint", None)
    for name, recorded in trace.files.items():
        project = NormalizedName(name)
        found = fingerprint(project) if fingerprint is not None else _fingerprint(index.files(project))
        if found != recorded:
            return _miss(f"what the sources offer for {name} changed")
    for url, digest in trace.metadata.items():
        if _digest(_metadata_doc(index.metadata(trace.dists[url]))) != digest:
            return _miss(f"the metadata of {url} changed")

    pins: dict[NormalizedName, Pin] = {}
    remember = getattr(index, "remember_metadata", None)
    for doc in memo.pins:
        name = canonicalize_name(_text(doc["name"]))
        file = trace.dists[_text(doc["url"])] if doc["url"] is not None else None
        version = Version(_text(doc["version"]))
        pins[name] = Pin(
            name=name,
            version=version,
            origin=Origin(doc["origin"]),
            layer=_optional_text(doc["layer"]),
            store_entry=_optional_text(doc["store_entry"]),
            file=file,
            extras=frozenset(NormalizedName(e) for e in _text_list(doc["extras"])),
            requested=doc["requested"] is True,
            requires=tuple(requirement(r) for r in _text_list(doc["requires"])),
        )
        md = doc["metadata"]
        if file is not None and isinstance(md, dict) and remember is not None:
            remember(
                file,
                CoreMetadata(
                    name=name,
                    version=version,
                    requires_dist=tuple(requirement(r) for r in _text_list(md["requires_dist"])),
                    requires_python=_optional_text(md["requires_python"]),
                    provides_extra=frozenset(NormalizedName(e) for e in _text_list(md["provides_extra"])),
                ),
            )
    graph = {NormalizedName(k): tuple(NormalizedName(d) for d in v) for k, v in memo.graph.items()}
    for event in trace.events:
        if event[0] == "pin":
            reporter.on_pin(NormalizedName(event[1]), Version(event[2]), Origin(event[3]))
        else:
            reporter.on_warning(event[1])
    return Resolution(pins=pins, graph=graph)


def _pinned_entries(memo: _Memo) -> list[str]:
    """The ids of the store entries the memo's pins link (those it knows of)."""
    out: list[str] = []
    for doc in memo.pins:
        entry = doc.get("store_entry")
        if not isinstance(entry, str):
            url = doc.get("url")
            entry = memo.trace.holding.get(url) if isinstance(url, str) else None
        if isinstance(entry, str):
            out.append(entry)
    return out


def _preparse(memo: _Memo) -> None:
    """Parse the requirement lines of the memo's pins into the process's cache (no other
    effect) while the pages are revalidated: the answer, if it holds, is built from them, and the
    policy checks that follow parse the same Requires-Dist lines (~20 ms of the GIL a set-A
    install). A line that does not parse is left for the answer's own parse to report."""
    for doc in memo.pins:
        md = doc.get("metadata")
        lines = [doc.get("requires"), md.get("requires_dist") if isinstance(md, dict) else None]
        for texts in lines:
            for text in texts if isinstance(texts, list) else ():
                if isinstance(text, str):
                    try:
                        requirement(text)
                    except ValueError:
                        pass


def _optional_text(value: object) -> str | None:
    _check(value is None or isinstance(value, str), "not a string")
    return value if isinstance(value, str) else None


def _miss(why: str) -> Resolution | None:
    """None, the answer of a memo that does not hold, saying why in the debug log."""
    log.debug("resolution memo not used: %s", why)
    return None


def resolve_memoized(
    request: ResolveRequest,
    *,
    layers: LayerView,
    store: StoreView,
    index: IndexView,
    reporter: ResolveReporter,
    root: Path | None,
    context: Mapping[str, object],
    resolver: Resolver | None = None,
    while_waiting: Callable[[Sequence[str]], None] | None = None,
) -> Resolution:
    """``resolve(request, ...)``, answered from the memo under ``root`` when every input is the same
    (see the module doc); ``root`` None: no memo. ``context``: what else decides the answer (the
    configured sources, build settings), made part of the key. ``while_waiting``: work of the
    caller's that does not depend on the answer (loading its next stage's modules), run while a
    memo's pages are revalidated; it must change nothing."""

    def run(request: ResolveRequest, **views: Any) -> Resolution:
        if resolver is not None:
            return resolver(request, **views)
        from forge_pip.resolve.resolver import resolve  # the search: loaded only on a miss

        return resolve(request, **views)

    key = request_key(request, context) if root is not None else None
    if root is None or key is None:
        return run(request, layers=layers, store=store, index=index, reporter=reporter)
    memo_file = MemoFile(root, key)
    memo = memo_file.load()
    hint = _Hint(root, request, context)
    if memo is None and not request.prefer_store:
        # another request: read ahead the pages the last one of these sources read (not when the
        # store answers first: --prefer-offline may need no page at all), nor of what the layers
        # have (the resolver asks no page for a name they satisfy, unless upgrading)
        names = [
            n for n in hint.load() if n not in request.fixed and (request.upgrade or not layers.installed(n))
        ]
        prefetch = getattr(index, "prefetch", None)
        if names and prefetch is not None:
            prefetch(names)
    if memo is not None:
        try:
            hit = _replay(
                memo, layers=layers, store=store, index=index, reporter=reporter, while_waiting=while_waiting
            )
        except (ValueError, KeyError, TypeError) as exc:  # a well-framed memo with bad values
            log.info("ignoring unusable resolution memo %s: %s", memo_file.path, exc)
            memo_file.delete()
            hit = None
        if hit is not None:
            log.debug("resolution memo used: %d pins, no resolution", len(hit.pins))
            return hit
    trace = Trace()
    resolution = run(
        request,
        layers=_Layers(layers, trace),
        store=_Store(store, trace),
        index=_Index(index, trace),
        reporter=_Reporter(reporter, trace),
    )
    if trace.memoizable and not any(pin.direct for pin in resolution.pins.values()):
        memo_file.store(trace, resolution)
    elif memo is not None:
        memo_file.delete()
    hint.store(list(trace.files))
    return resolution


class _Hint:
    """The projects the last resolution with these sources, for this target, read (a speculative
    read-ahead for a request that has no memo: it changes what is read first, never an answer)."""

    def __init__(self, root: Path, request: ResolveRequest, context: Mapping[str, object]) -> None:
        target = request.target
        self.key = _digest(["hint", FORMAT, context, list(target.version), dict(target.markers)])
        self.path = root / "last" / self.key

    def load(self) -> list[NormalizedName]:
        from forge_pip.index.pagecache import read_framed

        try:
            _header, payload = read_framed(self.path.read_bytes(), FORMAT, self.key)
            names = _text_list(json.loads(payload))
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            return []
        return [canonicalize_name(n) for n in names]

    def store(self, names: list[str]) -> None:
        from forge_pip.index.pagecache import write_framed

        if names:
            write_framed(self.path, FORMAT, {"key": self.key}, json.dumps(names).encode())
