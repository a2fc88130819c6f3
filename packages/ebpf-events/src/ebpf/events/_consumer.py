"""``Consumer``: a background thread running the event pipeline over one or more readers.

Stopping: [`Consumer.close()`][ebpf.events.Consumer.close], leaving a ``with`` block, or interpreter
exit (consumers still running then are stopped by an ``atexit`` hook,
registered when the first consumer starts; their threads are daemon
threads, so a consumer forgotten without ``close`` never blocks exit).
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._decoders import DecoderSpec
from ._errors import ConsumerError
from ._pipeline import ErrorHandler, Pipeline
from ._poller import Poller
from ._source import EventSource
from ._stats import Stats

__all__ = ["Consumer"]

log = logging.getLogger("ebpf.events")

_running: weakref.WeakSet[Consumer] = weakref.WeakSet()


def _stop_all() -> None:
    """The atexit hook: stop every consumer still running."""
    for consumer in list(_running):
        try:
            consumer.close(timeout=2.0, owned=False)
        except Exception:
            log.exception("stopping an event consumer at exit")


@functools.cache
def _register_atexit() -> None:
    """Register `_stop_all()` with atexit, once (functools.cache makes the second call a no-op)."""
    atexit.register(_stop_all)


class Consumer:
    """Reads ``sources`` in a thread and runs each event through parser -> filter -> transform -> handler.

    Examples:
        >>> with RingBuffer(m, decoder=[u32, u64]) as rb, Consumer(rb, handler=print) as c:  # doctest: +SKIP
        ...     time.sleep(10)
        ...     print(c.stats())

    Args:
        sources: the readers ([`RingBuffer`][ebpf.events.RingBuffer], [`PerfBuffer`][ebpf.events.PerfBuffer]).
        handler: called with each event, or each batch (a list) with ``batch=True``.
        parser: a decoder spec used instead of the readers' decoders, or a
            function applied to what the readers give.
        filter: events for which it returns false are dropped.
        transform: replaces each event; returning ``None`` drops it.
        batch: decode records in batches (see
            [`EventSource.read_batch()`][ebpf.events.EventSource.read_batch]) and call ``handler`` once per
            batch.
        on_error: called with ``(exception, event)`` when a stage raises or
            a record cannot be decoded; by default errors are logged (the
            1st, 10th, 100th...). Either way they are counted in
            [`stats()`][ebpf.events.Consumer.stats] and the consumer goes on.
        owns_sources: close the readers when the consumer closes.
        start: start the thread now (else call [`start()`][ebpf.events.Consumer.start]).
        name: the thread's name.

    An exception while *reading* (not in a stage) stops the thread; it is
    logged at once and [`close()`][ebpf.events.Consumer.close] raises
    [`ConsumerError`][ebpf.events.ConsumerError] from it.
    """

    def __init__(
        self,
        *sources: EventSource,
        handler: Callable[[Any], Any],
        parser: DecoderSpec | Callable[[Any], Any] | None = None,
        filter: Callable[[Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        batch: bool = False,
        on_error: ErrorHandler | None = None,
        owns_sources: bool = False,
        start: bool = True,
        name: str = "ebpf-events-consumer",
    ) -> None:
        """Raises TypeError/ValueError for bad stages or sources (no sources, a closed one)."""
        if not sources:
            raise ValueError("a consumer needs at least one reader")
        self._pipeline = Pipeline(
            handler, parser=parser, filter=filter, transform=transform, on_error=on_error
        )
        self._sources = list(sources)
        self._batch = batch
        self._owns_sources = owns_sources
        self._poller = Poller(*sources)
        self._stopping = False
        self._paused = threading.Event()
        self._nudge = threading.Event()  # set by resume()/close() to end a paused wait
        self._failure: BaseException | None = None
        self._final_stats: Stats | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        if start:
            self.start()

    # ------------------------------------------------------------ control

    def start(self) -> None:
        """Start the thread.

        Raises:
            RuntimeError: already started, or closed.
        """
        if self._stopping:
            raise RuntimeError("the consumer is closed")
        _register_atexit()
        self._thread.start()
        _running.add(self)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread.is_alive()

    @property
    def paused(self) -> bool:
        """Whether [`pause()`][ebpf.events.Consumer.pause] is in effect."""
        return self._paused.is_set()

    def pause(self) -> None:
        """Stop reading until [`resume()`][ebpf.events.Consumer.resume] (records wait in the buffers, which
        may overflow)."""
        self._paused.set()
        self._poller.interrupt()  # a wait in progress returns; the thread then sleeps

    def resume(self) -> None:
        """Read again after [`pause()`][ebpf.events.Consumer.pause]."""
        self._paused.clear()
        self._nudge.set()

    @property
    def exception(self) -> BaseException | None:
        """The exception that stopped the thread while reading, if one did."""
        return self._failure

    def stats(self) -> Stats:
        """Live counters: events handled, bytes, batches, lost, discarded, errors, events/s."""
        if self._final_stats is not None:
            return self._final_stats
        return self._pipeline.stats(self._sources)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        pipeline, poller = self._pipeline, self._poller
        try:
            while not self._stopping:
                if self._paused.is_set():
                    self._nudge.wait()
                    self._nudge.clear()
                    continue
                for source in poller.wait():
                    if self._stopping or self._paused.is_set():
                        break
                    if self._batch:
                        pipeline.handle_batch(pipeline.read_batch(source))
                    else:
                        pipeline.read_events(source)
                pipeline.tick()
        except BaseException as exc:
            if not self._stopping:
                self._failure = exc
                log.error("event consumer %s stopped: reading failed", self._thread.name, exc_info=exc)

    # ------------------------------------------------------------ closing

    def close(self, timeout: float | None = None, *, owned: bool = True) -> None:
        """Stop the thread, wait for it, release the poller (and the readers with ``owns_sources``).

        Idempotent.

        Raises:
            ConsumerError: the thread had stopped because reading failed (``__cause__`` says why).
            TimeoutError: the thread did not stop within ``timeout`` seconds
                (a handler that never returns); call again to wait more.
        """
        first = not self._stopping
        self._stopping = True
        self._paused.clear()
        self._nudge.set()
        if first:
            self._poller.interrupt()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"event consumer {self._thread.name} did not stop within {timeout} s")
        _running.discard(self)
        if self._final_stats is None:
            self._final_stats = self._pipeline.stats(self._sources)
            self._poller.close()
            if self._owns_sources:
                for source in self._sources:
                    source.close()
            if self._failure is not None and owned:
                raise ConsumerError(
                    f"event consumer {self._thread.name} stopped: reading failed"
                ) from self._failure

    def __enter__(self) -> Consumer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
