"""Find and describe base Python interpreters.

A probe runs the interpreter once and caches the answer under ``FORGE_HOME/cache/interpreters``
keyed by the binary's real path, size and mtime, so ``forge create`` does not pay a subprocess
start on every call. The interpreter running Forge is described in-process.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from .errors import InterpreterNotFound
from .models import Interpreter

# Runs inside the probed interpreter: stdlib only, works on 3.8+.
_PROBE = r"""
import json, os, platform, sys, sysconfig
try:
    from importlib.machinery import EXTENSION_SUFFIXES as suffixes
except ImportError:
    suffixes = []
libpython = ""
if sysconfig.get_config_var("Py_ENABLE_SHARED"):
    name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    if name and libdir:
        libpython = os.path.join(libdir, name)
impl = sys.implementation
iver = impl.version
impl_version = "{0.major}.{0.minor}.{0.micro}".format(iver)
if iver.releaselevel != "final":
    impl_version += iver.releaselevel[0] + str(iver.serial)
markers = {
    "implementation_name": impl.name,
    "implementation_version": impl_version,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({
    "executable": os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable),
    "version": list(sys.version_info[:3]),
    "implementation": impl.name,
    "cache_tag": impl.cache_tag or "",
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "abiflags": getattr(sys, "abiflags", ""),
    "machine": platform.machine(),
    "markers": markers,
    "extension_suffixes": list(suffixes),
    "multiarch": getattr(impl, "_multiarch", "") or "",
    "libpython": libpython,
}))
"""

# Part of the probe cache key: a cached answer of an older probe lacks fields a newer one adds.
PROBE_VERSION = 2

_VERSION_RE = re.compile(r"^(?:python|cpython|py)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(t?)$")


def from_json(data: dict[str, object]) -> Interpreter:
    """An :class:`Interpreter` from a probe's JSON (also how the catalog stores it)."""
    version = data["version"]
    markers = data["markers"]
    assert isinstance(version, list | tuple) and isinstance(markers, dict)
    return Interpreter(
        executable=Path(str(data["executable"])),
        version=(int(version[0]), int(version[1]), int(version[2])),
        implementation=str(data["implementation"]),
        cache_tag=str(data["cache_tag"]),
        soabi=str(data["soabi"]),
        abiflags=str(data["abiflags"]),
        machine=str(data["machine"]),
        markers=tuple(sorted((str(k), str(v)) for k, v in markers.items())),
        extension_suffixes=tuple(str(x) for x in _strs(data.get("extension_suffixes"))),
        multiarch=str(data.get("multiarch") or ""),
        libpython=str(data.get("libpython") or ""),
    )


def _strs(value: object) -> list[object]:
    """A list from the probe's JSON, or ``[]`` (the catalog's rows of an older probe lack it)."""
    return list(value) if isinstance(value, list | tuple) else []


def to_json(interp: Interpreter) -> dict[str, object]:
    """The inverse of :func:`from_json`."""
    import dataclasses

    data = dataclasses.asdict(interp)
    data["executable"] = str(interp.executable)
    data["markers"] = dict(interp.markers)
    data["extension_suffixes"] = list(interp.extension_suffixes)
    return data


def current() -> Interpreter:
    """The base interpreter of the Python running Forge, without a subprocess."""
    namespace: dict[str, object] = {}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_PROBE, "<forge-probe>", "exec"), namespace)
    return from_json(json.loads(out.getvalue()))


