"""Read RPATH/RUNPATH from ELF files and find ``$ORIGIN`` entries that climb out of their directory.

glibc expands ``$ORIGIN`` from the unresolved path of the loaded file, but the kernel resolves ``..``
physically: from inside a directory symlink, ``$ORIGIN/../x`` lands in the store, not the env.
Ingest records such climbs so the linker makes those directories real (DESIGN.md section 3).
"""

from __future__ import annotations

import posixpath
import struct
from collections.abc import Iterator
from pathlib import Path

from .models import OriginClimb

_MAGIC = b"\x7fELF"
_SHT_DYNAMIC = 6
_DT_NULL, _DT_RPATH, _DT_RUNPATH = 0, 15, 29


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == _MAGIC
    except OSError:
        return False


def rpaths(path: Path) -> list[str]:
    """The RPATH and RUNPATH entries of an ELF file (``[]`` if none or not parseable)."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
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
                    stop = data.index(b"\0", start)
                    out.extend(p for p in data[start:stop].decode("utf-8", "replace").split(":") if p)
        return out
    except (struct.error, IndexError, ValueError):
        return []


def _origin_rel(entry: str) -> str | None:
    for token in ("$ORIGIN", "${ORIGIN}"):
        if entry == token:
            return "."
        if entry.startswith(token + "/"):
            return entry[len(token) + 1 :]
    return None


def climb_of(file_rel: str, entry: str) -> str | None:
    """The directory (relative to site/) an ``$ORIGIN`` entry climbs to, if it leaves the file's dir.

    ``torch/lib/x.so`` + ``$ORIGIN/../../nvidia/cublas/lib`` climbs to ``""`` (site/ itself).
    Returns ``None`` for entries that do not climb (``$ORIGIN``, ``$ORIGIN/sub``, absolute paths).
    """
    rel = _origin_rel(entry)
    if rel is None:
        return None
    here = posixpath.dirname(file_rel)
    parts = [p for p in rel.split("/") if p and p != "."]
    ups = 0
    for part in parts:
        if part != "..":
            break
        ups += 1
    if ups == 0:
        return None
    parts_here = here.split("/") if here else []
    if ups <= len(parts_here):
        return "/".join(parts_here[: len(parts_here) - ups])
    return "/".join([".."] * (ups - len(parts_here)))  # above site/: the env prefix side


def scan_climbs(site: Path, files: Iterator[str]) -> list[OriginClimb]:
    """Every ELF under ``site`` with an ``$ORIGIN`` entry that climbs out of its directory and whose
    target is not inside the same entry (same-wheel ``.libs`` work through a directory link)."""
    out: list[OriginClimb] = []
    for rel in files:
        path = site / rel
        name = posixpath.basename(rel)
        if ".so" not in name and not name.endswith(".bin"):
            continue
        if not is_elf(path):
            continue
        for entry in rpaths(path):
            apex = climb_of(rel, entry)
            if apex is None:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), _origin_rel(entry) or "."))
            if not target.startswith("..") and (site / target).is_dir():
                continue  # resolves inside this same entry: fine through a link
            out.append(OriginClimb(file=rel, rpath=entry, apex=apex))
    return out
