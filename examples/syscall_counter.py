"""Count system calls per process for a few seconds, then print the busiest processes.

Shows: writing a raw tracepoint program with the ``ebpf.asm`` DSL, a hash
map shared with user space, attaching with a link that detaches on close.

Run (as root): ``python examples/syscall_counter.py --seconds 3 --top 10``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ebpf.core as bpf
from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
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
    mov,
    rsh,
    store,
)

# counts[tgid] += 1 on every sys_enter.
PROGRAM: list[Item] = [
    call("get_current_pid_tgid"),
    rsh(R0, 32),  # the upper half is the process id (tgid)
    store(R10, -4, R0, W),
    ld_map_fd(R1, "counts"),
    mov(R2, R10),
    add(R2, -4),
    call("map_lookup_elem"),
    jeq(R0, 0, "first"),
    mov(R1, 1),
    atomic_add(R0, 0, R1),  # already there: add one atomically
    mov(R0, 0),
    exit_(),
    label("first"),
    store(R10, -16, 1, DW),  # a new process: insert 1
    ld_map_fd(R1, "counts"),
    mov(R2, R10),
    add(R2, -4),
    mov(R3, R10),
    add(R3, -16),
    mov(R4, 1),  # BPF_NOEXIST
    call("map_update_elem"),
    mov(R0, 0),
    exit_(),
]


def comm(pid: int) -> str:
    """The process's name, or "?" once it has exited."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def main() -> None:
    """Trace, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    with bpf.hash_map("u32", "u64", name="counts") as counts:
        prog = bpf.load_program(PROGRAM, "raw_tracepoint/sys_enter", maps={"counts": counts})
        with prog, prog.attach():  # detached, then unloaded, at the end of the block
            print(f"counting system calls for {args.seconds:g} s...")
            time.sleep(args.seconds)
        busiest = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[: args.top]
    print(f"{'PID':>8}  {'COMM':<16}  {'SYSCALLS':>9}")
    for pid, count in busiest:
        print(f"{pid:>8}  {comm(pid):<16}  {count:>9}")


if __name__ == "__main__":
    main()
