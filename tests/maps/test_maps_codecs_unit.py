"""Codecs and MapSpec validation, without the kernel."""

from __future__ import annotations

import ctypes
import dataclasses
import ipaddress
import struct
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebpf.maps import (
    BytesCodec,
    CodecSlot,
    IntCodec,
    LpmKeyCodec,
    MapSpec,
    PerCpuCodec,
    PinType,
    StringCodec,
    StructCodec,
    as_codec,
    be16,
    be32,
    i8,
    i64,
    ipv4,
    ipv6,
    lpm_ipv4,
    lpm_ipv6,
    percpu_avg,
    percpu_max,
    percpu_min,
    percpu_sum,
    u32,
    u64,
)
from ebpf.syscall.abi import MapType
from ebpf.syscall.flags import MapFlags


@given(
    st.integers(min_value=1, max_value=16),
    st.booleans(),
    st.sampled_from(["little", "big", "native"]),
    st.data(),
)
def test_int_codec_round_trips_every_width(size: int, signed: bool, order: Any, data: st.DataObject) -> None:
    codec = IntCodec(size, signed=signed, byteorder=order)
    lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
    value = data.draw(st.integers(min_value=lo, max_value=hi))
    raw = codec.encode(value)
    assert len(raw) == size
    assert codec.decode(raw) == value
    buf = bytearray(size + 3)
    codec.encode_into(buf, 3, value)
    assert codec.decode_from(buf, 3) == value
    assert codec.decode_many(codec.encode_many([value, lo, hi]), 3) == [value, lo, hi]
    view = codec.view_many(codec.encode_many([value, lo, hi]) + b"spare", 3)
    if view.format == "B":  # no native memoryview format for this width or order
        assert codec.decode_many(view, 3) == [value, lo, hi]
        assert view.nbytes == 3 * size
    else:
        assert order != ("big" if sys.byteorder == "little" else "little")
        assert view.tolist() == [value, lo, hi]


def test_views_of_native_integers_have_their_format() -> None:
    assert [c.view_many(bytes(16), 2).format for c in (u32, u64, i64, be32)] == ["I", "Q", "q", "B"]
    assert len(u32.view_many(bytes(16), 3)) == 3


def test_int_codec_rejects_out_of_range_and_wrong_types() -> None:
    with pytest.raises(ValueError, match="does not fit u32"):
        u32.encode(-1)
    with pytest.raises(ValueError, match="does not fit"):
        u32.encode_into(bytearray(4), 0, 1 << 32)
    with pytest.raises(TypeError, match="takes an int, not str"):
        u64.encode_into(bytearray(8), 0, "7")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit i8"):
        i8.encode(128)
    assert be16.encode(0x1234) == b"\x12\x34"
    assert i64.decode(b"\xff" * 8) == -1


@pytest.mark.parametrize("codec", [u32, i64, be16, IntCodec(3), StructCodec("=I")], ids=str)
def test_a_slot_reads_and_writes_the_first_value_of_a_buffer(codec: Any) -> None:
    buf = ctypes.create_string_buffer(codec.size)
    slot: Any = codec.slot(buf)
    slot[0] = 513
    assert buf.raw == codec.encode(513)
    assert slot[0] == 513
    # Native integers are read and written by a memoryview (in C); others by the codec.
    native = codec in (u32, i64)
    assert isinstance(slot, memoryview) == native
    assert isinstance(slot, CodecSlot) != native


def test_a_native_integer_slot_refuses_what_the_codec_refuses() -> None:
    slot: Any = u32.slot(ctypes.create_string_buffer(4))
    for bad in (-1, 1 << 32, "7", 1.5):
        with pytest.raises((TypeError, ValueError)):
            slot[0] = bad
        with pytest.raises((TypeError, ValueError)):
            u32.encode_into(bytearray(4), 0, bad)  # type: ignore[arg-type]


def test_struct_codec_scalar_and_tuple() -> None:
    assert StructCodec("<Q").encode(5) == struct.pack("<Q", 5)
    pair = StructCodec("<IH")
    assert pair.size == 6
    assert pair.decode(pair.encode((1, 2))) == (1, 2)
    with pytest.raises(TypeError, match="one item per field"):
        pair.encode(1)
    with pytest.raises(ValueError, match="invalid struct format"):
        StructCodec("<Z")


