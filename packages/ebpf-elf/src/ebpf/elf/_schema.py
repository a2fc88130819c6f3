"""The declarative description of ELF64, as ``construct`` schemas.

The layouts are those of ``<elf.h>`` (``Elf64_Ehdr``, ``Elf64_Shdr``,
``Elf64_Phdr``, ``Elf64_Sym``, ``Elf64_Rel``, ``Elf64_Rela``, ``Elf64_Verdef``,
``Elf64_Verdaux``, ``Elf64_Nhdr``) and the fixed head of a SystemTap SDT note.
Every integer field takes its byte order from the ``little`` parameter of
``parse(data, little=...)``, read from ``e_ident`` first, so one schema
describes both little- and big-endian files.

Symbol tables of large binaries (tens of thousands of symbols) are also
unpacked by a ``struct`` fast path in `_elf`, checked against
`SYMBOL` by the tests. Nothing here leaves this module as a
``Container``: each record is a ``cs.Struct`` inside an ``ExprAdapter`` that
parses into the dataclass written above it (its fields in the order of the
struct's) and builds from one (``vars()`` gives the struct its fields by
name). Only ``construct`` is needed at run time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import construct as cs

__all__ = [
    "ELF_MAGIC",
    "FILE_HEADER",
    "IDENT",
    "NOTE_HEADER",
    "PROGRAM_HEADER",
    "REL",
    "RELA",
    "SECTION_HEADER",
    "STAPSDT_ADDRESSES",
    "SYMBOL",
    "VERDAUX",
    "VERDEF",
    "ElfIdent",
    "FileHeader",
    "NoteHeader",
    "ProgramHeader",
    "Rel",
    "Rela",
    "SectionHeader",
    "StapsdtAddresses",
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
class ElfIdent:
    """``e_ident``: magic, class (2: 64-bit), data encoding (1: little, 2: big endian), version, ABI."""

    magic: bytes
    elf_class: int
    data: int
    version: int
    osabi: int
    abiversion: int
    pad: bytes


IDENT: cs.Construct[ElfIdent, ElfIdent] = cs.ExprAdapter(
    cs.Struct(
        "magic" / cs.Bytes(4),
        "elf_class" / cs.Int8ub,
        "data" / cs.Int8ub,
        "version" / cs.Int8ub,
        "osabi" / cs.Int8ub,
        "abiversion" / cs.Int8ub,
        "pad" / cs.Bytes(7),
    ),
    lambda c, _: ElfIdent(c.magic, c.elf_class, c.data, c.version, c.osabi, c.abiversion, c.pad),
    lambda ident, _: vars(ident),
)


@dataclasses.dataclass
class FileHeader:
    """``Elf64_Ehdr``."""

    ident: ElfIdent
    type: int
    machine: int
    version: int
    entry: int
    phoff: int
    shoff: int
    flags: int
    ehsize: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int


FILE_HEADER: cs.Construct[FileHeader, FileHeader] = cs.ExprAdapter(
    cs.Struct(
        "ident" / IDENT,
        "type" / _u(2),
        "machine" / _u(2),
        "version" / _u(4),
        "entry" / _u(8),
        "phoff" / _u(8),
        "shoff" / _u(8),
        "flags" / _u(4),
        "ehsize" / _u(2),
        "phentsize" / _u(2),
        "phnum" / _u(2),
        "shentsize" / _u(2),
        "shnum" / _u(2),
        "shstrndx" / _u(2),
    ),
    lambda c, _: FileHeader(
        c.ident,
        c.type,
        c.machine,
        c.version,
        c.entry,
        c.phoff,
        c.shoff,
        c.flags,
        c.ehsize,
        c.phentsize,
        c.phnum,
        c.shentsize,
        c.shnum,
        c.shstrndx,
    ),
    lambda header, _: vars(header),
)


@dataclasses.dataclass
class SectionHeader:
    """``Elf64_Shdr``."""

    name: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int


SECTION_HEADER: cs.Construct[SectionHeader, SectionHeader] = cs.ExprAdapter(
    cs.Struct(
        "name" / _u(4),
        "type" / _u(4),
        "flags" / _u(8),
        "addr" / _u(8),
        "offset" / _u(8),
        "size" / _u(8),
        "link" / _u(4),
        "info" / _u(4),
        "addralign" / _u(8),
        "entsize" / _u(8),
    ),
    lambda c, _: SectionHeader(
        c.name, c.type, c.flags, c.addr, c.offset, c.size, c.link, c.info, c.addralign, c.entsize
    ),
    lambda header, _: vars(header),
)


@dataclasses.dataclass
class ProgramHeader:
    """``Elf64_Phdr``: a segment."""

    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


PROGRAM_HEADER: cs.Construct[ProgramHeader, ProgramHeader] = cs.ExprAdapter(
    cs.Struct(
        "type" / _u(4),
        "flags" / _u(4),
        "offset" / _u(8),
        "vaddr" / _u(8),
        "paddr" / _u(8),
        "filesz" / _u(8),
        "memsz" / _u(8),
        "align" / _u(8),
    ),
    lambda c, _: ProgramHeader(c.type, c.flags, c.offset, c.vaddr, c.paddr, c.filesz, c.memsz, c.align),
    lambda header, _: vars(header),
)


@dataclasses.dataclass
class Symbol:
    """``Elf64_Sym``; ``info`` is ``bind << 4 | type``, ``other`` holds the visibility."""

    name: int
    info: int
    other: int
    shndx: int
    value: int
    size: int


SYMBOL: cs.Construct[Symbol, Symbol] = cs.ExprAdapter(
    cs.Struct(
        "name" / _u(4),
        "info" / cs.Int8ub,
        "other" / cs.Int8ub,
        "shndx" / _u(2),
        "value" / _u(8),
        "size" / _u(8),
    ),
    lambda c, _: Symbol(c.name, c.info, c.other, c.shndx, c.value, c.size),
    lambda symbol, _: vars(symbol),
)


@dataclasses.dataclass
class Rel:
    """``Elf64_Rel``; ``info`` is ``symbol index << 32 | type``."""

    offset: int
    info: int


REL: cs.Construct[Rel, Rel] = cs.ExprAdapter(
    cs.Struct("offset" / _u(8), "info" / _u(8)),
    lambda c, _: Rel(c.offset, c.info),
    lambda rel, _: vars(rel),
)


@dataclasses.dataclass
class Rela:
    """``Elf64_Rela``: a relocation with an explicit addend."""

    offset: int
    info: int
    addend: int


RELA: cs.Construct[Rela, Rela] = cs.ExprAdapter(
    cs.Struct("offset" / _u(8), "info" / _u(8), "addend" / _s(8)),
    lambda c, _: Rela(c.offset, c.info, c.addend),
    lambda rela, _: vars(rela),
)


@dataclasses.dataclass
class Verdef:
    """``Elf64_Verdef``: one version definition of ``.gnu.version_d``."""

    version: int
    flags: int
    ndx: int
    cnt: int
    hash: int
    aux: int
    next: int


VERDEF: cs.Construct[Verdef, Verdef] = cs.ExprAdapter(
    cs.Struct(
        "version" / _u(2),
        "flags" / _u(2),
        "ndx" / _u(2),
        "cnt" / _u(2),
        "hash" / _u(4),
        "aux" / _u(4),
        "next" / _u(4),
    ),
    lambda c, _: Verdef(c.version, c.flags, c.ndx, c.cnt, c.hash, c.aux, c.next),
    lambda verdef, _: vars(verdef),
)


@dataclasses.dataclass
class Verdaux:
    """``Elf64_Verdaux``: the name of a version definition."""

    name: int
    next: int


VERDAUX: cs.Construct[Verdaux, Verdaux] = cs.ExprAdapter(
    cs.Struct("name" / _u(4), "next" / _u(4)),
    lambda c, _: Verdaux(c.name, c.next),
    lambda verdaux, _: vars(verdaux),
)


@dataclasses.dataclass
class NoteHeader:
    """``Elf64_Nhdr``: the sizes of a note's name and descriptor (each padded to 4 bytes) and its type."""

    namesz: int
    descsz: int
    type: int


NOTE_HEADER: cs.Construct[NoteHeader, NoteHeader] = cs.ExprAdapter(
    cs.Struct("namesz" / _u(4), "descsz" / _u(4), "type" / _u(4)),
    lambda c, _: NoteHeader(c.namesz, c.descsz, c.type),
    lambda header, _: vars(header),
)


@dataclasses.dataclass
class StapsdtAddresses:
    """The three addresses that open an ``NT_STAPSDT`` descriptor (before provider, name and arguments).

    ``location`` is the probe's ``nop``, ``base`` the link-time address of
    ``.stapsdt.base``, ``semaphore`` the probe's 2-byte counter (0: none).
    """

    location: int
    base: int
    semaphore: int


STAPSDT_ADDRESSES: cs.Construct[StapsdtAddresses, StapsdtAddresses] = cs.ExprAdapter(
    cs.Struct("location" / _u(8), "base" / _u(8), "semaphore" / _u(8)),
    lambda c, _: StapsdtAddresses(c.location, c.base, c.semaphore),
    lambda addresses, _: vars(addresses),
)
