"""Codecs: how Python keys and values become the bytes a map holds, and back.

A [`Codec`][ebpf.maps.Codec] has a fixed ``size`` and converts one value with
[`encode()`][ebpf.maps.Codec.encode]/[`decode()`][ebpf.maps.Codec.decode]. Maps call the buffer forms
([`encode_into()`][ebpf.maps.Codec.encode_into], [`decode_from()`][ebpf.maps.Codec.decode_from]) on
preallocated buffers, and the ``*_many`` forms for batches; subclasses override those for
speed (an [`IntCodec`][ebpf.maps.IntCodec] packs straight into the syscall's buffer).

Anything with ``size``, ``encode`` and ``decode`` plugs in (see
[`CodecLike`][ebpf.maps.CodecLike] and [`as_codec()`][ebpf.maps.as_codec]), as do ``struct`` formats,
``ctypes`` types and construct-like schemas (objects with ``sizeof()``,
``build()`` and ``parse()``), without this package importing construct.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from ebpf.syscall.fd import HasFileno, fileno_of

__all__ = [
    "BytesCodec",
    "Codec",
    "CodecLike",
    "CodecSlot",
    "CodecSource",
    "ConstructCodec",
    "CtypesCodec",
    "FdCodec",
    "IntCodec",
    "Slot",
    "StringCodec",
    "StructCodec",
    "as_codec",
    "be16",
    "be32",
    "be64",
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: Memory a codec writes into.
WritableBuffer: TypeAlias = bytearray | memoryview | ctypes.Array[ctypes.c_char]
#: Memory a codec reads from.
ReadableBuffer: TypeAlias = bytes | bytearray | memoryview | ctypes.Array[ctypes.c_char]


class Slot(Protocol[T]):
    """One value's place in a buffer: ``slot[0]`` reads it, ``slot[0] = value`` writes it.

    A ``memoryview`` of one integer is a slot, read and written in C (see
    [`Codec.slot()`][ebpf.maps.Codec.slot]).
    """

    def __getitem__(self, index: int, /) -> T: ...

    def __setitem__(self, index: int, value: T, /) -> None: ...


class CodecSlot(Generic[T]):
    """The slot of any codec: reads and writes with [`Codec.decode_from()`][ebpf.maps.Codec.decode_from] and
    [`Codec.encode_into()`][ebpf.maps.Codec.encode_into]."""

    __slots__ = ("_buf", "_decode_from", "_encode_into")

    def __init__(self, codec: Codec[T], buf: WritableBuffer) -> None:
        self._buf = buf
        self._encode_into = codec.encode_into
        self._decode_from = codec.decode_from

    def __getitem__(self, index: int, /) -> T:
        return self._decode_from(self._buf, 0)

    def __setitem__(self, index: int, value: T, /) -> None:
        self._encode_into(self._buf, 0, value)


class Codec(ABC, Generic[T]):
    """Converts values of type ``T`` to exactly ``size`` bytes and back.

    Subclasses implement [`encode()`][ebpf.maps.Codec.encode] and [`decode()`][ebpf.maps.Codec.decode]; the
    buffer and batch forms have correct (if slower) defaults built on those two.
    """

    #: The encoded size in bytes.
    size: int
    #: How the encoded bytes are laid out, for readers that decode many values
    #: at once without calling the codec (``ebpf.events`` builds its event
    #: layouts from it): a field type name (``"u32"``, ``">u16"`` for a
    #: big-endian one, ``"char[16]"`` for a C string, ``"u8[16]"`` for bytes),
    #: a ``struct.Struct``, a ``ctypes`` type, or None (no such description:
    #: readers call [`decode()`][ebpf.maps.Codec.decode]).
    layout: str | struct.Struct | type[ctypes._CData] | None = None

    @abstractmethod
    def encode(self, value: T) -> bytes:
        """The ``size`` bytes for ``value``.

        Raises:
            TypeError: ``value`` has a type this codec does not take.
            ValueError: ``value`` is out of range or the wrong length.
        """

    @abstractmethod
    def decode(self, data: bytes) -> T:
        """The value that ``data`` (exactly ``size`` bytes) holds."""

    def encode_into(self, buf: WritableBuffer, offset: int, value: T) -> None:
        """Write ``encode(value)`` into ``buf`` at ``offset``."""
        memoryview(buf).cast("B")[offset : offset + self.size] = self.encode(value)

    def decode_from(self, buf: ReadableBuffer, offset: int) -> T:
        """Decode the ``size`` bytes of ``buf`` at ``offset``."""
        return self.decode(bytes(memoryview(buf).cast("B")[offset : offset + self.size]))

    def slot(self, buf: WritableBuffer) -> Slot[T]:
        """The place of one value at the start of ``buf``: what single-element map operations use.

        The default goes through
        [`encode_into()`][ebpf.maps.Codec.encode_into]/[`decode_from()`][ebpf.maps.Codec.decode_from]; codecs
        whose values a ``memoryview`` handles natively return one, so that no Python frame runs per value. A
        slot may refuse a value with a terse error: callers then call
        [`encode_into()`][ebpf.maps.Codec.encode_into], which either explains the problem or writes what the
        slot did not take.
        """
        return CodecSlot(self, buf)

    def encode_many(self, values: Sequence[T]) -> bytes:
        """The concatenated encodings of ``values`` (a batch's key or value array)."""
        return b"".join([self.encode(v) for v in values])

    def decode_many(self, buf: ReadableBuffer, count: int) -> list[T]:
        """The first ``count`` values packed back to back in ``buf``."""
        size = self.size
        view = memoryview(buf).cast("B")
        decode = self.decode
        return [decode(bytes(view[i * size : (i + 1) * size])) for i in range(count)]

    def view_many(self, buf: ReadableBuffer, count: int) -> memoryview:
        """The first ``count`` values packed in ``buf``, undecoded: a ``memoryview`` without a copy.

        A flat byte view of ``count * size`` bytes here (decode it with
        [`decode_many()`][ebpf.maps.Codec.decode_many]); codecs whose values ``memoryview`` handles
        natively cast it to their format, so that indexing gives values.
        """
        return memoryview(buf).cast("B")[: count * self.size]

    def describe(self) -> str:
        """A short human description, used in error messages and ``repr``."""
        return f"{type(self).__name__}(size={self.size})"

    def __repr__(self) -> str:
        return self.describe()


@runtime_checkable
class CodecLike(Protocol[T_co]):
    """The duck type of a user codec: ``size``, ``encode(value) -> bytes``, ``decode(bytes) -> value``."""

    @property
    def size(self) -> int: ...

    def encode(self, value: Any, /) -> bytes: ...

    def decode(self, data: bytes, /) -> T_co: ...


@runtime_checkable
class _SchemaLike(Protocol):
    """A construct-style schema: ``sizeof()``, ``build(obj)``, ``parse(data)``."""

    def sizeof(self) -> int: ...

    def build(self, obj: Any) -> bytes: ...

    def parse(self, data: bytes) -> Any: ...


#: What `as_codec()` accepts.
CodecSource: TypeAlias = "Codec[Any] | CodecLike[Any] | str | type[ctypes._CData] | _SchemaLike"


def _type_name(value: object) -> str:
    return type(value).__name__


# ---------------------------------------------------------------- integers


#: The ``struct``/``memoryview`` codes of fixed-width integers.
_IntCode: TypeAlias = Literal["b", "B", "h", "H", "i", "I", "q", "Q"]
_INT_FORMATS: dict[int, _IntCode] = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SIGNED_FORMATS: dict[int, _IntCode] = {1: "b", 2: "h", 4: "i", 8: "q"}
_BYTEORDER_PREFIX = {"little": "<", "big": ">", "native": "="}


class IntCodec(Codec[int]):
    """An integer of any width (1 to 64 bytes), signed or not, in any byte order.

    Widths of 1, 2, 4 and 8 bytes go through ``struct`` and pack straight into
    the map's buffers; other widths (3, 16...) through ``int.to_bytes``.
    """

    def __init__(
        self, size: int, *, signed: bool = False, byteorder: Literal["little", "big", "native"] = "native"
    ):
        """Raises ValueError for a size outside 1..64 or an unknown byte order."""
        if not isinstance(size, int) or not 1 <= size <= 64:
            raise ValueError(f"an integer codec is 1 to 64 bytes wide, not {size!r}")
        if byteorder not in _BYTEORDER_PREFIX:
            raise ValueError(f"byteorder must be 'little', 'big' or 'native', not {byteorder!r}")
        self.size = size
        self.signed = signed
        self.byteorder: Literal["little", "big"] = sys.byteorder if byteorder == "native" else byteorder
        self._native = byteorder in ("native", sys.byteorder)
        bits = size * 8
        self._min = -(1 << (bits - 1)) if signed else 0
        self._max = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        fmt = _INT_FORMATS.get(size)
        self._struct: struct.Struct | None = None
        if fmt is not None:
            code = fmt.lower() if signed else fmt
            self._struct = struct.Struct(_BYTEORDER_PREFIX[byteorder] + code)
            order = "" if self._native else _BYTEORDER_PREFIX[self.byteorder]
            self.layout = f"{order}{'i' if signed else 'u'}{bits}"

    def _check(self, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError(f"{self.describe()} takes an int, not {_type_name(value)} ({value!r})")
        if not self._min <= value <= self._max:
            raise ValueError(f"{value} does not fit {self.describe()} (range {self._min}..{self._max})")

    def encode(self, value: int) -> bytes:
        """The integer's bytes.

        Raises:
            TypeError: not an int.
            ValueError: out of range for the width and signedness.
        """
        self._check(value)
        return value.to_bytes(self.size, self.byteorder, signed=self.signed)

    def decode(self, data: bytes) -> int:
        """The integer in ``data``."""
        return int.from_bytes(data[: self.size], self.byteorder, signed=self.signed)

    def encode_into(self, buf: WritableBuffer, offset: int, value: int) -> None:
        """Pack ``value`` into ``buf`` (``struct.pack_into`` where the width allows)."""
        if self._struct is None:
            super().encode_into(buf, offset, value)
            return
        try:
            self._struct.pack_into(buf, offset, value)
        except (struct.error, TypeError):
            self._check(value)  # raises the clear error
            raise

    def decode_from(self, buf: ReadableBuffer, offset: int) -> int:
        """Unpack the integer at ``offset``."""
        if self._struct is None:
            return super().decode_from(buf, offset)
        value: int = self._struct.unpack_from(buf, offset)[0]
        return value

    def _array_code(self) -> _IntCode | None:
        # array.array and memoryview.cast work in native byte order only.
        if self._struct is None or not self._native:
            return None
        return _SIGNED_FORMATS[self.size] if self.signed else _INT_FORMATS[self.size]

    def slot(self, buf: WritableBuffer) -> Slot[int]:
        """A native-order integer's slot is a ``memoryview`` of one item: read and written in C.

        A ``memoryview`` item takes exactly what ``struct`` takes (ints and
        objects with ``__index__``, in range), so it refuses what
        [`encode_into()`][ebpf.maps.IntCodec.encode_into] refuses.
        """
        code = self._array_code()
        if code is None:
            return super().slot(buf)
        return memoryview(buf).cast("B")[: self.size].cast(code)

    def encode_many(self, values: Sequence[int]) -> bytes:
        """The packed array of ``values``."""
        code = self._array_code()
        if code is None:
            return super().encode_many(values)
        try:
            return struct.pack(f"={len(values)}{code}", *values)
        except (struct.error, TypeError):
            for v in values:
                self._check(v)
            raise

    def decode_many(self, buf: ReadableBuffer, count: int) -> list[int]:
        """The first ``count`` integers packed in ``buf``."""
        if self._array_code() is None:
            return super().decode_many(buf, count)
        ints: list[int] = self.view_many(buf, count).tolist()
        return ints

    def view_many(self, buf: ReadableBuffer, count: int) -> memoryview:
        """The first ``count`` integers as a ``memoryview`` of their native format (``"I"``, ``"Q"``...).

        Other byte orders and widths give the base class's byte view.
        """
        code = self._array_code()
        view = super().view_many(buf, count)
        return view if code is None else view.cast(code)

    def describe(self) -> str:
        order = "" if self._native else ("be" if self.byteorder == "big" else "le")
        return f"{order}{'i' if self.signed else 'u'}{self.size * 8}"


u8 = IntCodec(1)
u16 = IntCodec(2)
u32 = IntCodec(4)
u64 = IntCodec(8)
i8 = IntCodec(1, signed=True)
i16 = IntCodec(2, signed=True)
i32 = IntCodec(4, signed=True)
i64 = IntCodec(8, signed=True)
#: Network byte order (ports, addresses as integers).
be16 = IntCodec(2, byteorder="big")
be32 = IntCodec(4, byteorder="big")
be64 = IntCodec(8, byteorder="big")


# --------------------------------------------------------------- struct


class StructCodec(Codec[Any]):
    """A ``struct`` format: a one-field format encodes a scalar, others a tuple.

    Examples:
        >>> StructCodec("<IH").encode((1, 2))
        b'\\x01\\x00\\x00\\x00\\x02\\x00'
    """

    def __init__(self, fmt: str | struct.Struct):
        """Raises ValueError for an invalid format."""
        try:
            self._struct = fmt if isinstance(fmt, struct.Struct) else struct.Struct(fmt)
        except struct.error as exc:
            raise ValueError(f"invalid struct format {fmt!r}: {exc}") from None
        self.format = self._struct.format
        self.size = self._struct.size
        self.layout = self._struct
        # A single-field format ("Q", "16s") maps to a scalar, not a 1-tuple.
        self._scalar = len(self._struct.unpack(bytes(self.size))) == 1

    def _pack_error(self, value: object, exc: Exception) -> Exception:
        return (TypeError if isinstance(exc, TypeError) else ValueError)(
            f"cannot pack {value!r} with struct format {self.format!r}: {exc}"
            + ("" if self._scalar else " (give a tuple with one item per field)")
        )

    def encode(self, value: Any) -> bytes:
        """Pack ``value`` (a scalar for one-field formats, else a tuple).

        Raises:
            TypeError, ValueError: ``struct`` refused the value (the message says why).
        """
        try:
            return self._struct.pack(value) if self._scalar else self._struct.pack(*value)
        except (struct.error, TypeError) as exc:
            raise self._pack_error(value, exc) from None

    def decode(self, data: bytes) -> Any:
        """Unpack ``data``."""
        fields = self._struct.unpack(data[: self.size])
        return fields[0] if self._scalar else fields

    def encode_into(self, buf: WritableBuffer, offset: int, value: Any) -> None:
        """Pack ``value`` straight into ``buf``."""
        try:
            if self._scalar:
                self._struct.pack_into(buf, offset, value)
            else:
                self._struct.pack_into(buf, offset, *value)
        except (struct.error, TypeError) as exc:
            raise self._pack_error(value, exc) from None

    def decode_from(self, buf: ReadableBuffer, offset: int) -> Any:
        """Unpack from ``buf`` at ``offset``."""
        fields = self._struct.unpack_from(buf, offset)
        return fields[0] if self._scalar else fields

    def decode_many(self, buf: ReadableBuffer, count: int) -> list[Any]:
        """Unpack ``count`` records."""
        view = self.view_many(buf, count)
        if self._scalar:
            return [t[0] for t in self._struct.iter_unpack(view)]
        return list(self._struct.iter_unpack(view))

    def describe(self) -> str:
        return f"struct {self.format!r}"


# ---------------------------------------------------------------- bytes, str


class BytesCodec(Codec[bytes]):
    """Raw bytes of exactly ``size`` (the default for maps opened without codecs)."""

    def __init__(self, size: int):
        """Raises ValueError for a negative size."""
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"a bytes codec needs a size >= 0, not {size!r}")
        self.size = size
        self.layout = f"u8[{size}]" if size else None

    def encode(self, value: bytes) -> bytes:
        """``value`` itself (any bytes-like object).

        Raises:
            TypeError: not bytes-like.
            ValueError: not exactly ``size`` bytes long.
        """
        try:
            data = bytes(memoryview(value).cast("B"))
        except TypeError:
            raise TypeError(
                f"{self.describe()} takes bytes-like values, not {_type_name(value)} ({value!r})"
            ) from None
        if len(data) != self.size:
            raise ValueError(f"{self.describe()} takes exactly {self.size} bytes, got {len(data)}")
        return data

    def decode(self, data: bytes) -> bytes:
        """``data`` as ``bytes``."""
        return bytes(data[: self.size])

    def decode_from(self, buf: ReadableBuffer, offset: int) -> bytes:
        """A copy of the ``size`` bytes at ``offset``."""
        return bytes(memoryview(buf).cast("B")[offset : offset + self.size])

    def encode_many(self, values: Sequence[bytes]) -> bytes:
        """The values, concatenated after each was checked."""
        return b"".join([self.encode(v) for v in values])

    def decode_many(self, buf: ReadableBuffer, count: int) -> list[bytes]:
        """``count`` slices of ``size`` bytes."""
        data = bytes(self.view_many(buf, count))
        size = self.size
        return [data[i * size : (i + 1) * size] for i in range(count)]

    def describe(self) -> str:
        return f"bytes[{self.size}]"


class StringCodec(Codec[str]):
    """A NUL-padded text field of ``size`` bytes (``char comm[16]``).

    Encoding leaves room for the terminating NUL unless ``nul_terminated`` is
    false; decoding stops at the first NUL.
    """

    def __init__(self, size: int, *, encoding: str = "utf-8", nul_terminated: bool = True):
        """Raises ValueError for a size below 1."""
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"a string codec needs a size >= 1, not {size!r}")
        self.size = size
        self.encoding = encoding
        self.nul_terminated = nul_terminated
        self.layout = f"char[{size}]"

    def encode(self, value: str) -> bytes:
        """The encoded text, padded with NULs.

        Raises:
            TypeError: not a str.
            ValueError: too long, or contains NUL.
        """
        if not isinstance(value, str):
            raise TypeError(f"{self.describe()} takes str, not {_type_name(value)} ({value!r})")
        raw = value.encode(self.encoding)
        room = self.size - 1 if self.nul_terminated else self.size
        if b"\0" in raw or len(raw) > room:
            raise ValueError(f"{value!r} does not fit {self.describe()} (at most {room} bytes, no NUL)")
        return raw.ljust(self.size, b"\0")

    def decode(self, data: bytes) -> str:
        """The text up to the first NUL."""
        return bytes(data[: self.size]).split(b"\0", 1)[0].decode(self.encoding, "replace")

    def describe(self) -> str:
        return f"str[{self.size}]"


