"""ebpf.maps: every eBPF map type with typed keys and values.

A [`MapSpec`][ebpf.maps.MapSpec] describes a map (plain data); [`Map.create()`][ebpf.maps.Map.create] makes it
in the kernel and returns the live object of the class that fits its type:
[`KeyValueMap`][ebpf.maps.KeyValueMap] (hash, LRU hash, devmap, cpumap), [`ArrayMap`][ebpf.maps.ArrayMap],
[`PerCpuMap`][ebpf.maps.PerCpuMap]/[`PerCpuArrayMap`][ebpf.maps.PerCpuArrayMap],
[`LpmTrieMap`][ebpf.maps.LpmTrieMap], [`QueueMap`][ebpf.maps.QueueMap], [`StackMap`][ebpf.maps.StackMap],
[`BloomFilterMap`][ebpf.maps.BloomFilterMap], [`StackTraceMap`][ebpf.maps.StackTraceMap],
[`DescriptorMap`][ebpf.maps.DescriptorMap] (sockmaps, perf event arrays...),
[`ProgramArray`][ebpf.maps.ProgramArray], [`MapOfMaps`][ebpf.maps.MapOfMaps],
[`LocalStorageMap`][ebpf.maps.LocalStorageMap], or plain [`Map`][ebpf.maps.Map] (ring buffers, arenas,
struct_ops). Codecs (`u32`, `u64`, ``struct`` formats, ``ctypes`` types, construct-like schemas, IP addresses
and prefixes, BTF types with [`BtfCodec`][ebpf.maps.BtfCodec], your own) convert keys and values.
[`log2_histogram()`][ebpf.maps.log2_histogram] and [`linear_histogram()`][ebpf.maps.linear_histogram]
(per key: [`log2_histograms()`][ebpf.maps.log2_histograms]) read the slot counts of histogram maps
into a [`Histogram`][ebpf.maps.Histogram], which prints as bcc does.

Lifecycle: a live map owns one descriptor, released by ``close()``, a
``with`` block, or garbage collection. Element operations of one map object
share preallocated buffers: use one object per thread ([`Map.dup()`][ebpf.maps.Map.dup]).
Importing this package makes no system call.
"""

from typing import TYPE_CHECKING, Any

from ._array import ArrayMap, PerCpuArrayMap, PerCpuMap
from ._codecs import (
    BytesCodec,
    Codec,
    CodecLike,
    CodecSlot,
    CodecSource,
    ConstructCodec,
    CtypesCodec,
    FdCodec,
    IntCodec,
    Slot,
    StringCodec,
    StructCodec,
    as_codec,
    be16,
    be32,
    be64,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
)
from ._fdmaps import DescriptorMap, LocalStorageMap, MapOfMaps, ProgramArray
from ._histogram import (
    MSECS,
    NSECS,
    USECS,
    Bucket,
    Histogram,
    HistogramUnit,
    format_histograms,
    linear_histogram,
    linear_histograms,
    log2_histogram,
    log2_histograms,
)
from ._ipcodecs import IPv4Codec, IPv6Codec, LpmKey, LpmKeyCodec, ipv4, ipv6, lpm_ipv4, lpm_ipv6
from ._keyvalue import KeyValueMap
from ._map import DEFAULT_PIN_ROOT, Map
from ._percpu import PerCpuCodec, percpu_avg, percpu_max, percpu_min, percpu_stride, percpu_sum
from ._spec import MapSpec, PinType
from ._types import BloomFilterMap, LpmTrieMap, QueueMap, StackMap, StackTraceMap

if TYPE_CHECKING:
    from ._btfcodec import BtfCodec

#: The version of ``ebpf-maps``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PIN_ROOT",
    "MSECS",
    "NSECS",
    "USECS",
    "ArrayMap",
    "BloomFilterMap",
    "BtfCodec",
    "Bucket",
    "BytesCodec",
    "Codec",
    "CodecLike",
    "CodecSlot",
    "CodecSource",
    "ConstructCodec",
    "CtypesCodec",
    "DescriptorMap",
    "FdCodec",
    "Histogram",
    "HistogramUnit",
    "IPv4Codec",
    "IPv6Codec",
    "IntCodec",
    "KeyValueMap",
    "LocalStorageMap",
    "LpmKey",
    "LpmKeyCodec",
    "LpmTrieMap",
    "Map",
    "MapOfMaps",
    "MapSpec",
    "PerCpuArrayMap",
    "PerCpuCodec",
    "PerCpuMap",
    "PinType",
    "ProgramArray",
    "QueueMap",
    "Slot",
    "StackMap",
    "StackTraceMap",
    "StringCodec",
    "StructCodec",
    "__version__",
    "as_codec",
    "be16",
    "be32",
    "be64",
    "format_histograms",
    "i8",
    "i16",
    "i32",
    "i64",
    "ipv4",
    "ipv6",
    "linear_histogram",
    "linear_histograms",
    "log2_histogram",
    "log2_histograms",
    "lpm_ipv4",
    "lpm_ipv6",
    "percpu_avg",
    "percpu_max",
    "percpu_min",
    "percpu_stride",
    "percpu_sum",
    "u8",
    "u16",
    "u32",
    "u64",
]


def __getattr__(name: str) -> Any:
    """``BtfCodec``, on first use (PEP 562).

    Raises:
        AttributeError: ``name`` is not ``BtfCodec``.
    """
    # BtfCodec needs ebpf.btf, whose import costs more than the rest of this
    # package: it is imported on first use.
    if name == "BtfCodec":
        from ._btfcodec import BtfCodec

        return BtfCodec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
