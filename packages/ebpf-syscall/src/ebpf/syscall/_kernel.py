"""The one place that makes system calls into the kernel's BPF interfaces.

Every ``bpf(2)`` and ``perf_event_open(2)`` call of every ebpf package goes
through [`bpf_errno()`][ebpf.syscall.bpf_errno] (and its variants here) or
`perf_event_open()`. They are thin: an attr structure in, a result or
``-errno`` (or a typed exception) out. Each command is called through its
generated function in [`ebpf.syscall.raw`][ebpf.syscall.raw], which names
the command and its attr once.

The kernel copies ``size`` bytes of the attr and requires every byte past
the fields it knows to be zero (``bpf_check_uarg_tail_zero``), so an attr
built from a newer ``linux/bpf.h`` works on an older kernel as long as the
newer fields stay zero; ctypes structures start zeroed.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import signal
from collections.abc import Callable

from ._generated import Cmd
from ._sysnum import syscall_numbers
from .errors import syscall_error

__all__ = ["bpf", "bpf_errno", "bpf_errno_restarting", "bpf_failed", "bpf_prepared", "perf_event_open"]

_NR = syscall_numbers()
_NR_BPF = _NR.bpf
_NR_PERF_EVENT_OPEN = _NR.perf_event_open

# syscall(2) from the C library: variadic, returns long, sets errno.
_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

_byref = ctypes.byref
_sizeof = ctypes.sizeof
_get_errno = ctypes.get_errno
_c_long = ctypes.c_long
_c_ulong = ctypes.c_ulong


def bpf_errno(cmd: int, attr: ctypes.Structure) -> int:
    """Call ``bpf(cmd, &attr, sizeof(attr))`` and return the result or ``-errno``.

    This is the allocation-free path for hot loops (map lookups, where a
    missing key is an answer, not an error). ``EINTR`` is retried.
    """
    size = _sizeof(attr)
    while True:
        ret: int = _syscall(_NR_BPF, _c_long(cmd), _byref(attr), _c_ulong(size))
        if ret >= 0:
            return ret
        err = _get_errno()
        if err != errno.EINTR:
            return -err


# BPF_PROG_LOAD returns EAGAIN when verification was interrupted (a pending
# signal); libbpf and cilium/ebpf retry a bounded number of times.
_EAGAIN_RETRIES = 5
_CATCHABLE_SIGNALS = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}


def bpf_errno_restarting(cmd: int, attr: ctypes.Structure) -> int:
    """Like [`bpf_errno()`][ebpf.syscall.bpf_errno], and an ``EAGAIN`` is retried with signals blocked.

    For the load commands (``BPF_PROG_LOAD``, ``BPF_BTF_LOAD``): the verifier
    gives up with ``EAGAIN`` whenever a signal is pending for the loading
    thread, so a steady stream of signals could starve a long load. The
    retries run with every catchable signal blocked in this thread: blocked
    signals do not count as pending, and the kernel delivers them (and
    Python runs their handlers) once they are unblocked. After a bounded
    number of retries the ``-EAGAIN`` is returned.
    """
    ret = bpf_errno(cmd, attr)
    if ret != -errno.EAGAIN:
        return ret
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _CATCHABLE_SIGNALS)
    try:
        for _ in range(_EAGAIN_RETRIES):
            ret = bpf_errno(cmd, attr)
            if ret != -errno.EAGAIN:
                break
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return ret


def bpf_prepared(cmd: int, attr: ctypes.Structure) -> Callable[[], int]:
    """Prepare ``bpf(cmd, &attr, sizeof(attr))`` for many calls: each returns the result, or -1 on failure.

    The form for per-element map operations, which refill ``attr`` (or the
    buffers it points to) between calls: the call is a ``functools.partial``
    over the foreign function with its ctypes arguments built once, so it
    runs no Python code at all. After a negative result, call
    [`bpf_failed()`][ebpf.syscall.bpf_failed] at once (before any other foreign call in this
    thread) for the error. ``attr`` must stay alive and at the same address
    while the returned function is used (the function keeps a reference to it).
    """
    return functools.partial(_syscall, _NR_BPF, _c_long(cmd), _byref(attr), _c_ulong(_sizeof(attr)))


def bpf_failed(call: Callable[[], int]) -> int:
    """After a call from [`bpf_prepared()`][ebpf.syscall.bpf_prepared] returned a negative result: ``-errno``.

    ``EINTR`` is retried (with ``call``), so the result may also be a
    successful retry's non-negative result.
    """
    while True:
        err = _get_errno()
        if err != errno.EINTR:
            return -err
        ret = call()
        if ret >= 0:
            return ret


def bpf(cmd: Cmd, attr: ctypes.Structure, context: str = "", capability: str | None = None) -> int:
    """Call ``bpf(2)`` and return its non-negative result.

    Args:
        cmd: the command.
        attr: the command's attr structure (``MapCreateAttr`` for ``MAP_CREATE``...).
        context: what the caller is doing, for the error message.
        capability: the capability to name if the kernel says ``EPERM``.

    Raises:
        BpfSyscallError: with the subclass that fits ``errno`` (see
            [`syscall_error()`][ebpf.syscall.errors.syscall_error]).
    """
    ret = bpf_errno(cmd, attr)
    if ret < 0:
        raise syscall_error(-ret, f"BPF_{Cmd(cmd).name}", context, capability=capability)
    return ret


def perf_event_open(
    attr: ctypes.Structure, pid: int, cpu: int, group_fd: int, flags: int, context: str = ""
) -> int:
    """Call ``perf_event_open(2)`` and return the new descriptor (which the caller owns).

    Raises:
        BpfSyscallError: the kernel refused (``PermissionDeniedError`` naming
            ``CAP_PERFMON`` for ``EPERM``/``EACCES``).
    """
    while True:
        ret: int = _syscall(
            _NR_PERF_EVENT_OPEN,
            _byref(attr),
            ctypes.c_int(pid),
            ctypes.c_int(cpu),
            ctypes.c_int(group_fd),
            _c_ulong(flags),
        )
        if ret >= 0:
            return ret
        err = _get_errno()
        if err != errno.EINTR:
            raise syscall_error(err, "perf_event_open", context)
