"""Fuzz target: whole BPF object files through ``ebpf.elf`` (``CollectionSpec.from_bytes``, ``ElfFile``).

What a user does with an untrusted object before loading anything: parse it
into a ``CollectionSpec`` (ELF, BTF, ``.BTF.ext``, map definitions,
relocations, section names), print the summary (``inspect``), walk each
program's references and CO-RE relocations; and read it as plain ELF
(sections, symbols, relocations), as uprobe symbol lookup does.

``ParseError`` is the documented error for malformed input, and
``LibraryLimitError`` for objects using what the library cannot load yet;
nothing else may come out.
"""

from __future__ import annotations

from ebpf.elf import CollectionSpec, ElfFile, SectionType, inspect
from ebpf.syscall import LibraryLimitError, ParseError
from fuzz import _seeds

NAME = "elf"
ALLOWED: tuple[type[BaseException], ...] = (ParseError, LibraryLimitError)


def one_input(data: bytes) -> None:
    """Parse ``data`` as a BPF object and as an ELF file; only ParseError/LibraryLimitError may escape."""
    try:
        spec = CollectionSpec.from_bytes(data, name="fuzz object")
        inspect(spec)
        for name in spec.programs:
            spec.references_of(name)
            spec.core_relocations(name)
    except ALLOWED:
        pass
    try:
        elf = ElfFile(data, name="fuzz object")
        for symbol in elf.symbols:
            str(symbol)
        for section in elf.sections:
            str(section)
            if section.type in (SectionType.REL, SectionType.RELA):
                elf.relocations(section)
    except ALLOWED:
        pass


def seeds() -> list[bytes]:
    """Every compiled test object."""
    return [path.read_bytes() for path in _seeds.bpf_objects()]
