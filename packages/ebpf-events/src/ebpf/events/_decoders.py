"""Event decoders: from the bytes of a record to a Python value, one at a time or a batch at once.

[`as_decoder()`][ebpf.events.as_decoder] accepts what users describe events with: a spec list
(``[u32, u64, "char[16]"]``, optionally with names), a ``struct`` format,
a ``ctypes`` structure, an ``ebpf.maps`` codec, or anything with ``size``
and ``decode(data)``. Decoders read straight from the reader's memory
(``decode_from(buffer, offset)``), and fixed layouts decode a whole run of
equally spaced records with one ``struct.iter_unpack`` (a list of tuples)
or one NumPy ``frombuffer`` (a structured array).
"""

from __future__ import annotations

import collections
import ctypes
import itertools
import operator
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol, TypeAlias, runtime_checkable

from ._fields import Layout, is_type_name, layout_from_format, layout_from_specs

__all__ = ["DecodedRun", "Decoder", "DecoderSpec", "EventDecoder", "as_decoder"]

#: Memory a decoder reads from.
Buffer: TypeAlias = "memoryview | bytes | bytearray"

_FIRST = operator.itemgetter(0)


class DecodedRun(NamedTuple):
    """The records of a run, decoded one by one as `records` is advanced.

    Attributes:
        records: the decoded records.
        source: the iterator that ``records`` pulls from, one item per
            record: `remaining()` tells a reader that stopped early (or
            met a decoding error) how many records it has not taken.
    """

    records: Iterator[Any]
    source: Iterator[Any]

    def remaining(self) -> int:
        """How many records of the run were not decoded yet (the one that raised counts as decoded)."""
        return operator.length_hint(self.source)


@runtime_checkable
class Decoder(Protocol):
    """The duck type of a user decoder: a fixed ``size`` and ``decode(data) -> event``.

    ``data`` is a ``memoryview`` of exactly ``size`` bytes, valid only
    during the call (copy what you keep).
    """

    @property
    def size(self) -> int: ...

    def decode(self, data: Any, /) -> Any: ...


#: What `as_decoder()` accepts.
DecoderSpec: TypeAlias = (
    "EventDecoder | Decoder | str | struct.Struct | list[Any] | tuple[Any, ...] | type[Any]"
)


def numpy_module() -> Any:
    """NumPy, imported on first use (an optional dependency).

    Raises:
        ImportError: NumPy is not installed, with the command that installs it.
    """
    try:
        import numpy
    except ImportError:
        raise ImportError(
            "decoding into arrays needs NumPy: pip install 'ebpf-events[numpy]' (or numpy)"
        ) from None
    return numpy


class EventDecoder(ABC):
    """Decodes fixed-size records: one (`decode_from`) or a run of equally spaced ones.

    Attributes:
        size: the bytes a record must have at least (longer records are
            decoded from their first ``size`` bytes: perf buffers pad them).
        decode_from: ``decode_from(buffer, offset) -> event``; a plain
            attribute, often a bound C method, so that readers call it
            without a Python frame in between.
    """

    size: int
    decode_from: Callable[[Buffer, int], Any]

    def decode(self, data: Buffer) -> Any:
        """The event in ``data`` (at least ``size`` bytes).

        Raises:
            ValueError: ``data`` is shorter than ``size``.
        """
        if len(data) < self.size:
            raise ValueError(f"{self.describe()} needs {self.size} bytes, got {len(data)}")
        return self.decode_from(data, 0)

    def decode_run(self, buf: Buffer, start: int, count: int, stride: int, header: int) -> DecodedRun:
        """Decode ``count`` records placed every ``stride`` bytes from ``start``, data ``header`` bytes in.

        Records are decoded as the iterator is advanced, without a Python
        frame per record when the decoder is a C function.
        """
        first = start + header
        offsets = iter(range(first, first + count * stride, stride))
        return DecodedRun(map(self.decode_from, itertools.repeat(buf), offsets), offsets)

    def decode_batch(self, buf: Buffer, start: int, count: int, stride: int, header: int) -> list[Any]:
        """The ``count`` records of [`decode_run()`][ebpf.events.EventDecoder.decode_run], as a list."""
        return list(self.decode_run(buf, start, count, stride, header).records)

    def numpy_dtype(self, header: int = 0, stride: int | None = None) -> Any:
        """The NumPy structured type of a record (shifted by ``header``, ``stride`` bytes apart).

        Raises:
            TypeError: this decoder has no fixed field layout.
            ImportError: NumPy is not installed.
        """
        raise TypeError(f"{self.describe()} has no field layout: it cannot decode into a NumPy array")

    def decode_array(self, buf: Buffer, start: int, count: int, stride: int, header: int) -> Any:
        """A NumPy structured array (a copy, of [`numpy_dtype()`][ebpf.events.EventDecoder.numpy_dtype]) of
        ``count`` records.

        Raises:
            TypeError: this decoder has no field layout.
            ImportError: NumPy is not installed.
        """
        np = numpy_module()
        if count == 0:
            return np.empty(0, self.numpy_dtype())
        spaced = np.frombuffer(buf, self.numpy_dtype(header, stride), count, start)
        return spaced.astype(self.numpy_dtype())

    @abstractmethod
    def describe(self) -> str:
        """A short description for messages."""

    def __repr__(self) -> str:
        return self.describe()


