"""RingBuffer against real programs: every event once and in order, overflow, discards, wrap-around."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest
from events._events_programs import EVENT, EVENT_SPEC, NUMPY, FailsOnFive, Mode, load_program

from ebpf.events import EventDecodeError, Poller, RingBuffer
from ebpf.maps import ArrayMap, Map, MapSpec
from ebpf.progs import attach_tracepoint
from ebpf.syscall import features
from ebpf.syscall.abi import MapType

pytestmark = pytest.mark.requires_feature(features.RINGBUF)


def seqs(events: list[Any]) -> list[int]:
    return [int(e[0]) for e in events]


def run(prog: Any, times: int) -> None:
    prog.test_run(bytes(64), repeat=times)


@pytest.mark.parametrize("how", ["read", "drain", "poll", "iterate", "batch", NUMPY])
def test_every_event_arrives_once_in_order(counters: ArrayMap[int], ring: Map, how: str) -> None:
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, EVENT_SPEC) as rb:
        run(prog, 5000)
        if how == "read":
            events = rb.read()
        elif how == "drain":
            events = list(rb.drain())
        elif how == "poll":
            events = rb.poll(1.0)
        elif how == "iterate":
            events = []
            for event in rb:
                events.append(event)
                if len(events) == 5000:
                    break
        elif how == "batch":
            events = rb.read_batch()
        else:
            array = rb.read_array()
            assert array.dtype.names == ("f0", "f1", "f2")
            events = array.tolist()
        assert seqs(events) == list(range(5000))
        assert all(value == seq * 3 for seq, value, _ in events)
        assert rb.read() == []
        stats = rb.stats()
        assert (stats.events, stats.bytes, stats.lost) == (5000, 5000 * 32, 0)


def test_limit_and_raw_views(counters: ArrayMap[int], ring: Map) -> None:
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring) as rb:
        run(prog, 10)
        first = rb.read(limit=4)
        assert [EVENT.unpack(view)[0] for view in first] == [0, 1, 2, 3]
        assert all(isinstance(view, memoryview) and len(view) == 24 for view in first)
        rest = rb.read()
        assert [EVENT.unpack(view)[0] for view in rest] == list(range(4, 10))
        del first, rest
        assert rb.pending_bytes == 6 * 32  # the views of the last read stay valid...
        assert rb.read() == []
        assert rb.pending_bytes == 0  # ...until the next read


def test_overflow_reports_what_was_dropped_and_keeps_working(
    counters: ArrayMap[int], small_ring: Map
) -> None:
    with (
        load_program(Mode.OUTPUT, counters, small_ring) as prog,
        RingBuffer(small_ring, EVENT_SPEC, lost_counter=lambda: counters[1]) as rb,
    ):
        run(prog, 2000)
        received = seqs(rb.read_batch())
        assert 0 < len(received) < 2000
        assert received == list(range(len(received)))  # the first ones fit, then the ring was full
        assert rb.lost == 2000 - len(received) == rb.stats().lost
        run(prog, 100)
        assert seqs(rb.read()) == list(range(2000, 2100))
        assert rb.lost == 2000 - len(received)


@pytest.mark.parametrize("batch", [False, True])
def test_discarded_records_are_skipped(counters: ArrayMap[int], ring: Map, batch: bool) -> None:
    with load_program(Mode.DISCARD_THIRD, counters, ring) as prog, RingBuffer(ring, EVENT_SPEC) as rb:
        run(prog, 300)
        events = rb.read_batch() if batch else rb.read()
        assert seqs(events) == [s for s in range(300) if s % 3]
        assert rb.stats().discarded == 100
        assert rb.pending_bytes == 0


@pytest.mark.parametrize("batch", [False, True])
def test_wrap_around_the_end_of_the_data_area(counters: ArrayMap[int], small_ring: Map, batch: bool) -> None:
    # Records of 24 and 40 bytes (strides 32 and 48) in a 16 KiB ring: rounds
    # of 300 records go around it many times, with records across its end.
    size = 16384
    with load_program(Mode.VARIABLE, counters, small_ring) as prog, RingBuffer(small_ring, EVENT_SPEC) as rb:
        position, straddled, received = 0, 0, []
        for _ in range(12):
            run(prog, 300)
            received += rb.read_batch() if batch else rb.read()
        for seq in range(3600):
            stride = 48 if seq % 2 else 32
            straddled += (position % size) + stride > size
            position += stride
        assert straddled > 0
        assert seqs(received) == list(range(3600))
        assert rb.stats().bytes == position > 4 * size
        assert counters[1] == 0


def test_short_record_raises_and_the_reader_moves_on(counters: ArrayMap[int], ring: Map) -> None:
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, "=I4xQI4xQ") as rb:
        run(prog, 3)
        with pytest.raises(EventDecodeError, match="shorter than the decoder's 32") as exc:
            rb.read()
        assert len(exc.value.record) == 24
        assert EVENT.unpack(exc.value.record)[0] == 0
        assert seqs(rb.read(decoder=EVENT_SPEC)) == [1, 2]
        assert rb.stats().errors == 1


@pytest.mark.parametrize("decoder", [EVENT_SPEC, FailsOnFive()], ids=["layout", "custom"])
def test_a_drain_stopped_in_the_middle_resumes_at_the_next_record(
    counters: ArrayMap[int], ring: Map, decoder: Any
) -> None:
    # 100 equal records are decoded as one run: leaving the iterator after
    # 3 of them must give the other 97 back to the next read, no more, no less.
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, decoder) as rb:
        run(prog, 100)
        records = rb.drain()
        first = [next(records) for _ in range(3)]
        records.close()
        assert rb.pending_bytes == 97 * 32
        rest = rb.read_batch(decoder=EVENT_SPEC)
        assert seqs(first if decoder is EVENT_SPEC else [(s,) for s in first]) == [0, 1, 2]
        assert seqs(rest) == list(range(3, 100))
        assert rb.stats().events == 100


def test_a_record_failing_in_the_middle_of_a_run_is_skipped(counters: ArrayMap[int], ring: Map) -> None:
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, FailsOnFive()) as rb:
        run(prog, 10)
        got: list[int] = []
        with pytest.raises(EventDecodeError, match="decoding failed: ValueError") as exc:
            got.extend(rb.drain())
        assert got == [0, 1, 2, 3, 4]
        assert EVENT.unpack(exc.value.record)[0] == 5
        assert rb.read() == [6, 7, 8, 9]
        stats = rb.stats()
        assert (stats.events, stats.errors, stats.bytes) == (9, 1, 10 * 32)


def test_wrong_map_type(counters: ArrayMap[int]) -> None:
    with pytest.raises(TypeError, match="RINGBUF maps; map 'ev_counters' is a ARRAY map"):
        RingBuffer(counters)
    with Map.create(MapSpec(MapType.PERF_EVENT_ARRAY, "ev_perf")) as perf, pytest.raises(TypeError):
        RingBuffer(perf)


def test_closed_reader(ring: Map) -> None:
    rb = RingBuffer(ring, EVENT_SPEC)
    rb.close()
    rb.close()
    with pytest.raises(ValueError, match="closed"):
        rb.read()
    with pytest.raises(ValueError, match="closed"):
        rb.fileno()


def test_events_from_an_attached_tracepoint(counters: ArrayMap[int], ring: Map) -> None:
    with (
        load_program(Mode.RESERVE, counters, ring, "tp/syscalls/sys_enter_getpid") as prog,
        RingBuffer(ring, EVENT_SPEC) as rb,
    ):
        with attach_tracepoint(prog, "syscalls", "sys_enter_getpid"):
            for _ in range(200):
                os.getpid()
        received: list[Any] = []
        deadline = time.monotonic() + 5
        while len(received) < 200 and time.monotonic() < deadline:
            received += rb.poll(0.5)
        got = seqs(received)
        assert len(got) >= 200  # other processes may call getpid() too
        assert got == list(range(len(got)))


def test_poll_times_out_and_interrupt_wakes_it(ring: Map) -> None:
    with RingBuffer(ring, EVENT_SPEC) as rb:
        started = time.monotonic()
        assert rb.poll(0.2) == []
        assert 0.15 < time.monotonic() - started < 2
        rb.interrupt()
        assert rb.poll(5) == []
        rb.interrupt()
        assert list(rb) == []  # the blocking iterator ends on interrupt


def test_async_iteration_and_apoll(counters: ArrayMap[int], ring: Map) -> None:
    async def main() -> list[Any]:
        with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, EVENT_SPEC) as rb:
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, run, prog, 100)
            first = await rb.apoll(5)
            got = list(first)
            loop.call_later(0.05, run, prog, 100)
            async for event in rb:
                got.append(event)
                if len(got) == 200:
                    break
            return got

    assert seqs(asyncio.run(main())) == list(range(200))


def test_one_poller_for_two_ring_buffers(counters: ArrayMap[int], ring: Map, small_ring: Map) -> None:
    with (
        load_program(Mode.OUTPUT, counters, ring) as prog_a,
        load_program(Mode.OUTPUT, counters, small_ring) as prog_b,
        RingBuffer(ring, EVENT_SPEC) as rb_a,
        RingBuffer(small_ring, EVENT_SPEC) as rb_b,
        Poller(rb_a, rb_b) as poller,
    ):
        assert poller.poll(0.05) == []
        run(prog_a, 10)
        run(prog_b, 5)
        pairs = poller.poll(1)
        assert seqs([e for s, e in pairs if s is rb_a]) == list(range(10))
        assert seqs([e for s, e in pairs if s is rb_b]) == list(range(10, 15))


def test_threads_sharing_a_reader_take_turns_and_get_each_record_once(
    counters: ArrayMap[int], ring: Map
) -> None:
    # Four threads drain and read one reader at once while a fifth writes: each record is handed
    # to exactly one of them (a drain holds the reader from its first record to its last).
    total = 20_000
    taken: list[list[int]] = [[] for _ in range(4)]
    writing = threading.Event()
    writing.set()
    with load_program(Mode.OUTPUT, counters, ring) as prog, RingBuffer(ring, EVENT_SPEC) as rb:

        def reader(index: int) -> None:
            while writing.is_set() or sum(map(len, taken)) < total:
                if index % 2:
                    for event in rb.drain(limit=97):
                        taken[index].append(int(event[0]))
                        time.sleep(0)  # let the other threads run in the middle of the drain
                else:
                    taken[index].extend(seqs(rb.read(limit=53)))

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(total // 500):
            run(prog, 500)
        writing.clear()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    everything = sorted(seq for seqs_of_one in taken for seq in seqs_of_one)
    assert everything == list(range(total))
