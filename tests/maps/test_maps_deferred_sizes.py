"""MapSpec(check_sizes=False): the type's size rules checked by check() and Map.create, not when built."""

from __future__ import annotations

import dataclasses
import mmap

import pytest

from ebpf.maps import Map, MapSpec, u32, u64
from ebpf.syscall.abi import MapType


def test_a_strict_spec_refuses_what_the_type_forbids_at_construction() -> None:
    with pytest.raises(ValueError, match=r"HASH maps need max_entries >= 1"):
        MapSpec(MapType.HASH, "counts", key=u32, value=u64)
    with pytest.raises(ValueError, match=r"HASH maps need a key size"):
        MapSpec(MapType.HASH, "counts", key_size=0, value=u64, max_entries=4)
    with pytest.raises(ValueError, match=r"STACK_TRACE maps need a value size"):
        MapSpec(MapType.STACK_TRACE, "stacks", value_size=0, max_entries=4)


def test_a_deferred_spec_holds_zero_sizes_until_checked() -> None:
    spec = MapSpec(MapType.HASH, "counts", key=u32, value=u64, check_sizes=False)
    assert (spec.key_size, spec.value_size, spec.max_entries) == (4, 8, 0)
    with pytest.raises(ValueError, match=r"HASH maps need max_entries >= 1"):
        spec.check()
    spec.check("key_size", "value_size")  # those are fine
    sized = dataclasses.replace(spec, max_entries=128)
    assert not sized.check_sizes  # replace keeps the policy
    sized.check()
    # the policy is not part of equality: the same map either way
    assert sized == MapSpec(MapType.HASH, "counts", key=u32, value=u64, max_entries=128)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"type": MapType.RINGBUF}, "max_entries", "power of 2"),
        ({"type": MapType.RINGBUF, "max_entries": 3 * mmap.PAGESIZE}, "max_entries", "power of 2"),
        ({"type": MapType.STACK_TRACE, "value_size": 0, "max_entries": 8}, "value_size", "need a value size"),
        ({"type": MapType.HASH, "value": u64, "max_entries": 8}, "key_size", "need a key size"),
        ({"type": MapType.PROG_ARRAY, "value_size": 8, "max_entries": 8}, "value_size", "value_size 4"),
        ({"type": MapType.SK_STORAGE, "value": u64, "max_entries": 4}, "max_entries", "max_entries=0"),
        ({"type": MapType.DEVMAP, "value_size": 6, "max_entries": 4}, "value_size", "4 or 8"),
    ],
)
def test_check_names_the_first_size_the_type_refuses(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    spec = MapSpec(**kwargs, check_sizes=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        spec.check()
    with pytest.raises(ValueError, match=message):
        spec.check(field)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        MapSpec(**kwargs)  # type: ignore[arg-type]


def test_check_refuses_unknown_fields_and_codec_disagreements_stay_construction_errors() -> None:
    spec = MapSpec(MapType.HASH, "counts", key=u32, value=u64, check_sizes=False)
    with pytest.raises(ValueError, match="not flags"):
        spec.check("flags")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="disagrees with the key codec"):
        MapSpec(MapType.HASH, "counts", key=u32, key_size=8, value=u64, check_sizes=False)
    with pytest.raises(TypeError, match="check_sizes must be a bool"):
        MapSpec(MapType.HASH, "counts", key=u32, value=u64, max_entries=1, check_sizes=1)  # type: ignore[arg-type]


def test_a_map_type_newer_than_the_library_is_not_held_to_nonzero_sizes() -> None:
    newer = max(MapType) + 1
    spec = MapSpec(newer, "future", key_size=0, value_size=0, max_entries=1)
    assert (spec.key_size, spec.value_size) == (0, 0)
    with pytest.raises(ValueError, match="need a key size"):
        MapSpec(newer, "future", value_size=0)  # a size must still be given


def test_map_create_refuses_an_unsized_spec_before_any_system_call() -> None:
    # no root needed: the check comes before BPF_MAP_CREATE (the fd-leak fixture watches the rest)
    spec = MapSpec(MapType.HASH, "counts", key=u32, value=u64, check_sizes=False)
    with pytest.raises(ValueError, match=r"cannot create map 'counts': HASH maps need max_entries >= 1"):
        Map.create(spec)
