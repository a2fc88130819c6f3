"""PerfBuffer against real programs: per-CPU order, lost records, wrap-around, batch reads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from events._events_programs import EVENT, EVENT_SPEC, NUMPY, FailsOnFive, Mode, load_program

from ebpf.events import EventDecodeError, PerfBuffer
from ebpf.maps import ArrayMap, Map
from ebpf.syscall.system import online_cpus


@pytest.fixture
def pinned() -> Iterator[None]:
    """Restore this process's CPU affinity after the test."""
    before = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, before)


def run_on(prog: Any, cpu: int, times: int) -> None:
    os.sched_setaffinity(0, {cpu})
    prog.test_run(bytes(64), repeat=times)


def test_every_event_arrives_once_in_order_per_cpu(
    counters: ArrayMap[int], perf_array: Map, pinned: None
) -> None:
    cpus = online_cpus()
    with (
        load_program(Mode.PERF, counters, perf_array) as prog,
        PerfBuffer(perf_array, EVENT_SPEC, with_cpu=True) as pb,
    ):
        assert pb.cpus == tuple(cpus)
        for _ in range(3):
            for cpu in cpus:
                run_on(prog, cpu, 200)
        received = pb.read()
        assert sorted(e[0] for _, e in received) == list(range(3 * 200 * len(cpus)))
        for cpu in cpus:
            mine = [e for c, e in received if c == cpu]
            assert all(e[2] == cpu for e in mine)  # the CPU the program saw
            assert [e[0] for e in mine] == sorted(e[0] for e in mine)
            assert len(mine) == 600
        assert pb.stats().lost == 0


def test_lost_records_are_counted(counters: ArrayMap[int], perf_array: Map, pinned: None) -> None:
    notes: list[tuple[int, int]] = []
    cpu = online_cpus()[0]
    with (
        load_program(Mode.PERF, counters, perf_array) as prog,
        PerfBuffer(perf_array, EVENT_SPEC, pages=1, on_lost=lambda c, n: notes.append((c, n))) as pb,
    ):
        run_on(prog, cpu, 1000)  # 40-byte samples: a 4 KiB ring holds about 100
        received = [e[0] for e in pb.read()]
        dropped = counters[1]  # what bpf_perf_event_output refused, counted by the program
        assert 0 < len(received) < 1000
        assert received == list(range(len(received)))
        assert dropped == 1000 - len(received)
        # The kernel writes its lost-records note before the next sample that fits.
        run_on(prog, cpu, 10)
        assert [e[0] for e in pb.read()] == list(range(1000, 1010))  # keeps working
        assert pb.lost == dropped == pb.stats().lost
        assert notes == [(cpu, dropped)]


@pytest.mark.parametrize("how", ["batch", NUMPY, "drain"])
def test_wrap_around_and_batches(counters: ArrayMap[int], perf_array: Map, pinned: None, how: str) -> None:
    # 40-byte samples in a 4 KiB ring (not a multiple of 40): rounds of 90
    # go around it many times, with samples across its end copied out.
    cpu = online_cpus()[0]
    with (
        load_program(Mode.PERF, counters, perf_array) as prog,
        PerfBuffer(perf_array, EVENT_SPEC, pages=1) as pb,
    ):
        received: list[Any] = []
        for _ in range(20):
            run_on(prog, cpu, 90)
            if how == "batch":
                received += pb.read_batch()
            elif how == "array":
                received += pb.read_array().tolist()
            else:
                received += list(pb.drain())
        assert [e[0] for e in received] == list(range(1800))
        assert pb.stats().bytes == 1800 * 40
        assert pb.lost == 0


def test_a_drain_stopped_or_failing_in_the_middle_of_a_run(
    counters: ArrayMap[int], perf_array: Map, pinned: None
) -> None:
    cpu = online_cpus()[0]
    with (
        load_program(Mode.PERF, counters, perf_array) as prog,
        PerfBuffer(perf_array, EVENT_SPEC, with_cpu=True) as pb,
    ):
        run_on(prog, cpu, 10)
        records = pb.drain()
        assert [next(records) for _ in range(2)] == [(cpu, (0, 0, cpu)), (cpu, (1, 3, cpu))]
        records.close()
        got: list[Any] = []
        with pytest.raises(EventDecodeError, match="decoding failed: ValueError") as exc:
            got.extend(pb.drain(decoder=FailsOnFive()))
        assert got == [(cpu, 2), (cpu, 3), (cpu, 4)]
        assert EVENT.unpack_from(exc.value.record)[0] == 5  # padded to 28 bytes by the kernel
        assert [e[0] for _, e in pb.read()] == [6, 7, 8, 9]
        stats = pb.stats()
        assert (stats.events, stats.errors, stats.bytes) == (9, 1, 9 * 40)


def test_poll_waits_below_the_wakeup_threshold(
    counters: ArrayMap[int], perf_array: Map, pinned: None
) -> None:
    # Three samples never reach the watermark: the flush interval finds them.
    with (
        load_program(Mode.PERF, counters, perf_array) as prog,
        PerfBuffer(perf_array, EVENT_SPEC, flush_interval=0.05) as pb,
    ):
        run_on(prog, online_cpus()[0], 3)
        assert [e[0] for e in pb.poll(2)] == [0, 1, 2]


def test_wrong_map_type_and_bad_arguments(counters: ArrayMap[int], perf_array: Map) -> None:
    with pytest.raises(TypeError, match="PERF_EVENT_ARRAY maps"):
        PerfBuffer(counters)
    with pytest.raises(ValueError, match="power of two"):
        PerfBuffer(perf_array, pages=3)
    with pytest.raises(ValueError, match="not both"):
        PerfBuffer(perf_array, wakeup_events=1, wakeup_bytes=64)
    with pytest.raises(ValueError, match="outside the map"):
        PerfBuffer(perf_array, cpus=[10_000])
