"""ELF64 reading checked against llvm-readelf, in both byte orders, and on malformed files."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from ebpf.elf import ElfFile, SectionType, SymbolBinding, SymbolType
from ebpf.syscall.errors import ParseError
from tests.elf._elf_corpus import compiled, require_tool

LIBC = Path("/usr/lib/x86_64-linux-gnu/libc.so.6")


def _readelf(path: Path, option: str) -> str:
    return subprocess.run(
        [require_tool("llvm-readelf"), "--wide", option, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


_SECTION_LINE = re.compile(
    r"^\s*\[\s*(\d+)\]\s+(?:(\S+)\s+)?(\S+)\s+[0-9a-f]{16}\s+([0-9a-f]+)\s+([0-9a-f]+)"
)
_SYMBOL_LINE = re.compile(r"^\s*(\d+):\s+([0-9a-f]+)\s+(\d+)\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s*(\S*)$")
_RELOCATION_HEADER = re.compile(r"^Relocation section '(\S+)'")
_RELOCATION_LINE = re.compile(r"^([0-9a-f]{16})\s+([0-9a-f]{16})\s")


@pytest.mark.parametrize("cflags", [(), ("-target", "bpfeb")], ids=["little-endian", "big-endian"])
def test_sections_symbols_and_relocations_agree_with_llvm_readelf(cflags: tuple[str, ...]) -> None:
    path = compiled("maps_calls", cflags=cflags)
    elf = ElfFile.from_file(path)
    assert elf.little_endian is (not cflags)
    sections = [m.groups() for m in map(_SECTION_LINE.match, _readelf(path, "-S").splitlines()) if m]
    assert [(str(s.index), s.name, s.offset, s.size) for s in elf.sections] == [
        (index, name or "", int(offset, 16), int(size, 16)) for index, name, _type, offset, size in sections
    ]
    symbols = [m.groups() for m in map(_SYMBOL_LINE.match, _readelf(path, "-s").splitlines()) if m]
    assert [
        (
            s.index,
            s.value,
            s.size,
            SymbolType(s.type).name,
            SymbolBinding(s.binding).name,
            s.name or section_name,
        )
        for s in elf.symbols
        # llvm-readelf names section symbols after their section
        for section_name in [elf.sections[s.shndx].name if s.type == SymbolType.SECTION else ""]
    ] == [
        (int(n), int(value, 16), int(size), kind, bind, name) for n, value, size, kind, bind, name in symbols
    ]
    expected: dict[str, list[tuple[int, int, int]]] = {}
    current: list[tuple[int, int, int]] = []
    for line in _readelf(path, "-r").splitlines():
        header = _RELOCATION_HEADER.match(line)
        if header:
            current = expected.setdefault(header.group(1), [])
        entry = _RELOCATION_LINE.match(line)
        if entry:
            info = int(entry.group(2), 16)
            current.append((int(entry.group(1), 16), info >> 32, info & 0xFFFFFFFF))
    tables = [s for s in elf.sections if s.type in (SectionType.REL, SectionType.RELA)]
    assert {t.name: [(r.offset, r.symbol, r.type) for r in elf.relocations(t)] for t in tables} == expected
    assert expected[".relxdp"]


def test_the_struct_fast_path_for_symbols_agrees_with_the_schema() -> None:
    if not LIBC.exists():
        pytest.skip(f"no {LIBC}")
    elf = ElfFile.from_file(LIBC)
    table = next(s for s in elf.sections if s.type == SectionType.DYNSYM)
    fast = elf.symbol_table(table)
    slow = elf.parse_symbols_with_schema(table)
    assert len(fast) == len(slow) > 1000
    assert [(s.value, s.size, s.shndx, s.binding << 4 | s.type) for s in fast] == [
        (r.value, r.size, r.shndx, r.info) for r in slow
    ]


def test_versioned_symbols_of_a_shared_library() -> None:
    if not LIBC.exists():
        pytest.skip(f"no {LIBC}")
    memcpy = [s for s in ElfFile.from_file(LIBC).dynamic_symbols if s.name == "memcpy" and not s.undefined]
    assert {(s.version.split("_")[0], s.default_version) for s in memcpy} >= {("GLIBC", True)}
    assert all(s.type in (SymbolType.FUNC, SymbolType.GNU_IFUNC) for s in memcpy)


# ------------------------------------------------------------------ bad input


def _object() -> bytes:
    return compiled("globals").read_bytes()


def test_truncated_files_raise_parse_error_with_the_offset() -> None:
    data = _object()
    for cut in (0, 10, 40, len(data) // 2, len(data) - 1):
        with pytest.raises(ParseError) as info:
            ElfFile(data[:cut], name="cut.o").symbols  # noqa: B018 - reading them is the test
        assert "cut.o" in str(info.value)


def test_a_section_past_the_end_of_the_file_is_reported_by_index_and_name() -> None:
    data = bytearray(_object())
    elf = ElfFile(bytes(data))
    victim = next(s for s in elf.sections if s.name == "xdp")
    shoff = elf.header.shoff + victim.index * elf.header.shentsize
    struct.pack_into("<Q", data, shoff + 24, len(data) + 100)  # sh_offset
    with pytest.raises(ParseError, match=rf"section {victim.index} \(xdp\) at offset {len(data) + 100}"):
        ElfFile(bytes(data)).section_data(ElfFile(bytes(data)).sections[victim.index])


def test_a_string_table_link_to_no_section_is_reported() -> None:
    data = bytearray(_object())
    elf = ElfFile(bytes(data))
    symtab = next(s for s in elf.sections if s.type == SectionType.SYMTAB)
    struct.pack_into("<I", data, elf.header.shoff + symtab.index * elf.header.shentsize + 40, 999)  # sh_link
    with pytest.raises(ParseError, match="string table link 999 is not a section"):
        ElfFile(bytes(data)).symbols  # noqa: B018


def test_not_elf_and_not_elf64_are_rejected() -> None:
    with pytest.raises(ParseError, match="not an ELF file"):
        ElfFile(b"hello world, not an object file")
    with pytest.raises(ParseError, match="not ELF64"):
        ElfFile(b"\x7fELF\x01\x01\x01" + bytes(64))
