"""GNU symbol versioning: ``.gnu.version`` and ``.gnu.version_d`` of shared libraries.

glibc exports several versions of some functions (``memcpy@GLIBC_2.2.5`` and
``memcpy@@GLIBC_2.14``); ``@@`` marks the default, the one a new program
links against. Each dynamic symbol has a 16-bit entry in ``.gnu.version``:
the index of a version definition in ``.gnu.version_d``, with bit 15 set
for a hidden (non-default) version; indexes 0 and 1 are "local" and
"global" (no version).
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING

from ebpf.syscall.errors import ParseError

from . import _schema as s
from ._elf import SectionType

if TYPE_CHECKING:
    from ._elf import ElfFile, ElfSection, ElfSymbol

__all__ = ["apply_versions"]

_VERSYM_HIDDEN = 0x8000
_VERDEF_SIZE = 20
_VERDAUX_SIZE = 8


def _definitions(elf: ElfFile, verdef: ElfSection) -> dict[int, str]:
    """``{version index: name}`` from ``.gnu.version_d`` (``sh_info`` definitions chained by ``vd_next``)."""
    data = elf.section_data(verdef)
    strtab = elf.section_at(verdef.link, f"{verdef}: string table link")
    names: dict[int, str] = {}
    offset = 0
    for _ in range(verdef.info):
        if offset + _VERDEF_SIZE > len(data):
            raise ParseError(f"{elf.name}: {verdef}: version definition at offset {offset} is truncated")
        definition = s.VERDEF.parse(data[offset : offset + _VERDEF_SIZE], little=elf.little_endian)
        aux = offset + definition.aux
        if definition.cnt and aux + _VERDAUX_SIZE <= len(data):
            verdaux = s.VERDAUX.parse(data[aux : aux + _VERDAUX_SIZE], little=elf.little_endian)
            names[definition.ndx] = elf.string(strtab, verdaux.name)
        if not definition.next:
            break
        offset += definition.next
    return names


def apply_versions(elf: ElfFile, dynsym: ElfSection, symbols: list[ElfSymbol]) -> list[ElfSymbol]:
    """``symbols`` (of ``dynsym``) with the versions they define filled in.

    Raises:
        ParseError: the version sections are malformed.
    """
    versym = next(
        (sec for sec in elf.sections if sec.type == SectionType.GNU_VERSYM and sec.link == dynsym.index), None
    )
    verdef = next((sec for sec in elf.sections if sec.type == SectionType.GNU_VERDEF), None)
    if versym is None or verdef is None:
        return symbols
    names = _definitions(elf, verdef)
    raw = elf.section_data(versym)
    if len(raw) < 2 * len(symbols):
        raise ParseError(f"{elf.name}: {versym}: {len(raw)} bytes for {len(symbols)} symbols")
    order = "<" if elf.little_endian else ">"
    entries = struct.unpack_from(f"{order}{len(symbols)}H", raw)
    versioned = []
    for symbol, entry in zip(symbols, entries, strict=True):
        name = names.get(entry & ~_VERSYM_HIDDEN, "") if not symbol.undefined else ""
        if name and name != symbol.name:  # the base definition is named after the library itself
            versioned.append(replace(symbol, version=name, default_version=not entry & _VERSYM_HIDDEN))
        else:
            versioned.append(symbol)
    return versioned
