"""execsnoop: every new program run (``execve(2)``), with its arguments and result.

Tracepoints ``syscalls:sys_enter_execve`` and ``sys_exit_execve``
(``bpf/execsnoop.bpf.c``)::

    from ebpf.core.tools import execsnoop

    for event in execsnoop.run(execsnoop.Options(duration=5)):
        print(event.pid, event.comm, event.args)
"""

from __future__ import annotations

import argparse
import ctypes
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

from ._export import RecordCounter, errno_name, event_tracer
from ._objects import load_and_attach
from ._options import CommonOptions
from ._tool import Tool, time_column
from ._tracer import EventTracer, start_tracer, wall_time

__all__ = ["TOOL", "ExecEvent", "Options", "counters", "run", "start"]

_MAX_ARGS = 20
_ARGS_SIZE = _MAX_ARGS * 128


class _Event(ctypes.Structure):
    """``struct event`` of ``bpf/execsnoop.bpf.c``."""

    _fields_ = (
        ("ts_ns", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("tid", ctypes.c_uint32),
        ("ppid", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("retval", ctypes.c_int32),
        ("args_count", ctypes.c_uint32),
        ("args_size", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
        ("args", ctypes.c_ubyte * _ARGS_SIZE),
    )


@dataclass(frozen=True)
class Options(CommonOptions):
    """execsnoop's options.

    Attributes:
        failed: also report the calls that failed (``-x``, as bcc's); by
            default only those that ran a program.
    """

    failed: bool = False


@dataclass(frozen=True)
class ExecEvent:
    """One ``execve(2)``.

    Attributes:
        time: when it returned (seconds since the epoch).
        pid: the process; tid: the thread that called it; ppid: its parent.
        uid: the real user id.
        comm: the process's name after the call (the new program's on success).
        retval: 0, or the negative errno of a failed call.
        filename: the path given to execve.
        args: the command line as libbpf-tools' execsnoop shows it: the
            filename, then ``argv[1:]``; at most 20 strings of 128 bytes.
        truncated: there were more arguments than reported.
    """

    time: float
    pid: int
    tid: int
    ppid: int
    uid: int
    comm: str
    retval: int
    filename: str
    args: tuple[str, ...]
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready)."""
        return asdict(self)


def _convert(raw: _Event) -> ExecEvent:
    size = min(raw.args_size, _ARGS_SIZE)
    parts = bytes(raw.args)[:size].split(b"\0")
    strings = tuple(p.decode(errors="replace") for p in parts[: raw.args_count + 1])
    return ExecEvent(
        time=wall_time(raw.ts_ns),
        pid=raw.pid,
        tid=raw.tid,
        ppid=raw.ppid,
        uid=raw.uid,
        comm=raw.comm.decode(errors="replace"),
        retval=raw.retval,
        filename=strings[0] if strings else "",
        args=strings,
        truncated=raw.args_count >= _MAX_ARGS,
    )


def counters() -> list[RecordCounter]:
    """What ``--prometheus`` serves: ``ebpf_execsnoop_execs_total`` by ``comm`` (the program started)
    and ``result`` (``ok``, or the error's name with ``-x``)."""
    return [
        RecordCounter(
            "ebpf_execsnoop_execs",
            "execsnoop: exec() calls traced",
            ("comm", "result"),
            lambda event: (event.comm, errno_name(event.retval)),
        )
    ]


def start(options: Options | None = None) -> EventTracer[ExecEvent]:
    """Load and attach execsnoop; read its events from the returned tracer (a context manager).

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no ring buffers (5.8) or no BTF.
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def make(stack: ExitStack) -> EventTracer[ExecEvent]:
        collection = load_and_attach(stack, "execsnoop", opts)
        keep = lambda raw: _convert(raw) if opts.failed or raw.retval == 0 else None  # noqa: E731
        return event_tracer(stack, opts, collection, _Event, keep, counters)

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[ExecEvent]:
    """The events until ``options.duration`` ends (forever without one); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    return (
        "TIME      " if options.timestamps else ""
    ) + f"{'PCOMM':<16} {'PID':>7} {'PPID':>7} {'RET':>4} ARGS"


def _format(event: ExecEvent, options: Options) -> str:
    when = time_column(options, event.time)
    args = " ".join(event.args) + (" ..." if event.truncated else "")
    return f"{when}{event.comm:<16} {event.pid:>7} {event.ppid:>7} {event.retval:>4} {args}"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-x", "--fails", dest="failed", action="store_true", help="include failed calls")


TOOL: Tool[Options, ExecEvent] = Tool(
    name="execsnoop",
    summary="trace new processes (execve), with their arguments and result",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
