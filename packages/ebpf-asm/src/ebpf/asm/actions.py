"""Return codes that give a program's verdict, by program type.

The value a program leaves in ``R0`` means something different for each
program type: an XDP action, a TC action, a cgroup allow/deny, an errno for
LSM, a byte count for socket filters. The values are those of the kernel
UAPI headers (``linux/bpf.h``, ``linux/pkt_cls.h``).

Examples:
    >>> from ebpf.asm import mov, exit_, R0
    >>> [mov(R0, XdpAction.PASS), exit_()][0].imm
    2
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "CgroupVerdict",
    "FlowDissectorVerdict",
    "NetfilterVerdict",
    "SkVerdict",
    "TcAction",
    "TcxAction",
    "XdpAction",
    "lsm_allow",
    "lsm_deny",
    "socket_filter_keep",
]


class XdpAction(IntEnum):
    """``enum xdp_action``: what happens to the packet after an XDP program."""

    ABORTED = 0
    DROP = 1
    PASS = 2
    TX = 3
    REDIRECT = 4


class TcAction(IntEnum):
    """``TC_ACT_*``: the verdict of a ``cls_bpf`` program in direct-action mode."""

    UNSPEC = -1
    OK = 0
    RECLASSIFY = 1
    SHOT = 2
    PIPE = 3
    STOLEN = 4
    QUEUED = 5
    REPEAT = 6
    REDIRECT = 7
    TRAP = 8


class TcxAction(IntEnum):
    """``enum tcx_action_base``: the verdict of a TCX program (Linux 6.6)."""

    NEXT = -1
    PASS = 0
    DROP = 2
    REDIRECT = 7


class CgroupVerdict(IntEnum):
    """cgroup programs (skb, sock, sock_addr, device, sysctl, sockopt): 1 allows, 0 denies.

    ``cgroup_skb`` egress programs may also return 2 and 3 (allow/deny and
    ask for congestion notification).
    """

    DENY = 0
    ALLOW = 1
    DENY_CN = 2
    ALLOW_CN = 3


class SkVerdict(IntEnum):
    """``enum sk_action``: ``sk_skb``, ``sk_msg``, ``sk_reuseport`` and ``sk_lookup`` programs."""

    DROP = 0
    PASS = 1


class FlowDissectorVerdict(IntEnum):
    """``enum bpf_ret_code`` as flow dissector programs use it."""

    OK = 0
    DROP = 2


class NetfilterVerdict(IntEnum):
    """Netfilter programs (Linux 6.4): ``NF_DROP`` or ``NF_ACCEPT``."""

    DROP = 0
    ACCEPT = 1


def lsm_allow() -> int:
    """The return value of an LSM program that lets the operation go on: 0."""
    return 0


def lsm_deny(errno: int) -> int:
    """The return value of an LSM program that refuses with ``errno`` (``lsm_deny(errno.EPERM)`` is -1).

    Raises:
        ValueError: ``errno`` is not between 1 and 4095 (the kernel's ``MAX_ERRNO``).
    """
    if isinstance(errno, bool) or not isinstance(errno, int) or not 0 < errno < 4096:
        raise ValueError(f"lsm_deny: errno must be between 1 and 4095, not {errno!r}")
    return -errno


def socket_filter_keep(nbytes: int | None = None) -> int:
    """The return value of a socket filter: keep ``nbytes`` of the packet (0: drop it).

    ``None`` keeps all of it: -1, which the kernel reads as the unsigned
    length 2**32-1 (and which ``mov`` takes as an immediate).

    Raises:
        ValueError: ``nbytes`` is negative or over 2**32-1.
    """
    if nbytes is None:
        return -1
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or not 0 <= nbytes <= 0xFFFFFFFF:
        raise ValueError(f"socket_filter_keep: nbytes must be between 0 and 2**32-1 or None, not {nbytes!r}")
    return nbytes
