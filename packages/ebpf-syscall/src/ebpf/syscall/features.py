"""Feature probes: what the running kernel supports, asked of the kernel itself.

A [`Feature`][ebpf.syscall.features.Feature] names a capability in words, the first kernel version
that has it, the kernel config options it also depends on, and a probe: a
function that asks the kernel (creates a tiny map, loads a two-instruction
program, makes a command fail on purpose and reads the errno) and answers
``True`` or ``False``. Version numbers are documentation and test oracles,
never the answer: distributions backport features, and options can be
configured out.

Conclusive and inconclusive answers
    A probe's ``True``/``False`` is conclusive and cached for the life of the
    process (probing again would give the same answer), thread-safely: the
    first caller probes, concurrent callers wait for its answer. A probe
    that cannot tell raises instead, and the exception reaches the caller
    unchanged: typically [`PermissionDeniedError`][ebpf.syscall.PermissionDeniedError]
    (``EPERM``: not privileged, or a security policy refuses even root) or
    [`BpfSyscallError`][ebpf.syscall.BpfSyscallError] with an errno the probe
    does not expect. Nothing is cached then, and the next call probes again.

Using them
    ``feature.supported()`` answers; ``feature.require()`` raises
    [`NotSupportedError`][ebpf.syscall.NotSupportedError] naming the feature and
    its first version when the answer is no. Lookups build the probe for a
    map type ([`map_type_feature()`][ebpf.syscall.features.map_type_feature]), program type, link type, BTF
    kind or helper; the module constants (`RINGBUF`, `BPF_LINK`,
    `CORE_RELOCATIONS`...) are named features. [`all_features()`][ebpf.syscall.features.all_features]
    lists every declared probe, for reports (``python -m ebpf.syscall``).

Every descriptor a probe opens is closed before it returns, on every path.
Nothing here runs at import: probes run when first asked.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import gzip
import logging
import os
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from . import _probes_btf as _btf
from . import _probes_sys as _sys
from ._generated import AttachType, LinkCreateAttr, LinkType, MapType, ProgType
from .errors import EbpfError, NotSupportedError, ParseError, VerifierError
from .fd import FD
from .flags import MapFlags, ProgLoadFlags
from .system import KernelVersion, kernel_version

__all__ = [
    "ARENA",
    "BATCH_OPS",
    "BOUNDED_LOOPS",
    "BPF_LINK",
    "BPF_TOKEN",
    "BPF_TO_BPF_CALLS",
    "BTF",
    "BTF_FUNC_INFO",
    "BTF_GLOBAL_FUNC",
    "BTF_KIND_VERSIONS",
    "CORE_RELOCATIONS",
    "FENTRY",
    "GLOBAL_DATA",
    "ISA_V2",
    "ISA_V3",
    "ISA_V4",
    "KFUNC_CALLS",
    "KPROBE_MULTI",
    "KPROBE_PMU",
    "LARGE_PROGRAMS",
    "LINK_TYPE_VERSIONS",
    "LOG_TRUE_SIZE",
    "MAP_TYPE_VERSIONS",
    "MMAPABLE_MAPS",
    "NETKIT",
    "PROG_TEST_RUN",
    "PROG_TYPE_VERSIONS",
    "RINGBUF",
    "SLEEPABLE_PROGRAMS",
    "TCX",
    "UPROBE_MULTI",
    "UPROBE_PMU",
    "Feature",
    "Probe",
    "all_features",
    "btf_kind_feature",
    "btf_kind_supported",
    "declare",
    "helper_feature",
    "helper_supported",
    "kernel_config",
    "link_type_feature",
    "link_type_supported",
    "map_type_feature",
    "map_type_supported",
    "parse_kernel_config",
    "parse_version",
    "prog_type_feature",
    "prog_type_supported",
]

log = logging.getLogger("ebpf.syscall")

#: A probe: answers ``True``/``False`` when it can tell, raises when it cannot.
Probe = Callable[[], bool]

# --------------------------------------------------------------------------
# Versions and kernel configuration
# --------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, ...]:
    """Parse a first-version string: ``"5.8"`` -> ``(5, 8)``, ``"4.14.1"`` -> ``(4, 14, 1)``.

    As many parts as ``text`` has; parsed by
    [`KernelVersion.parse(text, exact=True)`][ebpf.syscall.KernelVersion.parse].

    Raises:
        ValueError: ``text`` is not ``MAJOR.MINOR[.PATCH]`` (a `ParseError`).
    """
    if not isinstance(text, str):
        raise ParseError(f"not a kernel version: {text!r} (expected MAJOR.MINOR[.PATCH])")
    version = KernelVersion.parse(text, exact=True)
    return tuple(version) if text.count(".") == 2 else tuple(version[:2])


_CONFIG_SET = re.compile(r"(CONFIG_\w+)=(.*)")
_CONFIG_UNSET = re.compile(r"# (CONFIG_\w+) is not set")


def parse_kernel_config(text: str) -> dict[str, str]:
    """Parse a kernel ``.config``: ``{"CONFIG_BPF": "y", "CONFIG_KPROBES": "n", ...}``.

    Values are as written (``y``, ``m``, numbers), string values without
    their quotes, and ``n`` for ``# CONFIG_X is not set``. Other lines
    (comments, blanks) are ignored.
    """
    table: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if match := _CONFIG_SET.fullmatch(line):
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            table[match.group(1)] = value
        elif match := _CONFIG_UNSET.fullmatch(line):
            table[match.group(1)] = "n"
    return table


@functools.cache
def _config_table() -> dict[str, str] | None:
    # /proc/config.gz exists with CONFIG_IKCONFIG_PROC; distributions ship
    # the build configuration as /boot/config-$(uname -r) instead.
    try:
        with gzip.open("/proc/config.gz", "rt", encoding="utf-8", errors="replace") as f:
            return parse_kernel_config(f.read())
    except OSError:
        pass
    try:
        text = Path(f"/boot/config-{os.uname().release}").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return parse_kernel_config(text)


def kernel_config(option: str) -> str | None:
    """The value of a kernel build option, from ``/proc/config.gz`` or ``/boot/config-$(uname -r)``.

    ``option`` may be given with or without its ``CONFIG_`` prefix. Returns
    ``"y"``, ``"m"``, a number or string, or ``"n"`` for an option that is off
    (written as "is not set", or absent: Kconfig leaves out options whose
    dependencies are off); ``None`` when neither file can be read. The file
    is read once.
    """
    table = _config_table()
    if table is None:
        return None
    name = option if option.startswith("CONFIG_") else f"CONFIG_{option}"
    return table.get(name, "n")


# --------------------------------------------------------------------------
# The framework
# --------------------------------------------------------------------------


class Feature:
    """A kernel feature, the first version that has it, and a probe that asks the kernel.

    Attributes:
        name: the feature in words (``"map type RINGBUF"``).
        version: the first upstream kernel version that has it (``"5.8"``),
            or ``None`` when unknown (helpers).
        config: kernel options it also needs (``("CONFIG_FPROBE",)``).
    """

    __slots__ = ("_lock", "_probe", "_result", "config", "name", "version")

    def __init__(
        self, name: str, version: str | None, probe: Probe, *, config: str | Iterable[str] = ()
    ) -> None:
        """Declare a feature; nothing is probed until [`supported()`][ebpf.syscall.features.Feature.supported]
        is called.

        ``probe`` returns ``True``/``False`` when it can tell and raises
        otherwise.

        Raises:
            ValueError: ``version`` is not ``MAJOR.MINOR[.PATCH]``.
        """
        if version is not None:
            parse_version(version)
        options = (config,) if isinstance(config, str) else tuple(config)
        self.name = name
        self.version = version
        self.config = tuple(opt if opt.startswith("CONFIG_") else f"CONFIG_{opt}" for opt in options)
        self._probe = probe
        self._result: bool | None = None
        self._lock = threading.Lock()

    @property
    def version_info(self) -> tuple[int, ...] | None:
        """`version` as a tuple (``(5, 8)``), comparable with kernel versions."""
        return None if self.version is None else parse_version(self.version)

    @property
    def cached(self) -> bool | None:
        """The conclusive answer if the probe has given one, else ``None`` (nothing is probed)."""
        return self._result

    def supported(self) -> bool:
        """Whether the running kernel has the feature; probes once, then answers from the cache.

        Raises:
            Exception: whatever the probe raised when it could not tell
                ([`PermissionDeniedError`][ebpf.syscall.PermissionDeniedError],
                [`BpfSyscallError`][ebpf.syscall.BpfSyscallError]...), unchanged.
                Nothing is cached; the next call probes again.
        """
        result = self._result
        if result is not None:
            return result
        with self._lock:
            if self._result is None:
                try:
                    answer = self._probe()
                except Exception as exc:
                    log.debug("feature %s: cannot tell: %s", self.name, exc)
                    raise
                if not isinstance(answer, bool):
                    raise TypeError(f"probe of {self.name!r} returned {answer!r}, not a bool")
                log.debug("feature %s: %s", self.name, "supported" if answer else "not supported")
                self._result = answer
            return self._result

    def missing_config(self) -> tuple[str, ...]:
        """The options of `config` the kernel configuration says are off.

        Empty when all are on, or when the configuration cannot be read.
        """
        return tuple(opt for opt in self.config if kernel_config(opt) == "n")

    def require(self) -> None:
        """Return if the kernel has the feature.

        Raises:
            NotSupportedError: it does not; the message names the feature, its
                first version and any missing config option.
            Exception: the probe could not tell (see
                [`supported()`][ebpf.syscall.features.Feature.supported]).
        """
        if not self.supported():
            missing = self.missing_config()
            detail = f"the kernel was built without {', '.join(missing)}" if missing else ""
            raise NotSupportedError(self.name, self.version, detail)

    def __repr__(self) -> str:
        state = {None: "not probed", True: "supported", False: "not supported"}[self._result]
        return f"<Feature {self.name!r} since {self.version or '?'}: {state}>"


# Declared features by group, in the order all_features() lists them.
_DECLARED: dict[str, list[Feature]] = {"named": [], "map": [], "prog": [], "link": [], "btf": []}


def _declare(feature: Feature, group: str = "named") -> Feature:
    _DECLARED[group].append(feature)
    return feature


def declare(name: str, version: str, probe: Probe, *, config: str | Iterable[str] = ()) -> Feature:
    """Declare a feature (see [`Feature`][ebpf.syscall.features.Feature]) and list it in
    [`all_features()`][ebpf.syscall.features.all_features].

    For probes declared next to the code that needs them, in other packages.

    Raises:
        ValueError: ``version`` is not ``MAJOR.MINOR[.PATCH]``.
    """
    return _declare(Feature(name, version, probe, config=config))


def all_features() -> list[Feature]:
    """Every declared feature: the named ones, then each map type, program type, link type and BTF kind.

    Helpers are not listed: there is one feature per (program type, helper)
    pair, made on demand by [`helper_feature()`][ebpf.syscall.features.helper_feature].
    """
    return [feature for group in _DECLARED.values() for feature in group]


# --------------------------------------------------------------------------
# Probe plumbing
# --------------------------------------------------------------------------


def _verdict(
    ret: int,
    command: str,
    context: str,
    yes: Iterable[int] = (),
    no: Iterable[int] = (errno.EINVAL, errno.E2BIG),
    *,
    returns_fd: bool = True,
) -> bool:
    """Turn a raw result into an answer: success or an errno of ``yes`` is True, ``no`` False.

    The descriptor a successful command returned is closed (``returns_fd``).
    Any other errno is inconclusive and raised. EINVAL is what the kernel
    answers for a type, command, attach type or flag it does not know; E2BIG
    for an attr with non-zero bytes past the end of the ``union bpf_attr`` it
    knows (a field newer than the kernel).
    """
    if ret >= 0:
        if returns_fd:
            os.close(ret)
        return True
    err = -ret
    if err in yes:
        return True
    if err in no:
        return False
    raise _sys.unexpected(err, command, context)


def _enum_name(member: MapType | ProgType | LinkType) -> str:
    # MapType(19) is CGROUP_STORAGE_DEPRECATED first and CGROUP_STORAGE as an
    # alias: prefer the name without the suffix.
    names = [name for name, m in type(member).__members__.items() if m == member]
    plain = [name for name in names if not name.endswith("_DEPRECATED")]
    return (plain or names)[0]


def _load_failure(result: _sys.LoadResult, context: str) -> EbpfError:
    """The inconclusive exception for a failed load, with the verifier log when there is one."""
    if result.log.strip():
        return VerifierError(
            result.err, "BPF_PROG_LOAD", f"feature probe: {context}", result.log.splitlines()
        )
    return _sys.unexpected(result.err, "BPF_PROG_LOAD", context)


def _btf_fd(blob: bytes, context: str) -> FD:
    """Load a BTF blob the caller knows the kernel accepts; raise if it does not."""
    return _sys.owned(_sys.btf_load(blob), "BPF_BTF_LOAD", context)


# --------------------------------------------------------------------------
# Map types
# --------------------------------------------------------------------------

#: The first kernel version of each map type.
MAP_TYPE_VERSIONS: Mapping[MapType, str] = MappingProxyType(
    {
        MapType.HASH: "3.19",
        MapType.ARRAY: "3.19",
        MapType.PROG_ARRAY: "4.2",
        MapType.PERF_EVENT_ARRAY: "4.3",
        MapType.PERCPU_HASH: "4.6",
        MapType.PERCPU_ARRAY: "4.6",
        MapType.STACK_TRACE: "4.6",
        MapType.CGROUP_ARRAY: "4.8",
        MapType.LRU_HASH: "4.10",
        MapType.LRU_PERCPU_HASH: "4.10",
        MapType.LPM_TRIE: "4.11",
        MapType.ARRAY_OF_MAPS: "4.12",
        MapType.HASH_OF_MAPS: "4.12",
        MapType.DEVMAP: "4.14",
        MapType.SOCKMAP: "4.14",
        MapType.CPUMAP: "4.15",
        MapType.XSKMAP: "4.18",
        MapType.SOCKHASH: "4.18",
        MapType.CGROUP_STORAGE: "4.19",
        MapType.REUSEPORT_SOCKARRAY: "4.19",
        MapType.PERCPU_CGROUP_STORAGE: "4.20",
        MapType.QUEUE: "4.20",
        MapType.STACK: "4.20",
        MapType.SK_STORAGE: "5.2",
        MapType.DEVMAP_HASH: "5.4",
        MapType.STRUCT_OPS: "5.6",
        MapType.RINGBUF: "5.8",
        MapType.INODE_STORAGE: "5.10",
        MapType.TASK_STORAGE: "5.11",
        MapType.BLOOM_FILTER: "5.16",
        MapType.USER_RINGBUF: "6.1",
        MapType.CGRP_STORAGE: "6.2",
        MapType.ARENA: "6.9",
    }
)

# Kernel options a map type is built under (include/linux/bpf_types.h).
_MAP_TYPE_CONFIG: dict[MapType, tuple[str, ...]] = {
    MapType.STACK_TRACE: ("CONFIG_PERF_EVENTS",),
    MapType.CGROUP_ARRAY: ("CONFIG_CGROUPS",),
    MapType.CGRP_STORAGE: ("CONFIG_CGROUPS",),
    MapType.CGROUP_STORAGE: ("CONFIG_CGROUP_BPF",),
    MapType.PERCPU_CGROUP_STORAGE: ("CONFIG_CGROUP_BPF",),
    MapType.INODE_STORAGE: ("CONFIG_BPF_LSM",),
    MapType.DEVMAP: ("CONFIG_NET",),
    MapType.DEVMAP_HASH: ("CONFIG_NET",),
    MapType.SK_STORAGE: ("CONFIG_NET",),
    MapType.CPUMAP: ("CONFIG_NET",),
    MapType.XSKMAP: ("CONFIG_XDP_SOCKETS",),
    MapType.SOCKMAP: ("CONFIG_INET",),
    MapType.SOCKHASH: ("CONFIG_INET",),
    MapType.REUSEPORT_SOCKARRAY: ("CONFIG_INET",),
    MapType.STRUCT_OPS: ("CONFIG_BPF_JIT",),
    MapType.ARENA: ("CONFIG_MMU", "CONFIG_64BIT"),
}

_LOCAL_STORAGE = (MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE)

# Attributes that make each map type's create succeed (key size, value size,
# max_entries, flags); the default is a 4-byte key and value and one entry.
# The kernel checks them in the type's map_alloc_check.
_MAP_ATTRS: dict[MapType, tuple[int, int, int, int]] = {
    # Values are arrays of u64 instruction pointers.
    MapType.STACK_TRACE: (4, 8, 1, 0),
    # struct bpf_lpm_trie_key_u8 (u32 prefixlen + data) and no preallocation.
    MapType.LPM_TRIE: (8, 8, 1, MapFlags.NO_PREALLOC),
    # struct bpf_cgroup_storage_key (u64 inode id + u32 attach type, padded);
    # the entries are made per attachment, so max_entries must be 0.
    MapType.CGROUP_STORAGE: (16, 4, 0, 0),
    MapType.PERCPU_CGROUP_STORAGE: (16, 4, 0, 0),
    # No keys.
    MapType.QUEUE: (0, 4, 1, 0),
    MapType.STACK: (0, 4, 1, 0),
    MapType.BLOOM_FILTER: (0, 4, 1, 0),
    # No keys or values; the size is a power-of-two number of pages (one page,
    # filled in when probing).
    MapType.RINGBUF: (0, 0, 0, 0),
    MapType.USER_RINGBUF: (0, 0, 0, 0),
    # max_entries counts pages; an arena must be mmap-able.
    MapType.ARENA: (0, 0, 1, MapFlags.MMAPABLE),
}


def _probe_map_type(map_type: MapType) -> bool:
    context = f"creating a {_enum_name(map_type)} map"
    if map_type in _LOCAL_STORAGE:
        return _probe_local_storage(map_type, context)
    if map_type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        # Maps of maps take their value layout from an inner map.
        inner = _sys.owned(_sys.map_create(MapType.ARRAY, 4, 4, 1), "BPF_MAP_CREATE", "an inner map")
        with inner:
            ret = _sys.map_create(map_type, 4, 4, 1, inner_map_fd=inner.fileno())
            return _verdict(ret, "BPF_MAP_CREATE", context)
    if map_type == MapType.STRUCT_OPS:
        # A struct_ops map needs the vmlinux BTF id of a struct_ops value type
        # (struct bpf_struct_ops_tcp_congestion_ops...). Id 1 is always some
        # other type, so a kernel that knows the map type passes the generic
        # checks and fails the value type lookup with ENOTSUPP; one that does
        # not says EINVAL (unknown type), or E2BIG before 5.6, when the
        # btf_vmlinux_value_type_id field did not exist yet.
        ret = _sys.map_create(map_type, 4, 4, 1, btf_vmlinux_value_type_id=1)
        return _verdict(ret, "BPF_MAP_CREATE", context, yes=(_sys.ENOTSUPP,))
    key, value, entries, flags = _MAP_ATTRS.get(map_type, (4, 4, 1, 0))
    if map_type in (MapType.RINGBUF, MapType.USER_RINGBUF):
        entries = os.sysconf("SC_PAGE_SIZE")
    return _verdict(_sys.map_create(map_type, key, value, entries, flags=flags), "BPF_MAP_CREATE", context)


def _probe_local_storage(map_type: MapType, context: str) -> bool:
    # Socket, inode, task and cgroup local storage: int keys (the owner's
    # fd), entries made per owner (max_entries 0, BPF_F_NO_PREALLOC), and
    # BTF ids for key and value are mandatory (bpf_local_storage_map_alloc_check
    # says EINVAL without them); the key's BTF type must be a 4-byte int.
    if not BTF.supported():
        return False  # local storage (5.2) is newer than BTF (4.18)
    with _btf_fd(_btf.int_blob(), "BTF for a local storage map") as btf:
        ret = _sys.map_create(
            map_type,
            4,
            4,
            0,
            flags=MapFlags.NO_PREALLOC,
            btf_fd=btf.fileno(),
            btf_key_type_id=1,
            btf_value_type_id=1,
        )
        return _verdict(ret, "BPF_MAP_CREATE", context)


def _map_type_probe(map_type: MapType) -> Probe:
    return lambda: _probe_map_type(map_type)


_MAP_FEATURES: dict[int, Feature] = {
    mt: _declare(
        Feature(f"map type {_enum_name(mt)}", v, _map_type_probe(mt), config=_MAP_TYPE_CONFIG.get(mt, ())),
        "map",
    )
    for mt, v in MAP_TYPE_VERSIONS.items()
}


def _lookup(table: Mapping[int, Feature], kind: str, key: int) -> Feature:
    try:
        return table[key]
    except KeyError:
        raise ValueError(f"no feature probe for {kind} {key!r}") from None


def map_type_feature(map_type: MapType | int) -> Feature:
    """The feature "the kernel has map type ``map_type``".

    Raises:
        ValueError: a type this table does not know (``UNSPEC``, a number
            newer than the generated enum).
    """
    return _lookup(_MAP_FEATURES, "map type", map_type)


def map_type_supported(map_type: MapType | int) -> bool:
    """Whether the running kernel can create maps of ``map_type`` (see
    [`map_type_feature()`][ebpf.syscall.features.map_type_feature])."""
    return map_type_feature(map_type).supported()


# --------------------------------------------------------------------------
# Program types
# --------------------------------------------------------------------------

#: The first kernel version of each program type.
PROG_TYPE_VERSIONS: Mapping[ProgType, str] = MappingProxyType(
    {
        ProgType.SOCKET_FILTER: "3.19",
        ProgType.KPROBE: "4.1",
        ProgType.SCHED_CLS: "4.1",
        ProgType.SCHED_ACT: "4.1",
        ProgType.TRACEPOINT: "4.7",
        ProgType.XDP: "4.8",
        ProgType.PERF_EVENT: "4.9",
        ProgType.CGROUP_SKB: "4.10",
        ProgType.CGROUP_SOCK: "4.10",
        ProgType.LWT_IN: "4.10",
        ProgType.LWT_OUT: "4.10",
        ProgType.LWT_XMIT: "4.10",
        ProgType.SOCK_OPS: "4.13",
        ProgType.SK_SKB: "4.14",
        ProgType.CGROUP_DEVICE: "4.15",
        ProgType.SK_MSG: "4.17",
        ProgType.RAW_TRACEPOINT: "4.17",
        ProgType.CGROUP_SOCK_ADDR: "4.17",
        ProgType.LWT_SEG6LOCAL: "4.18",
        ProgType.LIRC_MODE2: "4.18",
        ProgType.SK_REUSEPORT: "4.19",
        ProgType.FLOW_DISSECTOR: "4.20",
        ProgType.CGROUP_SYSCTL: "5.2",
        ProgType.RAW_TRACEPOINT_WRITABLE: "5.2",
        ProgType.CGROUP_SOCKOPT: "5.3",
        ProgType.TRACING: "5.5",
        ProgType.STRUCT_OPS: "5.6",
        ProgType.EXT: "5.6",
        ProgType.LSM: "5.7",
        ProgType.SK_LOOKUP: "5.9",
        ProgType.SYSCALL: "5.14",
        ProgType.NETFILTER: "6.4",
    }
)

_NET = ("CONFIG_NET",)
_CGROUP_BPF = ("CONFIG_CGROUP_BPF",)
_BPF_EVENTS = ("CONFIG_BPF_EVENTS",)
_INET = ("CONFIG_INET",)

# Kernel options a program type is built under (include/linux/bpf_types.h),
# plus vmlinux BTF for the types whose probe needs it.
_PROG_TYPE_CONFIG: dict[ProgType, tuple[str, ...]] = {
    ProgType.SOCKET_FILTER: _NET,
    ProgType.KPROBE: _BPF_EVENTS,
    ProgType.SCHED_CLS: _NET,
    ProgType.SCHED_ACT: _NET,
    ProgType.TRACEPOINT: _BPF_EVENTS,
    ProgType.XDP: _NET,
    ProgType.PERF_EVENT: _BPF_EVENTS,
    ProgType.CGROUP_SKB: _CGROUP_BPF,
    ProgType.CGROUP_SOCK: _CGROUP_BPF,
    ProgType.LWT_IN: _NET,
    ProgType.LWT_OUT: _NET,
    ProgType.LWT_XMIT: _NET,
    ProgType.SOCK_OPS: _NET,
    ProgType.SK_SKB: _NET,
    ProgType.CGROUP_DEVICE: _CGROUP_BPF,
    ProgType.SK_MSG: _NET,
    ProgType.RAW_TRACEPOINT: _BPF_EVENTS,
    ProgType.CGROUP_SOCK_ADDR: _CGROUP_BPF,
    ProgType.LWT_SEG6LOCAL: _NET,
    ProgType.LIRC_MODE2: ("CONFIG_BPF_LIRC_MODE2",),
    ProgType.SK_REUSEPORT: _INET,
    ProgType.FLOW_DISSECTOR: _NET,
    ProgType.CGROUP_SYSCTL: _CGROUP_BPF,
    ProgType.RAW_TRACEPOINT_WRITABLE: _BPF_EVENTS,
    ProgType.CGROUP_SOCKOPT: _CGROUP_BPF,
    ProgType.TRACING: ("CONFIG_BPF_EVENTS", "CONFIG_DEBUG_INFO_BTF"),
    ProgType.STRUCT_OPS: ("CONFIG_BPF_JIT",),
    ProgType.EXT: ("CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF"),
    ProgType.LSM: ("CONFIG_BPF_LSM", "CONFIG_DEBUG_INFO_BTF"),
    ProgType.SK_LOOKUP: _INET,
    ProgType.NETFILTER: ("CONFIG_NETFILTER_BPF_LINK",),
}

# What BPF_PROG_LOAD needs besides the type, checked before verification
# (bpf_prog_load_check_attach): some types insist on an expected attach type.
_PROG_LOAD_ATTRS: dict[ProgType, _sys.LoadAttrs] = {
    ProgType.CGROUP_SOCK_ADDR: {"expected_attach_type": AttachType.CGROUP_INET4_CONNECT},
    ProgType.CGROUP_SOCKOPT: {"expected_attach_type": AttachType.CGROUP_GETSOCKOPT},
    ProgType.SK_LOOKUP: {"expected_attach_type": AttachType.SK_LOOKUP},
    ProgType.LIRC_MODE2: {"expected_attach_type": AttachType.LIRC_MODE2},
    ProgType.NETFILTER: {"expected_attach_type": AttachType.NETFILTER},
    # Syscall programs are always sleepable.
    ProgType.SYSCALL: {"flags": ProgLoadFlags.SLEEPABLE},
    # Types attached through BTF need a type id to attach to. The probes give
    # vmlinux type 1, which is never a function or a tracepoint typedef: a
    # kernel that knows the type gets as far as the verifier, which rejects
    # the id with EINVAL and a message (see _BTF_ATTACHED below).
    ProgType.TRACING: {"expected_attach_type": AttachType.TRACE_RAW_TP, "attach_btf_id": 1},
    # LSM programs attach as LSM_MAC; the probe uses MODIFY_RETURN like
    # libbpf's, whose message check has held on every kernel since 5.7.
    ProgType.LSM: {"expected_attach_type": AttachType.MODIFY_RETURN, "attach_btf_id": 1},
    # EXT also needs a target program: see _probe_prog_type.
    ProgType.EXT: {"attach_btf_id": 1},
}

# Program types whose probe load always fails. How a kernel that knows the
# type fails differs from how one that does not fails:
#
# - An unknown type is refused by find_prog_type() with EINVAL before the
#   verifier runs, so the verifier log stays empty.
# - TRACING (tp_btf, attach_btf_id 1): the verifier says EINVAL "attach_btf_id
#   1 is not a typedef" (seen on 6.18; the check is as old as tp_btf, 5.5).
#   fentry would say "... is not a function", which is how libbpf probes, but
#   fentry alone may be forbidden where other tracing programs are not.
# - LSM (MODIFY_RETURN, attach_btf_id 1): EINVAL "attach_btf_id 1 is not a
#   function" (libbpf_probe_bpf_prog_type relies on it).
# - EXT (attach_btf_id 1): since 6.10 (and in stable kernels from 5.18) an
#   extension without a target program is refused with EINVAL before the
#   verifier runs, so the probe names a socket filter without BTF as target;
#   the verifier then says EINVAL "FENTRY/FEXIT program can only be attached
#   to another program annotated with BTF" (libbpf does the same since 6.10).
# - STRUCT_OPS (no attach_btf_id): check_struct_ops_btf_id fails with
#   ENOTSUPP (524) before the verifier logs anything (seen on 6.18).
#
# So for the BTF-attached types, EINVAL with a verifier log means known.
# Without vmlinux BTF (CONFIG_DEBUG_INFO_BTF off) the attach id cannot be
# resolved, BPF_PROG_LOAD fails with EINVAL and no log, and the type is
# reported unsupported: it is unusable there.
#
# A security policy may refuse some types even to root with EPERM before the
# verifier runs: on the 6.18 kernel this was written on, LSM and EXT programs
# and fentry/fexit/fmod_ret tracing programs all get EPERM, while tp_btf and
# iterator tracing programs load. EPERM is inconclusive and raised.
_BTF_ATTACHED = (ProgType.TRACING, ProgType.LSM, ProgType.EXT)


def _load_attrs(prog_type: ProgType) -> _sys.LoadAttrs:
    attrs = _PROG_LOAD_ATTRS.get(prog_type, _sys.LoadAttrs()).copy()
    if prog_type == ProgType.KPROBE:
        # Before 5.0 kprobe programs must state the LINUX_VERSION_CODE of the
        # kernel they were built for; later kernels ignore the field.
        attrs["kern_version"] = kernel_version().code
    return attrs


def _probe_prog_type(prog_type: ProgType) -> bool:
    context = f"loading a program of type {prog_type.name}"
    if prog_type == ProgType.EXT:
        target = _sys.prog_load(ProgType.SOCKET_FILTER)
        with _sys.owned(target.ret, "BPF_PROG_LOAD", "loading a target for an extension") as tgt:
            result = _sys.prog_load(
                prog_type, log=True, attach_prog_fd=tgt.fileno(), **_load_attrs(prog_type)
            )
    else:
        result = _sys.prog_load(prog_type, log=prog_type in _BTF_ATTACHED, **_load_attrs(prog_type))
    if result.ret >= 0:
        os.close(result.ret)
        return True
    err = result.err
    if prog_type == ProgType.STRUCT_OPS and err == _sys.ENOTSUPP:
        return True
    if err in (errno.EINVAL, errno.E2BIG):
        # The verifier only runs (and logs) for a type the kernel knows.
        return prog_type in _BTF_ATTACHED and bool(result.log.strip())
    raise _load_failure(result, context)


def _prog_type_probe(prog_type: ProgType) -> Probe:
    return lambda: _probe_prog_type(prog_type)


_PROG_FEATURES: dict[int, Feature] = {
    pt: _declare(
        Feature(f"program type {pt.name}", v, _prog_type_probe(pt), config=_PROG_TYPE_CONFIG.get(pt, ())),
        "prog",
    )
    for pt, v in PROG_TYPE_VERSIONS.items()
}


def prog_type_feature(prog_type: ProgType | int) -> Feature:
    """The feature "the kernel has program type ``prog_type``".

    Raises:
        ValueError: a type this table does not know.
    """
    return _lookup(_PROG_FEATURES, "program type", prog_type)


def prog_type_supported(prog_type: ProgType | int) -> bool:
    """Whether the running kernel can load programs of ``prog_type`` (see
    [`prog_type_feature()`][ebpf.syscall.features.prog_type_feature])."""
    return prog_type_feature(prog_type).supported()


def _minimal_prog(prog_type: ProgType, expected_attach_type: int | None = None) -> FD | None:
    """Load ``r0 = 0; exit`` as ``prog_type``; ``None`` if the kernel lacks the type.

    Raises:
        EbpfError: the type exists but the load failed (inconclusive).
    """
    if not prog_type_feature(prog_type).supported():
        return None
    attrs = _load_attrs(prog_type)
    if expected_attach_type is not None:
        attrs["expected_attach_type"] = expected_attach_type
    result = _sys.prog_load(prog_type, log=False, **attrs)
    if result.ret < 0:
        raise _load_failure(result, f"loading a program of type {prog_type.name}")
    return FD(result.ret)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

_HELPER_FEATURES: dict[tuple[ProgType, int], Feature] = {}
_HELPER_LOCK = threading.Lock()

# The verifier's words for a helper it does not have (check_helper_call):
# "invalid func unknown#N" for an id past __BPF_FUNC_MAX_ID, "program of this
# type cannot use helper bpf_x#N" when the type's get_func_proto has nothing,
# and "unknown func bpf_x#N" in kernels before 5.x said the same.
_NO_HELPER = ("invalid func ", "program of this type cannot use helper", "unknown func ")


def _probe_helper(prog_type: ProgType, helper_id: int) -> bool:
    if not prog_type_feature(prog_type).supported():
        return False
    # call helper; r0 = 0; exit. Argument registers are left unset: a helper
    # that exists then fails argument checks (EACCES "R1 !read_ok", "R1
    # type=ctx expected=..."), which says the helper is there; one that does
    # not exist fails the lookup before its arguments are looked at.
    code = _sys.insn(0x85, imm=helper_id) + _sys.MOV_R0_0 + _sys.EXIT
    result = _sys.prog_load(prog_type, code, log=True, **_load_attrs(prog_type))
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if any(needle in line for line in result.log.splitlines() for needle in _NO_HELPER):
        return False
    if result.log.strip() and result.err in (errno.EINVAL, errno.EACCES):
        return True  # the verifier got past the helper lookup
    raise _load_failure(result, f"calling helper {helper_id} from a program of type {prog_type.name}")


def helper_feature(prog_type: ProgType | int, helper_id: int) -> Feature:
    """The feature "programs of ``prog_type`` may call helper ``helper_id``" (``BPF_FUNC_*``).

    The answer is for this process's privileges: some helpers are offered
    only to programs loaded with ``CAP_BPF``/``CAP_PERFMON``, and like every
    answer it is cached (the same feature object is returned for the pair).

    Raises:
        ValueError: an unknown program type, a negative helper id, or a type
            whose programs need a BTF attach target (``TRACING``, ``LSM``,
            ``EXT``, ``STRUCT_OPS``): those cannot be probed with a bare load.
    """
    try:
        pt = ProgType(prog_type)
    except ValueError:
        raise ValueError(f"no feature probe for program type {prog_type!r}") from None
    if pt not in _PROG_FEATURES:
        raise ValueError(f"no feature probe for program type {prog_type!r}")
    if pt in (*_BTF_ATTACHED, ProgType.STRUCT_OPS):
        raise ValueError(f"helpers of {pt.name} programs cannot be probed: they need a BTF attach target")
    if isinstance(helper_id, bool) or not isinstance(helper_id, int) or not 0 <= helper_id < 2**31:
        raise ValueError(f"a helper id is a BPF_FUNC_* number (0 <= id < 2**31), not {helper_id!r}")
    with _HELPER_LOCK:
        feature = _HELPER_FEATURES.get((pt, helper_id))
        if feature is None:
            feature = Feature(
                f"helper #{helper_id} in {pt.name} programs",
                None,
                functools.partial(_probe_helper, pt, helper_id),
                config=_PROG_TYPE_CONFIG.get(pt, ()),
            )
            _HELPER_FEATURES[pt, helper_id] = feature
        return feature


def helper_supported(prog_type: ProgType | int, helper_id: int) -> bool:
    """Whether programs of ``prog_type`` may call helper ``helper_id`` (see
    [`helper_feature()`][ebpf.syscall.features.helper_feature])."""
    return helper_feature(prog_type, helper_id).supported()


# --------------------------------------------------------------------------
# BTF
# --------------------------------------------------------------------------


def _probe_btf() -> bool:
    # BPF_BTF_LOAD is unknown (EINVAL) before 4.18.
    return _verdict(_sys.btf_load(_btf.int_blob()), "BPF_BTF_LOAD", "loading BTF")


BTF = _declare(Feature("BTF loading (BPF_BTF_LOAD)", "4.18", _probe_btf))

#: The first kernel version of each BTF kind.
BTF_KIND_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "INT": "4.18",
        "PTR": "4.18",
        "ARRAY": "4.18",
        "STRUCT": "4.18",
        "UNION": "4.18",
        "ENUM": "4.18",
        "FWD": "4.18",
        "TYPEDEF": "4.18",
        "VOLATILE": "4.18",
        "CONST": "4.18",
        "RESTRICT": "4.18",
        "FUNC": "5.0",
        "FUNC_PROTO": "5.0",
        "VAR": "5.2",
        "DATASEC": "5.2",
        "FLOAT": "5.13",
        "DECL_TAG": "5.16",
        "TYPE_TAG": "5.17",
        "ENUM64": "6.0",
    }
)


def _probe_btf_kind(kind: str) -> bool:
    if not BTF.supported():
        return False
    # The BTF checker refuses a kind it does not know ("Invalid kind") with EINVAL.
    blob = _btf.KIND_BLOBS[kind]()
    return _verdict(_sys.btf_load(blob), "BPF_BTF_LOAD", f"loading BTF with a {kind}")


def _btf_kind_probe(kind: str) -> Probe:
    return lambda: _probe_btf_kind(kind)


_BTF_KIND_FEATURES: dict[str, Feature] = {
    kind: _declare(Feature(f"BTF kind {kind}", v, _btf_kind_probe(kind)), "btf")
    for kind, v in BTF_KIND_VERSIONS.items()
}
_BTF_KIND_NAMES = {number: name for name, number in _btf.BTF_KINDS.items()}


def btf_kind_feature(kind: str | int) -> Feature:
    """The feature "the kernel accepts BTF kind ``kind``".

    ``kind`` is a name (``"FLOAT"``, ``"BTF_KIND_FLOAT"``, any case) or a
    ``BTF_KIND_*`` number (16).

    Raises:
        ValueError: an unknown kind.
    """
    if isinstance(kind, int) and not isinstance(kind, bool):
        name = _BTF_KIND_NAMES.get(kind)
    elif isinstance(kind, str):
        name = kind.upper().removeprefix("BTF_KIND_")
    else:
        name = None
    if name is None or name not in _BTF_KIND_FEATURES:
        raise ValueError(f"unknown BTF kind {kind!r}; expected one of {', '.join(_BTF_KIND_FEATURES)}")
    return _BTF_KIND_FEATURES[name]


def btf_kind_supported(kind: str | int) -> bool:
    """Whether the kernel accepts BTF of ``kind`` (see
    [`btf_kind_feature()`][ebpf.syscall.features.btf_kind_feature])."""
    return btf_kind_feature(kind).supported()


def _probe_btf_global_func() -> bool:
    if not BTF.supported():
        return False
    # A FUNC's vlen holds its linkage; before 5.6 only static (0) was valid.
    blob, _ = _btf.func_blob(_btf.LINKAGE_GLOBAL)
    return _verdict(_sys.btf_load(blob), "BPF_BTF_LOAD", "loading BTF with a global function")


BTF_GLOBAL_FUNC = _declare(Feature("BTF global function linkage", "5.6", _probe_btf_global_func))


def _func_info(func_id: int) -> bytes:
    # struct bpf_func_info: insn_off, type_id.
    return struct.pack("=II", 0, func_id)


def _probe_btf_func_info() -> bool:
    if not BTF.supported():
        return False
    blob, func_id = _btf.func_blob()
    ret = _sys.btf_load(blob)
    if ret == -errno.EINVAL:
        return False  # no FUNC kind before 5.0
    with _sys.owned(ret, "BPF_BTF_LOAD", "BTF with a function") as btf:
        result = _sys.prog_load(
            ProgType.SOCKET_FILTER, prog_btf_fd=btf.fileno(), func_info=_func_info(func_id)
        )
        return _verdict(result.ret, "BPF_PROG_LOAD", "loading a program with BTF func info")


BTF_FUNC_INFO = _declare(Feature("BTF function info for programs", "5.0", _probe_btf_func_info))


def _probe_core_relocations() -> bool:
    if not BTF_FUNC_INFO.supported():
        return False
    # A TYPE_ID_LOCAL relocation of "r0 = <id of int>": the kernel resolves it
    # against the program's own BTF, no kernel types involved. The kernel only
    # reads core_relos together with func info (check_btf_info), and fails with
    # EINVAL before 5.17, which did not have the fields.
    blob, func_id, int_id, access = _btf.core_relo_blob()
    relo = struct.pack("=IIII", 0, int_id, access, 6)  # struct bpf_core_relo, BPF_CORE_TYPE_ID_LOCAL
    code = _sys.insn(0xB7, imm=int_id) + _sys.EXIT
    with _btf_fd(blob, "BTF for a CO-RE relocation") as btf:
        result = _sys.prog_load(
            ProgType.SOCKET_FILTER,
            code,
            prog_btf_fd=btf.fileno(),
            func_info=_func_info(func_id),
            core_relos=relo,
        )
        return _verdict(result.ret, "BPF_PROG_LOAD", "loading a program with a CO-RE relocation")


CORE_RELOCATIONS = _declare(
    Feature("CO-RE relocations in the kernel (core_relos)", "5.17", _probe_core_relocations)
)

# --------------------------------------------------------------------------
# Other named features
# --------------------------------------------------------------------------

RINGBUF = _MAP_FEATURES[MapType.RINGBUF]
ARENA = _MAP_FEATURES[MapType.ARENA]


def _probe_batch_ops() -> bool:
    # Batch commands are unknown (EINVAL) before 5.6.
    ret = _sys.map_create(MapType.ARRAY, 4, 4, 1)
    with _sys.owned(ret, "BPF_MAP_CREATE", "array map") as m:
        ret = _sys.map_update_batch(m.fileno(), struct.pack("=I", 0), struct.pack("=I", 1), 1)
        return _verdict(ret, "BPF_MAP_UPDATE_BATCH", "updating an array map in a batch", returns_fd=False)


BATCH_OPS = _declare(Feature("batch map operations (BPF_MAP_*_BATCH)", "5.6", _probe_batch_ops))


def _probe_mmapable() -> bool:
    # An unknown map flag is EINVAL.
    ret = _sys.map_create(MapType.ARRAY, 4, 4, 1, flags=MapFlags.MMAPABLE)
    return _verdict(ret, "BPF_MAP_CREATE", "creating an mmap-able array map")


MMAPABLE_MAPS = _declare(Feature("mmap-able array maps (BPF_F_MMAPABLE)", "5.5", _probe_mmapable))


def _probe_global_data() -> bool:
    # What .rodata/.data need: an array map read-only to programs
    # (BPF_F_RDONLY_PROG), frozen against user space writes (BPF_MAP_FREEZE),
    # and a program loading the address of its value directly (ld_imm64 with
    # src BPF_PSEUDO_MAP_VALUE). All three came in 5.2; before, each is EINVAL.
    ret = _sys.map_create(MapType.ARRAY, 4, 8, 1, flags=MapFlags.RDONLY_PROG)
    if ret == -errno.EINVAL:
        return False
    with _sys.owned(ret, "BPF_MAP_CREATE", "read-only array map") as m:
        ret = _sys.map_freeze(m.fileno())
        if ret == -errno.EINVAL:
            return False
        if ret < 0:
            raise _sys.unexpected(-ret, "BPF_MAP_FREEZE", "freezing an array map")
        code = (
            _sys.insn(0x18, dst=1, src=2, imm=m.fileno())  # r1 = &map[0] + 0
            + _sys.insn(0x00, imm=0)
            + _sys.insn(0x61, dst=0, src=1)  # r0 = *(u32 *)(r1 + 0)
            + _sys.EXIT
        )
        result = _sys.prog_load(ProgType.SOCKET_FILTER, code)
        return _verdict(result.ret, "BPF_PROG_LOAD", "loading a program reading a map value directly")


GLOBAL_DATA = _declare(
    Feature("global data (frozen read-only maps, direct value access)", "5.2", _probe_global_data)
)


def _probe_program(insns: bytes, context: str, no: Iterable[int] = (errno.EINVAL, errno.E2BIG)) -> bool:
    """Load a socket filter; EINVAL (unknown opcode, back-edge...) means no."""
    result = _sys.prog_load(ProgType.SOCKET_FILTER, insns)
    return _verdict(result.ret, "BPF_PROG_LOAD", context, no=no)


def _probe_bounded_loops() -> bool:
    # r0 = 0; loop: r0 += 1; if r0 < 4 goto loop; exit. Before 5.3 the
    # verifier refused any back-edge with EINVAL.
    code = _sys.MOV_R0_0 + _sys.insn(0x07, imm=1) + _sys.insn(0xA5, off=-2, imm=4) + _sys.EXIT
    return _probe_program(code, "loading a program with a bounded loop")


BOUNDED_LOOPS = _declare(Feature("bounded loops", "5.3", _probe_bounded_loops))


def _probe_bpf_to_bpf_calls() -> bool:
    # call +1 (src BPF_PSEUDO_CALL); exit; r0 = 0; exit.
    code = _sys.insn(0x85, src=1, imm=1) + _sys.EXIT + _sys.MOV_R0_0 + _sys.EXIT
    return _probe_program(code, "loading a program with a BPF-to-BPF call")


BPF_TO_BPF_CALLS = _declare(Feature("BPF-to-BPF function calls", "4.16", _probe_bpf_to_bpf_calls))


def _probe_isa_v2() -> bool:
    # jlt (BPF_JMP | BPF_JLT | BPF_K): unknown opcode before 4.14.
    code = _sys.MOV_R0_0 + _sys.insn(0xA5, off=1, imm=0) + _sys.MOV_R0_0 + _sys.EXIT
    return _probe_program(code, "loading a program with jlt")


def _probe_isa_v3() -> bool:
    # jlt32 (BPF_JMP32 | BPF_JLT | BPF_K): the BPF_JMP32 class is new in 5.1.
    code = _sys.MOV_R0_0 + _sys.insn(0xA6, off=1, imm=0) + _sys.MOV_R0_0 + _sys.EXIT
    return _probe_program(code, "loading a program with jlt32")


def _probe_isa_v4() -> bool:
    # Signed division (BPF_ALU64 | BPF_DIV with off = 1): new in 6.6 with the
    # rest of ISA v4 (sign extension, gotol, bswap). Older verifiers refuse
    # the non-zero offset (EINVAL). gotol is no probe: 6.1 loads JMP32 | JA
    # with any imm as a plain "goto +off".
    code = _sys.MOV_R0_0 + _sys.insn(0x37, dst=0, off=1, imm=1) + _sys.EXIT  # r0 = 0; r0 s/= 1; exit
    return _probe_program(code, "loading a program with sdiv")


ISA_V2 = _declare(Feature("ISA v2 instructions (jlt, jle, jslt, jsle)", "4.14", _probe_isa_v2))
ISA_V3 = _declare(Feature("ISA v3 instructions (32-bit jumps)", "5.1", _probe_isa_v3))
ISA_V4 = _declare(Feature("ISA v4 instructions (sign extension, sdiv, gotol, bswap)", "6.6", _probe_isa_v4))


def _probe_large_programs() -> bool:
    # Privileged programs may have up to 1M instructions since 5.2; before,
    # more than BPF_MAXINSNS (4096) is E2BIG.
    code = _sys.MOV_R0_0 * 4096 + _sys.EXIT
    return _probe_program(code, "loading a program of 4097 instructions")


LARGE_PROGRAMS = _declare(Feature("programs of more than 4096 instructions", "5.2", _probe_large_programs))


def _probe_sleepable() -> bool:
    # BPF_F_SLEEPABLE is an unknown flag (EINVAL, no log) before 5.10. Since,
    # the verifier accepts it and then refuses it for a socket filter with
    # "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs
    # can be sleepable" (the list grew with every version).
    result = _sys.prog_load(ProgType.SOCKET_FILTER, flags=ProgLoadFlags.SLEEPABLE, log=True)
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if result.err == errno.EINVAL:
        return "can be sleepable" in result.log
    raise _load_failure(result, "loading a sleepable socket filter")


SLEEPABLE_PROGRAMS = _declare(Feature("sleepable programs (BPF_F_SLEEPABLE)", "5.10", _probe_sleepable))


def _probe_kfunc_calls() -> bool:
    # call with src BPF_PSEUDO_KFUNC_CALL and imm = a vmlinux BTF id. Since 5.13
    # the verifier looks the id up as a kernel function and, for id 1 (never a
    # function), says EINVAL "kernel btf_id 1 is not a function". Before, the
    # call is malformed ("BPF_CALL uses reserved fields", EINVAL). Without
    # vmlinux BTF it says "calling kernel function is not supported without
    # CONFIG_DEBUG_INFO_BTF".
    code = _sys.insn(0x85, src=2, imm=1) + _sys.MOV_R0_0 + _sys.EXIT
    result = _sys.prog_load(ProgType.SCHED_CLS, code, log=True)
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if result.err in (errno.EINVAL, errno.EACCES):
        return "kernel btf_id" in result.log
    if result.err == _sys.ENOTSUPP:
        return False  # "JIT does not support calling kernel function"
    raise _load_failure(result, "loading a program calling a kernel function")


KFUNC_CALLS = _declare(
    Feature("kernel function calls (kfuncs)", "5.13", _probe_kfunc_calls, config="CONFIG_DEBUG_INFO_BTF")
)


def _probe_log_true_size() -> bool:
    # A program the verifier rejects ("R0 !read_ok"): since 6.4 the kernel
    # reports the log size it needed in log_true_size; before, the field did
    # not exist and stays 0.
    result = _sys.prog_load(ProgType.SOCKET_FILTER, _sys.EXIT, log=True)
    if result.ret >= 0:
        os.close(result.ret)
        raise EbpfError("feature probe: the verifier accepted a program that does not set r0")
    if result.err not in (errno.EACCES, errno.EINVAL):
        raise _load_failure(result, "loading an invalid program")
    return result.log_true_size > 0


LOG_TRUE_SIZE = _declare(Feature("verifier log_true_size", "6.4", _probe_log_true_size))


def _probe_test_run() -> bool:
    # BPF_PROG_TEST_RUN is an unknown command (EINVAL) before 4.12. The input
    # must hold at least an Ethernet header.
    prog = _minimal_prog(ProgType.SCHED_CLS)
    if prog is None:
        return False
    with prog:
        ret = _sys.prog_test_run(prog.fileno(), bytes(64))
        return _verdict(ret, "BPF_PROG_TEST_RUN", "test-running a program", returns_fd=False)


PROG_TEST_RUN = _declare(
    Feature("program test runs (BPF_PROG_TEST_RUN)", "4.12", _probe_test_run, config=_NET)
)


def _probe_bpf_link() -> bool:
    # An invalid program fd: BPF_LINK_CREATE looks the program up first and
    # says EBADF; before 5.7 the command is unknown (EINVAL).
    ret = _sys.link_create(_sys.link_attr(-1, -1, AttachType.CGROUP_INET_INGRESS))
    return _verdict(ret, "BPF_LINK_CREATE", "creating a link for an invalid program", yes=(errno.EBADF,))


BPF_LINK = _declare(Feature("bpf_link (BPF_LINK_CREATE)", "5.7", _probe_bpf_link))


def _probe_token() -> bool:
    # An invalid bpffs fd is EBADF; before 6.9 the command is unknown (EINVAL).
    ret = _sys.token_create(-1)
    return _verdict(ret, "BPF_TOKEN_CREATE", "creating a token from an invalid fd", yes=(errno.EBADF,))


BPF_TOKEN = _declare(Feature("BPF tokens (BPF_TOKEN_CREATE)", "6.9", _probe_token))


def _probe_fentry() -> bool:
    if not prog_type_feature(ProgType.TRACING).supported():
        return False
    # fentry with vmlinux type 1: EINVAL "attach_btf_id 1 is not a function"
    # from the verifier when BPF trampolines are there.
    result = _sys.prog_load(
        ProgType.TRACING, expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=1, log=True
    )
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if result.err == errno.EINVAL:
        return bool(result.log.strip())
    raise _load_failure(result, "loading an fentry program")


FENTRY = _declare(
    Feature(
        "fentry/fexit programs (BPF trampolines)",
        "5.5",
        _probe_fentry,
        config=("CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF"),
    )
)

_PMU_ROOT = Path("/sys/bus/event_source/devices")


def _probe_pmu(name: str) -> bool:
    # The kprobe and uprobe PMUs (4.17) register themselves in sysfs with
    # their dynamic perf type; no directory, no PMU.
    if not _PMU_ROOT.is_dir():
        raise EbpfError(f"feature probe: {_PMU_ROOT} does not exist (is sysfs mounted?)")
    return (_PMU_ROOT / name / "type").is_file()


KPROBE_PMU = _declare(
    Feature(
        "kprobes (perf kprobe PMU)",
        "4.17",
        functools.partial(_probe_pmu, "kprobe"),
        config=("CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS"),
    )
)
UPROBE_PMU = _declare(
    Feature(
        "uprobes (perf uprobe PMU)",
        "4.17",
        functools.partial(_probe_pmu, "uprobe"),
        config=("CONFIG_UPROBES", "CONFIG_UPROBE_EVENTS"),
    )
)

# --------------------------------------------------------------------------
# Link types
# --------------------------------------------------------------------------

#: The first kernel version of each link type.
LINK_TYPE_VERSIONS: Mapping[LinkType, str] = MappingProxyType(
    {
        LinkType.RAW_TRACEPOINT: "5.8",
        LinkType.TRACING: "5.8",
        LinkType.CGROUP: "5.7",
        LinkType.ITER: "5.8",
        LinkType.NETNS: "5.8",
        LinkType.XDP: "5.9",
        LinkType.PERF_EVENT: "5.15",
        LinkType.KPROBE_MULTI: "5.18",
        LinkType.STRUCT_OPS: "6.4",
        LinkType.NETFILTER: "6.4",
        LinkType.TCX: "6.6",
        LinkType.UPROBE_MULTI: "6.6",
        LinkType.NETKIT: "6.7",
        LinkType.SOCKMAP: "6.10",
    }
)

_LINK_TYPE_CONFIG: dict[LinkType, tuple[str, ...]] = {
    LinkType.RAW_TRACEPOINT: _BPF_EVENTS,
    LinkType.TRACING: ("CONFIG_BPF_JIT",),
    LinkType.CGROUP: _CGROUP_BPF,
    LinkType.ITER: ("CONFIG_DEBUG_INFO_BTF",),
    LinkType.NETNS: _NET,
    LinkType.XDP: _NET,
    LinkType.PERF_EVENT: ("CONFIG_PERF_EVENTS", "CONFIG_BPF_EVENTS"),
    LinkType.KPROBE_MULTI: ("CONFIG_FPROBE",),
    LinkType.STRUCT_OPS: ("CONFIG_BPF_JIT",),
    LinkType.NETFILTER: ("CONFIG_NETFILTER_BPF_LINK",),
    LinkType.TCX: ("CONFIG_NET_XGRESS",),
    LinkType.UPROBE_MULTI: ("CONFIG_UPROBES",),
    LinkType.NETKIT: ("CONFIG_NETKIT",),
    LinkType.SOCKMAP: _NET,
}

# How BPF_LINK_CREATE decides (kernel/bpf/syscall.c, link_create): it looks
# up the program (EBADF for a bad fd), checks the attach type against the
# program type (EINVAL when the kernel does not know the attach type), then
# hands over to the link type's attach function, or answers EINVAL when the
# program type has none. Before 5.7 the command itself is EINVAL. So the
# probes pass a valid program and a target chosen to make a kernel that has
# the link type fail inside its attach function with an errno other than
# EINVAL (a bad fd, a missing device), and one that lacks it fail with EINVAL.


def _link_create_probe(
    link_type: LinkType,
    prog_type: ProgType,
    attach_type: AttachType,
    target: int,
    yes: Iterable[int],
    *,
    flags: int = 0,
    expected_attach_type: int | None = None,
    no: Iterable[int] = (errno.EINVAL,),
    fill: Callable[[LinkCreateAttr], object] | None = None,
) -> bool:
    prog = _minimal_prog(prog_type, expected_attach_type)
    if prog is None:
        return False
    with prog:
        attr = _sys.link_attr(prog.fileno(), target, attach_type, flags)
        keep = fill(attr) if fill is not None else None
        ret = _sys.link_create(attr)
        del keep
        context = f"creating a {link_type.name} link"
        return _verdict(ret, "BPF_LINK_CREATE", context, yes=yes, no=no)


def _link_is(link: FD, link_type: LinkType) -> bool:
    """Whether the kernel reports ``link`` as ``link_type`` (EINVAL before 5.8: no link info)."""
    ret = _sys.link_type_of(link.fileno())
    if ret == -errno.EINVAL:
        return False
    if ret < 0:
        raise _sys.unexpected(-ret, "BPF_OBJ_GET_INFO_BY_FD", "reading link info")
    if ret != link_type:
        log.debug("feature probe: expected a %s link, the kernel made type %d", link_type.name, ret)
    return ret == link_type


# Raw tracepoints that exist in every kernel with BPF and fire rarely
# (task_rename: prctl(PR_SET_NAME) and writes to /proc/<pid>/comm).
_RARE_TRACEPOINTS = ("task_rename", "task_newtask")


def _probe_raw_tracepoint_link() -> bool:
    # Attach a no-op program for a moment and ask what the kernel made:
    # RAW_TRACEPOINT_OPEN returns a link since 5.7, with link info since 5.8.
    prog = _minimal_prog(ProgType.RAW_TRACEPOINT)
    if prog is None:
        return False
    with prog:
        ret = -errno.ENOENT
        for name in _RARE_TRACEPOINTS:
            ret = _sys.raw_tracepoint_open(name, prog.fileno())
            if ret != -errno.ENOENT:
                break
        with _sys.owned(ret, "BPF_RAW_TRACEPOINT_OPEN", f"attaching to {name}") as link:
            return _link_is(link, LinkType.RAW_TRACEPOINT)


def _probe_tracing_link() -> bool:
    # An fentry program attached to one of our own programs (a BPF-to-BPF
    # trampoline) needs no kernel function and touches nothing else. The
    # target needs BTF func info to name its function.
    if not BTF_FUNC_INFO.supported() or not prog_type_feature(ProgType.TRACING).supported():
        return False
    blob, func_id = _btf.func_blob(with_ctx=True)
    with _btf_fd(blob, "BTF for an fentry target") as btf:
        target = _sys.prog_load(ProgType.XDP, prog_btf_fd=btf.fileno(), func_info=_func_info(func_id))
        with _sys.owned(target.ret, "BPF_PROG_LOAD", "loading an fentry target") as tgt:
            result = _sys.prog_load(
                ProgType.TRACING,
                expected_attach_type=AttachType.TRACE_FENTRY,
                attach_prog_fd=tgt.fileno(),
                attach_btf_id=func_id,
                log=True,
            )
            if result.ret < 0:
                raise _load_failure(result, "loading an fentry program for a BPF program")
            with FD(result.ret) as prog:
                ret = _sys.raw_tracepoint_open(None, prog.fileno())
                with _sys.owned(ret, "BPF_RAW_TRACEPOINT_OPEN", "attaching fentry") as link:
                    return _link_is(link, LinkType.TRACING)


def _probe_iter_link() -> bool:
    # An iterator over BPF maps: the program attaches to the vmlinux BTF
    # function bpf_iter_bpf_map (5.8, with the iterator framework). Creating
    # the link does not run anything.
    if not prog_type_feature(ProgType.TRACING).supported():
        return False
    btf_id = _btf.vmlinux_func_id("bpf_iter_bpf_map")
    if btf_id is None:
        return False
    result = _sys.prog_load(
        ProgType.TRACING, expected_attach_type=AttachType.TRACE_ITER, attach_btf_id=btf_id, log=True
    )
    if result.ret < 0:
        raise _load_failure(result, "loading a bpf_map iterator")
    with FD(result.ret) as prog:
        ret = _sys.link_create(_sys.link_attr(prog.fileno(), 0, AttachType.TRACE_ITER))
        if ret == -errno.EINVAL:
            return False
        with _sys.owned(ret, "BPF_LINK_CREATE", "creating an iterator link") as link:
            return _link_is(link, LinkType.ITER)


def _probe_struct_ops_link() -> bool:
    # struct_ops links (6.4) came with BPF_F_LINK for struct_ops maps: before,
    # any map flag fails the map's alloc check with EINVAL; since, the create
    # goes on to the value type lookup, which fails with ENOTSUPP for id 1
    # (see the STRUCT_OPS map probe).
    ret = _sys.map_create(MapType.STRUCT_OPS, 4, 4, 1, flags=MapFlags.LINK, btf_vmlinux_value_type_id=1)
    return _verdict(ret, "BPF_MAP_CREATE", "creating a struct_ops map for a link", yes=(_sys.ENOTSUPP,))


def _probe_kprobe_multi_link() -> bool:
    # kprobe_multi needs fprobe; without CONFIG_FPROBE the attach function is
    # a stub returning EOPNOTSUPP, before 5.18 the attach type is EINVAL. Its
    # checks before attaching cannot be told apart from "unknown" (EINVAL), so
    # the probe really attaches a no-op program, for a moment, to
    # bpf_fentry_test1, a function that exists for BPF tests and only runs in
    # BPF_PROG_TEST_RUN of tracing programs.
    def fill(attr: LinkCreateAttr) -> object:
        symbol = ctypes.create_string_buffer(b"bpf_fentry_test1")
        syms = (ctypes.c_uint64 * 1)(ctypes.addressof(symbol))
        attr.kprobe_multi.syms = ctypes.addressof(syms)
        attr.kprobe_multi.cnt = 1
        return symbol, syms

    return _link_create_probe(
        LinkType.KPROBE_MULTI,
        ProgType.KPROBE,
        AttachType.TRACE_KPROBE_MULTI,
        0,
        (),
        expected_attach_type=AttachType.TRACE_KPROBE_MULTI,
        no=(errno.EINVAL, errno.EOPNOTSUPP),
        fill=fill,
    )


def _probe_uprobe_multi_link() -> bool:
    # uprobe_multi on the path "/": since 6.6 the kernel resolves the path and
    # refuses a non-regular file with EBADF; before, the attach type is EINVAL;
    # without CONFIG_UPROBES the attach function is a stub (EOPNOTSUPP).
    def fill(attr: LinkCreateAttr) -> object:
        path = ctypes.create_string_buffer(b"/")
        offsets = (ctypes.c_uint64 * 1)(0)
        attr.uprobe_multi.path = ctypes.addressof(path)
        attr.uprobe_multi.offsets = ctypes.addressof(offsets)
        attr.uprobe_multi.cnt = 1
        return path, offsets

    return _link_create_probe(
        LinkType.UPROBE_MULTI,
        ProgType.KPROBE,
        AttachType.TRACE_UPROBE_MULTI,
        0,
        (errno.EBADF,),
        expected_attach_type=AttachType.TRACE_UPROBE_MULTI,
        no=(errno.EINVAL, errno.EOPNOTSUPP),
        fill=fill,
    )


def _probe_netfilter_link() -> bool:
    # Protocol family 0 (NFPROTO_UNSPEC): EAFNOSUPPORT from bpf_nf_link_attach.
    # (The program type came in the same release; no program, no link.)
    return _link_create_probe(
        LinkType.NETFILTER,
        ProgType.NETFILTER,
        AttachType.NETFILTER,
        0,
        (errno.EAFNOSUPPORT,),
    )


_LOOPBACK_IFINDEX = 1  # in every network namespace
_XDP_FLAGS_HW_MODE = 1 << 3


def _probe_xdp_link() -> bool:
    # An XDP link to a missing device is EINVAL, like an unknown attach type.
    # Offload mode on the loopback device instead: the link is set up, then
    # dev_xdp_attach finds no driver callback for hardware mode and says
    # EOPNOTSUPP ("Underlying driver does not support XDP in native mode")
    # without attaching anything.
    return _link_create_probe(
        LinkType.XDP,
        ProgType.XDP,
        AttachType.XDP,
        _LOOPBACK_IFINDEX,
        (errno.EOPNOTSUPP,),
        flags=_XDP_FLAGS_HW_MODE,
    )


_LINK_PROBES: dict[LinkType, Probe] = {
    LinkType.RAW_TRACEPOINT: _probe_raw_tracepoint_link,
    LinkType.TRACING: _probe_tracing_link,
    # An invalid cgroup fd: cgroup_bpf_link_attach says EBADF.
    LinkType.CGROUP: functools.partial(
        _link_create_probe,
        LinkType.CGROUP,
        ProgType.CGROUP_SKB,
        AttachType.CGROUP_INET_INGRESS,
        -1,
        (errno.EBADF,),
        expected_attach_type=AttachType.CGROUP_INET_INGRESS,
    ),
    LinkType.ITER: _probe_iter_link,
    # An invalid netns fd: netns_bpf_link_create says EBADF.
    LinkType.NETNS: functools.partial(
        _link_create_probe,
        LinkType.NETNS,
        ProgType.FLOW_DISSECTOR,
        AttachType.FLOW_DISSECTOR,
        -1,
        (errno.EBADF,),
    ),
    LinkType.XDP: _probe_xdp_link,
    # An invalid perf event fd: bpf_perf_link_attach says EBADF.
    LinkType.PERF_EVENT: functools.partial(
        _link_create_probe,
        LinkType.PERF_EVENT,
        ProgType.TRACEPOINT,
        AttachType.PERF_EVENT,
        -1,
        (errno.EBADF,),
    ),
    LinkType.KPROBE_MULTI: _probe_kprobe_multi_link,
    LinkType.STRUCT_OPS: _probe_struct_ops_link,
    LinkType.NETFILTER: _probe_netfilter_link,
    # A missing interface: tcx_link_attach and netkit_link_attach say ENODEV
    # (netkit's stub without CONFIG_NETKIT says EINVAL).
    LinkType.TCX: functools.partial(
        _link_create_probe, LinkType.TCX, ProgType.SCHED_CLS, AttachType.TCX_INGRESS, -1, (errno.ENODEV,)
    ),
    LinkType.UPROBE_MULTI: _probe_uprobe_multi_link,
    LinkType.NETKIT: functools.partial(
        _link_create_probe,
        LinkType.NETKIT,
        ProgType.SCHED_CLS,
        AttachType.NETKIT_PRIMARY,
        -1,
        (errno.ENODEV,),
    ),
    # An invalid map fd: sock_map_link_create says EBADF.
    LinkType.SOCKMAP: functools.partial(
        _link_create_probe,
        LinkType.SOCKMAP,
        ProgType.SK_SKB,
        AttachType.SK_SKB_STREAM_VERDICT,
        -1,
        (errno.EBADF,),
        expected_attach_type=AttachType.SK_SKB_STREAM_VERDICT,
    ),
}

_LINK_FEATURES: dict[int, Feature] = {
    lt: _declare(
        Feature(f"link type {lt.name}", v, _LINK_PROBES[lt], config=_LINK_TYPE_CONFIG.get(lt, ())), "link"
    )
    for lt, v in LINK_TYPE_VERSIONS.items()
}


def link_type_feature(link_type: LinkType | int) -> Feature:
    """The feature "the kernel makes links of ``link_type``".

    Raises:
        ValueError: a type this table does not know.
    """
    return _lookup(_LINK_FEATURES, "link type", link_type)


def link_type_supported(link_type: LinkType | int) -> bool:
    """Whether the running kernel can make links of ``link_type`` (see
    [`link_type_feature()`][ebpf.syscall.features.link_type_feature])."""
    return link_type_feature(link_type).supported()


TCX = _LINK_FEATURES[LinkType.TCX]
NETKIT = _LINK_FEATURES[LinkType.NETKIT]
UPROBE_MULTI = _LINK_FEATURES[LinkType.UPROBE_MULTI]
KPROBE_MULTI = _LINK_FEATURES[LinkType.KPROBE_MULTI]
