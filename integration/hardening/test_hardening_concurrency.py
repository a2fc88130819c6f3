"""Maps used from 8 threads at once: every update lands, every count adds up exactly.

``ebpf.maps`` objects share preallocated buffers per object, so each thread
works on its own :meth:`Map.dup` (the documented pattern). Three kinds of
concurrency are checked at once:

- 8 writer threads update disjoint key ranges of one hash map through their
  own handles, reading each value back;
- 8 threads run a program (``BPF_PROG_TEST_RUN``) that atomically adds 1 to
  a shared counter, ``repeat`` times per call: the counter must equal the
  number of runs exactly;
- a reader thread walks the map all the while (iteration under concurrent
  updates must never raise or yield a key twice in one walk).

The ring-buffer part (a consumer draining while the threads write) lives in
``test_hardening_events.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from hardening._threads import run_threads
from progs._progs_support import Counter

from ebpf.maps import KeyValueMap, Map, MapSpec, u32, u64
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import MapType, ProgType

THREADS = 8
KEYS_PER_THREAD = 1500
RUNS_PER_THREAD = 50
REPEAT = 200


def test_maps_from_eight_threads_while_a_program_counts(counter: Counter) -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=THREADS * KEYS_PER_THREAD)
    prog_spec = ProgramSpec(name="count", type=ProgType.SOCKET_FILTER, instructions=counter.program(0))
    with Map.create(spec) as shared, Program.load(prog_spec) as prog:
        assert isinstance(shared, KeyValueMap)
        stop = threading.Event()
        walks = [0]

        def writer(index: int) -> Callable[[], None]:
            def work() -> None:
                with shared.dup() as mine:
                    assert isinstance(mine, KeyValueMap)
                    base = index * KEYS_PER_THREAD
                    for key in range(base, base + KEYS_PER_THREAD):
                        mine[key] = key * 3
                        assert mine[key] == key * 3
                    for _ in range(RUNS_PER_THREAD):
                        result = prog.test_run(bytes(64), repeat=REPEAT)
                        assert result.retval == 0

            return work

        def reader() -> None:
            with shared.dup() as mine:
                while not stop.is_set():
                    keys = list(mine)
                    assert len(keys) == len(set(keys)), "one walk yielded a key twice"
                    walks[0] += 1

        reader_thread = threading.Thread(target=reader, name="hardening-reader")
        reader_thread.start()
        try:
            run_threads([writer(i) for i in range(THREADS)])
        finally:
            stop.set()
            reader_thread.join(timeout=60)
        assert walks[0] > 0
        assert dict(shared.items()) == {k: k * 3 for k in range(THREADS * KEYS_PER_THREAD)}
        assert counter.value == THREADS * RUNS_PER_THREAD * REPEAT
