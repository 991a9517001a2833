"""Test support for the build stage: a tiny in-tree PEP 517/660 backend, project and sdist makers,
and typed recording fakes for the builder's seams (no mocks)."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import json
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from forge_pip.build import BuildEnv, BuildReporter

BACKEND_SOURCE = '''\
"""tinybackend: the smallest PEP 517 / PEP 660 backend that writes valid wheels (Forge tests)."""
import base64
import hashlib
import json
import os
import sys
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "tiny.json"), encoding="utf-8") as _f:
    META = json.load(_f)
NAME, VERSION = META["name"], META["version"]
PKG = NAME.replace("-", "_")
DIST_INFO = f"{PKG}-{VERSION}.dist-info"


def _log(event):
    path = os.environ.get("TINY_BACKEND_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(event + "\\n")


def _record(hook, config_settings):
    """With $TINY_BACKEND_RECORD: one JSON line per hook with what it ran with and was given."""
    path = os.environ.get("TINY_BACKEND_RECORD")
    if not path:
        return
    import importlib.metadata

    try:
        helper = importlib.metadata.version("helper")
    except Exception:
        helper = None
    line = {
        "hook": hook,
        "project": NAME,
        "config_settings": config_settings,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "path": sys.path,
        "helper": helper,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\\n")


def _requires(hook, config_settings=None):
    _log(hook)
    _record(hook, config_settings)
    extra = os.environ.get("TINY_BACKEND_EXTRA_REQUIRES")
    return [extra] if extra else []


def get_requires_for_build_wheel(config_settings=None):
    return _requires("get_requires_for_build_wheel", config_settings)


def get_requires_for_build_editable(config_settings=None):
    return _requires("get_requires_for_build_editable", config_settings)


def _metadata():
    return f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n\\n".encode()


def _write_wheel(directory, files):
    files = dict(files)
    files[f"{DIST_INFO}/METADATA"] = _metadata()
    files[f"{DIST_INFO}/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{DIST_INFO}/RECORD,,")
    filename = f"{PKG}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{DIST_INFO}/RECORD", "\\n".join(lines) + "\\n")
    return filename


def _maybe_fail():
    if os.environ.get("TINY_BACKEND_FAIL"):
        for step in range(40):
            print(f"tiny: compile step {step}", flush=True)
        print("tiny: error: the compiler exploded", file=sys.stderr, flush=True)
        raise SystemExit(1)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_wheel")
    _record("build_wheel", config_settings)
    print(f"tiny: building {NAME} {VERSION}", flush=True)
    _maybe_fail()
    with open(os.path.join("src", PKG, "__init__.py"), "rb") as f:
        files = {f"{PKG}/__init__.py": f.read()}
    if config_settings:
        files[f"{PKG}/_config.json"] = json.dumps(config_settings, sort_keys=True).encode()
    return _write_wheel(wheel_directory, files)


if META.get("prepare_metadata", True):

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        _log("prepare_metadata_for_build_wheel")
        _record("prepare_metadata_for_build_wheel", config_settings)
        os.makedirs(os.path.join(metadata_directory, DIST_INFO))
        with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "wb") as f:
            f.write(_metadata())
        return DIST_INFO


if META.get("editable", True):

    def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
        _log("build_editable")
        _record("build_editable", config_settings)
        print(f"tiny: building editable {NAME}", flush=True)
        pth = os.path.abspath("src") + "\\n"
        return _write_wheel(wheel_directory, {f"_{PKG}_editable.pth": pth.encode()})
'''


def make_project(
    root: Path,
    *,
    name: str = "tiny-pkg",
    version: str = "1.0",
    requires: Sequence[str] = (),
    backend: str = "tinybackend",
    backend_path: Sequence[str] = ("_backend",),
    prepare_metadata: bool = True,
    editable: bool = True,
    pyproject: str | None = None,
) -> Path:
    """Write a project at ``root`` whose pyproject uses the in-tree tiny backend; return ``root``."""
    pkg = name.replace("-", "_")
    (root / "src" / pkg).mkdir(parents=True)
    (root / "src" / pkg / "__init__.py").write_text(f'VERSION = "{version}"\n')
    (root / "_backend").mkdir()
    (root / "_backend" / "tinybackend.py").write_text(BACKEND_SOURCE)
    meta = {"name": name, "version": version, "prepare_metadata": prepare_metadata, "editable": editable}
    (root / "_backend" / "tiny.json").write_text(json.dumps(meta))
    if pyproject is None:
        pyproject = (
            f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
            f"[build-system]\nrequires = {json.dumps(list(requires))}\n"
            f'build-backend = "{backend}"\nbackend-path = {json.dumps(list(backend_path))}\n'
        )
    if pyproject:
        (root / "pyproject.toml").write_text(pyproject)
    return root


def make_sdist(project: Path, dest: Path, *, fmt: str = "tar.gz", stem: str = "tiny_pkg-1.0") -> Path:
    """Pack ``project`` as ``dest/<stem>.<fmt>`` with the single top-level directory ``<stem>/``."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{stem}.{fmt}"
    files = sorted(path for path in project.rglob("*") if path.is_file())
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in files:
                zf.write(path, f"{stem}/{path.relative_to(project).as_posix()}")
    else:
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(project, arcname=stem)
    return archive


