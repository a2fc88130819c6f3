"""Event decoders: spec lists, struct formats, ctypes, codecs, batches, NumPy, and bad input."""

from __future__ import annotations

import ctypes
import struct
from typing import Any

import pytest

from ebpf.events import EventDecoder, as_decoder, cstring
from ebpf.events._runs import equal_run
from ebpf.maps import BytesCodec, StringCodec, StructCodec, be16, i32, u8, u32, u64

RECORD = struct.Struct("=I4xQI4x")


def spaced(records: list[bytes], header: int, stride: int) -> memoryview:
    """Records ``stride`` bytes apart, each after ``header`` bytes of 0xAA, as in a ring."""
    out = bytearray()
    for record in records:
        out += b"\xaa" * header + record + b"\xbb" * (stride - header - len(record))
    return memoryview(out)


def test_spec_list_is_laid_out_like_a_c_struct() -> None:
    decoder = as_decoder([u32, u64, u32])
    assert decoder.size == 24  # u32, 4 bytes of padding, u64, u32, tail padding
    assert decoder.decode(RECORD.pack(1, 2, 3)) == (1, 2, 3)
    assert as_decoder([u32, u64, u32], packed=True).size == 16


def test_named_fields_c_strings_foreign_byte_order_and_arrays() -> None:
    decoder = as_decoder([("pid", u32), ("comm", "char[16]"), ("port", be16), ("ids", "u16[2]")])
    data = struct.pack("=I16s2sHH2x", 7, b"bash\0garbage", b"\x01\x02", 5, 6)
    event = decoder.decode(data)
    assert event == (7, "bash", 258, (5, 6))
    assert (event.pid, event.comm, event.port, event.ids) == (7, "bash", 258, (5, 6))


def test_single_values_and_codec_items() -> None:
    assert as_decoder("u64").decode((5).to_bytes(8, "little")) == 5
    assert as_decoder("char[8]").decode(b"ab\0cdefg") == "ab"
    assert as_decoder(u32).decode(b"\x01\0\0\0") == 1
    assert as_decoder([StringCodec(4), BytesCodec(3), i32]).decode(b"hi\0\0xyz\0\xff\xff\xff\xff") == (
        "hi",
        b"xyz",
        -1,
    )
    assert as_decoder([u8, ctypes.c_char * 4, ctypes.c_int16]).decode(b"\x01ok\0\0\x00\xfe\xff") == (
        1,
        "ok",
        -2,
    )


def test_c_strings_decode_sensibly() -> None:
    assert cstring(b"comm\0\0\0") == "comm"
    assert cstring(b"full") == "full"
    assert cstring(b"caf\xc3\xa9\0") == "café"
    assert cstring(b"\xff\xfe\0") == "\ufffd\ufffd"


def test_struct_formats_keep_struct_semantics() -> None:
    decoder = as_decoder("<IQ2H")
    assert decoder.size == 16
    assert decoder.decode(struct.pack("<IQ2H", 1, 2, 3, 4)) == (1, 2, 3, 4)
    native = as_decoder("@IQ")
    assert native.size == struct.calcsize("@IQ")
    assert native.decode(struct.pack("@IQ", 9, 10)) == (9, 10)
    assert as_decoder(struct.Struct("=16s")).decode(b"x" * 16) == b"x" * 16
    assert as_decoder(StructCodec("=HH")).decode(b"\1\0\2\0") == (1, 2)


class Event(ctypes.Structure):
    _fields_ = (("seq", ctypes.c_uint32), ("value", ctypes.c_uint64), ("cpu", ctypes.c_uint32))


def test_ctypes_structures_decode_to_copies() -> None:
    decoder = as_decoder(Event)
    data = bytearray(RECORD.pack(1, 2, 3))
    event = decoder.decode(data)
    data[0] = 99
    assert (event.seq, event.value, event.cpu) == (1, 2, 3)


def test_user_decoders_get_exactly_their_bytes() -> None:
    seen: list[bytes] = []

    class Tail:
        size = 4

        def decode(self, data: memoryview) -> int:
            seen.append(bytes(data))
            return len(data)

    decoder = as_decoder(Tail())
    assert decoder.decode_from(b"0123456789", 3) == 4
    assert seen == [b"3456"]


