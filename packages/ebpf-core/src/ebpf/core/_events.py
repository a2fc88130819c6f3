"""Events through functions: consume ring and perf buffers until a deadline or a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ebpf.events import DecoderSpec, EventSource, PerfBuffer, RingBuffer
    from ebpf.maps import Map

__all__ = ["perf_buffer", "process_events", "ring_buffer"]


def ring_buffer(ringbuf: Map | int, decoder: DecoderSpec | None = None, **options: Any) -> RingBuffer:
    """A reader of a ``RINGBUF`` map (``ebpf.events.RingBuffer``): iterate it, ``poll()`` it, or pass it on.

    ``decoder`` describes a record: ``[("pid", "u32"), ("comm", "char[16]")]``,
    a ``struct`` format, a ``ctypes`` structure, or a codec; without one,
    records are ``memoryview`` s valid until the next read.
    """
    from ebpf.events import RingBuffer

    return RingBuffer(ringbuf, decoder, **options)


def perf_buffer(perf_map: Map | int, decoder: DecoderSpec | None = None, **options: Any) -> PerfBuffer:
    """A reader of a ``PERF_EVENT_ARRAY`` map (``ebpf.events.PerfBuffer``): one perf ring per CPU."""
    from ebpf.events import PerfBuffer

    return PerfBuffer(perf_map, decoder, **options)


def process_events(
    *sources: EventSource,
    handler: Callable[[Any], object],
    duration: float | None = None,
    stop: Callable[[], bool] | None = None,
    interval: float = 0.1,
) -> int:
    """Call ``handler`` for each record of ``sources`` until ``duration`` seconds pass or ``stop()`` is true.

    With neither, runs until interrupted (``KeyboardInterrupt``). The readers
    stay open; records left when the time is up are handled before returning.

    Returns:
        How many records were handled.

    Raises:
        ValueError: no sources, a closed reader, or a non-positive ``interval``.
    """
    from ebpf.events import Poller

    if not sources:
        raise ValueError("process_events() needs at least one reader (ring_buffer(...), perf_buffer(...))")
    if not interval > 0:
        raise ValueError(f"interval must be > 0 seconds, not {interval!r}")
    deadline = None if duration is None else time.monotonic() + duration
    handled = 0
    with Poller(*sources) as poller:
        while True:
            timeout = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
            for _source, record in poller.poll(timeout):
                handler(record)
                handled += 1
            if (deadline is not None and time.monotonic() >= deadline) or (stop is not None and stop()):
                break
        for _source, record in poller.read():
            handler(record)
            handled += 1
    return handled