def probe(executable: Path, cache_dir: Path | None = None) -> Interpreter:
    """Describe the interpreter at ``executable`` (a venv's python gives its base interpreter)."""
    real = Path(os.path.realpath(executable))
    try:
        st = real.stat()
    except OSError:
        raise InterpreterNotFound(f"no Python interpreter at {executable}") from None
    key = f"{real}\0{st.st_size}\0{st.st_mtime_ns}\0{executable}\0{PROBE_VERSION}"
    import hashlib  # here, not at import: ``forge create`` probes nothing

    key = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_file = cache_dir / f"{key}.json" if cache_dir else None
    if cache_file is not None:
        try:
            return from_json(json.loads(cache_file.read_text()))
        except (OSError, ValueError, KeyError, AssertionError):
            pass
    import subprocess

    try:
        proc = subprocess.run(
            [str(executable), "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError as exc:
        raise InterpreterNotFound(f"cannot run {executable}: {exc.strerror}") from None
    if proc.returncode != 0:
        raise InterpreterNotFound(f"{executable} is not a working Python interpreter")
    data = json.loads(proc.stdout)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(proc.stdout)
        os.replace(tmp, cache_file)
    return from_json(data)


def _pyenv_root() -> Path | None:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def _candidates(major: int, minor: int | None, threaded: str) -> Iterator[Path]:
    """Executables that may be the requested version: PATH first (skipping pyenv shims), then pyenv."""
    names = [f"python{major}.{minor}{threaded}"] if minor is not None else [f"python{major}", "python"]
    pyenv = _pyenv_root()
    shims = str(pyenv / "shims") if pyenv else None
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or directory == shims:
            continue
        for name in names:
            path = Path(directory) / name
            if os.access(path, os.X_OK) and path.is_file():
                yield path
    if pyenv is not None:
        versions = pyenv / "versions"
        try:
            found = sorted(versions.iterdir(), key=lambda p: _version_key(p.name), reverse=True)
        except OSError:
            found = []
        for vdir in found:
            for name in names:
                path = vdir / "bin" / name
                if os.access(path, os.X_OK):
                    yield path


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.\-]", text))


def find(request: str | None, cache_dir: Path | None = None) -> Interpreter:
    """Resolve ``--python``: ``None`` (the one running Forge), a path, or a version like ``3.12``."""
    if request is None:
        return current()
    if os.sep in request or request.startswith("."):
        return probe(Path(request).expanduser(), cache_dir)
    match = _VERSION_RE.match(request.strip())
    if not match:
        raise InterpreterNotFound(
            f"cannot understand --python {request!r}",
        )
    major, minor, micro = int(match[1]), match[2], match[3]
    threaded = match[4]
    want_minor = int(minor) if minor is not None else None
    tried: list[str] = []
    for path in _candidates(major, want_minor, threaded):
        try:
            interp = probe(path, cache_dir)
        except InterpreterNotFound:
            continue
        tried.append(f"{path} ({interp.full_version})")
        if interp.version[0] != major:
            continue
        if want_minor is not None and interp.version[1] != want_minor:
            continue
        if micro is not None and interp.version[2] != int(micro):
            continue
        return interp
    hint = "found: " + ", ".join(tried) if tried else "looked on PATH and in pyenv's versions"
    raise InterpreterNotFound(f"no Python {request} found", hint=hint)


_SCHEME_PROBE = r"""
import json, os, sys, sysconfig
stdlib = sysconfig.get_path("stdlib")
print(json.dumps({
    "prefix": sys.prefix,
    "purelib": sysconfig.get_path("purelib"),
    "platlib": sysconfig.get_path("platlib"),
    "in_venv": sys.prefix != sys.base_prefix,
    "externally_managed": os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
}))
"""


def install_scheme(executable: Path) -> dict[str, object]:
    """Where an interpreter installs packages (``prefix``, ``purelib``, ``platlib``), whether it is a
    venv, and whether it is marked EXTERNALLY-MANAGED (PEP 668)."""
    import subprocess

    try:
        proc = subprocess.run(
            [str(executable), "-I", "-S", "-c", _SCHEME_PROBE], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise InterpreterNotFound(f"cannot run {executable}: {exc.strerror}") from None
    if proc.returncode != 0:
        raise InterpreterNotFound(f"{executable} is not a working Python interpreter")
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def wheel_tags(interp: Interpreter) -> list[str]:
    """Supported wheel tags for ``interp``, best first (packaging's algorithm, for the target)."""
    return list(_wheel_tags(interp))


@functools.lru_cache(maxsize=32)
def _wheel_tags(interp: Interpreter) -> tuple[str, ...]:
    """:func:`wheel_tags`, computed once per interpreter and process: an install asks for them
    several times (the finder's target, the ABI checks, a wheel's compatibility), and packaging
    builds ~900 tags each time."""
    from packaging import tags

    py = (interp.version[0], interp.version[1])
    platforms = list(tags.platform_tags())
    out: list[tags.Tag] = []
    if interp.implementation == "cpython":
        abi = f"cp{py[0]}{py[1]}{interp.abiflags}"
        out.extend(tags.cpython_tags(py, abis=[abi], platforms=platforms))
        out.extend(tags.compatible_tags(py, interpreter=f"cp{py[0]}{py[1]}", platforms=platforms))
    else:
        out.extend(tags.generic_tags(platforms=platforms))
        out.extend(tags.compatible_tags(py, platforms=platforms))
    seen: dict[str, None] = {}
    for tag in out:
        seen.setdefault(str(tag), None)
    return tuple(seen)


def running_forge_python() -> Path:
    """The interpreter Forge itself runs on (launchers in envs exec it)."""
    return Path(sys.executable)
