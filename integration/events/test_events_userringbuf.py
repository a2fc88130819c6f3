"""UserRingBuffer against a program that drains it with bpf_user_ringbuf_drain."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from bpf_build import compile_bpf

from ebpf.elf import Collection, CollectionSpec
from ebpf.events import UserRingBuffer
from ebpf.maps import ArrayMap, Map, MapSpec, u32
from ebpf.syscall import features
from ebpf.syscall.abi import MapType

pytestmark = pytest.mark.requires_feature(features.map_type_feature(MapType.USER_RINGBUF))

SOURCE = Path(__file__).resolve().parents[2] / "tests" / "bpf" / "events_user_ringbuf.c"
U64 = struct.Struct("=Q")
RING = 4096  # the program's map: 16-byte records (8-byte header, u64)


@pytest.fixture
def drainer() -> Iterator[Collection]:
    """The program (``drain``), its user ring buffer (``input``) and ``totals``: sum, records, short, last."""
    with Collection.load(CollectionSpec.from_file(compile_bpf(SOURCE))) as coll:
        yield coll


def drain(coll: Collection) -> list[int]:
    """Run the program once; the totals after it."""
    coll.programs["drain"].test_run(bytes(64))
    totals = coll.maps["totals"]
    assert isinstance(totals, ArrayMap)
    return [int(v) for v in totals.values()]


def test_the_program_reads_every_record_in_order(drainer: Collection) -> None:
    with UserRingBuffer(drainer.maps["input"]) as urb:
        assert urb.free_bytes == RING
        for value in (1, 20, 300):
            assert urb.write(U64.pack(value))
        assert urb.write(b"abc")  # shorter than the u64 the program reads
        assert urb.free_bytes == RING - 4 * 16
        assert drain(drainer) == [321, 4, 1, 4]
        assert urb.free_bytes == RING  # the kernel gave the space back


def test_records_wrap_around_the_end_of_the_ring(drainer: Collection) -> None:
    # 24-byte records (header + 13 bytes, rounded up) do not divide 4096:
    # over 40 rounds every position in the ring is a record boundary once.
    with UserRingBuffer(drainer.maps["input"]) as urb:
        expected = 0
        for round_ in range(40):
            for i in range(100):
                value = round_ * 1000 + i
                assert urb.write(U64.pack(value) + b"pad.x")
                expected += value
            total, records, short, last = drain(drainer)
            assert last == 100
        assert (total, records, short) == (expected, 4000, 0)


def test_a_full_ring_refuses_then_waits_for_the_program(drainer: Collection) -> None:
    with UserRingBuffer(drainer.maps["input"]) as urb:
        written = 0
        while urb.write(U64.pack(1)):
            written += 1
        assert written == RING // 16
        assert not urb.write(U64.pack(1), timeout=0.05)
        done = threading.Event()

        def blocked_writer() -> None:
            if urb.write(U64.pack(1000), timeout=10):
                done.set()

        writer = threading.Thread(target=blocked_writer)
        writer.start()
        try:
            assert not done.wait(0.2)  # still no room
            assert drain(drainer)[:2] == [written, written]
            assert done.wait(10)  # woken by the drain (EPOLLOUT)
        finally:
            writer.join()
        assert drain(drainer)[:2] == [written + 1000, written + 1]


def test_bad_input_is_refused(drainer: Collection) -> None:
    spec = MapSpec(MapType.ARRAY, name="not_user", key=u32, value=u32, max_entries=1)
    with Map.create(spec) as other, pytest.raises(TypeError, match="USER_RINGBUF maps; map 'not_user'"):
        UserRingBuffer(other)
    urb = UserRingBuffer(drainer.maps["input"])
    with pytest.raises(ValueError, match="does not fit a user ring buffer of 4096 bytes"):
        urb.write(bytes(RING))
    urb.close()
    with pytest.raises(ValueError, match="closed"):
        urb.write(b"x")
    urb.close()  # idempotent


def test_the_writer_keeps_its_own_descriptor(drainer: Collection) -> None:
    ring = drainer.maps["input"]
    assert isinstance(ring, Map)
    with UserRingBuffer(ring.fileno()) as urb:
        assert urb.write(U64.pack(5))
    assert drain(drainer)[:2] == [5, 1]
