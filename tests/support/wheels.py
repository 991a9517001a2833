"""Build small, spec-compliant wheels on the fly for tests (pip's ``make_wheel`` idea).

``make_wheel(tmp_path, "demo", "1.0", files={"demo/__init__.py": b"X = 1\\n"})`` returns the path
of a real ``.whl`` with METADATA, WHEEL, RECORD (urlsafe-base64 sha256) and optional entry points,
``.data`` files, dependencies and Requires-Python, which pip, installer and Forge all accept.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import stat
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_wheel(
    directory: Path,
    name: str,
    version: str = "1.0",
    *,
    files: Mapping[str, bytes | str] | None = None,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
    tag: str = "py3-none-any",
    purelib: bool = True,
    console_scripts: Mapping[str, str] | None = None,
    gui_scripts: Mapping[str, str] | None = None,
    data: Mapping[str, bytes | str] | None = None,
    record_override: Mapping[str, str] | None = None,
    omit_from_record: Sequence[str] = (),
    hex_record: bool = False,
    build: str | None = None,
    raw_members: Mapping[str, bytes | str] | None = None,
    metadata: bytes | str | None = None,
    entry_points: bytes | str | None = None,
    dist_info: str | None = None,
    symlinks: Mapping[str, str] | None = None,
) -> Path:
    """Write ``{name}-{version}[-{build}]-{tag}.whl`` into ``directory`` and return its path.

    ``data`` maps ``"scripts/x"``, ``"data/share/x"``, ``"headers/x.h"``, ``"purelib/x"`` to content,
    placed under ``{name}-{version}.data/``. ``record_override`` replaces the hash of given paths
    (to make corrupt wheels); ``hex_record`` writes hex digests like some real wheels do.

    For malicious wheels: ``raw_members`` adds members under exactly the given names (``../x``,
    ``/abs``, ``a\\b``...); ``metadata`` and ``entry_points`` replace those files' text verbatim;
    ``dist_info`` renames the ``.dist-info`` directory; ``symlinks`` adds members with a symlink
    mode whose content is the target. All of them are listed in RECORD like any other member.
    """
    dist = name.replace("-", "_").replace(".", "_")
    dist_info = dist_info or f"{dist}-{version}.dist-info"
    data_dir = f"{dist}-{version}.data"
    contents: dict[str, bytes] = {}
    for path, body in (files or {f"{dist}/__init__.py": f"__version__ = {version!r}\n"}).items():
        contents[path] = body.encode() if isinstance(body, str) else body
    for path, body in (data or {}).items():
        contents[f"{data_dir}/{path}"] = body.encode() if isinstance(body, str) else body
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta.extend(f"Requires-Dist: {r}" for r in requires)
    for extra, reqs in (extras or {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta.extend(
            f"Requires-Dist: {r}; extra == {extra!r}"
            if ";" not in r
            else f"Requires-Dist: {r} and extra == {extra!r}"
            for r in reqs
        )
    for path, body in (raw_members or {}).items():
        contents[path] = body.encode() if isinstance(body, str) else body
    for path, target in (symlinks or {}).items():
        contents[path] = target.encode()
    contents[f"{dist_info}/METADATA"] = ("\n".join(meta) + "\n\n").encode()
    if metadata is not None:
        contents[f"{dist_info}/METADATA"] = metadata.encode() if isinstance(metadata, str) else metadata
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: forge-tests\nRoot-Is-Purelib: {'true' if purelib else 'false'}\n"
        f"Tag: {tag}\n"
    ).encode()
    eps = []
    if console_scripts:
        eps.append("[console_scripts]")
        eps.extend(f"{k} = {v}" for k, v in console_scripts.items())
    if gui_scripts:
        eps.append("[gui_scripts]")
        eps.extend(f"{k} = {v}" for k, v in gui_scripts.items())
    if eps:
        contents[f"{dist_info}/entry_points.txt"] = ("\n".join(eps) + "\n").encode()
    if entry_points is not None:
        raw = entry_points.encode() if isinstance(entry_points, str) else entry_points
        contents[f"{dist_info}/entry_points.txt"] = raw
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for path, body in contents.items():
        if path in omit_from_record:
            continue
        value = _record_hash(body)
        if hex_record:
            value = "sha256=" + hashlib.sha256(body).hexdigest()
        if record_override and path in record_override:
            value = record_override[path]
        writer.writerow([path, value, str(len(body))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    contents[f"{dist_info}/RECORD"] = buf.getvalue().encode()
    parts = [dist, version] + ([build] if build else []) + [tag]
    out = directory / ("-".join(parts) + ".whl")
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, body in contents.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            is_exec = path.startswith(f"{data_dir}/scripts/")
            info.external_attr = (0o755 if is_exec else 0o644) << 16
            if symlinks and path in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, body)
    return out


def make_zero_bomb(directory: Path, name: str, version: str, unpacked: int, *, member: str = "") -> Path:
    """A valid wheel whose one payload file is ``unpacked`` zero bytes, deflated (~1000:1).

    Streamed in 16 MiB chunks, so a 1 GiB bomb costs ~3 s and ~1 MB of disk, never 1 GiB of memory.
    """
    dist = name.replace("-", "_").replace(".", "_")
    dist_info = f"{dist}-{version}.dist-info"
    member = member or f"{dist}/zeros.bin"
    chunk = b"\0" * (16 << 20)
    digest = hashlib.sha256()
    left = unpacked
    while left > 0:
        digest.update(chunk[: min(left, len(chunk))])
        left -= len(chunk)
    record_hash = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    small = {
        f"{dist}/__init__.py": b"",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: forge-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for path, body in small.items():
        writer.writerow([path, _record_hash(body), str(len(body))])
    writer.writerow([member, record_hash, str(unpacked)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    small[f"{dist_info}/RECORD"] = buf.getvalue().encode()
    out = directory / f"{dist}-{version}-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with zf.open(info, "w", force_zip64=True) as f:
            left = unpacked
            while left > 0:
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
        for path, body in small.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), body, zipfile.ZIP_DEFLATED)
    return out
