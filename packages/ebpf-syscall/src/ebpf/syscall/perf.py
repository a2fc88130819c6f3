"""Perf events: opening them, their ioctls, and the tracefs/PMU lookups they need.

BPF programs reach tracepoints, kprobes and uprobes through perf events
(``perf_event_open(2)`` then ``PERF_EVENT_IOC_SET_BPF``, or a
``BPF_LINK_CREATE`` of type ``perf_event``), and perf buffers are one
``PERF_COUNT_SW_BPF_OUTPUT`` event per CPU. Every function that opens an
event returns an [`FD`][ebpf.syscall.FD] that owns the descriptor; every
descriptor is opened close-on-exec.

Tracepoint, kprobe and uprobe events used for BPF are opened with ``pid=-1``
and ``cpu=0``: the kernel refuses ``pid=-1`` with ``cpu=-1``, and a BPF
program attached through such an event runs on every CPU anyway, because the
kernel calls the programs of the probe (``trace_call_bpf``) before it looks
at which CPU's perf events should count the hit.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import fcntl
import functools
import logging
import os
import sys
from pathlib import Path

from . import _kernel
from ._generated import PerfEventAttr, PerfSampleFormat, PerfSwId, PerfType
from .errors import NotSupportedError, ParseError, syscall_error
from .fd import FD, HasFileno, fileno_of
from .system import KernelVersion, ensure_tracefs, kernel_version

__all__ = [
    "PERF_EVENT_IOC_DISABLE",
    "PERF_EVENT_IOC_ENABLE",
    "PERF_EVENT_IOC_ID",
    "PERF_EVENT_IOC_MODIFY_ATTRIBUTES",
    "PERF_EVENT_IOC_PAUSE_OUTPUT",
    "PERF_EVENT_IOC_PERIOD",
    "PERF_EVENT_IOC_QUERY_BPF",
    "PERF_EVENT_IOC_REFRESH",
    "PERF_EVENT_IOC_RESET",
    "PERF_EVENT_IOC_SET_BPF",
    "PERF_EVENT_IOC_SET_FILTER",
    "PERF_EVENT_IOC_SET_OUTPUT",
    "PERF_UPROBE_REF_CTR_OFFSET_SHIFT",
    "IocDirection",
    "PerfFlag",
    "disable",
    "enable",
    "event_id",
    "ioc",
    "open_bpf_output",
    "open_event",
    "open_kprobe",
    "open_software",
    "open_tracepoint",
    "open_uprobe",
    "pmu_type",
    "retprobe_bit",
    "set_bpf",
    "tracepoint_id",
]

logger = logging.getLogger("ebpf.syscall")


class PerfFlag(enum.IntFlag):
    """The ``flags`` of ``perf_event_open(2)`` (``PERF_FLAG_*``)."""

    FD_NO_GROUP = 1 << 0
    FD_OUTPUT = 1 << 1
    PID_CGROUP = 1 << 2
    FD_CLOEXEC = 1 << 3


#: ``config`` bits 32..63 of a uprobe PMU event hold the reference counter
#: (USDT semaphore) offset, since Linux 4.20.
PERF_UPROBE_REF_CTR_OFFSET_SHIFT = 32

# --------------------------------------------------------------------------
# ioctl numbers
# --------------------------------------------------------------------------


class IocDirection(enum.IntFlag):
    """The data direction of an ioctl, as ``_IO``/``_IOW``/``_IOR``/``_IOWR`` encode it."""

    NONE = 0
    WRITE = 1  # user space writes, the kernel reads (_IOW)
    READ = 2  # the kernel writes, user space reads (_IOR)


# An ioctl number packs (direction, size, type, nr) into 32 bits. The generic
# layout (include/uapi/asm-generic/ioctl.h), used by x86, arm, arm64, riscv,
# s390 and loongarch, is nr:8 | type:8 | size:14 | dir:2 with NONE=0, WRITE=1,
# READ=2. PowerPC, MIPS, SPARC and Alpha give the direction 3 bits and the
# size 13, with NONE=1, READ=2, WRITE=4.
_ALT_IOC_MACHINES = ("ppc", "powerpc", "mips", "sparc", "alpha")


def ioc(direction: IocDirection, type_: str | int, nr: int, size: int, *, machine: str | None = None) -> int:
    """Compute an ioctl request number like the kernel's ``_IOC(dir, type, nr, size)``.

    Args:
        direction: [`IocDirection`][ebpf.syscall.perf.IocDirection] (``NONE`` for ``_IO``, ``WRITE`` for
            ``_IOW``, ``READ`` for ``_IOR``, both for ``_IOWR``).
        type_: the ioctl type, a character (``'$'`` for perf) or its code.
        nr: the number within the type, 0..255.
        size: the size of the argument type.
        machine: the architecture (``uname -m``) whose encoding to use;
            ``None`` for the generic one of x86_64, arm64, riscv64...

    Raises:
        ValueError: a field does not fit its bits.
    """
    alt = machine is not None and machine.startswith(_ALT_IOC_MACHINES)
    size_bits = 13 if alt else 14
    code = ord(type_) if isinstance(type_, str) else type_
    if not 0 <= code < 256 or not 0 <= nr < 256 or not 0 <= size < 1 << size_bits:
        raise ValueError(f"ioctl fields out of range: type {code}, nr {nr} (0..255), size {size}")
    if alt:
        bits = 0
        if direction & IocDirection.WRITE:
            bits |= 4
        if direction & IocDirection.READ:
            bits |= 2
        dir_value = bits or 1
    else:
        dir_value = int(direction)
    size_shift = 16
    dir_shift = size_shift + size_bits
    return (dir_value << dir_shift) | (size << size_shift) | (code << 8) | nr


_U32 = 4
_U64 = 8
_PTR = ctypes.sizeof(ctypes.c_void_p)
_NONE, _W, _R = IocDirection.NONE, IocDirection.WRITE, IocDirection.READ

# The request numbers of linux/perf_event.h in the generic encoding; the
# functions below recompute them for the running architecture.
PERF_EVENT_IOC_ENABLE = ioc(_NONE, "$", 0, 0)
PERF_EVENT_IOC_DISABLE = ioc(_NONE, "$", 1, 0)
PERF_EVENT_IOC_REFRESH = ioc(_NONE, "$", 2, 0)
PERF_EVENT_IOC_RESET = ioc(_NONE, "$", 3, 0)
PERF_EVENT_IOC_PERIOD = ioc(_W, "$", 4, _U64)
PERF_EVENT_IOC_SET_OUTPUT = ioc(_NONE, "$", 5, 0)
PERF_EVENT_IOC_SET_FILTER = ioc(_W, "$", 6, _PTR)  # char *
PERF_EVENT_IOC_ID = ioc(_R, "$", 7, _PTR)  # __u64 *: the size of a pointer, not of a u64
PERF_EVENT_IOC_SET_BPF = ioc(_W, "$", 8, _U32)
PERF_EVENT_IOC_PAUSE_OUTPUT = ioc(_W, "$", 9, _U32)
PERF_EVENT_IOC_QUERY_BPF = ioc(_R | _W, "$", 10, _PTR)
PERF_EVENT_IOC_MODIFY_ATTRIBUTES = ioc(_W, "$", 11, _PTR)

# PERF_IOC_FLAG_GROUP: apply ENABLE/DISABLE to the whole event group.
_PERF_IOC_FLAG_GROUP = 1


@functools.cache
def _request(direction: IocDirection, nr: int, size: int) -> int:
    return ioc(direction, "$", nr, size, machine=os.uname().machine)


def _ioctl(fd: int | HasFileno, name: str, request: int, arg: int | bytearray) -> None:
    number = fileno_of(fd)
    try:
        fcntl.ioctl(number, request, arg)
    except OSError as exc:
        raise syscall_error(
            exc.errno or errno.EIO, name, f"perf event fd {number}", capability="CAP_PERFMON"
        ) from exc


def enable(fd: int | HasFileno, *, group: bool = False) -> None:
    """Start counting (and running attached BPF programs for) a perf event: ``PERF_EVENT_IOC_ENABLE``.

    Args:
        fd: the perf event.
        group: enable every event of the group ``fd`` leads.

    Raises:
        TypeError, ValueError: ``fd`` is not a descriptor.
        BpfSyscallError: the kernel refused (``EBADF``/``ENOTTY`` for a non-perf fd).
    """
    _ioctl(fd, "PERF_EVENT_IOC_ENABLE", _request(_NONE, 0, 0), _PERF_IOC_FLAG_GROUP if group else 0)


def disable(fd: int | HasFileno, *, group: bool = False) -> None:
    """Stop a perf event: ``PERF_EVENT_IOC_DISABLE``.

    Raises:
        TypeError, ValueError: ``fd`` is not a descriptor.
        BpfSyscallError: the kernel refused.
    """
    _ioctl(fd, "PERF_EVENT_IOC_DISABLE", _request(_NONE, 1, 0), _PERF_IOC_FLAG_GROUP if group else 0)


def set_bpf(fd: int | HasFileno, prog_fd: int | HasFileno) -> None:
    """Attach a BPF program to a perf event: ``PERF_EVENT_IOC_SET_BPF`` (the legacy way, before links).

    The program stays attached until the event's last descriptor is closed.
    The kernel takes the program's descriptor by value, not by pointer.

    Raises:
        TypeError, ValueError: a descriptor is invalid.
        BpfSyscallError: the kernel refused (``EEXIST`` if a program is
            already attached, ``EINVAL`` if the program type does not fit the
            event).
    """
    _ioctl(fd, "PERF_EVENT_IOC_SET_BPF", _request(_W, 8, _U32), fileno_of(prog_fd))


def event_id(fd: int | HasFileno) -> int:
    """The kernel's unique id of a perf event: ``PERF_EVENT_IOC_ID``.

    Raises:
        TypeError, ValueError: ``fd`` is not a descriptor.
        BpfSyscallError: the kernel refused.
    """
    buf = bytearray(8)
    _ioctl(fd, "PERF_EVENT_IOC_ID", _request(_R, 7, _PTR), buf)
    return int.from_bytes(buf, sys.byteorder)


# --------------------------------------------------------------------------
# tracefs and PMU lookups
# --------------------------------------------------------------------------


def _check_name(what: str, value: object) -> str:
    """A single path component, or ValueError/TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value or value in (".", "..") or "/" in value or "\0" in value:
        raise ValueError(
            f"invalid {what} {value!r}: expected a non-empty name without '/' or NUL, not '.' or '..'"
        )
    return value


