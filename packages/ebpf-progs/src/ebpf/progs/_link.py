"""``Link``: an attachment, held as a kernel bpf_link or through the legacy mechanism.

Kernel bpf_links (``BPF_LINK_CREATE``, ``BPF_RAW_TRACEPOINT_OPEN``) are
reference-counted by the kernel: the attachment lasts while a descriptor or
a pin refers to the link, so a process that dies, even by ``SIGKILL``,
leaves nothing attached unless it pinned the link. Kernels without a link
type for an attach point get the legacy mechanism instead (a perf event with
``PERF_EVENT_IOC_SET_BPF``, ``BPF_PROG_ATTACH``, a socket option) behind the
same interface; closing such a link detaches it, but an attachment made by
``BPF_PROG_ATTACH`` survives a crashed process, which is why links are
preferred.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from ebpf.syscall import (
    FD,
    AttachFlags,
    AttachType,
    BpfSyscallError,
    HasFileno,
    LinkType,
    NotSupportedError,
    commands,
    objects,
    perf,
)
from ebpf.syscall.abi import BpfLinkInfo

__all__ = [
    "BpfLink",
    "Link",
    "LinkInfo",
    "PerfEventLink",
    "ProgAttachLink",
    "SocketFilterLink",
    "set_socket_program",
]

log = logging.getLogger("ebpf.progs")

# setsockopt(2) options of <asm-generic/socket.h>.
SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27


_LinkT = TypeVar("_LinkT", bound="Link")


@dataclass(frozen=True)
class LinkInfo:
    """What is known about an attachment.

    Attributes:
        mechanism: ``"bpf_link"``, ``"perf_event"`` (legacy ``PERF_EVENT_IOC_SET_BPF``),
            ``"prog_attach"`` (legacy ``BPF_PROG_ATTACH``), ``"socket_option"`` or
            ``"struct_ops_map"`` (struct_ops registered by a map update).
        program_id: the attached program's id.
        target: what it is attached to, in words.
        id: the kernel's link id (0 for legacy attachments).
        type: the kernel's [`LinkType`][ebpf.syscall.LinkType] (``None`` for legacy attachments).
        attach_type: the attach type, where there is one.
        raw: the kernel's ``struct bpf_link_info`` (bpf_links only) for the
            per-type details (``raw.tracing.target_btf_id``, ``raw.cgroup.cgroup_id``...).
    """

    mechanism: str
    program_id: int
    target: str
    id: int = 0
    type: LinkType | int | None = None
    attach_type: AttachType | None = None
    raw: BpfLinkInfo | None = None


class Link(abc.ABC):
    """An attachment of a program; closing the last reference detaches it unless it is pinned.

    Every attach function returns a ``Link``, whatever the mechanism:
    [`BpfLink`][ebpf.progs.BpfLink] where the kernel has a bpf_link for the attach point,
    the legacy [`PerfEventLink`][ebpf.progs.PerfEventLink], [`ProgAttachLink`][ebpf.progs.ProgAttachLink] or
    [`SocketFilterLink`][ebpf.progs.SocketFilterLink] otherwise. Use it as a context manager, or
    call [`close()`][ebpf.progs.Link.close].

    Attributes:
        target: what the program is attached to, in words.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether the link was closed or detached."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release this reference: the program is detached unless the link is pinned."""

    def detach(self) -> None:
        """Detach the program now, even if the link is pinned, and close it.

        Raises:
            BpfSyscallError: the kernel refused.
        """
        self.close()

    @abc.abstractmethod
    def info(self) -> LinkInfo:
        """What is attached where.

        Raises:
            ValueError: the link was closed.
        """

    def update(self, program: HasFileno) -> None:
        """Replace the attached program atomically.

        Raises:
            NotSupportedError: this mechanism cannot replace programs.
            BpfSyscallError: the kernel refused (a program of another type).
        """
        raise NotSupportedError(f"replacing the program of a {self.mechanism} attachment", None)

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the link on bpffs so the attachment outlives this process.

        Raises:
            NotSupportedError: legacy attachments cannot be pinned.
            BpfSyscallError: ``EEXIST`` if the path exists, ``EPERM`` when not on bpffs.
        """
        raise NotSupportedError(f"pinning a {self.mechanism} attachment (only bpf_links can be pinned)", None)

    def unpin(self) -> None:  # noqa: B027 - legacy attachments have no pin to remove
        """Remove the link's pin; then closing it detaches the program."""

    @property
    @abc.abstractmethod
    def mechanism(self) -> str:
        """``"bpf_link"``, ``"perf_event"``, ``"prog_attach"`` or ``"socket_option"``."""

    @staticmethod
    def from_pin(path: str | os.PathLike[str]) -> BpfLink:
        """Open the bpf_link pinned at ``path``.

        Raises:
            BpfSyscallError: nothing is pinned there.
            TypeError: the pinned object is not a link.
        """
        fd = commands.obj_get(path)
        try:
            info = objects.get_link_info(fd)
        except (BpfSyscallError, TypeError):
            what = objects.describe_fd(fd)
            fd.close()
            raise TypeError(f"{os.fspath(path)!r} is {what}, not a pinned bpf_link") from None
        link = BpfLink(fd, f"pinned {_type_name(info.type)} link")
        link.pinned_path = Path(path)
        return link

    @staticmethod
    def from_id(link_id: int) -> BpfLink:
        """Open a bpf_link by its id (needs ``CAP_SYS_ADMIN``).

        Raises:
            BpfSyscallError: no link has that id.
        """
        fd = commands.link_get_fd_by_id(link_id)
        try:
            info = objects.get_link_info(fd)
        except BaseException:
            fd.close()
            raise
        return BpfLink(fd, f"{_type_name(info.type)} link {link_id}")

    def __enter__(self: _LinkT) -> _LinkT:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} {self.target}{state}>"


