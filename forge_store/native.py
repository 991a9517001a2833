"""Native-library checks across layers: CUDA variants, ``$ORIGIN`` overrides, system sonames.

Three checks (:data:`CHECKS`, run by :func:`forge_store.policy.findings`), each governed by
``conflict_mode``:

* :func:`cuda_variant_mix`: every dist that shows a CUDA variant (torch's ``+cu118`` / ``+cpu`` /
  ``+xpu`` / ``+rocm6.2``, the ``nvidia-*-cuNN`` families and the unsuffixed ``nvidia-*`` 13.x
  wheels that install into ``nvidia/cuNN/``, ``cuda-toolkit``, ``cuda-python`` /
  ``cuda-bindings``, jax's ``jax-cudaNN-plugin`` / ``-pjrt``, ``cupy-cudaNNx``; or, failing those,
  a requirement pinning one of them to one major) gives a signal; the dists an env runs (each
  name's winner) must agree on one variant.
* :func:`origin_overrides`: a farther layer's ELF whose ``$ORIGIN`` climbs (recorded at ingest)
  into a directory of a dist that a nearer layer overrides. ``$ORIGIN`` resolves inside the layer
  that holds the ELF (DESIGN.md section 4), so the parent's ELF keeps loading its own layer's copy
  while the env imports the override: the override is ignored, or the process mixes both.
  ``flat`` envs link their parents' entries into themselves, so their parent layers do not count.
* :func:`system_sonames`: CUDA runtime libraries an env's ELF files need (``DT_NEEDED``) of which
  the system loader path (``/etc/ld.so.cache``, ``LD_LIBRARY_PATH``, ``/usr/local/cuda*/lib64``)
  offers another major version (``libcudart.so.11.0`` beside a torch built for ``.so.12``).

The system search roots are injectable: ``FORGE_LD_CACHE`` (a cache file in ``ld.so.cache``
format; empty: none), ``FORGE_CUDA_DIRS`` (``os.pathsep``-separated directories instead of
``/usr/local/cuda*/lib64``; empty: none), and ``LD_LIBRARY_PATH`` itself; or the parameters of
:func:`system_libraries`.

:func:`layer_cuda` gives each layer's variants for ``forge inspect`` / ``forge tree``.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import posixpath
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from . import elf
from .models import Layer, LayeringMode
from .policy import CheckContext, Finding, Kind

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from .catalog import EntryRow
    from .stack import StackDist, StackView
    from .store import Store

# -- CUDA variants ---------------------------------------------------------------------------------

#: dists whose local version label names the variant they were built for
LOCAL_VERSION_FAMILIES = frozenset({"torch", "torchvision", "torchaudio", "jaxlib"})
#: dists whose version's major is the CUDA major
VERSION_MAJOR_FAMILIES = frozenset({"cuda-toolkit", "cuda-python", "cuda-bindings"})
#: unsuffixed ``nvidia-*`` wheels (CUDA 13 on) whose version major is the CUDA major; the others
#: (``nvidia-cufft`` 12.x is CUDA 13) are told by their ``nvidia/cuNN/`` directory
NVIDIA_TOOLKIT_VERSIONED = frozenset(
    {
        "nvidia-cublas",
        "nvidia-cuda-cccl",
        "nvidia-cuda-crt",
        "nvidia-cuda-cupti",
        "nvidia-cuda-culibos",
        "nvidia-cuda-cuxxfilt",
        "nvidia-cuda-nvcc",
        "nvidia-cuda-nvrtc",
        "nvidia-cuda-opencl",
        "nvidia-cuda-profiler-api",
        "nvidia-cuda-runtime",
        "nvidia-cuda-sanitizer-api",
        "nvidia-nvjitlink",
        "nvidia-nvtx",
        "nvidia-nvvm",
    }
)
_FIRST_UNSUFFIXED_MAJOR = 13  # before CUDA 13 every nvidia-* runtime wheel had a -cuNN suffix

_LOCAL_CU = re.compile(r"^cu(\d{2,3})(?:$|[._])")  # +cu118, +cu121.with.pypi.cudnn
_LOCAL_CUDA = re.compile(r"^cuda(\d{1,2})(?:$|[._])")  # jaxlib +cuda12.cudnn89
_LOCAL_ROCM = re.compile(r"^rocm(\d+)")  # +rocm6.2.4
_NVIDIA_CU = re.compile(r"^nvidia-.+-cu(\d{2})$")  # nvidia-cublas-cu12
_JAX_CUDA = re.compile(r"^jax-cuda(\d{2})-(?:plugin|pjrt)$")
_CUPY_CUDA = re.compile(r"^cupy-cuda(\d{2,3})(x?)$")  # cupy-cuda12x, cupy-cuda117
_CUPY_ROCM = re.compile(r"^cupy-rocm-(\d+)-\d+$")
_CU_DIR = re.compile(r"^cu(\d{2})$")


@record(frozen=True, slots=True)
class CudaSignal:
    """One dist's CUDA variant and what shows it."""

    name: str
    version: str
    env: str
    layer: Layer
    variant: str  # "cu12", "cpu", "xpu", "rocm6"
    evidence: str  # "local version +cu118", "name", "nvidia/cu13/ in its files", "requires ..."
    shadowed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "variant": self.variant,
            "evidence": self.evidence,
            "shadowed": self.shadowed,
        }


