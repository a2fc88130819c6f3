"""Maps through functions: ``create_map(type, ...)`` for any type, constructors for the common ones.

[`create_map()`][ebpf.core.create_map] creates a map of any type by enum or
name (``"lru_hash"``, ``"lpm_trie"``, ``"devmap_hash"``...); the map types
people reach for first have a constructor of their own, typed with the class
they return. Operations are the map's methods (``m[k] = v``, ``m.lookup(k)``,
``m.items()``, ``m.update_batch(...)``, ``q.pop()``, ``m.dump()``).

Each constructor builds a [`MapSpec`][ebpf.maps.MapSpec] and returns the live
map from [`Map.create`][ebpf.maps.Map.create]: a context manager that
closes the map's descriptor on exit. Keys and values take the codecs of
[`ebpf.maps`][ebpf.maps] (``u32``, ``"<IH"``, a ``ctypes`` structure...) or the
names ``"u8"`` .. ``"u64"``, ``"i8"`` .. ``"i64"``, ``"be16"`` .. ``"be64"``,
``"ipv4"``, ``"ipv6"``, ``"lpm_ipv4"``, ``"lpm_ipv6"``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ebpf.maps import (
        ArrayMap,
        CodecSource,
        DescriptorMap,
        KeyValueMap,
        Map,
        MapSpec,
        PerCpuArrayMap,
        QueueMap,
    )
    from ebpf.syscall import MapType

__all__ = [
    "array_map",
    "create_map",
    "hash_map",
    "map_spec",
    "open_map",
    "percpu_array_map",
    "perf_event_array",
    "queue_map",
    "ringbuf_map",
]

M = TypeVar("M", bound="Map")

_CODEC_NAMES = frozenset(
    {
        "u8",
        "u16",
        "u32",
        "u64",
        "i8",
        "i16",
        "i32",
        "i64",
        "be16",
        "be32",
        "be64",
        "ipv4",
        "ipv6",
        "lpm_ipv4",
        "lpm_ipv6",
    }
)


def _codec(source: CodecSource | None) -> CodecSource | None:
    if isinstance(source, str) and source in _CODEC_NAMES:
        import ebpf.maps

        codec: CodecSource = getattr(ebpf.maps, source)
        return codec
    return source


def _map_type(map_type: MapType | int | str) -> MapType | int:
    from ebpf.syscall import MapType

    if isinstance(map_type, str):
        try:
            return MapType[map_type.upper().removeprefix("BPF_MAP_TYPE_")]
        except KeyError:
            names = ", ".join(t.name.lower() for t in MapType if t.name != "UNSPEC")
            raise ValueError(f"unknown map type {map_type!r}; known: {names}") from None
    return map_type


def map_spec(
    map_type: MapType | int | str,
    key: CodecSource | None = None,
    value: CodecSource | None = None,
    max_entries: int = 0,
    *,
    name: str = "",
    pin: bool = False,
    **fields: Any,
) -> MapSpec:
    """A [`MapSpec`][ebpf.maps.MapSpec] from a type (enum or name: ``"hash"``, ``"percpu_array"``).

    ``pin=True`` pins by name (``PinType.BY_NAME``: at ``<pin_root>/<name>``,
    reusing a compatible map already pinned there). Other keyword arguments
    are the spec's fields (``flags``, ``key_size``, ``inner_map``, ``contents``...).

    Raises:
        ValueError, TypeError: what ``MapSpec`` raises for bad fields, or an unknown type name.
    """
    from ebpf.maps import MapSpec, PinType

    return MapSpec(
        _map_type(map_type),
        name=name,
        key=_codec(key),
        value=_codec(value),
        max_entries=max_entries,
        pinning=PinType.BY_NAME if pin else PinType.NONE,
        **fields,
    )


def _create(
    cls: type[M],
    spec: MapSpec,
    pin_root: str | os.PathLike[str] | None,
) -> M:
    from ebpf.maps import DEFAULT_PIN_ROOT

    return cls.create(spec, pin_root=DEFAULT_PIN_ROOT if pin_root is None else pin_root)


def create_map(
    map_type: MapType | int | str,
    key: CodecSource | None = None,
    value: CodecSource | None = None,
    max_entries: int = 0,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> Map:
    """Create a map of any type; the object's class fits the type (see
    [`ebpf.maps.Map.create()`][ebpf.maps.Map.create]).

    ``pin_root`` pins the map by name under that directory (reusing a
    compatible pinned map). Other keyword arguments are ``MapSpec`` fields.

    Raises:
        ValueError, TypeError: bad arguments, before any system call.
        NotSupportedError: the kernel lacks the map type (with the first version that has it).
        BpfSyscallError: the kernel refused.
    """
    from ebpf.maps import Map

    spec = map_spec(map_type, key, value, max_entries, name=name, pin=pin_root is not None, **fields)
    return _create(Map, spec, pin_root)


def _typed(
    cls: type[M],
    map_type: str,
    key: CodecSource | None,
    value: CodecSource | None,
    max_entries: int,
    name: str,
    pin_root: str | os.PathLike[str] | None,
    fields: dict[str, Any],
) -> M:
    spec = map_spec(map_type, key, value, max_entries, name=name, pin=pin_root is not None, **fields)
    return _create(cls, spec, pin_root)


def hash_map(
    key: CodecSource,
    value: CodecSource,
    max_entries: int = 10240,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> KeyValueMap[Any, Any]:
    """A hash map (``BPF_MAP_TYPE_HASH``): ``with bpf.hash_map("u32", "u64") as m: m[1] = 2``."""
    from ebpf.maps import KeyValueMap

    return _typed(KeyValueMap, "hash", key, value, max_entries, name, pin_root, fields)


def array_map(
    value: CodecSource,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> ArrayMap[Any]:
    """An array (``ARRAY``): ``max_entries`` zeroed values indexed by ``0..max_entries-1``."""
    from ebpf.maps import ArrayMap

    return _typed(ArrayMap, "array", None, value, max_entries, name, pin_root, fields)


def percpu_array_map(
    value: CodecSource,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> PerCpuArrayMap[Any]:
    """An array with one value per possible CPU (``PERCPU_ARRAY``); sum with ``bpf.percpu_sum``."""
    from ebpf.maps import PerCpuArrayMap

    return _typed(PerCpuArrayMap, "percpu_array", None, value, max_entries, name, pin_root, fields)


def queue_map(
    value: CodecSource,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> QueueMap[Any]:
    """A FIFO queue (``QUEUE``): ``push(value)``, ``pop()``, ``peek()`` (``None`` when empty)."""
    from ebpf.maps import QueueMap

    return _typed(QueueMap, "queue", None, value, max_entries, name, pin_root, fields)


def ringbuf_map(
    size: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> Map:
    """A ring buffer (``RINGBUF``, 5.8) of ``size`` bytes, a power of 2 of at least a page.

    Read it with ``ebpf.events``.
    """
    from ebpf.maps import Map

    return _typed(Map, "ringbuf", None, None, size, name, pin_root, fields)


def perf_event_array(
    max_entries: int = 0,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> DescriptorMap[int]:
    """A perf event array (``PERF_EVENT_ARRAY``) for ``bpf_perf_event_output``.

    ``max_entries`` 0 means one entry per possible CPU.
    """
    from ebpf.maps import DescriptorMap
    from ebpf.syscall import possible_cpus

    return _typed(
        DescriptorMap, "perf_event_array", None, None, max_entries or possible_cpus(), name, pin_root, fields
    )


def open_map(
    source: int | str | os.PathLike[str],
    *,
    key: CodecSource | None = None,
    value: CodecSource | None = None,
) -> Map:
    """Open an existing map by id (an int) or by the bpffs path it is pinned at.

    Raises:
        BpfSyscallError: no such map (``ENOENT``), or not a map.
    """
    from ebpf.maps import Map

    if isinstance(source, int):
        return Map.from_id(source, key=_codec(key), value=_codec(value))
    return Map.from_pin(source, key=_codec(key), value=_codec(value))
