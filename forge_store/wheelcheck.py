"""Every name and path a wheel supplies, checked before anything is written, and again at link time.

A wheel is an archive from a stranger. Its member paths, its ``.dist-info`` directory name, its
console/gui script names and its ``.data/scripts`` names all become paths below the store or an
env; its METADATA becomes what ``pip list`` and ``importlib.metadata`` show. So, before ingest
writes a byte:

- every member path is relative, ``/``-separated, without ``..``, ``.``, empty components,
  backslashes, drive letters, NUL or other control characters, duplicates, symlinks or special
  files (:func:`check_archive`); ``.data`` content sits in ``{dist-info stem}.data/<scheme>/`` with a
  known scheme, and ``.data/scripts`` holds plain file names only;
- there is exactly one ``.dist-info`` directory, and its name, METADATA's ``Name``/``Version`` and
  the wheel file name agree (canonical name, normalized version) (:func:`parse_metadata`);
- entry-point names are plain file names and their targets dotted identifiers
  (:func:`parse_entry_points`, :func:`check_entry_point`);
- the archive stays within :class:`Limits`, from its central directory first and then by counting
  the bytes really written (:class:`Budget`), because zip headers can lie.

The linker calls :func:`check_stored` on every entry it places, so a name that reached the catalog
some other way is still never joined to a path.

Limits, from the environment (sizes take ``K``/``M``/``G``/``T`` suffixes, powers of 1024):

=============================== ========= =====================================================
``FORGE_MAX_UNPACKED_BYTES``     ``16G``   total bytes one wheel may unpack to
``FORGE_MAX_WHEEL_FILES``        200000    files in one wheel
``FORGE_MAX_COMPRESSION_RATIO``  100       unpacked bytes per byte of wheel file, checked once a
                                           wheel unpacks to more than 64 MiB
=============================== ========= =====================================================

Real wheels are far inside these (nvidia-cudnn: ~1 GB unpacked, ratio ~2; torch: ~15k files); a
1 MB deflate bomb of zeros that unpacks to 1 GiB has a ratio of ~1000.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO

from forge_store.records import record

from .errors import InvalidWheel, InvalidWheelMetadata, UnsafeWheel, UsageError, WheelTooLarge
from .models import EntryPoint

if TYPE_CHECKING:
    import zipfile

    from .metaheaders import Fields
    from .models import StoredWheel

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

ENV_MAX_BYTES = "FORGE_MAX_UNPACKED_BYTES"
ENV_MAX_FILES = "FORGE_MAX_WHEEL_FILES"
ENV_MAX_RATIO = "FORGE_MAX_COMPRESSION_RATIO"
RATIO_FLOOR = 64 * MiB
"""Below this many unpacked bytes the compression ratio is not checked (small text wheels compress well)."""
METADATA_MAX_BYTES = 64 * MiB
"""The most of RECORD / METADATA / WHEEL / entry_points.txt read into memory (torch's RECORD: ~2 MB)."""

SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})
SCRIPT_SECTIONS = {"console_scripts": "console", "gui_scripts": "gui"}
# installer.utils._ENTRYPOINT_REGEX: what ``installer.install`` accepts (anything else is an assert there)
_ENTRYPOINT_RE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attrs>[\w.]+))\s*(?P<extras>\[.*\])?\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_CANONICAL_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(I?B)?\s*$", re.IGNORECASE)

_UNSAFE_HINT = "the wheel is malformed or malicious; Forge refuses it whole and changed nothing"
_STORED_HINT = "the store entry was modified after ingest; remove the env's use of it and reinstall the wheel"


# -- limits ---------------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class Limits:
    """How big a wheel may unpack (see the module doc for the variables that set them)."""

    unpacked_bytes: int = 16 * GiB
    files: int = 200_000
    ratio: float = 100.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            unpacked_bytes=_env_size(env, ENV_MAX_BYTES, default.unpacked_bytes),
            files=int(_env_number(env, ENV_MAX_FILES, default.files)),
            ratio=_env_number(env, ENV_MAX_RATIO, default.ratio),
        )


