"""exitsnoop: every process exit, with its age and exit status or signal.

Tracepoint ``sched:sched_process_exit`` (``bpf/exitsnoop.bpf.c``)::

    from ebpf.core.tools import exitsnoop

    for event in exitsnoop.run(exitsnoop.Options(duration=5)):
        print(event.pid, event.comm, event.age, event.status, event.signal)
"""

from __future__ import annotations

import argparse
import ctypes
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._export import RecordCounter, event_tracer
from ._objects import load_and_attach
from ._options import CommonOptions
from ._tool import Tool, time_column
from ._tracer import EventTracer, start_tracer, wall_time

if TYPE_CHECKING:
    from ebpf.elf import CollectionSpec

__all__ = ["TOOL", "ExitEvent", "Options", "counters", "run", "start"]


class _Event(ctypes.Structure):
    """``struct event`` of ``bpf/exitsnoop.bpf.c``."""

    _fields_ = (
        ("ts_ns", ctypes.c_uint64),
        ("start_ns", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("tid", ctypes.c_uint32),
        ("ppid", ctypes.c_uint32),
        ("exit_code", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
    )


@dataclass(frozen=True)
class Options(CommonOptions):
    """exitsnoop's options.

    Attributes:
        failed: only exits with a non-zero status or by a signal (``-x``).
        threads: every thread's exit, not only processes' (``--threaded``).
    """

    failed: bool = False
    threads: bool = False


@dataclass(frozen=True)
class ExitEvent:
    """One exit.

    Attributes:
        time: when it exited (seconds since the epoch).
        pid, tid: the process and the exiting thread; ppid: the parent; comm: its name.
        age: seconds from the task's start to its exit.
        status: the exit status (``exit(status)``), 0 when killed by a signal.
        signal: the signal that killed it, or 0.
        core: whether it dumped core.
    """

    time: float
    pid: int
    tid: int
    ppid: int
    comm: str
    age: float
    status: int
    signal: int
    core: bool

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready)."""
        return asdict(self)


def _convert(raw: _Event) -> ExitEvent:
    return ExitEvent(
        time=wall_time(raw.ts_ns),
        pid=raw.pid,
        tid=raw.tid,
        ppid=raw.ppid,
        comm=raw.comm.decode(errors="replace"),
        age=max(0, raw.ts_ns - raw.start_ns) / 1e9,
        status=(raw.exit_code >> 8) & 0xFF,
        signal=raw.exit_code & 0x7F,
        core=bool(raw.exit_code & 0x80),
    )


def _signal_name(number: int) -> str:
    if not number:
        return ""
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def counters() -> list[RecordCounter]:
    """What ``--prometheus`` serves: ``ebpf_exitsnoop_exits_total`` by ``comm``, exit ``code`` and
    ``signal`` (its name, ``""`` for a normal exit)."""
    return [
        RecordCounter(
            "ebpf_exitsnoop_exits",
            "exitsnoop: process exits traced",
            ("comm", "code", "signal"),
            lambda event: (event.comm, event.status, _signal_name(event.signal)),
        )
    ]


def start(options: Options | None = None) -> EventTracer[ExitEvent]:
    """Load and attach exitsnoop; read its events from the returned tracer (a context manager).

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no ring buffers (5.8) or no BTF.
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def configure(spec: CollectionSpec) -> None:
        spec.variables["targ_failed"].set(opts.failed)
        spec.variables["targ_threads"].set(opts.threads)

    def make(stack: ExitStack) -> EventTracer[ExitEvent]:
        collection = load_and_attach(stack, "exitsnoop", opts, configure=configure)
        return event_tracer(stack, opts, collection, _Event, _convert, counters)

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[ExitEvent]:
    """The events until ``options.duration`` ends (forever without one); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    return time_column(options) + f"{'PCOMM':<16} {'PID':>7} {'PPID':>7} {'TID':>7} {'AGE(s)':>8} EXIT_CODE"


def _status(event: ExitEvent) -> str:
    if event.signal:
        try:
            name = signal.Signals(event.signal).name
        except ValueError:
            name = f"signal {event.signal}"
        return f"signal {event.signal} ({name})" + (", core dumped" if event.core else "")
    return str(event.status)


def _format(event: ExitEvent, options: Options) -> str:
    return (
        f"{time_column(options, event.time)}{event.comm:<16} {event.pid:>7} {event.ppid:>7} {event.tid:>7} "
        f"{event.age:>8.2f} {_status(event)}"
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-x", "--failed", action="store_true", help="only non-zero exits and signals")
    parser.add_argument("--threaded", dest="threads", action="store_true", help="every thread's exit")


TOOL: Tool[Options, ExitEvent] = Tool(
    name="exitsnoop",
    summary="trace process exits: age, exit status or the signal that ended them",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
