"""Every ``bpf(2)`` command as a typed function.

Each function checks its arguments, fills the command's attr structure (see
[`ebpf.syscall.abi`][ebpf.syscall.abi]), makes the call through the command's
generated function in [`ebpf.syscall.raw`][ebpf.syscall.raw] and returns what
the kernel produced: an [`FD`][ebpf.syscall.FD] for commands that create a
descriptor, plain values otherwise. Kernel failures raise the classes of
[`ebpf.syscall.errors`][ebpf.syscall.errors], built by its
[`syscall_error()`][ebpf.syscall.errors.syscall_error].

``ebpf.maps``, ``ebpf.progs`` and the other packages build typed objects on
top of these functions (and, on hot paths, of [`ebpf.syscall.raw`][ebpf.syscall.raw]).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from . import raw
from ._buffers import ReadableBuffer, WritableBuffer, readable_address, writable_address
from ._generated import (
    AttachType,
    BpfLinkInfo,
    BpfMapInfo,
    BpfProgInfo,
    BtfLoadAttr,
    Cmd,
    EnableStatsAttr,
    GetIdAttr,
    IterCreateAttr,
    LinkCreateAttr,
    LinkDetachAttr,
    LinkUpdateAttr,
    MapBatchAttr,
    MapCreateAttr,
    MapElemAttr,
    MapType,
    ObjGetInfoAttr,
    ObjPinAttr,
    ProgAttachAttr,
    ProgBindMapAttr,
    ProgLoadAttr,
    ProgQueryAttr,
    ProgTestRunAttr,
    ProgType,
    RawTracepointOpenAttr,
    StatsType,
    TaskFdQueryAttr,
    TaskFdType,
    TokenCreateAttr,
)
from .errors import BpfSyscallError, VerifierError, syscall_error
from .fd import FD, HasFileno, fileno_of
from .flags import BPF_OBJ_NAME_LEN, QueryFlags

__all__ = [
    "BatchResult",
    "KprobeMultiOptions",
    "ProgQueryResult",
    "TaskFdQueryResult",
    "TestRunResult",
    "UprobeMultiOptions",
    "btf_get_fd_by_id",
    "btf_get_next_id",
    "btf_load",
    "check_object_name",
    "enable_stats",
    "iter_create",
    "link_create",
    "link_detach",
    "link_get_fd_by_id",
    "link_get_next_id",
    "link_info",
    "link_update",
    "map_create",
    "map_delete_batch",
    "map_delete_elem",
    "map_freeze",
    "map_get_fd_by_id",
    "map_get_next_id",
    "map_get_next_key",
    "map_info",
    "map_lookup_and_delete_batch",
    "map_lookup_and_delete_elem",
    "map_lookup_batch",
    "map_lookup_elem",
    "map_update_batch",
    "map_update_elem",
    "obj_get",
    "obj_get_info_by_fd",
    "obj_pin",
    "prog_attach",
    "prog_bind_map",
    "prog_detach",
    "prog_get_fd_by_id",
    "prog_get_next_id",
    "prog_info",
    "prog_load",
    "prog_query",
    "prog_test_run",
    "raw_tracepoint_open",
    "task_fd_query",
    "token_create",
]

log = logging.getLogger("ebpf.syscall")

FdLike = int | HasFileno

# Verifier log sizes. The kernel rejects a log_size above UINT32_MAX >> 2
# (and below 128 bytes); kernels before 5.2 capped it at 16 MiB - 1.
_LOG_SIZE_FIRST = 256 * 1024
_LOG_SIZE_MAX = 0xFFFFFFFF >> 2
_LOG_SIZE_MAX_OLD = (16 << 20) - 1
_LOG_RETRIES = 6
# Kernels before 6.4 do not say how big a log they needed (log_true_size), so
# the buffer grows by this factor per retry: 256 KiB to 16 MiB in three steps.
_LOG_GROWTH = 4


def _fd(obj: FdLike) -> int:
    return fileno_of(obj)


def _checked(ret: int, cmd: Cmd, context: str, capability: str | None = None) -> int:
    """``ret`` (a raw function's result) when it is not negative.

    Raises:
        BpfSyscallError: ``ret`` is ``-errno`` (the subclass that fits, see
            [`syscall_error()`][ebpf.syscall.errors.syscall_error]).
    """
    if ret < 0:
        raise syscall_error(-ret, f"BPF_{cmd.name}", context, capability=capability)
    return ret


def check_object_name(name: str) -> bytes:
    """Validate a map or program name and return it encoded.

    The kernel accepts at most 15 bytes of ASCII letters, digits, ``_`` and
    ``.`` (``bpf_obj_name_cpy``).

    Raises:
        ValueError: the name is too long or has other characters.
    """
    raw = name.encode("ascii", "replace")
    if len(raw) >= BPF_OBJ_NAME_LEN:
        raise ValueError(f"object name {name!r} is {len(raw)} bytes; the kernel allows at most 15")
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_."))})
    if bad:
        raise ValueError(
            f"object name {name!r} has characters the kernel rejects: {bad!r} (allowed: A-Z a-z 0-9 _ .)"
        )
    return raw


# ----------------------------------------------------------------------- maps


def map_create(
    map_type: MapType | int,
    key_size: int,
    value_size: int,
    max_entries: int,
    *,
    flags: int = 0,
    name: str = "",
    inner_map_fd: FdLike | None = None,
    numa_node: int = 0,
    ifindex: int = 0,
    btf_fd: FdLike | None = None,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
    btf_vmlinux_value_type_id: int = 0,
    map_extra: int = 0,
    value_type_btf_obj_fd: FdLike | None = None,
    token_fd: FdLike | None = None,
) -> FD:
    """``BPF_MAP_CREATE``: create a map and return its descriptor.

    Raises:
        ValueError: a negative size or a bad name.
        BpfSyscallError: the kernel refused (``EINVAL`` for sizes the map type
            does not allow, ``EPERM`` without ``CAP_BPF``...).
    """
    for what, value in (("key_size", key_size), ("value_size", value_size), ("max_entries", max_entries)):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{what} must be between 0 and 2**32-1, not {value}")
    attr = MapCreateAttr(
        map_type=int(map_type),
        key_size=key_size,
        value_size=value_size,
        max_entries=max_entries,
        map_flags=int(flags),
        numa_node=numa_node,
        map_name=check_object_name(name),
        map_ifindex=ifindex,
        btf_key_type_id=btf_key_type_id,
        btf_value_type_id=btf_value_type_id,
        btf_vmlinux_value_type_id=btf_vmlinux_value_type_id,
        map_extra=map_extra,
    )
    if inner_map_fd is not None:
        attr.inner_map_fd = _fd(inner_map_fd)
    if btf_fd is not None:
        attr.btf_fd = _fd(btf_fd)
    if value_type_btf_obj_fd is not None:
        attr.value_type_btf_obj_fd = _fd(value_type_btf_obj_fd)
    if token_fd is not None:
        attr.map_token_fd = _fd(token_fd)
    try:
        type_name = MapType(map_type).name
    except ValueError:
        type_name = str(int(map_type))
    what = f"creating {type_name} map" + (f" {name!r}" if name else "")
    ret = raw.map_create(attr)
    if ret < 0:
        err = -ret
        if err == errno.EPERM and os.geteuid() == 0:
            # Root with EPERM: before 5.11 map memory is charged to RLIMIT_MEMLOCK.
            what += " (before Linux 5.11 this can mean RLIMIT_MEMLOCK is too low: see remove_memlock_limit())"
        raise syscall_error(err, "BPF_MAP_CREATE", what)
    return FD(ret)


def _elem_attr(map_fd: FdLike, key: int, value: int, flags: int) -> MapElemAttr:
    attr = MapElemAttr(map_fd=_fd(map_fd), key=key, flags=int(flags))
    attr.value = value
    return attr


def map_lookup_elem(
    map_fd: FdLike, key: ReadableBuffer | None, value: WritableBuffer, flags: int = 0
) -> None:
    """``BPF_MAP_LOOKUP_ELEM``: copy the value of ``key`` into ``value``.

    ``key`` is ``None`` for maps without keys (queue, stack: that is a peek).

    Raises:
        KeyNotFoundError: no such key.
        BpfSyscallError: other kernel errors.
    """
    k, _k = readable_address(key)
    v, _v = writable_address(value)
    _checked(
        raw.map_lookup_elem(_elem_attr(map_fd, k, v, flags)), Cmd.MAP_LOOKUP_ELEM, "looking up a map element"
    )


def map_update_elem(
    map_fd: FdLike, key: ReadableBuffer | None, value: ReadableBuffer, flags: int = 0
) -> None:
    """``BPF_MAP_UPDATE_ELEM``: set ``key`` to ``value`` (``flags``:
    [`UpdateFlags`][ebpf.syscall.UpdateFlags]).

    Raises:
        BpfSyscallError: ``EEXIST`` with ``NOEXIST``, ``ENOENT`` with ``EXIST``,
            ``E2BIG`` when the map is full, ``EPERM`` for a frozen map.
    """
    k, _k = readable_address(key)
    v, _v = readable_address(value)
    # EPERM here means a frozen or read-only map (syscall_error says so).
    _checked(
        raw.map_update_elem(_elem_attr(map_fd, k, v, flags)), Cmd.MAP_UPDATE_ELEM, "updating a map element"
    )


def map_delete_elem(map_fd: FdLike, key: ReadableBuffer, flags: int = 0) -> None:
    """``BPF_MAP_DELETE_ELEM``: remove ``key``.

    Raises:
        KeyNotFoundError: no such key.
    """
    k, _k = readable_address(key)
    _checked(
        raw.map_delete_elem(_elem_attr(map_fd, k, 0, flags)), Cmd.MAP_DELETE_ELEM, "deleting a map element"
    )


def map_get_next_key(map_fd: FdLike, key: ReadableBuffer | None, next_key: WritableBuffer) -> bool:
    """``BPF_MAP_GET_NEXT_KEY``: write the key after ``key`` (``None``: the first) into ``next_key``.

    Returns False when ``key`` was the last one. A ``key`` that is no longer
    in a hash map restarts from the first key, as the kernel documents.
    """
    k, _k = readable_address(key)
    n, _n = writable_address(next_key)
    attr = MapElemAttr(map_fd=_fd(map_fd), key=k)
    attr.next_key = n
    ret = raw.map_get_next_key(attr)
    if ret == -errno.ENOENT:
        return False
    _checked(ret, Cmd.MAP_GET_NEXT_KEY, "iterating map keys")
    return True


def map_lookup_and_delete_elem(
    map_fd: FdLike, key: ReadableBuffer | None, value: WritableBuffer, flags: int = 0
) -> None:
    """``BPF_MAP_LOOKUP_AND_DELETE_ELEM``: pop a value (queue/stack with ``key=None``, or hash maps).

    Raises:
        KeyNotFoundError: no such key, or the queue/stack is empty.
    """
    k, _k = readable_address(key)
    v, _v = writable_address(value)
    _checked(
        raw.map_lookup_and_delete_elem(_elem_attr(map_fd, k, v, flags)),
        Cmd.MAP_LOOKUP_AND_DELETE_ELEM,
        "looking up and deleting a map element",
    )


def map_freeze(map_fd: FdLike) -> None:
    """``BPF_MAP_FREEZE``: make the map read-only for user space from now on."""
    _checked(raw.map_freeze(MapElemAttr(map_fd=_fd(map_fd))), Cmd.MAP_FREEZE, "freezing a map")


@dataclass(frozen=True)
class BatchResult:
    """What a batch command did: how many elements, and whether the map is exhausted."""

    count: int
    done: bool


# The batch commands' raw functions.
_BATCH_CALLS: dict[Cmd, Callable[[MapBatchAttr], int]] = {
    Cmd.MAP_LOOKUP_BATCH: raw.map_lookup_batch,
    Cmd.MAP_LOOKUP_AND_DELETE_BATCH: raw.map_lookup_and_delete_batch,
    Cmd.MAP_UPDATE_BATCH: raw.map_update_batch,
    Cmd.MAP_DELETE_BATCH: raw.map_delete_batch,
}


def _batch(
    cmd: Cmd,
    map_fd: FdLike,
    in_batch: ReadableBuffer | None,
    out_batch: WritableBuffer | None,
    keys: ReadableBuffer | WritableBuffer | None,
    values: ReadableBuffer | WritableBuffer | None,
    count: int,
    elem_flags: int,
    flags: int,
    writes_keys: bool,
) -> BatchResult:
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    inb, _i = readable_address(in_batch)
    outb, _o = writable_address(out_batch)
    if writes_keys:
        k, _k = writable_address(keys)  # type: ignore[arg-type]
        v, _v = writable_address(values)  # type: ignore[arg-type]
    else:
        k, _k = readable_address(keys)
        v, _v = readable_address(values)
    attr = MapBatchAttr(
        in_batch=inb,
        out_batch=outb,
        keys=k,
        values=v,
        count=count,
        map_fd=_fd(map_fd),
        elem_flags=int(elem_flags),
        flags=int(flags),
    )
    ret = _BATCH_CALLS[cmd](attr)
    # ENOENT means "no more elements"; attr.count still says how many were
    # processed in this call (kernel/bpf/hashtab.c, generic_map_*_batch).
    if ret == -errno.ENOENT:
        return BatchResult(int(attr.count), True)
    _checked(ret, cmd, "running a batch map operation")
    return BatchResult(int(attr.count), False)


def map_lookup_batch(
    map_fd: FdLike,
    in_batch: ReadableBuffer | None,
    out_batch: WritableBuffer,
    keys: WritableBuffer,
    values: WritableBuffer,
    count: int,
    *,
    elem_flags: int = 0,
    flags: int = 0,
) -> BatchResult:
    """``BPF_MAP_LOOKUP_BATCH``: read up to ``count`` elements after the cursor ``in_batch``.

    ``None`` as ``in_batch`` starts at the beginning; the kernel writes the
    cursor for the next call into ``out_batch``.

    Raises:
        BpfSyscallError: ``EINVAL`` for map types without batch support,
            ``ENOSPC`` when a hash bucket has more elements than ``count``.
    """
    return _batch(
        Cmd.MAP_LOOKUP_BATCH, map_fd, in_batch, out_batch, keys, values, count, elem_flags, flags, True
    )


def map_lookup_and_delete_batch(
    map_fd: FdLike,
    in_batch: ReadableBuffer | None,
    out_batch: WritableBuffer,
    keys: WritableBuffer,
    values: WritableBuffer,
    count: int,
    *,
    elem_flags: int = 0,
    flags: int = 0,
) -> BatchResult:
    """``BPF_MAP_LOOKUP_AND_DELETE_BATCH``: like
    [`map_lookup_batch()`][ebpf.syscall.commands.map_lookup_batch], deleting what it returns."""
    return _batch(
        Cmd.MAP_LOOKUP_AND_DELETE_BATCH,
        map_fd,
        in_batch,
        out_batch,
        keys,
        values,
        count,
        elem_flags,
        flags,
        True,
    )


def map_update_batch(
    map_fd: FdLike,
    keys: ReadableBuffer,
    values: ReadableBuffer,
    count: int,
    *,
    elem_flags: int = 0,
    flags: int = 0,
) -> int:
    """``BPF_MAP_UPDATE_BATCH``: write ``count`` keys and values; returns how many were written."""
    return _batch(
        Cmd.MAP_UPDATE_BATCH, map_fd, None, None, keys, values, count, elem_flags, flags, False
    ).count


def map_delete_batch(
    map_fd: FdLike, keys: ReadableBuffer, count: int, *, elem_flags: int = 0, flags: int = 0
) -> int:
    """``BPF_MAP_DELETE_BATCH``: delete ``count`` keys; returns how many were deleted."""
    return _batch(Cmd.MAP_DELETE_BATCH, map_fd, None, None, keys, None, count, elem_flags, flags, False).count


# ------------------------------------------------------------------- programs


def _log_lines(buf: ctypes.Array[ctypes.c_char]) -> list[str]:
    text = buf.value.decode("utf-8", "replace")
    return text.splitlines()


# The program types for which BPF_PROG_LOAD also needs CAP_NET_ADMIN or
# CAP_PERFMON beside CAP_BPF (is_net_admin_prog_type / is_perfmon_prog_type
# in kernel/bpf/syscall.c); the kernel checks CAP_NET_ADMIN first.
_NET_ADMIN_TYPES = frozenset(
    {
        ProgType.SCHED_CLS,
        ProgType.SCHED_ACT,
        ProgType.XDP,
        ProgType.LWT_IN,
        ProgType.LWT_OUT,
        ProgType.LWT_XMIT,
        ProgType.LWT_SEG6LOCAL,
        ProgType.SK_SKB,
        ProgType.SK_MSG,
        ProgType.FLOW_DISSECTOR,
        ProgType.CGROUP_DEVICE,
        ProgType.CGROUP_SOCK,
        ProgType.CGROUP_SKB,
        ProgType.CGROUP_SOCK_ADDR,
        ProgType.CGROUP_SOCKOPT,
        ProgType.CGROUP_SYSCTL,
        ProgType.SOCK_OPS,
        ProgType.EXT,
        ProgType.NETFILTER,
    }
)
_PERFMON_TYPES = frozenset(
    {
        ProgType.KPROBE,
        ProgType.TRACEPOINT,
        ProgType.PERF_EVENT,
        ProgType.RAW_TRACEPOINT,
        ProgType.RAW_TRACEPOINT_WRITABLE,
        ProgType.TRACING,
        ProgType.LSM,
        ProgType.STRUCT_OPS,
        ProgType.EXT,
    }
)


def _load_capability(prog_type: int) -> str:
    """The capability a refused ``BPF_PROG_LOAD`` of ``prog_type`` most likely lacks."""
    from .system import has_capability

    needed = ["CAP_BPF"]
    if prog_type in _NET_ADMIN_TYPES:
        needed.append("CAP_NET_ADMIN")
    if prog_type in _PERFMON_TYPES:
        needed.append("CAP_PERFMON")
    try:
        return next((cap for cap in needed if not has_capability(cap)), needed[-1])
    except (OSError, ValueError):
        return needed[-1]


def _grown_log_size(attr: ProgLoadAttr | BtfLoadAttr, size: int) -> int | None:
    """The log buffer size to retry with after a load with a ``size``-byte log failed with ``ENOSPC``.

    Kernels since 6.4 write the size the whole log needed into
    ``log_true_size`` (``btf_log_true_size`` for BTF); older ones leave it 0
    and only say that the log did not fit, so the buffer grows by
    `_LOG_GROWTH` (and to at least `_LOG_SIZE_FIRST`), staying
    under the 16 MiB cap of kernels before 5.2 unless the kernel itself asked
    for more. ``None`` when it cannot grow any further.
    """
    true_size = int(attr.log_true_size if isinstance(attr, ProgLoadAttr) else attr.btf_log_true_size)
    if true_size > size:
        return min(true_size, _LOG_SIZE_MAX)
    if size < _LOG_SIZE_MAX_OLD:
        return min(max(size * _LOG_GROWTH, _LOG_SIZE_FIRST), _LOG_SIZE_MAX_OLD)
    return None


def _load_with_log(
    cmd: Cmd,
    attr: ProgLoadAttr | BtfLoadAttr,
    context: str,
    log_level: int,
    log_size: int,
    log_out: list[str] | None = None,
) -> int:
    """Run a load command with the verifier log strategy of docs/architecture.md, Errors.

    Without ``log_level`` the first attempt has no log (cheaper for the
    kernel); only after a failure is the load repeated with ``log_level=1``
    and a buffer of at least 256 KiB that grows, while the kernel reports
    ``ENOSPC``, to its ``log_true_size`` when it reports one (6.4 and newer)
    or otherwise fourfold up to the 16 MiB every kernel accepts, for a
    bounded number of attempts.

    With ``log_level`` the log is requested from the first attempt in a
    buffer of ``log_size`` bytes; a load that fails for want of room is
    repeated with a grown buffer the same way (so a small ``log_size`` still
    yields the whole log), and when ``log_out`` is given the log of a
    successful load is appended to it.
    """
    command = f"BPF_{cmd.name}"
    capability = _load_capability(attr.prog_type) if isinstance(attr, ProgLoadAttr) else None

    def set_log(level: int, buf: ctypes.Array[ctypes.c_char] | None) -> None:
        address = ctypes.addressof(buf) if buf is not None else 0
        size = len(buf) if buf is not None else 0
        if isinstance(attr, ProgLoadAttr):
            attr.log_level, attr.log_buf, attr.log_size, attr.log_true_size = level, address, size, 0
        else:
            attr.btf_log_level, attr.btf_log_buf, attr.btf_log_size = level, address, size
            attr.btf_log_true_size = 0

    def call() -> int:
        # The raw load functions retry an EAGAIN (a signal interrupted the verifier).
        return raw.prog_load(attr) if isinstance(attr, ProgLoadAttr) else raw.btf_load(attr)

    buf: ctypes.Array[ctypes.c_char] | None = None
    if log_level:
        buf = ctypes.create_string_buffer(max(log_size, 128))
        set_log(log_level, buf)
    ret = call()
    if ret >= 0:
        if buf is not None and log_out is not None:
            log_out.extend(_log_lines(buf))
        return ret
    first_err = -ret
    if first_err in (errno.EPERM, errno.EBADF) and not log_level:
        # Not a verifier verdict: no log will explain it. (EFAULT may be one:
        # the verifier gives up with EFAULT on its internal errors and, in
        # 6.1 for one, when "The sequence of 8193 jumps is too complex".)
        raise syscall_error(first_err, command, context, capability=capability)
    level = log_level or 1
    err = first_err
    size: int | None
    if not log_level:
        size = max(log_size, _LOG_SIZE_FIRST)
    elif first_err == errno.ENOSPC:
        assert buf is not None
        size = _grown_log_size(attr, len(buf))
    else:
        # The first attempt already had a log, and it was not cut short.
        size = None
    for _ in range(_LOG_RETRIES):
        if size is None:
            break
        buf = ctypes.create_string_buffer(size)
        set_log(level, buf)
        ret = call()
        if ret >= 0:
            log.debug("%s succeeded when retried with a verifier log", command)
            if log_out is not None:
                log_out.extend(_log_lines(buf))
            return ret
        err = -ret
        if err != errno.ENOSPC:
            break
        size = _grown_log_size(attr, size)
    assert buf is not None
    lines = _log_lines(buf)
    if not lines or err in (errno.EPERM, errno.EAGAIN):
        reported = first_err if err == errno.ENOSPC else err
        raise syscall_error(reported, command, context, capability=capability)
    raise VerifierError(err, command, context, lines, truncated=err == errno.ENOSPC)


def prog_load(
    prog_type: ProgType | int,
    insns: ReadableBuffer,
    license: str = "GPL",
    *,
    name: str = "",
    expected_attach_type: AttachType | int = 0,
    flags: int = 0,
    kern_version: int = 0,
    log_level: int = 0,
    log_size: int = 0,
    ifindex: int = 0,
    btf_fd: FdLike | None = None,
    func_info: ReadableBuffer | None = None,
    func_info_rec_size: int = 0,
    line_info: ReadableBuffer | None = None,
    line_info_rec_size: int = 0,
    attach_btf_id: int = 0,
    attach_prog_fd: FdLike | None = None,
    attach_btf_obj_fd: FdLike | None = None,
    fd_array: Sequence[int] | None = None,
    token_fd: FdLike | None = None,
    verifier_log: list[str] | None = None,
) -> FD:
    """``BPF_PROG_LOAD``: load ``insns`` (8-byte instructions) and return the program's descriptor.

    The verifier log is requested only after a failure (see
    `_load_with_log()`); pass ``log_level`` to ask for it up front
    (``2`` for every instruction's state, ``4`` for statistics); with
    ``verifier_log``, a list, the log of the successful load is appended to it.

    Raises:
        ValueError: empty or misaligned instructions, a bad name or license.
        VerifierError: the verifier rejected the program; ``.log`` has the whole log.
        PermissionDeniedError: missing ``CAP_BPF`` (or ``CAP_PERFMON``/``CAP_NET_ADMIN``
            for tracing and networking program types).
        BpfSyscallError: other kernel errors.
    """
    raw = memoryview(insns).cast("B")
    if raw.nbytes == 0 or raw.nbytes % 8:
        raise ValueError(f"instructions must be a non-empty multiple of 8 bytes, got {raw.nbytes}")
    if "\0" in license:
        raise ValueError("license must not contain NUL")
    lic = ctypes.create_string_buffer(license.encode())
    ins, _ins = readable_address(insns)
    attr = ProgLoadAttr(
        prog_type=int(prog_type),
        insn_cnt=raw.nbytes // 8,
        insns=ins,
        license=ctypes.addressof(lic),
        kern_version=kern_version,
        prog_flags=int(flags),
        prog_name=check_object_name(name),
        prog_ifindex=ifindex,
        expected_attach_type=int(expected_attach_type),
        attach_btf_id=attach_btf_id,
    )
    fi, _fi = readable_address(func_info)
    li, _li = readable_address(line_info)
    if btf_fd is not None:
        attr.prog_btf_fd = _fd(btf_fd)
    if func_info is not None:
        if func_info_rec_size <= 0:
            raise ValueError("func_info needs func_info_rec_size")
        attr.func_info, attr.func_info_rec_size = fi, func_info_rec_size
        attr.func_info_cnt = memoryview(func_info).nbytes // func_info_rec_size
    if line_info is not None:
        if line_info_rec_size <= 0:
            raise ValueError("line_info needs line_info_rec_size")
        attr.line_info, attr.line_info_rec_size = li, line_info_rec_size
        attr.line_info_cnt = memoryview(line_info).nbytes // line_info_rec_size
    if attach_prog_fd is not None and attach_btf_obj_fd is not None:
        raise ValueError("give attach_prog_fd or attach_btf_obj_fd, not both")
    if attach_prog_fd is not None:
        attr.attach_prog_fd = _fd(attach_prog_fd)
    if attach_btf_obj_fd is not None:
        attr.attach_btf_obj_fd = _fd(attach_btf_obj_fd)
    fds = None
    if fd_array:
        fds = (ctypes.c_int32 * len(fd_array))(*fd_array)
        attr.fd_array = ctypes.addressof(fds)
    if token_fd is not None:
        attr.prog_token_fd = _fd(token_fd)
    try:
        type_name = ProgType(prog_type).name
    except ValueError:
        type_name = str(int(prog_type))
    context = f"loading {type_name} program" + (f" {name!r}" if name else "")
    fd = _load_with_log(Cmd.PROG_LOAD, attr, context, log_level, log_size, verifier_log)
    del fds, lic
    return FD(fd)


def btf_load(
    btf: ReadableBuffer, *, log_level: int = 0, log_size: int = 0, token_fd: FdLike | None = None
) -> FD:
    """``BPF_BTF_LOAD``: load a BTF blob and return its descriptor.

    Raises:
        VerifierError: the kernel's BTF checker rejected the blob (with its log).
        BpfSyscallError: other kernel errors.
    """
    data, _data = readable_address(btf)
    attr = BtfLoadAttr(btf=data, btf_size=memoryview(btf).nbytes)
    if token_fd is not None:
        attr.btf_token_fd = _fd(token_fd)
        attr.btf_flags = 1 << 16
    return FD(_load_with_log(Cmd.BTF_LOAD, attr, "loading BTF", log_level, log_size))


# ---------------------------------------------------------------- pin and get


def _path(path: str | os.PathLike[str]) -> ctypes.Array[ctypes.c_char]:
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError(f"path {path!r} contains NUL")
    return ctypes.create_string_buffer(raw)


def obj_pin(fd: FdLike, path: str | os.PathLike[str]) -> None:
    """``BPF_OBJ_PIN``: pin the object at ``path`` on a bpffs mount.

    Raises:
        BpfSyscallError: ``EEXIST`` when the path exists, ``EPERM`` when it is
            not on bpffs (mount one with ``mount -t bpf bpf /sys/fs/bpf``).
    """
    buf = _path(path)
    attr = ObjPinAttr(pathname=ctypes.addressof(buf), bpf_fd=_fd(fd))
    ret = raw.obj_pin(attr)
    if ret < 0:
        raise _pin_error(-ret, "BPF_OBJ_PIN", f"pinning to {os.fspath(path)!r}", path)


def obj_get(path: str | os.PathLike[str], flags: int = 0) -> FD:
    """``BPF_OBJ_GET``: open a pinned object (``flags``: [`FileFlags`][ebpf.syscall.flags.FileFlags]).

    Raises:
        BpfSyscallError: nothing is pinned there (``ENOENT``), or ``path`` is
            not on a BPF filesystem (the message says so).
        PermissionDeniedError: the pin's permissions or a policy refuse it.
    """
    buf = _path(path)
    attr = ObjPinAttr(pathname=ctypes.addressof(buf), file_flags=int(flags))
    ret = raw.obj_get(attr)
    if ret < 0:
        raise _pin_error(-ret, "BPF_OBJ_GET", f"opening pinned object {os.fspath(path)!r}", path)
    return FD(ret)


def _pin_error(err: int, command: str, context: str, path: str | os.PathLike[str]) -> BpfSyscallError:
    """The error of a failed pin or open of a pin. Off bpffs the kernel answers EPERM (pin) or
    EACCES/EINVAL (open): that is the path's fault, not a missing privilege, and is said so."""
    from .system import is_on_bpffs

    if err in (errno.EPERM, errno.EACCES, errno.EINVAL) and not is_on_bpffs(path):
        hint = (
            f"{os.fspath(path)} is not on a BPF filesystem: objects are pinned under a bpffs mount "
            "(`mount -t bpf bpf /sys/fs/bpf`)"
        )
        return syscall_error(err, command, context, hint)
    return syscall_error(err, command, context)


# -------------------------------------------------------------- attach/detach


def prog_attach(
    target: FdLike,
    prog_fd: FdLike,
    attach_type: AttachType | int,
    *,
    flags: int = 0,
    replace_prog_fd: FdLike | None = None,
    relative_fd: FdLike | None = None,
    relative_id: int = 0,
    expected_revision: int = 0,
) -> None:
    """``BPF_PROG_ATTACH``: the legacy attachment (cgroups, sockmaps, flow dissector, TCX...).

    ``target`` is a cgroup, map or netns descriptor, or an interface index
    for TCX types.
    """
    attr = ProgAttachAttr(
        attach_bpf_fd=_fd(prog_fd),
        attach_type=int(attach_type),
        attach_flags=int(flags),
        expected_revision=expected_revision,
    )
    attr.target_fd = _fd(target)
    if replace_prog_fd is not None:
        attr.replace_bpf_fd = _fd(replace_prog_fd)
    if relative_fd is not None:
        attr.relative_fd = _fd(relative_fd)
    elif relative_id:
        attr.relative_id = relative_id
    context = f"attaching program as {AttachType(attach_type).name}"
    _checked(raw.prog_attach(attr), Cmd.PROG_ATTACH, context, "CAP_NET_ADMIN")


def prog_detach(
    target: FdLike,
    attach_type: AttachType | int,
    prog_fd: FdLike | None = None,
    *,
    flags: int = 0,
    relative_fd: FdLike | None = None,
    relative_id: int = 0,
    expected_revision: int = 0,
) -> None:
    """``BPF_PROG_DETACH``: undo [`prog_attach()`][ebpf.syscall.commands.prog_attach] (``prog_fd`` selects
    among multi-attached programs)."""
    attr = ProgAttachAttr(
        attach_type=int(attach_type), attach_flags=int(flags), expected_revision=expected_revision
    )
    attr.target_fd = _fd(target)
    if prog_fd is not None:
        attr.attach_bpf_fd = _fd(prog_fd)
    if relative_fd is not None:
        attr.relative_fd = _fd(relative_fd)
    elif relative_id:
        attr.relative_id = relative_id
    context = f"detaching {AttachType(attach_type).name} program"
    _checked(raw.prog_detach(attr), Cmd.PROG_DETACH, context, "CAP_NET_ADMIN")


@dataclass(frozen=True)
class ProgQueryResult:
    """What ``BPF_PROG_QUERY`` reports for one attach point."""

    attach_flags: int
    prog_ids: tuple[int, ...]
    prog_attach_flags: tuple[int, ...]
    link_ids: tuple[int, ...]
    revision: int


def prog_query(target: FdLike, attach_type: AttachType | int, *, query_flags: int = 0) -> ProgQueryResult:
    """``BPF_PROG_QUERY``: the programs attached to ``target`` for ``attach_type``.

    Asks first for the count, then for the ids; repeats if programs were
    attached in between (``ENOSPC``).
    """
    for _ in range(8):
        attr = ProgQueryAttr(attach_type=int(attach_type), query_flags=int(query_flags))
        attr.target_fd = _fd(target)
        _checked(raw.prog_query(attr), Cmd.PROG_QUERY, f"querying {AttachType(attach_type).name} programs")
        count = int(attr.prog_cnt)
        ids = (ctypes.c_uint32 * max(count, 1))()
        flags = (ctypes.c_uint32 * max(count, 1))()
        links = (ctypes.c_uint32 * max(count, 1))()
        attr = ProgQueryAttr(
            attach_type=int(attach_type),
            query_flags=int(query_flags),
            prog_ids=ctypes.addressof(ids),
            prog_attach_flags=ctypes.addressof(flags),
            link_ids=ctypes.addressof(links),
        )
        attr.target_fd = _fd(target)
        attr.prog_cnt = count
        if query_flags & QueryFlags.QUERY_EFFECTIVE:
            # Per-program attach flags and link ids describe one cgroup's own
            # list; the kernel rejects them in an effective query (EINVAL).
            attr.prog_attach_flags = 0
            attr.link_ids = 0
        ret = raw.prog_query(attr)
        if ret == -errno.EINVAL and attr.link_ids:
            # link_ids is 6.6's: older kernels reject an attr that sets a field
            # after the last one they know (CHECK_ATTR). Ask again without it,
            # and then without prog_attach_flags (6.0's) as well.
            attr.link_ids = 0
            links = (ctypes.c_uint32 * max(count, 1))()
            ret = raw.prog_query(attr)
            if ret == -errno.EINVAL and attr.prog_attach_flags:
                attr.prog_attach_flags = 0
                ret = raw.prog_query(attr)
        if ret == -errno.ENOSPC:
            continue
        _checked(ret, Cmd.PROG_QUERY, f"querying {AttachType(attach_type).name} programs")
        n = int(attr.prog_cnt)
        return ProgQueryResult(
            attach_flags=int(attr.attach_flags),
            prog_ids=tuple(ids[:n]),
            prog_attach_flags=tuple(flags[:n]),
            link_ids=tuple(links[:n]),
            revision=int(attr.revision),
        )
    raise BpfSyscallError(errno.ENOSPC, "BPF_PROG_QUERY", "programs kept being attached while querying")


# ------------------------------------------------------------------ test run


@dataclass(frozen=True)
class TestRunResult:
    """The outcome of ``BPF_PROG_TEST_RUN``."""

    __test__ = False  # not a pytest test class

    retval: int
    duration_ns: int
    data_out: bytes
    ctx_out: bytes


def prog_test_run(
    prog_fd: FdLike,
    *,
    data_in: ReadableBuffer | None = None,
    data_out_size: int | None = None,
    ctx_in: ReadableBuffer | None = None,
    ctx_out_size: int = 0,
    repeat: int = 0,
    flags: int = 0,
    cpu: int = 0,
    batch_size: int = 0,
) -> TestRunResult:
    """``BPF_PROG_TEST_RUN``: run the program on ``data_in``/``ctx_in`` without attaching it.

    ``data_out_size`` defaults to room for the input plus 256 bytes (XDP and
    TC programs may grow packets). ``repeat=0`` runs once; raw tracepoint
    programs accept nothing else (the kernel rejects data, ``repeat`` and
    ``duration`` for them). ``duration_ns`` is the average per repeat.

    Raises:
        BpfSyscallError: ``ENOTSUPP``/``EINVAL`` for program types without
            test runs, ``ENOSPC`` when the output did not fit.
    """
    din, _din = readable_address(data_in)
    size_in = memoryview(data_in).nbytes if data_in is not None else 0
    out_size = size_in + 256 if data_out_size is None else data_out_size
    out = bytearray(out_size)
    dout, _dout = writable_address(out)
    cin, _cin = readable_address(ctx_in)
    ctx_size_in = memoryview(ctx_in).nbytes if ctx_in is not None else 0
    ctx_out = bytearray(ctx_out_size)
    cout, _cout = writable_address(ctx_out)
    attr = ProgTestRunAttr(
        prog_fd=_fd(prog_fd),
        data_size_in=size_in,
        data_size_out=out_size if data_in is not None else 0,
        data_in=din,
        data_out=dout if data_in is not None else 0,
        repeat=repeat,
        ctx_size_in=ctx_size_in,
        ctx_size_out=ctx_out_size,
        ctx_in=cin,
        ctx_out=cout,
        flags=int(flags),
        cpu=cpu,
        batch_size=batch_size,
    )
    _checked(raw.prog_test_run(attr), Cmd.PROG_TEST_RUN, "test-running a program")
    return TestRunResult(
        retval=int(attr.retval),
        duration_ns=int(attr.duration),
        data_out=bytes(out[: attr.data_size_out]) if data_in is not None else b"",
        ctx_out=bytes(ctx_out[: attr.ctx_size_out]),
    )


# ---------------------------------------------------------------- ids and fds


def _next_id(call: Callable[[GetIdAttr], int], cmd: Cmd, start_id: int) -> int | None:
    attr = GetIdAttr(start_id=start_id)
    ret = call(attr)
    if ret == -errno.ENOENT:
        return None
    _checked(ret, cmd, "enumerating objects")
    return int(attr.next_id)


def prog_get_next_id(start_id: int = 0) -> int | None:
    """``BPF_PROG_GET_NEXT_ID``: the id of the next loaded program after ``start_id``, or None."""
    return _next_id(raw.prog_get_next_id, Cmd.PROG_GET_NEXT_ID, start_id)


def map_get_next_id(start_id: int = 0) -> int | None:
    """``BPF_MAP_GET_NEXT_ID``: the id of the next map after ``start_id``, or None."""
    return _next_id(raw.map_get_next_id, Cmd.MAP_GET_NEXT_ID, start_id)


def btf_get_next_id(start_id: int = 0) -> int | None:
    """``BPF_BTF_GET_NEXT_ID``: the id of the next BTF object after ``start_id``, or None."""
    return _next_id(raw.btf_get_next_id, Cmd.BTF_GET_NEXT_ID, start_id)


def link_get_next_id(start_id: int = 0) -> int | None:
    """``BPF_LINK_GET_NEXT_ID``: the id of the next link after ``start_id``, or None."""
    return _next_id(raw.link_get_next_id, Cmd.LINK_GET_NEXT_ID, start_id)


def _fd_by_id(call: Callable[[GetIdAttr], int], cmd: Cmd, obj_id: int, flags: int, what: str) -> FD:
    attr = GetIdAttr(start_id=obj_id, open_flags=int(flags))
    return FD(_checked(call(attr), cmd, f"opening {what} id {obj_id}"))


def prog_get_fd_by_id(prog_id: int) -> FD:
    """``BPF_PROG_GET_FD_BY_ID``: open a program by id (``ENOENT`` if it is gone)."""
    return _fd_by_id(raw.prog_get_fd_by_id, Cmd.PROG_GET_FD_BY_ID, prog_id, 0, "program")


def map_get_fd_by_id(map_id: int, flags: int = 0) -> FD:
    """``BPF_MAP_GET_FD_BY_ID``: open a map by id (``flags``: ``FileFlags.RDONLY``...)."""
    return _fd_by_id(raw.map_get_fd_by_id, Cmd.MAP_GET_FD_BY_ID, map_id, flags, "map")


def btf_get_fd_by_id(btf_id: int) -> FD:
    """``BPF_BTF_GET_FD_BY_ID``: open a BTF object by id."""
    return _fd_by_id(raw.btf_get_fd_by_id, Cmd.BTF_GET_FD_BY_ID, btf_id, 0, "BTF")


def link_get_fd_by_id(link_id: int) -> FD:
    """``BPF_LINK_GET_FD_BY_ID``: open a link by id."""
    return _fd_by_id(raw.link_get_fd_by_id, Cmd.LINK_GET_FD_BY_ID, link_id, 0, "link")


# ----------------------------------------------------------------------- info


def obj_get_info_by_fd(fd: FdLike, info: ctypes.Structure) -> int:
    """``BPF_OBJ_GET_INFO_BY_FD``: fill ``info`` (``BpfProgInfo``...); return the length written.

    Pointer fields set in ``info`` beforehand (``map_ids``, ``xlated_prog_insns``...)
    receive the arrays they point to. The kernel fills at most the size it
    knows and reports it back.
    """
    attr = ObjGetInfoAttr(bpf_fd=_fd(fd), info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    _checked(raw.obj_get_info_by_fd(attr), Cmd.OBJ_GET_INFO_BY_FD, f"reading {type(info).__name__}")
    return int(attr.info_len)


_InfoT = TypeVar("_InfoT", BpfProgInfo, BpfMapInfo, BpfLinkInfo)


def _info(fd: FdLike, cls: type[_InfoT]) -> _InfoT:
    info = cls()
    obj_get_info_by_fd(fd, info)
    return info


def prog_info(fd: FdLike) -> BpfProgInfo:
    """The kernel's ``struct bpf_prog_info`` for a program (scalars only)."""
    return _info(fd, BpfProgInfo)


def map_info(fd: FdLike) -> BpfMapInfo:
    """The kernel's ``struct bpf_map_info`` for a map."""
    return _info(fd, BpfMapInfo)


def link_info(fd: FdLike) -> BpfLinkInfo:
    """The kernel's ``struct bpf_link_info`` for a link (scalars only)."""
    return _info(fd, BpfLinkInfo)


# ---------------------------------------------------------------------- links


def raw_tracepoint_open(name: str | None, prog_fd: FdLike, *, cookie: int = 0) -> FD:
    """``BPF_RAW_TRACEPOINT_OPEN``: attach a raw tracepoint (or a tracing program, ``name=None``).

    Raises:
        BpfSyscallError: ``ENOENT`` for an unknown tracepoint.
    """
    buf = _path(name) if name is not None else None
    attr = RawTracepointOpenAttr(name=ctypes.addressof(buf) if buf is not None else 0, prog_fd=_fd(prog_fd))
    attr.cookie = cookie
    what = f"raw tracepoint {name!r}" if name else "tracing program"
    return FD(
        _checked(raw.raw_tracepoint_open(attr), Cmd.RAW_TRACEPOINT_OPEN, f"attaching {what}", "CAP_PERFMON")
    )


@dataclass(frozen=True)
class KprobeMultiOptions:
    """The ``kprobe_multi`` part of ``BPF_LINK_CREATE``: symbols *or* addresses."""

    symbols: Sequence[str] = ()
    addresses: Sequence[int] = ()
    cookies: Sequence[int] = ()
    flags: int = 0


@dataclass(frozen=True)
class UprobeMultiOptions:
    """The ``uprobe_multi`` part of ``BPF_LINK_CREATE``."""

    path: str
    offsets: Sequence[int]
    ref_ctr_offsets: Sequence[int] = ()
    cookies: Sequence[int] = ()
    pid: int = 0
    flags: int = 0


def _u64_array(values: Sequence[int]) -> ctypes.Array[ctypes.c_uint64] | None:
    return (ctypes.c_uint64 * len(values))(*values) if values else None


def _addr(arr: ctypes.Array[ctypes.c_uint64] | None) -> int:
    return ctypes.addressof(arr) if arr is not None else 0


def link_create(
    prog_fd: FdLike,
    target: FdLike,
    attach_type: AttachType | int,
    *,
    flags: int = 0,
    target_btf_id: int = 0,
    iter_info: ReadableBuffer | None = None,
    cookie: int = 0,
    kprobe_multi: KprobeMultiOptions | None = None,
    uprobe_multi: UprobeMultiOptions | None = None,
    netfilter: tuple[int, int, int, int] | None = None,
    relative_fd: FdLike | None = None,
    relative_id: int = 0,
    expected_revision: int = 0,
    capability: str = "CAP_BPF",
) -> FD:
    """``BPF_LINK_CREATE``: attach ``prog_fd`` and return the link's descriptor.

    ``target`` is what the attach type expects: a cgroup or netns descriptor,
    an interface index (XDP, TCX, netkit), a perf event descriptor
    (``PERF_EVENT``), a map (struct_ops, sockmap) or 0. The keyword groups
    fill the per-type part of the attr: ``target_btf_id`` (freplace, tracing),
    ``iter_info`` (iterators), ``cookie`` (perf events, tracing),
    ``kprobe_multi``, ``uprobe_multi``, ``netfilter`` as
    ``(pf, hooknum, priority, flags)``, and ``relative_*``/``expected_revision``
    for TCX, netkit and cgroup mprog ordering.

    Raises:
        ValueError: conflicting keyword groups.
        BpfSyscallError: the kernel refused.
    """
    at = AttachType(attach_type)
    groups = [
        g
        for g, used in (
            (
                "target_btf_id",
                bool(target_btf_id) and at not in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT),
            ),
            ("iter_info", iter_info is not None),
            ("kprobe_multi", kprobe_multi is not None),
            ("uprobe_multi", uprobe_multi is not None),
            ("netfilter", netfilter is not None),
            ("relative", relative_fd is not None or bool(relative_id) or bool(expected_revision)),
        )
        if used
    ]
    if len(groups) > 1:
        raise ValueError(f"link_create takes one per-type option group, got {groups}")
    attr = LinkCreateAttr(attach_type=int(at), flags=int(flags))
    attr.prog_fd = _fd(prog_fd)
    attr.target_fd = fileno_of(target)
    keep: list[object] = []
    if at in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN, AttachType.LSM_MAC):
        attr.tracing.target_btf_id = target_btf_id
        attr.tracing.cookie = cookie
    elif target_btf_id:
        attr.target_btf_id = target_btf_id
    elif iter_info is not None:
        address, k = readable_address(iter_info)
        keep.append(k)
        attr.iter_info, attr.iter_info_len = address, memoryview(iter_info).nbytes
    elif kprobe_multi is not None:
        opts = kprobe_multi
        if bool(opts.symbols) == bool(opts.addresses):
            raise ValueError("kprobe_multi needs symbols or addresses (exactly one of them)")
        n = len(opts.symbols) or len(opts.addresses)
        if opts.cookies and len(opts.cookies) != n:
            raise ValueError(f"kprobe_multi has {n} probes but {len(opts.cookies)} cookies")
        names = [ctypes.create_string_buffer(s.encode()) for s in opts.symbols]
        syms = (ctypes.c_uint64 * n)(*(ctypes.addressof(b) for b in names)) if names else None
        addrs = _u64_array(opts.addresses)
        cookies = _u64_array(opts.cookies)
        keep += [names, syms, addrs, cookies]
        km = attr.kprobe_multi
        km.flags, km.cnt = opts.flags, n
        km.syms, km.addrs, km.cookies = _addr(syms), _addr(addrs), _addr(cookies)
    elif uprobe_multi is not None:
        u = uprobe_multi
        n = len(u.offsets)
        for what, seq in (("ref_ctr_offsets", u.ref_ctr_offsets), ("cookies", u.cookies)):
            if seq and len(seq) != n:
                raise ValueError(f"uprobe_multi has {n} offsets but {len(seq)} {what}")
        path = _path(u.path)
        offs, refs, cookies = _u64_array(u.offsets), _u64_array(u.ref_ctr_offsets), _u64_array(u.cookies)
        keep += [path, offs, refs, cookies]
        um = attr.uprobe_multi
        um.path, um.offsets, um.ref_ctr_offsets, um.cookies = (
            ctypes.addressof(path),
            _addr(offs),
            _addr(refs),
            _addr(cookies),
        )
        um.cnt, um.flags, um.pid = n, u.flags, u.pid
    elif netfilter is not None:
        nf = attr.netfilter
        nf.pf, nf.hooknum, nf.priority, nf.flags = netfilter
    elif relative_fd is not None or relative_id or expected_revision:
        # tcx, netkit and cgroup share this layout.
        attr.tcx.expected_revision = expected_revision
        if relative_fd is not None:
            attr.tcx.relative_fd = _fd(relative_fd)
        else:
            attr.tcx.relative_id = relative_id
    elif cookie:
        attr.perf_event.bpf_cookie = cookie
    fd = _checked(raw.link_create(attr), Cmd.LINK_CREATE, f"creating {at.name} link", capability)
    del keep
    return FD(fd)


def link_update(
    link_fd: FdLike, new_prog_fd: FdLike, *, old_prog_fd: FdLike | None = None, flags: int = 0
) -> None:
    """``BPF_LINK_UPDATE``: swap the link's program atomically.

    With ``old_prog_fd`` (and ``flags=AttachFlags.REPLACE``) the update only
    happens if the link still runs that program.
    """
    attr = LinkUpdateAttr(link_fd=_fd(link_fd), flags=int(flags))
    attr.new_prog_fd = _fd(new_prog_fd)
    if old_prog_fd is not None:
        attr.old_prog_fd = _fd(old_prog_fd)
    _checked(raw.link_update(attr), Cmd.LINK_UPDATE, "updating a link's program")


def link_detach(link_fd: FdLike) -> None:
    """``BPF_LINK_DETACH``: detach the link now; its descriptor stays valid but defunct."""
    _checked(raw.link_detach(LinkDetachAttr(link_fd=_fd(link_fd))), Cmd.LINK_DETACH, "detaching a link")


def iter_create(link_fd: FdLike) -> FD:
    """``BPF_ITER_CREATE``: a readable descriptor producing an iterator link's output."""
    ret = raw.iter_create(IterCreateAttr(link_fd=_fd(link_fd)))
    return FD(_checked(ret, Cmd.ITER_CREATE, "creating an iterator"))


def enable_stats(stats_type: StatsType | int = StatsType.RUN_TIME) -> FD:
    """``BPF_ENABLE_STATS``: collect run time statistics for as long as the returned descriptor is open."""
    ret = raw.enable_stats(EnableStatsAttr(type=int(stats_type)))
    return FD(_checked(ret, Cmd.ENABLE_STATS, "enabling BPF statistics"))


def prog_bind_map(prog_fd: FdLike, map_fd: FdLike) -> None:
    """``BPF_PROG_BIND_MAP``: keep ``map_fd`` alive for as long as the program lives."""
    attr = ProgBindMapAttr(prog_fd=_fd(prog_fd), map_fd=_fd(map_fd))
    _checked(raw.prog_bind_map(attr), Cmd.PROG_BIND_MAP, "binding a map to a program")


def token_create(bpffs_fd: FdLike) -> FD:
    """``BPF_TOKEN_CREATE``: a BPF token from a bpffs mounted with delegation options."""
    ret = raw.token_create(TokenCreateAttr(bpffs_fd=_fd(bpffs_fd)))
    return FD(_checked(ret, Cmd.TOKEN_CREATE, "creating a BPF token"))


@dataclass(frozen=True)
class TaskFdQueryResult:
    """What ``BPF_TASK_FD_QUERY`` says about a perf event or raw tracepoint descriptor of a task."""

    prog_id: int
    fd_type: TaskFdType
    name: str
    probe_offset: int
    probe_addr: int


def task_fd_query(pid: int, fd: int, *, name_size: int = 256) -> TaskFdQueryResult:
    """``BPF_TASK_FD_QUERY``: which program is attached through descriptor ``fd`` of process ``pid``."""
    buf = ctypes.create_string_buffer(name_size)
    attr = TaskFdQueryAttr(pid=pid, fd=fd, buf_len=name_size, buf=ctypes.addressof(buf))
    _checked(raw.task_fd_query(attr), Cmd.TASK_FD_QUERY, f"querying fd {fd} of pid {pid}")
    return TaskFdQueryResult(
        prog_id=int(attr.prog_id),
        fd_type=TaskFdType(attr.fd_type),
        name=buf.value.decode("utf-8", "replace"),
        probe_offset=int(attr.probe_offset),
        probe_addr=int(attr.probe_addr),
    )
