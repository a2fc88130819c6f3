"""clang as the oracle: ``disassemble()`` agrees with ``llvm-objdump -d`` on every program section.

The BPF C programs under ``tests/bpf/`` are compiled for each ``-mcpu`` the
installed clang knows; for every executable section, the listing of
:func:`ebpf.asm.disassemble` (given the section's symbols) must equal
llvm-objdump's line for line after normalising whitespace, and decoding then
re-encoding the section must give back its bytes. Objects built with
``-mcpu=v3`` are compared with ``llvm-objdump --mattr=+alu32``, the only mode
in which LLVM prints 32-bit atomics.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from bpf_build import compile_bpf

from ebpf.asm import decode, disassemble, encode

BPF_DIR = Path(__file__).resolve().parents[1] / "bpf"
SOURCES = sorted(BPF_DIR.glob("*.c"))
CPUS = ("", "-mcpu=v2", "-mcpu=v3")

SHF_EXECINSTR = 0x4
SHT_SYMTAB = 2

pytestmark = pytest.mark.skipif(
    shutil.which("clang") is None or shutil.which("llvm-objdump") is None,
    reason="needs clang and llvm-objdump (Debian: apt-get install clang llvm libbpf-dev)",
)


@dataclass
class Section:
    name: str
    data: bytes
    symbols: dict[int, str]


def read_sections(path: Path) -> list[Section]:
    """The executable sections of a little-endian ELF64 object, with their symbols by slot index."""
    raw = path.read_bytes()
    assert raw[:6] == b"\x7fELF\x02\x01", f"{path} is not a little-endian ELF64 file"
    (shoff,) = struct.unpack_from("<Q", raw, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", raw, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", raw, shoff + i * shentsize) for i in range(shnum)]

    def string(table: int, offset: int) -> str:
        start = headers[table][4] + offset
        return raw[start : raw.index(b"\0", start)].decode()

    sections = {}
    for index, (name, _type, flags, _addr, offset, size, *_rest) in enumerate(headers):
        if flags & SHF_EXECINSTR and size:
            sections[index] = Section(string(shstrndx, name), raw[offset : offset + size], {})
    for _name, sh_type, _flags, _addr, offset, size, link, _info, _align, entsize in headers:
        if sh_type != SHT_SYMTAB:
            continue
        for pos in range(offset, offset + size, entsize):
            st_name, _st_info, _other, st_shndx, st_value, _st_size = struct.unpack_from("<IBBHQQ", raw, pos)
            if st_shndx in sections and st_name:
                sections[st_shndx].symbols.setdefault(st_value // 8, string(link, st_name))
    return list(sections.values())


def objdump_sections(path: Path, alu32: bool) -> dict[str, list[str]]:
    """llvm-objdump's listing of each section, as lines with whitespace normalised."""
    args = ["llvm-objdump", "-d", *(["--mattr=+alu32"] if alu32 else []), str(path)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    listings: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("Disassembly of section "):
            current = listings.setdefault(line.removeprefix("Disassembly of section ").rstrip(":"), [])
        elif current is not None and line.strip():
            current.append(" ".join(line.split()))
    return listings


def normalise(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("cpu", CPUS, ids=lambda c: c or "default")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_disassembly_matches_llvm_objdump(source: Path, cpu: str) -> None:
    obj = compile_bpf(source, cflags=(cpu,) if cpu else ())
    alu32 = cpu == "-mcpu=v3"
    expected = objdump_sections(obj, alu32)
    sections = read_sections(obj)
    assert sections, f"{obj} has no program section"
    compared = 0
    for section in sections:
        assert "<unknown>" not in "\n".join(expected[section.name]), (
            "llvm-objdump could not decode clang's output"
        )
        ours = normalise(disassemble(section.data, alu32=alu32, symbols=section.symbols))
        assert ours == expected[section.name], f"section {section.name} of {source.name} {cpu}"
        compared += len(ours)
    assert compared > 10


@pytest.mark.parametrize("cpu", CPUS, ids=lambda c: c or "default")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_reassembling_decoded_sections_gives_the_same_bytes(source: Path, cpu: str) -> None:
    obj = compile_bpf(source, cflags=(cpu,) if cpu else ())
    for section in read_sections(obj):
        insns = decode(section.data)
        assert encode(insns) == section.data
        assert sum(i.slots for i in insns) * 8 == len(section.data)


def test_the_programs_cover_every_instruction_class_clang_emits() -> None:
    classes: set[str] = set()
    for source in SOURCES:
        for cpu in CPUS:
            for section in read_sections(compile_bpf(source, cflags=(cpu,) if cpu else ())):
                classes |= {i.cls.name for i in decode(section.data)}
    assert classes == {"LD", "LDX", "STX", "ALU", "ALU64", "JMP", "JMP32"}