class LayoutDecoder(EventDecoder):
    """Records laid out as C structures of scalar fields, C strings and arrays, decoded with ``struct``.

    Events are tuples (named tuples when the fields have names), or the
    value itself for a single unnamed field.
    """

    def __init__(self, layout: Layout, description: str) -> None:
        self.layout = layout
        self.size = layout.size
        self._description = description
        self._struct = struct.Struct(layout.struct_format())
        self._batch_structs: dict[tuple[int, int], struct.Struct] = {}
        self._tuple: Any = None
        if layout.named:
            self._tuple = collections.namedtuple("Event", [f.name for f in layout.fields])  # type: ignore[misc]
        self._plain = all(f.convert is None for f in layout.fields) and not layout.named
        self._scalar = not layout.named and sum(f.values for f in layout.fields) == 1
        unpack_from = self._struct.unpack_from
        if self._scalar:
            convert = layout.fields[0].convert

            def decode_scalar(buf: Buffer, offset: int) -> Any:
                value = unpack_from(buf, offset)[0]
                return value if convert is None else convert(value)

            self.decode_from = decode_scalar
        elif self._plain:
            self.decode_from = unpack_from
        else:
            assemble = self._assemble

            def decode_fields(buf: Buffer, offset: int) -> Any:
                return assemble(unpack_from(buf, offset))

            self.decode_from = decode_fields

    def _assemble(self, values: tuple[Any, ...]) -> Any:
        out: list[Any] = []
        index = 0
        for field in self.layout.fields:
            n = field.values
            if field.convert is None:
                out.extend(values[index : index + n]) if n > 1 else out.append(values[index])
            else:
                out.append(field.convert(values[index] if n == 1 else values[index : index + n]))
            index += n
        return self._tuple._make(out) if self._tuple is not None else tuple(out)

    def decode_run(self, buf: Buffer, start: int, count: int, stride: int, header: int) -> DecodedRun:
        """The ``count`` records from one ``struct.iter_unpack`` over the run (no Python frame per record)."""
        spaced = self._batch_structs.get((header, stride))
        if spaced is None:
            spaced = struct.Struct(self.layout.struct_format(header, stride))
            self._batch_structs[(header, stride)] = spaced
        rows = spaced.iter_unpack(memoryview(buf)[start : start + count * stride])
        records: Iterator[Any] = rows
        if self._scalar:
            records = map(_FIRST, rows)
            convert = self.layout.fields[0].convert
            if convert is not None:
                records = map(convert, records)
        elif not self._plain:
            records = map(self._assemble, rows)
        return DecodedRun(records, rows)

    def numpy_dtype(self, header: int = 0, stride: int | None = None) -> Any:
        """The structured type: the fields' names, NumPy types and offsets (``S`` for C strings)."""
        np = numpy_module()
        fields = self.layout.fields
        return np.dtype(
            {
                "names": [f.name for f in fields],
                "formats": [(f.numpy, f.shape) if f.shape else f.numpy for f in fields],
                "offsets": [header + f.offset for f in fields],
                "itemsize": self.size if stride is None else stride,
            }
        )

    def describe(self) -> str:
        return self._description


class CtypesDecoder(EventDecoder):
    """A ``ctypes`` structure or union: each event is a new instance holding a copy of the record."""

    def __init__(self, ctype: type[ctypes.Structure] | type[ctypes.Union]) -> None:
        self.ctype = ctype
        self.size = ctypes.sizeof(ctype)
        self.decode_from = ctype.from_buffer_copy

    def numpy_dtype(self, header: int = 0, stride: int | None = None) -> Any:
        """NumPy's structured type for the ctypes type, shifted by ``header``."""
        np = numpy_module()
        base = np.dtype(self.ctype)
        if header == 0 and stride is None:
            return base
        names = list(base.names)
        return np.dtype(
            {
                "names": names,
                "formats": [base.fields[n][0] for n in names],
                "offsets": [header + base.fields[n][1] for n in names],
                "itemsize": self.size if stride is None else stride,
            }
        )

    def describe(self) -> str:
        return f"ctypes {self.ctype.__name__} ({self.size} bytes)"


