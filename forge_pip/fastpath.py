"""The pinned fast path: ``==`` pins whose very files the store holds are linked without a resolution.

When every requirement is a plain ``name==version`` pin (``-r requirements.txt`` from pip-compile,
``pip freeze`` output) the resolver has nothing to decide, and for a warm store it spends its time
on work whose answer is known. :func:`pinned_resolution` builds the :class:`Resolution` the
resolver would build, or returns None, and then the caller runs the resolver as usual:

- each pin's file is the one the resolver would choose (the same :class:`Finder`: tags,
  Requires-Python, ``--only-binary`` / ``--no-binary``, ``--hash``, yanked files allowed for a
  pin with pip's warning, ``-c`` constraints, pip's pre-release rule, newest local version first);
- the sources are still asked for that file (:func:`offered_files`, one read of the index
  client's cached page per project, read ahead together), except with ``--prefer-offline``
  / ``--offline``, where the resolver takes store entries first too;
- the store must hold that very file (its sha256 is an entry's wheel alias, or the entry was
  built from that sdist): an entry ingested from another file with the same name is never used;
- what a layer already has at the pinned version is satisfied, as the resolver does;
- every applicable Requires-Dist of every pin (extras included) must be met by the pin set, the
  env's layers or Forge's fixed front end, within the constraints.

Anything else (URLs, editables, ranges, ``-U``, a pin the store lacks, a dependency the pins do
not cover, an unknown extra, a conflict) falls back to the resolver, which reports errors in
pip's words. No metadata is fetched: requirements come from the store entries and the layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from forge_pip.models import DistFile
    from forge_pip.resolve import (
        CoreMetadata,
        IndexView,
        InstalledDist,
        LayerView,
        Pin,
        Resolution,
        ResolveReporter,
        ResolveRequest,
        StoredDist,
        StoreView,
    )
    from forge_pip.resolve.finder import Finder

__all__ = ["offered_files", "pinned_resolution"]

_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")


class _Fallback(Exception):
    """Internal: the fast path cannot answer for sure; the resolver will."""


def _version_text(filename: str) -> str | None:
    """The version a file name spells, without parsing the rest (None when it is not plain)."""
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        return parts[1] if len(parts) in (5, 6) else None
    for suffix in _SDIST_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)].rpartition("-")[2] or None
    return None


def offered_files(index: IndexView, name: NormalizedName, specifier: SpecifierSet) -> list[DistFile]:
    """The files the sources offer for ``name`` whose version ``specifier`` may admit, in source order.

    One call of ``index.files`` (the index client's validated page cache); only the file names
    are read, split for their version (a lazy table of the page builds a :class:`DistFile` only
    for the rows kept), so a project page of thousands of files costs a string scan. A file name
    this cannot read is kept: the :class:`Finder` judges (and skips) it as usual.
    """
    files = index.files(name)
    filenames: Sequence[str] = getattr(files, "filenames", None) or [f.filename for f in files]
    keep: dict[str | None, bool] = {None: True}  # version text -> admitted (unreadable: kept)
    out: list[DistFile] = []
    for row, filename in enumerate(filenames):
        text = _version_text(filename)
        kept = keep.get(text)
        if kept is None:
            try:
                kept = specifier.contains(Version(text or ""), prereleases=True)
            except InvalidVersion:
                kept = True
            keep[text] = kept
        if kept:
            out.append(files[row])
    return out


class _Offered:
    """The ``IndexView`` the fast path's Finder sees: only the pinned versions' files, every
    project's page asked for up front (read ahead in the background where the index can)."""

    def __init__(self, index: IndexView, specifiers: Mapping[NormalizedName, SpecifierSet]) -> None:
        names = sorted(specifiers)
        prefetch = getattr(index, "prefetch", None)  # optional on an IndexView (fakes need none)
        if prefetch is not None and len(names) > 1:
            prefetch(names)
        self._files = {name: offered_files(index, name, specifiers[name]) for name in names}

    def files(self, name: NormalizedName) -> Sequence[DistFile]:
        return self._files[name]

    def metadata(self, file: DistFile) -> CoreMetadata:  # pragma: no cover - never asked
        raise AssertionError("the pinned fast path reads no metadata")


class _NoIndex:
    """``--prefer-offline`` / ``--offline``: the store answers first, as in the resolver."""

    def files(self, name: NormalizedName) -> Sequence[DistFile]:
        raise _Fallback  # the store lacked the pin: the resolver asks the index

    def metadata(self, file: DistFile) -> CoreMetadata:  # pragma: no cover - never asked
        raise AssertionError("the pinned fast path reads no metadata")


def _single_pin(req: Requirement) -> bool:
    """``name==1.2`` (extras and a marker allowed): one ``==`` without a wildcard, no URL."""
    specs = list(req.specifier)
    return (
        not req.url and len(specs) == 1 and specs[0].operator == "==" and not specs[0].version.endswith(".*")
    )


def pinned_resolution(
    request: ResolveRequest,
    *,
    layers: LayerView,
    store: StoreView,
    index: IndexView,
    reporter: ResolveReporter,
) -> Resolution | None:
    """The resolver's answer for a request of ``==`` pins the store holds, or None (see module doc)."""
    try:
        return _Fast(request, layers, store, index, reporter).run()
    except _Fallback:
        return None


class _Fast:
    def __init__(
        self,
        request: ResolveRequest,
        layers: LayerView,
        store: StoreView,
        index: IndexView,
        reporter: ResolveReporter,
    ) -> None:
        self.request = request
        self.layers = layers
        self.store = store
        self.index = index
        self.reporter = reporter
        self.env = dict(request.target.markers)

    # -- checks -------------------------------------------------------------------------------------

    def applies(self, req: Requirement, extra: str = "") -> bool:
        return req.marker is None or req.marker.evaluate({**self.env, "extra": extra})

    def roots(self) -> dict[NormalizedName, Requirement]:
        from forge_pip.resolve import DirectRequirement

        req = self.request
        if req.upgrade or req.force_local or not req.requirements:
            raise _Fallback
        out: dict[NormalizedName, Requirement] = {}
        for item in req.requirements:
            if isinstance(item, DirectRequirement) or not _single_pin(item):
                raise _Fallback
            if not self.applies(item):
                continue
            name = canonicalize_name(item.name)
            if name in out or name in req.fixed:  # twice (the resolver merges), or the front end
                raise _Fallback
            out[name] = item
        if not out:
            raise _Fallback
        return out

    def constraints(self) -> dict[NormalizedName, SpecifierSet]:
        out: dict[NormalizedName, SpecifierSet] = {}
        for c in self.request.constraints:
            if c.extras or c.url:  # the resolver refuses these, in pip's words
                raise _Fallback
            if self.applies(c):
                name = canonicalize_name(c.name)
                out[name] = out.get(name, SpecifierSet()) & c.specifier
        return out

    def prereleases(self, name: NormalizedName) -> bool | None:
        """The provider's rule (``--pre``, ``--all-releases``, ``--only-final``)."""
        from forge_pip.resolve.finder import ReleaseControl

        def canonical(names: frozenset[str]) -> frozenset[str]:
            return frozenset(n if n == ":all:" else canonicalize_name(n) for n in names)

        allowed = ReleaseControl(
            canonical(self.request.all_releases), canonical(self.request.only_final)
        ).allows_prereleases(name)
        if allowed is None and self.request.pre:
            return True
        return allowed

    # -- the pins -----------------------------------------------------------------------------------

    def run(self) -> Resolution:
        from forge_pip.resolve import Origin, Pin, Resolution
        from forge_pip.resolve.finder import Finder, FinderOptions

        request = self.request
        roots = self.roots()
        constraints = self.constraints()
        specs = {name: req.specifier & constraints.get(name, SpecifierSet()) for name, req in roots.items()}

        pins: dict[NormalizedName, Pin] = {}
        extras: dict[NormalizedName, set[NormalizedName]] = {}
        requires: dict[NormalizedName, tuple[Requirement, ...]] = {}
        provides: dict[NormalizedName, frozenset[NormalizedName]] = {}
        for name, req in roots.items():
            extras[name] = {canonicalize_name(e) for e in req.extras}
            installed = self.visible(name)
            if installed is not None and specs[name].contains(installed.version, prereleases=True):
                # satisfied as the resolver satisfies it: its page is not read either
                pins[name] = Pin(name, installed.version, Origin.LAYER, layer=installed.layer, requested=True)
                requires[name], provides[name] = installed.requires, installed.provides_extra
        wanted = {name: spec for name, spec in specs.items() if name not in pins}

        def canonical(names: frozenset[str]) -> frozenset[str]:
            return frozenset(n if n == ":all:" else canonicalize_name(n) for n in names)

        finder = Finder(
            FinderOptions(
                target=request.target,
                prefer_binary=request.prefer_binary,
                only_binary=canonical(request.only_binary),
                no_binary=canonical(request.no_binary),
                hashes={
                    canonicalize_name(n): {a: frozenset(d.lower() for d in ds) for a, ds in by.items()}
                    for n, by in request.hashes.items()
                },
                prefer_store=request.prefer_store,
                uploaded_prior_to=request.uploaded_prior_to,
            ),
            _NoIndex() if request.prefer_store or not wanted else _Offered(self.index, wanted),
            self.store,
        )
        for name, spec in wanted.items():
            dist, file = self.stored(finder, name, spec)
            pins[name] = Pin(
                name, dist.version, Origin.STORE, store_entry=dist.entry_id, file=file, requested=True
            )
            requires[name], provides[name] = dist.requires, dist.provides_extra
        applied = self.close(pins, extras, requires, provides, constraints)
        out: dict[NormalizedName, Pin] = {}
        graph: dict[NormalizedName, tuple[NormalizedName, ...]] = {}
        for name, pin in sorted(pins.items()):
            out[name] = Pin(
                name=name,
                version=pin.version,
                origin=pin.origin,
                layer=pin.layer,
                store_entry=pin.store_entry,
                file=pin.file,
                extras=frozenset(extras.get(name, ())),
                requested=pin.requested,
                requires=applied[name],
            )
        for name, pin in out.items():
            deps = {canonicalize_name(r.name) for r in pin.requires} & out.keys()
            deps.discard(name)
            graph[name] = tuple(sorted(deps))
        for name, pin in out.items():
            if pin.file is not None and pin.file.yanked is not None:
                from forge_pip.resolve.resolver import yanked_warning

                self.reporter.on_warning(yanked_warning(name, pin.version, pin.file))
            self.reporter.on_pin(name, pin.version, pin.origin)
        return Resolution(pins=out, graph=graph)

    def visible(self, name: NormalizedName) -> InstalledDist | None:
        """What the env's layers show for ``name`` (the resolver's ``visible_installed``)."""
        fixed = self.request.fixed.get(name)
        if fixed is not None:
            return fixed
        found = self.layers.installed(name)
        return found[0] if found else None

    def stored(
        self, finder: Finder, name: NormalizedName, spec: SpecifierSet
    ) -> tuple[StoredDist, DistFile | None]:
        """The store entry for the version and file the resolver would pick, or ``_Fallback``."""
        release = self.prereleases(name)
        if self.request.prefer_store:
            # the resolver's store-first candidates (``--prefer-offline`` / ``--offline``)
            stored = finder.stored(name)
            allowed = set(spec.filter({d.version for d in stored}, prereleases=release))
            if any(v.is_prerelease for v in allowed):  # pip's "only if nothing final" needs the index
                raise _Fallback
            for dist in stored:
                if dist.version in allowed:
                    return dist, None
            raise _Fallback
        versions = finder.index_versions(name)
        allowed = set(spec.filter({iv.version for iv in versions}, prereleases=release))
        for iv in versions:
            if iv.version not in allowed:
                continue
            # an == pin may take a yanked file (PEP 592), with pip's warning
            file = iv.best(allow_yanked=self.request.allow_yanked_pinned)
            if file is None:
                continue
            held = finder.holding(file)
            if held is None:
                raise _Fallback  # the file pip would install is not (that very file) in the store
            return held, file
        raise _Fallback  # the sources no longer offer it: the resolver says so in pip's words

    def close(
        self,
        pins: dict[NormalizedName, Pin],
        extras: dict[NormalizedName, set[NormalizedName]],
        requires: dict[NormalizedName, tuple[Requirement, ...]],
        provides: dict[NormalizedName, frozenset[NormalizedName]],
        constraints: Mapping[NormalizedName, SpecifierSet],
    ) -> dict[NormalizedName, tuple[Requirement, ...]]:
        """Check every applicable Requires-Dist against the pins, the layers and the constraints,
        adding layer pins for what the layers satisfy; return each pin's applied requirements."""
        from forge_pip.resolve import Origin, Pin

        no_deps = self.request.no_deps
        applied: dict[NormalizedName, tuple[Requirement, ...]] = {}
        done: set[tuple[NormalizedName, frozenset[NormalizedName]]] = set()
        todo = list(pins)
        while todo:
            name = todo.pop()
            key = (name, frozenset(extras.get(name, ())))
            if key in done:
                continue
            done.add(key)
            pin = pins[name]
            if not constraints.get(name, SpecifierSet()).contains(pin.version, prereleases=True):
                raise _Fallback
            own = requires[name]
            mine: list[Requirement] = [] if no_deps else [r for r in own if self.applies(r)]
            for extra in sorted(extras.get(name, ())):
                extra_reqs = [r for r in own if r.marker is not None and self.applies(r, extra)]
                extra_reqs = [r for r in extra_reqs if not self.applies(r)]
                if not extra_reqs and extra not in provides[name]:
                    raise _Fallback  # the resolver warns about an unknown extra
                mine.extend(r for r in extra_reqs if r not in mine)
            applied[name] = tuple(mine)
            if no_deps:
                continue
            for dep in mine:
                if dep.url:
                    raise _Fallback
                dname = canonicalize_name(dep.name)
                dextras = {canonicalize_name(e) for e in dep.extras}
                if dname not in pins:
                    installed = self.visible(dname)
                    if installed is None:
                        raise _Fallback  # the pins do not cover it: a resolution is needed
                    pins[dname] = Pin(dname, installed.version, Origin.LAYER, layer=installed.layer)
                    requires[dname], provides[dname] = installed.requires, installed.provides_extra
                    extras[dname] = set()
                if not dep.specifier.contains(pins[dname].version, prereleases=True):
                    raise _Fallback  # a conflict: the resolver explains it in pip's words
                if not dextras <= extras[dname]:
                    extras[dname] |= dextras
                todo.append(dname)
        return applied
