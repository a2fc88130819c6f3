"""Library bugs the hardening fuzzers found, each pinned by a deterministic strict-xfail test.

Each test feeds the smallest malformed input found for one bug and asserts
the documented behaviour (``ParseError``). While the bug is open the test
fails as expected; once it is fixed it passes, strict xfail turns that into
a failure, and the ``xfail`` mark and the entry in ``fuzz/_known_bugs.py``
must both go (``test_every_known_bug_has_a_regression_test`` keeps the two
lists in step).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ebpf.btf import (
    BtfBuilder,
    BtfFeatures,
    Func,
    Int,
    IntEncoding,
    Member,
    Struct,
    TypeGraph,
    Var,
    from_bytes,
    sanitize_btf,
)
from ebpf.syscall import ParseError
from fuzz._known_bugs import KNOWN_BUGS

_BTF_HEADER = struct.Struct("<HBBIIIII")


def _blob(types: bytes, strings: bytes) -> bytes:
    """A BTF blob from raw type records and a raw string section."""
    return _BTF_HEADER.pack(0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def _decode_and_sanitize(graph: TypeGraph) -> None:
    str(graph[1])
    sanitize_btf(graph, BtfFeatures.none())


def test_every_known_bug_has_a_regression_test() -> None:
    text = Path(__file__).read_text()
    for bug in KNOWN_BUGS:
        assert f'reason="{bug.ident}:' in text, f"{bug.ident} has no regression test here"


def test_func_whose_type_is_not_a_prototype() -> None:
    builder = BtfBuilder()
    i32 = builder.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    struct_id = builder.add(Struct(0, "s", 4, (Member("a", i32, 0),)))
    func = builder.add(Func(0, "f", struct_id))
    graph = from_bytes(builder.build())
    with pytest.raises(ParseError):
        graph.func_proto(func)


def test_struct_with_a_member_that_has_no_alignment() -> None:
    builder = BtfBuilder()
    i32 = builder.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    var = builder.add(Var(0, "v", i32))
    holder = builder.add(Struct(0, "t", 4, (Member("x", var, 0),)))
    graph = from_bytes(builder.build())
    with pytest.raises(ParseError):
        graph.align_of(holder)


def test_sanitize_a_string_section_without_final_nul() -> None:
    int_record = struct.pack("<IIII", 1, 0x01000000, 4, 0x01000020)  # INT "int", 4 bytes, signed, 32 bits
    # Refused when parsed, as the kernel refuses it: nothing later can trip on it.
    with pytest.raises(ParseError, match="does not end with NUL"):
        from_bytes(_blob(int_record, b"\0int\0tail"))


def test_sanitize_an_int_with_zero_bits_and_a_huge_size() -> None:
    int_record = struct.pack("<IIII", 1, 0x01000000, 0xFF000008, 0)
    graph = from_bytes(_blob(int_record, b"\0x\0"))
    with pytest.raises(ParseError, match="INT of"):
        _decode_and_sanitize(graph)


def _with_huge_bss(data: bytes) -> bytes:
    """``data`` (an ELF object) with its ``.bss`` section claiming 1 TiB."""
    from fuzz._seeds import elf_sections

    assert ".bss" in elf_sections(data)
    blob = bytearray(data)
    (shoff,) = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", blob, 0x3A)
    names_off = struct.unpack_from("<Q", blob, shoff + shstrndx * shentsize + 24)[0]
    for index in range(shnum):
        header = shoff + index * shentsize
        name_off = struct.unpack_from("<I", blob, header)[0]
        if blob[names_off + name_off : names_off + name_off + 5] == b".bss\0":
            struct.pack_into("<Q", blob, header + 32, 1 << 40)  # sh_size
    return bytes(blob)


def test_elf_object_with_a_huge_bss() -> None:
    from ebpf.elf import CollectionSpec
    from fuzz._seeds import bpf_objects

    objects = [p for p in bpf_objects() if p.name.startswith("maps_helpers-")]
    if not objects:
        pytest.skip("tests/bpf/maps_helpers.c was not compiled (clang missing?)")
    with pytest.raises(ParseError):
        CollectionSpec.from_bytes(_with_huge_bss(objects[0].read_bytes()))


def test_elf_map_definition_with_a_sizeless_key() -> None:
    from ebpf.elf import CollectionSpec

    data = (Path(__file__).parent / "data" / "elf-map-size-valueerror.bin").read_bytes()  # found by fuzz_elf
    with pytest.raises(ParseError):
        CollectionSpec.from_bytes(data)
