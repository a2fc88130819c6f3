"""Just enough ELF64 to find a section by name (``.BTF``, ``.BTF.ext``).

Object files are ebpf-elf's business (with full ``construct`` schemas); this
lookup only lets [`ebpf.btf.load_file()`][ebpf.btf.load_file] read the BTF of an object or a
``vmlinux`` image on its own. Little-endian ELF64 only, like BPF objects
built on little-endian hosts.
"""

from __future__ import annotations

import struct

from ebpf.syscall.errors import ParseError

__all__ = ["ELF_MAGIC", "elf_section"]

ELF_MAGIC = b"\x7fELF"
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_SHT_NOBITS = 8
# e_shoff (u64 at 0x28), e_shentsize, e_shnum, e_shstrndx (u16 at 0x3a..0x3f)
_EHDR_SHOFF = struct.Struct("<Q")
_EHDR_SH = struct.Struct("<HHH")
# sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
_SHDR = struct.Struct("<IIQQQQ")
_SHDR_SIZE = 64


def elf_section(data: bytes, name: str, what: str = "ELF") -> bytes | None:
    """The bytes of the section called ``name``, or None when there is none.

    Raises:
        ParseError: not a little-endian ELF64 file, or its section headers or
            the section lie outside the file.
    """
    if len(data) < 64 or data[:4] != ELF_MAGIC:
        raise ParseError(f"{what}: not an ELF file (no \\x7fELF magic at offset 0)")
    if data[4] != _ELFCLASS64 or data[5] != _ELFDATA2LSB:
        raise ParseError(f"{what}: only little-endian ELF64 is supported (class {data[4]}, data {data[5]})")
    (shoff,) = _EHDR_SHOFF.unpack_from(data, 0x28)
    shentsize, shnum, shstrndx = _EHDR_SH.unpack_from(data, 0x3A)
    if shnum == 0:
        return None
    if shentsize < _SHDR_SIZE or shoff + shnum * shentsize > len(data) or shstrndx >= shnum:
        raise ParseError(
            f"{what}: section header table at offset {shoff} ({shnum} entries) is outside the file"
        )
    headers = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    _n, _t, _f, _a, str_offset, str_size = headers[shstrndx]
    if str_offset + str_size > len(data):
        raise ParseError(f"{what}: section name table at offset {str_offset} runs past the end of the file")
    names = data[str_offset : str_offset + str_size]
    wanted = name.encode() + b"\0"
    for index, (name_off, sh_type, _flags, _addr, offset, size) in enumerate(headers):
        if names[name_off : name_off + len(wanted)] != wanted:
            continue
        if sh_type == _SHT_NOBITS:
            return b""
        if offset + size > len(data):
            raise ParseError(
                f"{what}: section {index} ({name}) at offset {offset} runs past the end of the file"
            )
        return data[offset : offset + size]
    return None
