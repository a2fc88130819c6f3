"""MapSpec refuses map types and flags it cannot mean, naming the bad value, before any system call."""

from __future__ import annotations

import pytest

from ebpf.maps import MapSpec
from ebpf.syscall import MapType
from ebpf.syscall.flags import MapFlags


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_a_map_type_out_of_range_is_refused_naming_it(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"map type {bad} is not a map type number"):
        MapSpec(bad, key_size=4, value_size=4, max_entries=1)


def test_flag_bits_the_library_does_not_know_are_refused_naming_them() -> None:
    with pytest.raises(
        ValueError, match=r"flags 0x40000001 have bits this library does not know .*\(0x40000000\)"
    ):
        MapSpec(MapType.HASH, key_size=4, value_size=4, max_entries=1, flags=(1 << 30) | MapFlags.NO_PREALLOC)
    spec = MapSpec(MapType.HASH, key_size=4, value_size=4, max_entries=1, flags=MapFlags.NO_PREALLOC)
    assert spec.flags == MapFlags.NO_PREALLOC
