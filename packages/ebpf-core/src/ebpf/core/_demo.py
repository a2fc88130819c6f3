"""``ebpf demo``: trace this machine for a few seconds and show what happened.

Loads two catalogue programs, ``syscall_counter`` (raw tracepoint
``sys_enter``, a hash map of system calls per process) and ``exec_logger``
(tracepoint ``syscalls:sys_enter_execve``, a queue of execve events),
attaches them, runs a few commands itself so that there is something to
see, then prints the busiest processes and the programs that were started.
Closing the links and programs leaves nothing behind in the kernel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from ebpf.maps import KeyValueMap, QueueMap

from ._system import init
from .catalogue import ProcessEvent, example

__all__ = ["run_demo"]

# Commands the demo runs while tracing: quick, present on any Linux system.
_ACTIVITY = (["uname", "-r"], ["ls", "/"], ["cat", "/proc/loadavg"], ["true"])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "(exited)"


def _generate_activity(seconds: float) -> dict[int, str]:
    """Run the demo commands a few times, spread over ``seconds``; their pids and paths."""
    deadline = time.monotonic() + seconds
    started: dict[int, str] = {}
    rounds = 0
    while time.monotonic() < deadline:
        if rounds < 3:
            for name, *rest in _ACTIVITY:
                # A full path: one execve per command rather than one per $PATH entry tried.
                path = shutil.which(name) or name
                child = subprocess.Popen([path, *rest], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                child.wait()
                started[child.pid] = path
        rounds += 1
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    return started


def run_demo(*, seconds: float = 2.0, top: int = 10, out: TextIO = sys.stdout) -> int:
    """Trace for ``seconds``, then print the ``top`` processes by system calls and the execve calls seen.

    The execve tracepoint needs tracefs: it is mounted at
    ``/sys/kernel/tracing`` when it is nowhere to be found, as ``bpftool``
    does for its tracing commands.

    Raises:
        PermissionDeniedError: not root (loading tracing programs needs
            ``CAP_BPF`` and ``CAP_PERFMON``; mounting tracefs ``CAP_SYS_ADMIN``).
        NotSupportedError: the kernel has no tracefs (built without tracing).
    """
    if seconds <= 0 or top <= 0:
        raise ValueError("seconds and top must be positive")
    init(probe_features=False, mount_tracefs=True)
    with ExitStack() as stack:
        counter = stack.enter_context(example("syscall_counter").load())
        logger = stack.enter_context(example("exec_logger").load())
        links = [stack.enter_context(counter.program.attach()), stack.enter_context(logger.program.attach())]
        print(
            f"Tracing for {seconds:g} s: every system call (raw tracepoint sys_enter, program id "
            f"{counter.program.id}) and every execve (tracepoint syscalls:sys_enter_execve, program id "
            f"{logger.program.id}).",
            file=out,
        )
        print(f"Running {', '.join(' '.join(a) for a in _ACTIVITY)} meanwhile...\n", file=out)
        started = _generate_activity(seconds)
        for link in links:
            link.close()
        counts_map, queue = counter.maps["counts"], logger.maps["events"]
        if not isinstance(counts_map, KeyValueMap) or not isinstance(queue, QueueMap):
            raise TypeError("the demo needs the hash map and the queue of its catalogue programs")
        counts = counts_map.lookup_batch()
        names = {pid: _comm(pid) for pid in counts}
        events: list[ProcessEvent] = []
        while (event := queue.pop()) is not None:
            events.append(event)
    # Processes that exited before we looked are named after the program they executed, if seen.
    for event in events:
        if names.get(event.pid) == "(exited)":
            names[event.pid] = Path(event.filename.decode(errors="replace")).name[:15]
    busiest = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:top]
    width = max([len(names[pid]) for pid, _ in busiest] + [4])
    print(f"Top {len(busiest)} of {len(counts)} processes by system calls:", file=out)
    print(f"{'PID':>8}  {'COMM':<{width}}  {'SYSCALLS':>9}", file=out)
    for pid, count in busiest:
        print(f"{pid:>8}  {names[pid]:<{width}}  {count:>9}", file=out)
    last_exec = {event.pid: event for event in events}  # a failed execve is followed by the next try
    shown = list(last_exec.values())[-12:]
    print(
        f"\n{len(last_exec)} processes called execve ({len(events)} calls); the last {len(shown)}:", file=out
    )
    print(f"{'PID':>8}  {'UID':>5}  {'COMM BEFORE':<16}  FILE", file=out)
    for event in shown:
        comm = event.comm.decode(errors="replace")
        filename = event.filename.decode(errors="replace")
        print(f"{event.pid:>8}  {event.uid:>5}  {comm:<16}  {filename}", file=out)
    seen = sum(
        last_exec[pid].filename.decode(errors="replace") == path
        for pid, path in started.items()
        if pid in last_exec
    )
    print(f"\nThe demo's own commands seen by the execve program: {seen} of {len(started)}.", file=out)
    print("Detached and unloaded: nothing is left in the kernel.", file=out)
    return 0
