"""ABI checks: compiled code in a visible dist that does not fit the env's interpreter.

A wheel's tags decide whether it may be installed, but tags are a claim the file name makes: a
``py3-none-any`` wheel can carry ``_ext.cpython-312-x86_64-linux-gnu.so``, a ``manylinux_x86_64``
one an aarch64 library, a ``cp37-abi3`` one an extension that calls C API functions added in 3.12.
Tag-based store reuse (one ``py3-none-any`` entry serving 3.10 to 3.13) makes such lies reach
every interpreter. What this module looks at, per entry, from the bytes:

* **extension suffixes**: an extension module whose suffix names an interpreter tag
  (``.cpython-312-x86_64-linux-gnu.so``, a debug ``d`` or free-threaded ``t`` ABI, another platform
  triple, ``.pypy39-pp73-...``, ``.abi3.so`` where abi3 is not importable) that is not one of the
  target interpreter's ``EXTENSION_SUFFIXES``: ``import`` does not see it, or falls back to
  something else;
* **ELF headers** (class, byte order, ``e_machine``, the first 20 bytes) that differ from the
  interpreter's own binary, and extension modules that are not ELF at all (Mach-O, PE). Other
  libraries count only when the entry has no binary for this platform at all (a multi-platform
  bundle carries other platforms' libraries beside this one's on purpose);
* **abi3 floors**: an ``.abi3.so`` whose undefined, non-weak C API symbols the interpreter does
  not export (a function of a newer stable ABI than the wheel's tag claims): it fails to load;
* **tags**: an entry linked although none of its tags fits the interpreter at all.

The scan of an entry (:func:`scan_entry`) depends on its bytes only, so it is recorded once in the
entry's metadata (``abi_scan``, at ingest; lazily for older entries) and cached per process: a
check over a stack reads no file of the store. What an interpreter accepts (:func:`target_of`)
is probed once per interpreter and process.
"""

from __future__ import annotations

import functools
import mmap
import os
import re
import stat
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from .models import Layer
from .policy import CheckContext, Finding, Kind

if TYPE_CHECKING:
    from .models import Interpreter
    from .stack import StackDist, StackView
    from .store import Store

SCAN_VERSION = 1
META_KEY = "abi_scan"