@pytest.mark.parametrize(
    "spec", [[u32, u64, u32], "=I4xQI4x", Event, [("seq", u32), ("value", u64), ("cpu", u32)]]
)
def test_batches_agree_with_one_at_a_time(spec: Any) -> None:
    decoder = as_decoder(spec)
    records = [RECORD.pack(i, i * 3, i % 2) for i in range(50)]
    for header, stride in ((8, 32), (12, 40)):
        buf = spaced(records, header, stride)
        one_by_one = [decoder.decode_from(buf, header + i * stride) for i in range(50)]
        batch = decoder.decode_batch(buf, 0, 50, stride, header)
        if isinstance(one_by_one[0], ctypes.Structure):
            assert [bytes(e) for e in batch] == [bytes(e) for e in one_by_one] == records
        else:
            assert batch == one_by_one
            assert [tuple(e) for e in batch] == [(i, i * 3, i % 2) for i in range(50)]


@pytest.mark.parametrize("spec", [[u32, u64, u32], "=I4xQI4x", Event, u32])
def test_a_run_tells_how_many_records_it_has_not_decoded(spec: Any) -> None:
    decoder = as_decoder(spec)
    buf = spaced([RECORD.pack(i, i * 3, 0) for i in range(10)], 8, 32)
    run = decoder.decode_run(buf, 0, 10, 32, 8)
    taken = [next(run.records) for _ in range(4)]
    assert run.remaining() == 6
    first = [e if isinstance(e, int) else e[0] if isinstance(e, tuple) else e.seq for e in taken]
    assert first == [0, 1, 2, 3]
    assert len(list(run.records)) == 6
    assert run.remaining() == 0


def test_a_failing_record_counts_as_decoded() -> None:
    class Picky:
        size = 24

        def decode(self, data: memoryview) -> int:
            seq: int = RECORD.unpack(data)[0]
            if seq == 3:
                raise ValueError("not 3")
            return seq

    run = as_decoder(Picky()).decode_run(spaced([RECORD.pack(i, 0, 0) for i in range(6)], 8, 32), 0, 6, 32, 8)
    assert [next(run.records) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="not 3"):
        next(run.records)
    assert run.remaining() == 2


def test_equal_run_stops_at_the_first_other_header() -> None:
    headers = memoryview(bytearray(struct.pack("=12I", 24, 0, 24, 0, 24, 0, 16, 0, 24, 0, 24, 0))).cast("I")
    assert equal_run(headers, 0, 2, 24, 6) == 3
    assert equal_run(headers, 0, 2, 24, 2) == 2
    assert equal_run(headers, 0, 2, 24, 1) == 1
    assert equal_run(headers, 8, 2, 24, 2) == 2
    assert equal_run(headers, 4, 2, 24, 3) == 1


def test_numpy_arrays() -> None:
    np = pytest.importorskip("numpy")
    decoder = as_decoder([("pid", u32), ("ts", u64), ("comm", "char[16]")])
    records = [struct.pack("=I4xQ16s", i, i * 10, b"p%d\0" % i) for i in range(20)]
    array = decoder.decode_array(spaced(records, 8, 40), 0, 20, 40, 8)
    assert array.dtype == decoder.numpy_dtype()
    assert array.dtype.itemsize == 32
    assert array["pid"].tolist() == list(range(20))
    assert array["ts"].sum() == sum(range(0, 200, 10))
    assert array["comm"][3] == b"p3"
    assert len(decoder.decode_array(spaced([], 8, 40), 0, 0, 40, 8)) == 0
    ctypes_array = as_decoder(Event).decode_array(spaced(records[:2], 8, 40), 0, 2, 40, 8)
    assert ctypes_array["seq"].tolist() == [0, 1]
    assert isinstance(np.asarray(ctypes_array), np.ndarray)


