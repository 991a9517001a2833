"""Turn a wheel file into a store entry: unpack with ``installer``, validate, scan, compile, seal.

The entry id is a sha256 over the sorted ``path + file sha256`` pairs of the wheel's content
(without RECORD, INSTALLER, REQUESTED, direct_url.json), so a rebuilt wheel with identical content
maps to the same entry. When the wheel's RECORD is complete it gives the id before unpacking;
otherwise the id comes from the bytes actually written. Both agree because RECORD is validated.

RECORD policy: a hash that does not match the content is fatal (``InvalidWheel``). Tolerated and
reported in ``record_issues``: hex instead of urlsafe-base64 digests (still verified), files that
RECORD does not list, RECORD rows without a hash.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import json
import os
import posixpath
import subprocess
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme

from .elf import scan_climbs
from .errors import InvalidWheel
from .hashing import file_sha256 as file_sha256
from .models import EntryPoint, Interpreter, OriginClimb

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

EXCLUDED_DIST_INFO = frozenset(
    {"RECORD", "RECORD.jws", "RECORD.p7s", "INSTALLER", "REQUESTED", "direct_url.json"}
)
ENTRY_META = "forge-entry.json"


def _digest_hex(value: str) -> str | None:
    """RECORD hash field -> sha256 hex; ``None`` if absent or not sha256."""
    if not value:
        return None
    algo, _, digest = value.partition("=")
    if algo != "sha256" or not digest:
        return None
    if len(digest) == 64 and all(c in "0123456789abcdefABCDEF" for c in digest):
        return digest.lower()
    try:
        return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
    except ValueError:
        return None


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


@dataclasses.dataclass(frozen=True, slots=True)
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


def inspect_wheel(path: Path) -> WheelInfo:
    """Read a wheel's identity without unpacking it; ``InvalidWheel`` for anything that is not one."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    if not path.is_file():
        raise InvalidWheel(f"{path}: no such file")
    try:
        name, version, _build, tagset = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise InvalidWheel(f"{path.name} is not a wheel file name ({exc})") from None
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidWheel(f"{path.name} is not a valid wheel (not a zip archive: {exc})") from None
    with zf:
        names = zf.namelist()
        dist_infos = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
        dist_info = next(
            (d for d in dist_infos if canonicalize_name(d[: -len(".dist-info")].rpartition("-")[0]) == name),
            None,
        )
        if dist_info is None:
            raise InvalidWheel(f"{path.name} has no {name}-{version}.dist-info directory")
        for member in names:
            norm = posixpath.normpath(member)
            if member.startswith("/") or norm.startswith("..") or "\\" in member:
                raise InvalidWheel(f"{path.name}: unsafe path in archive: {member!r}")
        try:
            record_text = zf.read(f"{dist_info}/RECORD").decode("utf-8")
            metadata = BytesHeaderParser().parsebytes(zf.read(f"{dist_info}/METADATA"))
            zf.read(f"{dist_info}/WHEEL")
        except KeyError as exc:
            raise InvalidWheel(f"{path.name}: missing {exc.args[0]}") from None
    record: dict[str, str | None] = {}
    issues: list[str] = []
    hex_seen = False
    for row in csv.reader(io.StringIO(record_text)):
        if not row:
            continue
        rpath = row[0]
        value = row[1] if len(row) > 1 else ""
        if value and len(value.partition("=")[2]) == 64 and not value.partition("=")[2].endswith("="):
            hex_seen = hex_seen or all(c in "0123456789abcdef" for c in value.partition("=")[2].lower())
        record[rpath] = _digest_hex(value)
    if hex_seen:
        issues.append("RECORD uses hex digests instead of urlsafe-base64 (verified anyway)")
    counted = [n for n in names if _counts(n, dist_info)]
    missing = [n for n in counted if n not in record]
    unhashed = [n for n in counted if n in record and record[n] is None]
    if missing:
        issues.append(f"RECORD does not list {len(missing)} file(s), e.g. {missing[0]}")
    if unhashed:
        issues.append(f"RECORD has no sha256 for {len(unhashed)} file(s), e.g. {unhashed[0]}")
    provisional = None
    if not missing and not unhashed:
        provisional = content_id((n, record[n] or "") for n in counted)
    return WheelInfo(
        path=path,
        filename=path.name,
        name=str(name),
        version=str(version),
        tags=tuple(sorted(str(t) for t in tagset)),
        dist_info=dist_info,
        requires_python=metadata.get("Requires-Python"),
        requires_dist=tuple(metadata.get_all("Requires-Dist") or ()),
        record=record,
        record_issues=tuple(issues),
        provisional_id=provisional,
    )


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

    def write_script(self, name: str, module: str, attr: str, section: ScriptSection) -> RecordEntry:
        self.entry_points.append(EntryPoint(name, module, attr, section))
        return RecordEntry(name, None, None)

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        return self.write_to_fs(scheme, os.fspath(path), stream, is_executable)

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        entry = super().write_to_fs(scheme, path, stream, is_executable)
        assert entry.hash_ is not None
        value = entry.hash_.value
        digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
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
        # Per-env markers an env may add next to this RECORD (pip lists them too); listing a file
        # that is absent is harmless, and lets every env share this RECORD.
        base = record_file_path.rsplit("/", 1)[0]
        rows.extend((f"{base}/{name}", "", "") for name in ("REQUESTED", "direct_url.json"))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        (self.staging / "site" / record_file_path).write_text(buf.getvalue())


def unpack(info: WheelInfo, staging: Path) -> tuple[str, list[EntryPoint]]:
    """Unpack into ``staging`` (site/, scripts/, data/, headers/); returns (content id, entry points)."""
    (staging / "site").mkdir(parents=True)
    dest = StoreDestination(staging, info)
    try:
        with WheelFile.open(info.path) as source, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # __pycache__ in a wheel: skipped, as pip
            install(source, dest, {"INSTALLER": b"forge\n"})
    except InvalidWheel:
        raise
    except (InstallerError, ValueError, KeyError, zipfile.BadZipFile, OSError) as exc:
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


def compile_bytecode(site: Path, interpreters: Sequence[Interpreter]) -> list[str]:
    """Compile every .py under ``site`` with each interpreter (unchecked-hash pycs); returns cache tags.

    ``stripdir`` makes ``co_filename`` relative, so identical sources give identical pycs whatever
    the staging path (merged dirs dedupe them); importlib rewrites it to the real path on load.
    """
    script = (
        "import compileall, sys, py_compile\n"
        "ok = compileall.compile_dir(sys.argv[1], quiet=2, workers=int(sys.argv[2]), stripdir=sys.argv[1],"
        " invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
    )
    py_count = sum(1 for _ in site.rglob("*.py"))
    workers = 0 if py_count > 400 else 1
    done: list[str] = []
    for interp in interpreters:
        if py_count:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
            subprocess.run(
                [str(interp.executable), "-I", "-c", script, str(site), str(workers)],
                check=False,
                capture_output=True,
                env=env,
            )
        done.append(interp.cache_tag)
    return done


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
