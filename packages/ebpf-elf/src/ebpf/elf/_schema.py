# ruff: noqa: RUF009 - csfield() is construct-typing's dataclass field specifier, not a default value
"""The declarative description of ELF64, as ``construct`` schemas.

The layouts are those of ``<elf.h>`` (``Elf64_Ehdr``, ``Elf64_Shdr``,
``Elf64_Phdr``, ``Elf64_Sym``, ``Elf64_Rel``, ``Elf64_Rela``, ``Elf64_Verdef``,
``Elf64_Verdaux``). Every integer field takes its byte order from the
``little`` parameter of ``parse(data, little=...)``, read from ``e_ident``
first, so one schema describes both little- and big-endian files.

Symbol tables of large binaries (tens of thousands of symbols) are also
unpacked by a ``struct`` fast path in :mod:`._elf`, checked against
:data:`SYMBOL` by the tests. Nothing here leaves this module as a
``Container``: parsing returns the typed dataclasses below.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import construct as cs
from construct_typed import DataclassMixin, DataclassStruct, csfield

__all__ = [
    "ELF_MAGIC",
    "FILE_HEADER",
    "IDENT",
    "PROGRAM_HEADER",
    "REL",
    "RELA",
    "SECTION_HEADER",
    "SYMBOL",
    "VERDAUX",
    "VERDEF",
    "ElfIdent",
    "FileHeader",
    "ProgramHeader",
    "Rel",
    "Rela",
    "SectionHeader",
    "Symbol",
    "Verdaux",
    "Verdef",
]

ELF_MAGIC = b"\x7fELF"


def _little(context: Any) -> bool:
    return bool(context._params.little)


def _u(size: int) -> cs.Construct[int, int]:
    """An unsigned integer in the file's byte order."""
    return cs.BytesInteger(size, signed=False, swapped=_little)


def _s(size: int) -> cs.Construct[int, int]:
    """A signed integer in the file's byte order."""
    return cs.BytesInteger(size, signed=True, swapped=_little)


@dataclasses.dataclass
class ElfIdent(DataclassMixin):
    """``e_ident``: magic, class (2: 64-bit), data encoding (1: little, 2: big endian), version, ABI."""

    magic: bytes = csfield(cs.Bytes(4))
    elf_class: int = csfield(cs.Int8ub)
    data: int = csfield(cs.Int8ub)
    version: int = csfield(cs.Int8ub)
    osabi: int = csfield(cs.Int8ub)
    abiversion: int = csfield(cs.Int8ub)
    pad: bytes = csfield(cs.Bytes(7))


IDENT = DataclassStruct(ElfIdent)


@dataclasses.dataclass
class FileHeader(DataclassMixin):
    """``Elf64_Ehdr``."""

    ident: ElfIdent = csfield(IDENT)
    type: int = csfield(_u(2))
    machine: int = csfield(_u(2))
    version: int = csfield(_u(4))
    entry: int = csfield(_u(8))
    phoff: int = csfield(_u(8))
    shoff: int = csfield(_u(8))
    flags: int = csfield(_u(4))
    ehsize: int = csfield(_u(2))
    phentsize: int = csfield(_u(2))
    phnum: int = csfield(_u(2))
    shentsize: int = csfield(_u(2))
    shnum: int = csfield(_u(2))
    shstrndx: int = csfield(_u(2))


FILE_HEADER = DataclassStruct(FileHeader)


@dataclasses.dataclass
class SectionHeader(DataclassMixin):
    """``Elf64_Shdr``."""

    name: int = csfield(_u(4))
    type: int = csfield(_u(4))
    flags: int = csfield(_u(8))
    addr: int = csfield(_u(8))
    offset: int = csfield(_u(8))
    size: int = csfield(_u(8))
    link: int = csfield(_u(4))
    info: int = csfield(_u(4))
    addralign: int = csfield(_u(8))
    entsize: int = csfield(_u(8))


SECTION_HEADER = DataclassStruct(SectionHeader)


@dataclasses.dataclass
class ProgramHeader(DataclassMixin):
    """``Elf64_Phdr``: a segment."""

    type: int = csfield(_u(4))
    flags: int = csfield(_u(4))
    offset: int = csfield(_u(8))
    vaddr: int = csfield(_u(8))
    paddr: int = csfield(_u(8))
    filesz: int = csfield(_u(8))
    memsz: int = csfield(_u(8))
    align: int = csfield(_u(8))


PROGRAM_HEADER = DataclassStruct(ProgramHeader)


@dataclasses.dataclass
class Symbol(DataclassMixin):
    """``Elf64_Sym``; ``info`` is ``bind << 4 | type``, ``other`` holds the visibility."""

    name: int = csfield(_u(4))
    info: int = csfield(cs.Int8ub)
    other: int = csfield(cs.Int8ub)
    shndx: int = csfield(_u(2))
    value: int = csfield(_u(8))
    size: int = csfield(_u(8))


SYMBOL = DataclassStruct(Symbol)


@dataclasses.dataclass
class Rel(DataclassMixin):
    """``Elf64_Rel``; ``info`` is ``symbol index << 32 | type``."""

    offset: int = csfield(_u(8))
    info: int = csfield(_u(8))


REL = DataclassStruct(Rel)


@dataclasses.dataclass
class Rela(DataclassMixin):
    """``Elf64_Rela``: a relocation with an explicit addend."""

    offset: int = csfield(_u(8))
    info: int = csfield(_u(8))
    addend: int = csfield(_s(8))


RELA = DataclassStruct(Rela)


@dataclasses.dataclass
class Verdef(DataclassMixin):
    """``Elf64_Verdef``: one version definition of ``.gnu.version_d``."""

    version: int = csfield(_u(2))
    flags: int = csfield(_u(2))
    ndx: int = csfield(_u(2))
    cnt: int = csfield(_u(2))
    hash: int = csfield(_u(4))
    aux: int = csfield(_u(4))
    next: int = csfield(_u(4))


VERDEF = DataclassStruct(Verdef)


@dataclasses.dataclass
class Verdaux(DataclassMixin):
    """``Elf64_Verdaux``: the name of a version definition."""

    name: int = csfield(_u(4))
    next: int = csfield(_u(4))


VERDAUX = DataclassStruct(Verdaux)