DEFAULT_LIMITS = Limits()


def _env_size(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var, "").strip()
    if not raw:
        return default
    match = _SIZE.match(raw)
    if match is None:
        raise UsageError(f"{var}={raw!r} is not a size", hint=f"use bytes or a suffix, e.g. {var}=32G")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(match.group(1)) * int(1024**power)


def _env_number(env: Mapping[str, str], var: str, default: float) -> float:
    raw = env.get(var, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"{var}={raw!r} is not a positive number")
    return value


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _size_arg(n: int) -> str:
    """A value for FORGE_MAX_UNPACKED_BYTES at least ``n`` (rounded up to whole GiB or MiB)."""
    if n >= GiB:
        return f"{-(-n // GiB)}G"
    return f"{max(1, -(-n // MiB))}M"


def _too_large(message: str, var: str, value: str) -> WheelTooLarge:
    return WheelTooLarge(message, hint=f"if you trust this wheel, raise the limit: {var}={value}")


# -- names and paths ------------------------------------------------------------------------------


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain file name (one path component), or None."""
    if not name:
        return "is empty"
    if name in (".", ".."):
        return "is a relative path"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if _CONTROL.search(name):
        return "contains a control character"
    if name != name.strip():
        return "has leading or trailing white space"
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "is longer than 255 bytes"
    return None


def path_problem(path: str) -> str | None:
    """Why an archive member path could leave its target directory, or None (``dir/`` is allowed)."""
    if not path:
        return "is empty"
    if _CONTROL.search(path):
        return "contains a NUL or control character"
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/"):
        return "is absolute"
    if _DRIVE.match(path):
        return "starts with a drive letter"
    body = path[:-1] if path.endswith("/") else path
    for part in body.split("/"):
        if not part:
            return "has an empty component"
        if part in (".", ".."):
            return f"has a {part!r} component"
        if len(part.encode("utf-8", "surrogateescape")) > 255:
            return "has a component longer than 255 bytes"
    return None


def check_name(name: str, what: str, where: str, *, hint: str = _UNSAFE_HINT) -> str:
    """``name`` if it is a plain file name, else ``UnsafeWheel``."""
    problem = name_problem(name)
    if problem is not None:
        raise UnsafeWheel(f"{where}: {what} {name!r} {problem}", hint=hint)
    return name


def check_path(path: str, what: str, where: str) -> str:
    """``path`` if it stays inside whatever directory it is joined to, else ``UnsafeWheel``."""
    problem = path_problem(path)
    if problem is not None:
        raise UnsafeWheel(f"{where}: {what} {path!r} {problem}", hint=_UNSAFE_HINT)
    return path


def join_inside(base: str, rel: str, where: str) -> str:
    """``base/rel`` after checking that it resolves (lexically) strictly inside ``base``."""
    check_path(rel, "path", where)
    joined = os.path.normpath(os.path.join(base, rel))
    if os.path.commonpath([base, joined]) != os.path.normpath(base) or joined == os.path.normpath(base):
        raise UnsafeWheel(f"{where}: path {rel!r} leaves its directory", hint=_UNSAFE_HINT)
    return joined


def check_entry_point(ep: EntryPoint, where: str, *, hint: str = _UNSAFE_HINT) -> EntryPoint:
    """An entry point whose name is a plain file name and whose target is ``dotted.module:dotted.attr``."""
    check_name(ep.name, f"{ep.section} script name", where, hint=hint)
    if ep.section not in SCRIPT_SECTIONS.values():
        raise UnsafeWheel(f"{where}: script {ep.name!r} has an unknown kind {ep.section!r}", hint=hint)
    for what, dotted in (("module", ep.module), ("attribute", ep.attr)):
        if not dotted or not all(part.isidentifier() for part in dotted.split(".")):
            raise UnsafeWheel(
                f"{where}: script {ep.name!r} names {what} {dotted!r}, which is not a dotted identifier",
                hint=hint,
            )
    return ep


def check_stored(entry: StoredWheel) -> None:
    """Link-time defence: the names of a store entry that the linker joins to env paths."""
    where = f"store entry {entry.name!r} {entry.version} ({entry.id[:12]})"
    if not _CANONICAL_NAME.match(entry.name):
        raise UnsafeWheel(f"{where}: name {entry.name!r} is not a canonical project name", hint=_STORED_HINT)
    check_name(entry.dist_info, "dist-info directory", where, hint=_STORED_HINT)
    if not entry.dist_info.endswith(".dist-info"):
        raise UnsafeWheel(f"{where}: {entry.dist_info!r} is not a .dist-info directory", hint=_STORED_HINT)
    for ep in entry.entry_points:
        check_entry_point(ep, where, hint=_STORED_HINT)


# -- the archive ----------------------------------------------------------------------------------


@record(frozen=True, slots=True)
class ArchiveFacts:
    """What the central directory says, once it passed :func:`check_archive`."""

    dist_info: str
    files: int
    unpacked_bytes: int


def check_archive(
    zf: zipfile.ZipFile, filename: str, wheel_size: int, name: str, version: str, limits: Limits
) -> ArchiveFacts:
    """Refuse an archive whose paths could escape, whose layout is not a wheel's, or that is too big."""
    seen: set[str] = set()
    tops: dict[str, bool] = {}  # top-level name -> is a directory
    files = 0
    unpacked = 0
    for info in zf.infolist():
        member = info.filename
        check_path(member, "archive member", filename)
        if member in seen:
            raise UnsafeWheel(f"{filename}: archive member {member!r} appears twice", hint=_UNSAFE_HINT)
        seen.add(member)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise UnsafeWheel(
                f"{filename}: archive member {member!r} is a symlink (a wheel holds regular files only)",
                hint=_UNSAFE_HINT,
            )
        if info.flag_bits & 0x1:
            raise UnsafeWheel(f"{filename}: archive member {member!r} is encrypted", hint=_UNSAFE_HINT)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeWheel(
                f"{filename}: archive member {member!r} is not a regular file", hint=_UNSAFE_HINT
            )
        top, sep, _rest = member.partition("/")
        tops[top] = tops.get(top, False) or bool(sep)
        if not member.endswith("/"):
            files += 1
            unpacked += info.file_size
    _check_limits(filename, wheel_size, files, unpacked, limits)
    dist_info = _dist_info(filename, [t for t, is_dir in tops.items() if is_dir], name, version)
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    for top, is_dir in tops.items():
        if top.endswith(".data") and is_dir and top != data_dir:
            raise UnsafeWheel(
                f"{filename}: unexpected data directory {top!r} (this wheel's is {data_dir!r})",
                hint=_UNSAFE_HINT,
            )
    prefix = data_dir + "/"
    for member in seen:
        if member.startswith(prefix):
            _check_data_member(filename, member[len(prefix) :], member)
    return ArchiveFacts(dist_info=dist_info, files=files, unpacked_bytes=unpacked)


