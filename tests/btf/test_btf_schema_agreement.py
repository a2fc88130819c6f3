"""The construct schemas and the fast struct path agree on real files, and both build bytes."""

from __future__ import annotations

import pytest

from ebpf.btf import BtfBuilder, StringTable, TypeGraph, load_file
from ebpf.btf import _schema as schema
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
def test_fast_decode_then_construct_build_gives_the_original_bytes(
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
