"""What the TCP tools share: the ``struct tcp_addrs`` of ``bpf/tools.h`` and its decoding."""

from __future__ import annotations

import ctypes
import ipaddress
import socket

__all__ = ["TcpAddrs", "addresses"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TcpAddrs(ctypes.Structure):
    """``struct tcp_addrs``: addresses (IPv4 in the first 4 bytes), ports in host order, the family."""

    _fields_ = (
        ("saddr", ctypes.c_ubyte * 16),
        ("daddr", ctypes.c_ubyte * 16),
        ("sport", ctypes.c_uint16),
        ("dport", ctypes.c_uint16),
        ("family", ctypes.c_uint16),
        ("pad", ctypes.c_uint16),
    )


def addresses(raw: TcpAddrs) -> tuple[Address, Address]:
    """The source and destination addresses of ``raw`` as ``ipaddress`` objects."""
    size = 4 if raw.family == socket.AF_INET else 16
    source = ipaddress.ip_address(bytes(raw.saddr)[:size])
    destination = ipaddress.ip_address(bytes(raw.daddr)[:size])
    return source, destination
