"""TC: TCX links (Linux 6.6), ``cls_bpf`` filters of a ``clsact`` qdisc through netlink, and the qdisc.

A ``clsact`` qdisc this process added is remembered (per network namespace
and interface): closing the last filter of such a qdisc removes it too,
while a qdisc that was there before is never removed.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import threading
import weakref

from ebpf.progs import BpfLink, Link, LinkInfo, Program
from ebpf.syscall import (
    FD,
    AttachFlags,
    AttachType,
    BpfSyscallError,
    HasFileno,
    LinkType,
    ProgType,
    commands,
    features,
)
from ebpf.syscall.errors import syscall_error

from . import _netlink
from ._interfaces import resolve
from ._netlink_link import NetlinkLink
from ._netns import current_netns, netns_key
from ._types import Direction, TcFilter

__all__ = [
    "ETH_P_ALL",
    "TcFilterLink",
    "TcxLink",
    "add_clsact",
    "attach_tc",
    "attach_tc_filter",
    "attach_tcx",
    "delete_tc_filter",
    "has_clsact",
    "remove_clsact",
    "tcx_revision",
]

log = logging.getLogger("ebpf.net")

ETH_P_ALL = _netlink.ETH_P_ALL
_TCX_ATTACH_TYPE = {Direction.INGRESS: AttachType.TCX_INGRESS, Direction.EGRESS: AttachType.TCX_EGRESS}

# clsact qdiscs this process added, by (network namespace, ifindex).
_created_lock = threading.Lock()
_created: set[tuple[tuple[int, int], int]] = set()


def _check_direction(direction: object) -> Direction:
    if not isinstance(direction, Direction):
        raise TypeError(f"direction must be Direction.INGRESS or Direction.EGRESS, not {direction!r}")
    return direction


def _check_tc_program(program: object, what: str) -> Program:
    if not isinstance(program, Program):
        raise TypeError(f"{what} needs a Program, not {type(program).__name__}")
    program.fileno()  # ValueError once closed
    if program.type != ProgType.SCHED_CLS:
        kind = program.type.name if isinstance(program.type, ProgType) else program.type
        raise TypeError(f"{what} needs a SCHED_CLS program; {program.name or 'the program'!r} is {kind}")
    return program


def _check_range(name: str, value: object, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{name} must be an int between 0 and {high:#x}, not {value!r}")
    return value


# ------------------------------------------------------------------- clsact


def has_clsact(interface: str | int) -> bool:
    """Whether the interface has a ``clsact`` qdisc.

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the netlink request failed.
    """
    index, _ = resolve(interface)
    return _netlink.has_clsact(index)


def add_clsact(interface: str | int) -> bool:
    """Add a ``clsact`` qdisc unless the interface has one.

    This process then owns it: it is removed when the last filter attached
    by this process through it is closed, or by [`remove_clsact()`][ebpf.net.remove_clsact].

    Returns:
        whether it was added (``False``: it was there already).

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused (another root qdisc kind in the way).
    """
    index, name = resolve(interface)
    if _netlink.has_clsact(index):
        return False
    try:
        _netlink.add_clsact(index, f"adding a clsact qdisc to {name}")
    except BpfSyscallError as exc:
        if exc.errno == errno.EEXIST:
            return False
        raise
    with _created_lock:
        _created.add((netns_key(), index))
    return True


def remove_clsact(interface: str | int) -> bool:
    """Remove the interface's ``clsact`` qdisc, with every filter it holds (``tc qdisc del ... clsact``).

    Returns:
        whether there was one.

    Raises:
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused.
    """
    index, name = resolve(interface)
    with _created_lock:
        _created.discard((netns_key(), index))
    if not _netlink.has_clsact(index):
        return False
    _netlink.del_clsact(index, f"removing the clsact qdisc of {name}")
    return True


def _release_clsact(index: int, netns: FD) -> None:
    """Remove a ``clsact`` qdisc this process added once it holds no filter."""
    key = (netns_key(netns), index)
    with _created_lock:
        if key not in _created:
            return
        if any(_netlink.dump_filters(index, side, netns) for side in Direction):
            return
        _created.discard(key)
        _netlink.del_clsact(index, "removing the clsact qdisc added for a filter", netns)


# ------------------------------------------------------------ cls_bpf filters


def _filter_detach(
    ifindex: int, direction: Direction, priority: int, handle: int, program_id: int, netns: FD, target: str
) -> None:
    """Delete the filter if it still runs ``program_id``, then the qdisc if this process added it."""
    try:
        mine = [
            f
            for f in _netlink.dump_filters(ifindex, direction, netns)
            if (f.priority, f.handle, f.program_id) == (priority, handle, program_id)
        ]
        for f in mine:
            _netlink.del_filter(
                ifindex,
                direction,
                kind=f.kind,
                priority=priority,
                handle=handle,
                protocol=f.protocol,
                context=f"deleting {target}",
                netns=netns,
            )
        if not mine:
            log.info("%s: the filter was removed or replaced by someone else; left alone", target)
        _release_clsact(ifindex, netns)
    except BpfSyscallError as exc:
        if exc.errno not in (errno.ENODEV, errno.ENOENT, errno.EINVAL):
            log.warning("deleting %s: %s", target, exc)
    finally:
        netns.close()


class TcFilterLink(NetlinkLink):
    """A ``cls_bpf`` filter in direct-action mode on a ``clsact`` qdisc, made through netlink.

    Closing it deletes the filter (if it still runs this link's program) and
    the ``clsact`` qdisc if this process added it and no filter is left.
    The filter survives a process that dies without closing it. It
    remembers its network namespace, so closing it acts there.

    Attributes:
        ifindex: the interface's index.
        interface: the interface's name when attached.
        direction: ingress or egress.
        priority: the filter's priority.
        handle: the filter's handle.
        name: the name given to the filter.
    """

    def __init__(
        self,
        program_id: int,
        ifindex: int,
        interface: str,
        direction: Direction,
        priority: int,
        handle: int,
        name: str,
    ) -> None:
        """Own the filter at ``(direction, priority, handle)``;
        [`attach_tc_filter()`][ebpf.net.attach_tc_filter] makes these."""
        super().__init__(f"TC {direction.value} filter {priority}:{handle:#x} on {interface}")
        self.ifindex = ifindex
        self.interface = interface
        self.direction = direction
        self.priority = priority
        self.handle = handle
        self.name = name
        self._netns = current_netns()
        self._program_id = program_id
        self._finalizer = self._finalize()

    def _finalize(self) -> weakref.finalize[..., TcFilterLink]:
        return weakref.finalize(
            self,
            _filter_detach,
            self.ifindex,
            self.direction,
            self.priority,
            self.handle,
            self._program_id,
            self._netns,
            self.target,
        )

    def update(self, program: HasFileno) -> None:
        """Put ``program`` in the filter's place, atomically (``tc filter replace``).

        Raises:
            ValueError: the link is closed.
            TypeError: ``program`` is not a ``SCHED_CLS`` [`Program`][ebpf.progs.Program].
            NetlinkError: the kernel refused.
        """
        with self._lock:
            if self.closed:
                raise ValueError("the link is closed")
            new = _check_tc_program(program, "TcFilterLink.update")
            _netlink.add_bpf_filter(
                self.ifindex,
                self.direction,
                new.fileno(),
                priority=self.priority,
                handle=self.handle,
                protocol=ETH_P_ALL,
                name=self.name,
                replace=True,
                context=f"replacing the program of {self.target}",
                netns=self._netns,
            )
            self._finalizer.detach()
            self._program_id = new.id
            self._finalizer = self._finalize()


def attach_tc_filter(
    program: Program,
    interface: str | int,
    direction: Direction = Direction.INGRESS,
    *,
    priority: int = 0,
    handle: int = 0,
    name: str | None = None,
    replace: bool = False,
) -> TcFilterLink:
    """Attach a ``cls_bpf`` filter in direct-action mode (``tc filter add ... bpf da``) through netlink.

    Adds a ``clsact`` qdisc if the interface has none (and then removes it
    when the last filter is closed); one that was there is never removed.
    The filter matches every protocol. Works on every kernel; on 6.6 and
    newer, [`attach_tcx()`][ebpf.net.attach_tcx] also detaches when the process dies.

    Args:
        program: a loaded ``SCHED_CLS`` program; its return value is the
            verdict (``TC_ACT_OK``, ``TC_ACT_SHOT``...).
        interface: its name or index.
        direction: ``Direction.INGRESS`` or ``Direction.EGRESS``.
        priority: 1 to 65535, lower runs first; 0 lets the kernel choose.
        handle: the filter's handle; 0 lets the kernel choose.
        name: shown by ``tc filter show`` (default: the program's name).
        replace: replace the filter at ``priority``:``handle`` (both needed)
            if there is one, atomically.

    Raises:
        TypeError: not a ``SCHED_CLS`` program, or a bad ``direction``.
        ValueError: a closed program, an out-of-range ``priority`` or
            ``handle``, or ``replace`` without both.
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused (``EEXIST``: that priority and
            handle are taken). Nothing is left behind then.
    """
    prog = _check_tc_program(program, "attach_tc_filter")
    direction = _check_direction(direction)
    _check_range("priority", priority, 0xFFFF)
    _check_range("handle", handle, 0xFFFFFFFF)
    if replace and not (priority and handle):
        raise ValueError("replace=True needs the priority and handle of the filter to replace")
    label = name if name is not None else (prog.name or "ebpf")
    if not isinstance(label, str) or "\0" in label:
        raise ValueError(f"name must be a str without NUL, not {label!r}")
    index, ifname = resolve(interface)
    created = add_clsact(index)
    try:
        before = {(f.priority, f.handle) for f in _netlink.dump_filters(index, direction)}
        _netlink.add_bpf_filter(
            index,
            direction,
            prog.fileno(),
            priority=priority,
            handle=handle,
            protocol=ETH_P_ALL,
            name=label,
            replace=replace,
            context=f"attaching {prog.name!r} as a TC {direction.value} filter on {ifname}",
        )
        program_id = prog.id
        found = [
            f
            for f in _netlink.dump_filters(index, direction)
            if f.program_id == program_id
            and (priority in (0, f.priority))
            and (handle in (0, f.handle))
            and (replace or (f.priority, f.handle) not in before)
        ]
        if not found:
            raise BpfSyscallError(errno.ENOENT, "RTM_GETTFILTER", f"finding the new filter on {ifname}")
    except BaseException:
        if created:
            with _created_lock:
                _created.discard((netns_key(), index))
            _netlink.del_clsact(index, f"removing the clsact qdisc added to {ifname}")
        raise
    mine = found[0]
    return TcFilterLink(program_id, index, ifname, direction, mine.priority, mine.handle, label)


def delete_tc_filter(filter_: TcFilter) -> None:
    """Delete a filter listed by [`tc_filters()`][ebpf.net.tc_filters] (anyone's), leaving the qdisc.

    Raises:
        TypeError: not a [`TcFilter`][ebpf.net.TcFilter].
        InterfaceNotFoundError: the interface is gone.
        BpfSyscallError: the kernel refused (``ENOENT``: no such filter any more).
    """
    if not isinstance(filter_, TcFilter):
        raise TypeError(f"delete_tc_filter needs a TcFilter (from tc_filters), not {type(filter_).__name__}")
    index, name = resolve(filter_.ifindex)
    where = f"{filter_.direction.value} filter {filter_.priority}:{filter_.handle:#x} of {name}"
    _netlink.del_filter(
        index,
        filter_.direction,
        kind=filter_.kind,
        priority=filter_.priority,
        handle=filter_.handle,
        protocol=filter_.protocol,
        context=f"deleting TC {where}",
    )


# ---------------------------------------------------------------------- TCX


class TcxLink(BpfLink):
    """A ``SCHED_CLS`` program attached through TCX (Linux 6.6): a kernel bpf_link, no qdisc.

    Closing the last descriptor detaches it, so a process that dies, even by
    ``SIGKILL``, leaves nothing attached unless the link was pinned.
    [`update()`][ebpf.progs.BpfLink.update] swaps the program atomically, keeping its place.

    Attributes:
        ifindex: the interface's index.
        interface: the interface's name when attached.
        direction: ingress or egress.
    """

    def __init__(self, fd: FD, ifindex: int, interface: str, direction: Direction) -> None:
        """Take ownership of link descriptor ``fd``; [`attach_tcx()`][ebpf.net.attach_tcx] makes these."""
        super().__init__(fd, f"TCX {direction.value} on {interface}")
        self.ifindex = ifindex
        self.interface = interface
        self.direction = direction

    def info(self) -> LinkInfo:
        return dataclasses.replace(super().info(), attach_type=_TCX_ATTACH_TYPE[self.direction])


Relative = Program | BpfLink | int


def _relative(anchor: object, where: str) -> tuple[AttachFlags, FD | None, int]:
    """Flags, relative descriptor and relative id for a TCX anchor: a program, a link or a program id."""
    if isinstance(anchor, Program | BpfLink):
        return (
            AttachFlags.NONE if isinstance(anchor, Program) else AttachFlags.LINK,
            FD(os.dup(anchor.fileno())),
            0,
        )
    if isinstance(anchor, bool) or not isinstance(anchor, int) or anchor <= 0:
        raise TypeError(f"{where} must be a Program, a BpfLink or a program id (int > 0), not {anchor!r}")
    return AttachFlags.ID, None, anchor


def attach_tcx(
    program: Program,
    interface: str | int,
    direction: Direction = Direction.INGRESS,
    *,
    before: Relative | None = None,
    after: Relative | None = None,
    first: bool = False,
    expected_revision: int = 0,
) -> TcxLink:
    """Attach a ``SCHED_CLS`` program through TCX (Linux 6.6), in the order asked.

    Without ordering arguments the program runs after those attached
    already. Its return value is the verdict: ``TCX_NEXT`` (-1) runs the
    next program, ``TCX_PASS``/``TC_ACT_OK``, ``TCX_DROP``/``TC_ACT_SHOT``
    and ``TCX_REDIRECT`` end the chain.

    Args:
        program: a loaded ``SCHED_CLS`` program.
        interface: its name or index.
        direction: ``Direction.INGRESS`` or ``Direction.EGRESS``.
        before: run just before this attached program (a ``Program``, its
            id, or a ``TcxLink``/``BpfLink`` holding it).
        after: run just after it.
        first: run before every program attached now.
        expected_revision: fail with ``ESTALE`` unless the attach point's
            revision (see [`tcx_revision()`][ebpf.net.tcx_revision]) is this one; 0 skips the check.

    Raises:
        TypeError: not a ``SCHED_CLS`` program, a bad ``direction`` or anchor.
        ValueError: a closed program, or more than one of ``before``,
            ``after`` and ``first``.
        InterfaceNotFoundError: no such interface.
        NotSupportedError: the kernel has no TCX (before Linux 6.6): use
            [`attach_tc()`][ebpf.net.attach_tc], which falls back to a ``cls_bpf`` filter.
        BpfSyscallError: the kernel refused (``ENOENT``: the anchor is not
            attached there; ``EEXIST``: the program is attached there
            already; ``ESTALE``: the revision moved on).
    """
    prog = _check_tc_program(program, "attach_tcx")
    direction = _check_direction(direction)
    if sum((before is not None, after is not None, bool(first))) > 1:
        raise ValueError("give at most one of before, after and first")
    _check_range("expected_revision", expected_revision, 0xFFFFFFFFFFFFFFFF)
    flags, relative_fd, relative_id = AttachFlags.NONE, None, 0
    if before is not None:
        flags, relative_fd, relative_id = _relative(before, "before")
        flags |= AttachFlags.BEFORE
    elif after is not None:
        flags, relative_fd, relative_id = _relative(after, "after")
        flags |= AttachFlags.AFTER
    elif first:
        flags = AttachFlags.BEFORE
    try:
        index, name = resolve(interface)
        features.link_type_feature(LinkType.TCX).require()
        try:
            fd = commands.link_create(
                prog,
                index,
                _TCX_ATTACH_TYPE[direction],
                flags=flags,
                relative_fd=relative_fd,
                relative_id=relative_id,
                expected_revision=expected_revision,
            )
        except BpfSyscallError as exc:
            context = f"attaching {prog.name!r} to TCX {direction.value} of {name}"
            raise syscall_error(exc.errno or 0, exc.command, context) from None
    finally:
        if relative_fd is not None:
            relative_fd.close()
    return TcxLink(fd, index, name, direction)


def tcx_revision(interface: str | int, direction: Direction) -> int:
    """The revision of a TCX attach point: it changes with every attach and detach there.

    Pass it as ``attach_tcx(..., expected_revision=...)`` to attach only if
    nothing changed since it was read.

    Raises:
        InterfaceNotFoundError: no such interface.
        NotSupportedError: the kernel has no TCX.
        BpfSyscallError: the kernel refused.
    """
    index, _ = resolve(interface)
    features.link_type_feature(LinkType.TCX).require()
    return commands.prog_query(index, _TCX_ATTACH_TYPE[_check_direction(direction)]).revision


def attach_tc(
    program: Program,
    interface: str | int,
    direction: Direction = Direction.INGRESS,
    *,
    tcx: bool | None = None,
) -> Link:
    """Attach a ``SCHED_CLS`` program to an interface the best way the kernel offers.

    A TCX link on Linux 6.6 and newer (detached when the process dies),
    else a ``cls_bpf`` filter in direct-action mode on a ``clsact`` qdisc
    (added if missing, removed with the last filter if it was added). For
    ordering use [`attach_tcx()`][ebpf.net.attach_tcx]; for priorities and handles,
    [`attach_tc_filter()`][ebpf.net.attach_tc_filter].

    Args:
        program: a loaded ``SCHED_CLS`` program.
        interface: its name or index.
        direction: ``Direction.INGRESS`` or ``Direction.EGRESS``.
        tcx: ``True`` to insist on TCX, ``False`` for the netlink filter,
            ``None`` to choose.

    Raises:
        TypeError, ValueError: bad arguments (see [`attach_tcx()`][ebpf.net.attach_tcx]).
        InterfaceNotFoundError: no such interface.
        NotSupportedError: ``tcx=True`` on a kernel without TCX.
        BpfSyscallError: the kernel refused.
    """
    _check_tc_program(program, "attach_tc")
    _check_direction(direction)
    if tcx is None:
        tcx = features.link_type_supported(LinkType.TCX)
    if tcx:
        return attach_tcx(program, interface, direction)
    return attach_tc_filter(program, interface, direction)
