"""Maps through functions: constructors for every map type and the common operations.

Each constructor builds a [`MapSpec`][ebpf.maps.MapSpec] and returns the live
map from [`Map.create`][ebpf.maps.Map.create]: a context manager that
closes the map's descriptor on exit. Keys and values take the codecs of
[`ebpf.maps`][ebpf.maps] (``u32``, ``"<IH"``, a ``ctypes`` structure...) or the
names ``"u8"`` .. ``"u64"``, ``"i8"`` .. ``"i64"``, ``"be16"`` .. ``"be64"``,
``"ipv4"``, ``"ipv6"``, ``"lpm_ipv4"``, ``"lpm_ipv6"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ebpf.maps import (
        ArrayMap,
        BloomFilterMap,
        CodecSource,
        DescriptorMap,
        KeyValueMap,
        LpmTrieMap,
        Map,
        MapOfMaps,
        MapSpec,
        PerCpuArrayMap,
        PerCpuMap,
        ProgramArray,
        QueueMap,
        StackMap,
        StackTraceMap,
    )
    from ebpf.syscall import MapType

__all__ = [
    "array_map",
    "array_of_maps",
    "bloom_filter_map",
    "cgroup_array",
    "cpumap",
    "create_map",
    "devmap",
    "dump_map",
    "hash_map",
    "hash_of_maps",
    "lpm_trie_map",
    "lru_hash_map",
    "lru_percpu_hash_map",
    "map_clear",
    "map_count",
    "map_delete",
    "map_delete_batch",
    "map_entries",
    "map_keys",
    "map_lookup",
    "map_lookup_batch",
    "map_peek",
    "map_pop",
    "map_push",
    "map_spec",
    "map_update",
    "map_update_batch",
    "map_values",
    "open_map",
    "percpu_array_map",
    "percpu_hash_map",
    "perf_event_array",
    "prog_array",
    "queue_map",
    "ringbuf_map",
    "sockhash",
    "sockmap",
    "stack_map",
    "stack_trace_map",
]

M = TypeVar("M", bound="Map")
Key = Any

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
_MISSING: Any = object()


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


def lru_hash_map(
    key: CodecSource,
    value: CodecSource,
    max_entries: int = 10240,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> KeyValueMap[Any, Any]:
    """A hash map that evicts the least recently used element when full (``LRU_HASH``)."""
    from ebpf.maps import KeyValueMap

    return _typed(KeyValueMap, "lru_hash", key, value, max_entries, name, pin_root, fields)


def percpu_hash_map(
    key: CodecSource,
    value: CodecSource,
    max_entries: int = 10240,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> PerCpuMap[Any, Any]:
    """A hash map with one value per possible CPU (``PERCPU_HASH``); values read as lists."""
    from ebpf.maps import PerCpuMap

    return _typed(PerCpuMap, "percpu_hash", key, value, max_entries, name, pin_root, fields)


def lru_percpu_hash_map(
    key: CodecSource,
    value: CodecSource,
    max_entries: int = 10240,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> PerCpuMap[Any, Any]:
    """A per-CPU LRU hash map (``LRU_PERCPU_HASH``)."""
    from ebpf.maps import PerCpuMap

    return _typed(PerCpuMap, "lru_percpu_hash", key, value, max_entries, name, pin_root, fields)


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


def lpm_trie_map(
    value: CodecSource,
    max_entries: int,
    key: CodecSource = "lpm_ipv4",
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> LpmTrieMap[Any]:
    """A longest-prefix-match trie (``LPM_TRIE``), keyed by IPv4 networks unless ``key`` says otherwise."""
    from ebpf.maps import LpmTrieMap

    return _typed(LpmTrieMap, "lpm_trie", key, value, max_entries, name, pin_root, fields)


def queue_map(
    value: CodecSource,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> QueueMap[Any]:
    """A FIFO queue (``QUEUE``): [`map_push()`][ebpf.core.map_push], [`map_pop()`][ebpf.core.map_pop],
    [`map_peek()`][ebpf.core.map_peek]."""
    from ebpf.maps import QueueMap

    return _typed(QueueMap, "queue", None, value, max_entries, name, pin_root, fields)


def stack_map(
    value: CodecSource,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> StackMap[Any]:
    """A LIFO stack (``STACK``): [`map_push()`][ebpf.core.map_push], [`map_pop()`][ebpf.core.map_pop],
    [`map_peek()`][ebpf.core.map_peek]."""
    from ebpf.maps import StackMap

    return _typed(StackMap, "stack", None, value, max_entries, name, pin_root, fields)


def bloom_filter_map(
    value: CodecSource,
    max_entries: int,
    *,
    hashes: int = 0,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> BloomFilterMap[Any]:
    """A bloom filter (``BLOOM_FILTER``, 5.16): ``push`` values, test with ``in``.

    ``hashes`` is the number of hash functions (0: the kernel's default, 5).
    """
    from ebpf.maps import BloomFilterMap

    fields.setdefault("map_extra", hashes)
    return _typed(BloomFilterMap, "bloom_filter", None, value, max_entries, name, pin_root, fields)


def stack_trace_map(
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> StackTraceMap:
    """Stack traces collected by ``bpf_get_stackid`` (``STACK_TRACE``); ``m.stack(id)`` gives addresses."""
    from ebpf.maps import StackTraceMap

    return _typed(StackTraceMap, "stack_trace", None, None, max_entries, name, pin_root, fields)


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


def prog_array(
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> ProgramArray:
    """A program array for tail calls (``PROG_ARRAY``): ``m[i] = program``."""
    from ebpf.maps import ProgramArray

    return _typed(ProgramArray, "prog_array", None, None, max_entries, name, pin_root, fields)


def array_of_maps(
    inner: MapSpec,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> MapOfMaps[int]:
    """An array of maps like ``inner`` (``ARRAY_OF_MAPS``): ``m[i] = map``; see
    [`map_spec()`][ebpf.core.map_spec]."""
    from ebpf.maps import MapOfMaps

    fields["inner_map"] = inner
    return _typed(MapOfMaps, "array_of_maps", None, None, max_entries, name, pin_root, fields)


def hash_of_maps(
    key: CodecSource,
    inner: MapSpec,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> MapOfMaps[Any]:
    """A hash of maps like ``inner`` (``HASH_OF_MAPS``)."""
    from ebpf.maps import MapOfMaps

    fields["inner_map"] = inner
    return _typed(MapOfMaps, "hash_of_maps", key, None, max_entries, name, pin_root, fields)


def devmap(
    max_entries: int,
    *,
    hashed: bool = False,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> KeyValueMap[int, Any]:
    """Interfaces for ``bpf_redirect_map``: ``m[i] = ifindex`` (``DEVMAP``, ``DEVMAP_HASH`` if ``hashed``)."""
    from ebpf.maps import KeyValueMap

    kind = "devmap_hash" if hashed else "devmap"
    return _typed(KeyValueMap, kind, None, None, max_entries, name, pin_root, fields)


def cpumap(
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> KeyValueMap[int, Any]:
    """CPUs for XDP redirection (``CPUMAP``): ``m[cpu] = queue_size``."""
    from ebpf.maps import KeyValueMap

    return _typed(KeyValueMap, "cpumap", None, None, max_entries, name, pin_root, fields)


def sockmap(
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> DescriptorMap[int]:
    """Sockets by index (``SOCKMAP``): ``m[i] = socket``."""
    from ebpf.maps import DescriptorMap

    return _typed(DescriptorMap, "sockmap", None, None, max_entries, name, pin_root, fields)


def sockhash(
    key: CodecSource,
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> DescriptorMap[Any]:
    """Sockets by key (``SOCKHASH``)."""
    from ebpf.maps import DescriptorMap

    return _typed(DescriptorMap, "sockhash", key, None, max_entries, name, pin_root, fields)


def cgroup_array(
    max_entries: int,
    *,
    name: str = "",
    pin_root: str | os.PathLike[str] | None = None,
    **fields: Any,
) -> DescriptorMap[int]:
    """cgroups for ``bpf_skb_under_cgroup``/``bpf_current_task_under_cgroup`` (``CGROUP_ARRAY``)."""
    from ebpf.maps import DescriptorMap

    return _typed(DescriptorMap, "cgroup_array", None, None, max_entries, name, pin_root, fields)


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


def _key_value(m: Map, what: str) -> KeyValueMap[Any, Any]:
    from ebpf.maps import KeyValueMap

    if not isinstance(m, KeyValueMap):
        raise TypeError(f"{what} needs a map with keys (hash, array, LPM trie...), not {type(m).__name__}")
    return m


def _value_only(m: Map, what: str) -> QueueMap[Any] | StackMap[Any]:
    from ebpf.maps import QueueMap, StackMap

    if not isinstance(m, QueueMap | StackMap):
        raise TypeError(f"{what} needs a queue or stack map, not {type(m).__name__}")
    return m


def map_lookup(m: Map, key: Key, default: Any = _MISSING) -> Any:
    """The value at ``key``; ``default`` when given and the key is missing.

    Raises:
        KeyNotFoundError: no such key and no ``default`` (a ``KeyError``).
    """
    kv = _key_value(m, "map_lookup")
    if default is _MISSING:
        return kv.lookup(key)
    return kv.get(key, default)


def map_update(m: Map, key: Key, value: Any, *, flags: int = 0) -> None:
    """Set ``key`` to ``value``; ``flags`` are ``UpdateFlags`` (``NOEXIST``, ``EXIST``, ``LOCK``)."""
    _key_value(m, "map_update").update(key, value, flags=flags)


def map_delete(m: Map, key: Key) -> None:
    """Remove ``key``.

    Raises:
        KeyNotFoundError: no such key.
    """
    _key_value(m, "map_delete").delete(key)


def map_keys(m: Map) -> list[Any]:
    """Every key, in the kernel's order."""
    return list(_key_value(m, "map_keys"))


def map_values(m: Map) -> list[Any]:
    """Every value, in the kernel's order."""
    return list(_key_value(m, "map_values").values())


def map_entries(m: Map) -> list[tuple[Any, Any]]:
    """Every ``(key, value)`` pair, in batches where the kernel has batch commands."""
    return list(_key_value(m, "map_entries").lookup_batch().items())


def map_count(m: Map) -> int:
    """How many elements the map holds (``max_entries`` for arrays)."""
    return len(_key_value(m, "map_count"))


def map_clear(m: Map) -> None:
    """Remove every element (arrays: zero every value)."""
    _key_value(m, "map_clear").clear()


def map_lookup_batch(m: Map, *, delete: bool = False, chunk_size: int | None = None) -> dict[Any, Any]:
    """Every element as a dict, ``chunk_size`` per system call; ``delete`` empties the map as it reads."""
    kv = _key_value(m, "map_lookup_batch")
    if delete:
        return kv.lookup_and_delete_batch(chunk_size=chunk_size)
    return kv.lookup_batch(chunk_size=chunk_size)


def map_update_batch(
    m: Map,
    items: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    *,
    flags: int = 0,
    chunk_size: int | None = None,
) -> int:
    """Write many elements at once; returns how many were written."""
    return _key_value(m, "map_update_batch").update_batch(items, flags=flags, chunk_size=chunk_size)


def map_delete_batch(m: Map, keys: Iterable[Any], *, chunk_size: int | None = None) -> int:
    """Remove many keys at once; returns how many were removed."""
    return _key_value(m, "map_delete_batch").delete_batch(keys, chunk_size=chunk_size)


def map_push(m: Map, value: Any, *, flags: int = 0) -> None:
    """Push onto a queue or stack map (``UpdateFlags.EXIST`` drops the oldest when full)."""
    _value_only(m, "map_push").push(value, flags=flags)


def map_pop(m: Map) -> Any:
    """Take the next value of a queue (oldest) or stack (newest); ``None`` when empty."""
    return _value_only(m, "map_pop").pop()


def map_peek(m: Map) -> Any:
    """The next value of a queue or stack without taking it; ``None`` when empty."""
    return _value_only(m, "map_peek").peek()


def dump_map(m: Map, *, limit: int | None = None) -> str:
    """A readable listing of a map: a header line, then ``key: value`` lines (sorted when keys sort)."""
    return _key_value(m, "dump_map").dump(limit=limit)
