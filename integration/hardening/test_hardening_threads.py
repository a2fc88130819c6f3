"""Live objects shared by threads, with no `dup()`: exact results, and close() races that never crash.

Users share one map object between a consumer thread and their main thread,
or hand it to a thread pool; the library must give the result of some serial
order of the operations, never a lost update or a value under the wrong key,
and a ``close()`` in one thread while another thread is in the middle of an
operation must end that operation with the documented "closed" error (or let
it finish), never let it use a descriptor number the kernel has meanwhile
given to another object.

The close races run in a child interpreter, many rounds, so that a crash
(SIGSEGV, glibc's "free(): invalid next size") shows as the child's exit
status instead of killing the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from _vm import reduced
from core._cli import child_env
from hardening._threads import run_threads

from ebpf.events import RingBuffer
from ebpf.maps import ArrayMap, KeyValueMap, Map, MapSpec, PerCpuMap, QueueMap, u32, u64
from ebpf.progs import Program, ProgramSpec, attach_raw_tracepoint
from ebpf.syscall import MapType, ProgType, features

THREADS = 8
KEYS_PER_THREAD = 10_000 if not reduced() else 1_000
CLOSE_ROUNDS = 300 if not reduced() else 30
RETURN_0 = bytes.fromhex("b7000000000000009500000000000000")  # mov r0, 0; exit
RETURN_2 = bytes.fromhex("b7000000020000009500000000000000")  # mov r0, 2; exit


def _hash(max_entries: int, map_type: MapType = MapType.HASH) -> KeyValueMap[int, int]:
    shared = Map.create(MapSpec(map_type, key=u32, value=u64, max_entries=max_entries))
    assert isinstance(shared, KeyValueMap)
    return shared


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.LRU_HASH], ids=["hash", "lru_hash_with_room"])
def test_one_hash_map_shared_by_eight_writers_keeps_every_key_and_value(map_type: MapType) -> None:
    total = THREADS * KEYS_PER_THREAD
    with _hash(total + 64 if map_type is MapType.HASH else total * 2, map_type) as shared:

        def writer(index: int) -> Any:
            def work() -> None:
                for key in range(index, total, THREADS):
                    shared[key] = key * 7 + index
                    assert shared[key] == key * 7 + index
                    assert shared.get(key) == key * 7 + index

            return work

        run_threads([writer(i) for i in range(THREADS)])
        assert dict(shared.items()) == {key: key * 7 + key % THREADS for key in range(total)}


def test_batches_iteration_and_deletes_from_several_threads_add_up() -> None:
    per_thread = KEYS_PER_THREAD // 4
    with _hash(THREADS * per_thread) as shared:

        def worker(index: int) -> Any:
            keys = range(index * per_thread, (index + 1) * per_thread)

            def work() -> None:
                shared.update_batch({key: key + 1 for key in keys}, chunk_size=97)
                mine = {
                    key: value for key, value in shared.lookup_batch(chunk_size=61).items() if key in keys
                }
                assert mine == {key: key + 1 for key in keys}
                assert set(keys) <= set(shared)  # iteration while the others write
                assert shared.delete_batch([key for key in keys if key % 2], chunk_size=33) == len(keys) // 2
                for key in keys:
                    if key % 2 == 0:
                        del shared[key]

            return work

        run_threads([worker(i) for i in range(THREADS)])
        assert len(shared) == 0


def test_array_and_per_cpu_maps_shared_by_threads() -> None:
    size = THREADS * 512
    array = Map.create(MapSpec(MapType.ARRAY, key=u32, value=u64, max_entries=size))
    per_cpu = Map.create(MapSpec(MapType.PERCPU_HASH, key=u32, value=u64, max_entries=size))
    with array, per_cpu:
        assert isinstance(array, ArrayMap)
        assert isinstance(per_cpu, PerCpuMap)

        def worker(index: int) -> Any:
            def work() -> None:
                for slot in range(index, size, THREADS):
                    array[slot] = slot * 3
                    per_cpu[slot] = slot + index
                    assert array[slot] == slot * 3
                    assert set(per_cpu[slot]) == {slot + index}

            return work

        run_threads([worker(i) for i in range(THREADS)])
        assert list(array.values()) == [slot * 3 for slot in range(size)]
        assert {slot: set(values) for slot, values in per_cpu.items()} == {
            slot: {slot + slot % THREADS} for slot in range(size)
        }


def test_a_queue_shared_by_producers_and_consumers_loses_and_repeats_nothing() -> None:
    per_producer = 2_000 if not reduced() else 200
    producers = 4
    queue = Map.create(MapSpec(MapType.QUEUE, value=u64, max_entries=producers * per_producer))
    with queue:
        assert isinstance(queue, QueueMap)
        popped: list[list[int]] = [[] for _ in range(producers)]
        done = threading.Event()

        def producer(index: int) -> Any:
            def work() -> None:
                for n in range(per_producer):
                    queue.push(index * per_producer + n)

            return work

        def consumer(index: int) -> Any:
            def work() -> None:
                while True:
                    value = queue.pop()
                    if value is not None:
                        popped[index].append(value)
                    elif done.is_set():
                        return

            return work

        consumers = [threading.Thread(target=consumer(i)) for i in range(producers)]
        for thread in consumers:
            thread.start()
        try:
            run_threads([producer(i) for i in range(producers)])
        finally:
            done.set()
            for thread in consumers:
                thread.join(timeout=60)
        everything = sorted(value for values in popped for value in values)
        assert everything == list(range(producers * per_producer))


# The child of the close races: one thread keeps operating on a shared map while the main thread
# closes it and at once creates maps with 64 KiB values, which get the freed descriptor number.
# An operation that still used the old number would write 64 KiB into buffers sized for 8 bytes.
_CLOSE_RACE = """
import sys, threading
from ebpf.maps import KeyValueMap, Map, MapSpec, BytesCodec, u32, u64
from ebpf.syscall import KeyNotFoundError

