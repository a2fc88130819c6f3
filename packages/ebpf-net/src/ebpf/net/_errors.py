"""The exceptions of ``ebpf.net``, all under ``ebpf.syscall``'s [`EbpfError`][ebpf.syscall.EbpfError]."""

from __future__ import annotations

import errno as _errno

from ebpf.syscall import BpfSyscallError, EbpfError, NotSupportedError
from ebpf.syscall.errors import syscall_error

__all__ = ["InterfaceNotFoundError", "ModeNotSupportedError", "NetlinkError", "netlink_error"]


class NetlinkError(BpfSyscallError):
    """A netlink request (``RTM_SETLINK``, ``RTM_NEWTFILTER``...) failed.

    A [`BpfSyscallError`][ebpf.syscall.BpfSyscallError] (so an ``OSError`` with ``errno``) like every
    failed kernel call of the library, whatever the mechanism.

    Attributes:
        extack: the kernel's extended acknowledgement, the sentence it gave
            for refusing (``"Native and generic XDP can't be active at the
            same time"``), or ``""``.
    """

    def __init__(self, err: int, command: str, context: str = "", extack: str = "") -> None:
        self.extack = extack
        super().__init__(err, command, context, f"the kernel said: {extack}" if extack else "")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errno, self.command, self.context, self.extack))


class InterfaceNotFoundError(EbpfError, LookupError):
    """No network interface has this name or index in the caller's network namespace.

    Attributes:
        interface: the name or index asked for.
    """

    def __init__(self, interface: str | int, known: tuple[str, ...] = ()) -> None:
        self.interface = interface
        self.known = known
        message = f"no network interface {interface!r} in this network namespace"
        if known:
            message += f" (it has: {', '.join(known)})"
        super().__init__(message)

    def __str__(self) -> str:  # LookupError subclasses would repr() a KeyError-like message
        return str(self.args[0])

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.interface, self.known))


class ModeNotSupportedError(NotSupportedError):
    """An interface's driver refused an XDP mode (native without driver support, offload without a NIC).

    Attributes:
        interface: the interface's name.
        mode: the mode's name (``"native"``, ``"offload"``).
    """

    def __init__(self, interface: str, mode: str, detail: str = "") -> None:
        self.interface = interface
        self.mode = mode
        super().__init__(f"XDP {mode} mode on interface {interface!r}", None, detail)
        # NotSupportedError words the message for a kernel; here the driver decides.
        message = f"interface {interface!r} does not support XDP {mode} mode"
        self.args = (f"{message}: {detail}" if detail else message,)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.interface, self.mode))


def netlink_error(err: int, command: str, context: str, extack: str = "") -> BpfSyscallError:
    """The right exception for a failed netlink request: permission errors name ``CAP_NET_ADMIN``."""
    if err in (_errno.EPERM, _errno.EACCES):
        return syscall_error(err, command, context, capability="CAP_NET_ADMIN")
    return NetlinkError(err, command, context, extack)
