"""Plain data of ``ebpf.net``: modes, directions, and what a query reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Attachments", "Direction", "Interface", "TcFilter", "TcxProgram", "XdpMode", "XdpStatus"]


class XdpMode(enum.IntEnum):
    """Where an XDP program runs; the values are the kernel's ``XDP_FLAGS_*_MODE`` flags.

    ``GENERIC`` (``SKB``) works on every interface, after the kernel built
    an skb; ``NATIVE`` (``DRV``) runs in the driver and needs its support;
    ``OFFLOAD`` (``HW``) runs on the NIC and needs a program loaded for that
    device (``Program.load(spec, ifindex=...)``).
    """

    GENERIC = 1 << 1
    NATIVE = 1 << 2
    OFFLOAD = 1 << 3
    SKB = GENERIC
    DRV = NATIVE
    HW = OFFLOAD

    @property
    def label(self) -> str:
        """``"generic"``, ``"native"`` or ``"offload"``."""
        return self.name.lower()


class Direction(enum.Enum):
    """The side of an interface a TC program sees: packets received or packets sent."""

    INGRESS = "ingress"
    EGRESS = "egress"


@dataclass(frozen=True)
class XdpStatus:
    """The XDP programs attached to an interface, by mode (0: none in that mode).

    Attributes:
        generic_program_id: the program id in generic (skb) mode.
        native_program_id: the program id in native (driver) mode.
        offload_program_id: the program id offloaded to the NIC.
    """

    generic_program_id: int = 0
    native_program_id: int = 0
    offload_program_id: int = 0

    def program_id(self, mode: XdpMode) -> int:
        """The id of the program attached in ``mode`` (0 for none)."""
        return {
            XdpMode.GENERIC: self.generic_program_id,
            XdpMode.NATIVE: self.native_program_id,
            XdpMode.OFFLOAD: self.offload_program_id,
        }[mode]

    @property
    def modes(self) -> tuple[XdpMode, ...]:
        """The modes that have a program."""
        return tuple(
            mode for mode in (XdpMode.GENERIC, XdpMode.NATIVE, XdpMode.OFFLOAD) if self.program_id(mode)
        )

    @property
    def attached(self) -> bool:
        """Whether any XDP program is attached."""
        return bool(self.modes)


@dataclass(frozen=True)
class Interface:
    """A network interface of the caller's network namespace.

    Attributes:
        index: the interface index.
        name: its name.
        kind: the link kind (``"veth"``, ``"bridge"``...), ``""`` for physical devices and ``lo``.
        up: whether it is administratively up.
        mtu: its MTU.
        address: its hardware address (``"aa:bb:..."``), ``""`` when it has none.
        xdp: its XDP programs.
    """

    index: int
    name: str
    kind: str
    up: bool
    mtu: int
    address: str
    xdp: XdpStatus


@dataclass(frozen=True)
class TcFilter:
    """A TC filter of a ``clsact`` qdisc.

    Attributes:
        ifindex: the interface index.
        direction: ingress or egress.
        kind: the classifier (``"bpf"`` for eBPF programs, ``"matchall"``...).
        priority: its priority (lower runs first).
        handle: its handle within the priority.
        protocol: the ethertype it matches (``0x0003``, ``ETH_P_ALL``: every packet).
        name: the program's name as given when attaching (``cls_bpf`` only).
        program_id: the program's id (``cls_bpf`` only, else 0).
        tag: the program's tag, as hex (``cls_bpf`` only).
        direct_action: whether the program's return value is the verdict.
    """

    ifindex: int
    direction: Direction
    kind: str
    priority: int
    handle: int
    protocol: int
    name: str = ""
    program_id: int = 0
    tag: str = ""
    direct_action: bool = False


@dataclass(frozen=True)
class TcxProgram:
    """A program attached through TCX, in the order the kernel runs them.

    Attributes:
        program_id: the program's id.
        link_id: the id of the TCX link holding it (0 when attached without a link).
    """

    program_id: int
    link_id: int


@dataclass(frozen=True)
class Attachments:
    """Everything attached to one interface: XDP programs, TC filters, TCX programs.

    Attributes:
        interface: the interface, with its XDP programs.
        clsact: whether it has a ``clsact`` qdisc.
        tc_filters: the filters of that qdisc, ingress first.
        tcx_ingress: the TCX ingress programs in run order (empty before Linux 6.6).
        tcx_egress: the TCX egress programs in run order.
    """

    interface: Interface
    clsact: bool
    tc_filters: tuple[TcFilter, ...]
    tcx_ingress: tuple[TcxProgram, ...]
    tcx_egress: tuple[TcxProgram, ...]

    @property
    def empty(self) -> bool:
        """Whether nothing is attached and there is no ``clsact`` qdisc."""
        return not (
            self.interface.xdp.attached
            or self.clsact
            or self.tc_filters
            or self.tcx_ingress
            or self.tcx_egress
        )
