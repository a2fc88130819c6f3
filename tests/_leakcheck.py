"""File descriptor leak detection shared by the unit and integration suites.

Both ``tests/conftest.py`` and ``integration/conftest.py`` wrap every test in
a snapshot of ``/proc/self/fd`` taken before and after it. A descriptor that
is open afterwards and was not before (or now points somewhere else) is a
leak: an ``FD`` that nobody closed, a map or program object without a
``close()``, a reader that kept its epoll or perf event descriptors.
"""

from __future__ import annotations

import gc
import os

__all__ = ["describe_fds", "fd_leaks", "leaked_since", "open_fds"]

_FD_DIR = "/proc/self/fd"
_DELETED = " (deleted)"


def open_fds() -> dict[int, str]:
    """Return ``{fd: readlink target}`` for every descriptor this process has open.

    Listing ``/proc/self/fd`` needs a descriptor of its own, which shows up in
    the listing but is closed by the time the entries are resolved: it fails
    ``readlink`` with ``ENOENT`` and is left out.
    """
    fds: dict[int, str] = {}
    for name in os.listdir(_FD_DIR):
        try:
            fds[int(name)] = os.readlink(f"{_FD_DIR}/{name}")
        except FileNotFoundError:
            continue
    return fds


def fd_leaks(before: dict[int, str], after: dict[int, str]) -> dict[int, str]:
    """Return the descriptors of ``after`` that are new since ``before``.

    A descriptor number that was reused for something else counts as new. A
    file that was merely deleted while open (its target gains " (deleted)")
    does not.
    """
    leaked: dict[int, str] = {}
    for fd, target in after.items():
        old = before.get(fd)
        if old is None or target not in (old, old + _DELETED):
            leaked[fd] = target
    return leaked


def leaked_since(before: dict[int, str]) -> dict[int, str]:
    """Collect garbage (so ``weakref.finalize`` backstops run), then diff against ``before``."""
    gc.collect()
    return fd_leaks(before, open_fds())


def describe_fds(fds: dict[int, str]) -> str:
    """``"fd 7 -> anon_inode:bpf-map, fd 8 -> socket:[1234]"``."""
    return ", ".join(f"fd {fd} -> {target}" for fd, target in sorted(fds.items()))
