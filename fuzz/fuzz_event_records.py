"""Fuzz target: event records as BPF programs write them, through ``ebpf.events`` decoders.

A ring or perf buffer record's payload is whatever a program wrote:
arbitrary bytes, of any length. Each decoder of a set covering every kind
``as_decoder`` builds (C layouts with strings, arrays, floats and bools,
``struct`` formats, ctypes structures, ``ebpf.maps`` codecs) decodes the
input, and a run of equally spaced records cut from it. A record at least
the decoder's size must decode without any exception (a BPF program may
put any bytes in a ``char[16]``); a shorter one may only raise ``ValueError``.
"""

from __future__ import annotations

import ctypes
import functools

from ebpf.events import EventDecoder, as_decoder
from ebpf.maps import StringCodec, u32, u64

NAME = "event_records"
ALLOWED: tuple[type[BaseException], ...] = (ValueError,)


class _Sample(ctypes.Structure):
    _fields_ = (("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16), ("ts", ctypes.c_uint64))


@functools.cache
def decoders() -> tuple[EventDecoder, ...]:
    """One decoder of each kind."""
    return (
        as_decoder([u32, u64, "char[16]"]),
        as_decoder([("pid", "u32"), ("comm", "char[16]"), ("f", "f64"), ("b", "bool"), ("a", "u32[3]")]),
        as_decoder(["i8", "i16", "u8[5]", "f32"], packed=True),
        as_decoder("<IQ16s"),
        as_decoder(_Sample),
        as_decoder(StringCodec(16)),
        as_decoder("char[64]"),
    )


def one_input(data: bytes) -> None:
    """Decode ``data[1:]`` with every decoder, alone and as a run of records (stride from ``data[0]``)."""
    if not data:
        return
    payload = data[1:]
    for decoder in decoders():
        if len(payload) >= decoder.size:
            decoder.decode(payload)
            stride = max(decoder.size, decoder.size + (data[0] & 0x1F))
            count = len(payload) // stride
            decoder.decode_batch(payload, 0, count, stride, 0)
        else:
            try:
                decoder.decode(payload)
            except ALLOWED:
                continue
            raise AssertionError(f"{decoder} decoded {len(payload)} bytes, fewer than its {decoder.size}")


def seeds() -> list[bytes]:
    """Zeroed, saturated and text-like records of a few sizes."""
    out = [bytes(1 + n) for n in (0, 12, 32, 64, 200)]
    out += [b"\x08" + b"\xff" * 96, b"\x00" + b"\x01\x00\x00\x00bash\x00" + b"\x80" * 40]
    return out
