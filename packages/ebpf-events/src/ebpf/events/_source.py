"""``EventSource``: what ring buffer and perf buffer readers share (waiting, reading, iterating, closing).

A reader owns an epoll descriptor ([`EventSource.fileno()`][ebpf.events.EventSource.fileno]) that is
readable when records may be waiting, so that it can be registered with a
[`Poller`][ebpf.events.Poller], an asyncio loop or any selector. Each
subclass supplies three primitives: whether records are available (a
memory read, no system call), a per-record generator, and a batch read.
"""

from __future__ import annotations

import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

from ._aio import wait_readable
from ._decoders import DecoderSpec, EventDecoder, as_decoder
from ._resources import Resources
from ._stats import Counters, Stats

__all__ = ["EventSource", "Records"]

#: What `EventSource.drain()` returns: a generator of records (``close()`` it to stop early).
Records: TypeAlias = Generator[Any, None, None]

S = TypeVar("S", bound="EventSource")


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be None or an int >= 1, not {limit!r}")


class EventSource(ABC):
    """A reader of records written by BPF programs: waits with epoll, reads from shared memory.

    Reads ([`read()`][ebpf.events.EventSource.read], [`drain()`][ebpf.events.EventSource.drain],
    [`poll()`][ebpf.events.EventSource.poll], [`read_batch()`][ebpf.events.EventSource.read_batch],
    [`read_array()`][ebpf.events.EventSource.read_array], iteration) decode records with the reader's decoder,
    or hand out ``memoryview`` s of the records in place when it has none: a view is valid until the next read
    (for [`drain()`][ebpf.events.EventSource.drain], until the next item is taken); copy what you keep.
    A reader may be shared by threads: reads take turns (a ``drain()`` holds the reader from its
    first record to its last), and [`close()`][ebpf.events.EventSource.close] and
    [`interrupt()`][ebpf.events.EventSource.interrupt] may be called from any thread and wake a
    blocked wait. Raw views handed to one thread are freed by the next read of any thread: threads
    that share a reader give it a decoder.
    """

    def __init__(self, decoder: DecoderSpec | None, flush_interval: float | None) -> None:
        if flush_interval is not None and not flush_interval > 0:
            raise ValueError(f"flush_interval must be None or > 0 seconds, not {flush_interval!r}")
        self._decoder: EventDecoder | None = as_decoder(decoder) if decoder is not None else None
        self._flush_interval = flush_interval
        self._counters = Counters()
        self._lock = threading.RLock()
        self._closed = False
        self._interrupted = False
        self._res = Resources()
        self._finalizer = weakref.finalize(self, self._res.release)

    # ------------------------------------------------------------ subclass primitives

    @abstractmethod
    def _available(self) -> bool:
        """Whether records (or lost-record notes) are waiting, from shared memory alone."""

    @abstractmethod
    def _records(self, decoder: EventDecoder | None, limit: int | None, keep_views: bool) -> Records:
        """Yield records one by one; with ``keep_views`` the space is freed at the next read only."""

    @abstractmethod
    def _batch(self, decoder: EventDecoder, limit: int | None, array: bool) -> Any:
        """Every record available (up to ``limit``), decoded as a list, or a NumPy array with ``array``."""

    @abstractmethod
    def _free_pending(self) -> None:
        """Give the kernel back the space of records handed out by the previous read."""

    def _lost(self) -> int:
        """The lost-record count behind [`lost`][ebpf.events.EventSource.lost]."""
        return self._counters.lost

    # ------------------------------------------------------------ state

    @property
    def decoder(self) -> EventDecoder | None:
        """How records are decoded (``None``: raw ``memoryview`` s)."""
        return self._decoder

    @property
    def closed(self) -> bool:
        """Whether [`close()`][ebpf.events.EventSource.close] was called."""
        return self._closed

    @property
    def lost(self) -> int:
        """How many records the kernel could not store so far."""
        return self._lost()

    def fileno(self) -> int:
        """The epoll descriptor that is readable when records may be waiting.

        Raises:
            ValueError: the reader is closed.
        """
        self._check_open()
        return self._res.epoll_fd

    def stats(self) -> Stats:
        """Counters since the reader was opened."""
        return self._counters.snapshot(lost=self._lost())

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{type(self).__name__} is closed")

    def _decoder_for(self, decoder: DecoderSpec | None) -> EventDecoder | None:
        return self._decoder if decoder is None else as_decoder(decoder)

    # ------------------------------------------------------------ reading

    def drain(self, limit: int | None = None, *, decoder: DecoderSpec | None = None) -> Records:
        """Iterate over the records available now (and those arriving meanwhile), without waiting.

        ``decoder`` overrides the reader's for this call. A raw view is
        valid until the next item is taken or the iterator is closed.

        Raises (while iterating):
            EventDecodeError: a record is shorter than the decoder or the
                decoder failed; the reader has moved past it, so iterating
                again continues with the next record.
            ValueError: the reader is closed; ``limit`` below 1.
        """
        _check_limit(limit)
        self._check_open()
        return self._drain(self._decoder_for(decoder), limit)

    def _drain(self, decoder: EventDecoder | None, limit: int | None) -> Records:
        # The reader's lock is held from the first record to the last (not before the caller starts
        # iterating): another thread's read or close() waits for the drain to end instead of moving
        # the consumer position under it. A consumer drains in bounded rounds, so nobody waits long.
        with self._lock:
            self._check_open()
            self._free_pending()
            yield from self._records(decoder, limit, False)

    def read(self, limit: int | None = None, *, decoder: DecoderSpec | None = None) -> list[Any]:
        """The records available now, as a list (raw views stay valid until the next read).

        Raises:
            EventDecodeError: a record could not be decoded (the records
                before it are lost to this call: use [`drain()`][ebpf.events.EventSource.drain] or a
                consumer to keep them).
            ValueError: the reader is closed; ``limit`` below 1.
        """
        _check_limit(limit)
        with self._lock:
            self._check_open()
            self._free_pending()
            chosen = self._decoder_for(decoder)
            return list(self._records(chosen, limit, chosen is None))

    def read_batch(self, limit: int | None = None, *, decoder: DecoderSpec | None = None) -> list[Any]:
        """The records available now, decoded in batches: one C call per run of equal records.

        Fixed-size records of a layout decoder (spec lists, ``struct``
        formats) come out of one ``struct.iter_unpack`` per run instead of
        one Python call per record.

        Raises:
            TypeError: no decoder (raw records have no batch form).
            EventDecodeError: a record is shorter than the decoder (the reader moved past it).
            ValueError: the reader is closed; ``limit`` below 1.
        """
        _check_limit(limit)
        with self._lock:
            self._check_open()
            self._free_pending()
            result: list[Any] = self._batch(self._batch_decoder(decoder), limit, False)
            return result

    def read_array(self, limit: int | None = None, *, decoder: DecoderSpec | None = None) -> Any:
        """The records available now as one NumPy structured array (a copy), of ``decoder.numpy_dtype()``.

        Raises:
            ImportError: NumPy is not installed (``pip install 'ebpf-events[numpy]'``).
            TypeError: no decoder, or one without a field layout (a custom decoder).
            EventDecodeError: a record is shorter than the decoder (the reader moved past it).
            ValueError: the reader is closed; ``limit`` below 1.
        """
        _check_limit(limit)
        with self._lock:
            self._check_open()
            self._free_pending()
            chosen = self._batch_decoder(decoder)
            chosen.numpy_dtype()  # raises before reading when there is no layout or no NumPy
            return self._batch(chosen, limit, True)

    def _batch_decoder(self, decoder: DecoderSpec | None) -> EventDecoder:
        chosen = self._decoder_for(decoder)
        if chosen is None:
            raise TypeError(f"batch reads need a decoder: give {type(self).__name__}(..., decoder=...)")
        return chosen

    # ------------------------------------------------------------ waiting

    def interrupt(self) -> None:
        """Make a blocked [`wait()`][ebpf.events.EventSource.wait]/[`poll()`][ebpf.events.EventSource.poll]
        (in any thread) return now, empty-handed."""
        self._interrupted = True
        self._res.wake()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until records may be available (True), or ``timeout`` seconds pass, or
        [`interrupt()`][ebpf.events.EventSource.interrupt].

        With a ``flush_interval``, the buffers are looked at every that many
        seconds even without a wake-up from the kernel (perf events wake a
        reader only every ``wakeup_events`` records).

        Raises:
            ValueError: the reader is closed (a close while waiting returns False).
        """
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._closed:
                    return False
                if self._available():
                    return True
                if self._interrupted:
                    self._interrupted = False
                    return False
                step = self._step(deadline)
                if step is not None and step <= 0:
                    return False
                for fd, _ in self._res.epoll.poll(-1 if step is None else step):
                    if fd == self._res.wake_fd:
                        self._res.clear_wake()

    def _step(self, deadline: float | None) -> float | None:
        """How long the next wait may block: until ``deadline``, at most the flush interval."""
        step = self._flush_interval
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if step is None or remaining < step:
                step = remaining
        return step

    def poll(self, timeout: float | None = None, *, decoder: DecoderSpec | None = None) -> list[Any]:
        """Wait up to ``timeout`` seconds (``None``: no limit) for records, then
        [`read()`][ebpf.events.EventSource.read] them all.

        Returns an empty list when the time runs out, on [`interrupt()`][ebpf.events.EventSource.interrupt],
        or when the reader is closed by another thread meanwhile.

        Raises:
            EventDecodeError, ValueError: as [`read()`][ebpf.events.EventSource.read].
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            records = self.read(decoder=decoder)
            if records:
                return records
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return []
            if not self.wait(remaining):
                return []

    async def apoll(self, timeout: float | None = None, *, decoder: DecoderSpec | None = None) -> list[Any]:
        """[`poll()`][ebpf.events.EventSource.poll] for asyncio: waits with the running event loop instead of
        blocking it.

        Raises:
            EventDecodeError, ValueError: as [`read()`][ebpf.events.EventSource.read].
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                return []
            records = self.read(decoder=decoder)
            if records:
                return records
            if self._interrupted:
                self._interrupted = False
                return []
            step = self._step(deadline)
            if step is not None and step <= 0:
                return []
            if await wait_readable(self.fileno(), step):
                self._res.clear_wake()

    def __iter__(self) -> Iterator[Any]:
        """Records as they arrive, blocking in between; ends when the reader is closed or interrupted."""
        while not self._closed:
            records = self.poll()
            if not records:
                return
            yield from records

    async def _aiterate(self) -> AsyncIterator[Any]:
        while not self._closed:
            records = await self.apoll()
            if not records:
                return
            for record in records:
                yield record

    def __aiter__(self) -> AsyncIterator[Any]:
        """``async for``: records as they arrive; ends when the reader is closed or interrupted."""
        return self._aiterate()

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        """Unmap the buffers and close every descriptor; wakes a wait in another thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._res.wake()
        with self._lock:  # a wait or read in another thread finishes first
            self._finalizer()

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
