"""Network namespace programs: the flow dissector and sk_lookup."""

from __future__ import annotations

import os

from ebpf.syscall import (
    FD,
    AttachFlags,
    AttachType,
    HasFileno,
    LinkType,
    NotSupportedError,
    ProgType,
    commands,
    fileno_of,
)

from ._checks import require_type
from ._link import BpfLink, Link, ProgAttachLink
from ._link_support import has_link_type
from ._program import Program

__all__ = ["attach_netns"]

_ATTACH_TYPES = {ProgType.FLOW_DISSECTOR: AttachType.FLOW_DISSECTOR, ProgType.SK_LOOKUP: AttachType.SK_LOOKUP}
_OWN_NETNS = "/proc/self/ns/net"


def _open_netns(netns: str | os.PathLike[str] | HasFileno | None) -> tuple[FD, str]:
    if netns is None:
        return FD(os.open(_OWN_NETNS, os.O_RDONLY | os.O_CLOEXEC)), "this network namespace"
    if isinstance(netns, (str, os.PathLike)):
        return FD(os.open(netns, os.O_RDONLY | os.O_CLOEXEC)), f"network namespace {os.fspath(netns)}"
    fd = fileno_of(netns)
    return FD(os.dup(fd)), f"network namespace fd {fd}"


def attach_netns(
    program: Program, netns: str | os.PathLike[str] | HasFileno | None = None, *, legacy: bool = False
) -> Link:
    """Attach a flow dissector or sk_lookup program to a network namespace.

    Uses a netns bpf_link (5.8). The legacy ``BPF_PROG_ATTACH`` exists only
    for the flow dissector and only for the caller's own namespace.

    Args:
        program: a ``FLOW_DISSECTOR`` or ``SK_LOOKUP`` program.
        netns: a namespace file (``/var/run/netns/<name>``, ``/proc/<pid>/ns/net``)
            or descriptor; ``None`` for this process's namespace.
        legacy: use ``BPF_PROG_ATTACH`` (flow dissector only) even where netns links exist.

    Raises:
        TypeError: another program type.
        FileNotFoundError: no such namespace file.
        NotSupportedError: sk_lookup without netns links, or a legacy
            flow dissector for another namespace.
        BpfSyscallError: the kernel refused (``EEXIST`` when a program is
            attached already: a namespace has at most one flow dissector).
    """
    require_type(program, _ATTACH_TYPES.keys(), "attach_netns")
    at = _ATTACH_TYPES[ProgType(program.type)]
    netns_fd, where = _open_netns(netns)
    target = f"{where} {at.name}"
    if not legacy and has_link_type(LinkType.NETNS):
        with netns_fd:
            return BpfLink(commands.link_create(program, netns_fd, at), target)
    try:
        if at != AttachType.FLOW_DISSECTOR:
            raise NotSupportedError("sk_lookup programs", "5.9", "they attach only through netns links")
        # The legacy attach acts on the caller's namespace whatever target_fd says.
        own, given = os.stat(_OWN_NETNS), os.fstat(netns_fd.fileno())
        if (own.st_dev, own.st_ino) != (given.st_dev, given.st_ino):
            raise NotSupportedError(
                "attaching a flow dissector to another namespace", "5.8", "it needs netns links"
            )
        program_fd = FD(os.dup(program.fileno()))
        try:
            program_id = program.id
            # The legacy attach and detach insist on target_fd 0.
            commands.prog_attach(0, program_fd, at)
        except BaseException:
            program_fd.close()
            raise
    finally:
        netns_fd.close()
    return ProgAttachLink(None, program_fd, at, AttachFlags.NONE, target, program_id)
