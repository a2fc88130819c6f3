"""Shared memory with the kernel: mapping it, reading and publishing positions, ordering accesses.

Ring and perf buffers are lock-free single-producer (the kernel) /
single-consumer (us) queues in memory both sides map. The protocol needs:

- *single-copy atomicity* of the 64-bit positions: a position is read and
  written through a ``memoryview`` cast to ``"Q"`` over 8-byte aligned
  memory. CPython reads and writes such an item with a fixed-size
  ``memcpy`` of 8 bytes (``Objects/memoryobject.c``, ``unpack_single`` /
  ``pack_single``), which compilers emit as one aligned 64-bit load or
  store on x86-64 and arm64: the kernel never sees half a position, and we
  never read one. (``struct.unpack_from("<Q")`` would read byte by byte.)
- *acquire* loads of the producer position and of each record header (no
  later load may be satisfied before them: the record's data must not be
  read before its header said it was committed), and a *release* store of
  the consumer position (every read of the consumed records completes
  before the kernel may see the space as free and overwrite it).

On x86-64 the hardware gives both for free: under its TSO memory model
loads are not reordered with other loads, and stores are not reordered
with earlier loads or stores, so every aligned load is an acquire and
every aligned store a release; and the compiler cannot move CPython's
memory accesses across the interpreter's opaque calls between two Python
operations. On weakly ordered CPUs (arm64, ppc64, riscv64) plain loads may
be reordered, so readers call `Fence.full()` where the protocol needs
an ordering; it releases then re-acquires a private lock: on ARMv8 a
store-release followed by a load-acquire is ordered (RCsc), so every
access before the fence is ordered before every access after it. On x86-64
readers skip those calls (`needs_fence()` is false).
"""

from __future__ import annotations

import functools
import mmap
import platform
import threading

__all__ = ["PAGE_SIZE", "Fence", "map_shared", "needs_fence"]

#: The size of a page: the unit of every ring buffer and perf buffer mapping.
PAGE_SIZE = mmap.PAGESIZE


@functools.cache
def needs_fence() -> bool:
    """Whether this CPU reorders loads (anything but x86): readers then fence explicitly."""
    return platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86")


class Fence:
    """A full memory barrier made of a lock release followed by its acquire (see the module docs).

    One per reader: a reader is used by one thread at a time.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def full(self) -> None:
        """Order every memory access before the call before every access after it."""
        self._lock.release()
        self._lock.acquire()


def map_shared(fd: int, length: int, offset: int, *, writable: bool) -> mmap.mmap:
    """``mmap(MAP_SHARED)`` of ``length`` bytes of ``fd`` at ``offset`` (a page multiple).

    Raises:
        OSError: the kernel refused (``EPERM`` for a writable mapping of a
            read-only area, ``EINVAL`` for a bad size).
    """
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    return mmap.mmap(fd, length, mmap.MAP_SHARED, prot, offset=offset)