_ELF_MAGIC = b"\x7fELF"
_MACHINES = {
    2: "SPARC",
    3: "i386",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "s390",
    40: "ARM",
    43: "SPARC64",
    50: "IA-64",
    62: "x86_64",
    183: "AArch64",
    243: "RISC-V",
    258: "LoongArch",
}
# ``platform.machine()`` -> (ELF class, byte order, e_machine), for when the binary cannot be read
_BY_MACHINE: dict[str, tuple[int, int, int]] = {
    "x86_64": (2, 1, 62),
    "amd64": (2, 1, 62),
    "i386": (1, 1, 3),
    "i686": (1, 1, 3),
    "aarch64": (2, 1, 183),
    "arm64": (2, 1, 183),
    "armv7l": (1, 1, 40),
    "ppc64le": (2, 1, 21),
    "ppc64": (2, 2, 21),
    "s390x": (2, 2, 22),
    "riscv64": (2, 1, 243),
    "loongarch64": (2, 1, 258),
}
_MACHO = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # a universal binary
)
# an interpreter tag in an extension module's suffix: what importlib matches literally
_TAGGED = re.compile(r"^\.(?:(?:cpython|pypy|graalpy|pyston)[-\w.]*|abi3)\.so$")
_CPYTHON = re.compile(r"^\.cpython-(\d)(\d+)([a-z]*)(?:-(.+))?\.so$")
_PYPY = re.compile(r"^\.(pypy\d+-pp\d+)(?:-(.+))?\.so$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_CHAIN = 12


# -- what an entry holds ---------------------------------------------------------------------------


@record(frozen=True, slots=True)
class Binary:
    """One compiled file of an entry, as its bytes say."""

    path: str  # relative to the entry directory ("site/pkg/_ext.cpython-311-x86_64-linux-gnu.so")
    format: str  # "elf" | "mach-o" | "pe" | "other"
    elf: tuple[int, int, int] | None = None  # (class 1/2, byte order 1 little/2 big, e_machine)
    py_undefined: tuple[str, ...] = ()  # abi3 extensions: C API symbols it needs (undefined, not weak)

    @property
    def shown(self) -> str:
        return self.path[len("site/") :] if self.path.startswith("site/") else self.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def to_json(self) -> list[object]:
        return [self.path, self.format, list(self.elf) if self.elf else None, list(self.py_undefined)]

    @classmethod
    def from_json(cls, raw: object) -> Binary | None:
        if not isinstance(raw, list) or len(raw) != 4:
            return None
        path, fmt, elf, undefined = raw
        header = tuple(int(x) for x in elf) if isinstance(elf, list) and len(elf) == 3 else None
        names = tuple(str(x) for x in undefined) if isinstance(undefined, list) else ()
        return cls(str(path), str(fmt), header, names)  # type: ignore[arg-type]


def extension_suffix(name: str) -> str | None:
    """The suffix importlib would match for a file that looks like an extension module
    (``_ext.cpython-312-x86_64-linux-gnu.so`` -> ``.cpython-312-x86_64-linux-gnu.so``), or None
    (``libz.so.1``, ``lib.foo.so``: never imported as a module)."""
    if name.endswith(".pyd"):
        stem, dot, _ = name.partition(".")
        return name[len(stem) :] if dot and _IDENT.match(stem) else None
    if not name.endswith(".so"):
        return None
    stem, _, _ = name.partition(".")
    if not _IDENT.match(stem):
        return None
    return name[len(stem) :]


def _candidate(name: str, mode: int) -> bool:
    """Files worth reading the header of: libraries and extensions by name, executables by mode."""
    if name.endswith((".so", ".pyd", ".dylib", ".dll")) or ".so." in name:
        return True
    return bool(mode & 0o111) and not name.endswith((".py", ".sh", ".txt"))


def _read_header(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(20)
    except OSError:
        return b""


def elf_ident(head: bytes) -> tuple[int, int, int] | None:
    """(class, byte order, e_machine) of an ELF header's first 20 bytes; None if not ELF."""
    if len(head) < 20 or head[:4] != _ELF_MAGIC or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    (machine,) = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)
    return (head[4], head[5], machine)


def _format(head: bytes) -> str:
    if head[:4] == _ELF_MAGIC:
        return "elf"
    if head[:4] in _MACHO:
        return "mach-o"
    if head[:2] == b"MZ":
        return "pe"
    return "other"


def scan_entry(entry_dir: Path) -> list[Binary]:
    """Every compiled file of an unpacked entry (``site/``, ``data/``, ``scripts/``), from its bytes."""
    out: list[Binary] = []
    for part in ("site", "data", "scripts"):
        top = entry_dir / part
        for dirpath, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or not _candidate(name, st.st_mode):
                    continue
                head = _read_header(full)
                fmt = _format(head)
                suffix = extension_suffix(name)
                if fmt == "other" and suffix is None:
                    continue  # a script, a linker script, data
                rel = os.path.relpath(full, entry_dir).replace(os.sep, "/")
                undefined: tuple[str, ...] = ()
                if fmt == "elf" and suffix == ".abi3.so":
                    undefined = tuple(sorted(_py_symbols(full, defined=False)))
                out.append(Binary(rel, fmt, elf_ident(head), undefined))
    return out


def _exported_by(path: str) -> frozenset[str]:
    """``_py_symbols(path, defined=True)``, read once per process while the file's stat holds:
    a check before and after each change looks at the same interpreter (~10 ms a read)."""
    try:
        st = os.stat(path)
    except OSError:
        return frozenset()
    return _exported_as_of(path, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _exported_as_of(path: str, stamp: tuple[int, int, int, int]) -> frozenset[str]:
    return frozenset(_py_symbols(path, defined=True))


def _py_symbols(path: str, *, defined: bool) -> set[str]:
    """C API names (``Py*``, ``_Py*``) in an ELF's dynamic symbol table: the ones it exports
    (``defined``) or the ones it needs (undefined and not weak: a weak one is looked up at run
    time by code that copes without it). Empty when the file cannot be parsed."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _dynsym(data, defined)
    except (OSError, ValueError):
        return set()


def _dynsym(data: mmap.mmap, defined: bool) -> set[str]:
    if data[:4] != _ELF_MAGIC or len(data) < 64:
        return set()
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    out: set[str] = set()
    try:
        if is64:
            (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
            sh_fmt, sym_fmt = end + "IIQQQQIIQQ", end + "IBBHQQ"
        else:
            (shoff,) = struct.unpack_from(end + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
            sh_fmt, sym_fmt = end + "IIIIIIIIII", end + "IIIBBH"
        sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
        sym_size = struct.calcsize(sym_fmt)
        for sec in sections:
            if sec[1] != 11:  # SHT_DYNSYM
                continue
            offset, size, link = sec[4], sec[5], sec[6]
            str_off = sections[link][4]
            for pos in range(offset + sym_size, offset + size, sym_size):  # entry 0 is null
                fields = struct.unpack_from(sym_fmt, data, pos)
                if is64:
                    name_off, info, shndx = fields[0], fields[1], fields[3]
                else:
                    name_off, info, shndx = fields[0], fields[3], fields[5]
                if (shndx != 0) != defined:
                    continue
                if not defined and info >> 4 == 2:  # STB_WEAK
                    continue
                start = str_off + name_off
                if data[start : start + 1] not in (b"P", b"_"):
                    continue
                stop = data.find(b"\0", start)
                if stop < 0:
                    continue
                name = data[start:stop].decode("ascii", "replace")
                if name.startswith(("Py", "_Py")):
                    out.add(name)
        return out
    except (struct.error, IndexError, ValueError):
        return set()


# entry id -> (wheel file name, compiled files); entries never change, so this never goes stale
_scans: dict[str, tuple[str, tuple[Binary, ...]]] = {}


def scan_meta(entry_dir: Path) -> dict[str, object]:
    """The ``abi_scan`` value an entry's metadata records (ingest calls this on the staging dir)."""
    return {"version": SCAN_VERSION, "files": [b.to_json() for b in scan_entry(entry_dir)]}


def _from_meta(meta: Mapping[str, object]) -> tuple[Binary, ...] | None:
    raw = meta.get(META_KEY)
    if not isinstance(raw, dict) or raw.get("version") != SCAN_VERSION:
        return None
    files = raw.get("files")
    if not isinstance(files, list):
        return None
    found = [Binary.from_json(f) for f in files]
    return tuple(b for b in found if b is not None)


def entry_binaries(store: Store, entry_ids: Sequence[str]) -> dict[str, tuple[str, tuple[Binary, ...]]]:
    """(wheel file name, compiled files) of each entry: from this process's cache, the entry's
    metadata, or a scan of the sealed entry (then recorded in its metadata: entries never change)."""
    out = {eid: _scans[eid] for eid in entry_ids if eid in _scans}
    todo = [eid for eid in entry_ids if eid not in out]
    if not todo:
        return out
    for eid, row in store.catalog.entries(todo).items():
        found = _from_meta(row.meta)
        if found is None:
            entry_dir = store.entry_path(row)  # an upstream's entry is read in place
            if not entry_dir.is_dir():
                continue  # deleted by hand: doctor says so; nothing to scan
            value = scan_meta(entry_dir)
            found = _from_meta({META_KEY: value}) or ()
            if not store.read_only and not store.catalog.read_only:
                store.catalog.merge_meta(eid, {META_KEY: value})
        _scans[eid] = (str(row.meta.get("filename") or ""), found)
        out[eid] = _scans[eid]
    return out


# -- what an interpreter accepts -------------------------------------------------------------------


@record(frozen=True)  # not slotted: ``exported`` is cached on the instance
class Target:
    """What one interpreter loads: extension suffixes, its binary's ELF identity, its C API."""

    interpreter: Interpreter
    suffixes: tuple[str, ...]
    elf: tuple[int, int, int] | None
    libraries: tuple[str, ...]  # the binaries that export its C API (executable, libpython)
    tags: frozenset[str]

    @functools.cached_property
    def exported(self) -> frozenset[str]:
        """Every ``Py*`` / ``_Py*`` symbol the interpreter exports (empty: unknown)."""
        names: set[str] = set()
        for lib in self.libraries:
            names |= _exported_by(lib)
        return frozenset(names)

    @property
    def label(self) -> str:
        interp = self.interpreter
        impl = {"cpython": "CPython", "pypy": "PyPy"}.get(interp.implementation, interp.implementation)
        flags = interp.abiflags if interp.abiflags else ""
        return f"{impl} {interp.short_version}{flags}"


def _suffixes(interp: Interpreter) -> tuple[str, ...]:
    if interp.extension_suffixes:
        return interp.extension_suffixes
    # an env recorded by an older probe: what CPython on POSIX uses
    own = (f".{interp.soabi}.so",) if interp.soabi else ()
    abi3 = (".abi3.so",) if interp.implementation == "cpython" and "t" not in interp.abiflags else ()
    return (*own, *abi3, ".so")


def _libraries(interp: Interpreter) -> tuple[str, ...]:
    exe = str(interp.executable)
    libs = [exe]
    if interp.libpython:
        libs.append(interp.libpython)
    else:  # an older probe: a --enable-shared build keeps it in PREFIX/lib
        name = f"libpython{interp.short_version}{interp.abiflags}.so.1.0"
        guess = interp.executable.parent.parent / "lib" / name
        if guess.is_file():
            libs.append(str(guess))
    return tuple(libs)


_targets: dict[tuple[object, ...], Target] = {}


def target_of(interp: Interpreter) -> Target:
    """What ``interp`` accepts, probed once per process (its binary's header, its wheel tags)."""
    from . import interpreters

    key = (str(interp.executable), interp.version, interp.abiflags, interp.soabi, interp.machine)
    found = _targets.get(key)
    if found is None:
        elf = elf_ident(_read_header(os.path.realpath(interp.executable)))
        elf = elf or _BY_MACHINE.get(interp.machine.lower())
        tags = frozenset(interpreters.wheel_tags(interp))
        found = Target(interp, _suffixes(interp), elf, _libraries(interp), tags)
        _targets[key] = found
    return found


# -- the check -------------------------------------------------------------------------------------


def _elf_mismatch(got: tuple[int, int, int], want: tuple[int, int, int]) -> str:
    """``is ELF for AArch64, not x86_64`` (or the class / byte order that differs)."""
    if got[2] != want[2]:
        name = _MACHINES.get(got[2], f"e_machine {got[2]}")
        return f"is ELF for {name}, not {_MACHINES.get(want[2], f'e_machine {want[2]}')}"
    bits = {1: "32-bit", 2: "64-bit"}
    order = {1: "little-endian", 2: "big-endian"}
    if got[0] != want[0]:
        return f"is {bits[got[0]]} ELF, not {bits[want[0]]}"
    return f"is {order[got[1]]} ELF, not {order[want[1]]}"


def _suffix_problem(suffix: str, target: Target) -> str | None:
    """Why an extension with this suffix does not load in ``target``, or None if it does (or if
    its suffix names no interpreter: a plain ``.so`` loads everywhere)."""
    if suffix in target.suffixes:
        return None
    if suffix.endswith(".pyd"):
        return "is a Windows extension module"
    if not _TAGGED.match(suffix):
        return None
    interp = target.interpreter
    if suffix == ".abi3.so":
        return f"is an abi3 extension, which {target.label} does not import"
    m = _CPYTHON.match(suffix)
    if m:
        version, flags, triple = f"{m[1]}.{m[2]}", m[3], m[4]
        if version != interp.short_version or interp.implementation != "cpython":
            return f"is built for CPython {version}{flags}"
        if flags != interp.abiflags:
            what = {"d": "a debug", "t": "a free-threaded", "": "a default"}.get(flags, f"the {flags!r}")
            return f"is built for {what} build of CPython {version} ({flags or 'no'} ABI flags)"
        if triple and interp.multiarch and triple != interp.multiarch:
            return f"is built for platform {triple}, not {interp.multiarch}"
        return f"has a suffix {target.label} does not import ({suffix})"
    m = _PYPY.match(suffix)
    if m:
        return f"is built for PyPy ({m[1]})"
    return f"has a suffix {target.label} does not import ({suffix})"


def problems(binaries: Sequence[Binary], target: Target) -> list[str]:
    """One line per compiled file of an entry that does not fit ``target``."""
    out: list[str] = []
    own = target.elf
    native = own is not None and any(b.elf == own for b in binaries)
    for b in binaries:
        suffix = extension_suffix(b.name)
        # a plain ``libfoo.so`` is a library by convention (an extension module has no "lib")
        loads = suffix is not None and suffix in target.suffixes
        loads = loads and not (suffix == ".so" and b.name.startswith("lib"))
        why = _suffix_problem(suffix, target) if suffix is not None else None
        if why is not None:
            out.append(f"{b.shown} {why}")
            continue
        if own is not None and b.format == "elf" and b.elf is not None and b.elf != own:
            if loads or not native:
                out.append(f"{b.shown} {_elf_mismatch(b.elf, own)}")
            continue
        if loads and b.format in ("mach-o", "pe"):
            out.append(f"{b.shown} is a {'Mach-O (macOS)' if b.format == 'mach-o' else 'PE (Windows)'} file")
            continue
        if loads and suffix == ".abi3.so" and b.py_undefined and target.exported:
            missing = [s for s in b.py_undefined if s not in target.exported]
            if missing:
                more = f" and {len(missing) - 2} more" if len(missing) > 2 else ""
                out.append(
                    f"{b.shown} needs {', '.join(missing[:2])}{more}, which {target.label} does not"
                    " export (its stable ABI floor is newer)"
                )
    return out


def _where(d: StackDist) -> str:
    return {Layer.LOCAL: "local", Layer.PARENT: "parent", Layer.GLOBAL: "global"}[d.layer] + f" {d.env!r}"


def _tag_words(filename: str) -> str:
    """``tag py3-none-any`` from a wheel's file name (``its tags`` if there is none)."""
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        if len(parts) >= 5:
            return f"tag {'-'.join(parts[-3:])}"
    return "tags"


def compiled_code(view: StackView, ctx: CheckContext) -> Iterable[Finding]:
    """One finding per visible dist with compiled files that do not fit the env's interpreter."""
    target = target_of(view.env.interpreter)
    winners = [d for d in view.winners().values() if d.entry_id is not None]
    scans = entry_binaries(ctx.store, [d.entry_id for d in winners if d.entry_id is not None])
    for d in sorted(winners, key=lambda d: d.name):
        assert d.entry_id is not None
        filename, binaries = scans.get(d.entry_id, ("", ()))
        found: list[str] = []
        fits = not d.tags or bool(set(d.tags) & target.tags)
        if not fits:
            found.append(f"none of its tags fits {target.label} ({view.env.interpreter.abi_key})")
        found += problems(binaries, target)
        if not found:
            continue
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        why = f" although its {_tag_words(filename)} lets it in" if fits else ""
        chain = found[:_MAX_CHAIN]
        if len(found) > _MAX_CHAIN:
            chain.append(f"... {len(found) - _MAX_CHAIN} more")
        yield Finding(
            Kind.ABI,
            view.env.name,
            d.name,
            f"{d.name} {d.version} ({_where(d)}) does not fit {target.label}{why}: {found[0]}{more}",
            tuple(chain),
            (d.name,),
            (d.env,),
        )


def iter_findings(store: Store, env_name: str) -> Iterator[Finding]:
    """The ABI findings of one env's stack as it is now (a convenience for tools and tests)."""
    from . import stack

    env = store.env(env_name)
    yield from compiled_code(stack.build(store, env), CheckContext(store, env))


CHECKS = (compiled_code,)