def tracepoint_id(category: str, name: str, tracefs: str | os.PathLike[str] | None = None) -> int:
    """The id of tracepoint ``category:name``, from ``<tracefs>/events/<category>/<name>/id``.

    Args:
        category: the group, e.g. ``"syscalls"``.
        name: the event, e.g. ``"sys_enter_getpid"``.
        tracefs: where tracefs is mounted; found in the mount table when ``None``.

    Raises:
        TypeError, ValueError: a name is not a single path component.
        NotMountedError: tracefs is not mounted (with the command to mount it).
        NotSupportedError: the kernel has no such tracepoint; the message
            says which file was looked for.
        PermissionDeniedError: tracefs is readable only by root.
        ParseError: the id file does not hold a number.
    """
    _check_name("tracepoint category", category)
    _check_name("tracepoint name", name)
    root = Path(tracefs) if tracefs is not None else ensure_tracefs()
    path = root / "events" / category / name / "id"
    try:
        text = path.read_text()
    except FileNotFoundError:
        if not (root / "events" / category).is_dir():
            where = f"no category {category!r} in {root / 'events'}"
        else:
            where = f"{path} does not exist"
        raise NotSupportedError(
            f"tracepoint {category}:{name}", None, f"{where} (see {root / 'available_events'})"
        ) from None
    except OSError as exc:
        raise syscall_error(
            exc.errno or errno.EIO, "open", f"reading tracepoint id {path}", capability="CAP_DAC_OVERRIDE"
        ) from exc
    try:
        return int(text.strip())
    except ValueError:
        raise ParseError(f"{path}: {text.strip()!r} is not a tracepoint id") from None


