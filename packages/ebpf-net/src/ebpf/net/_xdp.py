"""XDP: attach through a kernel bpf_link (Linux 5.9) or through netlink, detach, programs in map entries."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import struct
import weakref
from dataclasses import dataclass

from ebpf.progs import BpfLink, Link, LinkInfo, Program
from ebpf.syscall import (
    FD,
    AttachType,
    BpfSyscallError,
    HasFileno,
    LinkType,
    ProgType,
    commands,
    features,
    objects,
)
from ebpf.syscall.errors import syscall_error

from . import _netlink
from ._errors import ModeNotSupportedError
from ._interfaces import resolve
from ._netlink_link import NetlinkLink
from ._netns import current_netns
from ._types import XdpMode, XdpStatus

__all__ = [
    "CpumapEntry",
    "DevmapEntry",
    "NetlinkXdpLink",
    "XdpLink",
    "attach_xdp",
    "cpumap_value",
    "detach_xdp",
    "devmap_value",
]

log = logging.getLogger("ebpf.net")

_XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
_MODES = (XdpMode.GENERIC, XdpMode.NATIVE, XdpMode.OFFLOAD)
_MAP_VALUE = struct.Struct("=Ii")  # struct bpf_devmap_val / bpf_cpumap_val: u32, then the program fd
_MAP_VALUE_ID = struct.Struct("=II")  # as the kernel reads them back: the program id


def _check_program(program: object, what: str) -> Program:
    if not isinstance(program, Program):
        raise TypeError(f"{what} needs a Program, not {type(program).__name__}")
    program.fileno()  # ValueError once closed
    return program


def _type_name(program: Program) -> str:
    return program.type.name if isinstance(program.type, ProgType) else str(program.type)


def _check_xdp(program: object) -> Program:
    prog = _check_program(program, "attach_xdp")
    if prog.type != ProgType.XDP:
        raise TypeError(
            f"attach_xdp needs an XDP program; {prog.name or 'the program'!r} is {_type_name(prog)}"
        )
    if prog.expected_attach_type in (AttachType.XDP_DEVMAP, AttachType.XDP_CPUMAP):
        raise TypeError(
            f"{prog.name or 'the program'!r} was loaded for {prog.expected_attach_type.name}: it runs from "
            "map entries (devmap_value/cpumap_value), not on an interface"
        )
    return prog


def _check_mode(mode: object) -> XdpMode | None:
    if mode is not None and not isinstance(mode, XdpMode):
        raise TypeError(f"mode must be an XdpMode (GENERIC, NATIVE, OFFLOAD) or None, not {mode!r}")
    return mode


def _open_program(program: Program | int) -> FD:
    """A descriptor of a program given as a ``Program`` or by id."""
    if isinstance(program, Program):
        return FD(os.dup(program.fileno()))
    if isinstance(program, bool) or not isinstance(program, int):
        raise TypeError(f"expected must be a Program or a program id, not {type(program).__name__}")
    return commands.prog_get_fd_by_id(program)


def _mode_error(
    exc: BpfSyscallError, name: str, mode: XdpMode | None
) -> BpfSyscallError | ModeNotSupportedError:
    """``EOPNOTSUPP`` in native or offload mode means the driver lacks the mode."""
    if exc.errno == errno.EOPNOTSUPP and mode in (XdpMode.NATIVE, XdpMode.OFFLOAD):
        detail = getattr(exc, "extack", "") or os.strerror(errno.EOPNOTSUPP)
        return ModeNotSupportedError(name, mode.label, detail)
    return exc


def _attached_mode(status: XdpStatus, program_id: int, asked: XdpMode | None) -> XdpMode:
    if asked is not None:
        return asked
    for mode in _MODES:
        if status.program_id(mode) == program_id:
            return mode
    return XdpMode.GENERIC


class XdpLink(BpfLink):
    """An XDP program attached through a kernel bpf_link (Linux 5.9).

    Closing the last descriptor detaches it, so a process that dies, even by
    ``SIGKILL``, leaves nothing attached unless the link was pinned.
    [`update()`][ebpf.progs.BpfLink.update] swaps the program atomically.

    Attributes:
        ifindex: the interface's index.
        interface: the interface's name when attached.
        mode: where the program runs.
    """

    def __init__(self, fd: FD, ifindex: int, interface: str, mode: XdpMode) -> None:
        """Take ownership of link descriptor ``fd``; [`attach_xdp()`][ebpf.net.attach_xdp] makes these."""
        super().__init__(fd, f"XDP ({mode.label}) on {interface}")
        self.ifindex = ifindex
        self.interface = interface
        self.mode = mode

    def info(self) -> LinkInfo:
        return dataclasses.replace(super().info(), attach_type=AttachType.XDP)


def _netlink_detach(ifindex: int, mode: XdpMode, program: FD, netns: FD, target: str) -> None:
    """Detach ``program`` if it is still the one attached in ``mode`` (``XDP_FLAGS_REPLACE``)."""
    try:
        _netlink.set_xdp(ifindex, -1, mode, program.fileno(), f"detaching XDP from {target}", netns)
    except BpfSyscallError as exc:
        if exc.errno == errno.EEXIST:
            log.info("%s: another program replaced ours; it stays attached", target)
        elif exc.errno != errno.ENODEV:
            log.warning("detaching XDP from %s: %s", target, exc)
    finally:
        program.close()
        netns.close()


class NetlinkXdpLink(NetlinkLink):
    """An XDP program attached through netlink (``IFLA_XDP``): what kernels before 5.9 offer.

    Closing detaches it, only if it is still the program attached (another
    program put there since is left alone). Unlike a bpf_link, the
    attachment survives a process that dies without closing it, and it
    cannot be pinned. It remembers its network namespace, so closing it
    acts there whatever namespace the closing thread is in.

    Attributes:
        ifindex: the interface's index.
        interface: the interface's name when attached.
        mode: where the program runs.
    """

    _attach_type = AttachType.XDP

    def __init__(self, program: FD, program_id: int, ifindex: int, interface: str, mode: XdpMode) -> None:
        """Own ``program``, a descriptor of the attached program; [`attach_xdp()`][ebpf.net.attach_xdp] makes
        these."""
        super().__init__(f"XDP ({mode.label}) on {interface}")
        self.ifindex = ifindex
        self.interface = interface
        self.mode = mode
        self._program = program
        self._program_id = program_id
        self._netns = current_netns()
        self._finalizer = weakref.finalize(
            self, _netlink_detach, ifindex, mode, program, self._netns, self.target
        )

    def update(self, program: HasFileno) -> None:
        """Put ``program`` in place of the attached one, atomically (``XDP_FLAGS_REPLACE``).

        Raises:
            ValueError: the link is closed.
            TypeError: ``program`` is not an XDP [`Program`][ebpf.progs.Program].
            NetlinkError: the kernel refused (``EEXIST``: the attached program
                is no longer this link's).
        """
        with self._lock:
            if self.closed:
                raise ValueError("the link is closed")
            new = _check_xdp(program)
            _netlink.set_xdp(
                self.ifindex,
                new.fileno(),
                self.mode,
                self._program.fileno(),
                f"replacing the program of {self.target}",
                self._netns,
            )
            fd = FD(os.dup(new.fileno()))
            self._finalizer.detach()
            self._program.close()
            self._program, self._program_id = fd, objects.get_program_info(fd).id
            self._finalizer = weakref.finalize(
                self, _netlink_detach, self.ifindex, self.mode, fd, self._netns, self.target
            )


def attach_xdp(
    program: Program,
    interface: str | int,
    mode: XdpMode | None = None,
    *,
    link: bool | None = None,
    replace: bool = False,
    expected: Program | int | None = None,
) -> Link:
    """Attach an XDP program to an interface of the caller's network namespace.

    By default a program already attached in that mode is an error
    (``EBUSY``): ``replace=True`` replaces whatever is there, ``expected``
    replaces only that program (``EEXIST`` if another one is attached).
    Replacement is atomic: every packet sees the old or the new program.

    The kernel bpf_link (Linux 5.9) is used where it exists and no
    replacement was asked, since it detaches when the process dies; else
    netlink. Both return a [`Link`][ebpf.progs.Link]: close it (or leave its
    ``with`` block) to detach, ``update()`` to swap the program.

    Args:
        program: a loaded ``XDP`` program.
        interface: its name or index.
        mode: ``XdpMode.GENERIC``, ``NATIVE`` or ``OFFLOAD``; ``None`` lets
            the kernel choose (native where the driver has it, else generic).
        link: ``True`` to insist on a bpf_link, ``False`` for netlink,
            ``None`` to choose as above.
        replace: replace any program attached in that mode (netlink only).
        expected: replace only this program (a ``Program`` or an id; netlink only).

    Returns:
        an [`XdpLink`][ebpf.net.XdpLink] or a [`NetlinkXdpLink`][ebpf.net.NetlinkXdpLink].

    Raises:
        TypeError: not an XDP program (or one loaded for devmap/cpumap
            entries), or a bad ``mode``.
        ValueError: a closed program, ``replace``/``expected`` with
            ``link=True``, or ``OFFLOAD`` with a program not loaded for
            that device.
        InterfaceNotFoundError: no such interface.
        NotSupportedError: ``link=True`` on a kernel without XDP links.
        ModeNotSupportedError: the driver does not support the mode.
        BpfSyscallError: the kernel refused (``EBUSY``: a program is
            attached already; ``EEXIST``: ``expected`` is not attached).
            Nothing is changed on the interface when an exception is raised.
    """
    prog = _check_xdp(program)
    mode = _check_mode(mode)
    index, name = resolve(interface)
    if link and (replace or expected is not None):
        raise ValueError(
            "a bpf_link cannot replace an attached program: use link=False with replace or expected"
        )
    if mode is XdpMode.OFFLOAD and prog.info(instructions=False).ifindex != index:
        raise ValueError(
            f"XDP offload mode needs a program loaded for {name!r} "
            f"(Program.load(spec, ifindex={index})) on a NIC that offloads XDP"
        )
    if link is None:
        link = not replace and expected is None and features.link_type_supported(LinkType.XDP)
    elif link:
        features.link_type_feature(LinkType.XDP).require()
    context = f"attaching XDP program {prog.name!r} to {name}"
    if link:
        try:
            fd = commands.link_create(prog, index, AttachType.XDP, flags=int(mode or 0))
        except BpfSyscallError as exc:
            raise _mode_error(syscall_error(exc.errno or 0, exc.command, context), name, mode) from None
        try:
            actual = _attached_mode(_netlink.get_link(index).xdp, prog.id, mode)
        except BaseException:
            fd.close()
            raise
        return XdpLink(fd, index, name, actual)
    with contextlib.ExitStack() as stack:
        expected_fd = stack.enter_context(_open_program(expected)) if expected is not None else None
        flags = int(mode or 0) | (0 if replace or expected is not None else _XDP_FLAGS_UPDATE_IF_NOEXIST)
        try:
            _netlink.set_xdp(
                index, prog.fileno(), flags, expected_fd.fileno() if expected_fd else None, context
            )
        except BpfSyscallError as exc:
            raise _mode_error(exc, name, mode) from None
    program_id = prog.id
    fd = FD(os.dup(prog.fileno()))
    try:
        actual = _attached_mode(_netlink.get_link(index).xdp, program_id, mode)
    except BaseException:
        _netlink_detach(index, mode or XdpMode.GENERIC, fd, current_netns(), name)
        raise
    return NetlinkXdpLink(fd, program_id, index, name, actual)


def detach_xdp(
    interface: str | int, mode: XdpMode | None = None, *, expected: Program | int | None = None
) -> bool:
    """Detach the XDP program attached through netlink (by anyone) to an interface.

    Programs held by a bpf_link are detached by closing (or ``detach()``-ing)
    the link, not here.

    Args:
        interface: its name or index.
        mode: the mode to clear; ``None`` clears every mode that has a program.
        expected: detach only if this program (a ``Program`` or an id) is the one attached.

    Returns:
        whether a program was attached.

    Raises:
        TypeError: a bad ``mode`` or ``expected``.
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused (``EBUSY``: a bpf_link holds the
            program; ``EEXIST``: another program than ``expected`` is attached).
    """
    mode = _check_mode(mode)
    index, name = resolve(interface)
    status = _netlink.get_link(index).xdp
    modes = [m for m in ((mode,) if mode is not None else _MODES) if status.program_id(m)]
    with contextlib.ExitStack() as stack:
        expected_fd = stack.enter_context(_open_program(expected)) if expected is not None else None
        for m in modes:
            _netlink.set_xdp(
                index,
                -1,
                m,
                expected_fd.fileno() if expected_fd else None,
                f"detaching the {m.label} XDP program of {name}",
            )
    return bool(modes)


# -------------------------------------------------------------- map entries


def _check_map_program(program: Program | None, attach_type: AttachType, what: str) -> int:
    if program is None:
        return 0
    prog = _check_program(program, what)
    if prog.type != ProgType.XDP or prog.expected_attach_type != attach_type:
        raise TypeError(
            f"{what} needs an XDP program loaded with expected_attach_type {attach_type.name} "
            f"(section 'xdp/{attach_type.name.removeprefix('XDP_').lower()}'); "
            f"{prog.name or 'the program'!r} is {_type_name(prog)} for {prog.expected_attach_type}"
        )
    return prog.fileno()


def devmap_value(interface: str | int, program: Program | None = None) -> bytes:
    """A ``DEVMAP``/``DEVMAP_HASH`` value (``struct bpf_devmap_val``, 8 bytes): redirect to ``interface``.

    With ``program``, an XDP program loaded with expected_attach_type
    ``XDP_DEVMAP``, the kernel runs it on each redirected packet before it
    is sent. Store the bytes with ``Map.update``/``commands.map_update_elem``
    into a map whose value size is 8.

    Raises:
        TypeError: ``program`` is not a devmap XDP program.
        InterfaceNotFoundError: no such interface.
    """
    fd = _check_map_program(program, AttachType.XDP_DEVMAP, "devmap_value")
    index, _ = resolve(interface)
    return _MAP_VALUE.pack(index, fd)


def cpumap_value(queue_size: int, program: Program | None = None) -> bytes:
    """A ``CPUMAP`` value (``struct bpf_cpumap_val``, 8 bytes): a queue of ``queue_size`` packets.

    With ``program``, an XDP program loaded with expected_attach_type
    ``XDP_CPUMAP``, the kernel runs it on the target CPU for each packet.

    Raises:
        TypeError: ``program`` is not a cpumap XDP program.
        ValueError: ``queue_size`` is not between 1 and 2**32-1.
    """
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or not 0 < queue_size <= 0xFFFFFFFF:
        raise ValueError(f"queue_size must be between 1 and 2**32-1, not {queue_size!r}")
    return _MAP_VALUE.pack(queue_size, _check_map_program(program, AttachType.XDP_CPUMAP, "cpumap_value"))


def _value_and_program_id(value: bytes | bytearray | memoryview, what: str) -> tuple[int, int]:
    """A devmap or cpumap value: a u32 (interface or queue size), then the program id if 8 bytes long.

    Raises:
        ValueError: neither 4 nor 8 bytes.
    """
    data = bytes(value)
    if len(data) == 4:
        return struct.unpack("=I", data)[0], 0
    if len(data) != _MAP_VALUE_ID.size:
        raise ValueError(f"a {what} value has 4 or 8 bytes, not {len(data)}")
    first, program_id = _MAP_VALUE_ID.unpack(data)
    return first, program_id


@dataclass(frozen=True)
class DevmapEntry:
    """A ``DEVMAP`` value as the kernel reports it.

    Attributes:
        ifindex: the interface packets are redirected to.
        program_id: the id of the program run on them (0: none).
    """

    ifindex: int
    program_id: int

    @classmethod
    def decode(cls, value: bytes | bytearray | memoryview) -> DevmapEntry:
        """Read a 4-byte (interface only) or 8-byte value.

        Raises:
            ValueError: another size.
        """
        return cls(*_value_and_program_id(value, "devmap"))


@dataclass(frozen=True)
class CpumapEntry:
    """A ``CPUMAP`` value as the kernel reports it.

    Attributes:
        queue_size: the size of the CPU's queue.
        program_id: the id of the program run on the CPU (0: none).
    """

    queue_size: int
    program_id: int

    @classmethod
    def decode(cls, value: bytes | bytearray | memoryview) -> CpumapEntry:
        """Read a 4-byte (queue size only) or 8-byte value.

        Raises:
            ValueError: another size.
        """
        return cls(*_value_and_program_id(value, "cpumap"))