def _type_name(link_type: LinkType | int) -> str:
    return link_type.name if isinstance(link_type, LinkType) else str(link_type)


def _run_cleanup(cleanup: Callable[[], None] | None) -> None:
    if cleanup is not None:
        try:
            cleanup()
        except OSError as exc:
            log.warning("cleaning up after a link failed: %s", exc)


class BpfLink(Link):
    """A kernel bpf_link: owns the link's descriptor.

    Attributes:
        pinned_path: where the link is pinned, if it is.
    """

    def __init__(self, fd: FD, target: str, cleanup: Callable[[], None] | None = None) -> None:
        """Take ownership of link descriptor ``fd``.

        ``cleanup`` runs once the attachment is gone (after the last close of
        an unpinned link): it removes what the attach function created for it,
        such as a tracefs probe event.
        """
        super().__init__(target)
        self._fd = fd
        self._cleanup = cleanup
        self.pinned_path: Path | None = None

    @property
    def mechanism(self) -> str:
        return "bpf_link"

    @property
    def closed(self) -> bool:
        return self._fd.closed

    def fileno(self) -> int:
        """The link's descriptor.

        Raises:
            ValueError: the link was closed.
        """
        return self._fd.fileno()

    def close(self) -> None:
        with self._fd.lock:
            if self._fd.closed:
                return
            self._fd.close()
            if self.pinned_path is None:
                _run_cleanup(self._cleanup)
            elif self._cleanup is not None:
                log.info(
                    "link pinned at %s stays attached; its probe event is left in place", self.pinned_path
                )
            self._cleanup = None

    def detach(self) -> None:
        """Detach now, even when pinned (``BPF_LINK_DETACH``), then close.

        Link types without ``BPF_LINK_DETACH`` (before 5.9, or tracing links)
        detach by closing when they are not pinned.

        Raises:
            NotSupportedError: the link is pinned and its type cannot be detached.
        """
        with self._fd.lock:
            if self._fd.closed:
                return
            try:
                commands.link_detach(self._fd)
            except BpfSyscallError as exc:
                if self.pinned_path is not None:
                    raise NotSupportedError(
                        f"detaching a pinned {self.target} link", "5.9", f"BPF_LINK_DETACH failed: {exc}"
                    ) from exc
            else:
                self.pinned_path = None
            self.close()

    def info(self) -> LinkInfo:
        with self._fd.lock:
            info = objects.get_link_info(self._fd)
            return LinkInfo(
                mechanism="bpf_link",
                program_id=info.prog_id,
                target=self.target,
                id=info.id,
                type=info.type,
                raw=info.raw,
            )

    def update(self, program: HasFileno) -> None:
        """Replace the attached program atomically (``BPF_LINK_UPDATE``).

        Raises:
            BpfSyscallError: the link type cannot be updated (``EOPNOTSUPP``) or
                the program does not fit.
        """
        with self._fd.lock:
            commands.link_update(self._fd, program)

    def pin(self, path: str | os.PathLike[str]) -> None:
        with self._fd.lock:
            commands.obj_pin(self._fd, path)
            self.pinned_path = Path(path)

    def unpin(self) -> None:
        if self.pinned_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.pinned_path)
            self.pinned_path = None