# ----------------------------------------------------------- ctypes, construct


class CtypesCodec(Codec[Any]):
    """A ``ctypes`` type (``Structure``, ``Array``, ``c_uint32``...): values are instances of it.

    Decoding copies, so a decoded structure stays valid after the next lookup.
    """

    def __init__(self, ctype: type[ctypes._CData]):
        """Raises TypeError for something that is not a ctypes type."""
        if not (
            isinstance(ctype, type)
            and issubclass(ctype, ctypes._SimpleCData | ctypes.Structure | ctypes.Union | ctypes.Array)
        ):
            raise TypeError(f"expected a ctypes type (Structure, Union, Array, c_*), not {ctype!r}")
        self.ctype = ctype
        self.size = ctypes.sizeof(ctype)
        self.layout = ctype

    def encode(self, value: Any) -> bytes:
        """The bytes of ``value``, an instance of the ctypes type (a plain int/float for ``c_*`` types).

        Raises:
            TypeError: an instance of another type.
        """
        if isinstance(value, self.ctype):
            return bytes(value)
        if issubclass(self.ctype, ctypes._SimpleCData) and isinstance(value, int | float | bytes):
            return bytes(self.ctype(value))
        raise TypeError(f"{self.describe()} takes {self.ctype.__name__} instances, not {_type_name(value)}")

    def decode(self, data: bytes) -> Any:
        """A new instance holding a copy of ``data`` (plain value for ``c_*`` types)."""
        obj = self.ctype.from_buffer_copy(data[: self.size])
        if isinstance(obj, ctypes._SimpleCData):
            return obj.value
        return obj

    def decode_from(self, buf: ReadableBuffer, offset: int) -> Any:
        """A copy of the instance at ``offset``."""
        obj = self.ctype.from_buffer_copy(buf, offset)
        if isinstance(obj, ctypes._SimpleCData):
            return obj.value
        return obj

    def describe(self) -> str:
        return f"ctypes {self.ctype.__name__}"


