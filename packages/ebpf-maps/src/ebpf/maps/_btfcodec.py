"""Codecs from BTF types: map keys and values as the C program declared them.

A clang-compiled object (or a map created with BTF) describes its keys and
values in BTF. [`BtfCodec`][ebpf.maps.BtfCodec] turns such a type into Python values:

- integers and enums: ``int`` (``bool`` for ``_Bool``), floats: ``float``,
  pointers: the address as ``int``;
- ``char`` arrays: ``str`` up to the first NUL (bytes that are not UTF-8 are
  kept as ``\\x..`` escapes); other arrays: ``list``;
- structs and unions: ``dict`` by member name (members of anonymous structs
  and unions appear in the enclosing dict, as C accesses them), bitfields
  included; a DATASEC (a ``.data``/``.bss`` map value): ``dict`` by variable.

Encoding takes the same shapes; struct members missing from the dict are
zero, and a union is written from the one member the dict names.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from ebpf.btf import (
    Array,
    Composite,
    Datasec,
    Enum,
    Float,
    Int,
    IntEncoding,
    Pointer,
    Type,
    TypeGraph,
    Union,
    Var,
)
from ebpf.syscall.errors import ParseError

from ._codecs import Codec

__all__ = ["BtfCodec"]

# Nesting deeper than this is a malformed (or hostile) type graph.
_MAX_DEPTH = 64

_Decode = Callable[[bytes, int], Any]  # (data, byte offset) -> value
_Encode = Callable[[bytearray, int, Any], None]  # (buffer, byte offset, value)


class _Field:
    """How one member is read and written: at a byte offset, or as a bitfield."""

    __slots__ = ("bit_offset", "bits", "covers", "decode", "encode", "name", "offset", "signed")

    def __init__(self, name: str, offset: int, decode: _Decode, encode: _Encode) -> None:
        self.name, self.offset, self.decode, self.encode = name, offset, decode, encode
        self.bit_offset = self.bits = 0
        self.signed = False
        #: for an anonymous union (name ""): the member names it holds.
        self.covers: frozenset[str] = frozenset()


def _int_codec(size: int, signed: bool, boolean: bool) -> tuple[_Decode, _Encode]:
    if size not in (1, 2, 4, 8, 16):
        raise ParseError(f"BTF integer of {size} bytes cannot be decoded")
    if size == 16:

        def decode16(data: bytes, off: int) -> Any:
            return int.from_bytes(data[off : off + 16], "little", signed=signed)

        def encode16(buf: bytearray, off: int, value: Any) -> None:
            buf[off : off + 16] = int(value).to_bytes(16, "little", signed=signed)

        return decode16, encode16
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
    fmt = struct.Struct("<" + (code if signed else code.upper()))
    unpack, pack = fmt.unpack_from, fmt.pack_into

    def decode(data: bytes, off: int) -> Any:
        value = unpack(data, off)[0]
        return bool(value) if boolean else value

    def encode(buf: bytearray, off: int, value: Any) -> None:
        if not isinstance(value, int):
            raise TypeError(f"a {size}-byte BTF integer takes an int, not {type(value).__name__}")
        pack(buf, off, value)

    return decode, encode


class _Builder:
    def __init__(self, graph: TypeGraph) -> None:
        self.graph = graph

    def build(self, t: Type, depth: int) -> tuple[_Decode, _Encode]:
        if depth > _MAX_DEPTH:
            raise ParseError(f"BTF type [{t.id}] nests deeper than {_MAX_DEPTH} levels")
        t = self.graph.resolve(t)
        if isinstance(t, Int):
            return _int_codec(
                t.size, bool(t.encoding & IntEncoding.SIGNED), bool(t.encoding & IntEncoding.BOOL)
            )
        if isinstance(t, Enum):
            return _int_codec(t.size, t.signed, False)
        if isinstance(t, Pointer):
            return _int_codec(self.graph.pointer_size, False, False)
        if isinstance(t, Float):
            return self._float(t.size)
        if isinstance(t, Array):
            return self._array(t, depth)
        if isinstance(t, Composite):
            return self._composite(t, depth)
        if isinstance(t, Datasec):
            return self._datasec(t, depth)
        raise ParseError(f"BTF type [{t.id}] {t!s} ({t.kind.name}) has no value to decode")

    @staticmethod
    def _float(size: int) -> tuple[_Decode, _Encode]:
        if size not in (4, 8):
            raise ParseError(f"BTF float of {size} bytes cannot be decoded")
        fmt = struct.Struct("<f" if size == 4 else "<d")

        def decode(data: bytes, off: int) -> Any:
            return fmt.unpack_from(data, off)[0]

        def encode(buf: bytearray, off: int, value: Any) -> None:
            fmt.pack_into(buf, off, float(value))

        return decode, encode

    def _array(self, t: Array, depth: int) -> tuple[_Decode, _Encode]:
        elem = self.graph.resolve(t.type_id)
        n = t.nelems
        if (
            isinstance(elem, Int)
            and elem.size == 1
            and (elem.encoding & IntEncoding.CHAR or elem.name == "char")
        ):

            def decode_str(data: bytes, off: int) -> Any:
                raw = data[off : off + n].split(b"\0", 1)[0]
                return raw.decode("utf-8", "backslashreplace")

            def encode_str(buf: bytearray, off: int, value: Any) -> None:
                raw = value.encode() if isinstance(value, str) else bytes(value)
                if len(raw) > n:
                    raise ValueError(f"{raw!r} does not fit char[{n}]")
                buf[off : off + n] = raw.ljust(n, b"\0")

            return decode_str, encode_str
        step = self.graph.size_of(elem)
        decode_elem, encode_elem = self.build(elem, depth + 1)

        def decode(data: bytes, off: int) -> Any:
            return [decode_elem(data, off + i * step) for i in range(n)]

        def encode(buf: bytearray, off: int, value: Any) -> None:
            items = list(value)
            if len(items) > n:
                raise ValueError(f"{len(items)} values do not fit an array of {n}")
            for i, item in enumerate(items):
                encode_elem(buf, off + i * step, item)

        return decode, encode

    def _fields(self, t: Composite, base_bits: int, depth: int) -> list[_Field]:
        """The fields of ``t``'s members.

        The kernel's BTF checker accepts members C cannot name (an unnamed
        int) and checks little of their placement; what cannot be read
        safely is refused here, before any data is.

        Raises:
            ParseError: a member lies past the end of ``t``, or a bitfield's
                type is not an integer or an enum.
        """
        fields: list[_Field] = []
        where = f"BTF type [{t.id}] {t!s}"
        for member in t.members:
            bit_offset = base_bits + member.bit_offset
            inner = self.graph.resolve(member.type_id)
            if member.bitfield_size:
                end_bits = member.bit_offset + member.bitfield_size
            else:
                end_bits = member.bit_offset + 8 * self.graph.size_of(inner)
            if end_bits > 8 * t.size:
                raise ParseError(
                    f"{where}: member {member.name or '(unnamed)'} ends at bit {end_bits}, "
                    f"past the type's {t.size} bytes"
                )
            if not member.name and isinstance(inner, Composite):
                # Anonymous struct/union: its members belong to the enclosing one.
                if isinstance(inner, Union):
                    fields.append(self._union_field(inner, bit_offset, depth))
                else:
                    fields.extend(self._fields(inner, bit_offset, depth + 1))
                continue
            if not member.name:
                continue  # an unnamed scalar (padding, as C sees it): nothing to read or write by name
            decode, encode = self.build(inner, depth + 1)
            field = _Field(member.name, bit_offset // 8, decode, encode)
            if member.bitfield_size:
                if not isinstance(inner, Int | Enum):
                    raise ParseError(
                        f"{where}: bitfield member {member.name} has type {inner!s} ({inner.kind.name}), "
                        "not an integer or enum"
                    )
                field.bit_offset, field.bits = bit_offset, member.bitfield_size
                field.signed = isinstance(inner, Int) and bool(inner.encoding & IntEncoding.SIGNED)
            fields.append(field)
        return fields

    def _union_field(self, t: Union, bit_offset: int, depth: int) -> _Field:
        # An anonymous union inside a struct: decoded into the enclosing dict.
        fields = self._fields(t, 0, depth + 1)
        decode, encode = self._composite(t, depth + 1, fields)
        field = _Field("", bit_offset // 8, decode, encode)
        field.covers = frozenset(_names(fields))
        return field

    def _composite(
        self, t: Composite, depth: int, fields: list[_Field] | None = None
    ) -> tuple[_Decode, _Encode]:
        if fields is None:
            fields = self._fields(t, 0, depth)
        is_union = isinstance(t, Union)
        what = f"{'union' if is_union else 'struct'} {t.name or '(anonymous)'}"

        def decode(data: bytes, off: int) -> Any:
            out: dict[str, Any] = {}
            for f in fields:
                if f.bits:
                    out[f.name] = _read_bits(data, off * 8 + f.bit_offset, f.bits, f.signed)
                elif f.name:
                    out[f.name] = f.decode(data, off + f.offset)
                else:
                    out.update(f.decode(data, off + f.offset))
            return out

        def encode(buf: bytearray, off: int, value: Any) -> None:
            if not isinstance(value, dict):
                raise TypeError(f"{what} takes a dict of its members, not {type(value).__name__}")
            known = _names(fields)
            unknown = set(value) - known
            if unknown:
                raise ValueError(f"{what} has no member {sorted(unknown)[0]!r} (members: {sorted(known)})")
            if is_union and len(value) > 1:
                raise ValueError(f"{what}: give one member of a union, not {sorted(value)}")
            for f in fields:
                if f.bits:
                    if f.name in value:
                        _write_bits(buf, off * 8 + f.bit_offset, f.bits, value[f.name])
                elif f.name:
                    if f.name in value:
                        f.encode(buf, off + f.offset, value[f.name])
                else:
                    sub = {k: v for k, v in value.items() if k in f.covers}
                    if sub:
                        f.encode(buf, off + f.offset, sub)

        return decode, encode

    def _datasec(self, t: Datasec, depth: int) -> tuple[_Decode, _Encode]:
        parts: list[tuple[str, int, _Decode, _Encode]] = []
        for secinfo in t.vars:
            var = self.graph[secinfo.type_id]
            if not isinstance(var, Var):
                continue
            decode, encode = self.build(self.graph[var.type_id], depth + 1)
            parts.append((var.name, secinfo.offset, decode, encode))

        def decode_sec(data: bytes, off: int) -> Any:
            return {name: dec(data, off + at) for name, at, dec, _enc in parts}

        def encode_sec(buf: bytearray, off: int, value: Any) -> None:
            for name, at, _dec, enc in parts:
                if name in value:
                    enc(buf, off + at, value[name])

        return decode_sec, encode_sec


def _names(fields: list[_Field]) -> set[str]:
    """The member names a dict for these fields may have."""
    names: set[str] = set()
    for f in fields:
        names |= {f.name} if f.name else f.covers
    return names


def _read_bits(data: bytes, bit_offset: int, bits: int, signed: bool) -> int:
    first = bit_offset // 8
    last = (bit_offset + bits + 7) // 8
    word = int.from_bytes(data[first:last], "little") >> (bit_offset % 8)
    value = word & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def _write_bits(buf: bytearray, bit_offset: int, bits: int, value: Any) -> None:
    if not isinstance(value, int):
        raise TypeError(f"a bitfield takes an int, not {type(value).__name__}")
    mask = (1 << bits) - 1
    if not -(1 << (bits - 1)) <= value <= mask:
        raise ValueError(f"{value} does not fit a {bits}-bit field")
    first = bit_offset // 8
    last = (bit_offset + bits + 7) // 8
    shift = bit_offset % 8
    word = int.from_bytes(buf[first:last], "little")
    word = (word & ~(mask << shift)) | ((value & mask) << shift)
    buf[first:last] = word.to_bytes(last - first, "little")


class BtfCodec(Codec[Any]):
    """Keys or values of a map as the BTF type ``type`` of ``graph`` describes them.

    Examples:
        >>> codec = BtfCodec(spec.btf, "event")  # doctest: +SKIP
        >>> codec.decode(raw)                     # doctest: +SKIP
        {'pid': 1234, 'comm': 'bash', 'ts': 170000000}
    """

    def __init__(self, graph: TypeGraph, type: Type | int | str) -> None:
        """``type`` is a type, a type id or a name (a struct, union, typedef... of that name).

        Raises:
            KeyError: no type of that name or id.
            ParseError: a type that has no value (void, a function) or a malformed graph.
        """
        if isinstance(type, str):
            type = graph.find(type)
        elif isinstance(type, int):
            type = graph[type]
        self.graph = graph
        self.type = type
        self._decode, self._encode = _Builder(graph).build(type, 0)
        self.size = graph.size_of(type)

    def encode(self, value: Any) -> bytes:
        """The ``size`` bytes for ``value`` (an int, str, list or dict as the type asks).

        Raises:
            TypeError, ValueError: a value that does not fit the type.
        """
        buf = bytearray(self.size)
        self._encode(buf, 0, value)
        return bytes(buf)

    def decode(self, data: bytes) -> Any:
        """The value in ``data`` (exactly ``size`` bytes)."""
        if len(data) < self.size:
            raise ValueError(f"{self.describe()} needs {self.size} bytes, got {len(data)}")
        return self._decode(bytes(data), 0)

    def describe(self) -> str:
        """``BtfCodec(struct event, 24 bytes)``."""
        return f"BtfCodec({self.type!s}, {self.size} bytes)"
