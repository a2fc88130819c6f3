"""Show which processes open which files, live.

Shows: choosing an attach method by what the kernel allows. It tries an
fentry program on ``do_sys_openat2`` first (BPF trampolines, 5.5+, the
cheapest); where the kernel refuses it (no BTF, no trampolines, or a
security policy that forbids tracing programs even to root) it says so and
falls back to the ``syscalls:sys_enter_openat`` tracepoint. Either way the
program copies the path from user memory with ``bpf_probe_read_user_str``
and pushes ``{pid, uid, comm, filename}`` into a queue map that this script
drains.

Run (as root): ``python examples/file_open_monitor.py --seconds 5``
(``--self-test`` watches only itself, opens a file and checks that it was seen).
"""

from __future__ import annotations

import argparse
import errno
import os
import tempfile
import time

import ebpf.core as bpf
from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R6,
    R10,
    Item,
    W,
    add,
    call,
    exit_,
    jne,
    label,
    ld_map_fd,
    load,
    mov,
    rsh,
    store,
)
from ebpf.core.catalogue import ProcessEvent
from ebpf.maps import QueueMap
from ebpf.progs import Program

EVENT_SIZE = 88  # sizeof(ProcessEvent)


def program(filename_arg: int, pid: int) -> list[Item]:
    """Push a ProcessEvent with the user string at ``ctx + filename_arg``; only for ``pid`` unless it is 0."""
    only_pid: list[Item] = [jne(R0, pid, "out")] if pid else []
    return [
        mov(R6, R1),
        call("get_current_pid_tgid"),
        rsh(R0, 32),
        *only_pid,  # the process id is a constant of the program: no map lookup needed
        store(R10, -EVENT_SIZE, R0, W),
        *[store(R10, -EVENT_SIZE + off, 0, DW) for off in range(8, EVENT_SIZE, 8)],
        store(R10, -EVENT_SIZE + 4, 0, W),
        call("get_current_uid_gid"),
        store(R10, -EVENT_SIZE + 4, R0, W),
        mov(R1, R10),
        add(R1, -EVENT_SIZE + 8),
        mov(R2, 16),
        call("get_current_comm"),
        mov(R1, R10),
        add(R1, -EVENT_SIZE + 24),
        mov(R2, 64),
        load(R3, R6, filename_arg, DW),
        call("probe_read_user_str"),
        ld_map_fd(R1, "events"),
        mov(R2, R10),
        add(R2, -EVENT_SIZE),
        mov(R3, 2),  # BPF_EXIST: a full queue drops its oldest event
        call("map_push_elem"),
        label("out"),
        mov(R0, 0),
        exit_(),
    ]


def load_monitor(events: QueueMap[ProcessEvent], pid: int) -> Program:
    """fentry where the kernel allows it, else the tracepoint; says which."""
    maps = {"events": events}
    try:
        # fentry programs see the traced function's arguments as u64s: filename is the second.
        prog = bpf.load_program(program(8, pid), "fentry/do_sys_openat2", maps=maps, name="open_fentry")
        print("using fentry/do_sys_openat2")
        return prog
    except bpf.PermissionDeniedError as exc:
        if exc.errno != errno.EPERM:
            raise
        reason = "this kernel refuses fentry programs even to root (a security policy)"
    except (bpf.NotSupportedError, bpf.VerifierError, ValueError) as exc:
        reason = f"fentry is not available here ({str(exc).splitlines()[0]})"
    print(f"{reason}: falling back to the tracepoint syscalls:sys_enter_openat")
    # The tracepoint record: 8 bytes of common fields, the syscall number, then args[6].
    return bpf.load_program(
        program(24, pid), "tracepoint/syscalls/sys_enter_openat", maps=maps, name="open_tp"
    )


def main() -> int:
    """Monitor, print events; with --self-test, exit 1 unless our own open was seen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pid", type=int, default=0, help="only this process (default: every process)")
    parser.add_argument("--self-test", action="store_true", help="watch this process, open a file, check it")
    args = parser.parse_args()
    bpf.init(probe_features=False, mount_tracefs=True)  # tracepoints need tracefs: mounted if missing
    seen_self = False
    with (
        tempfile.NamedTemporaryFile(prefix="ebpf-open-") as probe,
        bpf.queue_map(ProcessEvent, 4096, name="events") as events,
        load_monitor(events, os.getpid() if args.self_test else args.pid) as prog,
        prog.attach(),
    ):
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            if args.self_test:
                with open(probe.name, "rb"):
                    pass
            time.sleep(0.2)
            while (event := events.pop()) is not None:
                name = event.filename.decode(errors="replace")
                seen_self |= event.pid == os.getpid() and name == probe.name
                print(f"{event.pid:>8} {event.uid:>5} {event.comm.decode(errors='replace'):<16} {name}")
    if args.self_test:
        print("self-test:", "saw our own open" if seen_self else "did NOT see our own open")
        return 0 if seen_self else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