def variant_of_name(name: str, version: str) -> tuple[str, str] | None:
    """``(variant, evidence)`` from a dist's name and version alone (``None``: shows none)."""
    local = version.partition("+")[2].lower()
    if name in LOCAL_VERSION_FAMILIES and local:
        for plain in ("cpu", "xpu"):  # no CUDA at all: CPU only, Intel GPUs
            if local == plain or local.startswith((f"{plain}.", f"{plain}_", f"{plain}-")):
                return plain, f"local version +{local}"
        m = _LOCAL_CU.match(local)
        if m:  # cuNNM: major NN, minor M (cu92, cu118, cu121, cu130)
            return f"cu{m.group(1)[:-1]}", f"local version +{local}"
        m = _LOCAL_CUDA.match(local)
        if m:
            return f"cu{m.group(1)}", f"local version +{local}"
        m = _LOCAL_ROCM.match(local)
        if m:
            return f"rocm{m.group(1)}", f"local version +{local}"
    for pattern in (_NVIDIA_CU, _JAX_CUDA):
        m = pattern.match(name)
        if m:
            return f"cu{int(m.group(1))}", "name"
    m = _CUPY_CUDA.match(name)
    if m:
        digits = m.group(1)
        return f"cu{digits if m.group(2) else digits[:-1]}", "name"
    m = _CUPY_ROCM.match(name)
    if m:
        return f"rocm{m.group(1)}", "name"
    if name in VERSION_MAJOR_FAMILIES or (
        name in NVIDIA_TOOLKIT_VERSIONED and _major(version) >= _FIRST_UNSUFFIXED_MAJOR
    ):
        major = _major(version)
        if major > 0:
            return f"cu{major}", f"version {version}"
    return None


def _major(version: str) -> int:
    m = re.match(r"^v?(\d+)", version)
    return int(m.group(1)) if m else 0


def _variant_of_files(site: Path) -> tuple[str, str] | None:
    """Unsuffixed ``nvidia-*`` wheels install into ``nvidia/cuNN/``: the directory tells."""
    try:
        names = sorted(os.listdir(site / "nvidia"))
    except OSError:
        return None
    for n in names:
        m = _CU_DIR.match(n)
        if m and (site / "nvidia" / n).is_dir():
            return f"cu{int(m.group(1))}", f"nvidia/{n}/ in its files"
    return None


