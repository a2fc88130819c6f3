"""What every engine does around one input: known bugs, a CPU-time limit, recursion.

``guarded`` runs a target on one input and lets through only exceptions
that are findings: anything the target did not swallow as allowed, except a
known open bug (see :mod:`fuzz._known_bugs`), which it returns instead.
``cpu_time_limit`` turns an input that burns more than its CPU budget into
:class:`InputTimeout` (CPU time, not wall time, so a loaded machine does
not make a fast input look hung).
"""

from __future__ import annotations

import contextlib
import resource
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from fuzz._known_bugs import KnownBug, known_bug

__all__ = ["InputTimeout", "cpu_time_limit", "guarded", "memory_limit", "virtual_memory_bytes"]


class InputTimeout(Exception):  # noqa: N818 - it is a finding, not an error of the harness
    """One input used more CPU time than allowed: a hang (or near enough)."""


def guarded(one_input: Callable[[bytes], None], data: bytes) -> KnownBug | None:
    """Run ``one_input(data)``; return the known bug it hit, if any; raise any other exception."""
    try:
        one_input(data)
    except Exception as exc:
        bug = known_bug(exc)
        if bug is None:
            raise
        return bug
    return None


@contextlib.contextmanager
def cpu_time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`InputTimeout` in the body once the process has used ``seconds`` of CPU time in it.

    Uses ``ITIMER_PROF`` and ``SIGPROF``, so it works only in the main
    thread; elsewhere (or with ``seconds <= 0``) it does nothing.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise InputTimeout(f"one input used more than {seconds} s of CPU time")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def virtual_memory_bytes() -> int:
    """This process's address space size now (``VmSize``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) << 10
    raise OSError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def memory_limit(extra_bytes: int) -> Iterator[None]:
    """Let the body grow the address space by at most ``extra_bytes``: beyond, allocations fail.

    Lowers the soft ``RLIMIT_AS`` for the duration, so a runaway allocation
    is a ``MemoryError`` (a finding) rather than gigabytes really taken from
    the machine; the previous limit comes back afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = virtual_memory_bytes() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
