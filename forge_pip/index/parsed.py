"""The parsed form of a project page, compact and lazy: columns of plain values, not objects.

A big project page lists thousands of files, most of them for other platforms or versions the
resolver never looks at. :class:`FileColumns` keeps what a page says about each file as parallel
lists of strings (what the on-disk page cache stores, see :mod:`forge_pip.index.pagecache`), and
:class:`ProjectFiles` offers the merged files of every source of a project as a
``Sequence[DistFile]`` that builds a :class:`~forge_pip.models.DistFile` only for the rows that are
read: the finder rejects most rows on their file name alone (:attr:`ProjectFiles.filenames`).

Digests are encoded compactly: a plain string is a sha256 hex digest (what nearly every index
gives), a mapping is a full ``{algorithm: digest}`` map, ``None`` is "no digest". For metadata,
``None`` means "no ``.metadata`` file is served" and ``""`` "served, without a digest".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

from forge_pip.models import DistFile
from forge_store.records import record


def encode_digests(hashes: Mapping[str, str] | None, *, empty: str | None) -> str | dict[str, str] | None:
    """``{"sha256": h}`` -> ``h``; ``{}`` -> ``empty``; ``None`` -> ``None``; others unchanged."""
    if hashes is None:
        return None
    if not hashes:
        return empty
    if len(hashes) == 1 and "sha256" in hashes:
        return hashes["sha256"]
    return dict(hashes)


def decode_digests(value: object) -> dict[str, str] | None:
    """The inverse of :func:`encode_digests` (``""`` -> ``{}``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"sha256": value} if value else {}
    assert isinstance(value, dict)  # from_json checked every row
    return dict(value)


_STR: frozenset[type] = frozenset({str})
_OPTIONAL_STR: frozenset[type] = frozenset({str, type(None)})
_OPTIONAL_INT: frozenset[type] = frozenset({int, type(None)})  # bool is not int here: type() is exact
_DIGEST: frozenset[type] = frozenset({str, dict, type(None)})


def _types(column: list[object]) -> set[type]:
    return set(map(type, column))


def _digest_ok(value: object) -> bool:
    if not isinstance(value, dict):
        return True
    return all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


@record(frozen=True, slots=True)
class FileColumns:
    """What one page (or find-links location) says about its files, one list per field.

    ``projects`` is only filled for find-links locations (one page lists many projects): the
    canonical project name of each row, or ``"!" + canonical prefix`` for a malformed file name.
    """

    urls: list[str]
    filenames: list[str]
    hashes: list[str | dict[str, str] | None]
    requires_python: list[str | None]
    yanked: list[str | None]
    metadata: list[str | dict[str, str] | None]
    sizes: list[int | None]
    upload_times: list[str | None]
    projects: list[str] | None = None

    FIELDS = (
        "urls",
        "filenames",
        "hashes",
        "requires_python",
        "yanked",
        "metadata",
        "sizes",
        "upload_times",
    )

    def __len__(self) -> int:
        return len(self.urls)

    @classmethod
    def from_files(cls, files: Sequence[DistFile], projects: list[str] | None = None) -> FileColumns:
        return cls(
            urls=[f.url for f in files],
            filenames=[f.filename for f in files],
            hashes=[encode_digests(f.hashes, empty=None) for f in files],
            requires_python=[f.requires_python for f in files],
            yanked=[f.yanked for f in files],
            metadata=[encode_digests(f.metadata_hashes, empty="") for f in files],
            sizes=[f.size for f in files],
            upload_times=[f.upload_time for f in files],
            projects=projects,
        )

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {name: getattr(self, name) for name in self.FIELDS}
        if self.projects is not None:
            doc["projects"] = self.projects
        return doc

    @classmethod
    def from_json(cls, doc: object) -> FileColumns:
        """Rebuild from :meth:`to_json`; raises ``ValueError`` for anything else (a corrupt cache)."""
        if not isinstance(doc, dict):
            raise ValueError("not a column map")
        columns: list[list[object]] = []
        for name in cls.FIELDS:
            column = doc.get(name)
            if not isinstance(column, list):
                raise ValueError(f"column {name} is missing")
            columns.append(column)
        projects = doc.get("projects")
        if projects is not None and not isinstance(projects, list):
            raise ValueError("column projects is not a list")
        length = len(columns[0])
        if any(len(c) != length for c in columns) or (projects is not None and len(projects) != length):
            raise ValueError("columns of different lengths")
        urls, filenames, hashes, rp, yanked, metadata, sizes, times = columns
        # types per column, counted in C (map(type, ...)): a page has tens of thousands of rows
        for column in (urls, filenames, *(() if projects is None else (projects,))):
            if not _types(column) <= _STR:
                raise ValueError("a url, file name or project is not a string")
        for column in (rp, yanked, times):
            if not _types(column) <= _OPTIONAL_STR:
                raise ValueError("a text field is neither a string nor null")
        if not _types(sizes) <= _OPTIONAL_INT:
            raise ValueError("a size is neither an integer nor null")
        for column in (hashes, metadata):
            kinds = _types(column)
            if not kinds <= _DIGEST or (dict in kinds and not all(map(_digest_ok, column))):
                raise ValueError("a digest is neither a string nor a map of strings")
        return cls(
            urls=urls,  # type: ignore[arg-type]
            filenames=filenames,  # type: ignore[arg-type]
            hashes=hashes,  # type: ignore[arg-type]
            requires_python=rp,  # type: ignore[arg-type]
            yanked=yanked,  # type: ignore[arg-type]
            metadata=metadata,  # type: ignore[arg-type]
            sizes=sizes,  # type: ignore[arg-type]
            upload_times=times,  # type: ignore[arg-type]
            projects=projects,
        )

    def make(self, row: int, source: str) -> DistFile:
        """The :class:`DistFile` of one row."""
        hashes = decode_digests(self.hashes[row])
        return DistFile(
            url=self.urls[row],
            filename=self.filenames[row],
            hashes=hashes if hashes is not None else {},
            requires_python=self.requires_python[row],
            yanked=self.yanked[row],
            metadata_hashes=decode_digests(self.metadata[row]),
            size=self.sizes[row],
            source=source,
            upload_time=self.upload_times[row],
        )


