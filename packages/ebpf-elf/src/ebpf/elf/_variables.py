"""Global variables: set in the spec before loading, read and written in the live maps after.

A global variable is a range of bytes in the array map of its data section
(``.data``, ``.rodata``, ``.bss``, ``.data.*``...). Its BTF type decides how
Python values are converted: integers, enums, pointers and ``_Bool`` as
``int``, ``float``/``double`` as ``float``, anything else (structs, arrays,
``char[]`` strings) as ``bytes``.

A [`VariableSpec`][ebpf.elf.VariableSpec] is plain data: it holds its own
initial bytes, so a copy of a spec (or of a variable) never writes into
another. Before loading, [`VariableSpec.set()`][ebpf.elf.VariableSpec.set]
changes those bytes, which is how ``.rodata`` constants are configured (the
verifier then sees them as constants); [`Collection.load`][ebpf.elf.Collection.load]
creates each data map with its variables' values written over the
section's contents ([`CollectionSpec.maps_with_variables()`][ebpf.elf.CollectionSpec.maps_with_variables]).
After loading, [`Variable`][ebpf.elf.Variable] reads and writes the map's
memory in place (``mmap``) where the kernel allows it, else through map
lookups and updates; ``.rodata`` is frozen and read-only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ebpf.btf import Array, Enum, Float, Int, Pointer, Type
from ebpf.maps import ArrayMap, Map, MapSpec
from ebpf.syscall.flags import MapFlags

__all__ = ["Value", "Variable", "VariableSpec", "with_variables"]

#: What a variable holds, in Python.
Value = int | float | bytes

_FLOATS = {4: "f", 8: "d"}


@dataclass(frozen=True)
class _Codec:
    """How the bytes of one variable convert to and from Python."""

    size: int
    kind: str  # "int", "float" or "bytes"
    signed: bool = False
    pad: bool = False  # bytes may be shorter than size (char arrays): zero-padded

    def decode(self, raw: bytes) -> Value:
        if self.kind == "int":
            return int.from_bytes(raw, "little", signed=self.signed)
        if self.kind == "float":
            return float(struct.unpack("<" + _FLOATS[self.size], raw)[0])
        return bytes(raw)

    def encode(self, value: Value, name: str) -> bytes:
        if self.kind == "int":
            if not isinstance(value, int):
                raise TypeError(f"variable {name!r} holds an integer, not {type(value).__name__}")
            value = int(value)  # True -> 1 for _Bool
            try:
                return value.to_bytes(self.size, "little", signed=self.signed)
            except OverflowError:
                kind = "signed" if self.signed else "unsigned"
                raise ValueError(
                    f"{value} does not fit variable {name!r} ({kind}, {self.size} bytes)"
                ) from None
        if self.kind == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"variable {name!r} holds a float, not {type(value).__name__}")
            return struct.pack("<" + _FLOATS[self.size], value)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"variable {name!r} holds {self.size} raw bytes, not {type(value).__name__}")
        raw = bytes(value)
        if len(raw) > self.size or (len(raw) < self.size and not self.pad):
            raise ValueError(f"variable {name!r} is {self.size} bytes, not {len(raw)}")
        return raw.ljust(self.size, b"\0")


def codec_for(t: Type | None, size: int) -> _Codec:
    """The conversion for a variable of BTF type ``t`` (raw bytes without BTF)."""
    if t is None or t.graph is None:
        return _Codec(size, "bytes")
    resolved = t.graph.resolve(t)
    if isinstance(resolved, (Int, Enum)) and resolved.size == size and size in (1, 2, 4, 8, 16):
        return _Codec(size, "int", resolved.signed)
    if isinstance(resolved, Pointer) and size == 8:
        return _Codec(size, "int")
    if isinstance(resolved, Float) and size in _FLOATS:
        return _Codec(size, "float")
    element = t.graph.resolve(resolved.type_id) if isinstance(resolved, Array) else None
    return _Codec(size, "bytes", pad=isinstance(element, Int) and element.size == 1)


@dataclass
class VariableSpec:
    """A global variable of a [`CollectionSpec`][ebpf.elf.CollectionSpec]: where it lives, its type and value.

    Plain data: the initial value is the variable's own bytes (`value`),
    read from the object file; [`Collection.load`][ebpf.elf.Collection.load]
    writes them into the data map. Copying the spec, or the variable
    (`dataclasses.replace`), copies the value.

    Attributes:
        name: the C name.
        map: the data map holding it (``".rodata"``, ``".bss"``...), a key of ``spec.maps``.
        offset: its byte offset in the map's value.
        size: its size in bytes.
        type: its BTF type (``None`` for objects without BTF).
        value: its initial bytes (``size`` of them).
    """

    name: str
    map: str
    offset: int
    size: int
    type: Type | None
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        """Check that `value` has `size` bytes.

        Raises:
            ValueError: it has not.
        """
        self.value = bytes(self.value)
        if len(self.value) != self.size:
            raise ValueError(f"variable {self.name!r} is {self.size} bytes, its value {len(self.value)}")

    @property
    def readonly(self) -> bool:
        """Whether programs cannot write it (``.rodata*``): only settable before loading."""
        return self.map.startswith(".rodata")

    def get(self) -> Value:
        """The initial value (as the object file has it, or as last [`set()`][ebpf.elf.VariableSpec.set])."""
        return codec_for(self.type, self.size).decode(self.value)

    def set(self, value: Value) -> None:
        """Change the initial value (the map is created with it at load).

        Raises:
            TypeError: a value of the wrong kind for the variable's type.
            ValueError: a value that does not fit.
        """
        self.value = codec_for(self.type, self.size).encode(value, self.name)


def with_variables(maps: Mapping[str, MapSpec], variables: Iterable[VariableSpec]) -> dict[str, MapSpec]:
    """``maps`` with the values of ``variables`` written into their data maps' contents.

    A data map whose variables all hold the bytes its contents have is
    returned as it is; variables of maps not in ``maps`` (removed from the
    spec) are left out.

    Raises:
        ValueError: a variable outside its map's value.
    """
    result = dict(maps)
    by_map: dict[str, list[VariableSpec]] = {}
    for var in variables:
        if var.map in result:
            by_map.setdefault(var.map, []).append(var)
    for name, held in by_map.items():
        spec = result[name]
        size = spec.value_size or 0
        initial = dict(spec.contents).get(0)
        data = bytearray(bytes(initial) if initial is not None else bytes(size))
        before = bytes(data)
        for var in held:
            if var.offset < 0 or var.offset + var.size > len(data):
                raise ValueError(
                    f"variable {var.name!r} ({var.size} bytes at {var.offset}) is outside map {name!r} "
                    f"({len(data)} bytes)"
                )
            data[var.offset : var.offset + var.size] = var.value
        if data != before:
            result[name] = replace(spec, contents=((0, bytes(data)),))
    return result


class Variable:
    """A global variable of a loaded [`Collection`][ebpf.elf.Collection], read and written in its map.

    ``value`` (or [`get()`][ebpf.elf.Variable.get]/[`set()`][ebpf.elf.Variable.set]) goes through the map's
    memory (``mmap``) when the map is mmap-able, else through a lookup and an update
    of the whole section (not atomic against programs writing other
    variables of the same section meanwhile).
    """

    def __init__(self, spec: VariableSpec, data_map: Map) -> None:
        """Bind ``spec`` to the live map of its section (owned by the collection)."""
        self.name = spec.name
        self.offset = spec.offset
        self.size = spec.size
        self.type = spec.type
        self.readonly = spec.readonly
        self._codec = codec_for(spec.type, spec.size)
        self._map = data_map

    def _raw(self) -> bytes:
        array = self._map
        if isinstance(array, ArrayMap) and array.flags & MapFlags.MMAPABLE:
            return bytes(array.memory()[self.offset : self.offset + self.size])
        return self._whole()[self.offset : self.offset + self.size]

    def _whole(self) -> bytes:
        if not isinstance(self._map, ArrayMap):
            raise TypeError(f"variable {self.name!r}: its map {self._map.name!r} is not an array")
        value = self._map[0]
        return bytes(value)

    def get(self) -> Value:
        """The current value.

        Raises:
            ValueError: the collection was closed.
        """
        return self._codec.decode(self._raw())

    def set(self, value: Value) -> None:
        """Write ``value``; programs see it on their next access.

        Raises:
            PermissionError: a ``.rodata`` variable (frozen: set it on the spec before loading).
            TypeError, ValueError: see [`VariableSpec.set()`][ebpf.elf.VariableSpec.set].
        """
        if self.readonly:
            raise PermissionError(
                f"variable {self.name!r} is in a frozen .rodata map: "
                "set it on the CollectionSpec before loading"
            )
        raw = self._codec.encode(value, self.name)
        array = self._map
        if isinstance(array, ArrayMap) and array.flags & MapFlags.MMAPABLE:
            array.memory()[self.offset : self.offset + self.size] = raw
            return
        whole = bytearray(self._whole())
        whole[self.offset : self.offset + self.size] = raw
        assert isinstance(array, ArrayMap)
        array[0] = bytes(whole)

    value = property(get, set, doc="The current value (see `get()` and `set()`).")

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, offset={self.offset}, size={self.size})"
