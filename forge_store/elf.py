"""Read ELF files: ``$ORIGIN`` entries that climb with ``..``, and each file's native needs.

glibc expands ``$ORIGIN`` from the unresolved path of the loaded file, but the kernel resolves ``..``
physically: from inside a directory symlink, ``$ORIGIN/../x`` lands in the store, not the env.
Ingest records every such climb; the linker decides, for the env's actual layout, which linked
directories on the way must become real (DESIGN.md section 3, ``linker.LayoutBuilder``).

Ingest also records a :class:`NativeInfo` per ELF (``DT_NEEDED`` sonames, ``DT_SONAME``, machine,
class, the highest ``GLIBC_x.y`` version it needs), read from the program headers as the loader
reads them; :func:`native_files` gives them back for an entry (the native checks, ``forge_store.
native``).
"""

from __future__ import annotations

import dataclasses
import mmap
import os
import posixpath
import stat
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from .models import OriginClimb

if TYPE_CHECKING:
    from .catalog import EntryRow

# Version of the ELF scan recorded in an entry's metadata (``climb_scan``). Entries of an older
# scan are rescanned once (1: climbs whose target was a directory of the same entry were left
# out; 2: no ``native`` record).
SCAN_VERSION = 3

_MAGIC = b"\x7fELF"
_MAX_DYN = 1 << 16  # dynamic entries read at most (real files have a few dozen)
_MAX_RPATH = 1 << 16  # bytes of one RPATH/RUNPATH string
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
            for pos in range(offset, offset + min(size, _MAX_DYN * dyn_size), dyn_size):
                tag, val = struct.unpack_from(dyn_fmt, data, pos)
                if tag == _DT_NULL:
                    break
                if tag in (_DT_RPATH, _DT_RUNPATH):
                    start = str_off + val
                    stop = data.find(b"\0", start, start + _MAX_RPATH)
                    if stop < 0:
                        raise ValueError("unterminated string")
                    out.extend(p for p in data[start:stop].decode("utf-8", "replace").split(":") if p)
            break  # one dynamic section (the loader reads one); more are a crafted file's loop
        return out
    except (struct.error, IndexError, ValueError, OverflowError):  # offsets past any size
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
    return scan_climbs(site, _site_files(site))


# -- native needs of each ELF ---------------------------------------------------------------------

_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NEEDED, _DT_STRTAB, _DT_SONAME = 1, 5, 14
_DT_VERNEED, _DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
_MAX_PHDRS = 4096
_MAX_VERSIONS = 4096
_MAX_STR = 4096
_MACHINES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    258: "loongarch",
}


@record(frozen=True, slots=True)
class NativeInfo:
    """What one ELF file needs from the loader (recorded at ingest in the entry's ``native``)."""

    machine: str  # e_machine: "x86_64", "aarch64", ... ("em-<n>" for others)
    elf_class: int  # 32 or 64
    needed: tuple[str, ...] = ()  # DT_NEEDED sonames, in the file's order
    soname: str | None = None  # DT_SONAME
    glibc: str | None = None  # the highest GLIBC_x.y[.z] it needs (.gnu.version_r), e.g. "2.17"

    def to_dict(self) -> dict[str, object]:
        return {
            "machine": self.machine,
            "class": self.elf_class,
            "needed": list(self.needed),
            "soname": self.soname,
            "glibc": self.glibc,
        }

    @classmethod
    def from_dict(cls, raw: object) -> NativeInfo | None:
        """The record written by :meth:`to_dict`; ``None`` for anything malformed."""
        if not isinstance(raw, dict):
            return None
        machine, klass, needed = raw.get("machine"), raw.get("class"), raw.get("needed")
        soname, glibc = raw.get("soname"), raw.get("glibc")
        if not isinstance(machine, str) or klass not in (32, 64) or not isinstance(needed, list):
            return None
        if not all(isinstance(n, str) for n in needed):
            return None
        return cls(
            machine,
            int(klass),
            tuple(needed),
            soname if isinstance(soname, str) else None,
            glibc if isinstance(glibc, str) else None,
        )


def glibc_key(version: str) -> tuple[int, ...]:
    """``"2.17"`` -> ``(2, 17)``, for comparing GLIBC versions (``()`` if not one)."""
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


def native_info(path: Path) -> NativeInfo | None:
    """The :class:`NativeInfo` of one file; ``None`` if it is not a (readable) ELF file.

    Read through the program headers as the dynamic loader reads them (section headers may be
    stripped or lie), from a mapping: only the pages of the headers, the dynamic segment, its
    strings and the version needs are touched."""
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _native(data)
    except (OSError, ValueError):
        return None


def _cstr(data: mmap.mmap, start: int) -> str:
    if start < 0 or start >= len(data):
        raise ValueError("string out of range")
    stop = data.find(b"\0", start, start + _MAX_STR)
    if stop < 0:
        raise ValueError("unterminated string")
    return data[start:stop].decode("utf-8", "replace")