def _release_perf_event(event: FD, cleanup: Callable[[], None] | None) -> None:
    with contextlib.suppress(BpfSyscallError, ValueError):
        perf.disable(event)
    event.close()
    _run_cleanup(cleanup)


class HeldDescriptorLink(Link):
    """A link kept by a descriptor it holds, whose detaching is a function run once over it.

    The legacy mechanisms (a perf event, a socket option, a struct_ops map
    element) have no kernel link object: the attachment lasts while the held
    descriptor (or the written element) does. ``close()`` runs the detach
    function exactly once, whichever thread closes first, or at garbage
    collection (``weakref.finalize``).
    """

    _mechanism = ""

    def __init__(
        self, held: FD, program_id: int, target: str, detach: Callable[..., None], *args: object
    ) -> None:
        """Take ownership of ``held``; ``detach(*args)`` undoes the attachment (and closes ``held``)."""
        super().__init__(target)
        self._held = held
        self._program_id = program_id
        self._finalizer = weakref.finalize(self, detach, *args)

    @property
    def mechanism(self) -> str:
        return self._mechanism

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def fileno(self) -> int:
        """The held descriptor.

        Raises:
            ValueError: the link was closed.
        """
        return self._held.fileno()

    def close(self) -> None:
        self._finalizer()

    def info(self) -> LinkInfo:
        self._held.fileno()  # ValueError once closed
        return LinkInfo(mechanism=self._mechanism, program_id=self._program_id, target=self.target)


class PerfEventLink(HeldDescriptorLink):
    """A program attached to a perf event with ``PERF_EVENT_IOC_SET_BPF`` (before perf bpf_links, 5.15).

    The attachment lasts while the perf event's descriptor is open; the
    kernel closes it when the process dies.
    """

    _mechanism = "perf_event"

    def __init__(
        self, event: FD, program_id: int, target: str, cleanup: Callable[[], None] | None = None
    ) -> None:
        """Take ownership of perf event ``event``, which already runs the program."""
        super().__init__(event, program_id, target, _release_perf_event, event, cleanup)


def _prog_detach(target: FD | None, attach_type: AttachType, program: FD) -> None:
    try:
        commands.prog_detach(target if target is not None else 0, attach_type, program)
    except BpfSyscallError as exc:
        log.warning("detaching %s program: %s", attach_type.name, exc)
    finally:
        if target is not None:
            target.close()
        program.close()


