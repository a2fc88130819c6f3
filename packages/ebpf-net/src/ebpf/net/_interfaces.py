"""Interfaces: names and indexes, listing, and what is attached to one."""

from __future__ import annotations

import errno
import socket

from ebpf.syscall import AttachType, BpfSyscallError, LinkType, commands, features

from . import _netlink
from ._errors import InterfaceNotFoundError
from ._types import Attachments, Direction, Interface, TcFilter, TcxProgram, XdpStatus

__all__ = [
    "interface_index",
    "interface_name",
    "interfaces",
    "netkit_programs",
    "query",
    "resolve",
    "tc_filters",
    "tcx_programs",
    "xdp_status",
]

_TCX_ATTACH_TYPE = {Direction.INGRESS: AttachType.TCX_INGRESS, Direction.EGRESS: AttachType.TCX_EGRESS}


def _known_names() -> tuple[str, ...]:
    return tuple(name for _, name in socket.if_nameindex())


def resolve(interface: str | int) -> tuple[int, str]:
    """``(index, name)`` of an interface given by name or index.

    Raises:
        TypeError: ``interface`` is neither a str nor an int.
        InterfaceNotFoundError: the caller's network namespace has no such interface.
    """
    if isinstance(interface, bool) or not isinstance(interface, str | int):
        raise TypeError(f"an interface is a name (str) or an index (int), not {type(interface).__name__}")
    try:
        if isinstance(interface, str):
            return socket.if_nametoindex(interface), interface
        return interface, socket.if_indextoname(interface)
    except (OSError, ValueError):
        raise InterfaceNotFoundError(interface, _known_names()) from None


def interface_index(name: str) -> int:
    """The index of the interface called ``name`` in the caller's network namespace.

    Raises:
        InterfaceNotFoundError: there is none.
    """
    if not isinstance(name, str):
        raise TypeError(f"an interface name is a str, not {type(name).__name__}")
    return resolve(name)[0]


def interface_name(index: int) -> str:
    """The name of the interface with this index in the caller's network namespace.

    Raises:
        InterfaceNotFoundError: there is none.
    """
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"an interface index is an int, not {type(index).__name__}")
    return resolve(index)[1]


def interfaces() -> list[Interface]:
    """Every interface of the caller's network namespace, by index, with its XDP programs.

    Raises:
        BpfSyscallError: the netlink request failed.
    """
    return _netlink.dump_links()


def xdp_status(interface: str | int) -> XdpStatus:
    """The XDP programs attached to an interface, by mode.

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the netlink request failed.
    """
    index, _ = resolve(interface)
    return _netlink.get_link(index).xdp


def tc_filters(interface: str | int, direction: Direction | None = None) -> list[TcFilter]:
    """The filters of the interface's ``clsact`` qdisc (both sides, ingress first, without ``direction``).

    Empty when the interface has no ``clsact`` qdisc.

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the netlink request failed.
    """
    index, _ = resolve(interface)
    sides = (direction,) if direction is not None else (Direction.INGRESS, Direction.EGRESS)
    return [f for side in sides for f in _netlink.dump_filters(index, _direction(side))]


def _direction(direction: object) -> Direction:
    if not isinstance(direction, Direction):
        raise TypeError(f"direction must be Direction.INGRESS or Direction.EGRESS, not {direction!r}")
    return direction


def tcx_programs(interface: str | int, direction: Direction) -> list[TcxProgram]:
    """The programs attached through TCX on one side, in the order they run.

    Empty on kernels without TCX (before Linux 6.6).

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused the query.
    """
    index, _ = resolve(interface)
    if not features.link_type_supported(LinkType.TCX):
        return []
    try:
        result = commands.prog_query(index, _TCX_ATTACH_TYPE[_direction(direction)])
    except BpfSyscallError as exc:
        if exc.errno == errno.ENODEV:
            raise InterfaceNotFoundError(interface) from None
        raise
    return [
        TcxProgram(program_id=prog_id, link_id=link_id)
        for prog_id, link_id in zip(
            result.prog_ids, result.link_ids or (0,) * len(result.prog_ids), strict=True
        )
    ]


def netkit_programs(interface: str | int, *, peer: bool = False) -> list[TcxProgram]:
    """The programs attached to a netkit device (its primary side, or with ``peer`` its peer's), in run order.

    Empty when ``interface`` is not a netkit device, and on kernels without
    netkit (before Linux 6.7).

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused the query.
    """
    index, _ = resolve(interface)
    if not features.link_type_supported(LinkType.NETKIT):
        return []
    attach_type = AttachType.NETKIT_PEER if peer else AttachType.NETKIT_PRIMARY
    try:
        result = commands.prog_query(index, attach_type)
    except BpfSyscallError as exc:
        if exc.errno == errno.ENODEV:
            raise InterfaceNotFoundError(interface) from None
        if exc.errno == errno.ENXIO:  # not a netkit device
            return []
        raise
    return [
        TcxProgram(program_id=prog_id, link_id=link_id)
        for prog_id, link_id in zip(
            result.prog_ids, result.link_ids or (0,) * len(result.prog_ids), strict=True
        )
    ]


def query(interface: str | int) -> Attachments:
    """Everything attached to an interface: XDP programs, the ``clsact`` qdisc and its filters, TCX programs.

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: a request failed.
    """
    index, _ = resolve(interface)
    return Attachments(
        interface=_netlink.get_link(index),
        clsact=_netlink.has_clsact(index),
        tc_filters=tuple(tc_filters(index)),
        tcx_ingress=tuple(tcx_programs(index, Direction.INGRESS)),
        tcx_egress=tuple(tcx_programs(index, Direction.EGRESS)),
    )