class ConstructCodec(Codec[Any]):
    """A fixed-size construct-like schema (``sizeof()``, ``build()``, ``parse()``), e.g. ``construct.Struct``.

    Duck-typed: this package does not import construct.
    """

    def __init__(self, schema: _SchemaLike):
        """Raises TypeError when the schema has no fixed size."""
        try:
            self.size = int(schema.sizeof())
        except Exception as exc:  # construct raises SizeofError for variable-size schemas
            raise TypeError(f"a map codec needs a fixed-size schema; sizeof() failed: {exc}") from None
        self.schema = schema

    def encode(self, value: Any) -> bytes:
        """``schema.build(value)``.

        Raises:
            ValueError: the schema could not build ``value``, or built the wrong size.
        """
        try:
            data = bytes(self.schema.build(value))
        except Exception as exc:  # construct raises its own error classes
            raise ValueError(f"{self.describe()} cannot build {value!r}: {exc}") from None
        if len(data) != self.size:
            raise ValueError(f"{self.describe()} built {len(data)} bytes, expected {self.size}")
        return data

    def decode(self, data: bytes) -> Any:
        """``schema.parse(data)``."""
        return self.schema.parse(bytes(data[: self.size]))

    def describe(self) -> str:
        return f"schema {type(self.schema).__name__}(size={self.size})"


