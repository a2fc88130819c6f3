"""Turning "unknown map type" failures of ``BPF_MAP_CREATE`` into ``NotSupportedError``.

``BPF_MAP_CREATE`` answers ``EINVAL`` both for a map type the kernel does
not know (``find_and_alloc_map``: no ops for the type) and for parameters
the type rejects, so the error alone cannot tell them apart. On such an
error the map type's feature probe of [`ebpf.syscall.features`][ebpf.syscall.features] (which
knows the first kernel version of every type) decides: if the kernel lacks
the type, the error becomes a [`NotSupportedError`][ebpf.syscall.NotSupportedError]; otherwise it is
about the parameters and is raised as it is.
"""

from __future__ import annotations

import errno

from ebpf.syscall import features
from ebpf.syscall.abi import MapType
from ebpf.syscall.errors import ENOTSUPP, BpfSyscallError, EbpfError, NotSupportedError

__all__ = ["map_type_name", "not_supported_error"]


def map_type_name(map_type: MapType | int) -> str:
    """``"HASH"`` for ``MapType.HASH``; the number for a type newer than this library."""
    try:
        return MapType(map_type).name
    except ValueError:
        return str(int(map_type))


def not_supported_error(map_type: MapType | int, exc: BpfSyscallError) -> NotSupportedError | None:
    """A [`NotSupportedError`][ebpf.syscall.NotSupportedError] if ``exc`` (from ``BPF_MAP_CREATE``) means the
    kernel lacks ``map_type``.

    ``None`` means ``exc`` is about something else (or the probe cannot
    tell) and should be raised as is.
    """
    if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP):
        return None
    try:
        feature = features.map_type_feature(map_type)
    except ValueError:  # a type number this library does not know: only the kernel can say
        return NotSupportedError(f"map type {int(map_type)}", None, str(exc))
    try:
        if feature.supported():
            return None
    except EbpfError:
        return None
    return NotSupportedError(f"{map_type_name(map_type)} maps", feature.version)
