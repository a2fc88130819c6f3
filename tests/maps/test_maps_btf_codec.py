"""BtfCodec: map keys and values as BTF types describe them, checked byte for byte."""

from __future__ import annotations

import struct

import pytest

from ebpf.btf import (
    Array,
    BtfBuilder,
    Datasec,
    Enum,
    EnumValue,
    Int,
    IntEncoding,
    Member,
    Pointer,
    Struct,
    Typedef,
    TypeGraph,
    Union,
    Var,
    VarSecinfo,
)
from ebpf.maps import BtfCodec
from ebpf.syscall import ParseError

# struct event {
#     __u32 pid;                       // 0
#     char comm[8];                    // 4
#     __s16 delta;                     // 12
#     unsigned flag: 1, level: 3;      // 14 (bits 112.., 113..)
#     int signed_bits: 4;              // bits 116..119
#     union { __u64 as_u64; __u32 as_u32[2]; };   // 16
#     enum color { RED = 0, GREEN = 5 } color;     // 24
#     void *ptr;                       // 32
#     _Bool ok;                        // 40
# };                                   // size 48
EVENT_FORMAT = struct.Struct("<I8shHQi4xQB7x")


@pytest.fixture(scope="module")
def graph() -> TypeGraph:
    b = BtfBuilder()
    u32 = b.add(Int(0, "unsigned int", 4))
    s16 = b.add(Int(0, "short", 2, IntEncoding.SIGNED))
    s32 = b.add(Int(0, "int", 4, IntEncoding.SIGNED))
    u64 = b.add(Int(0, "unsigned long long", 8))
    char = b.add(Int(0, "char", 1, IntEncoding.CHAR))
    boolean = b.add(Int(0, "_Bool", 1, IntEncoding.BOOL))
    comm = b.add(Array(0, "", char, u32, 8))
    pair = b.add(Array(0, "", u32, u32, 2))
    anon = b.add(Union(0, "", 8, (Member("as_u64", u64, 0), Member("as_u32", pair, 0))))
    color = b.add(Enum(0, "color", 4, (EnumValue("RED", 0), EnumValue("GREEN", 5))))
    void_ptr = b.add(Pointer(0, "", 0))
    b.add(
        Struct(
            0,
            "event",
            48,
            (
                Member("pid", u32, 0),
                Member("comm", comm, 32),
                Member("delta", s16, 96),
                Member("flag", u32, 112, 1),
                Member("level", u32, 113, 3),
                Member("signed_bits", s32, 116, 4),
                Member("", anon, 128),
                Member("color", color, 192),
                Member("ptr", void_ptr, 256),
                Member("ok", boolean, 320),
            ),
            kind_flag=True,
        )
    )
    b.add(Typedef(0, "pid_t", s32))
    counter = b.add(Var(0, "counter", u64))
    name = b.add(Var(0, "name", comm))
    b.add(Datasec(0, ".data", 16, (VarSecinfo(counter, 0, 8), VarSecinfo(name, 8, 8))))
    return b.graph()


def _event_bytes() -> bytes:
    bits = 1 | (5 << 1) | ((-3 & 0xF) << 4)
    return EVENT_FORMAT.pack(1234, b"bash\0\0\0\0", -7, bits, 0x1122334455667788, 5, 0xFFFF0000, 1)


def test_decodes_a_struct_like_c_reads_it(graph: TypeGraph) -> None:
    codec = BtfCodec(graph, "event")
    assert codec.size == 48
    assert codec.decode(_event_bytes()) == {
        "pid": 1234,
        "comm": "bash",
        "delta": -7,
        "flag": 1,
        "level": 5,
        "signed_bits": -3,
        "as_u64": 0x1122334455667788,
        "as_u32": [0x55667788, 0x11223344],
        "color": 5,
        "ptr": 0xFFFF0000,
        "ok": True,
    }


def test_encodes_the_same_bytes(graph: TypeGraph) -> None:
    codec = BtfCodec(graph, "event")
    value = {
        "pid": 1234,
        "comm": "bash",
        "delta": -7,
        "flag": 1,
        "level": 5,
        "signed_bits": -3,
        "as_u64": 0x1122334455667788,
        "color": 5,
        "ptr": 0xFFFF0000,
        "ok": True,
    }
    assert codec.encode(value) == _event_bytes()
    assert codec.decode(codec.encode({"pid": 7})) == {**codec.decode(bytes(48)), "pid": 7}


def test_typedefs_ints_and_datasecs(graph: TypeGraph) -> None:
    pid = BtfCodec(graph, "pid_t")
    assert pid.size == 4
    assert pid.decode(struct.pack("<i", -5)) == -5
    assert pid.encode(-5) == struct.pack("<i", -5)
    data = BtfCodec(graph, ".data")
    raw = struct.pack("<Q8s", 99, b"abc")
    assert data.decode(raw) == {"counter": 99, "name": "abc"}
    assert data.encode({"counter": 99, "name": "abc"}) == raw


def test_bad_values_say_what_is_wrong(graph: TypeGraph) -> None:
    codec = BtfCodec(graph, "event")
    with pytest.raises(ValueError, match="no member 'nope'"):
        codec.encode({"nope": 1})
    with pytest.raises(ValueError, match="does not fit char"):
        codec.encode({"comm": "far too long a name"})
    with pytest.raises(ValueError, match="3-bit field"):
        codec.encode({"level": 9})
    with pytest.raises(TypeError, match="dict"):
        codec.encode(5)
    with pytest.raises(ValueError, match="one member of a union"):
        codec.encode({"as_u64": 1, "as_u32": [1, 2]})
    with pytest.raises(ValueError, match="needs 48 bytes"):
        codec.decode(bytes(10))
    with pytest.raises(KeyError):
        BtfCodec(graph, "no_such_type")


def test_types_without_values_are_refused() -> None:
    b = BtfBuilder()
    b.add(Pointer(0, "", 0))
    graph = b.graph()
    with pytest.raises(ParseError, match="no value"):
        BtfCodec(graph, 0)


def _one_struct(*members: Member, size: int = 8, kind_flag: bool = True) -> TypeGraph:
    """A graph with ``int`` (id 1), ``void *`` (id 2) and ``struct odd`` of ``members``."""
    b = BtfBuilder()
    b.add(Int(0, "int", 4, IntEncoding.SIGNED))
    b.add(Pointer(0, "", 0))
    b.add(Struct(0, "odd", size, members, kind_flag=kind_flag))
    return b.graph()


def test_an_unnamed_scalar_member_is_skipped_like_padding() -> None:
    # The kernel's BTF checker takes a struct member with no name; C cannot name it, neither can we.
    codec = BtfCodec(_one_struct(Member("", 1, 0), Member("x", 1, 32)), "odd")
    assert codec.decode(struct.pack("<ii", 7, 9)) == {"x": 9}
    assert codec.encode({"x": 9}) == struct.pack("<ii", 0, 9)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ((Member("x", 1, 64),), r"member x ends at bit 96, past the type's 8 bytes"),
        ((Member("x", 1, 60, 8),), r"member x ends at bit 68, past the type's 8 bytes"),
        ((Member("p", 2, 0, 3),), r"bitfield member p has type void \* \(PTR\), not an integer or enum"),
    ],
    ids=["member_past_the_end", "bitfield_past_the_end", "bitfield_on_a_pointer"],
)
def test_what_cannot_be_read_safely_is_a_parse_error(members: tuple[Member, ...], message: str) -> None:
    with pytest.raises(ParseError, match=message):
        BtfCodec(_one_struct(*members), "odd")