def _variant_of_requirements(requires: Iterable[str], markers: Mapping[str, str]) -> tuple[str, str] | None:
    """A requirement on a dist that shows a variant: by name (``nvidia-cublas-cu12``), or one whose
    version major is the CUDA major pinned to one major (``cuda-toolkit==13.0.3``,
    ``cuda-bindings>=13.0.3,<14``; a bare ``cuda-python>=11.8`` fits several, so it shows none)."""
    from packaging.utils import canonicalize_name

    from .stack import applicable_requirements

    for req in applicable_requirements(requires, markers):
        name = canonicalize_name(req.name)
        found = variant_of_name(name, "")
        if found is None and (name in VERSION_MAJOR_FAMILIES or name in NVIDIA_TOOLKIT_VERSIONED):
            major = _pinned_major(req.specifier)
            if major is not None and (name in VERSION_MAJOR_FAMILIES or major >= _FIRST_UNSUFFIXED_MAJOR):
                found = (f"cu{major}", "")
        if found is not None:
            return found[0], f"requires {req}"
    return None


def _pinned_major(specifier: SpecifierSet) -> int | None:
    """The one major version a specifier set allows, if it allows only one."""
    from packaging.version import InvalidVersion, Version

    lo: int | None = None
    hi: int | None = None
    for spec in specifier:
        try:
            v = Version(spec.version.removesuffix(".*"))
        except InvalidVersion:
            return None
        op = spec.operator
        if op in ("==", "===", "~="):
            lo = v.major if lo is None else max(lo, v.major)
            hi = v.major if hi is None else min(hi, v.major)
        elif op in (">=", ">"):
            lo = v.major if lo is None else max(lo, v.major)
        elif op in ("<", "<="):
            top = v.major - 1 if op == "<" and not any(v.release[1:]) else v.major
            hi = top if hi is None else min(hi, top)
    return lo if lo is not None and lo == hi else None


def _signal(
    store: Store, row: EntryRow | None, d: StackDist, markers: Mapping[str, str]
) -> CudaSignal | None:
    found = variant_of_name(d.name, d.version)
    if found is None and row is not None and d.name.startswith("nvidia-"):
        found = _variant_of_files(store.entry_path(row) / "site")
    if found is None:
        found = _variant_of_requirements(d.requires_dist, markers)
    if found is None:
        return None
    return CudaSignal(d.name, d.version, d.env, d.layer, found[0], found[1], d.shadowed)


def _rows(store: Store, dists: Iterable[StackDist]) -> dict[str, EntryRow]:
    ids = sorted({d.entry_id for d in dists if d.entry_id is not None})
    return store.catalog.entries(ids) if ids else {}


def cuda_signals(store: Store, view: StackView) -> list[CudaSignal]:
    """The signal of every dist of every layer that shows a variant (shadowed ones marked)."""
    dists = [d for layer in view.layers for d in layer.dists]
    rows = _rows(store, dists)
    markers = view.env.interpreter.marker_env()
    out: list[CudaSignal] = []
    for d in dists:
        s = _signal(store, rows.get(d.entry_id or ""), d, markers)
        if s is not None:
            out.append(s)
    return out


@record(frozen=True, slots=True)
class LayerCuda:
    """One layer's CUDA variants (``forge inspect`` / ``forge tree``)."""

    env: str
    layer: Layer
    variants: tuple[str, ...]  # of the dists the inspected env runs from this layer
    signals: tuple[CudaSignal, ...]  # every dist of the layer that shows one, shadowed included

    def to_dict(self) -> dict[str, object]:
        return {
            "env": self.env,
            "layer": self.layer.value,
            "variants": list(self.variants),
            "packages": [s.to_dict() for s in self.signals],
        }


def layer_cuda(store: Store, view: StackView) -> list[LayerCuda]:
    """Each layer of the stack, nearest first, with its CUDA variants."""
    signals = cuda_signals(store, view)
    out: list[LayerCuda] = []
    for layer in view.layers:
        mine = tuple(s for s in signals if s.env == layer.env)
        variants = tuple(sorted({s.variant for s in mine if not s.shadowed}, key=_variant_order))
        out.append(LayerCuda(layer.env, layer.layer, variants, mine))
    return out


def _variant_order(v: str) -> tuple[int, str]:
    m = re.match(r"^cu(\d+)$", v)
    return (int(m.group(1)), v) if m else (1000, v)


def _where(layer: Layer, env: str) -> str:
    return {Layer.LOCAL: "local", Layer.PARENT: "parent", Layer.GLOBAL: "global"}[layer] + f" {env!r}"


