"""Array maps and per-CPU maps.

Every index of an array always exists (elements cannot be deleted, only
overwritten), so ``len()`` is ``max_entries`` and iteration needs no system
call. An array created with ``MapFlags.MMAPABLE`` can be mapped into memory:
[`ArrayMap.memory()`][ebpf.maps.ArrayMap.memory] gives a zero-copy view of the values, so counters a
program updates are read without a system call.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from ebpf.syscall.abi import MapType
from ebpf.syscall.flags import MapFlags
from ebpf.syscall.system import possible_cpus

from ._keyvalue import KeyValueMap
from ._percpu import PerCpuCodec, percpu_stride

__all__ = ["ArrayMap", "PerCpuArrayMap", "PerCpuMap"]

K = TypeVar("K")
V = TypeVar("V")


class ArrayMap(KeyValueMap[int, V], map_types=(MapType.ARRAY,)):
    """An array: indices ``0 .. max_entries-1``, all present, values zero until written.

    ``del m[i]`` raises ``TypeError`` (the kernel cannot delete array
    elements); [`clear()`][ebpf.maps.ArrayMap.clear] sets every value to zero.
    """

    def _setup(self) -> None:
        super()._setup()
        self._mmap: mmap.mmap | None = None
        self._view: memoryview | None = None

    def __len__(self) -> int:
        return self.max_entries

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.max_entries))

    def __delitem__(self, key: int) -> None:
        raise TypeError(
            f"array map {self.name!r}: elements of arrays cannot be deleted, only overwritten "
            "(m[i] = 0, or m.clear() to zero them all)"
        )

    def lookup_and_delete_batch(self, *, chunk_size: int | None = None) -> dict[int, V]:
        """Not possible for arrays. Raises TypeError."""
        raise TypeError(f"array map {self.name!r}: elements of arrays cannot be deleted")

    def clear(self) -> None:
        """Set every value to zero bytes."""
        zero = self.value_codec.decode_from(bytes(self.value_codec.size), 0)
        self.update_batch([(i, zero) for i in range(self.max_entries)])

    def memory(self) -> memoryview:
        """A writable, zero-copy view of every value, for arrays created with ``MapFlags.MMAPABLE``.

        Element ``i`` starts at byte ``i * stride``, where ``stride`` is
        ``value_size`` rounded up to 8 (``bpf_array``'s ``elem_size``); for
        8-byte integers ``view.cast("Q")[i]`` is element ``i``. The view is
        read-only for a frozen map. Release views made from it before
        [`close()`][ebpf.maps.Map.close], which unmaps the memory.

        Raises:
            ValueError: the map was not created mmap-able, or is closed.
        """
        with self._lock:
            if not self.flags & MapFlags.MMAPABLE:
                raise ValueError(
                    f"array map {self.name!r} is not mmap-able: create it with flags=MapFlags.MMAPABLE"
                )
            if self._view is None:
                fd = self._fd_checked().fileno()
                used = percpu_stride(self.value_size) * self.max_entries
                length = -(-used // mmap.PAGESIZE) * mmap.PAGESIZE
                try:
                    mem = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                except PermissionError:
                    # A frozen map refuses writable shared mappings (bpf_map_mmap: EPERM).
                    mem = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ)
                self._mmap = mem
                self._view = memoryview(mem)[:used]
            return self._view

    def _release(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._mmap is not None:
            # BufferError: the caller still holds views made from memory(); the
            # mapping (and the descriptor mmap duplicated) go when those are freed.
            with contextlib.suppress(BufferError):
                self._mmap.close()
            self._mmap = None
        super()._release()


class PerCpuMap(
    KeyValueMap[K, list[V]],
    map_types=(MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE),
):
    """A per-CPU hash: each value is a list with one value per *possible* CPU.

    Assigning a list sets each CPU's value; assigning anything else sets
    every CPU to it. Fold the lists with [`percpu_sum()`][ebpf.maps.percpu_sum] and
    friends. ``cpus`` is the length of the lists; ``value_codec`` is the
    whole list's codec, ``spec.value_codec`` that of one CPU's value.
    """

    def _setup(self) -> None:
        self.cpus = possible_cpus()
        self.value_codec = PerCpuCodec(self.spec.value_codec, self.cpus)
        super()._setup()

    def __setitem__(self, key: K, value: V | list[V]) -> None:
        # The per-CPU codec also takes one value for every CPU.
        super().__setitem__(key, value)  # type: ignore[assignment]

    def update_batch(
        self,
        items: Mapping[K, V | list[V]] | Iterable[tuple[K, V | list[V]]],
        *,
        flags: int = 0,
        chunk_size: int | None = None,
    ) -> int:
        """As [`KeyValueMap.update_batch()`][ebpf.maps.KeyValueMap.update_batch]; a value is a list (one per
        CPU) or one value for every CPU."""
        return self._update_batch(items, flags, chunk_size)


class PerCpuArrayMap(PerCpuMap[int, V], ArrayMap[list[V]], map_types=(MapType.PERCPU_ARRAY,)):
    """A per-CPU array: array semantics, one value per possible CPU in each element."""
