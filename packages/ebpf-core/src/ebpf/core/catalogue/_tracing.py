"""The tracing programs of the catalogue: syscall counters, process events, perf and ring buffer output."""

from __future__ import annotations

import ctypes

from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R10,
    Item,
    W,
    add,
    atomic_add,
    call,
    exit_,
    jeq,
    label,
    ld_map_fd,
    load,
    mov,
    mov32,
    rsh,
    store,
)
from ebpf.maps import MapSpec, u32, u64
from ebpf.syscall import MapType

from ._example import _FILENAME_LEN, Example, ProcessEvent
from ._fragments import (
    _BPF_EXIST,
    _BPF_F_CURRENT_CPU,
    _TP_ARG0,
    _increment,
    _lookup,
    _ret,
    _spec,
)


def _process_event(arg_offset: int) -> list[Item]:
    """Push a [`ProcessEvent`][ebpf.core.catalogue.ProcessEvent] for the current task and the user string at
    ``ctx + arg_offset``."""
    size = ctypes.sizeof(ProcessEvent)
    return [
        mov(R6, R1),
        *[store(R10, -size + off, 0, DW) for off in range(0, size, 8)],
        call("get_current_pid_tgid"),
        rsh(R0, 32),
        store(R10, -size, R0, W),
        call("get_current_uid_gid"),
        store(R10, -size + 4, R0, W),
        mov(R1, R10),
        add(R1, -size + 8),
        mov(R2, 16),
        call("get_current_comm"),
        mov(R1, R10),
        add(R1, -size + 24),
        mov(R2, _FILENAME_LEN),
        load(R3, R6, arg_offset, DW),
        call("probe_read_user_str"),
        ld_map_fd(R1, "events"),
        mov(R2, R10),
        add(R2, -size),
        mov(R3, _BPF_EXIST),  # a full queue drops its oldest event
        call("map_push_elem"),
        *_ret(0),
    ]


def _syscall_counter() -> list[Item]:
    return [
        call("get_current_pid_tgid"),
        rsh(R0, 32),  # the process (thread group) id
        store(R10, -4, R0, W),
        *_lookup("counts", -4),
        jeq(R0, 0, "new"),
        mov(R1, 1),
        atomic_add(R0, 0, R1),
        *_ret(0),
        label("new"),
        store(R10, -16, 1, DW),
        ld_map_fd(R1, "counts"),
        mov(R2, R10),
        add(R2, -4),
        mov(R3, R10),
        add(R3, -16),
        mov(R4, 1),  # BPF_NOEXIST: another CPU may have added it meanwhile
        call("map_update_elem"),
        *_ret(0),
    ]


def _cpu_id() -> list[Item]:
    return [
        call("get_smp_processor_id"),
        mov(R6, R0),
        store(R10, -4, 0, W),
        *_lookup("last_cpu", -4),
        jeq(R0, 0, "out"),
        store(R0, 0, R6, W),
        label("out"),
        mov(R0, R6),
        exit_(),
    ]


def _event_output(helper: str) -> list[Item]:
    """Write ``{u32 pid, u32 cpu}`` with ``helper``; keep its return value in ``status[0]``."""
    if helper == "perf_event_output":
        args: list[Item] = [
            mov(R1, R6),
            ld_map_fd(R2, "events"),
            mov32(R3, _BPF_F_CURRENT_CPU - (1 << 32)),
            mov(R4, R10),
            add(R4, -8),
            mov(R5, 8),
        ]
    else:
        args = [ld_map_fd(R1, "events"), mov(R2, R10), add(R2, -8), mov(R3, 8), mov(R4, 0)]
    return [
        mov(R6, R1),
        call("get_current_pid_tgid"),
        rsh(R0, 32),
        store(R10, -8, R0, W),
        call("get_smp_processor_id"),
        store(R10, -4, R0, W),
        *args,
        call(helper),
        mov(R7, R0),
        store(R10, -12, 0, W),
        *_lookup("status", -12),
        jeq(R0, 0, "out"),
        store(R0, 0, R7, DW),
        label("out"),
        *_ret(0),
    ]


#: Tracing programs, in catalogue order.
TRACING: list[Example] = [
    Example(
        "syscall_counter",
        "raw_tracepoint/sys_enter",
        "Tracing: count system calls per process (raw tracepoint sys_enter)",
        "counts[pid] grows by one for each system call the process makes",
        _syscall_counter,
        {"counts": _spec("HASH", "counts", u32, u64, 10240)},
    ),
    Example(
        "getpid_counter",
        "tracepoint/syscalls/sys_enter_getpid",
        "Tracing: count getpid() calls (tracepoint syscalls:sys_enter_getpid)",
        "calls[0] grows by at least n when this process calls getpid() n times",
        lambda: [*_increment("calls", 0), *_ret(0)],
        {"calls": _spec("ARRAY", "calls", value=u64)},
    ),
    Example(
        "exec_logger",
        "tracepoint/syscalls/sys_enter_execve",
        "Tracing: log each execve (pid, uid, comm, file) into a queue map",
        "after a process runs /bin/true, events holds a ProcessEvent with filename /bin/true",
        lambda: _process_event(_TP_ARG0),
        {"events": MapSpec(MapType.QUEUE, name="events", value=ProcessEvent, max_entries=1024)},
    ),
    Example(
        "open_logger",
        "tracepoint/syscalls/sys_enter_openat",
        "Tracing: log each openat (pid, uid, comm, file) with bpf_probe_read_user_str",
        "after this process opens a file, events holds a ProcessEvent with its pid and the path",
        lambda: _process_event(_TP_ARG0 + 8),
        {"events": MapSpec(MapType.QUEUE, name="events", value=ProcessEvent, max_entries=4096)},
    ),
    Example(
        "cpu_id",
        "raw_tracepoint/sys_enter",
        "Tracing: which CPU runs the program (bpf_get_smp_processor_id)",
        "returns the CPU number and stores it in last_cpu[0]; a test run pinned to CPU n returns n",
        _cpu_id,
        {"last_cpu": _spec("ARRAY", "last_cpu", value=u32)},
    ),
    Example(
        "perf_output",
        "raw_tracepoint/sys_enter",
        "Tracing: send {pid, cpu} to user space with bpf_perf_event_output",
        "a perf buffer reader receives {pid, cpu} and status[0] is 0; without a reader status[0] is "
        "-2 (ENOENT), with an event but no buffer mapped -28 (ENOSPC)",
        lambda: _event_output("perf_event_output"),
        {
            "events": MapSpec(MapType.PERF_EVENT_ARRAY, name="events"),
            "status": _spec("ARRAY", "status", value="<q"),
        },
    ),
    Example(
        "ringbuf_output",
        "raw_tracepoint/sys_enter",
        "Tracing: send {pid, cpu} to user space with bpf_ringbuf_output",
        "status[0] is 0 and a ring buffer reader receives one record {pid, cpu}",
        lambda: _event_output("ringbuf_output"),
        {
            "events": MapSpec(MapType.RINGBUF, name="events", max_entries=4096),
            "status": _spec("ARRAY", "status", value="<q"),
        },
    ),
]
