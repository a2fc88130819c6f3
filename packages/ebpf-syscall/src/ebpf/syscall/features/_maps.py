"""Map features: each map type, and batch operations, mmap-able arrays, global data.

A map type probe creates a small map of the type with the sizes and flags
its creation rules ([`ebpf.syscall.maptypes`][ebpf.syscall.maptypes]) ask for,
and reads ``EINVAL`` (unknown type) or ``E2BIG`` (an attr newer than the
kernel) as no.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Mapping
from types import MappingProxyType

from ebpf.syscall import _probes_btf as _blobs
from ebpf.syscall import _probes_sys as _sys
from ebpf.syscall import raw
from ebpf.syscall._generated import MapBatchAttr, MapCreateAttr, MapElemAttr, MapType, ProgType
from ebpf.syscall.errors import ENOTSUPP
from ebpf.syscall.flags import MapFlags
from ebpf.syscall.maptypes import map_type_rule

from ._btf import BTF, btf_fd
from ._framework import Feature, Probe, enum_name, lookup, register, verdict

__all__ = [
    "ARENA",
    "BATCH_OPS",
    "GLOBAL_DATA",
    "MAP_TYPE_VERSIONS",
    "MMAPABLE_MAPS",
    "RINGBUF",
    "create_attr",
    "map_type_feature",
    "map_type_supported",
]


#: The first kernel version of each map type.
MAP_TYPE_VERSIONS: Mapping[MapType, str] = MappingProxyType(
    {
        MapType.HASH: "3.19",
        MapType.ARRAY: "3.19",
        MapType.PROG_ARRAY: "4.2",
        MapType.PERF_EVENT_ARRAY: "4.3",
        MapType.PERCPU_HASH: "4.6",
        MapType.PERCPU_ARRAY: "4.6",
        MapType.STACK_TRACE: "4.6",
        MapType.CGROUP_ARRAY: "4.8",
        MapType.LRU_HASH: "4.10",
        MapType.LRU_PERCPU_HASH: "4.10",
        MapType.LPM_TRIE: "4.11",
        MapType.ARRAY_OF_MAPS: "4.12",
        MapType.HASH_OF_MAPS: "4.12",
        MapType.DEVMAP: "4.14",
        MapType.SOCKMAP: "4.14",
        MapType.CPUMAP: "4.15",
        MapType.XSKMAP: "4.18",
        MapType.SOCKHASH: "4.18",
        MapType.CGROUP_STORAGE: "4.19",
        MapType.REUSEPORT_SOCKARRAY: "4.19",
        MapType.PERCPU_CGROUP_STORAGE: "4.20",
        MapType.QUEUE: "4.20",
        MapType.STACK: "4.20",
        MapType.SK_STORAGE: "5.2",
        MapType.DEVMAP_HASH: "5.4",
        MapType.STRUCT_OPS: "5.6",
        MapType.RINGBUF: "5.8",
        MapType.INODE_STORAGE: "5.10",
        MapType.TASK_STORAGE: "5.11",
        MapType.BLOOM_FILTER: "5.16",
        MapType.USER_RINGBUF: "6.1",
        MapType.CGRP_STORAGE: "6.2",
        MapType.ARENA: "6.9",
    }
)

# Kernel options a map type is built under (include/linux/bpf_types.h).
_MAP_TYPE_CONFIG: dict[MapType, tuple[str, ...]] = {
    MapType.STACK_TRACE: ("CONFIG_PERF_EVENTS",),
    MapType.CGROUP_ARRAY: ("CONFIG_CGROUPS",),
    MapType.CGRP_STORAGE: ("CONFIG_CGROUPS",),
    MapType.CGROUP_STORAGE: ("CONFIG_CGROUP_BPF",),
    MapType.PERCPU_CGROUP_STORAGE: ("CONFIG_CGROUP_BPF",),
    MapType.INODE_STORAGE: ("CONFIG_BPF_LSM",),
    MapType.DEVMAP: ("CONFIG_NET",),
    MapType.DEVMAP_HASH: ("CONFIG_NET",),
    MapType.SK_STORAGE: ("CONFIG_NET",),
    MapType.CPUMAP: ("CONFIG_NET",),
    MapType.XSKMAP: ("CONFIG_XDP_SOCKETS",),
    MapType.SOCKMAP: ("CONFIG_INET",),
    MapType.SOCKHASH: ("CONFIG_INET",),
    MapType.REUSEPORT_SOCKARRAY: ("CONFIG_INET",),
    MapType.STRUCT_OPS: ("CONFIG_BPF_JIT",),
    MapType.ARENA: ("CONFIG_MMU", "CONFIG_64BIT"),
}

# Sizes the probes create with where the creation rules' defaults do not fit
# a probe: an LPM trie key is struct bpf_lpm_trie_key_u8 (u32 prefixlen and
# at least one byte of data), and a stack trace value of a single frame stays
# under any perf_event_max_stack sysctl.
_PROBE_KEY_SIZES = {MapType.LPM_TRIE: 8}
_PROBE_VALUE_SIZES = {MapType.STACK_TRACE: 8}


def create_attr(map_type: MapType, **fields: int) -> MapCreateAttr:
    """A ``BPF_MAP_CREATE`` attr for a small map of ``map_type``, following its creation rules.

    Sizes, ``max_entries`` and flags come from
    [`map_type_rule()`][ebpf.syscall.maptypes.map_type_rule] (a 4-byte key and
    value and one entry where the type leaves them free; one page for ring
    buffers); ``fields`` set other attr fields or override these.
    """
    rule = map_type_rule(map_type)
    key = rule.key_size if rule.key_size is not None else rule.default_key_size
    value = rule.value_size if rule.value_size is not None else rule.default_value_size
    entries = {"zero": 0, "ringbuf": os.sysconf("SC_PAGE_SIZE")}.get(rule.max_entries, 1)
    attrs = {
        "map_type": int(map_type),
        "key_size": _PROBE_KEY_SIZES.get(map_type, 4 if key is None else key),
        "value_size": _PROBE_VALUE_SIZES.get(map_type, 4 if value is None else value),
        "max_entries": entries,
        "map_flags": int(rule.flags),
        **fields,
    }
    return MapCreateAttr(**attrs)


def _probe_map_type(map_type: MapType) -> bool:
    context = f"creating a {enum_name(map_type)} map"
    rule = map_type_rule(map_type)
    if rule.fd_keys:  # local storage
        return _probe_local_storage(map_type, context)
    if rule.inner_map:
        # Maps of maps take their value layout from an inner map.
        inner = _sys.owned(raw.map_create(create_attr(MapType.ARRAY)), "BPF_MAP_CREATE", "an inner map")
        with inner:
            ret = raw.map_create(create_attr(map_type, inner_map_fd=inner.fileno()))
            return verdict(ret, "BPF_MAP_CREATE", context)
    if map_type == MapType.STRUCT_OPS:
        # A struct_ops map needs the vmlinux BTF id of a struct_ops value type
        # (struct bpf_struct_ops_tcp_congestion_ops...). Id 1 is always some
        # other type, so a kernel that knows the map type passes the generic
        # checks and fails the value type lookup with ENOTSUPP; one that does
        # not says EINVAL (unknown type), or E2BIG before 5.6, when the
        # btf_vmlinux_value_type_id field did not exist yet.
        ret = raw.map_create(create_attr(map_type, btf_vmlinux_value_type_id=1))
        return verdict(ret, "BPF_MAP_CREATE", context, yes=(ENOTSUPP,))
    return verdict(raw.map_create(create_attr(map_type)), "BPF_MAP_CREATE", context)


def _probe_local_storage(map_type: MapType, context: str) -> bool:
    # Socket, inode, task and cgroup local storage: int keys (the owner's
    # fd), entries made per owner (max_entries 0, BPF_F_NO_PREALLOC: the
    # creation rules), and BTF ids for key and value are mandatory
    # (bpf_local_storage_map_alloc_check says EINVAL without them); the key's
    # BTF type must be a 4-byte int.
    if not BTF.supported():
        return False  # local storage (5.2) is newer than BTF (4.18)
    with btf_fd(_blobs.int_blob(), "BTF for a local storage map") as btf:
        attr = create_attr(map_type, btf_fd=btf.fileno(), btf_key_type_id=1, btf_value_type_id=1)
        ret = raw.map_create(attr)
        return verdict(ret, "BPF_MAP_CREATE", context)


def _map_type_probe(map_type: MapType) -> Probe:
    return lambda: _probe_map_type(map_type)


_MAP_FEATURES: dict[int, Feature] = {
    mt: register(
        Feature(f"map type {enum_name(mt)}", v, _map_type_probe(mt), config=_MAP_TYPE_CONFIG.get(mt, ())),
        "map",
    )
    for mt, v in MAP_TYPE_VERSIONS.items()
}


def map_type_feature(map_type: MapType | int) -> Feature:
    """The feature "the kernel has map type ``map_type``".

    Raises:
        ValueError: a type this table does not know (``UNSPEC``, a number
            newer than the generated enum).
    """
    return lookup(_MAP_FEATURES, "map type", map_type)


def map_type_supported(map_type: MapType | int) -> bool:
    """Whether the running kernel can create maps of ``map_type`` (see
    [`map_type_feature()`][ebpf.syscall.features.map_type_feature])."""
    return map_type_feature(map_type).supported()


RINGBUF = _MAP_FEATURES[MapType.RINGBUF]
ARENA = _MAP_FEATURES[MapType.ARENA]


def _probe_batch_ops() -> bool:
    # Batch commands are unknown (EINVAL) before 5.6.
    ret = raw.map_create(create_attr(MapType.ARRAY))
    with _sys.owned(ret, "BPF_MAP_CREATE", "array map") as m:
        keys, values = _sys.buffer(struct.pack("=I", 0)), _sys.buffer(struct.pack("=I", 1))
        attr = MapBatchAttr(
            keys=ctypes.addressof(keys), values=ctypes.addressof(values), count=1, map_fd=m.fileno()
        )
        ret = raw.map_update_batch(attr)
        return verdict(ret, "BPF_MAP_UPDATE_BATCH", "updating an array map in a batch", returns_fd=False)


BATCH_OPS = register(Feature("batch map operations (BPF_MAP_*_BATCH)", "5.6", _probe_batch_ops))


def _probe_mmapable() -> bool:
    # An unknown map flag is EINVAL.
    ret = raw.map_create(create_attr(MapType.ARRAY, map_flags=MapFlags.MMAPABLE))
    return verdict(ret, "BPF_MAP_CREATE", "creating an mmap-able array map")


MMAPABLE_MAPS = register(Feature("mmap-able array maps (BPF_F_MMAPABLE)", "5.5", _probe_mmapable))


def _probe_global_data() -> bool:
    # What .rodata/.data need: an array map read-only to programs
    # (BPF_F_RDONLY_PROG), frozen against user space writes (BPF_MAP_FREEZE),
    # and a program loading the address of its value directly (ld_imm64 with
    # src BPF_PSEUDO_MAP_VALUE). All three came in 5.2; before, each is EINVAL.
    ret = raw.map_create(create_attr(MapType.ARRAY, value_size=8, map_flags=MapFlags.RDONLY_PROG))
    if ret == -errno.EINVAL:
        return False
    with _sys.owned(ret, "BPF_MAP_CREATE", "read-only array map") as m:
        ret = raw.map_freeze(MapElemAttr(map_fd=m.fileno()))
        if ret == -errno.EINVAL:
            return False
        if ret < 0:
            raise _sys.unexpected(-ret, "BPF_MAP_FREEZE", "freezing an array map")
        code = (
            _sys.insn(0x18, dst=1, src=2, imm=m.fileno())  # r1 = &map[0] + 0
            + _sys.insn(0x00, imm=0)
            + _sys.insn(0x61, dst=0, src=1)  # r0 = *(u32 *)(r1 + 0)
            + _sys.EXIT
        )
        result = _sys.load_program(ProgType.SOCKET_FILTER, code)
        return verdict(result.ret, "BPF_PROG_LOAD", "loading a program reading a map value directly")


GLOBAL_DATA = register(
    Feature("global data (frozen read-only maps, direct value access)", "5.2", _probe_global_data)
)
