"""Which files and store entries of a project can be used for the target, best first.

Static filters (they do not depend on the resolution state) run once per name and remember why
each file was skipped, for error messages: wheel tags, Requires-Python, ``--only-binary`` /
``--no-binary``, ``--hash``. Yanked files are kept but marked: whether they may be used depends
on the requirement (PEP 592: only when pinned with ``==`` / ``===``).

``--hash`` follows pip: a file whose digest is known and differs is skipped; a file with no known
digest (a find-links file) stays a candidate and is checked once it is read.

The store is a cache: :meth:`Finder.holding` finds the entry that holds a chosen file. Store
entries are candidates of their own (:meth:`Finder.stored`) only with ``prefer_store``
(``--prefer-offline`` / ``--offline``), and then under the same filters as index files.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from forge_store.records import record

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from forge_pip.models import DistFile, TargetPython
    from forge_pip.resolve.sources import IndexView, StoredDist, StoreView


@record(frozen=True, slots=True)
class IndexVersion:
    """The usable files of one version on the indexes."""

    version: Version
    files: tuple[DistFile, ...]
    """Usable files, best first: wheels by tag rank, then sdists; non-yanked before yanked."""

    @property
    def yanked(self) -> bool:
        """True when every usable file of this version is yanked."""
        return all(f.yanked is not None for f in self.files)

    @property
    def has_wheel(self) -> bool:
        return any(f.is_wheel for f in self.files)

    def best(self, *, allow_yanked: bool) -> DistFile | None:
        for file in self.files:
            if file.yanked is None or allow_yanked:
                return file
        return None


@record(frozen=True, slots=True)
class ReleaseControl:
    """pip 26's ``--all-releases`` / ``--only-final`` (``--pre`` is ``all_releases={":all:"}``).

    Sets of canonical names or ``":all:"``; a name listed in one set wins over ``:all:`` in the
    other (pip's ``ReleaseControl.allows_prereleases``)."""

    all_releases: frozenset[str] = frozenset()
    only_final: frozenset[str] = frozenset()

    def allows_prereleases(self, name: NormalizedName) -> bool | None:
        """True: pre-releases are candidates; False: never (even ``==1.0a1``); None: pip's
        default (only when the specifier names one, or when nothing else matches)."""
        if name in self.all_releases:
            return True
        if name in self.only_final:
            return False
        if ":all:" in self.all_releases:
            return True
        if ":all:" in self.only_final:
            return False
        return None


@record(frozen=True, slots=True)
class FinderOptions:
    target: TargetPython
    prefer_binary: bool = False
    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()
    hashes: Mapping[NormalizedName, Mapping[str, frozenset[str]]] = dataclasses.field(default_factory=dict)
    prefer_store: bool = False
    """``--prefer-offline`` / ``--offline``: every usable store entry is a candidate."""
    uploaded_prior_to: datetime.datetime | None = None
    """pip 26's ``--uploaded-prior-to`` (an aware datetime): an index file uploaded at or after it
    is skipped; one whose index states no PEP 700 ``upload-time`` is an error (pip's rule); local
    files (``file://`` indexes and find-links) are exempt."""


def python_accepts(requires_python: str | None, python_version: str) -> bool:
    """Whether a Requires-Python accepts the target; an invalid one is ignored (as pip does)."""
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python_version, prereleases=True)
    except InvalidSpecifier:
        return True


def hashes_match(known: Mapping[str, str], wanted: Mapping[str, frozenset[str]]) -> bool:
    """Whether one of a file's known digests is among the ``--hash`` values for its project."""
    return any(known.get(algo, "").lower() in digests for algo, digests in wanted.items() if algo in known)


def hashes_comparable(known: Mapping[str, str], wanted: Mapping[str, frozenset[str]]) -> bool:
    """Whether a file states a digest in one of the ``--hash`` algorithms (else: check it once read)."""
    return any(algo in known for algo in wanted)


def binary_policy(name: NormalizedName, only_binary: frozenset[str], no_binary: frozenset[str]) -> str:
    """``"wheel"``, ``"sdist"`` or ``"any"``: a project named explicitly wins over ``:all:``."""
    if name in no_binary:
        return "sdist"
    if name in only_binary:
        return "wheel"
    if ":all:" in no_binary:
        return "sdist"
    if ":all:" in only_binary:
        return "wheel"
    return "any"


def _expand(triple: list[str]) -> list[str]:
    """``["cp311", "cp311", "manylinux_2_17_x86_64.manylinux2014_x86_64"]`` -> the tags it spells."""
    py, abi, plat = triple
    return [f"{p}-{a}-{x}" for p in py.split(".") for a in abi.split(".") for x in plat.split(".")]