rounds, operation, workers = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
big = MapSpec(MapType.HASH, key=u32, value=BytesCodec(65536), max_entries=4)
closed_errors = 0
for _ in range(rounds):
    shared = Map.create(MapSpec(MapType.HASH, key=u32, value=u64, max_entries=64))
    for key in range(8):
        shared[key] = key
    started = threading.Event()
    outcome = []

    def work(mine):
        started.set()
        try:
            while True:
                if operation == "lookup":
                    assert shared[7] == 7
                elif operation == "update":
                    shared[7] = 7
                elif operation == "batch":
                    assert shared.lookup_batch()[7] == 7
                elif operation == "iterate":
                    assert 7 in list(shared)
                elif operation == "elements":  # every element operation, from several threads
                    shared[mine] = mine
                    assert mine in shared and shared.get(mine) == mine
                    del shared[mine]
                    assert shared.get(7) == 7
        except ValueError as exc:  # the documented error of a closed map
            outcome.append(str(exc))

    threads = [threading.Thread(target=work, args=(8 + index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    started.wait()
    shared.close()
    grabbers = [Map.create(big) for _ in range(4)]
    for grabber in grabbers:
        grabber[7] = bytes(65536)
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "the operation did not end after close()"
    assert len(outcome) == workers and all("closed" in message for message in outcome), outcome
    closed_errors += 1
    for grabber in grabbers:
        grabber.close()
print("rounds", closed_errors)
""".replace("from ebpf.syscall import KeyNotFoundError", "from ebpf.syscall import KeyNotFoundError, MapType")


@pytest.mark.parametrize(
    ("operation", "workers"), [("lookup", 1), ("update", 1), ("batch", 1), ("iterate", 1), ("elements", 3)]
)
def test_close_while_other_threads_operate_raises_closed_and_never_crashes(
    operation: str, workers: int
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CLOSE_RACE, str(CLOSE_ROUNDS), operation, str(workers)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"the child exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.split() == ["rounds", str(CLOSE_ROUNDS)]


@pytest.mark.requires_feature(features.RINGBUF)
def test_a_reader_closed_from_another_thread_while_polling_stops_cleanly() -> None:
    for _ in range(20):
        ring = Map.create(MapSpec(MapType.RINGBUF, max_entries=4096))
        with ring:
            reader = RingBuffer(ring, [u32])
            outcome: list[object] = []

            def poll(reader: RingBuffer = reader, outcome: list[object] = outcome) -> None:
                try:
                    outcome.append(reader.poll(timeout=10))
                except ValueError as exc:  # closed while waiting
                    outcome.append(exc)

            thread = threading.Thread(target=poll)
            thread.start()
            reader.close()
            thread.join(timeout=15)
            assert not thread.is_alive(), "poll() went on after close()"
            assert outcome == [[]] or isinstance(outcome[0], ValueError), outcome


def test_two_threads_attaching_and_detaching_one_program() -> None:
    rounds = 50 if not reduced() else 10
    prog = Program.load(
        ProgramSpec(
            name="nothing",
            type=ProgType.RAW_TRACEPOINT,
            instructions=RETURN_0,
        )
    )
    with prog:
        before = os.listdir("/proc/self/fd")

        def worker(tracepoint: str) -> Any:
            def work() -> None:
                for _ in range(rounds):
                    with attach_raw_tracepoint(prog, tracepoint) as link:
                        assert link.info().program_id == prog.info().id

            return work

        # One tracepoint each: 6.1 refuses the same program twice on one tracepoint (EEXIST).
        run_threads([worker("sys_enter"), worker("sys_exit")])
        assert os.listdir("/proc/self/fd") == before


def test_test_runs_of_one_program_from_several_threads() -> None:
    # mov r0, 2; exit: XDP_PASS for every packet, data_out a copy of data_in.
    prog = Program.load(ProgramSpec(name="pass", type=ProgType.XDP, instructions=RETURN_2))
    with prog:

        def worker(index: int) -> Any:
            packet = bytes([index]) * 64

            def work() -> None:
                for _ in range(200):
                    result = prog.test_run(packet)
                    assert result.retval == 2
                    assert result.data_out == packet

            return work

        run_threads([worker(i) for i in range(THREADS)])
