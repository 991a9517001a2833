"""Read RPATH/RUNPATH from ELF files and find ``$ORIGIN`` entries that climb with ``..``.

glibc expands ``$ORIGIN`` from the unresolved path of the loaded file, but the kernel resolves ``..``
physically: from inside a directory symlink, ``$ORIGIN/../x`` lands in the store, not the env.
Ingest records every such climb; the linker decides, for the env's actual layout, which linked
directories on the way must become real (DESIGN.md section 3, ``linker.LayoutBuilder``).
"""

from __future__ import annotations

import mmap
import os
import posixpath
import stat
import struct
from collections.abc import Iterable
from pathlib import Path

from .models import OriginClimb

# Version of the climb scan recorded in an entry's metadata (``climb_scan``). Entries of an older
# scan (1: climbs whose target was a directory of the same entry were left out) are rescanned.
SCAN_VERSION = 2

_MAGIC = b"\x7fELF"
_SHT_DYNAMIC = 6
_DT_NULL, _DT_RPATH, _DT_RUNPATH = 0, 15, 29
_ORIGIN_TOKENS = ("$ORIGIN", "${ORIGIN}")


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == _MAGIC
    except OSError:
        return False


def rpaths(path: Path) -> list[str]:
    """The RPATH and RUNPATH entries of an ELF file (``[]`` if none or not parseable).

    The file is mapped, not read: only the pages of the section headers, the dynamic section and
    its string table are touched (a 1 GB CUDA library costs a few page faults).
    """
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _rpaths(data)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return []


def _rpaths(data: mmap.mmap) -> list[str]:
    if data[:4] != _MAGIC or len(data) < 64:
        return []
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    try:
        if is64:
            (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
            sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
        else:
            (shoff,) = struct.unpack_from(end + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
            sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
        sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
        out: list[str] = []
        dyn_size = struct.calcsize(dyn_fmt)
        for sec in sections:
            if sec[1] != _SHT_DYNAMIC:
                continue
            offset, size, link = sec[4], sec[5], sec[6]
            strtab = sections[link]
            str_off = strtab[4]
            for pos in range(offset, offset + size, dyn_size):
                tag, val = struct.unpack_from(dyn_fmt, data, pos)
                if tag == _DT_NULL:
                    break
                if tag in (_DT_RPATH, _DT_RUNPATH):
                    start = str_off + val
                    stop = data.find(b"\0", start)
                    if stop < 0:
                        raise ValueError("unterminated string")
                    out.extend(p for p in data[start:stop].decode("utf-8", "replace").split(":") if p)
        return out
    except (struct.error, IndexError, ValueError):
        return []


def origin_path(entry: str) -> str | None:
    """The part of an RPATH entry after ``$ORIGIN`` / ``${ORIGIN}`` (``"."`` for the token alone);
    ``None`` for entries that do not start with it (absolute paths, other tokens)."""
    for token in _ORIGIN_TOKENS:
        if entry == token:
            return "."
        if entry.startswith(token + "/"):
            return entry[len(token) + 1 :] or "."
    return None


def climb_of(file_rel: str, entry: str) -> str | None:
    """The highest directory (relative to site/) an ``$ORIGIN`` entry passes through, if it uses ``..``.

    ``torch/lib/x.so`` + ``$ORIGIN/../../nvidia/cublas/lib`` climbs to ``""`` (site/ itself); above
    site/ the result is ``".."``, ``"../.."``... ``None`` for entries without ``..`` (``$ORIGIN``,
    ``$ORIGIN/sub``, absolute paths): those never leave the directory the ELF sits in.
    ``$ORIGIN/sub/../x`` climbs too (out of ``sub``, which may be a link), to the ELF's own dir.
    """
    rel = origin_path(entry)
    if rel is None:
        return None
    depth = lowest = 0
    climbs = False
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            climbs = True
            depth -= 1
            lowest = min(lowest, depth)
        else:
            depth += 1
    if not climbs:
        return None
    ups = -lowest
    here = posixpath.dirname(file_rel)
    parts_here = here.split("/") if here else []
    if ups <= len(parts_here):
        return "/".join(parts_here[: len(parts_here) - ups])
    return "/".join([".."] * (ups - len(parts_here)))  # above site/: the env prefix side


def _candidate(path: Path, name: str) -> bool:
    """Shared libraries and extensions by name, executables by mode (their $ORIGIN works the same)."""
    if ".so" in name or name.endswith(".bin"):
        return True
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def scan_climbs(site: Path, files: Iterable[str]) -> list[OriginClimb]:
    """Every ELF under ``site`` (paths relative to it) with an ``$ORIGIN`` entry that uses ``..``.

    All of them are recorded, also those whose target is a directory of this same entry: whether a
    climb stays inside what the env shows depends on the env's layout (which directories other wheels
    merge into), so only the linker can decide; it keeps same-entry climbs linked when that is safe.
    """
    out: dict[tuple[str, str], OriginClimb] = {}
    for rel in files:
        path = site / rel
        if not _candidate(path, posixpath.basename(rel)) or not is_elf(path):
            continue
        for entry in rpaths(path):
            apex = climb_of(rel, entry)
            if apex is not None:
                out.setdefault((rel, entry), OriginClimb(file=rel, rpath=entry, apex=apex))
    return list(out.values())


def scan_site(site: Path) -> list[OriginClimb]:
    """``scan_climbs`` over every file of an unpacked ``site/`` (to rescan entries of an older scan)."""
    files: list[str] = []
    for dirpath, dirs, names in os.walk(site):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel_dir = os.path.relpath(dirpath, site)
        files.extend(name if rel_dir == "." else f"{rel_dir}/{name}" for name in names)
    return scan_climbs(site, sorted(files))