_PMU_ROOT = Path("/sys/bus/event_source/devices")

# The first kernel of each dynamic PMU (perf_kprobe and perf_uprobe, 4.17).
_PMU_VERSIONS = {"kprobe": "4.17", "uprobe": "4.17"}
_PMU_CONFIGS = {"kprobe": "CONFIG_KPROBE_EVENTS", "uprobe": "CONFIG_UPROBE_EVENTS"}


def _pmu_missing(name: str, path: Path, what: str) -> NotSupportedError:
    detail = f"{path} does not exist"
    version = _PMU_VERSIONS.get(name)
    if version is not None and kernel_version() >= KernelVersion.parse(version):
        # Newer than the PMU itself: then the kernel was configured without it.
        detail += f"; this kernel was built without {_PMU_CONFIGS[name]}"
    return NotSupportedError(what, version, detail)


def pmu_type(name: str) -> int:
    """The dynamic perf ``type`` of PMU ``name`` (``"kprobe"``, ``"uprobe"``), from sysfs.

    Raises:
        TypeError, ValueError: ``name`` is not a single path component.
        NotSupportedError: the PMU does not exist (no kprobe/uprobe PMU
            before 4.17, or a kernel built without the probe events).
        ParseError: the ``type`` file does not hold a number.
    """
    _check_name("PMU name", name)
    path = _PMU_ROOT / name / "type"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise _pmu_missing(name, path, f"{name} PMU") from None
    try:
        return int(text.strip())
    except ValueError:
        raise ParseError(f"{path}: {text.strip()!r} is not a PMU type") from None


