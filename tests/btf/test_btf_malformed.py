"""Bad input raises ParseError and nothing else: no IndexError, RecursionError, hang or huge allocation."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebpf.btf import (
    BtfBuilder,
    BtfExt,
    Const,
    Int,
    IntEncoding,
    Member,
    Pointer,
    Struct,
    Typedef,
    dump_c,
    dump_raw,
    from_bytes,
    load_file,
    parse_btf_ext,
)
from ebpf.btf._ext import _parse as _parse_ext
from ebpf.syscall.errors import ParseError
from tests.btf._btf_support import BPF_DIR, compile_c


def _sample() -> bytes:
    builder = BtfBuilder()
    i32 = builder.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    ptr = builder.add(Pointer(0, "", 3))
    builder.add(Struct(0, "node", 16, (Member("value", i32, 0), Member("next", ptr, 64))))
    builder.add(Typedef(0, "node_t", 3))
    return builder.build()


SAMPLE = _sample()


def _exercise(data: bytes) -> None:
    """Everything a user might do with a graph; only ParseError may come out."""
    try:
        graph = from_bytes(data)
        for t in graph:
            str(t)
            graph.resolve(t)
        dump_raw(graph)
        dump_c(graph)
    except ParseError:
        pass


def test_truncated_header_and_bad_magic() -> None:
    with pytest.raises(ParseError, match="truncated BTF"):
        from_bytes(SAMPLE[:10])
    with pytest.raises(ParseError, match="bad BTF magic"):
        from_bytes(b"\x00\x00" + SAMPLE[2:])
    with pytest.raises(ParseError, match="big-endian"):
        from_bytes(b"\xeb\x9f" + SAMPLE[2:])
    with pytest.raises(ParseError, match="version"):
        from_bytes(SAMPLE[:2] + b"\x02" + SAMPLE[3:])


def test_sections_outside_the_blob() -> None:
    with pytest.raises(ParseError, match="runs past the end"):
        from_bytes(SAMPLE[:-3])
    huge = bytearray(SAMPLE)
    struct.pack_into("<I", huge, 12, 0xFFFFFFF0)  # type_len
    with pytest.raises(ParseError, match="type section"):
        from_bytes(bytes(huge))


def test_unknown_kind_and_cut_record() -> None:
    data = bytearray(SAMPLE)
    data[24 + 7] = 0x1F  # first record's kind byte
    with pytest.raises(ParseError, match=r"type id 1 .* unknown kind 31"):
        from_bytes(bytes(data))
    cut = bytearray(SAMPLE)
    struct.pack_into("<I", cut, 24 + 12 + 16 + 4, 0x04000000 | 0xFFFF)  # struct with vlen 65535
    with pytest.raises(ParseError, match="runs past the end"):
        from_bytes(bytes(cut))


def test_string_offset_and_type_id_out_of_range() -> None:
    data = bytearray(SAMPLE)
    struct.pack_into("<I", data, 24, 0x7FFFFFFF)  # name_off of type 1
    graph = from_bytes(bytes(data))
    with pytest.raises(ParseError, match="type id 1: string offset 2147483647"):
        graph[1]
    data = bytearray(SAMPLE)
    struct.pack_into("<I", data, 24 + 16 + 8, 999)  # the pointer's target
    graph = from_bytes(bytes(data))
    with pytest.raises(ParseError, match="type id 2: refers to type id 999"):
        graph[2]


def test_cycles_end_in_parse_errors() -> None:
    builder = BtfBuilder()
    builder.add(Typedef(0, "a", 2))
    builder.add(Typedef(0, "b", 1))
    builder.add(Pointer(0, "", 3))  # points to itself
    builder.add(Struct(0, "s", 4, (Member("self", 4, 0),)))  # embeds itself
    builder.add(Const(0, "", 5))
    graph = builder.graph()
    with pytest.raises(ParseError, match="cyclic"):
        graph.resolve(1)
    with pytest.raises(ParseError, match="cyclic"):
        graph.size_of(5)
    with pytest.raises(ParseError, match="cyclic or too deep"):
        str(graph[3])
    with pytest.raises(ParseError):
        graph.align_of(4)
    with pytest.raises(ParseError):
        dump_c(graph)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_corruption_only_raises_parse_error(data: st.DataObject) -> None:
    blob = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(0, len(blob) - 1))
        blob[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    _exercise(bytes(blob[:cut]) if data.draw(st.booleans()) else bytes(blob))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_parse_error(blob: bytes) -> None:
    _exercise(b"\x9f\xeb\x01\x00" + blob)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupt_btf_ext_only_raises_parse_error(data: st.DataObject) -> None:
    obj = load_file(compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds"))
    ext = bytearray(_ext_section())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(ext) - 1))
        ext[index] = data.draw(st.integers(0, 255))
    corrupt = bytes(ext[: data.draw(st.integers(0, len(ext)))])
    results: list[BtfExt | None] = []
    for declarative in (False, True):  # the struct path and the construct schemas agree
        try:
            results.append(_parse_ext(corrupt, obj, declarative=declarative))
        except ParseError:
            results.append(None)
    assert results[0] == results[1]


def _ext_section() -> bytes:
    from ebpf.btf._elf_sections import elf_section

    path = compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds")
    section = elf_section(path.read_bytes(), ".BTF.ext")
    assert section is not None
    return section


def test_btf_ext_of_an_object() -> None:
    obj = load_file(compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds"))
    ext = parse_btf_ext(_ext_section(), obj)
    assert set(ext.func_info) == {"socket", ".text"}
    (entry,) = ext.func_info["socket"]
    assert entry.insn_off == 0
    assert str(obj[entry.type_id]) == "int entry(void *ctx)"
    assert any("counter++" in line.line_text for line in ext.line_info["socket"])
    assert all(line.file_name.endswith(".c") and line.line > 0 for line in ext.line_info["socket"])
