"""``ebpf perf list``: programs attached through perf events and raw tracepoints, as bpftool lists them.

Plain output is bpftool's, one line per descriptor::

    pid 2242  fd 8: prog_id 51  tracepoint  syscalls:sys_enter_execve
    pid 2301  fd 5: prog_id 52  uprobe  filename /usr/bin/bash  offset 1234

``--json`` prints bpftool's fields: ``pid``, ``fd``, ``prog_id``,
``fd_type``, then ``tracepoint`` (tracepoints), ``func`` and ``offset`` or
``addr`` (kprobes), ``filename`` and ``offset`` (uprobes).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._output import print_json
from ._words import Words

if TYPE_CHECKING:
    from ebpf.progs import PerfAttachment

__all__ = ["cmd_perf_list"]


def _entry(found: PerfAttachment) -> dict[str, object]:
    """bpftool's JSON object for one descriptor."""
    from ebpf.syscall.abi import TaskFdType

    kind = found.fd_type.name.lower()
    entry: dict[str, object] = {"pid": found.pid, "fd": found.fd, "prog_id": found.prog_id, "fd_type": kind}
    if found.fd_type in (TaskFdType.RAW_TRACEPOINT, TaskFdType.TRACEPOINT):
        entry["tracepoint"] = found.name
    elif found.fd_type in (TaskFdType.KPROBE, TaskFdType.KRETPROBE):
        if found.name:
            entry["func"], entry["offset"] = found.name, found.probe_offset
        else:
            entry["addr"] = found.probe_addr
    elif found.fd_type in (TaskFdType.UPROBE, TaskFdType.URETPROBE):
        entry["filename"], entry["offset"] = found.name, found.probe_offset
    return entry


def _line(entry: dict[str, object]) -> str:
    """bpftool's plain line for one descriptor."""
    head = f"pid {entry['pid']}  fd {entry['fd']}: prog_id {entry['prog_id']}  {entry['fd_type']}"
    if "tracepoint" in entry:
        return f"{head}  {entry['tracepoint']}"
    if "func" in entry:
        return f"{head}  func {entry['func']}  offset {entry['offset']}"
    if "addr" in entry:
        return f"{head}  addr {entry['addr']}"
    if "filename" in entry:
        return f"{head}  filename {entry['filename']}  offset {entry['offset']}"
    return head


def cmd_perf_list(args: argparse.Namespace) -> int:
    """``perf list``: every perf-event and raw tracepoint attachment of every process but this one."""
    from ebpf.progs import perf_attachments

    Words(args.words, "perf list").end()
    entries = [_entry(found) for found in perf_attachments()]
    if args.json:
        print_json(entries)
    else:
        for entry in entries:
            print(_line(entry))
    return 0
