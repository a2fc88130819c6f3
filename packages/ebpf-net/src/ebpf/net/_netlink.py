"""The one module that talks to pyroute2: rtnetlink requests for links, XDP, qdiscs and filters.

Everything pyroute2 returns is turned into the plain data of ``_types`` or
plain ints here; no pyroute2 object leaves this module, and pyroute2 is
imported only when a request is made, so importing ``ebpf.net`` does not
import it. Each request opens its own rtnetlink socket (created in the
namespace given, else the calling thread's) and closes it.

pyroute2 does not know the newest ``cls_bpf`` attributes (``TCA_BPF_TAG``,
``TCA_BPF_ID``, the program's id): a filter's options are read from the raw
message, whose layout is fixed by ``<linux/rtnetlink.h>`` and
``<linux/pkt_cls.h>``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar, cast

from ebpf.syscall import BpfSyscallError, HasFileno

from ._errors import InterfaceNotFoundError, netlink_error
from ._netns import entered
from ._types import Direction, Interface, TcFilter, XdpStatus

__all__ = [
    "ETH_P_ALL",
    "TC_H_CLSACT",
    "add_bpf_filter",
    "add_clsact",
    "del_clsact",
    "del_filter",
    "dump_filters",
    "dump_links",
    "get_link",
    "has_clsact",
    "set_xdp",
]

T = TypeVar("T")

ETH_P_ALL = 0x0003
TC_H_CLSACT = 0xFFFFFFF1
# TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS)
_PARENT = {Direction.INGRESS: 0xFFFFFFF2, Direction.EGRESS: 0xFFFFFFF3}
_IFF_UP = 0x1

# <linux/if_link.h>: IFLA_XDP_* and XDP_FLAGS_*
_XDP_FLAGS_REPLACE = 1 << 4

# <linux/rtnetlink.h>, <linux/pkt_cls.h>: a filter message is an nlmsghdr
# (16 bytes) and a struct tcmsg (20 bytes), then attributes.
_TCMSG_END = 16 + 20
_RTA = struct.Struct("=HH")
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
_TCA_KIND, _TCA_OPTIONS = 1, 2
_TCA_BPF_NAME, _TCA_BPF_FLAGS, _TCA_BPF_TAG, _TCA_BPF_ID = 7, 8, 10, 11
_TCA_BPF_FLAG_ACT_DIRECT = 1
_U32 = struct.Struct("=I")


class _Message(Protocol):
    """What this module uses of a decoded pyroute2 message."""

    data: bytes
    offset: int
    length: int

    def get(self, key: str, default: object = None) -> object: ...

    def get_attr(self, name: str, default: object = None) -> object: ...

    def get_nested(self, *names: str) -> object: ...


class _IPRoute(Protocol):
    """What this module uses of ``pyroute2.IPRoute``."""

    def link(self, command: str, **kwargs: object) -> Sequence[_Message]: ...

    def tc(
        self,
        command: str,
        kind: str | None = None,
        index: int | None = None,
        handle: int = 0,
        **kwargs: object,
    ) -> Sequence[_Message]: ...

    def get_qdiscs(self, index: int | None = None) -> Sequence[_Message]: ...

    def get_filters(self, index: int = 0, handle: int = 0, parent: int = 0) -> Sequence[_Message]: ...

    def close(self) -> None: ...


@contextlib.contextmanager
def _session(netns: HasFileno | None) -> Iterator[_IPRoute]:
    from pyroute2 import IPRoute

    with entered(netns):
        ipr = cast(_IPRoute, IPRoute(ext_ack=True))
    try:
        yield ipr
    finally:
        ipr.close()


def _request(command: str, context: str, call: Callable[[], T]) -> T:
    """Run one pyroute2 call; its ``NetlinkError`` becomes ours, with the kernel's extack sentence."""
    from pyroute2.netlink.exceptions import NetlinkError as Pyroute2NetlinkError

    try:
        return call()
    except Pyroute2NetlinkError as exc:
        code = int(exc.code)
        text = str(exc.args[1]) if len(exc.args) > 1 and exc.args[1] else ""
        extack = "" if text == os.strerror(code) else text
        raise netlink_error(code, command, context, extack) from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _xdp_status(msg: _Message) -> XdpStatus:
    xdp = cast("_Message | None", msg.get_attr("IFLA_XDP"))
    if xdp is None:
        return XdpStatus()
    return XdpStatus(
        generic_program_id=_int(xdp.get_attr("IFLA_XDP_SKB_PROG_ID")),
        native_program_id=_int(xdp.get_attr("IFLA_XDP_DRV_PROG_ID")),
        offload_program_id=_int(xdp.get_attr("IFLA_XDP_HW_PROG_ID")),
    )