def add_tar_member(archive: Path, info: tarfile.TarInfo, data: bytes = b"") -> None:
    """Rewrite the gzip tarball ``archive`` with one more (possibly hostile) member."""
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            stream = tar.extractfile(member) if member.isfile() else None
            members.append((member, stream.read() if stream is not None else None))
    with tarfile.open(archive, "w:gz") as tar:
        for member, content in members:
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
        info.size = len(data) if info.isfile() else 0
        tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def check_record(wheel: Path) -> dict[str, bytes]:
    """Assert every file of ``wheel`` matches its RECORD line; return the files."""
    with zipfile.ZipFile(wheel) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    record_name = next(name for name in files if name.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(files[record_name].decode())))
    assert {row[0] for row in rows} == set(files)
    for path, digest, _size in rows:
        if path == record_name:
            continue
        expected = base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}", path
    return files


class FactoryStopped(Exception):
    """Raised by :class:`RecordingEnvFactory` when told to stop right after recording a request."""


@dataclasses.dataclass
class RecordingEnvFactory:
    """A ``BuildEnvFactory`` that runs hooks in the host interpreter and records every request."""

    python: Path = Path(sys.executable)
    stop: bool = False
    created: list[tuple[tuple[str, ...], str]] = dataclasses.field(default_factory=list)
    installed: list[tuple[str, ...]] = dataclasses.field(default_factory=list)
    closed: int = 0

    def create(self, requirements: Sequence[str], *, purpose: str) -> BuildEnv:
        self.created.append((tuple(requirements), purpose))
        if self.stop:
            raise FactoryStopped(purpose)
        return BuildEnv(python=self.python, install=self._install, close=self._close)

    def _install(self, requirements: Sequence[str]) -> None:
        self.installed.append(tuple(requirements))

    def _close(self) -> None:
        self.closed += 1


@dataclasses.dataclass
class RecordingReporter(BuildReporter):
    """A ``BuildReporter`` that keeps everything it is told."""

    starts: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    lines: list[str] = dataclasses.field(default_factory=list)
    done: list[Path] = dataclasses.field(default_factory=list)

    def on_build_start(self, source: Path, backend: str) -> None:
        self.starts.append((source, backend))

    def on_build_output(self, line: str) -> None:
        self.lines.append(line)

    def on_build_done(self, wheel: Path) -> None:
        self.done.append(wheel)


def backend_records(path: Path) -> list[dict[str, object]]:
    """What the tiny backend recorded per hook (``$TINY_BACKEND_RECORD``), in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def backend_log(path: Path) -> list[str]:
    """The hooks the tiny backend ran, in order (it appends to ``$TINY_BACKEND_LOG``)."""
    return path.read_text().splitlines() if path.exists() else []
