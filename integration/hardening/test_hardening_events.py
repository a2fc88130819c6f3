"""Ring buffers under faults and load: a raising handler, seconds of overflow, 8 busy threads.

A socket-filter program, run with ``BPF_PROG_TEST_RUN`` (``repeat`` times
per call), writes one 8-byte record per run with ``bpf_ringbuf_output`` and
counts in an array map how many writes the kernel accepted (slot 0) and
refused because the buffer was full (slot 1). Those counters make every
count exact: the consumer must see exactly the accepted records, and
accepted + refused must equal the runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R10,
    W,
    add,
    assemble,
    atomic_add,
    call,
    exit_,
    jeq,
    label,
    ld_map_fd,
    mov,
    mov32,
    store,
)
from ebpf.events import Consumer, PerfBuffer, RingBuffer
from ebpf.maps import ArrayMap, KeyValueMap, Map, MapSpec, u32, u64
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import MapType, ProgType, possible_cpus

SENT, DROPPED = 0, 1


@dataclass
class Producer:
    """The ring buffer, the accepted/refused counters and the program that writes records."""

    ring: Map
    counts: ArrayMap[Any]
    program: Program

    def run(self, times: int) -> None:
        """Run the program ``times`` times (one record attempt each)."""
        result = self.program.test_run(bytes(64), repeat=times)
        assert result.retval == 0

    @property
    def sent(self) -> int:
        return int(self.counts[SENT])

    @property
    def dropped(self) -> int:
        return int(self.counts[DROPPED])


def _program(ring: Map, counts: Map) -> bytes:
    return assemble(
        [
            store(R10, -8, 0x5EED, DW),
            ld_map_fd(R1, "ring"),
            mov(R2, R10),
            add(R2, -8),
            mov(R3, 8),
            mov(R4, 0),
            call("ringbuf_output"),
            mov(R7, 1),
            store(R10, -12, SENT, W),
            jeq(R0, 0, "count"),
            store(R10, -12, DROPPED, W),
            label("count"),
            ld_map_fd(R1, "counts"),
            mov(R2, R10),
            add(R2, -12),
            call("map_lookup_elem"),
            jeq(R0, 0, "out"),
            atomic_add(R0, 0, R7, DW),
            label("out"),
            mov(R0, 0),
            exit_(),
        ],
        maps={"ring": ring, "counts": counts},
    )


@pytest.fixture
def producer() -> Iterator[Producer]:
    """A producer on a one-page (4 KiB) ring buffer: 256 records fill it."""
    yield from _producer(4096)


def _producer(size: int) -> Iterator[Producer]:
    ring = Map.create(MapSpec(MapType.RINGBUF, max_entries=size))
    counts = Map.create(MapSpec(MapType.ARRAY, key=u32, value=u64, max_entries=2))
    assert isinstance(counts, ArrayMap)
    spec = ProgramSpec(name="produce", type=ProgType.SOCKET_FILTER, instructions=_program(ring, counts))
    with ring, counts, Program.load(spec) as program:
        yield Producer(ring, counts, program)


@pytest.fixture
def big_producer() -> Iterator[Producer]:
    """A producer on a 1 MiB ring buffer."""
    yield from _producer(1 << 20)


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_raising_handler_does_not_stop_the_consumer(big_producer: Producer) -> None:
    """Every third event makes the handler raise: those are errors, the rest are handled, nothing stops."""
    handled: list[int] = []
    errors: list[BaseException] = []
    calls = [0]

    def handler(event: int) -> None:
        calls[0] += 1
        if calls[0] % 3 == 0:
            raise RuntimeError(f"handler failed on call {calls[0]}")
        handled.append(event)

    with (
        RingBuffer(big_producer.ring, decoder="u64") as ring,
        Consumer(ring, handler=handler, on_error=lambda exc, event: errors.append(exc)) as consumer,
    ):
        big_producer.run(300)
        assert _wait_for(lambda: calls[0] == 300), f"the consumer stopped after {calls[0]} of 300 events"
        assert consumer.running
        big_producer.run(30)
        assert _wait_for(lambda: calls[0] == 330), "the consumer did not go on after the errors"
        stats = consumer.stats()
    assert len(handled) == 220
    assert set(handled) == {0x5EED}
    assert len(errors) == 110
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert stats.errors == 110
    assert big_producer.sent == 330


def test_a_ring_buffer_overflowing_for_seconds(producer: Producer) -> None:
    """A slow consumer on a 4 KiB ring while a thread produces for 2 s: drops, then an exact drain."""
    received = [0]
    runs = [0]

    def slow(event: int) -> None:
        received[0] += 1
        time.sleep(0.0005)

    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            producer.run(100)
            runs[0] += 100

    with RingBuffer(producer.ring, decoder="u64") as ring, Consumer(ring, handler=slow) as consumer:
        thread = threading.Thread(target=produce, name="hardening-producer")
        thread.start()
        time.sleep(2.0)
        stop.set()
        thread.join()
        assert _wait_for(lambda: received[0] == producer.sent), (
            f"the consumer drained {received[0]} of {producer.sent} records"
        )
        assert consumer.running
        assert producer.dropped > 0, "the ring never overflowed: the test proves nothing"
        before = received[0]
        producer.run(10)
        assert _wait_for(lambda: received[0] == before + 10), "the consumer did not recover after overflow"
        assert consumer.stats().errors == 0
    assert producer.sent + producer.dropped == runs[0] + 10


def test_eight_threads_on_maps_while_a_consumer_drains(big_producer: Producer) -> None:
    """8 threads update a hash map through their own handles and produce records; all counts add up."""
    threads, keys, runs, repeat = 8, 1000, 40, 100
    received = [0]

    def count(event: int) -> None:
        received[0] += 1

    shared = Map.create(MapSpec(MapType.HASH, key=u32, value=u64, max_entries=threads * keys))
    assert isinstance(shared, KeyValueMap)
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(index: int) -> None:
        try:
            barrier.wait()
            with shared.dup() as mine:
                assert isinstance(mine, KeyValueMap)
                for i in range(keys):
                    key = index * keys + i
                    mine[key] = key + 1
                    if i % (keys // runs) == 0:
                        big_producer.run(repeat)
        except BaseException as exc:
            errors.append(exc)

    with (
        shared,
        RingBuffer(big_producer.ring, decoder="u64") as ring,
        Consumer(ring, handler=count) as consumer,
    ):
        workers = [threading.Thread(target=work, args=(i,), name=f"hardening-{i}") for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(timeout=120)
        assert not errors, errors[0]
        total = threads * runs * repeat
        assert big_producer.sent + big_producer.dropped == total
        assert _wait_for(lambda: received[0] == big_producer.sent)
        assert dict(shared.items()) == {k: k + 1 for k in range(threads * keys)}
        assert consumer.stats().events == big_producer.sent


def _perf_program(events: Map, counts: Map) -> bytes:
    return assemble(
        [
            mov(R6, R1),
            store(R10, -8, 0x5EED, DW),
            mov(R1, R6),
            ld_map_fd(R2, "events"),
            mov32(R3, -1),  # BPF_F_CURRENT_CPU (0xffffffff, zero-extended)
            mov(R4, R10),
            add(R4, -8),
            mov(R5, 8),
            call("perf_event_output"),
            mov(R7, 1),
            store(R10, -12, SENT, W),
            jeq(R0, 0, "count"),
            store(R10, -12, DROPPED, W),
            label("count"),
            ld_map_fd(R1, "counts"),
            mov(R2, R10),
            add(R2, -12),
            call("map_lookup_elem"),
            jeq(R0, 0, "out"),
            atomic_add(R0, 0, R7, DW),
            label("out"),
            mov(R0, 0),
            exit_(),
        ],
        maps={"events": events, "counts": counts},
    )


def test_a_perf_buffer_overflowing_for_seconds() -> None:
    """One-page perf rings, a slow consumer, 2 s of production: every loss is reported, exactly."""
    cpus = possible_cpus()
    events = Map.create(MapSpec(MapType.PERF_EVENT_ARRAY, max_entries=cpus))
    counts = Map.create(MapSpec(MapType.ARRAY, key=u32, value=u64, max_entries=2))
    assert isinstance(counts, ArrayMap)
    spec = ProgramSpec(
        name="perf_out", type=ProgType.SOCKET_FILTER, instructions=_perf_program(events, counts)
    )
    received = [0]
    lost: list[int] = []
    stop = threading.Event()

    def slow(event: int) -> None:
        received[0] += 1
        time.sleep(0.0005)

    with events, counts, Program.load(spec) as program:
        producer = Producer(events, counts, program)

        def produce() -> None:
            while not stop.is_set():
                producer.run(100)

        with (
            PerfBuffer(events, "u64", pages=1, on_lost=lambda cpu, n: lost.append(n)) as perf_buffer,
            Consumer(perf_buffer, handler=slow) as consumer,
        ):
            thread = threading.Thread(target=produce, name="hardening-perf-producer")
            thread.start()
            time.sleep(2.0)
            stop.set()
            thread.join()
            assert producer.dropped > 0, "the perf rings never overflowed: the test proves nothing"
            assert _wait_for(lambda: received[0] == producer.sent), (
                f"the consumer drained {received[0]} of {producer.sent} samples"
            )
            # The kernel writes a CPU's lost-records note before the next sample that
            # fits in that CPU's ring: send a few from every CPU the producer ran on.
            mask = os.sched_getaffinity(0)
            try:
                for cpu in sorted(mask):
                    os.sched_setaffinity(0, {cpu})
                    producer.run(4)
            finally:
                os.sched_setaffinity(0, mask)
            assert _wait_for(lambda: received[0] == producer.sent)
            assert _wait_for(lambda: sum(lost) == producer.dropped), (
                f"{sum(lost)} losses reported, {producer.dropped} refused by the kernel"
            )
            assert consumer.running
            assert consumer.stats().lost == producer.dropped