def _interface(msg: _Message) -> Interface:
    address = _str(msg.get_attr("IFLA_ADDRESS"))
    return Interface(
        index=_int(msg.get("index")),
        name=_str(msg.get_attr("IFLA_IFNAME")),
        kind=_str(msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")),
        up=bool(_int(msg.get("flags")) & _IFF_UP),
        mtu=_int(msg.get_attr("IFLA_MTU")),
        address="" if address == "00:00:00:00:00:00" else address,
        xdp=_xdp_status(msg),
    )


def dump_links(netns: HasFileno | None = None) -> list[Interface]:
    """Every interface of the namespace (``RTM_GETLINK`` dump), by index.

    Raises:
        BpfSyscallError: the request failed.
    """
    with _session(netns) as ipr:
        msgs = _request("RTM_GETLINK", "listing interfaces", lambda: tuple(ipr.link("dump")))
    return sorted((_interface(msg) for msg in msgs), key=lambda i: i.index)


def get_link(index: int, netns: HasFileno | None = None) -> Interface:
    """The interface with this index.

    Raises:
        InterfaceNotFoundError: there is none.
        BpfSyscallError: the request failed otherwise.
    """
    with _session(netns) as ipr:
        try:
            msgs = _request(
                "RTM_GETLINK", f"reading interface {index}", lambda: tuple(ipr.link("get", index=index))
            )
        except BpfSyscallError as exc:
            if exc.errno == errno.ENODEV:
                raise InterfaceNotFoundError(index) from None
            raise
    return _interface(msgs[0])


def set_xdp(
    index: int, fd: int, flags: int, expected_fd: int | None, context: str, netns: HasFileno | None = None
) -> None:
    """``RTM_SETLINK`` with ``IFLA_XDP``: attach program ``fd`` (or detach with ``fd=-1``).

    With ``expected_fd`` the kernel acts only if that program is the one
    attached (``XDP_FLAGS_REPLACE``; ``EEXIST`` otherwise).

    Raises:
        NetlinkError: the kernel refused (``EBUSY``: a program is attached
            and ``XDP_FLAGS_UPDATE_IF_NOEXIST`` was given, or a bpf_link holds it).
    """
    attrs: list[tuple[str, int]] = [("IFLA_XDP_FD", fd)]
    if expected_fd is not None:
        flags |= _XDP_FLAGS_REPLACE
        attrs.append(("IFLA_XDP_EXPECTED_FD", expected_fd))
    attrs.append(("IFLA_XDP_FLAGS", flags))
    with _session(netns) as ipr:
        _request("RTM_SETLINK", context, lambda: ipr.link("set", index=index, xdp={"attrs": attrs}))


def has_clsact(index: int, netns: HasFileno | None = None) -> bool:
    """Whether the interface has a ``clsact`` qdisc.

    Raises:
        BpfSyscallError: the request failed.
    """
    with _session(netns) as ipr:
        msgs = _request("RTM_GETQDISC", "listing qdiscs", lambda: tuple(ipr.get_qdiscs(index)))
    return any(_int(msg.get("index")) == index and _str(msg.get_attr("TCA_KIND")) == "clsact" for msg in msgs)


def add_clsact(index: int, context: str, netns: HasFileno | None = None) -> None:
    """Add a ``clsact`` qdisc.

    Raises:
        NetlinkError: ``EEXIST`` when the interface has one already.
    """
    with _session(netns) as ipr:
        _request("RTM_NEWQDISC", context, lambda: ipr.tc("add", "clsact", index))


def del_clsact(index: int, context: str, netns: HasFileno | None = None) -> None:
    """Remove the ``clsact`` qdisc, with every filter it holds.

    Raises:
        NetlinkError: the kernel refused (``EINVAL``/``ENOENT`` when there is none).
    """
    with _session(netns) as ipr:
        _request("RTM_DELQDISC", context, lambda: ipr.tc("del", "clsact", index))


def _attributes(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(type, payload)`` of each netlink attribute in ``data``; stops at a truncated one."""
    pos = 0
    while pos + _RTA.size <= len(data):
        length, kind = _RTA.unpack_from(data, pos)
        if length < _RTA.size or pos + length > len(data):
            return
        yield kind & _NLA_TYPE_MASK, data[pos + _RTA.size : pos + length]
        pos += (length + 3) & ~3


def _filter(msg: _Message, index: int, direction: Direction) -> TcFilter | None:
    raw = bytes(msg.data[msg.offset : msg.offset + msg.length])
    kind, options = "", b""
    for attr, payload in _attributes(raw[_TCMSG_END:]):
        if attr == _TCA_KIND:
            kind = payload.rstrip(b"\0").decode(errors="replace")
        elif attr == _TCA_OPTIONS:
            options = payload
    handle = _int(msg.get("handle"))
    if not options or not handle:
        return None  # the chain/priority head the kernel reports before the filters
    info = _int(msg.get("info"))
    name, program_id, tag, flags = "", 0, "", 0
    if kind == "bpf":
        for attr, payload in _attributes(options):
            if attr == _TCA_BPF_NAME:
                name = payload.rstrip(b"\0").decode(errors="replace")
            elif attr == _TCA_BPF_ID and len(payload) >= 4:
                program_id = _U32.unpack_from(payload)[0]
            elif attr == _TCA_BPF_TAG:
                tag = payload.hex()
            elif attr == _TCA_BPF_FLAGS and len(payload) >= 4:
                flags = _U32.unpack_from(payload)[0]
    return TcFilter(
        ifindex=index,
        direction=direction,
        kind=kind,
        priority=info >> 16,
        handle=handle,
        protocol=socket.ntohs(info & 0xFFFF),
        name=name,
        program_id=program_id,
        tag=tag,
        direct_action=bool(flags & _TCA_BPF_FLAG_ACT_DIRECT),
    )


def dump_filters(index: int, direction: Direction, netns: HasFileno | None = None) -> list[TcFilter]:
    """The filters of the interface's ``clsact`` qdisc on one side (none without the qdisc).

    Raises:
        BpfSyscallError: the request failed.
    """
    with _session(netns) as ipr:
        msgs = _request(
            "RTM_GETTFILTER",
            f"listing {direction.value} filters",
            lambda: tuple(ipr.get_filters(index=index, parent=_PARENT[direction])),
        )
    found = (_filter(msg, index, direction) for msg in msgs if _int(msg.get("index")) == index)
    return [f for f in found if f is not None]


def add_bpf_filter(
    index: int,
    direction: Direction,
    program_fd: int,
    *,
    priority: int,
    handle: int,
    protocol: int,
    name: str,
    replace: bool,
    context: str,
    netns: HasFileno | None = None,
) -> None:
    """Add (or, with ``replace``, add or replace) a ``cls_bpf`` filter in direct-action mode.

    Raises:
        NetlinkError: the kernel refused (``EEXIST``: that priority and
            handle are taken and ``replace`` is false).
    """
    command = "replace-filter" if replace else "add-filter"
    with _session(netns) as ipr:
        _request(
            "RTM_NEWTFILTER",
            context,
            lambda: ipr.tc(
                command,
                "bpf",
                index,
                handle,
                parent=_PARENT[direction],
                prio=priority,
                protocol=protocol,
                fd=program_fd,
                name=name,
                direct_action=True,
            ),
        )


def del_filter(
    index: int,
    direction: Direction,
    *,
    kind: str,
    priority: int,
    handle: int,
    protocol: int,
    context: str,
    netns: HasFileno | None = None,
) -> None:
    """Delete one filter.

    Raises:
        NetlinkError: the kernel refused (``ENOENT``: no such filter).
    """
    with _session(netns) as ipr:
        _request(
            "RTM_DELTFILTER",
            context,
            lambda: ipr.tc(
                "del-filter", kind, index, handle, parent=_PARENT[direction], prio=priority, protocol=protocol
            ),
        )
