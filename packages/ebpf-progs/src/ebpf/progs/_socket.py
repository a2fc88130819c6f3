"""Socket filters on a socket, and sk_msg/sk_skb programs on a sockmap or sockhash."""

from __future__ import annotations

import os
import socket
import stat

from ebpf.syscall import (
    FD,
    AttachFlags,
    AttachType,
    HasFileno,
    LinkType,
    ProgType,
    commands,
    fileno_of,
    objects,
)

from ._checks import require_type
from ._link import BpfLink, Link, ProgAttachLink, SocketFilterLink, set_socket_program
from ._link_support import has_link_type
from ._program import Program
from ._section_names import parse_attach_type

__all__ = ["SOCKMAP_ATTACH_TYPES", "attach_socket_filter", "attach_sockmap"]

#: The attach types of sockmap programs.
SOCKMAP_ATTACH_TYPES: dict[ProgType, frozenset[AttachType]] = {
    ProgType.SK_MSG: frozenset({AttachType.SK_MSG_VERDICT}),
    ProgType.SK_SKB: frozenset(
        {AttachType.SK_SKB_STREAM_PARSER, AttachType.SK_SKB_STREAM_VERDICT, AttachType.SK_SKB_VERDICT}
    ),
}


def attach_socket_filter(program: Program, sock: HasFileno | int) -> Link:
    """Filter what socket ``sock`` receives with a socket filter program (``SO_ATTACH_BPF``).

    The program's return value is how many bytes of each packet to keep (0
    drops it). The filter belongs to the socket, not to this descriptor;
    closing the link detaches it (``SO_DETACH_BPF``). A later attach replaces
    an earlier one, as [`Link.update()`][ebpf.progs.Link.update] does.

    Raises:
        TypeError: not a ``SOCKET_FILTER`` program, or ``sock`` is not a
            socket (the message says what it is); nothing is opened then.
        ValueError: ``sock`` is not an open descriptor.
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.SOCKET_FILTER,), "attach_socket_filter")
    fd = fileno_of(sock)
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        raise ValueError(f"attach_socket_filter: descriptor {fd} is not open ({exc.strerror})") from None
    if not stat.S_ISSOCK(mode):
        raise TypeError(f"attach_socket_filter: descriptor {fd} is {objects.describe_fd(fd)}, not a socket")
    sock_fd = FD(os.dup(fd))
    try:
        program_id = program.id
        set_socket_program(sock_fd, program)
        target = f"socket fd {fd} ({_socket_kind(fd)})"
    except BaseException:
        sock_fd.close()
        raise
    return SocketFilterLink(sock_fd, program_id, target)


def _socket_kind(fd: int) -> str:
    """``"AF_INET SOCK_DGRAM"``: the family and type of socket ``fd``."""
    number = os.dup(fd)
    try:
        probe = socket.socket(fileno=number)  # owns `number` once made, not before
    except BaseException:
        os.close(number)
        raise
    with probe:
        return f"{probe.family.name} {probe.type.name}"


def attach_sockmap(
    program: Program,
    sockmap: HasFileno | int,
    attach_type: AttachType | str | None = None,
    *,
    legacy: bool = False,
) -> Link:
    """Attach an sk_msg or sk_skb program to a sockmap or sockhash; it runs for every socket in the map.

    A sockmap bpf_link (6.10) is used where the kernel has one, else
    ``BPF_PROG_ATTACH`` (then closing the link detaches the program).

    Args:
        program: an ``SK_MSG`` or ``SK_SKB`` program.
        sockmap: the map.
        attach_type: ``SK_MSG_VERDICT``, ``SK_SKB_STREAM_PARSER``,
            ``SK_SKB_STREAM_VERDICT`` or ``SK_SKB_VERDICT`` (or a name like
            ``"sk_skb/stream_verdict"``); default: the program's expected attach type.
        legacy: use ``BPF_PROG_ATTACH`` even where sockmap links exist.

    Raises:
        TypeError: another program type, or an attach type of another program type.
        ValueError: no attach type given or known.
        BpfSyscallError: the kernel refused (``EINVAL`` for a map that is not a sockmap/sockhash).
    """
    require_type(program, SOCKMAP_ATTACH_TYPES.keys(), "attach_sockmap")
    allowed = SOCKMAP_ATTACH_TYPES[ProgType(program.type)]
    at = parse_attach_type(attach_type) if attach_type is not None else program.expected_attach_type
    if at is None:
        raise ValueError(f"attach_sockmap needs an attach type: one of {sorted(t.name for t in allowed)}")
    if at not in allowed:
        raise TypeError(f"{at.name} is not an attach type of {ProgType(program.type).name} programs")
    map_fd = FD(os.dup(fileno_of(sockmap)))
    target = f"sockmap fd {fileno_of(sockmap)} {at.name}"
    if not legacy and has_link_type(LinkType.SOCKMAP):
        with map_fd:
            return BpfLink(commands.link_create(program, map_fd, at), target)
    program_fd = FD(os.dup(program.fileno()))
    try:
        program_id = program.id
        commands.prog_attach(map_fd, program_fd, at)
    except BaseException:
        program_fd.close()
        map_fd.close()
        raise
    return ProgAttachLink(map_fd, program_fd, at, AttachFlags.NONE, target, program_id)
