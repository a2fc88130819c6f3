"""A running tool: loaded, attached, handing out typed records until its duration ends or it is closed.

Two kinds, as bcc's tools come: an [`EventTracer`][ebpf.core.tools.EventTracer]
turns each record of a ring buffer into a typed record (execsnoop,
opensnoop...), an [`IntervalTracer`][ebpf.core.tools.IntervalTracer] reads its
maps into one summary record per interval (syscount, runqlat...). Either is a
context manager: closing it detaches the programs and closes every map,
program and reader, also when the loop that reads it ends on Ctrl-C.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ebpf.core.prometheus import MetricsServer

__all__ = ["EventTracer", "IntervalTracer", "Tracer", "start_tracer", "wall_time"]

R = TypeVar("R")
S = TypeVar("S", bound="Tracer[Any]")
T = TypeVar("T", bound="Tracer[Any]")

#: How long one wait inside iteration lasts at most (so a deadline is noticed).
_STEP = 0.25


def wall_time(ktime_ns: int) -> float:
    """The wall-clock time (seconds since the epoch) of a ``bpf_ktime_get_ns()`` value (CLOCK_MONOTONIC)."""
    return time.time() - (time.monotonic_ns() - ktime_ns) / 1e9


def start_tracer(make: Callable[[ExitStack], T]) -> T:
    """``make(stack)``: load, attach and build a tracer owning ``stack``; on failure everything is closed.

    Raises:
        Exception: what ``make`` raised, after closing what it had put on the stack.
    """
    stack = ExitStack()
    try:
        return make(stack)
    except BaseException:
        stack.close()
        raise


class Tracer(Generic[R]):
    """A tool loaded and attached; records come from `poll()` or iteration; `close()` unloads it.

    Attributes:
        started: ``time.monotonic()`` when it was attached.
        duration: seconds after which iteration ends (``None``: never).
        metrics_server: the Prometheus endpoint it serves (``--prometheus``), else ``None``.
    """

    def __init__(self, stack: ExitStack, duration: float | None) -> None:
        """Take ownership of ``stack`` (the loaded objects, links and readers)."""
        self._stack = stack
        self.duration = duration
        self.started = time.monotonic()
        self._closed = False
        self.metrics_server: MetricsServer | None = None

    @property
    def expired(self) -> bool:
        """Whether ``duration`` has passed since the tool was attached."""
        return self.duration is not None and time.monotonic() - self.started >= self.duration

    def _remaining(self) -> float | None:
        if self.duration is None:
            return None
        return max(0.0, self.started + self.duration - time.monotonic())

    def poll(self, timeout: float | None = None) -> list[R]:
        """The records that arrive within ``timeout`` seconds (``None``: wait for some).

        Raises:
            ValueError: the tracer is closed.
        """
        raise NotImplementedError

    def flush(self) -> list[R]:
        """What is counted but not reported yet (an interval tool's partial summary); ``[]`` otherwise."""
        return []

    def __iter__(self) -> Iterator[R]:
        """Records until ``duration`` ends (forever without one); ``break`` or Ctrl-C stop it."""
        while True:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                yield from self._at_end()
                return
            yield from self.poll(_STEP if remaining is None else min(_STEP, remaining))

    def _at_end(self) -> list[R]:
        return []

    def close(self) -> None:
        """Detach the programs and close every map, program and reader (idempotent)."""
        self._closed = True
        self._stack.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the tool's tracer is closed")

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventTracer(Tracer[R]):
    """A tool whose BPF side sends one ring buffer record per event; each becomes a typed record."""

    def __init__(
        self,
        stack: ExitStack,
        duration: float | None,
        ringbuf: Any,
        layout: type[ctypes.Structure],
        convert: Callable[[Any], R | None],
    ) -> None:
        """Read ``ringbuf`` (a map) as ``layout`` structures; ``convert`` makes records (``None`` drops one).

        Raises:
            BpfSyscallError, OSError: the ring buffer cannot be mapped.
        """
        from ebpf.events import RingBuffer

        super().__init__(stack, duration)
        self._reader = stack.enter_context(RingBuffer(ringbuf, decoder=layout))
        self._convert = convert

    def poll(self, timeout: float | None = None) -> list[R]:
        """The records that arrive within ``timeout`` seconds (``None``: wait for some).

        Raises:
            ValueError: the tracer is closed.
        """
        self._check_open()
        records = []
        for raw in self._reader.poll(timeout):
            record = self._convert(raw)
            if record is not None:
                records.append(record)
        return records


class IntervalTracer(Tracer[R]):
    """A tool that counts in maps; every ``interval`` seconds (or at the end) a summary record is read."""

    def __init__(
        self, stack: ExitStack, duration: float | None, interval: float | None, summarize: Callable[[], R]
    ) -> None:
        """``summarize`` reads (and resets) the maps into one record."""
        super().__init__(stack, duration)
        self.interval = interval
        self._summarize = summarize
        self._next = self.started + interval if interval is not None else None

    def poll(self, timeout: float | None = None) -> list[R]:
        """Wait up to ``timeout`` seconds for the end of the current interval; its summary, or ``[]``.

        Without an interval, nothing is reported before the end (see
        `flush()` for what has been counted so far).

        Raises:
            ValueError: the tracer is closed.
        """
        self._check_open()
        now = time.monotonic()
        waits = [t for t in (timeout, None if self._next is None else self._next - now) if t is not None]
        remaining = self._remaining()
        if remaining is not None:
            waits.append(remaining)
        if waits:
            time.sleep(max(0.0, min(waits)))
        if self._next is not None and time.monotonic() >= self._next and not self.expired:
            assert self.interval is not None
            self._next += self.interval
            return [self._summarize()]
        return []

    def _at_end(self) -> list[R]:
        return [self._summarize()]

    def flush(self) -> list[R]:
        """The summary of what was counted since the last report.

        Raises:
            ValueError: the tracer is closed.
        """
        self._check_open()
        return [self._summarize()]