@record(frozen=True, slots=True)
class Segment:
    """Rows of one source: ``rows`` of ``columns`` (all of them when ``None``), with its ``source``."""

    columns: FileColumns
    source: str
    rows: list[int] | None = None
    digest: str | None = None
    """A digest of everything ``columns`` were parsed from (a page's content digest), when known:
    it stands for the segment in :meth:`ProjectFiles.fingerprint` (else its rows are hashed)."""

    def fingerprint(self) -> str:
        """What identifies this segment's files: its page digest, or a digest of its rows."""
        if self.digest is not None and self.rows is None:
            return self.digest
        import hashlib
        import json

        cols = self.columns
        rows = range(len(cols)) if self.rows is None else self.rows
        doc = [[getattr(cols, field)[row] for field in FileColumns.FIELDS] for row in rows]
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class ProjectFiles(Sequence[DistFile]):
    """The files of one project across its sources, in order, each URL once; rows built on demand.

    ``filenames`` and ``urls`` are plain lists (no object per row); indexing builds and remembers
    the :class:`DistFile` of that row. Not thread-safe for writers; the client builds one per name.
    """

    __slots__ = ("_built", "_cols", "_rows", "_segments", "_sources", "filenames", "urls")

    def __init__(self, segments: Sequence[Segment]) -> None:
        self._segments = tuple(segments)
        self.filenames: list[str] = []
        self.urls: list[str] = []
        self._cols: list[FileColumns] = []
        self._sources: list[str] = []
        self._rows: list[tuple[int, int]] = []
        for number, segment in enumerate(segments):
            cols = segment.columns
            self._cols.append(cols)
            self._sources.append(segment.source)
            if segment.rows is None:
                self.filenames.extend(cols.filenames)
                self.urls.extend(cols.urls)
                self._rows.extend((number, i) for i in range(len(cols)))
            else:
                self.filenames.extend([cols.filenames[i] for i in segment.rows])
                self.urls.extend([cols.urls[i] for i in segment.rows])
                self._rows.extend((number, i) for i in segment.rows)
        if len(set(self.urls)) != len(self.urls):  # the same file through two routes: keep the first
            seen: set[str] = set()
            keep = [i for i, url in enumerate(self.urls) if not (url in seen or seen.add(url))]  # type: ignore[func-returns-value]
            self._select(keep)
        self._built: list[DistFile | None] = [None] * len(self.urls)

    def _select(self, order: list[int]) -> None:
        self.filenames = [self.filenames[i] for i in order]
        self.urls = [self.urls[i] for i in order]
        self._rows = [self._rows[i] for i in order]

    def local_first(self) -> ProjectFiles:
        """The same files, ``file://`` ones first (stable): a local copy needs no download."""
        local = [i for i, url in enumerate(self.urls) if url.startswith("file:")]
        if not local or len(local) == len(self.urls) or local == list(range(len(local))):
            return self
        chosen = set(local)
        order = local + [i for i in range(len(self.urls)) if i not in chosen]
        copy = ProjectFiles(())
        copy._cols, copy._sources, copy._segments = self._cols, self._sources, self._segments
        copy.filenames, copy.urls, copy._rows = self.filenames, self.urls, self._rows
        copy._select(order)
        copy._built = [self._built[i] for i in order]
        return copy

    def fingerprint(self) -> str:
        """A digest of what every source said about this project (each source's location and
        content): equal fingerprints mean equal files, in the same order, whatever the reads."""
        return fingerprint_of((segment.source, segment.fingerprint()) for segment in self._segments)

    def __len__(self) -> int:
        return len(self.urls)

    @overload
    def __getitem__(self, index: int) -> DistFile: ...
    @overload
    def __getitem__(self, index: slice) -> list[DistFile]: ...
    def __getitem__(self, index: int | slice) -> DistFile | list[DistFile]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        built = self._built[index]
        if built is None:
            number, row = self._rows[index]
            built = self._cols[number].make(row, self._sources[number])
            self._built[index] = built
        return built

    def __iter__(self) -> Iterator[DistFile]:
        for i in range(len(self.urls)):
            yield self[i]

    def __repr__(self) -> str:
        return f"ProjectFiles({len(self)} files)"


def fingerprint_of(parts: Iterable[tuple[str, str]]) -> str:
    """:meth:`ProjectFiles.fingerprint` from each segment's ``(source, Segment.fingerprint())``."""
    import hashlib

    h = hashlib.sha256()
    for source, digest in parts:
        for part in (source, digest):
            data = part.encode("utf-8", "surrogateescape")
            h.update(b"%d:" % len(data))
            h.update(data)
    return h.hexdigest()