def test_decoders_without_layout_have_no_arrays() -> None:
    class Raw:
        size = 2

        def decode(self, data: memoryview) -> bytes:
            return bytes(data)

    with pytest.raises(TypeError, match="no field layout"):
        as_decoder(Raw()).numpy_dtype()


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ([], ValueError, "at least one field"),
        (["u128"], ValueError, "unknown field type"),
        (["char[0]"], ValueError, "length >= 1"),
        ([("a", u32), u32], TypeError, "every field"),
        ([("a", u32), ("a", u32)], ValueError, "duplicate"),
        ([("not a name", u32)], ValueError, "identifier"),
        ("=Z", ValueError, "invalid struct format"),
        ("=3p", ValueError, "Pascal"),
        (object(), TypeError, "cannot decode events"),
        ([object()], TypeError, "field type"),
        (int, TypeError, "ctypes"),
    ],
)
def test_bad_specs_are_refused_clearly(spec: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        as_decoder(spec)


def test_short_data_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 24 bytes, got 8"):
        as_decoder([u32, u64, u32]).decode(bytes(8))


def test_an_event_decoder_is_returned_as_is() -> None:
    decoder = as_decoder([u32])
    assert as_decoder(decoder) is decoder
    assert isinstance(decoder, EventDecoder)
    assert repr(decoder) == "[u32]"


def test_btf_types_decode_records_as_dicts() -> None:
    """A record laid out by a BTF struct (as in a clang object's BTF) decodes to a dict."""
    from ebpf.btf import Array, BtfBuilder, Int, IntEncoding, Member, Struct
    from ebpf.maps import BtfCodec

    b = BtfBuilder()
    u32_id = b.add(Int(0, "unsigned int", 4))
    char = b.add(Int(0, "char", 1, IntEncoding.CHAR))
    comm = b.add(Array(0, "", char, u32_id, 16))
    u64_id = b.add(Int(0, "unsigned long long", 8))
    b.add(
        Struct(
            0, "event", 32, (Member("pid", u32_id, 0), Member("comm", comm, 32), Member("ts", u64_id, 192))
        )
    )
    decoder = as_decoder(BtfCodec(b.graph(), "event"))
    record = struct.pack("<I16s4xQ", 4242, b"python3", 123456789)
    assert decoder.size == 32
    assert decoder.decode(record) == {"pid": 4242, "comm": "python3", "ts": 123456789}


def test_byte_order_names_are_field_types() -> None:
    decoder = as_decoder([("port", ">u16"), ("n", "<i32"), ("net", "!u32")])
    assert decoder.decode(b"\x01\x02\0\0\xff\xff\xff\xff\0\0\0\x05") == (258, -1, 5)
    assert as_decoder(">u16").decode(b"\x01\x02") == 258


class _Described:
    """A codec of no known class: ebpf.events reads how its bytes are laid out from ``layout``."""

    def __init__(self, size: int, layout: object) -> None:
        self.size = size
        self.layout = layout

    def decode(self, data: bytes) -> object:
        raise AssertionError("decoded through the layout, never called")


def test_codecs_are_recognised_by_their_layout_not_their_class() -> None:
    assert as_decoder([_Described(2, ">u16"), _Described(4, "char[4]")]).decode(b"\x01\x02hi\0\0") == (
        258,
        "hi",
    )
    assert as_decoder(_Described(8, struct.Struct("<II"))).decode(b"\x01\0\0\0\x02\0\0\0") == (1, 2)

    class Pair(ctypes.Structure):
        _fields_ = (("a", ctypes.c_uint16), ("b", ctypes.c_uint16))

    pair = as_decoder(_Described(4, Pair)).decode(b"\x01\0\x02\0")
    assert isinstance(pair, Pair)
    assert (pair.a, pair.b) == (1, 2)
    assert as_decoder([u8]).numpy_dtype() is not None


def test_maps_codecs_describe_their_layout() -> None:
    from ebpf.maps import CtypesCodec, IntCodec

    assert (u32.layout, i32.layout, be16.layout) == ("u32", "i32", ">u16")
    assert IntCodec(3).layout is None  # no field type: decoded value by value
    assert (StringCodec(16).layout, BytesCodec(16).layout) == ("char[16]", "u8[16]")
    layout = StructCodec("<IH").layout
    assert isinstance(layout, struct.Struct)
    assert layout.format == "<IH"
    assert CtypesCodec(ctypes.c_uint32).layout is ctypes.c_uint32
