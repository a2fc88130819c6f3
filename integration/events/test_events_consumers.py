"""Consumers (thread and asyncio) over real buffers: the pipeline, errors, pause/resume, clean stops."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from events._events_programs import EVENT_SPEC, Mode, load_program

from ebpf.events import AsyncConsumer, Consumer, PerfBuffer, RingBuffer
from ebpf.maps import ArrayMap, Map
from ebpf.syscall import features

pytestmark = pytest.mark.requires_feature(features.RINGBUF)


def run(prog: Any, times: int) -> None:
    prog.test_run(bytes(64), repeat=times)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_thread_pipeline_counts_handler_errors_and_keeps_going(counters: ArrayMap[int], ring: Map) -> None:
    threads = threading.active_count()
    got: list[int] = []
    errors: list[tuple[BaseException, Any]] = []

    def handler(seq: int) -> None:
        if seq == 13:
            raise RuntimeError("unlucky")
        got.append(seq)

    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, EVENT_SPEC) as rb:
        consumer = Consumer(
            rb,
            handler=handler,
            filter=lambda e: e[0] % 2 == 1,
            transform=lambda e: e[0],
            on_error=lambda exc, event: errors.append((exc, event)),
        )
        with consumer:
            assert consumer.running
            run(prog, 100)
            assert wait_for(lambda: len(got) == 49)
            stats = consumer.stats()
        assert not consumer.running
    assert got == [s for s in range(1, 100, 2) if s != 13]
    assert [(type(e).__name__, ev) for e, ev in errors] == [("RuntimeError", 13)]
    assert (stats.events, stats.errors, stats.bytes) == (50, 1, 100 * 32)
    assert consumer.stats() == consumer.stats()  # frozen after close
    assert threading.active_count() == threads


def test_pause_resume_and_batches(counters: ArrayMap[int], ring: Map) -> None:
    batches: list[list[Any]] = []
    with (
        load_program(Mode.OUTPUT, counters, ring) as prog,
        RingBuffer(ring, EVENT_SPEC) as rb,
        Consumer(rb, handler=batches.append, batch=True) as consumer,
    ):
        run(prog, 50)
        assert wait_for(lambda: sum(map(len, batches)) == 50)
        consumer.pause()
        assert consumer.paused
        time.sleep(0.05)
        run(prog, 50)
        time.sleep(0.2)
        assert sum(map(len, batches)) == 50  # nothing read while paused
        consumer.resume()
        assert wait_for(lambda: sum(map(len, batches)) == 100)
    assert [e[0] for batch in batches for e in batch] == list(range(100))
    assert consumer.stats().batches == len(batches)


def test_undecodable_records_are_counted_errors(counters: ArrayMap[int], ring: Map) -> None:
    got: list[Any] = []
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring) as rb:
        with Consumer(rb, handler=got.append, parser="=I4xQI4xQ", on_error=lambda e, r: None) as consumer:
            run(prog, 5)
            assert wait_for(lambda: consumer.stats().errors == 5)
        assert got == []
        assert rb.pending_bytes == 0  # moved past every bad record


def test_consumer_over_ring_and_perf_buffers_owns_them(
    counters: ArrayMap[int], ring: Map, perf_array: Map
) -> None:
    got: list[Any] = []
    rb = RingBuffer(ring, EVENT_SPEC)
    pb = PerfBuffer(perf_array, EVENT_SPEC, flush_interval=0.02)
    with (
        load_program(Mode.OUTPUT, counters, ring) as prog_rb,
        load_program(Mode.PERF, counters, perf_array) as prog_pb,
        Consumer(rb, pb, handler=got.append, owns_sources=True),
    ):
        run(prog_rb, 10)
        run(prog_pb, 10)
        assert wait_for(lambda: len(got) == 20)
    assert sorted(e[0] for e in got) == list(range(20))
    assert rb.closed
    assert pb.closed


def test_a_reader_closed_under_a_running_consumer_is_skipped(ring: Map) -> None:
    rb = RingBuffer(ring, EVENT_SPEC)
    consumer = Consumer(rb, handler=print)
    rb.close()  # pulled from under the running consumer
    consumer._poller.interrupt()
    time.sleep(0.1)
    consumer.close()  # a closed reader is skipped, not an error
    assert consumer.exception is None


def test_async_consumer_with_a_coroutine_handler(counters: ArrayMap[int], ring: Map) -> None:
    got: list[int] = []

    async def handler(event: Any) -> None:
        await asyncio.sleep(0)
        if event[0] == 3:
            raise ValueError("three")
        got.append(event[0])

    async def main() -> tuple[Any, Any]:
        with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, EVENT_SPEC) as rb:
            async with AsyncConsumer(rb, handler=handler, on_error=lambda e, ev: None) as consumer:
                run(prog, 10)
                for _ in range(200):
                    if len(got) == 9:
                        break
                    await asyncio.sleep(0.01)
                consumer.pause()
                run(prog, 5)
                await asyncio.sleep(0.1)
                paused_count = len(got)
                consumer.resume()
                for _ in range(200):
                    if len(got) == 14:
                        break
                    await asyncio.sleep(0.01)
            return paused_count, consumer.stats()

    paused_count, stats = asyncio.run(main())
    assert paused_count == 9
    assert got == [s for s in range(15) if s != 3]
    assert (stats.events, stats.errors) == (15, 1)


def test_close_returns_while_the_producer_outpaces_the_handler() -> None:
    # A tracer of system calls is its own producer: every read the consumer thread makes, and here
    # every event its handler handles, is another event. A drain that goes on while records keep
    # arriving never ends, so the consumer must look at its stop flag between bounded rounds.
    from ebpf.core.catalogue import example

    handled = 0

    def handler(event: Any) -> None:
        nonlocal handled
        handled += 1
        os.getpid()

    with example("ringbuf_output").load() as loaded, loaded.program.attach():
        rb = RingBuffer(loaded.maps["events"], [("pid", "u32"), ("cpu", "u32")])
        consumer = Consumer(rb, handler=handler, owns_sources=True)
        assert wait_for(lambda: handled > 200_000, timeout=30)
        started = time.monotonic()
        consumer.close(timeout=10)  # TimeoutError if a round never ends
        assert time.monotonic() - started < 10
    assert rb.closed
