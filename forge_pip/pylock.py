"""PEP 751 lock files: ``-r pylock.toml`` installs exactly what is locked; ``forge pip lock`` writes one.

Reading::

    locked = read_pylock(Path("pylock.toml"), target)            # the packages whose markers apply
    resolution = locked_resolution(locked, layers, store, target)  # no resolver: the lock decides

Selection follows ``packaging.pylock`` (``Pylock.from_dict`` validates, ``Pylock.select`` evaluates
markers, ``requires-python`` and wheel tags for the *target* interpreter) when the installed
``packaging`` has it (26.1+); otherwise a smaller reader here checks what PEP 751 requires of the
fields Forge uses. Each selected package is one file, a wheel (best tag for the target) or an
sdist, fetched from its recorded ``url`` or ``path`` and checked against its recorded hashes; the
store links it when it already holds that very file. Locked VCS, directory and archive packages
are refused with one line (they are not index files).

Every string from a lock file is untrusted: names and versions must parse, a file's name must be
a wheel or sdist of the locked name and version, hashes must be hex, URLs ``https``/``http``/
``file`` only; a ``path`` is taken relative to the lock file's directory.

Writing (:func:`render_pylock`) follows pip 25.1's ``pip lock``: ``lock-version = "1.0"``, the
resolved packages sorted by name, each with its version and the one file chosen, with its URL and
hashes.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from forge_pip.models import DistFile
from forge_store.errors import InvalidLockFile, UnsupportedPython
from forge_store.records import record

if TYPE_CHECKING:
    from forge_pip.models import TargetPython
    from forge_pip.resolve import LayerView, Resolution, StoreView

__all__ = [
    "LockedPackage",
    "is_pylock_path",
    "locked_resolution",
    "read_pylock",
    "render_pylock",
]

_PYLOCK_NAME = re.compile(r"^pylock\.([^.]+)\.toml$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASHES = ("sha256", "sha384", "sha512")
_FILE_FIELDS = (
    "name",
    "url",
    "path",
    "hashes",
    "upload_time",
    "type",
    "commit_id",
    "subdirectory",
    "editable",
)


def is_pylock_path(text: str) -> bool:
    """PEP 751 file names: ``pylock.toml`` or ``pylock.<name>.toml`` (what pip treats as a lock)."""
    name = text.rstrip("/").rsplit("/", 1)[-1]
    return name == "pylock.toml" or bool(_PYLOCK_NAME.match(name))


@record(frozen=True, slots=True)
class LockedPackage:
    """One package a lock file selected for the target: the exact file, or a direct reference."""

    name: NormalizedName
    version: Version | None
    """None only for a direct reference that states no version."""
    file: DistFile | None
    """A locked wheel or sdist: its URL (``file://`` for a ``path``), file name and hashes."""
    lock: str
    """The lock file it came from (for messages)."""
    requirement: str | None = None
    """A locked VCS, directory or archive package: the requirement line that installs it, as pip
    builds it (``name @ git+URL@commit``, ``name @ file:///dir/``, ``-e /dir``, ``name @ URL --hash``)."""


def _load(path: Path) -> dict[str, Any]:
    if "://" in str(path):
        raise InvalidLockFile(f"{path}: lock files are read from local paths only")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidLockFile(f"Error reading pylock file {str(path)!r}: {exc.strerror or exc}") from None
    from forge_pip.tomlfile import loads

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidLockFile(f"Invalid pylock file {str(path)!r}: {exc}") from None
    return loads(text, what=f"Invalid pylock file {str(path)!r}", error=InvalidLockFile)


def _hashes(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidLockFile(f"{where}: 'hashes' must be a non-empty table (PEP 751)")
    out: dict[str, str] = {}
    for algo, digest in raw.items():
        if not isinstance(digest, str) or not _HEX.match(digest):
            raise InvalidLockFile(f"{where}: hash {algo!r} is not a hex digest")
        if isinstance(algo, str) and algo.lower() in _HASHES:
            out[algo.lower()] = digest.lower()
    if not out:
        raise InvalidLockFile(f"{where}: no sha256/sha384/sha512 hash to check the file with")
    return out


def _file_url(url: object, path: object, base: Path, where: str) -> str:
    if isinstance(url, str) and url:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("https", "http", "file"):
            raise InvalidLockFile(f"{where}: unsupported URL scheme {scheme!r} in {url!r}")
        return url
    if isinstance(path, str) and path:
        target = Path(path)
        return (target if target.is_absolute() else base / target).absolute().as_uri()
    raise InvalidLockFile(f"{where}: a file needs a 'url' or a 'path'")


def _dist_file(
    name: NormalizedName,
    version: Version | None,
    filename: object,
    url: object,
    path: object,
    hashes: object,
    upload_time: object,
    base: Path,
    where: str,
) -> tuple[Version, DistFile]:
    location = _file_url(url, path, base, where)
    if not isinstance(filename, str) or not filename:
        filename = urllib.parse.unquote(location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])
    assert isinstance(filename, str)
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise InvalidLockFile(f"{where}: {filename!r} is not a file name")
    try:
        if filename.endswith(".whl"):
            file_name, file_version = parse_wheel_filename(filename)[:2]
        else:
            file_name, file_version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidLockFile(f"{where}: {filename!r} is not a wheel or sdist file name: {exc}") from None
    if file_name != name or (version is not None and file_version != version):
        shown = f"{name} {version}" if version is not None else name
        raise InvalidLockFile(f"{where}: {filename} is not a file of {shown}")
    when = upload_time.isoformat() if hasattr(upload_time, "isoformat") else None
    file = DistFile(
        url=location,
        filename=filename,
        hashes=_hashes(hashes, where),
        source=where,
        upload_time=when,
    )
    return file_version, file


def read_pylock(path: Path, target: TargetPython) -> tuple[LockedPackage, ...]:
    """The packages of the lock file at ``path`` that apply to ``target``, one file each."""
    doc = _load(path)
    label = str(path)
    base = path.absolute().parent
    lock_version = doc.get("lock-version")
    try:
        major = Version(str(lock_version)).major if lock_version is not None else None
    except InvalidVersion:
        major = None
    if major != 1:
        raise InvalidLockFile(
            f"Invalid pylock file {label!r}: lock-version {lock_version!r} is not supported (Forge reads 1.x)"
        )
    selected = (
        _select_packaging(doc, target, label) if _has_packaging_select() else _select_own(doc, target, label)
    )
    out: list[LockedPackage] = []
    for pkg_name, pkg_version, dist, where in selected:
        kind = type(dist).__name__ if not isinstance(dist, Mapping) else str(dist.get("_kind", ""))
        kind = kind.removeprefix("Package").lower()
        fields: Mapping[str, Any] = (
            dist
            if isinstance(dist, Mapping)
            else {key.replace("_", "-"): getattr(dist, key, None) for key in _FILE_FIELDS}
        )
        if kind in ("vcs", "directory", "archive"):
            text = _direct_requirement(pkg_name, kind, fields, base, where)
            out.append(LockedPackage(pkg_name, pkg_version, None, label, requirement=text))
            continue
        version, file = _dist_file(
            pkg_name,
            pkg_version,
            fields.get("name"),
            fields.get("url"),
            fields.get("path"),
            fields.get("hashes"),
            fields.get("upload-time"),
            base,
            where,
        )
        out.append(LockedPackage(pkg_name, version, file, label))
    return tuple(out)


def _location(fields: Mapping[str, Any], base: Path, where: str) -> str:
    url, path = fields.get("url"), fields.get("path")
    if isinstance(path, str) and path and not url:
        target = Path(path)
        return (target if target.is_absolute() else base / target).absolute().as_uri()
    return _file_url(url, path, base, where)


def _subdirectory(fields: Mapping[str, Any], url: str, where: str) -> str:
    sub = fields.get("subdirectory")
    if not sub:
        return ""
    if not isinstance(sub, str) or sub.startswith("/") or ".." in sub.split("/") or "#" in url:
        raise InvalidLockFile(f"{where}: unusable subdirectory {sub!r}")
    return sub


def _direct_requirement(
    name: NormalizedName, kind: str, fields: Mapping[str, Any], base: Path, where: str
) -> str:
    """pip's requirement for a locked VCS / directory / archive package (``utils/pylock.py``)."""
    if kind == "vcs":
        vcs, commit = fields.get("type"), fields.get("commit-id")
        if not isinstance(vcs, str) or not re.fullmatch(r"[a-z]+", vcs):
            raise InvalidLockFile(f"{where}: invalid vcs type {vcs!r}")
        if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-fA-F]{7,64}", commit):
            raise InvalidLockFile(f"{where}: a locked VCS package needs its commit-id")
        url = _location(fields, base, where)
        sub = _subdirectory(fields, url, where)
        return f"{name} @ {vcs}+{url}@{commit}" + (f"#subdirectory={sub}" if sub else "")
    if kind == "directory":
        path = fields.get("path")
        if not isinstance(path, str) or not path:
            raise InvalidLockFile(f"{where}: a locked directory needs a 'path'")
        target = Path(path) if Path(path).is_absolute() else base / path
        sub = _subdirectory(fields, "", where)
        folder = (target / sub if sub else target).absolute()
        if fields.get("editable"):
            return f"-e {folder}"
        return f"{name} @ {folder.as_uri()}"
    url = _location(fields, base, where)
    sub = _subdirectory(fields, url, where)
    digests = _hashes(fields.get("hashes"), where)
    options = " ".join(f"--hash={algo}:{digest}" for algo, digest in sorted(digests.items()))
    return f"{name} @ {url}" + (f"#subdirectory={sub}" if sub else "") + f" {options}"


