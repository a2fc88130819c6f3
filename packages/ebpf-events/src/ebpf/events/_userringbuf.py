"""``UserRingBuffer``: user space writes records that programs read with ``bpf_user_ringbuf_drain`` (6.1+).

A ``BPF_MAP_TYPE_USER_RINGBUF`` map has the ring buffer layout with the
roles swapped: the consumer page (offset 0) is the kernel's and maps
read-only; the producer page and the doubly mapped data area (offset
``PAGE_SIZE``) map read-write. There is one producer, this object, so a
record is written whole (data, then its header without ``BUSY``) before
the producer position is published with a release store (see
`_memory`); the kernel reads that position with an acquire load and
never sees a half-written record.
"""

from __future__ import annotations

import select
import time
import weakref
from types import TracebackType

from ebpf.syscall.abi import MapType
from ebpf.syscall.fd import HasFileno

from ._memory import PAGE_SIZE, Fence, map_shared, needs_fence
from ._resources import Resources
from ._ringbuf import RINGBUF_HEADER_SIZE, open_map_fd

__all__ = ["UserRingBuffer"]


class UserRingBuffer:
    """Writes records into a user ring buffer map for a program to drain.

    Args:
        ringbuf: the ``USER_RINGBUF`` map (an ``ebpf.maps.Map``, an ``FD``
            or a descriptor); the writer keeps its own duplicate.

    Raises:
        TypeError: not a user ring buffer map.
        BpfSyscallError, OSError: the map cannot be inspected or mapped.
    """

    def __init__(self, ringbuf: int | HasFileno) -> None:
        self._res = Resources()
        self._finalizer = weakref.finalize(self, self._res.release)
        self._closed = False
        res = self._res
        try:
            fd, size = open_map_fd(ringbuf, (MapType.USER_RINGBUF,), "UserRingBuffer")
            res.fds.append(fd)
            consumer = map_shared(fd.fileno(), PAGE_SIZE, 0, writable=False)
            res.mmaps.append(consumer)
            producer = map_shared(fd.fileno(), PAGE_SIZE + 2 * size, PAGE_SIZE, writable=True)
            res.mmaps.append(producer)
            self._consumer_pos = memoryview(consumer).cast("Q")
            whole = memoryview(producer)
            self._producer_pos = whole[:8].cast("Q")
            self._data = whole[PAGE_SIZE:]
            self._words = self._data.cast("I")
            res.views.extend((self._consumer_pos, whole, self._producer_pos, self._data, self._words))
            # Writable when the kernel has consumed something (ringbuf_map_poll_user).
            res.epoll.register(fd.fileno(), select.EPOLLOUT)
        except BaseException:
            self._finalizer()
            raise
        self.size = size
        self._fence = Fence() if needs_fence() else None

    @property
    def free_bytes(self) -> int:
        """Room left for records (headers included)."""
        self._check_open()
        return self.size - int(self._producer_pos[0] - self._consumer_pos[0])

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("UserRingBuffer is closed")

    def write(self, data: bytes | bytearray | memoryview, timeout: float | None = 0) -> bool:
        """Append one record holding ``data``; False when there was no room within ``timeout`` seconds.

        ``timeout=0`` does not wait; ``None`` waits until the program has
        drained enough.

        Raises:
            ValueError: the writer is closed, or ``data`` can never fit.
        """
        self._check_open()
        payload = memoryview(data).cast("B")
        length = len(payload)
        total = (length + RINGBUF_HEADER_SIZE + 7) & ~7
        if total > self.size or length >= 1 << 30:
            raise ValueError(
                f"a record of {length} bytes does not fit a user ring buffer of {self.size} bytes"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.size - (self._producer_pos[0] - self._consumer_pos[0]) < total:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._res.epoll.poll(-1 if remaining is None else remaining)
        position = self._producer_pos[0]
        offset = position & (self.size - 1)
        # The area is mapped twice: a record that wraps is written in one piece.
        self._data[offset + RINGBUF_HEADER_SIZE : offset + RINGBUF_HEADER_SIZE + length] = payload
        self._words[(offset >> 2) + 1] = 0  # pg_off: unused for user ring buffers
        self._words[offset >> 2] = length
        if self._fence is not None:
            self._fence.full()
        self._producer_pos[0] = position + total  # release: the record is complete before this
        return True

    def close(self) -> None:
        """Unmap and close the duplicate descriptor. Idempotent."""
        if not self._closed:
            self._closed = True
            self._finalizer()

    def fileno(self) -> int:
        """An epoll descriptor that is readable when the program has freed room."""
        self._check_open()
        return self._res.epoll_fd

    def __enter__(self) -> UserRingBuffer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
