"""ELF notes (``SHT_NOTE`` sections): the one walker over ``Elf64_Nhdr`` records, for USDT and build ids."""

from __future__ import annotations

from typing import NamedTuple

from ebpf.syscall.errors import ParseError

from . import _schema as s
from ._elf import ElfFile, ElfSection

__all__ = ["Note", "notes_of"]

_NHDR_SIZE = 12  # Elf64_Nhdr: namesz, descsz, type (u32 each)


class Note(NamedTuple):
    """One note: where it starts in its section, its owner (without the NUL), type and descriptor."""

    offset: int
    owner: bytes
    type: int
    descriptor: bytes


def _align4(n: int) -> int:
    return (n + 3) & ~3


def notes_of(elf: ElfFile, section: ElfSection) -> list[Note]:
    """Every note of ``section``, in order (names and descriptors are padded to 4 bytes).

    Raises:
        ParseError: a note header, name or descriptor runs past the section.
    """
    data = elf.section_data(section)
    notes = []
    at = 0
    while at < len(data):
        if at + _NHDR_SIZE > len(data):
            raise ParseError(
                f"{elf.name}: {section}: note header at offset {at} ({_NHDR_SIZE} bytes) runs past "
                f"the section ({len(data)} bytes)"
            )
        header: s.NoteHeader = s.NOTE_HEADER.parse(data[at : at + _NHDR_SIZE], little=elf.little_endian)
        name_at = at + _NHDR_SIZE
        desc_at = name_at + _align4(header.namesz)
        if desc_at + header.descsz > len(data):
            raise ParseError(
                f"{elf.name}: {section}: note at offset {at} (name {header.namesz} bytes, descriptor "
                f"{header.descsz} bytes) runs past the section ({len(data)} bytes)"
            )
        owner = data[name_at : name_at + header.namesz].rstrip(b"\0")
        notes.append(Note(at, owner, header.type, data[desc_at : desc_at + header.descsz]))
        at = desc_at + _align4(header.descsz)
    return notes