class Finder:
    """Filters and orders what the index and the store offer for a project (memoised per name)."""

    def __init__(self, options: FinderOptions, index: IndexView, store: StoreView) -> None:
        self._options = options
        self._index = index
        self._store = store
        self._tags = frozenset(options.target.tags)
        self._tag_strings = frozenset(str(t) for t in options.target.tags)
        self._index_cache: dict[NormalizedName, list[IndexVersion]] = {}
        self._store_cache: dict[NormalizedName, list[StoredDist]] = {}
        self._held: dict[DistFile, StoredDist | None] = {}
        self._skipped: dict[NormalizedName, dict[str | tuple[str, str], None]] = {}
        """Ordered sets (pages have 10k+ files) of reasons; ``("tags", filename)`` stands for a
        wheel rejected on its name's tags, spelled out only when :meth:`skipped` is asked."""
        self._fits: dict[str, bool] = {}
        self._python_ok: dict[str, bool] = {}

    @property
    def prefer_binary(self) -> bool:
        return self._options.prefer_binary

    @property
    def prefer_store(self) -> bool:
        return self._options.prefer_store

    def skipped(self, name: NormalizedName) -> list[str]:
        """Why files or entries of ``name`` were not usable (filled as a side effect of lookups)."""
        reasons: dict[str, None] = {}
        for why in self._skipped.get(name, ()):
            if isinstance(why, tuple):  # a wheel rejected on its name's tags: say why now
                filename = why[1]
                parts = filename[: -len(".whl")].split("-")
                shown = ", ".join(sorted(_expand(parts[-3:]))[:3]) if len(parts) >= 5 else "?"
                why = f"{parts[1]}: no wheel for the target ({filename}: {shown})"
            reasons[why] = None
        return list(reasons)

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        """Let the index read the pages of ``names`` ahead of :meth:`index_versions`, if it can
        (an ``IndexView`` with a ``prefetch`` method; optional, so fakes need none)."""
        prefetch = getattr(self._index, "prefetch", None)
        if prefetch is not None:
            wanted = [n for n in dict.fromkeys(names) if n not in self._index_cache]
            if wanted:
                prefetch(wanted)

    def _skip(self, name: NormalizedName, why: str) -> None:
        self._skipped.setdefault(name, {})[why] = None

    def _may_fit(self, filename: str) -> bool:
        """Whether any tag spelled in a wheel's file name is one the target supports (string test,
        memoised per tag triple: a page has thousands of files but a few dozen triples)."""
        parts = filename[: -len(".whl")].rsplit("-", 3)
        if len(parts) < 4 or "-" not in parts[0]:
            return True  # malformed: let the full parser report it
        triple = filename[len(parts[0]) + 1 :]
        fits = self._fits.get(triple)
        if fits is None:
            tags = _expand([p.lower() for p in parts[1:]])
            fits = self._fits[triple] = any(tag in self._tag_strings for tag in tags)
        return fits

    def _python_accepts(self, requires_python: str | None) -> bool:
        """:func:`python_accepts` for the target, memoised per Requires-Python text."""
        if not requires_python:
            return True
        accepted = self._python_ok.get(requires_python)
        if accepted is None:
            accepted = python_accepts(requires_python, self._options.target.python_version)
            self._python_ok[requires_python] = accepted
        return accepted

    def _tag_rank(self, file: DistFile) -> int:
        priority = self._options.target.tag_priority
        return min((priority[t] for t in file.tags if t in priority), default=len(priority))

    def index_versions(self, name: NormalizedName) -> list[IndexVersion]:
        """Usable index versions of ``name``, newest first (``prefer_binary``: wheel versions first)."""
        cached = self._index_cache.get(name)
        if cached is not None:
            return cached
        opts = self._options
        policy = binary_policy(name, opts.only_binary, opts.no_binary)
        wanted = opts.hashes.get(name)
        by_version: dict[Version, list[DistFile]] = {}
        hash_rejected: list[tuple[Version, DistFile]] = []
        files = self._index.files(name)
        # most files on a big project page are for other platforms: reject them on the name's
        # text, before a DistFile (a lazy sequence builds one per row read), packaging Tag and
        # Version objects exist for them; why they were skipped is spelled out only when asked
        filenames: Sequence[str] = getattr(files, "filenames", None) or [f.filename for f in files]
        reasons = self._skipped.setdefault(name, {})
        may_fit = self._may_fit
        for row, filename in enumerate(filenames):
            if filename.endswith(".whl") and not may_fit(filename):
                reasons["tags", filename] = None
                continue
            file = files[row]
            try:
                version, tags = file.version, file.tags
            except ValueError:
                self._skip(name, f"{file.filename}: not a valid distribution file name")
                continue
            if file.is_wheel and not tags & self._tags:
                shown = ", ".join(sorted(str(t) for t in tags)[:3])
                self._skip(name, f"{version}: no wheel for the target ({file.filename}: {shown})")
                continue
            if not self._python_accepts(file.requires_python):
                self._skip(name, f"{version}: requires a different Python ({file.requires_python})")
                continue
            if policy == "wheel" and not file.is_wheel:
                self._skip(name, f"{version}: {file.filename} is not a wheel (--only-binary)")
                continue
            if policy == "sdist" and file.is_wheel:
                self._skip(name, f"{version}: {file.filename} is a wheel (--no-binary)")
                continue
            if (
                wanted is not None
                and hashes_comparable(file.hashes, wanted)
                and not hashes_match(file.hashes, wanted)
            ):
                hash_rejected.append((version, file))
                continue
            if opts.uploaded_prior_to is not None and not file.url.startswith("file:"):
                uploaded = file.upload_datetime
                if uploaded is None:  # pip: an error, not a skipped file
                    from forge_pip.resolve.errors import UploadTimeMissing

                    raise UploadTimeMissing(
                        f"Index {file.source or file.url} does not provide upload-time metadata.",
                        hint="--uploaded-prior-to needs an index that states PEP 700 upload times",
                    )
                if uploaded >= opts.uploaded_prior_to:
                    self._skip(
                        name,
                        f"{version}: {file.filename} was uploaded at {uploaded.isoformat()}, not before"
                        f" {opts.uploaded_prior_to.isoformat()} (--uploaded-prior-to)",
                    )
                    continue
            if file.yanked is not None:
                self._skip(name, f"{version}: yanked" + (f" ({file.yanked})" if file.yanked else ""))
            by_version.setdefault(version, []).append(file)
        if by_version or not hash_rejected:
            for version, file in hash_rejected:
                self._skip(name, f"{version}: {file.filename} does not match the required --hash")
        else:
            # pip's filter_unallowed_hashes: when no file has an allowed hash, none is dropped; the
            # download's check then reports the mismatch with the digest the file really has
            for version, file in hash_rejected:
                by_version.setdefault(version, []).append(file)

        def file_key(f: DistFile) -> tuple[bool, bool, int, str]:
            return (f.yanked is not None, not f.is_wheel, self._tag_rank(f), f.filename)

        versions = [IndexVersion(v, tuple(sorted(files, key=file_key))) for v, files in by_version.items()]
        if opts.prefer_binary:
            versions.sort(key=lambda iv: (iv.has_wheel, iv.version), reverse=True)
        else:
            versions.sort(key=lambda iv: iv.version, reverse=True)
        self._index_cache[name] = versions
        return versions

    def _entry_usable(self, dist: StoredDist) -> bool:
        opts = self._options
        if not dist.tags & self._tags:
            return False
        if not python_accepts(dist.requires_python, opts.target.python_version):
            return False
        wanted = opts.hashes.get(dist.name)
        return wanted is None or hashes_match(dist.file_hashes, wanted)

    def holding(self, file: DistFile) -> StoredDist | None:
        """The store entry that holds ``file`` (the file the sources chose), if it suits the target."""
        if file in self._held:
            return self._held[file]
        dist = self._store.holding(file)
        if dist is not None and not self._entry_usable(dist):
            dist = None
        self._held[file] = dist
        return dist

    def stored(self, name: NormalizedName) -> list[StoredDist]:
        """Store entries of ``name`` usable for the target, newest first (best tag first within a version).

        Empty unless ``prefer_store``; a store entry is a wheel, so ``--no-binary`` excludes it.
        """
        cached = self._store_cache.get(name)
        if cached is not None:
            return cached
        opts = self._options
        usable: list[StoredDist] = []
        if opts.prefer_store and binary_policy(name, opts.only_binary, opts.no_binary) != "sdist":
            usable = [dist for dist in self._store.stored(name) if self._entry_usable(dist)]
        priority = opts.target.tag_priority
        default = len(priority)

        def rank(d: StoredDist) -> int:
            return min((priority[t] for t in d.tags if t in priority), default=default)

        usable.sort(key=rank)
        usable.sort(key=lambda d: d.version, reverse=True)
        self._store_cache[name] = usable
        return usable

    def known_versions(self, name: NormalizedName, extra: Iterable[Version] = ()) -> Sequence[str]:
        """Every usable version (index, store with ``prefer_store``, plus ``extra``), oldest first."""
        versions = {iv.version for iv in self.index_versions(name)}
        versions.update(d.version for d in self.stored(name))
        versions.update(extra)
        return [str(v) for v in sorted(versions)]
