"""Turn a wheel file into a store entry: unpack with ``installer``, validate, scan, compile, seal.

The entry id is a sha256 over the sorted ``path + file sha256`` pairs of the wheel's content
(without RECORD, INSTALLER, REQUESTED, direct_url.json), so a rebuilt wheel with identical content
maps to the same entry. When the wheel's RECORD is complete it gives the id before unpacking;
otherwise the id comes from the bytes actually written. Both agree because RECORD is validated.

Safety (``wheelcheck``): every member path, the dist-info name, METADATA's Name/Version, the
entry points and the size of the archive are checked by :func:`inspect_wheel` before anything is
written; :func:`unpack` counts the bytes really written against what the zip declared.

RECORD policy: a hash that does not match the content is fatal (``InvalidWheel``). Tolerated and
reported in ``record_issues`` (shown to the user as warnings when the entry is linked): hex instead
of urlsafe-base64 digests (still verified), files that RECORD does not list, RECORD rows without a
hash or with another algorithm than sha256 (not verified).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import stat
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme

from forge_store.records import record

from . import wheelcheck
from .elf import scan_climbs
from .errors import InvalidWheel
from .hashing import file_sha256 as file_sha256
from .hashing import record_sha256_hex
from .models import EntryPoint, Interpreter, OriginClimb

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

    from .bytecode import Compiler

EXCLUDED_DIST_INFO = frozenset(
    {"RECORD", "RECORD.jws", "RECORD.p7s", "INSTALLER", "REQUESTED", "direct_url.json"}
)
ENTRY_META = "forge-entry.json"
INSTALLER_MARKER = {"INSTALLER": b"forge\n"}
_COPY_CHUNK = 1 << 20


def content_id(pairs: Iterable[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for path, digest in sorted(pairs):
        h.update(f"{path}\0{digest}\n".encode())
    return h.hexdigest()


def _counts(path: str, dist_info: str) -> bool:
    """Whether a wheel path takes part in the content id."""
    if path.endswith("/") or "__pycache__/" in path:
        return False
    head, _, tail = path.partition("/")
    return not (head == dist_info and tail in EXCLUDED_DIST_INFO)


@record(frozen=True, slots=True)
class WheelInfo:
    """What the zip's central directory, RECORD and METADATA say, before unpacking."""

    path: Path
    filename: str
    name: str  # canonical
    version: str
    tags: tuple[str, ...]
    dist_info: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    record: dict[str, str | None]  # path -> sha256 hex (None when RECORD has no usable hash)
    record_issues: tuple[str, ...]
    provisional_id: str | None  # from RECORD, when RECORD covers every file with a hash
    entry_points: tuple[EntryPoint, ...] = ()  # console/gui scripts, checked
    files: int = 0  # files the central directory declares
    unpacked_bytes: int = 0  # bytes the central directory declares
    limits: wheelcheck.Limits = wheelcheck.DEFAULT_LIMITS