def _check_limits(filename: str, wheel_size: int, files: int, unpacked: int, limits: Limits) -> None:
    if files > limits.files:
        raise _too_large(
            f"{filename} holds {files} files; the limit is {limits.files}", ENV_MAX_FILES, str(files)
        )
    if unpacked > limits.unpacked_bytes:
        raise _too_large(
            f"{filename} unpacks to {human_bytes(unpacked)};"
            f" the limit is {human_bytes(limits.unpacked_bytes)}",
            ENV_MAX_BYTES,
            _size_arg(unpacked),
        )
    ratio = unpacked / max(wheel_size, 1)
    if unpacked > RATIO_FLOOR and ratio > limits.ratio:
        raise _too_large(
            f"{filename} unpacks to {human_bytes(unpacked)} from {human_bytes(wheel_size)}"
            f" (compression ratio {ratio:.0f}:1; the limit is {limits.ratio:g}:1)",
            ENV_MAX_RATIO,
            str(int(ratio) + 1),
        )


def _dist_info(filename: str, top_dirs: Sequence[str], name: str, version: str) -> str:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    found = sorted(t for t in top_dirs if t.endswith(".dist-info"))
    if len(found) != 1:
        what = "no .dist-info directory" if not found else f"{len(found)} .dist-info directories ({found})"
        raise InvalidWheelMetadata(f"{filename} has {what}; a wheel has exactly one")
    dist_info = found[0]
    dname, _, dversion = dist_info[: -len(".dist-info")].rpartition("-")
    try:
        same_version = Version(dversion) == Version(version)
    except InvalidVersion:
        same_version = False
    if not dname or canonicalize_name(dname) != name or not same_version:
        raise InvalidWheelMetadata(
            f"{filename}: its {dist_info} directory does not match the file name ({name} {version})",
            hint="the wheel is mislabelled; rebuild it or fix its file name",
        )
    return dist_info