def _has_packaging_select() -> bool:
    try:
        from packaging.pylock import Pylock
    except ImportError:
        return False
    return hasattr(Pylock, "select")


def _select_packaging(
    doc: dict[str, Any], target: TargetPython, label: str
) -> list[tuple[NormalizedName, Version | None, object, str]]:
    from packaging.pylock import Pylock

    try:
        lock = Pylock.from_dict(doc)
    except Exception as exc:  # packaging's PylockValidationError and friends: the file is bad
        raise InvalidLockFile(f"Invalid pylock file {label!r}: {exc}") from None
    environment: Any = {**target.markers, "python_full_version": target.python_version}
    if lock.requires_python is not None and not lock.requires_python.contains(
        target.python_version, prereleases=True
    ):
        raise UnsupportedPython(
            f"{label} requires a different Python: {target.python_version} not in '{lock.requires_python}'"
        )
    try:
        chosen = list(lock.select(environment=environment, tags=list(target.tags)))
    except Exception as exc:
        raise InvalidLockFile(f"Cannot select requirements from pylock file {label!r}: {exc}") from None
    out: list[tuple[NormalizedName, Version | None, object, str]] = []
    for package, dist in chosen:
        where = f"{label}: package {package.name}"
        out.append((canonicalize_name(package.name), package.version, dist, where))
    return out