def _native(data: mmap.mmap) -> NativeInfo | None:
    if len(data) < 52 or data[:4] != _MAGIC or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    (em,) = struct.unpack_from(end + "H", data, 0x12)
    info = NativeInfo(_MACHINES.get(em, f"em-{em}"), 64 if is64 else 32)
    try:
        if is64:
            (phoff,) = struct.unpack_from(end + "Q", data, 0x20)
            phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
            ph_fmt, i_off, i_vaddr, i_size, dyn_fmt = end + "IIQQQQQQ", 2, 3, 5, end + "qQ"
        else:
            (phoff,) = struct.unpack_from(end + "I", data, 0x1C)
            phentsize, phnum = struct.unpack_from(end + "HH", data, 0x2A)
            ph_fmt, i_off, i_vaddr, i_size, dyn_fmt = end + "IIIIIIII", 1, 2, 4, end + "iI"
        if phentsize < struct.calcsize(ph_fmt):
            return info
        loads: list[tuple[int, int, int]] = []  # (vaddr, filesz, offset)
        dynamic: tuple[int, int] | None = None
        for i in range(min(phnum, _MAX_PHDRS)):
            ph = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
            if ph[0] == _PT_LOAD:
                loads.append((ph[i_vaddr], ph[i_size], ph[i_off]))
            elif ph[0] == _PT_DYNAMIC and dynamic is None:
                dynamic = (ph[i_off], ph[i_size])
        if dynamic is None:
            return info  # static: needs nothing from the loader

        def offset_of(vaddr: int) -> int:
            for base, size, off in loads:
                if base <= vaddr < base + size:
                    return vaddr - base + off
            raise ValueError("address outside every loaded segment")

        dyn_size = struct.calcsize(dyn_fmt)
        tags: list[tuple[int, int]] = []
        start, size = dynamic
        for pos in range(start, start + min(size, _MAX_DYN * dyn_size), dyn_size):
            tag, val = struct.unpack_from(dyn_fmt, data, pos)
            if tag == _DT_NULL:
                break
            tags.append((tag, val))
        strtab = next((v for t, v in tags if t == _DT_STRTAB), None)
        if strtab is None:
            return info
        str_off = offset_of(strtab)
        needed = tuple(_cstr(data, str_off + v) for t, v in tags if t == _DT_NEEDED)
        soname = next((_cstr(data, str_off + v) for t, v in tags if t == _DT_SONAME), None)
        verneed = next((v for t, v in tags if t == _DT_VERNEED), None)
        count = next((v for t, v in tags if t == _DT_VERNEEDNUM), 0)
        glibc = None
        if verneed is not None:
            glibc = _glibc_needed(data, end, offset_of(verneed), count, str_off)
        return dataclasses.replace(info, needed=needed, soname=soname, glibc=glibc)
    except (struct.error, IndexError, ValueError, OverflowError):
        return info


def _glibc_needed(data: mmap.mmap, end: str, pos: int, count: int, str_off: int) -> str | None:
    """The highest ``GLIBC_x.y`` among the version needs (``Elf_Verneed`` / ``Elf_Vernaux``, the
    same 16-byte layout in both classes); the walk is bounded, so looping ``next`` links end."""
    best: tuple[tuple[int, ...], str] | None = None
    seen = 0
    for _ in range(min(count, _MAX_VERSIONS)):
        _ver, cnt, _file, aux, nxt = struct.unpack_from(end + "HHIII", data, pos)
        apos = pos + aux
        for _ in range(min(cnt, _MAX_VERSIONS)):
            seen += 1
            if seen > _MAX_VERSIONS:
                return best[1] if best else None
            _hash, _flags, _other, name, anext = struct.unpack_from(end + "IHHII", data, apos)
            text = _cstr(data, str_off + name)
            if text.startswith("GLIBC_"):
                key = glibc_key(text[6:])
                if key and (best is None or key > best[0]):
                    best = (key, text[6:])
            if anext == 0:
                break
            apos += anext
        if nxt == 0:
            break
        pos += nxt
    return best[1] if best else None


def scan_native(site: Path, files: Iterable[str]) -> dict[str, NativeInfo]:
    """The :class:`NativeInfo` of every ELF among ``files`` (relative to ``site``); regular files
    only (a symlink in an entry is not followed)."""
    out: dict[str, NativeInfo] = {}
    for rel in files:
        path = site / rel
        if not _candidate(path, posixpath.basename(rel)):
            continue
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
        except OSError:
            continue
        found = native_info(path)
        if found is not None:
            out[rel] = found
    return out


def _site_files(site: Path) -> list[str]:
    files: list[str] = []
    for dirpath, dirs, names in os.walk(site):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel_dir = os.path.relpath(dirpath, site)
        files.extend(name if rel_dir == "." else f"{rel_dir}/{name}" for name in names)
    return sorted(files)


def native_record(site: Path) -> dict[str, dict[str, object]]:
    """The ``native`` record of an unpacked ``site/`` for the entry's metadata."""
    return {rel: n.to_dict() for rel, n in sorted(scan_native(site, _site_files(site)).items())}


def rescan(site: Path) -> dict[str, object]:
    """Everything the current scan records in an entry's metadata (for entries of an older scan)."""
    files = _site_files(site)
    return {
        "climbs": [dataclasses.asdict(c) for c in scan_climbs(site, files)],
        "native": {rel: n.to_dict() for rel, n in sorted(scan_native(site, files).items())},
        "climb_scan": SCAN_VERSION,
    }


def native_files(entry: EntryRow) -> dict[str, NativeInfo]:
    """``{path relative to site/: NativeInfo}`` recorded for an entry (``{}`` for an entry of a
    scan before version 3: :meth:`Store._ensure_climbs` records it when the entry is next used)."""
    raw = entry.meta.get("native")
    if not isinstance(raw, dict):
        return {}
    out: dict[str, NativeInfo] = {}
    for rel, value in raw.items():
        found = NativeInfo.from_dict(value)
        if isinstance(rel, str) and found is not None:
            out[rel] = found
    return out
