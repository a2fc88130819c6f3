"""struct_ops: register a map of struct_ops programs (a TCP congestion control...) with its kernel subsystem.

A ``BPF_MAP_TYPE_STRUCT_OPS`` map has one element: the kernel's
``struct bpf_struct_ops_<name>`` holding the ops struct, with the
descriptors of ``STRUCT_OPS`` programs at its function pointer members.
There are two ways to register it, chosen when the map is created:

- without ``MapFlags.LINK`` (libbpf's ``SEC(".struct_ops")``, 5.6): writing
  the element registers the ops, and deleting it unregisters them. The
  registration holds the map, so it outlives the process that made it
  unless that process deletes the element; [`StructOpsLink`][ebpf.progs.StructOpsLink]
  does when it is closed (or garbage collected), not when the process is
  killed. A map registers once: after being unregistered it cannot be
  written again (the kernel says ``EBUSY``).
- with ``MapFlags.LINK`` (``SEC(".struct_ops.link")``, 6.4): writing the
  element only stores it; a bpf_link (``BPF_LINK_CREATE``) registers the
  ops while it lives, so a crashed process leaves nothing registered, and
  the map can be linked again once the link is gone.
"""

from __future__ import annotations

import errno
import logging
import os

from ebpf.syscall import (
    FD,
    AttachType,
    BpfSyscallError,
    HasFileno,
    LinkType,
    MapFlags,
    MapType,
    commands,
    fileno_of,
    objects,
)

from ._link import BpfLink, HeldDescriptorLink, Link
from ._link_support import require_link_type

__all__ = ["StructOpsLink", "attach_struct_ops"]

log = logging.getLogger("ebpf.progs")

#: The one key of a struct_ops map.
_KEY = bytes(4)


def attach_struct_ops(struct_ops_map: HasFileno | int, value: bytes | None = None) -> Link:
    """Register a struct_ops map with its kernel subsystem; closing the returned link unregisters it.

    ``value`` is the map's element (``struct bpf_struct_ops_<name>`` with
    the programs' descriptors at their members, as
    [`ebpf.elf.Collection.attach_struct_ops()`][ebpf.elf.Collection.attach_struct_ops]
    builds it from an object file). For a map created with
    ``MapFlags.LINK`` it may be left out when the map holds it already;
    such a map is written once, and later calls link what it holds. The
    programs are loaded with ``attach_to="<struct>:<member>"``.

    Returns:
        a [`BpfLink`][ebpf.progs.BpfLink] for a map with ``MapFlags.LINK``
        (6.4), else a [`StructOpsLink`][ebpf.progs.StructOpsLink] that deletes
        the element when closed. [`BpfLink.update()`][ebpf.progs.BpfLink.update]
        of a struct_ops link swaps in another struct_ops *map*.

    Raises:
        TypeError: not a struct_ops map.
        ValueError: no ``value`` for a map without ``MapFlags.LINK``, or a
            ``value`` that is not the map's value size.
        NotSupportedError: a map with ``MapFlags.LINK`` on a kernel without
            struct_ops links.
        BpfSyscallError: the kernel refused the ops (``EINVAL`` for programs
            that do not fit their members or a missing mandatory member,
            ``EEXIST`` when ops of the same name are registered, ``EBUSY``
            for a map without ``MapFlags.LINK`` that registered before).
    """
    info = objects.get_map_info(struct_ops_map)
    what = f"struct_ops map {info.name!r}"
    if info.type != MapType.STRUCT_OPS:
        type_name = info.type.name if isinstance(info.type, MapType) else str(info.type)
        raise TypeError(f"map {info.name!r} is a {type_name} map, not a struct_ops map")
    linked = bool(info.flags & MapFlags.LINK)
    if value is not None and len(value) != info.value_size:
        raise ValueError(f"{what} takes a {info.value_size}-byte value, not {len(value)} bytes")
    if value is None and not linked:
        raise ValueError(
            f"{what} has no MapFlags.LINK: writing its value registers it, so attach_struct_ops needs value="
        )
    if linked:
        require_link_type(LinkType.STRUCT_OPS)
    map_fd = FD(os.dup(fileno_of(struct_ops_map)))
    try:
        if value is not None:
            try:
                commands.map_update_elem(map_fd, _KEY, value)
            except BpfSyscallError as exc:
                # A link map holds its value once written (the kernel says EBUSY
                # after that): link what it holds.
                if not (linked and exc.errno == errno.EBUSY):
                    raise
        if not linked:
            return StructOpsLink(map_fd, info.id, what)  # takes map_fd
        # For struct_ops links the attr's prog_fd field carries the map.
        fd = commands.link_create(map_fd, 0, AttachType.STRUCT_OPS)
    except BaseException:
        map_fd.close()
        raise
    map_fd.close()
    return BpfLink(fd, what)


def _unregister(map_fd: FD, target: str) -> None:
    try:
        commands.map_delete_elem(map_fd, _KEY)
    except BpfSyscallError as exc:
        log.warning("unregistering %s: %s", target, exc)
    finally:
        map_fd.close()


class StructOpsLink(HeldDescriptorLink):
    """struct_ops registered by writing their map's element (a map without ``MapFlags.LINK``).

    Closing it deletes the element, which unregisters the ops. Unlike a
    bpf_link, the registration survives a process killed before it could
    close the link. Holds a duplicate of the map's descriptor.
    """

    _mechanism = "struct_ops_map"

    def __init__(self, map_fd: FD, map_id: int, target: str) -> None:
        """Take ownership of ``map_fd``, a struct_ops map whose element was just written."""
        super().__init__(map_fd, 0, target, _unregister, map_fd, target)
        self.map_id = map_id

    def keep_registered(self) -> None:
        """Close this link but leave the ops registered, as ``bpftool struct_ops register`` does.

        The kernel keeps the map while its ops are registered (``bpftool
        struct_ops list`` shows it); deleting the map's element unregisters
        them (``ebpf struct_ops unregister``). Does nothing once closed.
        """
        if self._finalizer.detach() is not None:
            self._held.close()
