"""Safe unpacking of source distributions, and what an sdist's file name says about it.

Tarballs go through ``tarfile``'s ``"data"`` filter where the interpreter has it (3.10.12+,
3.11.4+); every member is also vetted by us first, so the behaviour is the same on every
interpreter: absolute names, ``..`` escapes, links leaving the tree and device files are refused
with :class:`UnsafeSdist` before anything is written. Zip members are vetted the same way.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
from pathlib import Path

from forge_pip.build.errors import InvalidBuildSource, UnsafeSdist

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_ZIP_SUFFIXES = (".zip",)


def is_sdist(path: Path) -> bool:
    """Whether ``path``'s name has an archive suffix we can unpack."""
    return path.name.lower().endswith(_TAR_SUFFIXES + _ZIP_SUFFIXES)


def sdist_label(path: Path) -> str:
    """``foo-1.0`` for ``foo-1.0.tar.gz``: the file name without its archive suffix, for messages."""
    lower = path.name.lower()
    for suffix in _TAR_SUFFIXES + _ZIP_SUFFIXES:
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def sdist_name_version(path: Path) -> tuple[str, str] | None:
    """Canonical name and normalised version from an sdist file name, or ``None`` if it does not parse."""
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename

    label = sdist_label(path)
    try:
        name, version = parse_sdist_filename(label + ".tar.gz")
    except InvalidSdistFilename:
        return None
    return str(name), str(version)


def unpack_sdist(archive: Path, dest: Path, *, use_data_filter: bool | None = None) -> Path:
    """Unpack ``archive`` into the (empty or missing) directory ``dest`` and return the project root.

    The project root is the archive's single top-level directory, or ``dest`` itself when the
    archive has ``pyproject.toml`` / ``setup.py`` at its top. ``use_data_filter`` forces the tar
    path with (``True``) or without (``False``) ``tarfile``'s data filter; ``None`` picks it when present.
    """
    dest.mkdir(parents=True, exist_ok=True)
    lower = archive.name.lower()
    try:
        if lower.endswith(_ZIP_SUFFIXES):
            _unpack_zip(archive, dest)
        elif lower.endswith(_TAR_SUFFIXES):
            if use_data_filter is None:
                use_data_filter = hasattr(tarfile, "data_filter")
            _unpack_tar(archive, dest, use_data_filter=use_data_filter)
        else:
            raise InvalidBuildSource(
                f"{archive.name} is not a source distribution this Forge can unpack",
                hint="Expected a .tar.gz or .zip file, or a project directory.",
            )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidBuildSource(
            f"{archive.name} is not a readable archive: {exc}", project=sdist_label(archive)
        )
    return _project_root(archive, dest)


def _project_root(archive: Path, dest: Path) -> Path:
    children = list(dest.iterdir())
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    if (dest / "pyproject.toml").is_file() or (dest / "setup.py").is_file():
        return dest
    raise InvalidBuildSource(
        f"{archive.name} does not contain a single top-level project directory",
        project=sdist_label(archive),
    )


def _escapes(name: str) -> bool:
    """Whether the archive-relative POSIX path ``name`` is absolute or climbs out of the root."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    normal = posixpath.normpath(name.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def _refuse(archive: Path, member: str, why: str) -> UnsafeSdist:
    return UnsafeSdist(
        f"refusing to unpack {archive.name}: member {member!r} {why}",
        hint="The archive may be malicious; it was not unpacked.",
        project=sdist_label(archive),
    )


def _through_symlink(name: str, symlinks: set[str]) -> bool:
    """Whether a parent directory of ``name`` is a symlink member (chains could then escape)."""
    parts = posixpath.normpath(name).split("/")
    return any("/".join(parts[:i]) in symlinks for i in range(1, len(parts)))


def _vet_tar_member(archive: Path, member: tarfile.TarInfo, symlinks: set[str]) -> tarfile.TarInfo:
    """Refuse unsafe members; return a copy with permissions reduced like the data filter does.

    ``symlinks`` holds the (normalised) names of the symlinks seen so far: a member reached through
    one is refused, which keeps the purely lexical checks below sound.
    """
    if _escapes(member.name):
        raise _refuse(archive, member.name, "would be written outside the unpack directory")
    if _through_symlink(member.name, symlinks) or (
        member.islnk() and _through_symlink(member.linkname, symlinks)
    ):
        raise _refuse(archive, member.name, "goes through a symbolic link in the archive")
    if member.ischr() or member.isblk() or member.isfifo():
        raise _refuse(archive, member.name, "is a device or FIFO")
    if member.issym():
        target = posixpath.join(posixpath.dirname(member.name), member.linkname)
        if member.linkname.startswith("/") or _escapes(target):
            raise _refuse(archive, member.name, f"is a link pointing outside the tree ({member.linkname})")
    elif member.islnk() and _escapes(member.linkname):
        raise _refuse(archive, member.name, f"is a link pointing outside the tree ({member.linkname})")
    elif not (member.isfile() or member.isdir() or member.islnk()):
        raise _refuse(archive, member.name, "has an unsupported type")
    if member.issym():
        symlinks.add(posixpath.normpath(member.name))
    safe = member.replace(deep=False) if hasattr(member, "replace") else _copy_member(member)
    if safe.isfile() or safe.isdir():
        safe.mode = (safe.mode & 0o755) | (0o700 if safe.isdir() else 0o600)
    return safe


def _copy_member(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """``TarInfo.replace`` for interpreters that predate it (it came with the extraction filters)."""
    copy = tarfile.TarInfo(member.name)
    for attr in ("size", "mtime", "mode", "type", "linkname", "uid", "gid", "uname", "gname"):
        setattr(copy, attr, getattr(member, attr))
    copy.offset, copy.offset_data = member.offset, member.offset_data
    copy.pax_headers = dict(member.pax_headers)
    return copy


def _unpack_tar(archive: Path, dest: Path, *, use_data_filter: bool) -> None:
    with tarfile.open(archive, "r:*") as tar:
        symlinks: set[str] = set()
        members = [_vet_tar_member(archive, member, symlinks) for member in tar.getmembers()]
        if use_data_filter:
            try:
                tar.extractall(dest, members=members, filter="data")
            except tarfile.FilterError as exc:
                raise _refuse(archive, exc.tarinfo.name, f"was refused by the data filter ({exc})")
        elif hasattr(tarfile, "fully_trusted_filter"):
            # Members were vetted above; say so to interpreters that would warn about a missing filter.
            tar.extractall(dest, members=members, filter="fully_trusted")
        else:  # pragma: no cover - interpreters without extraction filters
            tar.extractall(dest, members=members)


def _unpack_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            if _escapes(info.filename):
                raise _refuse(archive, info.filename, "would be written outside the unpack directory")
        for info in infos:
            written = Path(zf.extract(info, dest))
            mode = info.external_attr >> 16
            if not info.is_dir() and stat.S_ISREG(mode) and mode & 0o111:
                written.chmod(0o755)