def _select_own(
    doc: dict[str, Any], target: TargetPython, label: str
) -> list[tuple[NormalizedName, Version | None, object, str]]:
    """PEP 751 selection for a ``packaging`` without ``pylock``: markers, requires-python, tags."""
    from packaging.markers import InvalidMarker, Marker
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    def check_python(spec: object, where: str) -> bool:
        if spec is None:
            return True
        try:
            return SpecifierSet(str(spec)).contains(target.python_version, prereleases=True)
        except InvalidSpecifier:
            raise InvalidLockFile(f"{where}: invalid requires-python {spec!r}") from None

    if not check_python(doc.get("requires-python"), label):
        raise UnsupportedPython(
            f"{label} requires a different Python: {target.python_version} not in '{doc['requires-python']}'"
        )
    packages = doc.get("packages")
    if not isinstance(packages, list):
        raise InvalidLockFile(f"Invalid pylock file {label!r}: 'packages' must be an array of tables")
    env = {**target.markers, "extra": "", "python_full_version": target.python_version}
    rank = target.tag_priority
    out: list[tuple[NormalizedName, Version | None, object, str]] = []
    for raw in packages:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise InvalidLockFile(f"Invalid pylock file {label!r}: a package without a name")
        name = canonicalize_name(raw["name"])
        where = f"{label}: package {name}"
        version = None
        if raw.get("version") is not None:
            try:
                version = Version(str(raw["version"]))
            except InvalidVersion:
                raise InvalidLockFile(f"{where}: invalid version {raw['version']!r}") from None
        if raw.get("marker"):
            try:
                if not Marker(str(raw["marker"])).evaluate(env):
                    continue
            except (InvalidMarker, Exception) as exc:
                raise InvalidLockFile(f"{where}: invalid marker {raw['marker']!r}: {exc}") from None
        if not check_python(raw.get("requires-python"), where):
            continue
        for kind in ("vcs", "directory", "archive"):
            if isinstance(raw.get(kind), Mapping):
                out.append((name, version, {**raw[kind], "_kind": kind}, where))
                break
        else:
            best: tuple[int, Mapping[str, Any]] | None = None
            for wheel in raw.get("wheels") or ():
                if not isinstance(wheel, Mapping):
                    raise InvalidLockFile(f"{where}: 'wheels' must be an array of tables")
                filename = (
                    wheel.get("name") or str(wheel.get("url") or wheel.get("path") or "").rsplit("/", 1)[-1]
                )
                try:
                    tags = parse_wheel_filename(str(filename))[3]
                except InvalidWheelFilename:
                    raise InvalidLockFile(f"{where}: {filename!r} is not a wheel file name") from None
                score = min((rank[t] for t in tags if t in rank), default=None)
                if score is not None and (best is None or score < best[0]):
                    best = (score, wheel)
            if best is not None:
                out.append((name, version, {**best[1], "_kind": "wheel"}, where))
            elif isinstance(raw.get("sdist"), Mapping):
                out.append((name, version, {**raw["sdist"], "_kind": "sdist"}, where))
            else:
                raise InvalidLockFile(f"{where}: no wheel for the target and no sdist")
    return out


