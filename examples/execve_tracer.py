"""Print every program started on this machine, as it starts, from a ring buffer.

Shows: a tracepoint program (``syscalls:sys_enter_execve``) that reserves a
record in a ring buffer map, fills it with the process id, user id, command
name and the path being executed (``bpf_probe_read_user_str``), and submits
it; user space reads the records with ``ebpf.events`` through
``bpf.process_events``, decoded into a ``ctypes`` structure.

Run (as root): ``python examples/execve_tracer.py --seconds 10``
(``--self-test`` also runs ``/bin/true`` and checks that it was seen).
"""

from __future__ import annotations

import argparse
import subprocess
import threading

import ebpf.core as bpf
from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R6,
    R7,
    Item,
    W,
    add,
    call,
    exit_,
    jeq,
    label,
    ld_map_fd,
    load,
    mov,
    rsh,
    store,
)
from ebpf.core.catalogue import ProcessEvent

RECORD = 88  # sizeof(ProcessEvent): pid, uid, comm[16], filename[64]
FILENAME_ARG = 16  # the tracepoint record: common fields, syscall number, then args[0] = filename

PROGRAM: list[Item] = [
    mov(R6, R1),  # the tracepoint record
    ld_map_fd(R1, "events"),
    mov(R2, RECORD),
    mov(R3, 0),
    call("ringbuf_reserve"),  # room in the ring buffer, or NULL when it is full
    jeq(R0, 0, "out"),
    mov(R7, R0),
    *[store(R7, off, 0, DW) for off in range(24, RECORD, 8)],  # no stale bytes after the path
    call("get_current_pid_tgid"),
    rsh(R0, 32),
    store(R7, 0, R0, W),
    call("get_current_uid_gid"),
    store(R7, 4, R0, W),
    mov(R1, R7),
    add(R1, 8),
    mov(R2, 16),
    call("get_current_comm"),
    mov(R1, R7),
    add(R1, 24),
    mov(R2, 64),
    load(R3, R6, FILENAME_ARG, DW),
    call("probe_read_user_str"),
    mov(R1, R7),
    mov(R2, 0),
    call("ringbuf_submit"),  # hands the record to the reader
    label("out"),
    mov(R0, 0),
    exit_(),
]


def main() -> int:
    """Trace; with --self-test, exit 1 unless /bin/true was seen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--self-test", action="store_true", help="run /bin/true and check it is reported")
    args = parser.parse_args()
    bpf.init(probe_features=False, mount_tracefs=True)  # tracepoints need tracefs: mounted if missing
    seen: list[ProcessEvent] = []

    def show(event: ProcessEvent) -> None:
        seen.append(event)
        comm, path = event.comm.decode(errors="replace"), event.filename.decode(errors="replace")
        print(f"{event.pid:>8} {event.uid:>5} {comm:<16} {path}", flush=True)

    with bpf.ringbuf_map(256 * 1024, name="events") as events:
        prog = bpf.load_program(PROGRAM, "tracepoint/syscalls/sys_enter_execve", maps={"events": events})
        with prog, prog.attach(), bpf.ring_buffer(events, ProcessEvent) as reader:
            print(f"{'PID':>8} {'UID':>5} {'COMM':<16} FILE")
            # The self-test starts /bin/true while the events are being read.
            trigger = threading.Timer(0.2, subprocess.run, args=(["/bin/true"],))
            if args.self_test:
                trigger.start()
            bpf.process_events(reader, handler=show, duration=args.seconds)
            trigger.cancel()
    if args.self_test:
        found = any(e.filename == b"/bin/true" for e in seen)
        print("self-test:", "saw /bin/true" if found else "did NOT see /bin/true")
        return 0 if found else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
