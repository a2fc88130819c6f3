"""Fixtures of the ebpf.events integration tests: the counters map, a ring buffer, a perf event array."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from events._events_programs import counters_map

from ebpf.maps import ArrayMap, Map, MapSpec
from ebpf.syscall.abi import MapType


@pytest.fixture
def counters() -> Iterator[ArrayMap[int]]:
    with counters_map() as counters:
        yield counters


@pytest.fixture
def small_ring() -> Iterator[Map]:
    """A 16 KiB ring buffer: 512 records of 24 bytes fill it."""
    with Map.create(MapSpec(MapType.RINGBUF, "ev_small", max_entries=16384)) as ring:
        yield ring


@pytest.fixture
def ring() -> Iterator[Map]:
    """A 1 MiB ring buffer."""
    with Map.create(MapSpec(MapType.RINGBUF, "ev_ring", max_entries=1 << 20)) as ring:
        yield ring


@pytest.fixture
def perf_array() -> Iterator[Map]:
    """A perf event array with one slot per possible CPU."""
    with Map.create(MapSpec(MapType.PERF_EVENT_ARRAY, "ev_perf")) as array:
        yield array