def _names(items: Sequence[str], limit: int = 2) -> str:
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def cuda_variant_mix(view: StackView, ctx: CheckContext) -> Iterable[Finding]:
    """One finding when the dists the env runs show more than one CUDA variant."""
    signals = [s for s in cuda_signals(ctx.store, view) if not s.shadowed]
    variants = sorted({s.variant for s in signals}, key=_variant_order)
    if len(variants) < 2:
        return
    order = {layer.env: i for i, layer in enumerate(view.layers)}
    groups: dict[tuple[int, str], list[CudaSignal]] = {}
    for s in sorted(signals, key=lambda s: (order.get(s.env, 99), _variant_order(s.variant), s.name)):
        groups.setdefault((order.get(s.env, 99), s.variant), []).append(s)
    parts = []
    for (_i, variant), group in groups.items():
        first = group[0]
        names = [f"{s.name} {s.version}" for s in group]
        parts.append(f"{variant} in {_where(first.layer, first.env)} ({_names(names)})")
    subject = next(iter(groups.values()))[0].name
    yield Finding(
        Kind.CUDA_MIX,
        view.env.name,
        subject,
        f"CUDA variants mixed in {view.env.name!r}: " + "; ".join(parts),
        tuple(
            f"{s.name} {s.version} in {s.env!r}: {s.variant} ({s.evidence})"
            for group in groups.values()
            for s in group
        ),
        tuple(dict.fromkeys(s.name for s in signals)),
        tuple(dict.fromkeys(s.env for s in signals)),
    )


# -- $ORIGIN overrides -----------------------------------------------------------------------------


_EntryScan = tuple[list[dict[str, object]], dict[str, elf.NativeInfo]]

# entry id -> its scan as recorded by the current scan version: an entry never changes, and
# once its metadata holds the current scan, neither does that (an older scan is not kept)
_scans: dict[str, _EntryScan] = {}


def _entry_scan(store: Store, row: EntryRow) -> _EntryScan:
    """(climbs, native files) of an entry; an entry of an older scan is scanned here, read-only
    (recorded when it is next linked, :meth:`Store._ensure_climbs`). Read once per process."""
    found = _scans.get(row.id)
    if found is not None:
        return found
    version = row.meta.get("climb_scan")
    meta: Mapping[str, object] = row.meta
    current = isinstance(version, int) and version >= elf.SCAN_VERSION
    if not current:
        meta = _rescan(str(store.entry_path(row) / "site"))
    climbs = meta.get("climbs") or []
    native = elf.native_files(dataclasses.replace(row, meta=dict(meta)))
    found = ([c for c in climbs if isinstance(c, dict)] if isinstance(climbs, list) else [], native)
    if current:
        _scans[row.id] = found
    return found


def warm_scans(store: Store, rows: Iterable[EntryRow]) -> None:
    """Read the native scans of ``rows`` into this process's cache (what the policy checks of a
    change that links them read; no other effect)."""
    for row in rows:
        _entry_scan(store, row)


@functools.lru_cache(maxsize=64)
def _rescan(site: str) -> dict[str, object]:
    """An entry's content never changes under its directory: scanned once per process."""
    return elf.rescan(Path(site)) if os.path.isdir(site) else {}


