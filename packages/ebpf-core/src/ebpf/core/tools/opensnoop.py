"""opensnoop: every ``open(2)``/``openat(2)``, with the path, flags and result.

Tracepoints ``syscalls:sys_enter_openat``/``sys_exit_openat`` (and
``sys_*_open`` where the architecture has ``open(2)``; ``bpf/opensnoop.bpf.c``)::

    from ebpf.core.tools import opensnoop

    for event in opensnoop.run(opensnoop.Options(duration=5, failed=True)):
        print(event.pid, event.comm, event.path, event.ret)
"""

from __future__ import annotations

import argparse
import ctypes
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

from ._export import RecordCounter, errno_name, event_tracer
from ._objects import load_and_attach, tracepoint_exists
from ._options import CommonOptions
from ._tool import Tool, time_column
from ._tracer import EventTracer, start_tracer, wall_time

__all__ = ["TOOL", "OpenEvent", "Options", "counters", "run", "start"]


class _Event(ctypes.Structure):
    """``struct event`` of ``bpf/opensnoop.bpf.c``."""

    _fields_ = (
        ("ts_ns", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("tid", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("ret", ctypes.c_int32),
        ("flags", ctypes.c_int32),
        ("mode", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
        ("fname", ctypes.c_char * 256),
    )


@dataclass(frozen=True)
class Options(CommonOptions):
    """opensnoop's options.

    Attributes:
        failed: only the opens that failed (``-x``, as bcc's).
    """

    failed: bool = False


@dataclass(frozen=True)
class OpenEvent:
    """One ``open``/``openat``.

    Attributes:
        time: when it returned (seconds since the epoch).
        pid, tid: the process and thread; uid: the real user id; comm: the task's name.
        ret: the new descriptor, or the negative errno.
        flags: the ``O_*`` flags; mode: the mode for a created file.
        path: the path as given (relative to the caller's directory or ``dirfd``), at most 255 bytes.
    """

    time: float
    pid: int
    tid: int
    uid: int
    comm: str
    ret: int
    flags: int
    mode: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready)."""
        return asdict(self)


def _convert(raw: _Event) -> OpenEvent:
    return OpenEvent(
        time=wall_time(raw.ts_ns),
        pid=raw.pid,
        tid=raw.tid,
        uid=raw.uid,
        comm=raw.comm.decode(errors="replace"),
        ret=raw.ret,
        flags=raw.flags,
        mode=raw.mode,
        path=raw.fname.decode(errors="replace"),
    )


def counters() -> list[RecordCounter]:
    """What ``--prometheus`` serves: ``ebpf_opensnoop_opens_total`` by ``comm`` and ``result``
    (``ok``, or the error's name: ``ENOENT``...)."""
    return [
        RecordCounter(
            "ebpf_opensnoop_opens",
            "opensnoop: open() calls traced",
            ("comm", "result"),
            lambda event: (event.comm, errno_name(event.ret)),
        )
    ]


def start(options: Options | None = None) -> EventTracer[OpenEvent]:
    """Load and attach opensnoop; read its events from the returned tracer (a context manager).

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no ring buffers (5.8) or no BTF.
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def make(stack: ExitStack) -> EventTracer[OpenEvent]:
        skip = () if tracepoint_exists("syscalls", "sys_enter_open") else ("enter_open", "exit_open")
        collection = load_and_attach(
            stack,
            "opensnoop",
            opts,
            skip=[f"tracepoint__syscalls__sys_{name}" for name in skip],
            configure=lambda spec: spec.variables["targ_failed"].set(opts.failed),
        )
        return event_tracer(stack, opts, collection, _Event, _convert, counters)

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[OpenEvent]:
    """The events until ``options.duration`` ends (forever without one); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    return time_column(options) + f"{'PID':>7} {'COMM':<16} {'FD':>4} {'ERR':>3} PATH"


def _format(event: OpenEvent, options: Options) -> str:
    fd, err = (event.ret, 0) if event.ret >= 0 else (-1, -event.ret)
    return f"{time_column(options, event.time)}{event.pid:>7} {event.comm:<16} {fd:>4} {err:>3} {event.path}"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-x", "--failed", action="store_true", help="only failed opens")


TOOL: Tool[Options, OpenEvent] = Tool(
    name="opensnoop",
    summary="trace open() and openat(): who opens which path, and the result",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
