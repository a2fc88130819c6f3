"""Reading ELF64 files: sections, segments, symbols, relocations and string tables.

[`ElfFile`][ebpf.elf.ElfFile] checks every offset and index it follows against the file
before using it, so a truncated or corrupted file raises ``ParseError``
naming what was wrong and where, never ``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import construct as cs

from ebpf.syscall.errors import ParseError

from . import _schema as s

__all__ = [
    "ElfFile",
    "ElfRelocation",
    "ElfSection",
    "ElfSegment",
    "ElfSymbol",
    "SectionFlags",
    "SectionType",
    "SymbolBinding",
    "SymbolType",
]

_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_ELFDATA2MSB = 2
_EHDR_SIZE = 64
_SHDR_SIZE = 64
_PHDR_SIZE = 56
_SYM_SIZE = 24
_REL_SIZE = 16
_RELA_SIZE = 24
#: ``SHN_UNDEF``: the section index of a symbol defined elsewhere.
SHN_UNDEF = 0
#: ``PT_LOAD``: a segment mapped from the file.
PT_LOAD = 1
#: ``STV_*`` visibilities (the low 2 bits of ``st_other``).
STV_HIDDEN = 2
STV_INTERNAL = 1


class SectionType(enum.IntEnum):
    """``SHT_*`` (the common ones; other values are kept as plain ints)."""

    NULL = 0
    PROGBITS = 1
    SYMTAB = 2
    STRTAB = 3
    RELA = 4
    HASH = 5
    DYNAMIC = 6
    NOTE = 7
    NOBITS = 8
    REL = 9
    DYNSYM = 11
    GNU_VERDEF = 0x6FFFFFFD
    GNU_VERNEED = 0x6FFFFFFE
    GNU_VERSYM = 0x6FFFFFFF


class SectionFlags(enum.IntFlag):
    """``SHF_*``."""

    WRITE = 0x1
    ALLOC = 0x2
    EXECINSTR = 0x4


class SymbolBinding(enum.IntEnum):
    """``STB_*``."""

    LOCAL = 0
    GLOBAL = 1
    WEAK = 2


class SymbolType(enum.IntEnum):
    """``STT_*``."""

    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6
    GNU_IFUNC = 10


@dataclass(frozen=True)
class ElfSection:
    """A section header with its name resolved.

    ``type`` is a [`SectionType`][ebpf.elf.SectionType] when known, else the raw ``sh_type``.
    """

    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int

    @property
    def executable(self) -> bool:
        """``SHF_EXECINSTR``: the section holds code."""
        return bool(self.flags & SectionFlags.EXECINSTR)

    @property
    def writable(self) -> bool:
        """``SHF_WRITE``."""
        return bool(self.flags & SectionFlags.WRITE)

    def __str__(self) -> str:
        return f"section {self.index} ({self.name or '<unnamed>'})"


@dataclass(frozen=True)
class ElfSegment:
    """A program header: ``filesz`` bytes at file ``offset`` mapped at ``vaddr``."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class ElfSymbol:
    """A symbol: its index in its table, name, value, size, section index, binding, type, visibility.

    ``version`` is the symbol version (``"GLIBC_2.2.5"``) for dynamic symbols
    of files with version information, and ``default_version`` whether it
    is the default one (``name@@version`` rather than ``name@version``).
    """

    index: int
    name: str
    value: int
    size: int
    shndx: int
    binding: int
    type: int
    visibility: int
    version: str = ""
    default_version: bool = True

    @property
    def undefined(self) -> bool:
        """Defined in another object (``SHN_UNDEF``): an extern."""
        return self.shndx == SHN_UNDEF

    @property
    def hidden(self) -> bool:
        """``STV_HIDDEN`` or ``STV_INTERNAL``: not visible outside the object."""
        return self.visibility in (STV_HIDDEN, STV_INTERNAL)


