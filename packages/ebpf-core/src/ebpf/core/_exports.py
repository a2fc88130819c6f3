"""The facade's one table: every public name of ``ebpf.core`` and the module it comes from.

Everything else is derived from it: ``ebpf.core.__all__`` and the imports
that ``ebpf.core.__getattr__`` makes on first use of a name (PEP 562), and
the type checkers' view, ``ebpf/core/__init__.pyi``, which
``tools/gen_facade_stub.py`` writes (a unit test fails when it is stale).
A new facade name is one entry here, then ``python tools/gen_facade_stub.py render``.

Functions of the other packages are listed under their own package, not
wrapped: ``bpf.attach_uprobe_symbol`` *is* ``ebpf.elf.attach_uprobe_symbol``.
The modules of this package hold only what composes several packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["EXPORTS", "LAZY"]

#: Module -> the names ``ebpf.core`` re-exports from it.
EXPORTS: Final[Mapping[str, tuple[str, ...]]] = {
    "ebpf.syscall": (
        "AttachType",
        "BpfSyscallError",
        "EbpfError",
        "KeyNotFoundError",
        "LibraryLimitError",
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
    "ebpf.asm": ("TcAction", "XdpAction", "assemble", "disassemble"),
    "ebpf.btf": ("TypeGraph", "dump_c", "dump_raw", "load_file", "load_vmlinux"),
    "ebpf.maps": (
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
    "ebpf.progs": (
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
    "ebpf.elf": (
        "Collection",
        "CollectionSpec",
        "attach_uprobe_symbol",
        "attach_usdt",
        "uprobe_target",
        "usdt_probes",
    ),
    "ebpf.events": (
        "AsyncConsumer",
        "Consumer",
        "PerfBuffer",
        "Poller",
        "RingBuffer",
        "UserRingBuffer",
        "as_decoder",
    ),
    "ebpf.net": ("Direction", "XdpMode", "attach_tc", "attach_xdp", "interfaces", "with_tc", "with_xdp"),
    # What composes several packages, or reads better as one call:
    "ebpf.core._system": ("SystemInfo", "init"),
    "ebpf.core._version": ("__version__",),
    "ebpf.core._maps": (
        "array_map",
        "create_map",
        "hash_map",
        "map_spec",
        "open_map",
        "percpu_array_map",
        "perf_event_array",
        "queue_map",
        "ringbuf_map",
    ),
    "ebpf.core._progs": ("load_program", "open_pinned", "open_program", "pin", "unpin"),
    "ebpf.core._attach": ("attach",),
    "ebpf.core._events": ("perf_buffer", "process_events", "ring_buffer"),
    "ebpf.core._elf": ("inspect_object", "load_object"),
    "ebpf.core._btf": ("field_offset", "find_type", "kernel_btf", "type_size"),
}

#: Name -> the module ``ebpf.core`` imports it from on first use.
LAZY: Final[Mapping[str, str]] = {name: module for module, names in EXPORTS.items() for name in names}
