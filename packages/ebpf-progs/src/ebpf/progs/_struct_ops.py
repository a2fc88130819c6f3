"""struct_ops: register a map of struct_ops programs (a TCP congestion control, say) as a link."""

from __future__ import annotations

import os

from ebpf.syscall import FD, AttachType, HasFileno, LinkType, commands, fileno_of

from ._link import BpfLink
from ._support import require_link_type

__all__ = ["attach_struct_ops"]


def attach_struct_ops(struct_ops_map: HasFileno | int) -> BpfLink:
    """Register a struct_ops map (created with ``MapFlags.LINK``) through a struct_ops link (6.4).

    The map's value holds the struct_ops programs (loaded with
    ``attach_to="<struct>:<member>"``); the link registers them with the
    kernel subsystem and unregisters them when it goes away. [`BpfLink.update()`][ebpf.progs.BpfLink.update]
    swaps in another struct_ops *map*.

    Raises:
        NotSupportedError: the kernel has no struct_ops links.
        BpfSyscallError: the kernel refused (a map without ``MapFlags.LINK``,
            or one whose programs are not all set).
    """
    require_link_type(LinkType.STRUCT_OPS)
    # For struct_ops links the attr's prog_fd field carries the map.
    with FD(os.dup(fileno_of(struct_ops_map))) as map_fd:
        fd = commands.link_create(map_fd, 0, AttachType.STRUCT_OPS)
    return BpfLink(fd, f"struct_ops map fd {fileno_of(struct_ops_map)}")