def shown(text: str) -> str:
    """A string from an ELF file as a message may print it: control characters escaped (an RPATH
    or a soname is whatever bytes the wheel's author wrote)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _target(file_rel: str, rpath: str) -> str | None:
    """The directory (relative to site/) an ``$ORIGIN`` entry names; ``None`` above site/."""
    rel = elf.origin_path(rpath)
    if rel is None:
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(file_rel), rel))
    if target == ".." or target.startswith("../") or target.startswith("/"):
        return None
    return "" if target == "." else target


def origin_overrides(view: StackView, ctx: CheckContext) -> Iterable[Finding]:
    """One finding per (farther layer's dist with a climbing ELF, nearer override of a dist that
    provides the directory it climbs to)."""
    store = ctx.store
    flat = view.env.layering is LayeringMode.FLAT
    winners = view.winners()
    index = {layer.env: i for i, layer in enumerate(view.layers)}
    rows = _rows(store, [d for layer in view.layers for d in layer.dists])
    for i, layer in enumerate(view.layers):
        if i == 0 or (flat and layer.layer is Layer.PARENT):
            continue  # the env's own ELFs resolve $ORIGIN in the env: overrides work there
        for d in layer.dists:
            row = rows.get(d.entry_id or "")
            if d.shadowed or row is None:
                continue
            climbs, native = _entry_scan(store, row)
            targets: dict[str, dict[str, list[str]]] = {}  # target dir -> rpath -> ELF files
            for c in climbs:
                file, rpath = c.get("file"), c.get("rpath")
                if isinstance(file, str) and isinstance(rpath, str):
                    t = _target(file, rpath)
                    if t:
                        targets.setdefault(t, {}).setdefault(rpath, []).append(file)
            if not targets:
                continue
            mine = {x.name: x for x in layer.dists}
            for name, win in sorted(winners.items()):
                if name == d.name or index.get(win.env, 0) >= i or win.entry_id is None:
                    continue  # not overridden by a layer nearer than the ELF's
                own = mine.get(name)
                if own is not None and own.entry_id == win.entry_id:
                    continue  # the same content in both layers: nothing is ignored
                win_row = rows.get(win.entry_id)
                own_row = rows.get(own.entry_id or "") if own is not None else None
                for target, by_rpath in sorted(targets.items()):
                    files = [f for fs in by_rpath.values() for f in fs]
                    needed = (
                        {n for f in files if f in native for n in native[f].needed}
                        if any(f in native for f in files)
                        else None
                    )
                    in_own = own_row is not None and _provides(store, own_row, target, needed)
                    if in_own or (win_row is not None and _provides(store, win_row, target, needed)):
                        yield _override(view, d, win, own if in_own else None, target, by_rpath)


def _provides(store: Store, row: EntryRow, target: str, needed: set[str] | None) -> bool:
    """Whether the entry has, in ``target``, a library the climbing ELF files need (``None``: no
    record of their needs, so whether it has the directory at all)."""
    where = store.entry_path(row) / "site" / target
    if needed is None:
        return where.is_dir()
    plain = [n for n in needed if posixpath.basename(n) == n and n not in (".", "..")]
    return any((where / n).exists() for n in plain)


def _override(
    view: StackView,
    elf_dist: StackDist,
    win: StackDist,
    own: StackDist | None,
    target: str,
    by_rpath: Mapping[str, Sequence[str]],
) -> Finding:
    rpath, target = shown(sorted(by_rpath)[0]), shown(target)
    files = sorted({f for fs in by_rpath.values() for f in fs})
    head = (
        f"{elf_dist.name} {elf_dist.version} ({_where(elf_dist.layer, elf_dist.env)}) reaches {target}/"
        f" through {rpath}, which resolves inside {elf_dist.env!r}: "
    )
    if own is not None:
        tail = (
            f"the override {win.name} {win.version} ({_where(win.layer, win.env)}) is ignored there,"
            f" {elf_dist.name} loads {own.name} {own.version} ({_where(own.layer, own.env)})"
        )
    else:
        tail = (
            f"{win.name} {win.version} ({_where(win.layer, win.env)}) provides {target}/ only in"
            f" {win.env!r}, which $ORIGIN never reaches"
        )
    chain = [
        f"{shown(f)}: {', '.join(shown(r) for r, fs in sorted(by_rpath.items()) if f in fs)}"
        for f in files[:5]
    ]
    if len(files) > 5:
        chain.append(f"... and {len(files) - 5} more ELF files")
    chain.append(f"{view.env.name!r} imports {win.name} {win.version} from {win.env!r}")
    layers = [elf_dist.env, win.env]
    return Finding(
        Kind.ORIGIN_OVERRIDE,
        view.env.name,
        win.name,
        head + tail,
        tuple(chain),
        (elf_dist.name, win.name),
        tuple(dict.fromkeys(layers)),
    )


# -- system sonames --------------------------------------------------------------------------------

#: soname stems of the CUDA runtime libraries (lower case; ``libcuda`` itself, the driver, is not one)
CUDA_LIBRARY_PREFIXES = (
    "libcudart",
    "libcublas",  # libcublasLt too
    "libcudnn",
    "libnccl",
    "libcufft",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libnvrtc",
    "libnvjitlink",
    "libcupti",
    "libnvtoolsext",
    "libnvtx",
    "libcufile",
    "libnvshmem",
    "libnpp",
    "libnvjpeg",
    "libcutensor",
    "libcudss",
)
_SONAME = re.compile(r"^(lib[A-Za-z0-9_+\-.]*?)\.so\.(\d+)(?:\.[0-9.]*)?$")
LD_CACHE = Path("/etc/ld.so.cache")
CUDA_DIR_GLOB = "/usr/local/cuda*/lib64"
_MAX_DIR_ENTRIES = 100_000


def split_soname(soname: str) -> tuple[str, int] | None:
    """``"libcudart.so.12"`` -> ``("libcudart", 12)``; ``None`` for a name without a major."""
    m = _SONAME.match(soname)
    return (m.group(1), int(m.group(2))) if m else None


def is_cuda_library(stem: str) -> bool:
    return stem.lower().startswith(CUDA_LIBRARY_PREFIXES)


@record(frozen=True, slots=True)
class SystemLibrary:
    soname: str  # as the cache or the file name gives it, "libcudart.so.11.0"
    stem: str
    major: int
    path: str
    source: str  # "ld.so.cache", "LD_LIBRARY_PATH", "CUDA toolkit"


_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_MAGIC = b"ld.so-1.7.0"


def parse_ld_cache(data: bytes) -> list[tuple[str, str]]:
    """``(soname, path)`` of every library in an ``ld.so.cache`` (glibc's format, old or new;
    ``[]`` for anything else). Bounded by the file's size: a corrupt cache yields what parses."""
    base = 0
    if data.startswith(_OLD_MAGIC):
        if len(data) < 16:
            return []
        (n_old,) = struct.unpack_from("<I", data, 12)
        if n_old > len(data) // 12:
            return []
        old_end = 16 + n_old * 12
        base = (old_end + 7) & ~7
        if not data.startswith(_NEW_MAGIC, base):  # the old format alone: strings after the table
            return _entries(data, 16, n_old, 12, "<", old_end)
    if not data.startswith(_NEW_MAGIC, base) or len(data) < base + 48:
        return []
    flags = data[base + 28] & 3
    end = ">" if flags == 3 else "<"
    (nlibs,) = struct.unpack_from(end + "I", data, base + 20)
    if nlibs > (len(data) - base - 48) // 24:
        return []
    return _entries(data, base + 48, nlibs, 24, end, base)