def check_locked(
    locked: Iterable[LockedPackage],
    *,
    allows_prereleases: Callable[[NormalizedName], bool | None],
    uploaded_prior_to: object = None,
) -> None:
    """pip 26.2: ``--only-final`` and ``--uploaded-prior-to`` apply to locked packages too."""
    import datetime

    for pkg in locked:
        if pkg.file is None or pkg.version is None:
            continue  # a direct reference: what it names is what gets installed
        if pkg.version.is_prerelease and allows_prereleases(pkg.name) is False:
            raise InvalidLockFile(
                f"{pkg.lock}: {pkg.name} {pkg.version} is a pre-release, and --only-final excludes it"
            )
        if isinstance(uploaded_prior_to, datetime.datetime) and not pkg.file.url.startswith("file:"):
            when = pkg.file.upload_datetime
            if when is None or when >= uploaded_prior_to:
                said = f"was uploaded at {when.isoformat()}" if when else "has no upload-time in the lock"
                raise InvalidLockFile(
                    f"{pkg.lock}: {pkg.file.filename} {said}, not before {uploaded_prior_to.isoformat()}"
                    " (--uploaded-prior-to)"
                )


def locked_resolution(
    locked: Sequence[LockedPackage], layers: LayerView, store: StoreView, target: TargetPython
) -> Resolution:
    """The lock as a resolution: what a layer already has at the locked version is satisfied, a
    file the store holds is linked, the rest is fetched from the recorded location."""
    from forge_pip.resolve import Origin, Pin, Resolution

    pins: dict[NormalizedName, Pin] = {}
    for pkg in locked:
        if pkg.file is None or pkg.version is None:
            continue  # direct references go through ``_collect`` (see ``install``)
        if pkg.name in pins:
            raise InvalidLockFile(f"{pkg.lock}: {pkg.name} is selected twice")
        have = layers.installed(pkg.name)
        if have and have[0].version == pkg.version:
            pins[pkg.name] = Pin(pkg.name, pkg.version, Origin.LAYER, layer=have[0].layer, requested=True)
            continue
        held = store.holding(pkg.file)
        if held is not None and held.version == pkg.version:
            pins[pkg.name] = Pin(
                pkg.name, pkg.version, Origin.STORE, store_entry=held.entry_id, file=pkg.file, requested=True
            )
            continue
        pins[pkg.name] = Pin(pkg.name, pkg.version, Origin.INDEX, file=pkg.file, requested=True)
    return Resolution(pins, {name: () for name in pins})


# -- writing ------------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's for every character json emits)."""
    return json.dumps(text, ensure_ascii=False)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in sorted(value.items())) + "}"
    return _toml_str(str(value))


DirectOf = Callable[[DistFile], "tuple[str, Mapping[str, object]] | None"]
"""For a direct requirement's file: ``("vcs" | "directory" | "archive", its PEP 751 table)``."""


def render_pylock(
    resolution: Resolution,
    hashes_of: Callable[[DistFile], Mapping[str, str]],
    direct_of: DirectOf | None = None,
) -> str:
    """``pylock.toml`` text for a resolution (pip 25.1's ``pip lock`` layout, ``created-by = "forge"``).

    ``hashes_of`` gives a pinned file's digests (the index's, or computed from the file);
    ``direct_of`` describes a direct requirement (pip writes those without a version)."""
    lines = ['lock-version = "1.0"', 'created-by = "forge"', ""]
    for name, pin in sorted(resolution.pins.items()):
        file = pin.file
        if file is None:
            raise InvalidLockFile(f"{name} {pin.version} has no file to lock")
        if pin.direct:
            described = direct_of(file) if direct_of is not None else None
            if described is None:
                raise InvalidLockFile(f"{name}: this direct requirement cannot be locked")
            kind, values = described
            lines += ["[[packages]]", f"name = {_toml_str(name)}", f"[packages.{kind}]"]
            lines += [
                f"{key} = {_toml_value(value)}" for key, value in values.items() if value not in (None, "")
            ]
            lines.append("")
            continue
        hashes = {a: d for a, d in hashes_of(file).items() if a in _HASHES}
        if not hashes:
            raise InvalidLockFile(f"{file.filename}: no sha256 to lock it with")
        lines += ["[[packages]]", f"name = {_toml_str(name)}", f"version = {_toml_str(str(pin.version))}"]
        table = "[[packages.wheels]]" if file.is_wheel else "[packages.sdist]"
        digest = ", ".join(f"{algo} = {_toml_str(value)}" for algo, value in sorted(hashes.items()))
        lines += [table, f"name = {_toml_str(file.filename)}", f"url = {_toml_str(file.url)}"]
        if file.upload_time and file.upload_datetime is not None:
            lines.append(f"upload-time = {file.upload_datetime.isoformat()}")
        if file.size is not None:
            lines.append(f"size = {file.size}")
        lines += [f"hashes = {{{digest}}}", ""]
    return "\n".join(lines)
