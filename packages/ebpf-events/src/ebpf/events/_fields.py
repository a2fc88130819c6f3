"""Record layouts as lists of fields: parsing event specs and ``struct`` formats into one form.

A layout is a C structure: each field has a ``struct`` code, an offset and
an optional conversion. Spec lists (``[u32, u64, "char[16]"]``) are laid out
with C's natural alignment (a ``u64`` after a ``u32`` starts at offset 8,
the size is rounded up to the largest alignment), as clang lays out the
``struct`` the program writes. ``struct`` formats keep their own rules
(``"="``/``"<"``/``">"`` no padding, ``"@"`` native alignment) and are
rewritten with explicit padding, so that a layout can be shifted behind a
record header for batch decoding.
"""

from __future__ import annotations

import ctypes
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Field", "Layout", "cstring", "layout_from_format", "layout_from_specs"]

# struct code -> numpy kind and size ("u4"); "s" and "c" are handled apart.
_NUMPY_CODES = {
    "b": "i1",
    "B": "u1",
    "?": "b1",
    "h": "i2",
    "H": "u2",
    "i": "i4",
    "I": "u4",
    "l": "i4",
    "L": "u4",
    "q": "i8",
    "Q": "u8",
    "e": "f2",
    "f": "f4",
    "d": "f8",
}
_INT_CODES = {(1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q"}
_INT_CODES.update({(1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q"})
_FORMAT_ITEM = re.compile(r"\s*(\d*)\s*([xcbB?hHiIlLqQnNefdspP])")


def cstring(data: bytes) -> str:
    """A C string (``char comm[16]``): the bytes up to the first NUL, as UTF-8 with replacement."""
    end = data.find(b"\0")
    return (data if end < 0 else data[:end]).decode("utf-8", "replace")


@dataclass(frozen=True)
class Field:
    """One field of a record layout.

    Attributes:
        name: the field's name (``f0``, ``f1``... when not given).
        code: its ``struct`` code with count (``"I"``, ``"16s"``, ``"4Q"``).
        values: how many values ``struct`` unpacks for it (1, or the array length).
        offset: its byte offset in the record.
        size: its size in bytes.
        numpy: its NumPy type string (``"<u4"``, ``"S16"``, ``("<u8", (4,))`` as text).
        convert: applied to the unpacked value(s), or ``None``.
    """

    name: str
    code: str
    values: int
    offset: int
    size: int
    numpy: str
    shape: tuple[int, ...] = ()
    convert: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Layout:
    """A record layout: fields at offsets, a byte order and a total size."""

    fields: tuple[Field, ...]
    byteorder: str  # "=", "<" or ">": the prefix of every format built from this layout
    size: int
    named: bool  # the fields were given names

    def struct_format(self, before: int = 0, stride: int | None = None) -> str:
        """The ``struct`` format of the layout, after ``before`` bytes and padded to ``stride``."""
        parts = [self.byteorder]
        position = 0
        if before:
            parts.append(f"{before}x")
        for field in self.fields:
            if field.offset > position:
                parts.append(f"{field.offset - position}x")
            parts.append(field.code)
            position = field.offset + field.size
        end = self.size if stride is None else stride - before
        if end > position:
            parts.append(f"{end - position}x")
        return "".join(parts)


# ------------------------------------------------------------------ specs


@dataclass(frozen=True)
class _Kind:
    code: str  # struct code for one element ("I", "s")
    size: int  # of one element
    align: int
    count: int = 1  # array length; for "s" the byte count
    numpy: str = ""
    convert: Callable[..., Any] | None = None


def _int_kind(size: int, signed: bool, byteorder: str = "native") -> _Kind:
    code = _INT_CODES[(size, signed)]
    order = {"native": "=", "little": "<", "big": ">"}[byteorder]
    if order != "=" and byteorder != sys.byteorder:
        # A foreign byte order inside a native record: unpack the bytes, convert.
        foreign: Literal["little", "big"] = "big" if byteorder == "big" else "little"

        def convert(raw: bytes) -> int:
            return int.from_bytes(raw, foreign, signed=signed)

        return _Kind("s", size, size, size, f"{order}{_NUMPY_CODES[code]}", convert)
    return _Kind(code, size, size, numpy=_NUMPY_CODES[code])


def _cstring_kind(length: int) -> _Kind:
    return _Kind("s", 1, 1, length, f"S{length}", cstring)


def _bytes_kind(length: int) -> _Kind:
    return _Kind("s", 1, 1, length, f"V{length}")


_NAMED_KINDS: dict[str, _Kind] = {}
for _bits in (8, 16, 32, 64):
    _NAMED_KINDS[f"u{_bits}"] = _NAMED_KINDS[f"__u{_bits}"] = _int_kind(_bits // 8, False)
    for _prefix in ("i", "s", "__s"):
        _NAMED_KINDS[f"{_prefix}{_bits}"] = _int_kind(_bits // 8, True)
_NAMED_KINDS.update(
    {
        "bool": _Kind("?", 1, 1, numpy="b1"),
        "f32": _Kind("f", 4, 4, numpy="f4"),
        "float": _Kind("f", 4, 4, numpy="f4"),
        "f64": _Kind("d", 8, 8, numpy="f8"),
        "double": _Kind("d", 8, 8, numpy="f8"),
    }
)
_ARRAY_SPEC = re.compile(r"^\s*(\w+)\s*\[\s*(\d+)\s*\]\s*$")
# An integer in a stated byte order: "<u32" (little-endian), ">u16" or "!u16" (big-endian, network).
_ORDERED_INT = re.compile(r"^\s*([<>!])\s*([ui])(8|16|32|64)\s*$")


def is_type_name(spec: str) -> bool:
    """Whether ``spec`` is a field type name (``"u32"``, ``">u16"``, ``"char[16]"``), not a struct format."""
    return spec.strip() in _NAMED_KINDS or bool(_ARRAY_SPEC.match(spec) or _ORDERED_INT.match(spec))


def _kind_of_name(spec: str) -> _Kind:
    ordered = _ORDERED_INT.match(spec)
    if ordered is not None:
        order, sign, bits = ordered.groups()
        return _int_kind(int(bits) // 8, sign == "i", "little" if order == "<" else "big")
    array = _ARRAY_SPEC.match(spec)
    if array is not None:
        element, length = array.group(1), int(array.group(2))
        if length < 1:
            raise ValueError(f"array field {spec!r} needs a length >= 1")
        if element == "char":
            return _cstring_kind(length)
        if element in ("u8", "__u8", "bytes"):
            return _bytes_kind(length)
        inner = _NAMED_KINDS.get(element)
        if inner is None or inner.convert is not None:
            raise ValueError(f"unknown array element type {element!r} in {spec!r}")
        return _Kind(inner.code, inner.size, inner.align, length, inner.numpy, tuple)
    kind = _NAMED_KINDS.get(spec.strip())
    if kind is not None:
        return kind
    items = _FORMAT_ITEM.findall(spec)
    if len(items) == 1 and "".join(items[0]) == spec.strip() and items[0][1] not in "xnNP":
        count, code = int(items[0][0] or 1), items[0][1]
        if code == "s":
            return _bytes_kind(count)
        if code in "cp":
            raise ValueError(f"use 'char[N]' or '{count}s' instead of the struct code {spec!r}")
        size = struct.calcsize("=" + code)
        convert = tuple if count > 1 else None
        return _Kind(code, size, size, count, _NUMPY_CODES[code], convert)
    raise ValueError(
        f"unknown field type {spec!r}: use u8..u64, i8..i64, f32, f64, bool, 'char[N]' (C string), "
        "'u8[N]' (bytes), 'u32[N]' (array), '>u16'/'<u32' (big/little-endian), a one-field struct code "
        "('I', '16s'), an ebpf.maps int, string or bytes codec, or a ctypes type"
    )


def _kind_of_ctype(ctype: type[Any]) -> _Kind:
    if issubclass(ctype, ctypes.Array):
        length: int = getattr(ctype, "_length_")  # noqa: B009 - ctypes' private attributes are untyped
        element: type[Any] = getattr(ctype, "_type_")  # noqa: B009
        if element is ctypes.c_char:
            return _cstring_kind(length)
        inner = _kind_of_ctype(element)
        if inner.count != 1 or inner.convert is not None:
            raise ValueError(f"unsupported ctypes array element {element.__name__}")
        return _Kind(inner.code, inner.size, inner.align, length, inner.numpy, tuple)
    code = getattr(ctype, "_type_", None)
    if not isinstance(code, str) or code not in "bBhHiIlLqQfd?":
        raise ValueError(f"unsupported ctypes field type {ctype.__name__} (use a Structure decoder for it)")
    size = ctypes.sizeof(ctype)
    if code in "fd?":
        return _Kind(code, size, size, numpy=_NUMPY_CODES[code])
    return _int_kind(size, code.islower())


def _kind_of(spec: object) -> _Kind:
    """The field kind of one item of a spec list."""
    if isinstance(spec, str):
        return _kind_of_name(spec)
    if isinstance(spec, type) and issubclass(spec, ctypes._SimpleCData | ctypes.Array):
        return _kind_of_ctype(spec)
    # A codec that names its field type in ``layout`` (ebpf.maps codecs do: ``u32.layout == "u32"``).
    layout = getattr(spec, "layout", None)
    if isinstance(layout, str) and is_type_name(layout):
        return _kind_of_name(layout)
    raise TypeError(
        f"cannot use {spec!r} as a field type: use a type name ('u32', 'char[16]'), an ebpf.maps "
        "int/string/bytes codec (u32, StringCodec(16)...), or a ctypes type (c_uint32, c_char * 16)"
    )


def layout_from_specs(specs: list[Any] | tuple[Any, ...], *, packed: bool = False) -> Layout:
    """The layout of a spec list: ``[u32, u64]`` or ``[("pid", u32), ("ts", u64)]``.

    Raises:
        TypeError: an item is not a field type (the message lists what is).
        ValueError: an empty list, duplicate or invalid names, unknown type names.
    """
    if not specs:
        raise ValueError("an event spec needs at least one field")
    names: list[str] = []
    kinds: list[_Kind] = []
    named = isinstance(specs[0], tuple)
    for index, item in enumerate(specs):
        if isinstance(item, tuple) != named:
            raise TypeError("give every field as (name, type) or none of them")
        if named:
            if len(item) != 2 or not isinstance(item[0], str) or not item[0].isidentifier():
                raise ValueError(
                    f"field {index}: expected (name, type) with an identifier name, not {item!r}"
                )
            names.append(item[0])
            kinds.append(_kind_of(item[1]))
        else:
            names.append(f"f{index}")
            kinds.append(_kind_of(item))
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate field names in {names}")
    fields: list[Field] = []
    offset = 0
    largest = 1
    for name, kind in zip(names, kinds, strict=True):
        align = 1 if packed else kind.align
        largest = max(largest, align)
        offset = -(-offset // align) * align
        shape: tuple[int, ...] = ()
        if kind.code == "s":
            code, values, size = f"{kind.count}s", 1, kind.count
        else:
            code, values, size = f"{kind.count}{kind.code}", kind.count, kind.size * kind.count
            shape = (kind.count,) if kind.count > 1 else ()
        fields.append(Field(name, code, values, offset, size, kind.numpy, shape, kind.convert))
        offset += size
    total = -(-offset // largest) * largest
    return Layout(tuple(fields), "=", total, named)


def layout_from_format(fmt: str | struct.Struct) -> Layout:
    """The layout of a ``struct`` format, with native alignment (``"@"``) made explicit.

    Raises:
        ValueError: an invalid format.
    """
    text = fmt.format if isinstance(fmt, struct.Struct) else fmt
    try:
        total = struct.calcsize(text)
    except struct.error as exc:
        raise ValueError(f"invalid struct format {text!r}: {exc}") from None
    body = text.lstrip()
    prefix = "@"
    if body[:1] in "@=<>!":
        prefix, body = body[0], body[1:]
    native = prefix == "@"
    order = {"@": "=", "=": "=", "<": "<", ">": ">", "!": ">"}[prefix]
    numpy_order = {"=": "=", "<": "<", ">": ">"}[order]
    fields: list[Field] = []
    seen = ""
    for count_text, given in _FORMAT_ITEM.findall(body):
        count = int(count_text or 1)
        item = f"{count_text}{given}"
        code = given
        end = struct.calcsize(prefix + seen + item)
        size = struct.calcsize(prefix + item) if code in "sp" else struct.calcsize(prefix + code) * count
        offset = end - size
        seen += item
        if code == "x":
            continue
        if native and code in "lLnNP":
            # Native sizes have no "=" code of their own: use the standard one of the same size.
            code = _INT_CODES[(struct.calcsize("@" + code), code.islower())]
        if code in "nNP":
            raise ValueError(f"struct code {code!r} exists only in native formats ('@'), not in {text!r}")
        if code == "p":
            raise ValueError(f"Pascal strings ('p') are not supported in event formats: {text!r}")
        if code == "s":
            field = Field(f"f{len(fields)}", f"{count}s", 1, offset, count, f"S{count}")
        elif code == "c":
            shape = (count,) if count > 1 else ()
            field = Field(f"f{len(fields)}", f"{count}c", count, offset, count, "S1", shape)
        else:
            shape = (count,) if count > 1 else ()
            # Unlike spec lists, a format's "4I" unpacks to four values, as struct does.
            numpy = numpy_order + _NUMPY_CODES[code]
            field = Field(f"f{len(fields)}", f"{count}{code}", count, offset, size, numpy, shape)
        fields.append(field)
    if not fields:
        raise ValueError(f"struct format {text!r} has no fields")
    return Layout(tuple(fields), order, total, False)