@dataclass(frozen=True)
class ElfRelocation:
    """A relocation at byte ``offset`` of the section it applies to, against symbol ``symbol``."""

    offset: int
    type: int
    symbol: int
    addend: int = 0


_SYM_FORMAT = {True: struct.Struct("<IBBHQQ"), False: struct.Struct(">IBBHQQ")}

#: The largest ``SHT_NOBITS`` section (``.bss``) read, 256 MiB: it becomes one map value.
MAX_NOBITS_SIZE = 256 << 20


class ElfFile:
    """An ELF64 file (little- or big-endian) held in memory.

    Examples:
        >>> elf = ElfFile.from_file("/bin/true")          # doctest: +SKIP
        >>> names = [section.name for section in elf.sections]  # doctest: +SKIP
        >>> names[1]                                       # doctest: +SKIP
        '.interp'
    """

    def __init__(self, data: bytes, *, name: str = "ELF") -> None:
        """Read the file header and the section and program header tables of ``data``.

        Raises:
            ParseError: not an ELF64 file, or its header tables lie outside the data.
        """
        self.data = bytes(data)
        self.name = name
        if len(self.data) < 16 or self.data[:4] != s.ELF_MAGIC:
            raise ParseError(f"{name}: not an ELF file (no \\x7fELF magic at offset 0)")
        ident = s.IDENT.parse(self.data[:16])
        if ident.elf_class != _ELFCLASS64:
            raise ParseError(f"{name}: offset 4: ELF class {ident.elf_class} is not ELF64 (2)")
        if ident.data not in (_ELFDATA2LSB, _ELFDATA2MSB):
            raise ParseError(f"{name}: offset 5: unknown data encoding {ident.data}")
        #: True for a little-endian file.
        self.little_endian = ident.data == _ELFDATA2LSB
        self.header = self._parse(s.FILE_HEADER, 0, _EHDR_SIZE, "file header")
        self.sections = self._read_sections()
        self.segments = self._read_segments()
        self._by_name = {section.name: section for section in reversed(self.sections)}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ElfFile:
        """Read the file at ``path``.

        Raises:
            OSError: the file cannot be read.
            ParseError: see [`ElfFile`][ebpf.elf.ElfFile].
        """
        with open(path, "rb") as f:
            return cls(f.read(), name=os.fspath(path))

    # ---------------------------------------------------------------- helpers

    def _parse(self, schema: cs.Construct[Any, Any], offset: int, size: int, what: str) -> Any:
        if offset < 0 or offset + size > len(self.data):
            raise ParseError(
                f"{self.name}: {what} at offset {offset} ({size} bytes) runs past the end of the file "
                f"({len(self.data)} bytes)"
            )
        return schema.parse(self.data[offset : offset + size], little=self.little_endian)

    def _table(self, offset: int, count: int, entsize: int, minimum: int, what: str) -> None:
        if count and entsize < minimum:
            raise ParseError(f"{self.name}: {what}: entry size {entsize} is smaller than {minimum}")
        if offset < 0 or offset + count * entsize > len(self.data):
            raise ParseError(
                f"{self.name}: {what} at offset {offset} ({count} entries of {entsize} bytes) "
                f"runs past the end of the file ({len(self.data)} bytes)"
            )

    def _read_sections(self) -> list[ElfSection]:
        h = self.header
        count, offset = h.shnum, h.shoff
        if count == 0 and offset:
            # More than SHN_LORESERVE sections: the real count is sh_size of section 0.
            first = self._parse(s.SECTION_HEADER, offset, _SHDR_SIZE, "section header 0")
            count = first.size
        self._table(offset, count, h.shentsize, _SHDR_SIZE, "section header table")
        headers: list[s.SectionHeader] = [
            self._parse(s.SECTION_HEADER, offset + i * h.shentsize, _SHDR_SIZE, f"section header {i}")
            for i in range(count)
        ]
        if not headers:
            return []
        strndx = h.shstrndx if h.shstrndx != 0xFFFF else headers[0].link
        if strndx >= len(headers):
            raise ParseError(
                f"{self.name}: section name table index {strndx} is not a section (0..{count - 1})"
            )
        names = headers[strndx]
        self._check_extent(names.offset, names.size, f"section {strndx} (section names)")
        names_data = self.data[names.offset : names.offset + names.size]
        sections = []
        for index, raw in enumerate(headers):
            name = _string_at(names_data, raw.name, f"{self.name}: section {index}: name")
            try:
                sh_type: int = SectionType(raw.type)
            except ValueError:
                sh_type = raw.type
            sections.append(
                ElfSection(
                    index,
                    name,
                    sh_type,
                    raw.flags,
                    raw.addr,
                    raw.offset,
                    raw.size,
                    raw.link,
                    raw.info,
                    raw.addralign,
                    raw.entsize,
                )
            )
        return sections

    def _read_segments(self) -> list[ElfSegment]:
        h = self.header
        self._table(h.phoff, h.phnum, h.phentsize, _PHDR_SIZE, "program header table")
        segments = []
        for i in range(h.phnum):
            p = self._parse(s.PROGRAM_HEADER, h.phoff + i * h.phentsize, _PHDR_SIZE, f"program header {i}")
            segments.append(ElfSegment(p.type, p.flags, p.offset, p.vaddr, p.filesz, p.memsz))
        return segments

    def _check_extent(self, offset: int, size: int, what: str) -> None:
        if offset + size > len(self.data):
            raise ParseError(
                f"{self.name}: {what} at offset {offset} ({size} bytes) runs past the end of the file "
                f"({len(self.data)} bytes)"
            )

    # ---------------------------------------------------------------- sections

    def section(self, name: str) -> ElfSection | None:
        """The first section called ``name``, or None."""
        return self._by_name.get(name)

    def section_at(self, index: int, what: str = "section index") -> ElfSection:
        """Section number ``index``.

        Raises:
            ParseError: no such section (``what`` says who asked).
        """
        if not 0 <= index < len(self.sections):
            raise ParseError(f"{self.name}: {what} {index} is not a section (0..{len(self.sections) - 1})")
        return self.sections[index]

    def section_data(self, section: ElfSection) -> bytes:
        """The bytes of ``section`` (zeros for ``SHT_NOBITS`` such as ``.bss``).

        Raises:
            ParseError: the section lies outside the file, or a ``SHT_NOBITS``
                section claims more than `MAX_NOBITS_SIZE` bytes.
        """
        if section.type == SectionType.NOBITS:
            # .bss becomes one map value; far below this bound in any real
            # object, and a hostile header must not make us allocate gigabytes.
            if section.size > MAX_NOBITS_SIZE:
                raise ParseError(
                    f"{self.name}: {section}: SHT_NOBITS size {section.size} exceeds {MAX_NOBITS_SIZE} bytes"
                )
            return bytes(section.size)
        self._check_extent(section.offset, section.size, str(section))
        return self.data[section.offset : section.offset + section.size]

    def string(self, table: ElfSection, offset: int) -> str:
        """The NUL-terminated string at ``offset`` of string table ``table``.

        Raises:
            ParseError: the table is outside the file or the offset outside the table.
        """
        return _string_at(self.section_data(table), offset, f"{self.name}: {table}")

    # ---------------------------------------------------------------- symbols

    @cached_property
    def symbols(self) -> list[ElfSymbol]:
        """The static symbol table (``.symtab``), index 0 included; empty when stripped.

        Raises:
            ParseError: see [`symbol_table()`][ebpf.elf.ElfFile.symbol_table].
        """
        table = next((sec for sec in self.sections if sec.type == SectionType.SYMTAB), None)
        return self.symbol_table(table) if table is not None else []

    @cached_property
    def dynamic_symbols(self) -> list[ElfSymbol]:
        """The dynamic symbol table (``.dynsym``) with symbol versions; empty when there is none.

        Raises:
            ParseError: see [`symbol_table()`][ebpf.elf.ElfFile.symbol_table].
        """
        table = next((sec for sec in self.sections if sec.type == SectionType.DYNSYM), None)
        if table is None:
            return []
        symbols = self.symbol_table(table)
        from ._versions import apply_versions

        return apply_versions(self, table, symbols)

    def symbol_table(self, table: ElfSection) -> list[ElfSymbol]:
        """Every symbol of ``table`` (a ``SHT_SYMTAB`` or ``SHT_DYNSYM`` section).

        Raises:
            ParseError: the table, its entries or its string table (``sh_link``)
                are malformed or outside the file.
        """
        data = self.section_data(table)
        if table.entsize not in (0, _SYM_SIZE) or len(data) % _SYM_SIZE:
            raise ParseError(
                f"{self.name}: {table}: {len(data)} bytes are not a whole number of "
                f"{_SYM_SIZE}-byte symbols (entry size {table.entsize})"
            )
        strtab = self.section_at(table.link, f"{table}: string table link")
        strings = self.section_data(strtab)
        fmt = _SYM_FORMAT[self.little_endian]
        symbols = []
        # struct fast path for the layout of schema.SYMBOL (the tests check they agree)
        for index, (name, info, other, shndx, value, size) in enumerate(fmt.iter_unpack(data)):
            symbols.append(
                ElfSymbol(
                    index,
                    _string_at(strings, name, f"{self.name}: {table}: symbol {index}: name"),
                    value,
                    size,
                    shndx,
                    info >> 4,
                    info & 0xF,
                    other & 0x3,
                )
            )
        return symbols

    def parse_symbols_with_schema(self, table: ElfSection) -> list[s.Symbol]:
        """The raw records of ``table`` parsed by the construct schema (for the agreement test).

        Raises:
            ParseError: the table lies outside the file.
        """
        data = self.section_data(table)
        count = len(data) // _SYM_SIZE
        return list(cs.Array(count, s.SYMBOL).parse(data, little=self.little_endian))

    # ---------------------------------------------------------------- relocations

    def relocations(self, table: ElfSection) -> list[ElfRelocation]:
        """The entries of relocation section ``table`` (``SHT_REL`` or ``SHT_RELA``).

        Raises:
            ParseError: a table that is not a whole number of entries or lies outside the file.
        """
        rela = table.type == SectionType.RELA
        size = _RELA_SIZE if rela else _REL_SIZE
        data = self.section_data(table)
        if len(data) % size:
            raise ParseError(f"{self.name}: {table}: {len(data)} bytes are not whole {size}-byte relocations")
        count = len(data) // size
        if rela:
            records: list[s.Rela] = list(cs.Array(count, s.RELA).parse(data, little=self.little_endian))
            return [ElfRelocation(r.offset, r.info & 0xFFFFFFFF, r.info >> 32, r.addend) for r in records]
        plain: list[s.Rel] = list(cs.Array(count, s.REL).parse(data, little=self.little_endian))
        return [ElfRelocation(r.offset, r.info & 0xFFFFFFFF, r.info >> 32) for r in plain]

    def __repr__(self) -> str:
        order = "little" if self.little_endian else "big"
        return f"ElfFile({self.name!r}, {order}-endian, {len(self.sections)} sections)"


def _string_at(table: bytes, offset: int, what: str) -> str:
    if not 0 <= offset < len(table) and not (offset == 0 and not table):
        raise ParseError(f"{what}: string offset {offset} is outside the string table ({len(table)} bytes)")
    end = table.find(b"\0", offset)
    if end < 0:
        if not table:
            return ""
        raise ParseError(f"{what}: string at offset {offset} is not NUL-terminated")
    return table[offset:end].decode("utf-8", "replace")
