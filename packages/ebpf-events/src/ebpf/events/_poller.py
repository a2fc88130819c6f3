"""``Poller``: one wait over several ring and perf buffers.

Each reader's epoll descriptor is registered in the poller's own epoll
(epoll descriptors nest): the poller wakes when any reader may have
records, then reads every reader that has some.
"""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

from ._aio import wait_readable
from ._resources import Resources
from ._source import EventSource

__all__ = ["Poller"]


class Poller:
    """Waits on several readers at once; reads give ``(reader, event)`` pairs.

    The poller owns only its epoll descriptor: closing it leaves the
    readers open (close them yourself, or use them as context managers).
    Like the readers, use it from one thread; [`interrupt()`][ebpf.events.Poller.interrupt] and
    [`close()`][ebpf.events.Poller.close] may come from any thread.

    Examples:
        >>> with Poller(ring_a, perf_b) as poller:  # doctest: +SKIP
        ...     for reader, event in poller:
        ...         ...
    """

    def __init__(self, *sources: EventSource, flush_interval: float | None = 0.1) -> None:
        """Raises ValueError for a closed reader or a non-positive ``flush_interval``."""
        if flush_interval is not None and not flush_interval > 0:
            raise ValueError(f"flush_interval must be None or > 0 seconds, not {flush_interval!r}")
        self._res = Resources()
        self._finalizer = weakref.finalize(self, self._res.release)
        self._sources: list[EventSource] = []
        self._flush_interval = flush_interval
        self._interrupted = False
        self._closed = False
        try:
            for source in sources:
                self.add(source)
        except BaseException:
            self.close()
            raise

    @property
    def sources(self) -> tuple[EventSource, ...]:
        """The readers, in the order they were added (and are read)."""
        return tuple(self._sources)

    def add(self, source: EventSource) -> None:
        """Wait on ``source`` too.

        Raises:
            TypeError: not an event reader.
            ValueError: the poller or the reader is closed, or the reader was already added.
        """
        if not isinstance(source, EventSource):
            raise TypeError(
                f"a Poller waits on RingBuffer and PerfBuffer readers, not {type(source).__name__}"
            )
        self._check_open()
        if source in self._sources:
            raise ValueError(f"{source!r} was already added")
        self._res.epoll.register(source.fileno(), select.EPOLLIN)
        self._sources.append(source)

    def remove(self, source: EventSource) -> None:
        """Stop waiting on ``source`` (which stays open).

        Raises:
            ValueError: it was not added.
        """
        self._sources.remove(source)
        if not source.closed and not self._closed:
            self._res.epoll.unregister(source.fileno())

    def fileno(self) -> int:
        """The poller's epoll descriptor (readable when a reader may have records)."""
        self._check_open()
        return self._res.epoll_fd

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("Poller is closed")

    def interrupt(self) -> None:
        """Make a blocked [`wait()`][ebpf.events.Poller.wait]/[`poll()`][ebpf.events.Poller.poll] return now,
        empty-handed."""
        self._interrupted = True
        self._res.wake()

    def _ready(self) -> list[EventSource]:
        return [s for s in self._sources if not s.closed and s._available()]

    def wait(self, timeout: float | None = None) -> list[EventSource]:
        """The readers with records, after waiting up to ``timeout`` seconds for one (``[]``: none).

        Raises:
            ValueError: the poller is closed.
        """
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ready = self._ready()
            if ready or self._closed:
                return ready
            if self._interrupted:
                self._interrupted = False
                return []
            step = self._flush_interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                step = remaining if step is None else min(step, remaining)
            for fd, _ in self._res.epoll.poll(-1 if step is None else step):
                if fd == self._res.wake_fd:
                    self._res.clear_wake()

    def read(self) -> list[tuple[EventSource, Any]]:
        """Every record available now from every reader, as ``(reader, event)`` pairs."""
        self._check_open()
        return [(source, event) for source in self._ready() for event in source.read()]

    def poll(self, timeout: float | None = None) -> list[tuple[EventSource, Any]]:
        """Wait up to ``timeout`` seconds for records, then read them all (``[]`` on timeout or interrupt)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            records = self.read()
            if records:
                return records
            remaining = None if deadline is None else deadline - time.monotonic()
            if (remaining is not None and remaining <= 0) or not self.wait(remaining):
                return []

    async def wait_async(self, timeout: float | None = None) -> list[EventSource]:
        """[`wait()`][ebpf.events.Poller.wait] for asyncio, waiting with the running loop (``[]`` on timeout,
        interrupt or close)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                return []
            ready = self._ready()
            if ready:
                return ready
            if self._interrupted:
                self._interrupted = False
                return []
            step = self._flush_interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                step = remaining if step is None else min(step, remaining)
            if await wait_readable(self._res.epoll_fd, step):
                self._res.clear_wake()

    async def apoll(self, timeout: float | None = None) -> list[tuple[EventSource, Any]]:
        """[`poll()`][ebpf.events.Poller.poll] for asyncio, waiting with the running loop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            records = self.read()
            if records:
                return records
            remaining = None if deadline is None else deadline - time.monotonic()
            if (remaining is not None and remaining <= 0) or not await self.wait_async(remaining):
                return []

    def __iter__(self) -> Iterator[tuple[EventSource, Any]]:
        """``(reader, event)`` pairs as they arrive; ends on [`close()`][ebpf.events.Poller.close] or
        [`interrupt()`][ebpf.events.Poller.interrupt]."""
        while not self._closed:
            records = self.poll()
            if not records:
                return
            yield from records

    async def _aiterate(self) -> AsyncIterator[tuple[EventSource, Any]]:
        while not self._closed:
            records = await self.apoll()
            if not records:
                return
            for record in records:
                yield record

    def __aiter__(self) -> AsyncIterator[tuple[EventSource, Any]]:
        """``async for reader, event in poller``; ends on [`close()`][ebpf.events.Poller.close] or
        [`interrupt()`][ebpf.events.Poller.interrupt]."""
        return self._aiterate()

    def close(self) -> None:
        """Close the poller's epoll descriptor (the readers stay open). Idempotent."""
        if not self._closed:
            self._closed = True
            self._res.wake()
            self._finalizer()

    def __enter__(self) -> Poller:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