def _check_data_member(filename: str, rel: str, member: str) -> None:
    """``rel`` is a member path below ``{stem}.data/``: it must sit in a known scheme directory,
    and a script must be a plain name directly in ``scripts/``."""
    if not rel:
        return
    is_dir = rel.endswith("/")
    scheme, _, rest = rel.rstrip("/").partition("/")
    if scheme not in SCHEMES or (not rest and not is_dir):
        raise UnsafeWheel(
            f"{filename}: {member!r} is not inside a .data/<scheme>/ directory"
            f" ({', '.join(sorted(SCHEMES))})",
            hint=_UNSAFE_HINT,
        )
    if scheme == "scripts" and ("/" in rest or (is_dir and rest)):
        raise UnsafeWheel(
            f"{filename}: {member!r} is in a subdirectory of .data/scripts (scripts are plain names)",
            hint=_UNSAFE_HINT,
        )


def read_member(zf: zipfile.ZipFile, member: str, filename: str) -> bytes:
    """A metadata file's bytes (KeyError if absent), refusing one larger than METADATA_MAX_BYTES."""
    import zipfile as zipmod
    import zlib

    info = zf.getinfo(member)
    if info.file_size > METADATA_MAX_BYTES:
        raise WheelTooLarge(
            f"{filename}: {member} is {human_bytes(info.file_size)};"
            f" metadata files are limited to {human_bytes(METADATA_MAX_BYTES)}"
        )
    try:
        return zf.read(info)
    except (zipmod.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
        raise InvalidWheel(f"{filename}: cannot read {member}: {exc}") from None


# -- metadata -------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_metadata(raw: bytes, filename: str, dist_info: str, name: str, version: str) -> Fields:
    """METADATA as a message, after checking it parses and that Name/Version match the file name."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    from .metaheaders import parse_headers

    where = f"{filename}: {dist_info}/METADATA"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWheelMetadata(f"{where} is not UTF-8 text") from None
    if "\x00" in text:
        raise InvalidWheelMetadata(f"{where} contains NUL bytes")
    message = parse_headers(text)
    values: dict[str, str] = {}
    for field in ("Metadata-Version", "Name", "Version"):
        got = message.get_all(field) or []
        if len(got) != 1 or not str(got[0]).strip():
            problem = "has no" if not got else "has more than one" if len(got) > 1 else "has an empty"
            raise InvalidWheelMetadata(f"{where} {problem} {field} field", hint="the wheel is malformed")
        values[field] = str(got[0]).strip()
    meta_name, meta_version = values["Name"], values["Version"]
    if not _PROJECT_NAME.match(meta_name):
        raise InvalidWheelMetadata(f"{where}: Name {meta_name!r} is not a valid project name")
    try:
        same_version = Version(meta_version) == Version(version)
    except InvalidVersion:
        raise InvalidWheelMetadata(f"{where}: Version {meta_version!r} is not a valid version") from None
    if canonicalize_name(meta_name) != name or not same_version:
        raise InvalidWheelMetadata(
            f"{where} says {meta_name} {meta_version}, but the file name says {name} {version}",
            hint="the wheel is mislabelled; rebuild it or fix its file name",
        )
    return message


def parse_entry_points(raw: bytes, filename: str) -> tuple[EntryPoint, ...]:
    """Console and gui scripts of ``entry_points.txt``, parsed as ``installer`` parses them, checked."""
    from configparser import ConfigParser, MissingSectionHeaderError, ParsingError
    from configparser import Error as ConfigError

    where = f"{filename}: entry_points.txt"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWheelMetadata(f"{where} is not UTF-8 text") from None
    config = ConfigParser(delimiters="=")
    config.optionxform = str  # type: ignore[assignment, method-assign]
    out: list[EntryPoint] = []
    try:
        config.read_string(text)
        for section in config.sections():
            kind = SCRIPT_SECTIONS.get(section)
            if kind is None:
                continue
            for ep_name, value in config.items(section):
                match = _ENTRYPOINT_RE.match(value)
                if match is None:
                    raise InvalidWheelMetadata(
                        f"{where}: [{section}] {ep_name} = {_one_line(value)!r} is not 'module:attribute'",
                        hint="the wheel is malformed",
                    )
                ep = EntryPoint(ep_name, match.group("module"), match.group("attrs"), kind)
                out.append(check_entry_point(ep, where))
    except MissingSectionHeaderError as exc:
        raise InvalidWheelMetadata(
            f"{where} cannot be parsed: line {exc.lineno}: {_one_line(exc.line)!r} is outside any [section]",
            hint="the wheel is malformed",
        ) from None
    except ParsingError as exc:
        bad = "; ".join(f"line {n}: {_one_line(line)}" for n, line in (exc.errors or [])[:3])
        raise InvalidWheelMetadata(
            f"{where} cannot be parsed: {bad}", hint="the wheel is malformed"
        ) from None
    except ConfigError as exc:
        detail = _one_line(str(exc).replace("'<string>'", "the file"))
        raise InvalidWheelMetadata(
            f"{where} cannot be parsed: {detail}", hint="the wheel is malformed"
        ) from None
    return tuple(out)


# -- counting while unpacking ---------------------------------------------------------------------


class Budget:
    """Counts the bytes and files really written while unpacking: zip headers can lie, so what was
    declared (and checked against the limits) is also what may be written."""

    def __init__(self, filename: str, limits: Limits, declared_bytes: int, declared_files: int) -> None:
        self.filename = filename
        self.limits = limits
        self.max_bytes = min(declared_bytes, limits.unpacked_bytes)
        self.max_files = min(declared_files, limits.files)
        self.bytes = 0
        self.files = 0

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise InvalidWheel(
                f"{self.filename} unpacks to more files than its zip directory declares",
                hint=_UNSAFE_HINT,
            )

    def add_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.max_bytes:
            if self.bytes > self.limits.unpacked_bytes:
                raise _too_large(
                    f"{self.filename} unpacks to more than {human_bytes(self.limits.unpacked_bytes)}",
                    ENV_MAX_BYTES,
                    _size_arg(self.bytes * 2),
                )
            raise InvalidWheel(
                f"{self.filename} unpacks to more bytes than its zip directory declares", hint=_UNSAFE_HINT
            )

    def reader(self, stream: BinaryIO) -> BinaryIO:
        """``stream``, counting every byte read from it against this budget."""
        return _CountingReader(stream, self)  # type: ignore[return-value]


class _CountingReader:
    """The one method ``installer`` uses to copy a member (``read``), counted."""

    def __init__(self, stream: BinaryIO, budget: Budget) -> None:
        self._stream = stream
        self._budget = budget

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._budget.add_bytes(len(data))
        return data