def test_bytes_and_string_codecs_check_length() -> None:
    assert BytesCodec(3).encode(b"abc") == b"abc"
    with pytest.raises(ValueError, match="exactly 3 bytes, got 2"):
        BytesCodec(3).encode(b"ab")
    with pytest.raises(TypeError, match="bytes-like"):
        BytesCodec(3).encode("abc")  # type: ignore[arg-type]
    comm = StringCodec(16)
    assert comm.decode(comm.encode("python3")) == "python3"
    with pytest.raises(ValueError, match="at most 15 bytes"):
        comm.encode("x" * 16)


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint32), ("y", ctypes.c_int16)]


def test_ctypes_codec_copies_structures() -> None:
    codec = as_codec(Point)
    assert codec.size == ctypes.sizeof(Point)
    decoded = codec.decode(codec.encode(Point(7, -2)))
    assert (decoded.x, decoded.y) == (7, -2)
    with pytest.raises(TypeError, match="Point instances"):
        codec.encode(3)


class FakeSchema:
    """Shaped like a construct.Struct of two little-endian u16 (construct itself is not needed)."""

    def sizeof(self) -> int:
        return 4

    def build(self, obj: dict[str, int]) -> bytes:
        return struct.pack("<HH", obj["a"], obj["b"])

    def parse(self, data: bytes) -> dict[str, int]:
        a, b = struct.unpack("<HH", data)
        return {"a": a, "b": b}


def test_construct_like_schema_is_a_codec() -> None:
    codec = as_codec(FakeSchema())
    assert codec.size == 4
    assert codec.decode(codec.encode({"a": 1, "b": 2})) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="cannot build"):
        codec.encode({"a": 1})


class Celsius:
    """A user codec: tenths of a degree in an i32."""

    size = 4

    def encode(self, value: float) -> bytes:
        return struct.pack("<i", round(value * 10))

    def decode(self, data: bytes) -> float:
        return float(struct.unpack("<i", data)[0]) / 10


class Broken:
    size = 4

    def encode(self, value: object) -> bytes:
        return b"xx"

    def decode(self, data: bytes) -> object:
        return data


def test_user_codecs_plug_in_and_are_size_checked() -> None:
    codec = as_codec(Celsius())
    assert codec.decode(codec.encode(21.5)) == 21.5
    with pytest.raises(ValueError, match="encoded 1 as 2 bytes"):
        as_codec(Broken()).encode(1)
    with pytest.raises(TypeError, match="cannot use 42"):
        as_codec(42)  # type: ignore[arg-type]


def test_ip_and_lpm_codecs() -> None:
    assert ipv4.encode("10.0.0.1") == b"\x0a\x00\x00\x01"
    assert ipv6.decode(ipv6.encode("::1")) == ipaddress.IPv6Address("::1")
    key = lpm_ipv4.encode(ipaddress.IPv4Network("192.168.0.0/16"))
    assert key == struct.pack("=I", 16) + bytes([192, 168, 0, 0])
    assert lpm_ipv4.decode(key) == ipaddress.IPv4Network("192.168.0.0/16")
    assert lpm_ipv4.encode("10.1.2.3") == struct.pack("=I", 32) + bytes([10, 1, 2, 3])
    assert lpm_ipv6.decode(lpm_ipv6.encode("2001:db8::/32")) == ipaddress.IPv6Network("2001:db8::/32")
    raw = LpmKeyCodec(3)
    assert raw.decode(raw.encode((12, b"abc"))) == (12, b"abc")
    with pytest.raises(ValueError, match=r"outside 0\.\.24"):
        raw.encode((25, b"abc"))
    with pytest.raises(ValueError, match="IPv6"):
        lpm_ipv4.encode(ipaddress.IPv6Network("::/0"))


def test_percpu_codec_replicates_and_pads() -> None:
    codec = PerCpuCodec(u32, 3)
    assert codec.size == 24  # 4-byte values in 8-byte slots
    raw = codec.encode(7)
    assert raw == (struct.pack("=I", 7) + bytes(4)) * 3
    assert codec.decode(codec.encode([1, 2, 3])) == [1, 2, 3]
    with pytest.raises(ValueError, match="list of 3 values"):
        codec.encode([1, 2])
    structs = PerCpuCodec(as_codec(Point), 2)
    assert [p.x for p in structs.decode(structs.encode(Point(4, 0)))] == [4, 4]
    assert (percpu_sum([1, 2, 3]), percpu_max([1, 5]), percpu_min([4, 2]), percpu_avg([1, 2])) == (
        6,
        5,
        2,
        1.5,
    )
    with pytest.raises(ValueError, match="empty"):
        percpu_sum([])