def inspect_wheel(path: Path, limits: wheelcheck.Limits | None = None) -> WheelInfo:
    """Read and check a wheel's identity without unpacking it; ``InvalidWheel`` (or one of its
    subclasses: ``UnsafeWheel``, ``InvalidWheelMetadata``, ``WheelTooLarge``) for anything that is
    not a safe, self-consistent wheel. ``limits`` default to the environment's."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    if not path.is_file():
        raise InvalidWheel(f"{path}: no such file")
    try:
        name, version, _build, tagset = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise InvalidWheel(f"{path.name} is not a wheel file name ({exc})") from None
    limits = limits or wheelcheck.Limits.from_environ()
    filename = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidWheel(f"{filename} is not a valid wheel (not a zip archive: {exc})") from None
    with zf:
        facts = wheelcheck.check_archive(zf, filename, path.stat().st_size, str(name), str(version), limits)
        dist_info = facts.dist_info
        names = zf.namelist()
        try:
            raw_record = wheelcheck.read_member(zf, f"{dist_info}/RECORD", filename)
            raw_metadata = wheelcheck.read_member(zf, f"{dist_info}/METADATA", filename)
            wheelcheck.read_member(zf, f"{dist_info}/WHEEL", filename)
        except KeyError as exc:
            raise InvalidWheel(f"{filename}: missing {exc.args[0]}") from None
        try:
            raw_eps = wheelcheck.read_member(zf, f"{dist_info}/entry_points.txt", filename)
        except KeyError:
            raw_eps = b""
    metadata = wheelcheck.parse_metadata(raw_metadata, filename, dist_info, str(name), str(version))
    entry_points = wheelcheck.parse_entry_points(raw_eps, filename) if raw_eps else ()
    try:
        record_text = raw_record.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWheel(f"{filename}: {dist_info}/RECORD is not UTF-8 text") from None
    record: dict[str, str | None] = {}
    algos: dict[str, str] = {}  # path -> hash algorithm RECORD names, when not sha256
    issues: list[str] = []
    hex_seen = False
    try:
        rows = list(csv.reader(io.StringIO(record_text)))
    except csv.Error as exc:
        raise InvalidWheel(f"{filename}: {dist_info}/RECORD is not CSV: {exc}") from None
    for row in rows:
        if not row:
            continue
        rpath = row[0]
        value = row[1] if len(row) > 1 else ""
        if value and len(value.partition("=")[2]) == 64 and not value.partition("=")[2].endswith("="):
            hex_seen = hex_seen or all(c in "0123456789abcdef" for c in value.partition("=")[2].lower())
        record[rpath] = record_sha256_hex(value)
        algo = value.partition("=")[0]
        if value and algo != "sha256":
            algos[rpath] = algo
    if hex_seen:
        issues.append("RECORD uses hex digests instead of urlsafe-base64 (verified anyway)")
    counted = [n for n in names if _counts(n, dist_info)]
    missing = [n for n in counted if n not in record]
    weak = [n for n in counted if n in record and record[n] is None and n in algos]
    unhashed = [n for n in counted if n in record and record[n] is None and n not in algos]
    if missing:
        issues.append(f"RECORD does not list {len(missing)} file(s), e.g. {missing[0]} (not verified)")
    if weak:
        kinds = ", ".join(sorted({algos[n] for n in weak}))
        issues.append(
            f"RECORD has {kinds} instead of sha256 for {len(weak)} file(s), e.g. {weak[0]} (not verified)"
        )
    if unhashed:
        issues.append(f"RECORD has no hash for {len(unhashed)} file(s), e.g. {unhashed[0]} (not verified)")
    provisional = None
    if not missing and not unhashed:
        provisional = content_id((n, record[n] or "") for n in counted)
    requires_python = metadata.get("Requires-Python")
    return WheelInfo(
        path=path,
        filename=filename,
        name=str(name),
        version=str(version),
        tags=tuple(sorted(str(t) for t in tagset)),
        dist_info=dist_info,
        requires_python=None if requires_python is None else str(requires_python),
        requires_dist=tuple(str(r) for r in metadata.get_all("Requires-Dist") or ()),
        record=record,
        record_issues=tuple(issues),
        provisional_id=provisional,
        entry_points=entry_points,
        files=facts.files,
        unpacked_bytes=facts.unpacked_bytes,
        limits=limits,
    )


class _Source(WheelFile):
    """installer's ``WheelFile`` with the dist-info dir ``inspect_wheel`` checked, and the ``.data``
    dir that belongs to it (installer derives it from the file name, which may be spelled otherwise)."""

    def __init__(self, f: zipfile.ZipFile, dist_info: str) -> None:
        super().__init__(f)
        self._forge_dist_info = dist_info

    @property
    def dist_info_dir(self) -> str:
        return self._forge_dist_info

    @property
    def data_dir(self) -> str:
        return self._forge_dist_info[: -len(".dist-info")] + ".data"


class StoreDestination(SchemeDictionaryDestination):
    """Writes into a staging entry, verifies each file against RECORD, records scripts instead of
    writing them (launchers are per env), and keeps ``.data/scripts`` raw."""

    def __init__(self, staging: Path, info: WheelInfo) -> None:
        super().__init__(
            scheme_dict={
                "purelib": str(staging / "site"),
                "platlib": str(staging / "site"),
                "headers": str(staging / "headers"),
                "scripts": str(staging / "scripts"),
                "data": str(staging / "data"),
            },
            interpreter="/usr/bin/python3",  # never used: no script is generated here
            script_kind="posix",
        )
        self.staging = staging
        self.info = info
        self.entry_points: list[EntryPoint] = []
        self.written: list[tuple[str, str]] = []  # (wheel path, sha256 hex)
        self._made: set[str] = set()  # directories created (or found) already
        extra = sum(len(v) for v in INSTALLER_MARKER.values())
        self.budget = wheelcheck.Budget(
            info.filename, info.limits, info.unpacked_bytes + extra, info.files + len(INSTALLER_MARKER)
        )

    def write_script(self, name: str, module: str, attr: str, section: ScriptSection) -> RecordEntry:
        ep = wheelcheck.check_entry_point(EntryPoint(name, module, attr, section), self.info.filename)
        self.entry_points.append(ep)
        return RecordEntry(name, None, None)

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        rel = wheelcheck.check_path(os.fspath(path), f"{scheme} file", self.info.filename)
        if scheme == "scripts":
            wheelcheck.check_name(rel, "script name", self.info.filename)
        self.budget.add_file()
        return self.write_to_fs(scheme, rel, self.budget.reader(stream), is_executable)

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        """Write one member (installer's contract: never over an existing file; the sha256 and
        size of what was written), hashing it as it is copied in 1 MiB reads, then check it
        against RECORD. installer's own writer does the same with pathlib and two ``stat`` s per
        file; this one opens with ``O_EXCL`` and creates each directory once."""
        target = wheelcheck.join_inside(self.scheme_dict[scheme], path, self.info.filename)
        parent = os.path.dirname(target)
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        hasher = hashlib.sha256()
        size = 0
        fd = os.open(
            target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o777 if is_executable else 0o666
        )
        with os.fdopen(fd, "wb") as out:
            if is_executable:  # installer's mode for scripts: the umask's, plus every x bit
                mode = stat.S_IMODE(os.fstat(fd).st_mode)
                if mode & 0o111 != 0o111:
                    os.fchmod(fd, mode | 0o111)
            while chunk := stream.read(_COPY_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        digest = hasher.hexdigest()
        value = base64.urlsafe_b64encode(hasher.digest()).decode("ascii").rstrip("=")
        entry = RecordEntry(path, Hash("sha256", value), size)
        info = self.info
        if scheme in ("purelib", "platlib"):
            wheel_path = path
        else:
            wheel_path = f"{info.dist_info[: -len('.dist-info')]}.data/{scheme}/{path}"
        expected = info.record.get(wheel_path)
        if expected is not None and expected != digest and _counts(wheel_path, info.dist_info):
            raise InvalidWheel(
                f"{info.filename}: {wheel_path} does not match its RECORD hash",
                hint="the wheel is corrupt or was tampered with",
            )
        self.written.append((wheel_path, digest))
        return entry

    def finalize_installation(
        self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
    ) -> None:
        """Write RECORD relative to an env's ``lib/pythonX.Y/site-packages``."""
        rows = []
        for file_scheme, rec in records:
            rpath = rec.path
            if file_scheme == "scripts":
                rpath = f"../../../bin/{rpath}"
            elif file_scheme == "data":
                rpath = f"../../../{rpath}"
            elif file_scheme == "headers":
                rpath = f"../../../include/site/python3/{self.info.name}/{rpath}"
            size = "" if rec.size is None else str(rec.size)
            rows.append((rpath, str(rec.hash_) if rec.hash_ else "", size))
        # No rows for the per-env markers (REQUESTED, direct_url.json): RECORD lists exactly what
        # exists (``importlib.metadata.files()``); an env that has them gets its own RECORD.
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        (self.staging / "site" / record_file_path).write_text(buf.getvalue())


