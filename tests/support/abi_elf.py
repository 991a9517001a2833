"""Craft tiny ELF files for the ABI checks: a header for any class, byte order and machine, and
optionally a dynamic symbol table (``.dynsym`` + ``.dynstr``) with defined, undefined and weak
symbols. Nothing here is loadable; the bytes are what ``forge_store.abi`` reads.

``elf(machine=183)`` is an AArch64 header; ``elf(undefined=["PyType_FromMetaclass"])`` an
extension that needs that C API function.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence

EM_386, EM_X86_64, EM_AARCH64, EM_PPC64 = 3, 62, 183, 21


def native() -> tuple[int, int, int]:
    """(class, byte order, machine) of the running interpreter's own binary."""
    with open(sys.executable, "rb") as f:
        head = f.read(20)
    order = head[5]
    (machine,) = struct.unpack_from("<H" if order == 1 else ">H", head, 18)
    return head[4], order, machine


def elf(
    machine: int | None = None,
    *,
    cls: int | None = None,
    order: int | None = None,
    undefined: Sequence[str] = (),
    weak: Sequence[str] = (),
    defined: Sequence[str] = (),
) -> bytes:
    """An ELF shared object's bytes (64-bit layouts only carry a symbol table)."""
    n_cls, n_order, n_machine = native()
    cls = cls or n_cls
    order = order or n_order
    machine = n_machine if machine is None else machine
    e = "<" if order == 1 else ">"
    ident = b"\x7fELF" + bytes([cls, order, 1, 0]) + b"\0" * 8
    symbols = (
        [(n, 0x10, 0) for n in undefined] + [(n, 0x20, 0) for n in weak] + [(n, 0x12, 7) for n in defined]
    )
    if cls != 2 or not symbols:
        body = struct.pack(e + "HHI", 3, machine, 1)
        return ident + body + b"\0" * (64 - len(ident) - len(body))
    strtab = b"\0"
    offsets = []
    for name, _, _ in symbols:
        offsets.append(len(strtab))
        strtab += name.encode() + b"\0"
    dynsym = b"\0" * 24 + b"".join(
        struct.pack(e + "IBBHQQ", off, info, 0, shndx, 0, 0)
        for off, (_, info, shndx) in zip(offsets, symbols, strict=True)
    )
    dynsym_off = 64
    dynstr_off = dynsym_off + len(dynsym)
    shoff = dynstr_off + len(strtab)
    shoff += -shoff % 8
    header = ident + struct.pack(e + "HHIQQQIHHHHHH", 3, machine, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 0)
    sections = b"\0" * 64
    sections += struct.pack(e + "IIQQQQIIQQ", 0, 11, 2, 0, dynsym_off, len(dynsym), 2, 1, 8, 24)
    sections += struct.pack(e + "IIQQQQIIQQ", 0, 3, 2, 0, dynstr_off, len(strtab), 0, 0, 1, 0)
    data = header + dynsym + strtab
    return data + b"\0" * (shoff - len(data)) + sections