class ProgAttachLink(Link):
    """A program attached with ``BPF_PROG_ATTACH`` (cgroups, sockmaps, the flow dissector).

    Holds duplicates of the target's and the program's descriptors so that
    it can detach exactly this program, whatever the caller closes. Unlike a
    bpf_link, the attachment survives a process that dies without closing it.
    """

    def __init__(
        self,
        target_fd: FD | None,
        program: FD,
        attach_type: AttachType,
        flags: AttachFlags,
        target: str,
        program_id: int,
    ) -> None:
        """Take ownership of ``target_fd`` and ``program`` (attached already).

        ``target_fd`` is ``None`` for attach points that take no target and
        act on the caller's network namespace (the legacy flow dissector).
        ``BPF_PROG_DETACH`` is given the program, which ``ALLOW_MULTI`` needs
        and every other kind accepts.
        """
        super().__init__(target)
        self._target_fd = target_fd
        self._program = program
        self.attach_type = attach_type
        self.flags = flags
        self._program_id = program_id
        self._finalizer = weakref.finalize(self, _prog_detach, target_fd, attach_type, program)
        self._lock = threading.Lock()  # update() and close() from different threads take turns

    @property
    def mechanism(self) -> str:
        return "prog_attach"

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        with self._lock:
            self._finalizer()

    def info(self) -> LinkInfo:
        self._program.fileno()  # ValueError once closed
        return LinkInfo(
            mechanism="prog_attach",
            program_id=self._program_id,
            target=self.target,
            attach_type=self.attach_type,
        )

    def update(self, program: HasFileno) -> None:
        """Replace the program: ``BPF_PROG_ATTACH`` with ``BPF_F_REPLACE`` (multi) or over it (override).

        Raises:
            NotSupportedError: the attachment was made without ALLOW_MULTI or
                ALLOW_OVERRIDE, so the kernel cannot replace it.
            BpfSyscallError: the kernel refused.
        """
        with self._lock:
            if self.closed:
                raise ValueError("the link is closed")
            target = self._target_fd if self._target_fd is not None else 0
            if self.flags & AttachFlags.ALLOW_MULTI:
                commands.prog_attach(
                    target,
                    program,
                    self.attach_type,
                    flags=AttachFlags.ALLOW_MULTI | AttachFlags.REPLACE,
                    replace_prog_fd=self._program,
                )
            elif self.flags & AttachFlags.ALLOW_OVERRIDE or not self.flags:
                commands.prog_attach(target, program, self.attach_type, flags=self.flags)
            else:
                raise NotSupportedError(f"replacing a program attached with flags {self.flags!r}", None)
            new = FD(os.dup(program.fileno()))
            new_id = objects.get_program_info(new).id
            self._finalizer.detach()
            self._program.close()
            self._program, self._program_id = new, new_id
            self._finalizer = weakref.finalize(self, _prog_detach, self._target_fd, self.attach_type, new)


class SocketFilterLink(HeldDescriptorLink):
    """A socket filter attached with ``SO_ATTACH_BPF``; closing detaches it (``SO_DETACH_BPF``)."""

    _mechanism = "socket_option"

    def __init__(self, sock_fd: FD, program_id: int, target: str) -> None:
        """Take ownership of ``sock_fd``, a duplicate of the filtered socket."""
        super().__init__(sock_fd, program_id, target, _detach_filter, sock_fd)

    def update(self, program: HasFileno) -> None:
        """Attach ``program`` instead: ``SO_ATTACH_BPF`` replaces the socket's filter atomically."""
        set_socket_program(self._held, program)
        self._program_id = objects.get_program_info(program).id


def set_socket_program(sock_fd: FD, program: HasFileno) -> None:
    """``setsockopt(SO_ATTACH_BPF)`` on a socket descriptor.

    Raises:
        BpfSyscallError: the kernel refused.
    """
    import socket  # here: only socket filters need it

    with socket.socket(fileno=os.dup(sock_fd.fileno())) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, program.fileno())
        except OSError as exc:
            raise BpfSyscallError(
                exc.errno or 0, "setsockopt(SO_ATTACH_BPF)", "attaching a socket filter"
            ) from exc


def _detach_filter(sock_fd: FD) -> None:
    try:
        import socket  # here: only socket filters need it

        with socket.socket(fileno=os.dup(sock_fd.fileno())) as sock:
            sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
    except OSError as exc:
        log.debug("SO_DETACH_BPF: %s", exc)
    finally:
        sock_fd.close()
