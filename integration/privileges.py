"""Run a function in a forked child that holds only some capabilities (or none).

The child stays uid 0 but sets its effective and permitted capability sets
to exactly ``keep`` with ``capset(2)`` (nothing, for
:func:`run_without_capabilities`), so the kernel treats it as unprivileged
for ``CAP_BPF``/``CAP_PERFMON``/``CAP_NET_ADMIN``/``CAP_SYS_ADMIN`` checks.
The function's return value or exception comes back pickled through a pipe.
"""

from __future__ import annotations

import ctypes
import os
import pickle
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

__all__ = [
    "CAP_BPF",
    "CAP_NET_ADMIN",
    "CAP_PERFMON",
    "CAP_SYS_ADMIN",
    "run_with_capabilities",
    "run_without_capabilities",
    "set_capabilities",
]

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def set_capabilities(keep: Iterable[int]) -> None:
    """Make ``keep`` this process's effective and permitted capabilities, and nothing else (irreversible)."""
    low = high = 0
    for bit in keep:
        if bit < 32:
            low |= 1 << bit
        else:
            high |= 1 << (bit - 32)
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = low
    data[1].effective = data[1].permitted = high
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def run_with_capabilities(keep: Iterable[int], fn: Callable[[], T]) -> T:
    """Run ``fn`` in a child that holds only the capabilities ``keep``; return or raise what it did."""
    wanted = tuple(keep)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            set_capabilities(wanted)
            payload = pickle.dumps((True, fn()))
        except BaseException as exc:
            payload = pickle.dumps((False, exc))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def run_without_capabilities(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a child without any capability; return its result or raise its exception."""
    return run_with_capabilities((), fn)
