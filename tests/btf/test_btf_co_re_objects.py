"""CO-RE relocation of clang-built objects (tests/bpf/core), checked against the target BTF.

core_bits.c is compiled once against its own layout of struct core_bits and
relocated against core_bits_target.c's (an external target BTF); every
relocation clang recorded must resolve to what the target BTF says. The
integration tests load the same programs and run them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from bpf_build import compile_bpf

from ebpf.btf import (
    Composite,
    CoreRelo,
    CoreRelocator,
    CoreResult,
    Enum,
    Int,
    Kind,
    Struct,
    TypeGraph,
    load_file,
    parse_btf_ext,
)
from ebpf.btf._elf_sections import elf_section
from ebpf.syscall.abi import CoreReloKind

K = CoreReloKind
CORE_DIR = Path(__file__).resolve().parents[1] / "bpf" / "core"


@dataclass(frozen=True)
class CoreObject:
    """A compiled test program: its BTF, the instructions of its one program and their relocations."""

    path: Path
    graph: TypeGraph
    instructions: bytes
    relocations: list[CoreRelo]

    def section(self, name: str) -> bytes:
        """Another section of the object (``.data``)."""
        found = elf_section(self.path.read_bytes(), name, str(self.path))
        assert found is not None, f"{self.path} has no {name} section"
        return found


def core_object(name: str, program: str = "syscall") -> CoreObject:
    """Compile ``tests/bpf/core/<name>.c`` (cached) and read it (skips without clang)."""
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (make setup installs it)")
    path = compile_bpf(CORE_DIR / f"{name}.c")
    data = path.read_bytes()
    graph = load_file(path)
    instructions = elf_section(data, program, str(path)) or b""
    ext = elf_section(data, ".BTF.ext", str(path))
    relocations = parse_btf_ext(ext, graph).core_relos.get(program, []) if ext else []
    return CoreObject(path, graph, instructions, relocations)


def path_of(result: CoreResult) -> str:
    """What a report line is about: a member path (``pos.x``), an enumerator, or the local type."""
    if "(" not in result.access:
        return result.local_type
    readable = result.access.split("(", 1)[1].rstrip(")")
    return readable.split("::", 1)[1] if "::" in readable else readable.split(".", 1)[1]


def struct_named(graph: TypeGraph, name: str) -> Struct:
    found = graph.find(name, Kind.STRUCT)
    assert isinstance(found, Struct)
    return found


def composite(t: object) -> Composite:
    assert isinstance(t, Composite)
    return t


def bitfield_load(graph: TypeGraph, bit_offset: int, bits: int, declared: int) -> tuple[int, int, int, int]:
    """(byte offset, byte size, lshift, rshift) of a bitfield read as the kernel defines it: the
    smallest naturally aligned load, at least the declared size, that holds all its bits."""
    size = declared
    while (bit_offset + bits) > (bit_offset // 8 // size * size + size) * 8:
        size *= 2
    offset = bit_offset // 8 // size * size
    return offset, size, 64 - (bit_offset + bits - offset * 8), 64 - bits


def core_bits_expectations(local: TypeGraph, target: TypeGraph) -> dict[tuple[CoreReloKind, str], int]:
    """Every value core_bits.c asks for, computed from the target BTF (and the local id)."""
    bits = struct_named(target, "core_bits")
    pos = composite(bits.member("pos").type)
    anonymous = next(m for m in bits.members if not m.name)
    color = target.find("core_color", Kind.ENUM)
    assert isinstance(color, Enum)
    expected = {
        (K.FIELD_BYTE_OFFSET, "a"): bits.member("a").byte_offset,
        (K.FIELD_BYTE_SIZE, "a"): target.size_of(bits.member("a").type_id),
        (K.FIELD_BYTE_OFFSET, "b"): bits.member("b").byte_offset,
        (K.FIELD_BYTE_OFFSET, "color"): bits.member("color").byte_offset,
        (K.FIELD_BYTE_OFFSET, "pos.x"): bits.member("pos").byte_offset + pos.member("x").byte_offset,
        (K.FIELD_BYTE_OFFSET, "pos.y"): bits.member("pos").byte_offset + pos.member("y").byte_offset,
        (K.FIELD_BYTE_OFFSET, "u"): anonymous.byte_offset + composite(anonymous.type).member("u").byte_offset,
        (K.FIELD_BYTE_OFFSET, "arr[3]"): bits.member("arr").byte_offset + 3 * 4,
        (K.FIELD_EXISTS, "wide"): 1,
        (K.FIELD_EXISTS, "missing"): 0,
        (K.TYPE_EXISTS, "struct core_bits___local"): 1,
        (K.TYPE_SIZE, "struct core_bits___local"): bits.size,
        (K.TYPE_ID_TARGET, "struct core_bits___local"): bits.id,
        (K.TYPE_ID_LOCAL, "struct core_bits___local"): struct_named(local, "core_bits___local").id,
        (K.TYPE_EXISTS, "struct core_absent___local"): 0,
        (K.TYPE_SIZE, "struct core_absent___local"): 0,
        (K.ENUMVAL_VALUE, "CORE_GREEN"): color.value("CORE_GREEN"),
        (K.ENUMVAL_VALUE, "CORE_BLUE"): color.value("CORE_BLUE"),
        (K.ENUMVAL_EXISTS, "CORE_BLUE"): 1,
        (K.ENUMVAL_EXISTS, "CORE_YELLOW"): 0,
    }
    for name in ("flag", "sval", "wide"):
        member = bits.member(name)
        member_type = member.type
        assert isinstance(member_type, Int)
        offset, size, lshift, rshift = bitfield_load(
            target, member.bit_offset, member.bitfield_size, member_type.size
        )
        expected[(K.FIELD_BYTE_OFFSET, name)] = offset
        expected[(K.FIELD_BYTE_SIZE, name)] = size
        expected[(K.FIELD_LSHIFT_U64, name)] = lshift
        expected[(K.FIELD_RSHIFT_U64, name)] = rshift
        expected[(K.FIELD_SIGNED, name)] = int(member_type.signed)
    return expected


def test_core_bits_relocates_to_the_external_target_btf() -> None:
    program = core_object("core_bits")
    target = core_object("core_bits_target").graph
    code, report = CoreRelocator(program.graph, [target]).relocate(program.instructions, program.relocations)
    assert len(code) == len(program.instructions)
    assert len(report) == len(program.relocations)
    expected = core_bits_expectations(program.graph, target)
    poisoned = set()
    for result in report:
        key = (result.kind, path_of(result))
        if result.poisoned:
            poisoned.add(key)
            continue
        assert key in expected, f"unexpected relocation {result}"
        assert result.target_value == expected[key], str(result)
    # the guarded reads of what the target lacks, and only those
    assert poisoned == {(K.FIELD_BYTE_OFFSET, "missing"), (K.ENUMVAL_VALUE, "CORE_YELLOW")}
    # clang 14 cannot emit TYPE_MATCHES; every other kind is here (the engine tests cover it)
    assert {r.kind for r in report} == set(K) - {K.TYPE_MATCHES}
    # the local types are flavours of the target's names
    targets = {r.target.split(" [")[0] for r in report if r.target is not None and r.kind != K.TYPE_ID_LOCAL}
    assert targets == {"struct core_bits", "enum core_color"}
