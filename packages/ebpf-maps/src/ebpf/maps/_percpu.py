"""Per-CPU values: one value per *possible* CPU, and helpers that fold them.

The kernel exchanges per-CPU values with user space as an array of
``num_possible_cpus()`` slots, each ``round_up(value_size, 8)`` bytes
(``bpf_percpu_hash_copy``/``bpf_percpu_array_copy``). Possible CPUs, not
online ones: ``/sys/devices/system/cpu/possible`` (see
[`ebpf.syscall.system.possible_cpus()`][ebpf.syscall.possible_cpus]).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, TypeVar

from ._codecs import Codec, CodecSlot, IntCodec, ReadableBuffer, Slot, WritableBuffer

__all__ = ["PerCpuCodec", "percpu_avg", "percpu_max", "percpu_min", "percpu_stride", "percpu_sum"]

T = TypeVar("T")
Number = TypeVar("Number", int, float)


def percpu_stride(value_size: int) -> int:
    """The size of one CPU's slot: ``value_size`` rounded up to 8 bytes."""
    return (value_size + 7) & ~7


class PerCpuCodec(Codec[list[Any]]):
    """Wraps the codec of one CPU's value into the codec of a whole per-CPU value.

    Encodes a ``list`` of exactly ``cpus`` values (one per possible CPU, in
    CPU order) or any other single value, which is replicated to every CPU.
    Decodes to a ``list``.
    """

    def __init__(self, inner: Codec[Any], cpus: int):
        """Raises ValueError for ``cpus`` below 1."""
        if cpus < 1:
            raise ValueError(f"a per-CPU value needs at least one CPU, not {cpus}")
        self.inner = inner
        self.cpus = cpus
        self.stride = percpu_stride(inner.size)
        self.size = self.stride * cpus
        # Integers: one struct call for all CPUs, with padding between slots.
        self._struct: struct.Struct | None = None
        code = inner._array_code() if isinstance(inner, IntCodec) else None
        if code is not None:
            pad = f"{self.stride - inner.size}x" if self.stride != inner.size else ""
            self._struct = struct.Struct("=" + (code + pad) * cpus)

    def _values(self, value: Any) -> Sequence[Any]:
        if isinstance(value, list):
            if len(value) != self.cpus:
                raise ValueError(
                    f"a per-CPU value is a list of {self.cpus} values (one per possible CPU), "
                    f"got {len(value)}; give a single value to set every CPU to it"
                )
            return value
        return [value] * self.cpus

    def encode(self, value: Any) -> bytes:
        """The per-CPU array for ``value`` (a list, or one value to replicate).

        Raises:
            ValueError: a list of the wrong length, or a value the inner codec refuses.
            TypeError: a value the inner codec refuses.
        """
        buf = bytearray(self.size)
        self.encode_into(buf, 0, value)
        return bytes(buf)

    def decode(self, data: bytes) -> list[Any]:
        """One value per possible CPU."""
        return self.decode_from(data, 0)

    def encode_into(self, buf: WritableBuffer, offset: int, value: Any) -> None:
        """Write every CPU's slot."""
        values = self._values(value)
        if self._struct is not None:
            try:
                self._struct.pack_into(buf, offset, *values)
                return
            except (struct.error, TypeError):
                pass  # fall through to the inner codec, which explains the failure
        inner, stride = self.inner, self.stride
        for cpu, v in enumerate(values):
            inner.encode_into(buf, offset + cpu * stride, v)

    def decode_from(self, buf: ReadableBuffer, offset: int) -> list[Any]:
        """Read every CPU's slot."""
        if self._struct is not None:
            return list(self._struct.unpack_from(buf, offset))
        inner, stride = self.inner, self.stride
        return [inner.decode_from(buf, offset + cpu * stride) for cpu in range(self.cpus)]

    def slot(self, buf: WritableBuffer) -> Slot[list[Any]]:
        """Native-order integers are read from one strided ``memoryview`` (``tolist()``: one C call)."""
        code = self.inner._array_code() if isinstance(self.inner, IntCodec) else None
        if code is None:
            return super().slot(buf)
        return _IntsPerCpuSlot(self, buf, code)

    def encode_many(self, values: Sequence[Any]) -> bytes:
        """Concatenated per-CPU arrays."""
        buf = bytearray(self.size * len(values))
        for i, v in enumerate(values):
            self.encode_into(buf, i * self.size, v)
        return bytes(buf)

    def decode_many(self, buf: ReadableBuffer, count: int) -> list[list[Any]]:
        """``count`` per-CPU values."""
        return [self.decode_from(buf, i * self.size) for i in range(count)]

    def describe(self) -> str:
        return f"percpu[{self.cpus}]({self.inner.describe()})"


def _check(values: Sequence[Any]) -> None:
    if not values:
        raise ValueError("no per-CPU values to fold (the sequence is empty)")


def percpu_sum(values: Sequence[Number]) -> Number:
    """The sum over CPUs (a counter's total).

    Raises:
        ValueError: ``values`` is empty.
    """
    _check(values)
    total = values[0]
    for v in values[1:]:
        total += v
    return total


def percpu_max(values: Sequence[Number]) -> Number:
    """The largest per-CPU value. Raises ValueError when ``values`` is empty."""
    _check(values)
    return max(values)


def percpu_min(values: Sequence[Number]) -> Number:
    """The smallest per-CPU value. Raises ValueError when ``values`` is empty."""
    _check(values)
    return min(values)


def percpu_avg(values: Sequence[Number]) -> float:
    """The mean over possible CPUs. Raises ValueError when ``values`` is empty."""
    _check(values)
    return float(percpu_sum(values)) / len(values)


class _IntsPerCpuSlot(CodecSlot[list[Any]]):
    """A per-CPU integer value: written by the codec, read as every ``stride``-th item of a view."""

    __slots__ = ("_tolist",)

    def __init__(self, codec: PerCpuCodec, buf: WritableBuffer, code: str) -> None:
        super().__init__(codec, buf)
        items = memoryview(buf).cast("B")[: codec.size].cast(code)  # type: ignore[call-overload]
        self._tolist = items[:: codec.stride // codec.inner.size].tolist

    def __getitem__(self, index: int, /) -> list[Any]:
        return self._tolist()  # type: ignore[no-any-return]
