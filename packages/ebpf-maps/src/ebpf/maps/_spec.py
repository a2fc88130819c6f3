"""``MapSpec``: everything needed to create a map, as plain frozen data.

A spec holds no descriptor and makes no system call; it is checked when it
is built (and again by ``dataclasses.replace``), so that bad input raises
``ValueError``/``TypeError`` before anything exists in the kernel. The
per-type rules it checks, those of each map type's ``map_alloc_check`` in
the kernel, live in [`ebpf.syscall.maptypes`][ebpf.syscall.maptypes].

Specs read from object files are built with ``check_sizes=False``: C
programs leave sizes at 0 for user space to set before loading (libbpf's
``bpf_map__set_max_entries``), so the per-type size rules are checked by
[`MapSpec.check()`][ebpf.maps.MapSpec.check], which
[`Map.create`][ebpf.maps.Map.create] calls before the system call.
"""

from __future__ import annotations

import enum
import functools
import mmap
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ebpf.syscall.abi import MapType
from ebpf.syscall.commands import check_object_name
from ebpf.syscall.flags import MapFlags
from ebpf.syscall.maptypes import MAP_TYPE_RULES, MaxEntriesRule, map_type_rule

from ._codecs import BytesCodec, Codec, CodecSource, FdCodec, StructCodec, as_codec, u32
from ._ipcodecs import LpmKeyCodec
from ._not_supported import map_type_name

__all__ = ["MapSpec", "PinType"]


class PinType(enum.Enum):
    """How [`Map.create`][ebpf.maps.Map.create] pins a map (libbpf's ``LIBBPF_PIN_*``)."""

    #: Not pinned.
    NONE = "none"
    #: Pinned at ``<pin_root>/<name>``; an existing compatible pin there is reused.
    BY_NAME = "by_name"


#: Every ``BPF_F_*`` map flag this library knows (those of the kernel its ABI tables come from).
_KNOWN_MAP_FLAGS = functools.reduce(operator.or_, (int(flag) for flag in MapFlags), 0)


def default_key_codec(map_type: MapType | int, size: int) -> Codec[Any]:
    """The key codec used when a spec or an opened map gives none."""
    rule = map_type_rule(map_type)
    if rule.fd_keys:
        return FdCodec(size)
    if map_type == MapType.LPM_TRIE and size > 4:
        return LpmKeyCodec(size - 4)
    if rule.key_size == 4 or map_type == MapType.DEVMAP_HASH:
        return u32  # array indices, CPU numbers, stack ids
    return BytesCodec(size)


def default_value_codec(map_type: MapType | int, size: int, flags: int = 0) -> Codec[Any]:
    """The value codec used when a spec or an opened map gives none."""
    rule = map_type_rule(map_type)
    if rule.fd_values:
        return FdCodec(size)
    if map_type == MapType.STACK_TRACE and not flags & MapFlags.STACK_BUILD_ID and size % 8 == 0:
        return StructCodec(f"={size // 8}Q")  # instruction pointers
    if map_type in (MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP) and size == 4:
        return u32  # an ifindex, a queue size
    return BytesCodec(size)


def _resolve_size(
    what: str,
    codec: Codec[Any] | None,
    size: int | None,
    fixed: int | None,
    default: int | None,
) -> int | None:
    """The size given (by ``size`` or the codec), else the type's fixed or default one, else None."""
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ValueError(f"{what}_size must be an int >= 0, not {size!r}")
    if codec is not None:
        if size is not None and size != codec.size:
            raise ValueError(
                f"{what}_size={size} disagrees with the {what} codec {codec.describe()} ({codec.size} bytes)"
            )
        size = codec.size
    if size is None:
        size = fixed if fixed is not None else default
    return size


def _size_problem(what: str, map_type: MapType | int, size: int | None, fixed: int | None) -> str:
    """Why the type refuses ``size`` for its key or value ("" when it accepts it).

    Every type this library knows needs a non-zero size unless it fixes the
    size at 0; a type newer than the library gets no such check.
    """
    type_name = map_type_name(map_type)
    if size is None or (size == 0 and fixed is None and map_type in MAP_TYPE_RULES):
        return f"{type_name} maps need a {what} size: give {what}=<codec> (u32, u64, ...) or {what}_size=N"
    if fixed is not None and size != fixed:
        return f"{type_name} maps have {what}_size {fixed}, not {size}"
    return ""