@pytest.mark.parametrize("inner", [u32, u64, be16, StructCodec("=I")], ids=str)
def test_percpu_slots_read_every_cpu(inner: Any) -> None:
    codec = PerCpuCodec(inner, 3)
    buf = ctypes.create_string_buffer(codec.size)
    slot: Any = codec.slot(buf)
    slot[0] = [1, 2, 3]
    assert slot[0] == [1, 2, 3] == codec.decode(buf.raw)
    slot[0] = 9
    assert slot[0] == [9, 9, 9]


def test_spec_resolves_sizes_and_defaults() -> None:
    spec = MapSpec(MapType.HASH, name="h", key=u32, value="<QQ", max_entries=8)
    assert (spec.key_size, spec.value_size) == (4, 16)
    array = MapSpec(MapType.ARRAY, value_size=8, max_entries=4)
    assert array.key_codec is u32
    assert array.value_codec.describe() == "bytes[8]"
    lpm = MapSpec(MapType.LPM_TRIE, key_size=8, value=u32, max_entries=4)
    assert isinstance(lpm.key_codec, LpmKeyCodec)
    assert lpm.create_flags & MapFlags.NO_PREALLOC
    queue = MapSpec(MapType.QUEUE, value=u64, max_entries=4)
    assert queue.key_size == 0
    perf = MapSpec(MapType.PERF_EVENT_ARRAY)
    assert (perf.key_size, perf.value_size, perf.max_entries) == (4, 4, 0)
    numa = MapSpec(MapType.HASH, key=u32, value=u32, max_entries=1, numa_node=0)
    assert numa.create_flags & MapFlags.NUMA_NODE
    changed = dataclasses.replace(spec, max_entries=16)
    assert changed.max_entries == 16
    assert changed.key_codec is u32


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"type": MapType.HASH, "key": u32, "value": u64, "max_entries": 0}, ValueError, "max_entries >= 1"),
        (
            {"type": MapType.HASH, "name": "x" * 16, "key": u32, "value": u64, "max_entries": 1},
            ValueError,
            "15",
        ),
        (
            {"type": MapType.HASH, "name": "a-b", "key": u32, "value": u64, "max_entries": 1},
            ValueError,
            "rejects",
        ),
        ({"type": MapType.HASH, "value": u64, "max_entries": 1}, ValueError, "need a key size"),
        (
            {"type": MapType.HASH, "key": u32, "key_size": 8, "value": u64, "max_entries": 1},
            ValueError,
            "disagrees",
        ),
        ({"type": MapType.ARRAY, "key_size": 8, "value": u64, "max_entries": 1}, ValueError, r"key_size 4"),
        ({"type": MapType.QUEUE, "key": u32, "value": u64, "max_entries": 1}, ValueError, "key_size 0"),
        ({"type": MapType.RINGBUF, "max_entries": 4097}, ValueError, "power of 2"),
        ({"type": MapType.ARRAY_OF_MAPS, "max_entries": 1, "inner_map": 5}, TypeError, "MapSpec"),
        (
            {
                "type": MapType.HASH,
                "key": u32,
                "value": u64,
                "max_entries": 1,
                "inner_map": None,
                "pinning": PinType.BY_NAME,
            },
            ValueError,
            "needs a name",
        ),
        ({"type": MapType.SK_STORAGE, "value": u64, "max_entries": 4}, ValueError, "max_entries=0"),
        ({"type": MapType.PROG_ARRAY, "value": u64, "max_entries": 4}, ValueError, "value_size 4"),
        ({"type": MapType.HASH, "key": 3.5, "value": u64, "max_entries": 1}, TypeError, "cannot use 3.5"),
        ({"type": "hash", "key": u32, "value": u64, "max_entries": 1}, TypeError, "MapType"),
    ],
)
def test_bad_specs_are_rejected_before_any_syscall(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        MapSpec(**kwargs)
