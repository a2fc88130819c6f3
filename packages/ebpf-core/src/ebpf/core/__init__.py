"""ebpf.core: the whole toolkit behind one import, the ``ebpf`` command, and a catalogue of examples.

::

    import ebpf.core as bpf
    from ebpf.asm import R0, exit_, mov

    info = bpf.init()  # kernel version, bpffs, capabilities, features
    with bpf.hash_map("u32", "u64", name="counts") as counts:
        counts[1] = 10
        print(bpf.dump_map(counts))
    with bpf.load_program([mov(R0, bpf.XdpAction.DROP), exit_()], "xdp") as prog:
        print(prog.test_run(bytes(64)).retval)  # 1

What is here:

- system: [`init()`][ebpf.core.init] ([`SystemInfo`][ebpf.core.SystemInfo]), ``kernel_version``;
- maps: a constructor per map type ([`hash_map()`][ebpf.core.hash_map], [`array_map()`][ebpf.core.array_map],
  [`percpu_array_map()`][ebpf.core.percpu_array_map], [`lpm_trie_map()`][ebpf.core.lpm_trie_map],
  [`queue_map()`][ebpf.core.queue_map], [`ringbuf_map()`][ebpf.core.ringbuf_map]...),
  [`create_map()`][ebpf.core.create_map] for any type, and functions over live maps
  ([`map_lookup()`][ebpf.core.map_lookup], [`map_update()`][ebpf.core.map_update],
  [`map_delete()`][ebpf.core.map_delete], [`map_keys()`][ebpf.core.map_keys],
  [`map_values()`][ebpf.core.map_values], [`map_entries()`][ebpf.core.map_entries],
  [`map_count()`][ebpf.core.map_count], [`map_clear()`][ebpf.core.map_clear], batches,
  [`map_push()`][ebpf.core.map_push]/[`map_pop()`][ebpf.core.map_pop]/[`map_peek()`][ebpf.core.map_peek],
  [`dump_map()`][ebpf.core.dump_map], ``percpu_sum``...);
- programs: [`load_program()`][ebpf.core.load_program] (from ``ebpf.asm`` instructions, bytes or a
  spec), [`attach()`][ebpf.core.attach] and every ``attach_*`` function, [`pin()`][ebpf.core.pin],
  [`unpin()`][ebpf.core.unpin], [`open_pinned()`][ebpf.core.open_pinned],
  [`open_program()`][ebpf.core.open_program], [`open_map()`][ebpf.core.open_map];
- events: [`ring_buffer()`][ebpf.core.ring_buffer], [`perf_buffer()`][ebpf.core.perf_buffer],
  [`process_events()`][ebpf.core.process_events] (readers of ``ebpf.events``);
- object files: [`load_object()`][ebpf.core.load_object], [`inspect_object()`][ebpf.core.inspect_object],
  [`attach_uprobe_symbol()`][ebpf.core.attach_uprobe_symbol] (``ebpf.elf``); XDP and TC: ``attach_xdp``,
  ``attach_tc`` (``ebpf.net``);
- BTF: [`kernel_btf()`][ebpf.core.kernel_btf], [`find_type()`][ebpf.core.find_type],
  [`field_offset()`][ebpf.core.field_offset], [`type_size()`][ebpf.core.type_size], ``BtfCodec`` (values by
  their BTF type), ``dump_c``, ``dump_raw``;
- the classes, enums and errors of every package (``Map``, ``Program``,
  ``Link``, ``MapType``, ``XdpAction``, ``EbpfError``, ``VerifierError``...).

Every live object is a context manager that releases its descriptor.
Importing this module imports none of the other packages: each name is
imported on first use, so ``import ebpf.core`` costs about a millisecond.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._btf import field_offset, find_type, kernel_btf, type_size
from ._elf import attach_uprobe_symbol, inspect_object, load_object
from ._events import perf_buffer, process_events, ring_buffer
from ._maps import (
    array_map,
    array_of_maps,
    bloom_filter_map,
    cgroup_array,
    cpumap,
    create_map,
    devmap,
    dump_map,
    hash_map,
    hash_of_maps,
    lpm_trie_map,
    lru_hash_map,
    lru_percpu_hash_map,
    map_clear,
    map_count,
    map_delete,
    map_delete_batch,
    map_entries,
    map_keys,
    map_lookup,
    map_lookup_batch,
    map_peek,
    map_pop,
    map_push,
    map_spec,
    map_update,
    map_update_batch,
    map_values,
    open_map,
    percpu_array_map,
    percpu_hash_map,
    perf_event_array,
    prog_array,
    queue_map,
    ringbuf_map,
    sockhash,
    sockmap,
    stack_map,
    stack_trace_map,
)
from ._progs import attach, load_program, open_pinned, open_program, pin, unpin

if TYPE_CHECKING:
    from ebpf.asm import TcAction, XdpAction, assemble, disassemble
    from ebpf.btf import TypeGraph, dump_c, dump_raw, load_file, load_vmlinux
    from ebpf.elf import Collection, CollectionSpec, uprobe_target
    from ebpf.events import (
        AsyncConsumer,
        Consumer,
        PerfBuffer,
        Poller,
        RingBuffer,
        UserRingBuffer,
        as_decoder,
    )
    from ebpf.maps import (
        ArrayMap,
        BtfCodec,
        KeyValueMap,
        Map,
        MapSpec,
        PerCpuArrayMap,
        PerCpuMap,
        percpu_avg,
        percpu_max,
        percpu_min,
        percpu_sum,
    )
    from ebpf.net import Direction, XdpMode, attach_tc, attach_xdp, interfaces, with_tc, with_xdp
    from ebpf.progs import (
        Link,
        Program,
        ProgramSpec,
        ProgramVerifierError,
        attach_cgroup,
        attach_iter,
        attach_kprobe,
        attach_lsm,
        attach_perf_event,
        attach_raw_tracepoint,
        attach_socket_filter,
        attach_tracepoint,
        attach_tracing,
        attach_uprobe,
        run_statistics,
    )
    from ebpf.syscall import (
        AttachType,
        BpfSyscallError,
        EbpfError,
        KeyNotFoundError,
        LinkType,
        MapFlags,
        MapType,
        NotSupportedError,
        ParseError,
        PermissionDeniedError,
        ProgType,
        UpdateFlags,
        VerifierError,
        kernel_version,
    )

    from ._system import SystemInfo, init
    from ._version import __version__

# Names imported on first use (PEP 562): the sibling packages, what needs dataclasses,
# and the version (importlib.metadata).
_LAZY: dict[str, str] = {
    **dict.fromkeys(("SystemInfo", "init"), "ebpf.core._system"),
    "__version__": "ebpf.core._version",
    **dict.fromkeys(("TcAction", "XdpAction", "assemble", "disassemble"), "ebpf.asm"),
    **dict.fromkeys(("TypeGraph", "dump_c", "dump_raw", "load_file", "load_vmlinux"), "ebpf.btf"),
    **dict.fromkeys(("Collection", "CollectionSpec", "uprobe_target"), "ebpf.elf"),
    **dict.fromkeys(
        ("AsyncConsumer", "Consumer", "PerfBuffer", "Poller", "RingBuffer", "UserRingBuffer", "as_decoder"),
        "ebpf.events",
    ),
    **dict.fromkeys(
        ("Direction", "XdpMode", "attach_tc", "attach_xdp", "interfaces", "with_tc", "with_xdp"), "ebpf.net"
    ),
    **dict.fromkeys(
        (
            "ArrayMap",
            "BtfCodec",
            "KeyValueMap",
            "Map",
            "MapSpec",
            "PerCpuArrayMap",
            "PerCpuMap",
            "percpu_avg",
            "percpu_max",
            "percpu_min",
            "percpu_sum",
        ),
        "ebpf.maps",
    ),
    **dict.fromkeys(
        (
            "Link",
            "Program",
            "ProgramSpec",
            "ProgramVerifierError",
            "attach_cgroup",
            "attach_iter",
            "attach_kprobe",
            "attach_lsm",
            "attach_perf_event",
            "attach_raw_tracepoint",
            "attach_socket_filter",
            "attach_tracepoint",
            "attach_tracing",
            "attach_uprobe",
            "run_statistics",
        ),
        "ebpf.progs",
    ),
    **dict.fromkeys(
        (
            "AttachType",
            "BpfSyscallError",
            "EbpfError",
            "KeyNotFoundError",
            "LinkType",
            "MapFlags",
            "MapType",
            "NotSupportedError",
            "ParseError",
            "PermissionDeniedError",
            "ProgType",
            "UpdateFlags",
            "VerifierError",
            "kernel_version",
        ),
        "ebpf.syscall",
    ),
}


def __getattr__(name: str) -> Any:
    """Import the sibling package that defines ``name`` on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ebpf.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ArrayMap",
    "AsyncConsumer",
    "AttachType",
    "BpfSyscallError",
    "BtfCodec",
    "Collection",
    "CollectionSpec",
    "Consumer",
    "Direction",
    "EbpfError",
    "KeyNotFoundError",
    "KeyValueMap",
    "Link",
    "LinkType",
    "Map",
    "MapFlags",
    "MapSpec",
    "MapType",
    "NotSupportedError",
    "ParseError",
    "PerCpuArrayMap",
    "PerCpuMap",
    "PerfBuffer",
    "PermissionDeniedError",
    "Poller",
    "ProgType",
    "Program",
    "ProgramSpec",
    "ProgramVerifierError",
    "RingBuffer",
    "SystemInfo",
    "TcAction",
    "TypeGraph",
    "UpdateFlags",
    "UserRingBuffer",
    "VerifierError",
    "XdpAction",
    "XdpMode",
    "__version__",
    "array_map",
    "array_of_maps",
    "as_decoder",
    "assemble",
    "attach",
    "attach_cgroup",
    "attach_iter",
    "attach_kprobe",
    "attach_lsm",
    "attach_perf_event",
    "attach_raw_tracepoint",
    "attach_socket_filter",
    "attach_tc",
    "attach_tracepoint",
    "attach_tracing",
    "attach_uprobe",
    "attach_uprobe_symbol",
    "attach_xdp",
    "bloom_filter_map",
    "cgroup_array",
    "cpumap",
    "create_map",
    "devmap",
    "disassemble",
    "dump_c",
    "dump_map",
    "dump_raw",
    "field_offset",
    "find_type",
    "hash_map",
    "hash_of_maps",
    "init",
    "inspect_object",
    "interfaces",
    "kernel_btf",
    "kernel_version",
    "load_file",
    "load_object",
    "load_program",
    "load_vmlinux",
    "lpm_trie_map",
    "lru_hash_map",
    "lru_percpu_hash_map",
    "map_clear",
    "map_count",
    "map_delete",
    "map_delete_batch",
    "map_entries",
    "map_keys",
    "map_lookup",
    "map_lookup_batch",
    "map_peek",
    "map_pop",
    "map_push",
    "map_spec",
    "map_update",
    "map_update_batch",
    "map_values",
    "open_map",
    "open_pinned",
    "open_program",
    "percpu_array_map",
    "percpu_avg",
    "percpu_hash_map",
    "percpu_max",
    "percpu_min",
    "percpu_sum",
    "perf_buffer",
    "perf_event_array",
    "pin",
    "process_events",
    "prog_array",
    "queue_map",
    "ring_buffer",
    "ringbuf_map",
    "run_statistics",
    "sockhash",
    "sockmap",
    "stack_map",
    "stack_trace_map",
    "type_size",
    "unpin",
    "uprobe_target",
    "with_tc",
    "with_xdp",
]
