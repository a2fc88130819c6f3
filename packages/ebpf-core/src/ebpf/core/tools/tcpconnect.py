"""tcpconnect: every active TCP connection (``connect()``), with the process that made it.

Tracepoint ``sock:inet_sock_set_state`` (CLOSE -> SYN_SENT, in the
connecting task), no kprobe (``bpf/tcpconnect.bpf.c``)::

    from ebpf.core.tools import tcpconnect

    for event in tcpconnect.run(tcpconnect.Options(duration=5)):
        print(event.pid, event.comm, event.daddr, event.dport)
"""

from __future__ import annotations

import argparse
import ctypes
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._export import RecordCounter, event_tracer
from ._objects import load_and_attach
from ._options import CommonOptions
from ._tcp import Address, TcpAddrs, addresses
from ._tool import Tool, time_column
from ._tracer import EventTracer, start_tracer, wall_time

if TYPE_CHECKING:
    from ebpf.elf import CollectionSpec

__all__ = ["TOOL", "ConnectEvent", "Options", "counters", "run", "start"]


class _Event(ctypes.Structure):
    """``struct event`` of ``bpf/tcpconnect.bpf.c``."""

    _fields_ = (
        ("ts_ns", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("addrs", TcpAddrs),
        ("comm", ctypes.c_char * 16),
    )


@dataclass(frozen=True)
class Options(CommonOptions):
    """tcpconnect's options.

    Attributes:
        port: only connections to this destination port (``-P``).
    """

    port: int | None = None

    def __post_init__(self) -> None:
        """Check the values (see `CommonOptions`).

        Raises:
            ValueError: a port outside 1..65535, or a bad common option.
        """
        super().__post_init__()
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, not {self.port}")


@dataclass(frozen=True)
class ConnectEvent:
    """One ``connect()``.

    Attributes:
        time: when the SYN was about to go (seconds since the epoch).
        pid, uid, comm: who connected.
        family: 4 or 6; saddr, daddr: ``ipaddress`` objects; dport: the port.
        sport: the local port, 0 when the kernel picks it after the SYN_SENT
            change (an unbound socket: the usual case).
    """

    time: float
    pid: int
    uid: int
    comm: str
    family: int
    saddr: Address
    daddr: Address
    sport: int
    dport: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready: addresses as text)."""
        return {
            name: str(value) if name in ("saddr", "daddr") else value for name, value in vars(self).items()
        }


def _convert(raw: _Event) -> ConnectEvent:
    saddr, daddr = addresses(raw.addrs)
    return ConnectEvent(
        time=wall_time(raw.ts_ns),
        pid=raw.pid,
        uid=raw.uid,
        comm=raw.comm.decode(errors="replace"),
        family=saddr.version,
        saddr=saddr,
        daddr=daddr,
        sport=raw.addrs.sport,
        dport=raw.addrs.dport,
    )


def counters() -> list[RecordCounter]:
    """What ``--prometheus`` serves: ``ebpf_tcpconnect_connects_total`` by ``comm`` and destination
    port ``dport``."""
    return [
        RecordCounter(
            "ebpf_tcpconnect_connects",
            "tcpconnect: TCP connections attempted (connect())",
            ("comm", "dport"),
            lambda event: (event.comm, event.dport),
        )
    ]


def start(options: Options | None = None) -> EventTracer[ConnectEvent]:
    """Load and attach tcpconnect; read its events from the returned tracer (a context manager).

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no ring buffers (5.8) or no BTF.
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def configure(spec: CollectionSpec) -> None:
        if opts.port is not None:
            spec.variables["targ_dport"].set(opts.port)

    def make(stack: ExitStack) -> EventTracer[ConnectEvent]:
        collection = load_and_attach(stack, "tcpconnect", opts, configure=configure)
        return event_tracer(stack, opts, collection, _Event, _convert, counters)

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[ConnectEvent]:
    """The events until ``options.duration`` ends (forever without one); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    return time_column(options) + f"{'PID':>7} {'COMM':<16} {'IP':>2} {'SADDR':<26} {'DADDR':<26} DPORT"


def _format(event: ConnectEvent, options: Options) -> str:
    return (
        f"{time_column(options, event.time)}{event.pid:>7} {event.comm:<16} {event.family:>2} "
        f"{event.saddr!s:<26} {event.daddr!s:<26} {event.dport}"
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--port", type=int, help="only connections to this port")


TOOL: Tool[Options, ConnectEvent] = Tool(
    name="tcpconnect",
    summary="trace active TCP connections (connect): who connects to which address and port",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