def _parse_format_bit(text: str, source: str) -> int:
    """Parse a one-bit PMU format (``"config:0"`` or ``"config:0-0"``)."""
    field, _, bits = text.strip().partition(":")
    first, _, last = bits.partition("-")
    if field != "config" or not first.isdecimal() or (last and last != first):
        raise ParseError(f"{source}: {text.strip()!r} is not a single bit of config (like 'config:0')")
    return int(first)


def retprobe_bit(name: str) -> int:
    """The ``config`` bit that makes a ``name`` PMU probe a return probe (``format/retprobe``).

    Raises:
        TypeError, ValueError: ``name`` is not a single path component.
        NotSupportedError: the PMU or its ``retprobe`` format does not exist.
        ParseError: the format is not ``config:<bit>``.
    """
    _check_name("PMU name", name)
    path = _PMU_ROOT / name / "format" / "retprobe"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise _pmu_missing(name, path, f"{name} return probes through the {name} PMU") from None
    return _parse_format_bit(text, str(path))


# --------------------------------------------------------------------------
# Opening events
# --------------------------------------------------------------------------


def _check_int(what: str, value: object, minimum: int, maximum: int = (1 << 64) - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{what} must be between {minimum} and {maximum}, not {value}")
    return value


def open_event(
    attr: PerfEventAttr,
    pid: int = -1,
    cpu: int = -1,
    *,
    group_fd: int | HasFileno = -1,
    flags: int = 0,
    context: str = "",
) -> FD:
    """``perf_event_open(2)`` with ``attr``, close-on-exec, returning the owned descriptor.

    ``attr.size`` is set to the structure's size when it is 0.

    Args:
        attr: the event.
        pid: the task to watch, ``0`` for the caller, ``-1`` for every task
            (then ``cpu`` must name one CPU).
        cpu: the CPU to watch, ``-1`` for every CPU.
        group_fd: the group leader, ``-1`` for none.
        flags: [`PerfFlag`][ebpf.syscall.perf.PerfFlag] bits; ``FD_CLOEXEC`` is always added.
        context: what the caller is doing, for error messages.

    Raises:
        TypeError, ValueError: bad arguments (``pid`` and ``cpu`` both -1).
        PermissionDeniedError: the caller lacks ``CAP_PERFMON`` (see
            ``kernel.perf_event_paranoid``).
        BpfSyscallError: the kernel refused otherwise.
    """
    if not isinstance(attr, PerfEventAttr):
        raise TypeError(f"attr must be a PerfEventAttr, not {type(attr).__name__}")
    _check_int("pid", pid, -1, 2**31 - 1)
    _check_int("cpu", cpu, -1, 2**31 - 1)
    _check_int("flags", flags, 0, 2**64 - 1)
    if pid == -1 and cpu == -1:
        raise ValueError("pid and cpu cannot both be -1: name a task, a CPU, or both")
    group = -1 if isinstance(group_fd, int) and group_fd == -1 else fileno_of(group_fd)
    if attr.size == 0:
        attr.size = ctypes.sizeof(attr)
    fd = _kernel.perf_event_open(
        attr, pid, cpu, group, flags | PerfFlag.FD_CLOEXEC, context or "opening a perf event"
    )
    logger.debug("perf event fd %d: type %d config %#x pid %d cpu %d", fd, attr.type, attr.config, pid, cpu)
    return FD(fd)


def _probe_cpu(pid: int, cpu: int | None) -> int:
    # pid=-1 needs a CPU; a task-bound event follows the task on every CPU.
    return (0 if pid == -1 else -1) if cpu is None else cpu


def open_tracepoint(tp_id: int, pid: int = -1, cpu: int | None = None) -> FD:
    """Open a perf event on tracepoint ``tp_id`` (see [`tracepoint_id()`][ebpf.syscall.perf.tracepoint_id]).

    Args:
        tp_id: the tracepoint's id.
        pid: ``-1`` (every task, the usual choice for BPF), ``0`` (the caller) or a pid.
        cpu: the CPU; default ``0`` when ``pid`` is ``-1`` (a BPF program
            attached to the event runs on every CPU regardless), else every CPU.

    Raises:
        TypeError, ValueError: bad arguments.
        PermissionDeniedError: the caller lacks ``CAP_PERFMON``.
        BpfSyscallError: the kernel refused otherwise (``ENOENT``/``EINVAL`` for an unknown id).
    """
    _check_int("tracepoint id", tp_id, 0)
    attr = PerfEventAttr()
    attr.type = PerfType.TRACEPOINT
    attr.size = ctypes.sizeof(attr)
    attr.config = tp_id
    return open_event(attr, pid, _probe_cpu(pid, cpu), context=f"opening tracepoint {tp_id} perf event")


def _open_probe(
    pmu: str,
    target: bytes,
    offset: int,
    *,
    retprobe: bool,
    pid: int,
    cpu: int | None,
    ref_ctr_offset: int,
    context: str,
) -> FD:
    attr = PerfEventAttr()
    attr.type = pmu_type(pmu)
    attr.size = ctypes.sizeof(attr)
    config = ref_ctr_offset << PERF_UPROBE_REF_CTR_OFFSET_SHIFT
    if retprobe:
        config |= 1 << retprobe_bit(pmu)
    attr.config = config
    # config1 points at a NUL-terminated string the kernel copies during the
    # call (strndup_user); `name` keeps the buffer alive until it returns.
    name = ctypes.create_string_buffer(target)
    attr.config1 = ctypes.addressof(name)
    attr.config2 = offset
    result = open_event(attr, pid, _probe_cpu(pid, cpu), context=context)
    del name
    return result


def open_kprobe(
    symbol: str, offset: int = 0, *, retprobe: bool = False, pid: int = -1, cpu: int | None = None
) -> FD:
    """Open a kprobe (or kretprobe) perf event on kernel function ``symbol`` through the kprobe PMU.

    Args:
        symbol: the kernel symbol, as in ``/proc/kallsyms``.
        offset: bytes into the function (must be 0 for a return probe).
        retprobe: probe the function's return instead of its entry.
        pid, cpu: as for [`open_tracepoint()`][ebpf.syscall.perf.open_tracepoint].

    Raises:
        TypeError, ValueError: bad arguments.
        NotSupportedError: no kprobe PMU (before 4.17, or without CONFIG_KPROBE_EVENTS).
        PermissionDeniedError: the caller lacks ``CAP_PERFMON``.
        BpfSyscallError: the kernel refused (``ENOENT``/``EINVAL`` for an unknown symbol).
    """
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, not {type(symbol).__name__}")
    if not symbol or "\0" in symbol:
        raise ValueError(f"invalid kernel symbol {symbol!r}: expected a non-empty name without NUL")
    _check_int("offset", offset, 0)
    if retprobe and offset:
        raise ValueError("a return probe must be at offset 0 of the function")
    kind = "kretprobe" if retprobe else "kprobe"
    context = f"opening {kind} {symbol}+{offset:#x}"
    return _open_probe(
        "kprobe",
        symbol.encode(),
        offset,
        retprobe=retprobe,
        pid=pid,
        cpu=cpu,
        ref_ctr_offset=0,
        context=context,
    )


def open_uprobe(
    path: str | os.PathLike[str],
    offset: int,
    *,
    retprobe: bool = False,
    pid: int = -1,
    ref_ctr_offset: int = 0,
    cpu: int | None = None,
) -> FD:
    """Open a uprobe (or uretprobe) perf event at file ``offset`` of executable ``path``.

    Args:
        path: the executable or shared library.
        offset: the *file* offset of the instruction (for a symbol: its
            address minus the ``p_vaddr`` plus the ``p_offset`` of the
            loadable segment that holds it).
        retprobe: probe the function's return instead of its entry.
        pid: ``-1`` for every process, or one process.
        ref_ctr_offset: file offset of a USDT semaphore to increment while
            the probe exists (Linux 4.20), 0 for none.
        cpu: as for [`open_tracepoint()`][ebpf.syscall.perf.open_tracepoint].

    Raises:
        TypeError, ValueError: bad arguments.
        NotSupportedError: no uprobe PMU (before 4.17, or without CONFIG_UPROBE_EVENTS).
        PermissionDeniedError: the caller lacks ``CAP_PERFMON``.
        BpfSyscallError: the kernel refused (``ENOENT`` for a missing file).
    """
    raw = os.fsencode(path)
    if not raw or b"\0" in raw:
        raise ValueError(f"invalid uprobe path {path!r}: expected a non-empty path without NUL")
    _check_int("offset", offset, 0)
    _check_int("ref_ctr_offset", ref_ctr_offset, 0, (1 << 32) - 1)
    kind = "uretprobe" if retprobe else "uprobe"
    context = f"opening {kind} {os.fsdecode(raw)}:{offset:#x}"
    return _open_probe(
        "uprobe",
        raw,
        offset,
        retprobe=retprobe,
        pid=pid,
        cpu=cpu,
        ref_ctr_offset=ref_ctr_offset,
        context=context,
    )


def open_bpf_output(cpu: int, wakeup_events: int = 1, *, wakeup_watermark: int | None = None) -> FD:
    """Open the ``PERF_COUNT_SW_BPF_OUTPUT`` event of one CPU, the target of ``bpf_perf_event_output``.

    A perf buffer is one such event per possible CPU, each stored in a
    ``PERF_EVENT_ARRAY`` map at its CPU's index and mmap-ed by the reader.

    Args:
        cpu: the CPU.
        wakeup_events: wake a poller every this many samples.
        wakeup_watermark: wake a poller once this many bytes are pending
            instead (then ``wakeup_events`` is ignored).

    Raises:
        TypeError, ValueError: bad arguments.
        PermissionDeniedError: the caller lacks ``CAP_PERFMON``.
        BpfSyscallError: the kernel refused (``ENODEV`` for an offline CPU).
    """
    _check_int("cpu", cpu, 0, 2**31 - 1)
    attr = PerfEventAttr()
    attr.type = PerfType.SOFTWARE
    attr.size = ctypes.sizeof(attr)
    attr.config = PerfSwId.BPF_OUTPUT
    attr.sample_type = PerfSampleFormat.RAW
    attr.sample_period = 1
    if wakeup_watermark is None:
        attr.wakeup_events = _check_int("wakeup_events", wakeup_events, 1, 2**32 - 1)
    else:
        attr.watermark = 1
        attr.wakeup_watermark = _check_int("wakeup_watermark", wakeup_watermark, 1, 2**32 - 1)
    return open_event(attr, -1, cpu, context=f"opening the BPF output event of CPU {cpu}")


def open_software(
    config: PerfSwId | int,
    cpu: int,
    pid: int = -1,
    *,
    sample_period: int | None = None,
    sample_frequency: int | None = None,
) -> FD:
    """Open a sampling software event (``PERF_TYPE_SOFTWARE``), e.g. for a ``perf_event`` program.

    Give exactly one of ``sample_period`` (every N events) or
    ``sample_frequency`` (N samples a second, the kernel adapts the period).

    Raises:
        TypeError, ValueError: bad arguments, or not exactly one of the two sampling arguments.
        PermissionDeniedError: the caller lacks ``CAP_PERFMON``.
        BpfSyscallError: the kernel refused.
    """
    if isinstance(config, bool) or not isinstance(config, int):
        raise TypeError(f"config must be a PerfSwId or int, not {type(config).__name__}")
    _check_int("config", int(config), 0)
    if (sample_period is None) == (sample_frequency is None):
        raise ValueError("give exactly one of sample_period and sample_frequency")
    attr = PerfEventAttr()
    attr.type = PerfType.SOFTWARE
    attr.size = ctypes.sizeof(attr)
    attr.config = int(config)
    if sample_frequency is not None:
        attr.freq = 1
        attr.sample_freq = _check_int("sample_frequency", sample_frequency, 1)
    else:
        attr.sample_period = _check_int("sample_period", sample_period, 1)
    return open_event(attr, pid, cpu, context=f"opening software event {config!r} on CPU {cpu}")
