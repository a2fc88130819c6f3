"""The construct schemas and the fast struct path agree on real files, and both build bytes."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

import construct as cs
import pytest

from ebpf.btf import BtfBuilder, Kind, StringTable, TypeGraph, load_file
from ebpf.btf import _schema as schema
from ebpf.btf._elf_sections import elf_section
from ebpf.btf._encode import encode_record
from ebpf.btf._ext import _parse as _parse_ext
from ebpf.btf._layout import KIND_STRUCT
from ebpf.syscall.abi import BTF_KINDS, BTF_TRAILER_SIZES
from tests.btf._btf_support import BPF_DIR, compile_c


def _sections(graph: TypeGraph) -> tuple[schema.BtfHeader, bytes]:
    header = schema.parse_header(graph.data)
    start = header.hdr_len + header.type_off
    return header, graph.data[start : start + header.type_len]


def _reencode(graph: TypeGraph) -> bytes:
    """Fast-path types, encoded again through the construct schemas, with the original strings."""
    builder = BtfBuilder(StringTable(graph.string_section))
    for t in graph:
        builder.add(t)
    return builder.build()


@pytest.fixture(scope="module")
def kinds() -> TypeGraph:
    return load_file(compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds"))


def test_construct_round_trip_and_kinds_match_fast_path(vmlinux: TypeGraph) -> None:
    _, section = _sections(vmlinux)
    records = schema.parse_type_records(section)
    assert len(records) == len(vmlinux)
    assert b"".join(schema.build_type_record(r) for r in records) == section
    assert [r.kind for r in records] == [int(t.kind) for t in vmlinux]


@pytest.mark.parametrize("which", ["vmlinux", "object"])
def test_struct_encoder_builds_what_the_construct_schema_builds(
    which: str, vmlinux: TypeGraph, kinds: TypeGraph
) -> None:
    graph = vmlinux if which == "vmlinux" else kinds
    records = schema.parse_type_records(_sections(graph)[1])
    assert [encode_record(r) for r in records] == [schema.build_type_record(r) for r in records]
    kinds_seen = {r.kind for r in records}
    if which == "object":  # btf_kinds.c holds every kind the encoder has a branch for
        assert len(kinds_seen) >= 18, sorted(kinds_seen)


def test_struct_encoder_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_record(schema.BtfTypeRecord(1 << 32, 0, 0, None))


@pytest.mark.parametrize("which", ["vmlinux", "object"])
def test_fast_decode_then_build_gives_the_original_bytes(
    which: str, vmlinux: TypeGraph, kinds: TypeGraph
) -> None:
    graph = vmlinux if which == "vmlinux" else kinds
    assert _reencode(graph) == graph.data


def test_string_table_keeps_offsets_and_dedups() -> None:
    table = StringTable(b"\0int\0char\0")
    assert (table.add("int"), table.add("char"), table.add("")) == (1, 5, 0)
    assert table.add("long") == 10
    assert table.add("long") == 10
    assert table.to_bytes() == b"\0int\0char\0long\0"
    with pytest.raises(ValueError, match="NUL"):
        table.add("a\0b")
    with pytest.raises(ValueError, match="starts with an empty string"):
        StringTable(b"int\0")


# --- each schema is its C struct, field by field ---------------------------------------
# Distinct values in every field: a field parsed into, or built from, the wrong
# attribute of its dataclass changes the bytes or the record.


_RECORDS: list[tuple[Any, Any, str]] = [
    (schema.BTF_HEADER, schema.BtfHeader(0xEB9F, 1, 2, 24, 3, 4, 5, 6), "<HBBIIIII"),
    (schema.BTF_ARRAY, schema.BtfArray(1, 2, 3), "<III"),
    (schema.BTF_MEMBER, schema.BtfMember(1, 2, 3), "<III"),
    (schema.BTF_ENUM, schema.BtfEnum(1, 2), "<II"),
    (schema.BTF_ENUM64, schema.BtfEnum64(1, 2, 3), "<III"),
    (schema.BTF_PARAM, schema.BtfParam(1, 2), "<II"),
    (schema.BTF_VAR_SECINFO, schema.BtfVarSecinfo(1, 2, 3), "<III"),
    (schema.BTF_EXT_HEADER, schema.BtfExtHeader(0xEB9F, 1, 2, 32, 3, 4, 5, 6, 7, 8), "<HBBIIIIIII"),
    (schema.FUNC_INFO_RECORD, schema.FuncInfoRecord(1, 2), "<II"),
    (schema.LINE_INFO_RECORD, schema.LineInfoRecord(1, 2, 3, 4), "<IIII"),
    (schema.CORE_RELO_RECORD, schema.CoreReloRecord(1, 2, 3, 4), "<IIII"),
]


@pytest.mark.parametrize(
    ("construct", "record", "fmt"), _RECORDS, ids=[type(r).__name__ for _, r, _ in _RECORDS]
)
def test_record_schema_is_the_c_layout(construct: Any, record: Any, fmt: str) -> None:
    raw = struct.pack(fmt, *dataclasses.astuple(record))
    assert construct.parse(raw) == record
    assert construct.build(record) == raw


def test_ext_header_without_core_relocations() -> None:
    raw = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 1, 2, 3, 4)
    header = schema.BTF_EXT_HEADER.parse(raw)
    assert header == schema.BtfExtHeader(0xEB9F, 1, 0, 24, 1, 2, 3, 4, None, None)
    assert schema.BTF_EXT_HEADER.build(header) == raw


def test_type_record_with_a_trailer_of_the_kind() -> None:
    info = (KIND_STRUCT << 24) | 2  # a struct with two members
    raw = struct.pack("<III", 7, info, 16) + struct.pack("<6I", 1, 2, 0, 3, 4, 64)
    record = schema.BtfTypeRecord(7, info, 16, [schema.BtfMember(1, 2, 0), schema.BtfMember(3, 4, 64)])
    (parsed,) = schema.parse_type_records(raw)
    assert parsed == record
    assert type(parsed.trailer) is list  # no construct container leaves the schema
    assert parsed.kind == KIND_STRUCT
    assert schema.build_type_record(record) == raw
    with pytest.raises(cs.ConstructError):
        schema.parse_type_records(struct.pack("<III", 0, 31 << 24, 0))  # kind 31: unknown length


def test_ext_info_blocks_keep_their_records_as_bytes() -> None:
    raw = struct.pack("<I", 8) + struct.pack("<II", 5, 2) + bytes(range(16)) + struct.pack("<II", 6, 0)
    info = schema.EXT_INFO.parse(raw)
    assert info == schema.ExtInfo(
        8, [schema.ExtSection(5, 2, [bytes(range(8)), bytes(range(8, 16))]), schema.ExtSection(6, 0, [])]
    )
    assert type(info.sections) is list
    assert type(info.sections[0].records) is list
    assert schema.EXT_INFO.build(info) == raw


@pytest.mark.parametrize("source", ["core/btf_kinds.c", "core/core_task.c", "core/core_bits.c"])
def test_btf_ext_struct_path_reads_what_the_schemas_read(source: str) -> None:
    path = compile_c(BPF_DIR / source, name=Path(source).stem)
    ext = elf_section(path.read_bytes(), ".BTF.ext")
    assert ext is not None
    graph = load_file(path)
    fast, declarative = _parse_ext(ext, graph, declarative=False), _parse_ext(ext, graph, declarative=True)
    assert fast == declarative
    assert fast.func_info
    assert fast.line_info
    if source != "core/btf_kinds.c":
        assert fast.core_relos


def test_the_public_kind_enum_has_the_layouts_numbers() -> None:
    """``ebpf.btf.Kind`` names the ``BTF_KIND_*`` numbers of the one raw-BTF layout (``ebpf.syscall.abi``)."""
    assert {kind.name: int(kind) for kind in Kind if kind != Kind.UNKN} == BTF_KINDS
    assert set(BTF_TRAILER_SIZES) == set(BTF_KINDS.values())
