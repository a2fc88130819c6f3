"""``AsyncConsumer``: the event pipeline as an asyncio task (handlers may be coroutines)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._decoders import DecoderSpec
from ._errors import ConsumerError
from ._pipeline import ErrorHandler, Pipeline
from ._poller import Poller
from ._source import EventSource
from ._stats import Stats

__all__ = ["AsyncConsumer"]

log = logging.getLogger("ebpf.events")


class AsyncConsumer:
    """Reads ``sources`` in an asyncio task through parser -> filter -> transform -> handler.

    Same arguments as [`Consumer`][ebpf.events.Consumer]; ``handler`` may be a
    coroutine function (it is awaited, one event or batch at a time).
    Waiting registers the poller's epoll descriptor with the running loop.

    Examples:
        >>> async with AsyncConsumer(rb, handler=on_event) as consumer:  # doctest: +SKIP
        ...     await asyncio.sleep(10)
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
    ) -> None:
        """Raises TypeError/ValueError for bad stages or sources; nothing runs until
        [`start()`][ebpf.events.AsyncConsumer.start]."""
        if not sources:
            raise ValueError("a consumer needs at least one reader")
        self._awaitable = inspect.iscoroutinefunction(handler)
        self._pipeline = Pipeline(
            self._collect if self._awaitable else handler,
            parser=parser,
            filter=filter,
            transform=transform,
            on_error=on_error,
        )
        self._handler = handler
        self._queue: list[Any] = []
        self._sources = list(sources)
        self._batch = batch
        self._owns_sources = owns_sources
        self._poller = Poller(*sources)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._failure: BaseException | None = None
        self._final_stats: Stats | None = None

    def _collect(self, item: Any) -> None:
        # Coroutine handlers: the pipeline hands items over, the task awaits them.
        self._queue.append(item)

    def start(self) -> None:
        """Start the task on the running loop.

        Raises:
            RuntimeError: no running loop, already started, or closed.
        """
        if self._stopping or self._task is not None:
            raise RuntimeError("the consumer was already started or is closed")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ebpf-events-consumer")

    def pause(self) -> None:
        """Stop reading until [`resume()`][ebpf.events.AsyncConsumer.resume]."""
        self._resumed.clear()
        self._poller.interrupt()

    def resume(self) -> None:
        """Read again after [`pause()`][ebpf.events.AsyncConsumer.pause]."""
        self._resumed.set()

    @property
    def paused(self) -> bool:
        """Whether [`pause()`][ebpf.events.AsyncConsumer.pause] is in effect."""
        return not self._resumed.is_set()

    @property
    def exception(self) -> BaseException | None:
        """The exception that stopped the task while reading, if one did."""
        return self._failure

    def stats(self) -> Stats:
        """Live counters, as [`Consumer.stats`][ebpf.events.Consumer.stats]."""
        if self._final_stats is not None:
            return self._final_stats
        return self._pipeline.stats(self._sources)

    async def _deliver(self) -> None:
        queue, self._queue = self._queue, []
        for item in queue:
            try:
                await self._handler(item)
            except Exception as exc:
                self._pipeline.error(exc, item)

    async def _run(self) -> None:
        pipeline, poller = self._pipeline, self._poller
        try:
            while not self._stopping:
                if not self._resumed.is_set():
                    await self._resumed.wait()
                    continue
                for source in await poller.wait_async():
                    if self._stopping or not self._resumed.is_set():
                        break
                    if self._batch:
                        pipeline.handle_batch(pipeline.read_batch(source))
                    else:
                        pipeline.read_events(source)
                    if self._awaitable:
                        await self._deliver()
                pipeline.tick()
                await asyncio.sleep(0)  # other tasks run between two bursts
        except Exception as exc:
            if not self._stopping:
                self._failure = exc
                log.error("async event consumer stopped: reading failed", exc_info=exc)

    async def close(self) -> None:
        """Stop the task, wait for it, release the poller (and the readers with ``owns_sources``).

        Idempotent.

        Raises:
            ConsumerError: the task had stopped because reading failed (``__cause__`` says why).
        """
        self._stopping = True
        self._resumed.set()
        if self._final_stats is not None:
            return
        self._poller.interrupt()
        if self._task is not None:
            await self._task
        self._final_stats = self._pipeline.stats(self._sources)
        self._poller.close()
        if self._owns_sources:
            for source in self._sources:
                source.close()
        if self._failure is not None:
            raise ConsumerError("async event consumer stopped: reading failed") from self._failure

    async def __aenter__(self) -> AsyncConsumer:
        if self._task is None:
            self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
