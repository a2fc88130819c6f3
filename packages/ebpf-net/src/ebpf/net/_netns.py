"""Network namespaces: run code, and make attachments, inside another one.

``setns(2)`` with ``CLONE_NEWNET`` moves only the calling thread, and every
socket and attachment keeps the namespace it was made in: a bpf_link made
inside [`in_netns()`][ebpf.net.in_netns] stays attached to that namespace's interface after
the block, and netlink attachments remember their namespace so that closing
them acts there, whatever namespace the closing thread is in.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator

from ebpf.syscall import FD, HasFileno, fileno_of

__all__ = ["NETNS_RUN_DIR", "current_netns", "entered", "in_netns", "netns_key"]

NETNS_RUN_DIR = "/run/netns"  # where `ip netns add` binds its namespaces
_OWN = "/proc/thread-self/ns/net"
_CLONE_NEWNET = 0x40000000


def current_netns() -> FD:
    """A descriptor of the calling thread's network namespace."""
    return FD(os.open(_OWN, os.O_RDONLY | os.O_CLOEXEC))


def netns_key(netns: HasFileno | None = None) -> tuple[int, int]:
    """``(st_dev, st_ino)``: what identifies a namespace (the calling thread's when ``None``)."""
    st = os.stat(_OWN) if netns is None else os.fstat(netns.fileno())
    return st.st_dev, st.st_ino


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(ctypes.c_int(fd), ctypes.c_int(_CLONE_NEWNET)) != 0:
        err = ctypes.get_errno()
        if err == errno.EINVAL:
            raise ValueError(f"descriptor {fd} is not a network namespace")
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


@contextlib.contextmanager
def entered(netns: HasFileno | None) -> Iterator[None]:
    """Run the block in ``netns`` (an open namespace descriptor); ``None`` stays where the thread is.

    Raises:
        ValueError: the descriptor is not a network namespace.
        OSError: ``setns`` failed (``EPERM`` without ``CAP_SYS_ADMIN``).
    """
    if netns is None or netns_key(netns) == netns_key():
        yield
        return
    with current_netns() as home:
        _setns(netns.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


def _open(netns: str | os.PathLike[str] | int | HasFileno) -> FD:
    if not isinstance(netns, str | os.PathLike):
        return FD(os.dup(fileno_of(netns)))
    path = os.fspath(netns)
    if os.sep not in path:
        path = os.path.join(NETNS_RUN_DIR, path)
    try:
        return FD(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, f"no network namespace {os.fspath(netns)!r} (looked for {path})", path
        ) from None


@contextlib.contextmanager
def in_netns(netns: str | os.PathLike[str] | int | HasFileno) -> Iterator[None]:
    """Run the block with the calling thread inside another network namespace, then come back.

    Interface names and indexes are resolved, and attachments made, in the
    namespace of the calling thread: use this to attach to an interface of
    a namespace made with ``ip netns add``. Attachments made inside stay in
    that namespace after the block, and closing them later acts there.

    Args:
        netns: a name of ``ip netns`` (``"blue"`` for ``/run/netns/blue``),
            a path (``/proc/<pid>/ns/net``), or an open descriptor.

    Raises:
        FileNotFoundError: no such namespace.
        ValueError: the file or descriptor is not a network namespace.
        OSError: ``setns`` failed (``EPERM`` without ``CAP_SYS_ADMIN``).
    """
    with _open(netns) as fd, entered(fd):
        yield