def unpack(info: WheelInfo, staging: Path) -> tuple[str, list[EntryPoint]]:
    """Unpack into ``staging`` (site/, scripts/, data/, headers/); returns (content id, entry points)."""
    (staging / "site").mkdir(parents=True)
    dest = StoreDestination(staging, info)
    try:
        with zipfile.ZipFile(info.path) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # __pycache__ in a wheel: skipped, as pip
            install(_Source(zf, info.dist_info), dest, dict(INSTALLER_MARKER))
    except InvalidWheel:
        raise
    except (
        InstallerError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,
        EOFError,
        OSError,
    ) as exc:
        raise InvalidWheel(f"{info.filename}: cannot unpack: {exc}") from None
    pairs = [(p, d) for p, d in dest.written if _counts(p, info.dist_info)]
    return content_id(pairs), list(dest.entry_points)


def _is_namespace_like(directory: Path) -> bool:
    """A dir that other wheels may share: PEP 420, pkgutil/pkg_resources style, or an (almost) empty
    ``__init__.py`` beside nothing but subpackages (``nvidia/``)."""
    init = directory / "__init__.py"
    try:
        children = list(os.scandir(directory))
    except OSError:
        return False
    if not init.exists():
        return not any(c.name.endswith(".dist-info") for c in children)
    try:
        text = init.read_bytes()[:4096]
    except OSError:
        return False
    if b"extend_path" in text or b"declare_namespace" in text:
        return True
    code = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(b"#")]
    if code:
        return False
    others = [c for c in children if c.is_file() and c.name != "__init__.py"]
    return not others


