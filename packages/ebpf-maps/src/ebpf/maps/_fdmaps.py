"""Maps whose values are kernel objects given by descriptor, and maps keyed by descriptor.

User space writes a *descriptor* into a program array, a map of maps, a
sockmap...; reading the element back gives what the kernel stores for it
(``map_fd_sys_lookup_elem``): a program or map *id*, or a socket cookie for
sockmaps with 8-byte values. Perf event, cgroup and XSK arrays have no user
space lookup (``ENOTSUPP``).

Local storage maps (socket, task, inode, cgroup) are keyed by a descriptor
of the object the value is attached to and cannot be iterated.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any, TypeVar

from ebpf.syscall.abi import MapType
from ebpf.syscall.errors import ENOTSUPP, NotSupportedError

from ._keyvalue import KeyValueMap
from ._map import Map

__all__ = ["DescriptorMap", "LocalStorageMap", "MapOfMaps", "ProgramArray"]

K = TypeVar("K")
V = TypeVar("V")


class DescriptorMap(
    KeyValueMap[K, Any],
    map_types=(
        MapType.PERF_EVENT_ARRAY,
        MapType.CGROUP_ARRAY,
        MapType.SOCKMAP,
        MapType.SOCKHASH,
        MapType.REUSEPORT_SOCKARRAY,
        MapType.XSKMAP,
    ),
):
    """Values are set from descriptors (an int or anything with ``fileno()``) and read back as ids or cookies.

    ``m[k] = sock`` adds a socket to a sockmap, ``m[cpu] = perf_event`` fills
    a perf event array; ``m[k]`` returns the kernel's answer (a socket
    cookie...), and raises [`NotSupportedError`][ebpf.syscall.NotSupportedError]
    for types without user-space lookups.
    """

    def __getitem__(self, key: K) -> int:
        try:
            value: int = super().__getitem__(key)
        except OSError as exc:
            if exc.errno in (ENOTSUPP, errno.EOPNOTSUPP):
                raise NotSupportedError(
                    f"reading {MapType(self.type).name} elements from user space",
                    None,
                    "the kernel only lets programs read them",
                ) from exc
            raise
        return value


class ProgramArray(DescriptorMap[int], map_types=(MapType.PROG_ARRAY,)):
    """A program array for tail calls: ``m[i] = program`` (a descriptor); ``m[i]`` gives the program's id."""


class MapOfMaps(DescriptorMap[K], map_types=(MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)):
    """An array or hash of maps: ``m[k] = inner_map`` (a [`Map`][ebpf.maps.Map] or descriptor); ``m[k]`` gives
    its id.

    Inner maps must match the ``inner_map`` spec the outer map was created
    with (type, sizes, flags), or the kernel answers ``EINVAL``.
    """

    def open_map(self, key: K, **codecs: Any) -> Map:
        """Open the inner map stored at ``key`` as a live map (the caller closes it).

        ``codecs``: ``key=``/``value=`` for the inner map (default: the
        inner spec's when this map was created from a spec).

        Raises:
            KeyNotFoundError: no map at ``key``.
        """
        inner = self.spec.inner_map
        if inner is not None:
            codecs.setdefault("key", inner.key_codec)
            codecs.setdefault("value", inner.value_codec)
        return Map.from_id(self[key], **codecs)


class LocalStorageMap(
    KeyValueMap[Any, V],
    map_types=(MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE),
):
    """Storage attached to kernel objects: keys are descriptors of a socket, file, pidfd or cgroup.

    ``m[sock] = value`` attaches a value to the socket; it goes away with the
    socket. The kernel needs BTF for these maps (``btf_key_type_id``/
    ``btf_value_type_id`` and ``btf=`` at creation) and cannot list them:
    iteration, ``len()`` and ``clear()`` raise ``TypeError``.
    """

    def _unlistable(self) -> TypeError:
        return TypeError(f"{MapType(self.type).name} maps cannot be iterated or counted from user space")

    def __iter__(self) -> Iterator[Any]:
        raise self._unlistable()

    def __len__(self) -> int:
        raise self._unlistable()

    def clear(self) -> None:
        """Not possible: raises TypeError."""
        raise self._unlistable()
