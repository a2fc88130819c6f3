"""tcplife: every TCP session as it closes, with its process, addresses, bytes and lifetime.

Tracepoint ``sock:inet_sock_set_state``, no kprobe; the byte counts come
from the kernel's ``tcp_sock`` through CO-RE (``bpf/tcplife.bpf.c``)::

    from ebpf.core.tools import tcplife

    for session in tcplife.run(tcplife.Options(duration=5)):
        print(session.pid, session.comm, session.daddr, session.dport, session.rx_bytes)
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

__all__ = ["TOOL", "Options", "Session", "counters", "run", "start"]


class _Event(ctypes.Structure):
    """``struct event`` of ``bpf/tcplife.bpf.c``."""

    _fields_ = (
        ("ts_ns", ctypes.c_uint64),
        ("span_ns", ctypes.c_uint64),
        ("rx_bytes", ctypes.c_uint64),
        ("tx_bytes", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("addrs", TcpAddrs),
        ("comm", ctypes.c_char * 16),
    )


@dataclass(frozen=True)
class Options(CommonOptions):
    """tcplife's options.

    Attributes:
        port: only sessions with this local or remote port (``-P``).
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
class Session:
    """One TCP session, reported when it closed.

    Attributes:
        time: when it closed (seconds since the epoch).
        pid, comm: its process (the connecting one, or the one that closed an accepted socket).
        family: 4 or 6; saddr, sport: this end; daddr, dport: the peer.
        rx_bytes, tx_bytes: bytes received, and sent and acknowledged.
        duration: seconds from its first state change to its close.
    """

    time: float
    pid: int
    comm: str
    family: int
    saddr: Address
    sport: int
    daddr: Address
    dport: int
    rx_bytes: int
    tx_bytes: int
    duration: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready: addresses as text)."""
        return {
            name: str(value) if name in ("saddr", "daddr") else value for name, value in vars(self).items()
        }


def _convert(raw: _Event) -> Session:
    saddr, daddr = addresses(raw.addrs)
    return Session(
        time=wall_time(raw.ts_ns),
        pid=raw.pid,
        comm=raw.comm.decode(errors="replace"),
        family=saddr.version,
        saddr=saddr,
        sport=raw.addrs.sport,
        daddr=daddr,
        dport=raw.addrs.dport,
        rx_bytes=raw.rx_bytes,
        tx_bytes=raw.tx_bytes,
        duration=raw.span_ns / 1e9,
    )


def counters() -> list[RecordCounter]:
    """What ``--prometheus`` serves, by ``comm`` and ``port``: ``ebpf_tcplife_sessions_total``
    (closed sessions), ``ebpf_tcplife_received_bytes_total``, ``ebpf_tcplife_sent_bytes_total``.

    ``port`` is the session's service port, the lower of its two ports: the
    other end's is ephemeral (32768 and up on Linux), and as a label would
    make a series per connection, whichever side the traced process is on.
    """

    def labels(session: Session) -> tuple[str, int]:
        return session.comm, min(session.sport, session.dport)

    return [
        RecordCounter("ebpf_tcplife_sessions", "tcplife: TCP sessions closed", ("comm", "port"), labels),
        RecordCounter(
            "ebpf_tcplife_received_bytes",
            "tcplife: bytes received by closed TCP sessions",
            ("comm", "port"),
            labels,
            lambda session: session.rx_bytes,
        ),
        RecordCounter(
            "ebpf_tcplife_sent_bytes",
            "tcplife: bytes sent by closed TCP sessions",
            ("comm", "port"),
            labels,
            lambda session: session.tx_bytes,
        ),
    ]


def start(options: Options | None = None) -> EventTracer[Session]:
    """Load and attach tcplife; read the sessions from the returned tracer (a context manager).

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no ring buffers (5.8) or no BTF.
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def configure(spec: CollectionSpec) -> None:
        if opts.port is not None:
            spec.variables["targ_port"].set(opts.port)

    def make(stack: ExitStack) -> EventTracer[Session]:
        collection = load_and_attach(stack, "tcplife", opts, configure=configure)
        return event_tracer(stack, opts, collection, _Event, _convert, counters)

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[Session]:
    """The sessions until ``options.duration`` ends (forever without one); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    return time_column(options) + (
        f"{'PID':>7} {'COMM':<16} {'LADDR':<26} {'LPORT':>5} {'RADDR':<26} {'RPORT':>5} "
        f"{'TX_KB':>7} {'RX_KB':>7} MS"
    )


def _format(session: Session, options: Options) -> str:
    return (
        f"{time_column(options, session.time)}{session.pid:>7} {session.comm:<16} {session.saddr!s:<26} "
        f"{session.sport:>5} {session.daddr!s:<26} {session.dport:>5} {session.tx_bytes // 1024:>7} "
        f"{session.rx_bytes // 1024:>7} {session.duration * 1e3:.2f}"
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--port", type=int, help="only sessions with this local or remote port")


TOOL: Tool[Options, Session] = Tool(
    name="tcplife",
    summary="trace TCP sessions as they close: process, addresses, bytes each way, lifetime",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