class FdCodec(Codec[int]):
    """A file descriptor (an int or anything with ``fileno()``) as a ``size``-byte integer.

    Used for the keys of socket/task/inode/cgroup storage maps and the values
    of descriptor maps (program arrays, maps of maps, sockmaps...). Decoding
    gives the integer the kernel wrote (an id or cookie, never a descriptor).
    """

    def __init__(self, size: int = 4):
        """Raises ValueError unless ``size`` is 4 or 8."""
        if size not in (4, 8):
            raise ValueError(f"a descriptor codec is 4 or 8 bytes wide, not {size!r}")
        self.size = size
        self._int = IntCodec(size)

    def encode(self, value: int | HasFileno) -> bytes:
        """The descriptor number.

        Raises:
            TypeError: neither an int nor an object with ``fileno()``.
            ValueError: a negative or closed descriptor.
        """
        return self._int.encode(fileno_of(value))

    def decode(self, data: bytes) -> int:
        """The integer the kernel returned."""
        return self._int.decode(data)

    def encode_into(self, buf: WritableBuffer, offset: int, value: int | HasFileno) -> None:
        """Pack the descriptor number into ``buf``."""
        self._int.encode_into(buf, offset, fileno_of(value))

    def decode_from(self, buf: ReadableBuffer, offset: int) -> int:
        """The integer at ``offset``."""
        return self._int.decode_from(buf, offset)

    def describe(self) -> str:
        return f"fd[{self.size}]"


