"""What the kernel requires to create each map type: fixed sizes, capacity, flags.

One table, [`MAP_TYPE_RULES`][ebpf.syscall.maptypes.MAP_TYPE_RULES], holds the
rules of each map type's ``map_alloc_check`` in the kernel: the key and value
sizes it fixes or accepts, what ``max_entries`` means, the flags it cannot
do without, whether it holds maps or descriptors. ``ebpf.maps`` checks a
``MapSpec`` against it before ``BPF_MAP_CREATE``; the map type probes of
[`ebpf.syscall.features`][ebpf.syscall.features] take from it the attributes
a map of the type is created with.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

from ._generated import MapType
from .flags import MapFlags

__all__ = ["MAP_TYPE_RULES", "PERF_MAX_STACK_DEPTH", "MapTypeRule", "MaxEntriesRule", "map_type_rule"]

MaxEntriesRule = Literal["positive", "zero", "cpus", "ringbuf"]
"""What ``max_entries`` must be: at least 1 (``"positive"``), 0 (the entries
follow what the map is attached to), the number of possible CPUs when 0 is
given (``"cpus"``: perf event arrays), or a power-of-two byte count of at
least a page (``"ringbuf"``)."""

PERF_MAX_STACK_DEPTH = 127
"""The kernel's ``PERF_MAX_STACK_DEPTH``: the default depth of a stack trace map."""


class MapTypeRule(NamedTuple):
    """The creation rules of one map type (the default: no constraints, as for a hash map)."""

    #: The only key size the kernel accepts, if there is one.
    key_size: int | None = None
    #: The only value size the kernel accepts, if there is one.
    value_size: int | None = None
    #: The key size used when none is given.
    default_key_size: int | None = None
    #: The value size used when none is given.
    default_value_size: int | None = None
    #: The value sizes the kernel accepts, when it is a short list.
    value_sizes: tuple[int, ...] = ()
    #: What ``max_entries`` must be.
    max_entries: MaxEntriesRule = "positive"
    #: Flags the type cannot do without.
    flags: MapFlags = MapFlags.NONE
    #: Whether the type holds maps (created with an inner map).
    inner_map: bool = False
    #: Values are descriptors (user space writes fds, reads ids or cookies).
    fd_values: bool = False
    #: Keys are descriptors (local storage: the owner's fd).
    fd_keys: bool = False


_LOCAL_STORAGE = MapTypeRule(key_size=4, max_entries="zero", flags=MapFlags.NO_PREALLOC, fd_keys=True)
_RINGBUF = MapTypeRule(key_size=0, value_size=0, max_entries="ringbuf")

MAP_TYPE_RULES: Mapping[MapType, MapTypeRule] = MappingProxyType(
    {
        MapType.HASH: MapTypeRule(),
        MapType.ARRAY: MapTypeRule(key_size=4),
        MapType.PROG_ARRAY: MapTypeRule(key_size=4, value_size=4, fd_values=True),
        MapType.PERF_EVENT_ARRAY: MapTypeRule(key_size=4, value_size=4, max_entries="cpus", fd_values=True),
        MapType.PERCPU_HASH: MapTypeRule(),
        MapType.PERCPU_ARRAY: MapTypeRule(key_size=4),
        MapType.STACK_TRACE: MapTypeRule(key_size=4, default_value_size=8 * PERF_MAX_STACK_DEPTH),
        MapType.CGROUP_ARRAY: MapTypeRule(key_size=4, value_size=4, fd_values=True),
        MapType.LRU_HASH: MapTypeRule(),
        MapType.LRU_PERCPU_HASH: MapTypeRule(),
        MapType.LPM_TRIE: MapTypeRule(flags=MapFlags.NO_PREALLOC),
        MapType.ARRAY_OF_MAPS: MapTypeRule(key_size=4, value_size=4, inner_map=True, fd_values=True),
        MapType.HASH_OF_MAPS: MapTypeRule(value_size=4, inner_map=True, fd_values=True),
        MapType.DEVMAP: MapTypeRule(key_size=4, default_value_size=4, value_sizes=(4, 8)),
        MapType.SOCKMAP: MapTypeRule(key_size=4, default_value_size=8, value_sizes=(4, 8), fd_values=True),
        MapType.CPUMAP: MapTypeRule(key_size=4, default_value_size=4, value_sizes=(4, 8)),
        MapType.XSKMAP: MapTypeRule(key_size=4, value_size=4, fd_values=True),
        MapType.SOCKHASH: MapTypeRule(default_value_size=8, value_sizes=(4, 8), fd_values=True),
        MapType.CGROUP_STORAGE: MapTypeRule(default_key_size=16, max_entries="zero"),
        MapType.REUSEPORT_SOCKARRAY: MapTypeRule(
            key_size=4, default_value_size=8, value_sizes=(4, 8), fd_values=True
        ),
        MapType.PERCPU_CGROUP_STORAGE: MapTypeRule(default_key_size=16, max_entries="zero"),
        MapType.QUEUE: MapTypeRule(key_size=0),
        MapType.STACK: MapTypeRule(key_size=0),
        MapType.SK_STORAGE: _LOCAL_STORAGE,
        MapType.DEVMAP_HASH: MapTypeRule(key_size=4, default_value_size=4, value_sizes=(4, 8)),
        MapType.STRUCT_OPS: MapTypeRule(key_size=4),
        MapType.RINGBUF: _RINGBUF,
        MapType.INODE_STORAGE: _LOCAL_STORAGE,
        MapType.TASK_STORAGE: _LOCAL_STORAGE,
        MapType.BLOOM_FILTER: MapTypeRule(key_size=0),
        MapType.USER_RINGBUF: _RINGBUF,
        MapType.CGRP_STORAGE: _LOCAL_STORAGE,
        MapType.ARENA: MapTypeRule(key_size=0, value_size=0, flags=MapFlags.MMAPABLE),
    }
)
"""The creation rules of every map type this library knows."""


def map_type_rule(map_type: MapType | int) -> MapTypeRule:
    """The creation rules of ``map_type`` (no constraints for a type newer than this library)."""
    try:
        return MAP_TYPE_RULES.get(MapType(map_type), MapTypeRule())
    except ValueError:
        return MapTypeRule()
