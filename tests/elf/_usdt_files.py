"""Hand-made ELF64 files with USDT notes, for the tests of ebpf.elf's USDT reader and of ``ebpf elf usdt``."""

from __future__ import annotations

import struct

__all__ = ["elf_with_notes", "stapsdt_note"]


def stapsdt_note(
    location: int, base: int, semaphore: int, provider: bytes, name: bytes, args: bytes
) -> bytes:
    """An ``NT_STAPSDT`` note (little-endian) with these addresses and strings."""
    desc = struct.pack("<3Q", location, base, semaphore) + provider + b"\0" + name + b"\0" + args + b"\0"
    return struct.pack("<III", 8, len(desc), 3) + b"stapsdt\0" + desc + bytes(-len(desc) % 4)


def elf_with_notes(notes: bytes, *, machine: int = 183, e_type: int = 3, stapsdt_base: int = 0x1800) -> bytes:
    """A little-endian ELF64 file: code at 0x1000 (R+X), data at 0x3000 (RW, 0x10 bytes in the file, 0x100
    in memory), .stapsdt.base, the notes."""
    names = b"\0.text\0.probes\0.stapsdt.base\0.note.stapsdt\0.shstrtab\0"
    text_off, data_off, notes_off = 0x1000, 0x2000, 0x2010
    shstr_off = notes_off + len(notes)
    shoff = (shstr_off + len(names) + 7) & ~7
    phdrs = struct.pack("<IIQQQQQQ", 1, 5, text_off, 0x1000, 0x1000, 0x1000, 0x1000, 0x1000)
    phdrs += struct.pack("<IIQQQQQQ", 1, 6, data_off, 0x3000, 0x3000, 0x10, 0x100, 0x1000)
    ehdr = b"\x7fELF\x02\x01\x01" + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", e_type, machine, 1, 0, 64, shoff, 0, 64, 56, 2, 64, 6, 5)

    def shdr(name: bytes, sh_type: int, addr: int, offset: int, size: int) -> bytes:
        at = names.index(b"\0" + name + b"\0") + 1 if name else 0
        return struct.pack("<IIQQQQIIQQ", at, sh_type, 2 if addr else 0, addr, offset, size, 0, 0, 1, 0)

    sections = shdr(b"", 0, 0, 0, 0)
    sections += shdr(b".text", 1, 0x1000, text_off, 0x1000)
    sections += shdr(b".probes", 1, 0x3000, data_off, 0x10)
    sections += shdr(b".stapsdt.base", 1, stapsdt_base, text_off + stapsdt_base - 0x1000, 1)
    sections += shdr(b".note.stapsdt", 7, 0, notes_off, len(notes))
    sections += shdr(b".shstrtab", 3, 0, shstr_off, len(names))
    image = bytearray(shoff + len(sections))
    image[: len(ehdr)] = ehdr
    image[64 : 64 + len(phdrs)] = phdrs
    image[notes_off:shstr_off] = notes
    image[shstr_off : shstr_off + len(names)] = names
    image[shoff:] = sections
    return bytes(image)
