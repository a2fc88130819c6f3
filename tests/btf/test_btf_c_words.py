"""The C dump reads records from their words: the answers agree with the decoded types'.

`_c_records.Records` (sizes, alignments) against `TypeGraph.size_of` /
`align_of`, and the dumper's declarators against `_c_decl.decl` on the
decoded types, on this kernel's BTF and on our test objects'.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ebpf.btf import (
    Array,
    BtfBuilder,
    Composite,
    Enum,
    Int,
    IntEncoding,
    Kind,
    Member,
    Pointer,
    Struct,
    Type,
    TypeGraph,
    dump_c,
    from_bytes,
    load_file,
)
from ebpf.btf._c_decl import decl
from ebpf.btf._c_declarator import Declarator
from ebpf.btf._c_dump import _CDumper
from ebpf.btf._c_records import Records
from ebpf.syscall.errors import ParseError
from tests.btf._btf_support import BPF_DIR, compile_c

#: kinds the header declares with a declarator (members, parameters, typedef targets)
_DECLARED = (Kind.PTR, Kind.ARRAY, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.FUNC_PROTO, Kind.TYPEDEF)


def _answer(call: object, type_id: int) -> object:
    """What ``call(type_id)`` returns, or the class of what it raises."""
    assert callable(call)
    try:
        return call(type_id)
    except ValueError as exc:
        return type(exc)


def _check_records(graph: TypeGraph) -> None:
    records = Records(graph)
    for type_id in range(graph.first_id, graph.last_id + 1):
        assert _answer(records.size_of, type_id) == _answer(graph.size_of, type_id), type_id
        assert _answer(records.align_of, type_id) == _answer(graph.align_of, type_id), type_id
        assert records.name(type_id) == graph[type_id].name


def _check_declarators(graph: TypeGraph) -> int:
    """Compare every declarator without an anonymous body; returns how many were compared."""
    dumper = _CDumper(graph)
    dumper.dump("__T__")  # every name gets its ___N suffix as in the header
    spelling = Declarator(dumper.records, dumper._base_name, 0)

    def renamed(t: Type) -> str:
        return dumper._base_name(t.id, int(t.kind), 0, spelling)

    def anonymous(t: Type) -> str:
        raise AssertionError(f"type {t.id}: anonymous body")

    compared = 0
    for type_id in range(graph.first_id, graph.last_id + 1):
        t = graph[type_id]
        if t.kind not in _DECLARED:
            continue
        for name in ("", "x"):
            words = Declarator(dumper.records, dumper._base_name, 0)
            text = words.decl(type_id, name, 0)
            if words.wrote_body:
                continue
            assert text == decl(t, name, anonymous, renamer=renamed), type_id
            compared += 1
    return compared


def test_records_agree_with_the_graph_on_vmlinux(vmlinux: TypeGraph) -> None:
    _check_records(vmlinux)


def test_declarators_agree_with_decoded_types_on_vmlinux(vmlinux: TypeGraph) -> None:
    assert _check_declarators(vmlinux) > 10_000


@pytest.mark.parametrize("source", sorted((BPF_DIR / "core").glob("*.c")), ids=lambda p: p.stem)
def test_records_and_declarators_on_object_btf(source: Path) -> None:
    graph = load_file(compile_c(source, name=source.stem))
    _check_records(graph)
    _check_declarators(graph)


def test_anonymous_bodies_are_not_kept_per_type() -> None:
    """A declarator that wrote an anonymous body says so (the dumper does not cache it)."""
    graph = load_file(compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds"))
    dumper = _CDumper(graph)
    dumper.dump("__T__")
    anonymous = [
        t for t in graph if isinstance(t, (Composite, Enum)) and not t.name and t.kind is not Kind.ENUM64
    ]
    assert anonymous
    words = Declarator(dumper.records, dumper._base_name, 1)
    text = words.decl(anonymous[0].id, "field", 0)
    assert words.wrote_body
    assert "{" in text
    assert text.endswith(" field")


def test_records_the_header_follows_are_checked_as_decoding_would() -> None:
    """What the header does not print is checked too: an anonymous pointer's name, an array's index type."""
    builder = BtfBuilder()
    i32 = builder.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    ptr = builder.add(Pointer(0, "", i32))
    arr = builder.add(Array(0, "", i32, i32, 4))
    builder.add(Struct(0, "s", 24, (Member("p", ptr, 0), Member("a", arr, 64))))
    data = builder.build()
    graph = from_bytes(data)
    assert "struct s {" in dump_c(graph)
    table = graph._table

    def patched(type_id: int, word: int, value: int) -> TypeGraph:
        blob = bytearray(data)
        struct.pack_into("<I", blob, table.types_start + 4 * (table.offsets[type_id - 1] + word), value)
        return from_bytes(bytes(blob))

    with pytest.raises(ParseError, match="string offset"):
        dump_c(patched(ptr, 0, 0x7FFFFFFF))  # the pointer's name offset
    with pytest.raises(ParseError, match="refers to type id 999"):
        dump_c(patched(arr, 4, 999))  # the array's index type