class _CustomCodec(Codec[Any]):
    """Wraps a user codec, checking the sizes it produces and receives."""

    def __init__(self, inner: CodecLike[Any]):
        size = inner.size
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"codec {inner!r} has size {size!r}; it must be an int >= 0")
        self.inner = inner
        self.size = size

    def encode(self, value: Any) -> bytes:
        data = self.inner.encode(value)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"codec {self.inner!r}.encode() returned {_type_name(data)}, not bytes")
        data = bytes(data)
        if len(data) != self.size:
            raise ValueError(
                f"codec {self.inner!r} encoded {value!r} as {len(data)} bytes, not its size {self.size}"
            )
        return data

    def decode(self, data: bytes) -> Any:
        return self.inner.decode(bytes(data[: self.size]))

    def describe(self) -> str:
        return repr(self.inner)


def as_codec(source: CodecSource) -> Codec[Any]:
    """Turn what a user gave as a key or value type into a [`Codec`][ebpf.maps.Codec].

    Accepts a [`Codec`][ebpf.maps.Codec]; a ``struct`` format string (``"<IH"``); a
    ``ctypes`` type; a construct-like schema (``sizeof``/``build``/``parse``);
    or any object with ``size``/``encode``/``decode`` ([`CodecLike`][ebpf.maps.CodecLike]).

    Raises:
        TypeError: ``source`` is none of these.
        ValueError: a bad struct format or size.
    """
    if isinstance(source, Codec):
        return source
    if isinstance(source, str):
        return StructCodec(source)
    if isinstance(source, struct.Struct):
        return StructCodec(source)
    if isinstance(source, type) and issubclass(
        source, ctypes._SimpleCData | ctypes.Structure | ctypes.Union | ctypes.Array
    ):
        return CtypesCodec(source)
    if isinstance(source, _SchemaLike):
        return ConstructCodec(source)
    if isinstance(source, CodecLike):
        return _CustomCodec(source)
    raise TypeError(
        f"cannot use {source!r} as a key or value type: give a Codec (u32, u64, BytesCodec(n)...), "
        "a struct format string, a ctypes type, a construct-like schema, or an object with "
        "size/encode()/decode()"
    )