def _entries(data: bytes, start: int, count: int, size: int, end: str, strings: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i in range(count):
        _flags, key, value = struct.unpack_from(end + "iII", data, start + i * size)
        k, v = _zstr(data, strings + key), _zstr(data, strings + value)
        if k and v:
            out.append((k, v))
    return out


def _zstr(data: bytes, pos: int) -> str | None:
    if not 0 <= pos < len(data):
        return None
    stop = data.find(b"\0", pos, pos + 4096)
    return data[pos:stop].decode("utf-8", "replace") if stop > pos else None


@functools.lru_cache(maxsize=8)
def _cached_ld_cache(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[str, str], ...]:
    try:
        with open(path, "rb") as f:
            data = f.read(64 << 20)
    except OSError:
        return ()
    return tuple(parse_ld_cache(data))


def _ld_cache_entries(path: Path) -> tuple[tuple[str, str], ...]:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return _cached_ld_cache(str(path), st.st_mtime_ns, st.st_size)


def _dir_libraries(directory: Path, source: str) -> list[SystemLibrary]:
    out: list[SystemLibrary] = []
    try:
        it = os.scandir(directory)
    except OSError:
        return out
    with it:
        for n, item in enumerate(it):
            if n >= _MAX_DIR_ENTRIES:
                break
            name = item.name
            if not name.startswith("lib") or ".so" not in name:
                continue
            parts = split_soname(name)
            if parts is None and name.endswith(".so"):  # libcudart.so -> libcudart.so.12.1.105
                parts = split_soname(os.path.basename(os.path.realpath(item.path)))
            if parts is not None and is_cuda_library(parts[0]):
                out.append(SystemLibrary(name, parts[0], parts[1], item.path, source))
    return out


def system_libraries(
    *,
    ld_cache: Path | None = None,
    ld_library_path: Sequence[str] | None = None,
    cuda_dirs: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[SystemLibrary]:
    """The CUDA libraries the system loader path offers. A parameter left ``None`` comes from the
    environment: ``FORGE_LD_CACHE`` (default ``/etc/ld.so.cache``; empty: none), ``LD_LIBRARY_PATH``,
    ``FORGE_CUDA_DIRS`` (default ``/usr/local/cuda*/lib64``; empty: none)."""
    env = os.environ if environ is None else environ
    if ld_cache is None:
        raw = env.get("FORGE_LD_CACHE")
        ld_cache = LD_CACHE if raw is None else (Path(raw) if raw else None)
    if ld_library_path is None:
        ld_library_path = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    if cuda_dirs is None:
        raw = env.get("FORGE_CUDA_DIRS")
        cuda_dirs = (
            sorted(glob.glob(CUDA_DIR_GLOB)) if raw is None else [p for p in raw.split(os.pathsep) if p]
        )
    out: list[SystemLibrary] = []
    if ld_cache is not None:
        for soname, path in _ld_cache_entries(ld_cache):
            parts = split_soname(soname)
            if parts is not None and is_cuda_library(parts[0]):
                out.append(SystemLibrary(soname, parts[0], parts[1], path, "ld.so.cache"))
    for d in ld_library_path:
        out += _dir_libraries(Path(d), "LD_LIBRARY_PATH")
    for d in cuda_dirs:
        out += _dir_libraries(Path(d), "CUDA toolkit dir")
    return out


def system_sonames(view: StackView, ctx: CheckContext) -> Iterable[Finding]:
    """One finding per (dist the env runs, CUDA soname its ELF files need) of which the system
    loader path offers another major version."""
    winners = view.winners()
    rows = _rows(ctx.store, winners.values())
    needs: dict[tuple[str, str], list[str]] = {}  # (dist, soname) -> ELF files
    for name, d in sorted(winners.items()):
        row = rows.get(d.entry_id or "")
        if row is None:
            continue
        _climbs, native = _entry_scan(ctx.store, row)
        for rel, info in sorted(native.items()):
            for soname in info.needed:
                parts = split_soname(soname)
                if parts is not None and is_cuda_library(parts[0]):
                    needs.setdefault((name, soname), []).append(rel)
    if not needs:
        return
    by_stem: dict[str, list[SystemLibrary]] = {}
    for lib in system_libraries():
        by_stem.setdefault(lib.stem, []).append(lib)
    for (name, soname), files in sorted(needs.items()):
        stem, major = split_soname(soname) or ("", 0)
        other = [lib for lib in by_stem.get(stem, []) if lib.major != major]
        if not other:
            continue
        d = winners[name]
        seen: dict[str, SystemLibrary] = {}
        for lib in other:
            seen.setdefault(lib.path, lib)
        libs = list(seen.values())
        listed = ", ".join(f"{lib.soname} ({lib.source} {lib.path})" for lib in libs[:3])
        more = f" and {len(libs) - 3} more" if len(libs) > 3 else ""
        soname = shown(soname)
        chain = [f"{shown(f)} needs {soname}" for f in files[:5]]
        if len(files) > 5:
            chain.append(f"... and {len(files) - 5} more ELF files")
        chain += [f"the system loader path has {lib.soname}: {lib.path} ({lib.source})" for lib in libs]
        yield Finding(
            Kind.SYSTEM_SONAME,
            view.env.name,
            name,
            f"{name} {d.version} ({_where(d.layer, d.env)}) needs {soname}, but the system loader path"
            f" also has {listed}{more}: two majors of {stem} can end up in one process",
            tuple(chain),
            (name,),
            (d.env,),
        )


CHECKS = (cuda_variant_mix, origin_overrides, system_sonames)