class CustomDecoder(EventDecoder):
    """A user decoder (``size`` + ``decode``), or an ``ebpf.maps`` codec (using its ``decode_from``)."""

    def __init__(self, inner: Decoder) -> None:
        size = inner.size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"decoder {inner!r} has size {size!r}; it must be an int >= 0")
        self.inner = inner
        self.size = size
        own = getattr(inner, "decode_from", None)
        if callable(own):
            self.decode_from = own
        else:
            decode = inner.decode

            def decode_slice(buf: Buffer, offset: int) -> Any:
                return decode(memoryview(buf)[offset : offset + size])

            self.decode_from = decode_slice

    def describe(self) -> str:
        return f"{self.inner!r} ({self.size} bytes)"


def _describe_specs(specs: list[Any] | tuple[Any, ...]) -> str:
    def name(item: object) -> str:
        if isinstance(item, tuple):
            return f"{item[0]}: {name(item[1])}"
        if isinstance(item, str):
            return item
        if isinstance(item, type):
            return item.__name__
        describe = getattr(item, "describe", None)
        return str(describe()) if callable(describe) else repr(item)

    return "[" + ", ".join(name(item) for item in specs) + "]"


def as_decoder(spec: DecoderSpec, *, packed: bool = False) -> EventDecoder:
    """Turn what describes an event into an [`EventDecoder`][ebpf.events.EventDecoder].

    Accepts:

    - a spec list, laid out like a C structure (natural alignment, unless
      ``packed``): ``[u32, u64, u32]`` (24 bytes), ``["u32", "char[16]"]``,
      or named, ``[("pid", u32), ("comm", "char[16]")]`` for named tuples.
      Items: ``ebpf.maps`` ints (``u32``, ``be16``...), ``StringCodec(n)``
      and ``BytesCodec(n)``; names ``u8``..``u64``, ``i8``..``i64``,
      ``f32``, ``f64``, ``bool``, ``char[N]`` (a C string, decoded to
      ``str`` up to the first NUL), ``u8[N]`` (bytes), ``u32[N]`` (a tuple),
      ``>u16``/``<u32`` (big/little-endian); one-field struct codes
      (``"I"``, ``"16s"``); ctypes scalars and arrays (``c_char * 16`` is a
      C string);
    - a type name alone (``"u64"``, ``"char[16]"``): that single value;
    - a ``struct`` format (``"<IQI"``) or ``struct.Struct``: tuples as ``struct`` gives them;
    - a ``ctypes.Structure``/``Union`` subclass: instances (copies);
    - an ``ebpf.maps`` codec (``StructCodec``, ``CtypesCodec``, ints...), or
      any object whose ``layout`` attribute describes its bytes as
      ``ebpf.maps.Codec.layout`` does (a type name, a ``struct.Struct``, a
      ctypes ``Structure``): decoded through that layout;
    - an [`EventDecoder`][ebpf.events.EventDecoder], returned as it is;
    - anything with ``size`` and ``decode(data)`` ([`Decoder`][ebpf.events.Decoder]).

    Raises:
        TypeError: ``spec`` is none of these.
        ValueError: an invalid format, field type or name.
    """
    if isinstance(spec, EventDecoder):
        return spec
    if isinstance(spec, list | tuple):
        return LayoutDecoder(layout_from_specs(spec, packed=packed), _describe_specs(spec))
    if isinstance(spec, str):
        if is_type_name(spec):
            return LayoutDecoder(layout_from_specs([spec]), spec)
        return LayoutDecoder(layout_from_format(spec), f"struct {spec!r}")
    if isinstance(spec, struct.Struct):
        return LayoutDecoder(layout_from_format(spec), f"struct {spec.format!r}")
    if isinstance(spec, type):
        if issubclass(spec, ctypes.Structure | ctypes.Union):
            return CtypesDecoder(spec)
        if issubclass(spec, ctypes._SimpleCData | ctypes.Array):
            return LayoutDecoder(layout_from_specs([spec]), spec.__name__)
        raise TypeError(f"cannot decode events as {spec.__name__}: give a ctypes Structure or scalar type")
    # A codec that describes its bytes in ``layout`` (every ebpf.maps codec that can) decodes
    # through the same layouts as the specs above; others are called value by value.
    layout = getattr(spec, "layout", None)
    if isinstance(layout, str) and is_type_name(layout):
        return LayoutDecoder(layout_from_specs([layout]), _describe_specs([spec])[1:-1])
    if isinstance(layout, struct.Struct):
        return LayoutDecoder(layout_from_format(layout), f"struct {layout.format!r}")
    if isinstance(layout, type) and issubclass(layout, ctypes.Structure | ctypes.Union):
        return CtypesDecoder(layout)
    if isinstance(spec, Decoder):
        return CustomDecoder(spec)
    raise TypeError(
        f"cannot decode events with {spec!r}: give a spec list ([u32, u64, 'char[16]']), a struct "
        "format, a ctypes Structure, an ebpf.maps codec, or an object with size and decode()"
    )