def _max_entries_problem(type_name: str, rule: MaxEntriesRule, n: int) -> str:
    """Why the type refuses ``max_entries`` ``n`` ("" when it accepts it)."""
    if rule == "positive" and n == 0:
        return f"{type_name} maps need max_entries >= 1 (how many elements the map can hold)"
    if rule == "zero" and n != 0:
        return f"{type_name} maps take max_entries=0 (their size follows what they are attached to)"
    if rule == "ringbuf" and (n < mmap.PAGESIZE or n & (n - 1)):
        return (
            f"{type_name} maps need max_entries (the buffer size in bytes) to be a power of 2 "
            f"and at least the page size {mmap.PAGESIZE}, not {n}"
        )
    return ""


@dataclass(frozen=True)
class MapSpec:
    """What a map is: type, sizes (or codecs), capacity, flags and how to pin it.

    Plain data: no descriptors, no system calls; edit with
    ``dataclasses.replace``. ``key``/``value`` take anything [`as_codec()`][ebpf.maps.as_codec]
    takes; sizes may be given instead (keys and values are then raw bytes,
    or the natural type: ``u32`` array indices, descriptor values...) or
    both, which must agree. Sizes the map type fixes may be left out.

    Fields the kernel takes as they are: ``numa_node`` (sets
    ``BPF_F_NUMA_NODE``), ``map_extra`` (bloom filter hash count, arena
    address), ``btf_*_type_id`` (with the BTF object passed to
    [`Map.create`][ebpf.maps.Map.create]). ``contents`` are written
    right after creation, then the map is frozen if ``freeze``.

    ``check_sizes=False`` defers the map type's size rules (``key_size``,
    ``value_size``, ``max_entries``: a missing size, 0 where the type needs
    one, a size the type fixes otherwise) from construction to
    [`check()`][ebpf.maps.MapSpec.check], which [`Map.create`][ebpf.maps.Map.create] calls before the
    system call: specs read from object files are built so, because C
    programs leave sizes at 0 for user space to set before loading. Sizes
    that disagree with the codecs are refused at construction either way.

    Raises (at construction):
        ValueError: a name the kernel rejects (over 15 bytes, other than
            ``[A-Za-z0-9_.]``), sizes that the type or the codecs rule out,
            ``max_entries`` the type forbids (0 for most), a missing or
            unexpected ``inner_map``, ``BY_NAME`` pinning without a name.
        TypeError: a key or value that is not a codec source, a bad type.
    """

    type: MapType | int
    name: str = ""
    key: CodecSource | None = None
    value: CodecSource | None = None
    key_size: int | None = None
    value_size: int | None = None
    max_entries: int = 0
    flags: MapFlags | int = MapFlags.NONE
    inner_map: MapSpec | None = None
    pinning: PinType = PinType.NONE
    numa_node: int | None = None
    map_extra: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0
    contents: tuple[tuple[Any, Any], ...] = ()
    freeze: bool = False
    check_sizes: bool = field(default=True, compare=False)
    _key_codec: Codec[Any] = field(init=False, repr=False, compare=False)
    _value_codec: Codec[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.type, bool) or not isinstance(self.type, int):
            raise TypeError(f"type must be a MapType, not {self.type!r}")
        if not 0 <= self.type <= 0xFFFFFFFF:
            raise ValueError(
                f"map type {self.type} is not a map type number (0..2**32-1); name types with MapType "
                "(a number newer than this library's table is passed to the kernel as it is)"
            )
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, not {type(self.name).__name__}")
        check_object_name(self.name)
        type_name = map_type_name(self.type)
        rule = map_type_rule(self.type)
        key = as_codec(self.key) if self.key is not None else None
        value = as_codec(self.value) if self.value is not None else None
        if not isinstance(self.check_sizes, bool):
            raise TypeError(f"check_sizes must be a bool, not {self.check_sizes!r}")
        key_size = _resolve_size("key", key, self.key_size, rule.key_size, rule.default_key_size)
        value_size = _resolve_size("value", value, self.value_size, rule.value_size, rule.default_value_size)
        if self.check_sizes:
            problem = _size_problem("key", self.type, key_size, rule.key_size) or _size_problem(
                "value", self.type, value_size, rule.value_size
            )
            if problem:
                raise ValueError(problem)
        key_size = key_size or 0
        value_size = value_size or 0
        if rule.fd_values and value is not None and not isinstance(value, FdCodec):
            raise TypeError(
                f"{type_name} maps hold descriptors; leave value= out (use value_size={value_size})"
            )
        n = self.max_entries
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 0xFFFFFFFF:
            raise ValueError(f"max_entries must be an int in 0..2**32-1, not {n!r}")
        if isinstance(self.flags, bool) or not isinstance(self.flags, int) or self.flags < 0:
            raise TypeError(f"flags must be MapFlags, not {self.flags!r}")
        unknown = self.flags & ~_KNOWN_MAP_FLAGS
        if unknown:
            raise ValueError(
                f"flags {self.flags:#x} have bits this library does not know as map flags ({unknown:#x}); "
                f"use MapFlags: {', '.join(str(f.name) for f in MapFlags if f)}"
            )
        if rule.inner_map and self.inner_map is None:
            raise ValueError(f"{type_name} maps need inner_map=MapSpec(...) describing the maps they hold")
        if not rule.inner_map and self.inner_map is not None:
            raise ValueError(f"{type_name} maps do not hold maps; remove inner_map")
        if self.inner_map is not None and not isinstance(self.inner_map, MapSpec):
            raise TypeError(f"inner_map must be a MapSpec, not {type(self.inner_map).__name__}")
        if not isinstance(self.pinning, PinType):
            raise TypeError(f"pinning must be a PinType, not {self.pinning!r}")
        if self.pinning is PinType.BY_NAME and not self.name:
            raise ValueError("pinning=PinType.BY_NAME needs a name to pin under")
        if self.numa_node is not None and (not isinstance(self.numa_node, int) or self.numa_node < 0):
            raise ValueError(f"numa_node must be a node number >= 0 or None, not {self.numa_node!r}")
        contents: Any = self.contents
        if isinstance(contents, Mapping):
            contents = tuple(contents.items())
        object.__setattr__(self, "contents", tuple(contents))
        object.__setattr__(self, "key_size", key_size)
        object.__setattr__(self, "value_size", value_size)
        object.__setattr__(self, "_key_codec", key or default_key_codec(self.type, key_size))
        object.__setattr__(
            self, "_value_codec", value or default_value_codec(self.type, value_size, self.flags)
        )
        if self.check_sizes:
            self.check()

    def check(self, *fields: Literal["key_size", "value_size", "max_entries"]) -> None:
        """Check the sizes against the rules of the map type, as creating the map will.

        A spec built with ``check_sizes=True`` (the default) passed these
        checks when it was made; one read from an object file may still
        hold the zero sizes its C source leaves to user space.
        [`Map.create`][ebpf.maps.Map.create] calls this before the system call.

        Args:
            fields: check only these (``"key_size"``, ``"value_size"``,
                ``"max_entries"``); all of them by default.

        Raises:
            ValueError: the first size the type refuses, with the sizes it accepts.
        """
        unknown = set(fields) - {"key_size", "value_size", "max_entries"}
        if unknown:
            raise ValueError(
                f"check() takes 'key_size', 'value_size' or 'max_entries', not {', '.join(sorted(unknown))}"
            )
        wanted = set(fields) or {"key_size", "value_size", "max_entries"}
        type_name = map_type_name(self.type)
        rule = map_type_rule(self.type)
        problems = []
        if "key_size" in wanted:
            problems.append(_size_problem("key", self.type, self.key_size, rule.key_size))
        if "value_size" in wanted:
            problems.append(_size_problem("value", self.type, self.value_size, rule.value_size))
            if rule.value_sizes and self.value_size not in rule.value_sizes:
                accepted = " or ".join(map(str, rule.value_sizes))
                problems.append(f"{type_name} maps have a value_size of {accepted}, not {self.value_size}")
        if "max_entries" in wanted:
            problems.append(_max_entries_problem(type_name, rule.max_entries, self.max_entries))
        problem = next((p for p in problems if p), "")
        if problem:
            raise ValueError(problem)

    @property
    def key_codec(self) -> Codec[Any]:
        """The codec of keys (the one given, or the type's default for ``key_size``)."""
        return self._key_codec

    @property
    def value_codec(self) -> Codec[Any]:
        """The codec of one value (for per-CPU maps: of one CPU's value)."""
        return self._value_codec

    @property
    def create_flags(self) -> int:
        """``map_flags`` as sent to the kernel: ``flags`` plus what the type requires and ``NUMA_NODE``."""
        flags = int(self.flags) | map_type_rule(self.type).flags
        if self.numa_node is not None:
            flags |= MapFlags.NUMA_NODE
        return flags