def find_namespace_dirs(site: Path, dist_info: str) -> list[str]:
    """Relative dirs (top level and nested inside namespace dirs) that the linker must make real."""
    out: list[str] = []

    def visit(rel: str, depth: int) -> None:
        base = site / rel if rel else site
        for child in sorted(os.scandir(base), key=lambda e: e.name):
            if not child.is_dir(follow_symlinks=False) or child.name == "__pycache__":
                continue
            if not rel and (child.name.endswith((".dist-info", ".data", ".libs")) or child.name == dist_info):
                continue
            crel = f"{rel}/{child.name}" if rel else child.name
            if _is_namespace_like(Path(child.path)):
                out.append(crel)
                if depth < 4:
                    visit(crel, depth + 1)

    visit("", 0)
    return out


def compile_bytecode(
    site: Path, interpreters: Sequence[Interpreter], compiler: Compiler | None = None
) -> list[str]:
    """Compile every .py under ``site`` with each interpreter (unchecked-hash pycs); returns cache tags.

    ``dfile`` is the path relative to ``site``, so identical sources give identical pycs whatever
    the staging path (merged dirs dedupe them); importlib rewrites it to the real path on load.
    ``compiler``: the workers shared by a whole operation (:mod:`.bytecode`; default: workers for
    this tree alone). They die with Forge; their result is checked: every pyc a worker reports
    must exist (a full disk never leaves pyc tags recorded whose files are missing), else
    ``BytecodeFailed`` (or ``DiskFull``).
    """
    from .bytecode import compile_tree

    return compile_tree(site, interpreters, compiler)


RECORD_VARIANTS = "records"
"""Entry subdirectory with the entry's RECORD plus per-env marker rows, one file per combination
(``REQUESTED``, ``direct_url.json``, ``REQUESTED+direct_url.json``): an env's own dist-info
hardlinks the one it needs instead of writing a new file."""
MARKER_SETS = (("REQUESTED",), ("direct_url.json",), ("REQUESTED", "direct_url.json"))


def record_bytecode(site: Path, dist_info: str) -> None:
    """List the entry's pycs in its RECORD (``path,,`` as pip writes them), so that RECORD names
    exactly the files an env sees, and write the per-env variants (:data:`RECORD_VARIANTS`);
    rerun when pycs for another interpreter are added.

    New files replace the old ones (new inodes: hardlinked copies keep what they had)."""
    record = site / dist_info / "RECORD"
    text = record.read_text(encoding="utf-8")
    markers = {f"{dist_info}/{m}" for m in ("REQUESTED", "direct_url.json")}
    kept = [
        row
        for row in csv.reader(text.splitlines())
        if row and row[0] not in markers and not (row[0].endswith(".pyc") and "__pycache__/" in row[0])
    ]
    pycs = sorted(str(p.relative_to(site)) for p in site.rglob("__pycache__/*.pyc") if p.is_file())
    rows = [*kept, *([p, "", ""] for p in pycs)]
    mode = os.stat(record).st_mode & 0o777
    _replace_csv(record, rows, mode)
    variants = site.parent / RECORD_VARIANTS
    variants.mkdir(exist_ok=True)
    for names in MARKER_SETS:
        extra = [[f"{dist_info}/{m}", "", ""] for m in names]
        _replace_csv(variants / "+".join(names), [*rows, *extra], mode)


def _replace_csv(path: Path, rows: Sequence[Sequence[str]], mode: int) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    tmp = path.with_name(path.name + ".forge-tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def scan_entry(site: Path, dist_info: str) -> tuple[list[str], list[OriginClimb], int, int]:
    """(namespace dirs, $ORIGIN climbs, bytes, files) of an unpacked entry."""
    files: list[str] = []
    size = 0
    for dirpath, dirs, names in os.walk(site):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel_dir = os.path.relpath(dirpath, site)
        for name in names:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            files.append(rel)
            size += os.lstat(os.path.join(dirpath, name)).st_size
    climbs = scan_climbs(site, iter(files))
    return find_namespace_dirs(site, dist_info), climbs, size, len(files)


def write_meta(staging: Path, meta: dict[str, object]) -> None:
    (staging / ENTRY_META).write_text(json.dumps(meta, indent=1, sort_keys=True))
