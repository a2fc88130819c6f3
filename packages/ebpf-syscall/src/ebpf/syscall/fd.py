"""``FD``: ownership of one kernel file descriptor.

Every live kernel object (map, program, link, BTF, perf event) is reachable
only through a file descriptor; the object lives while any descriptor or
pin refers to it. [`FD`][ebpf.syscall.FD] owns exactly one descriptor: it closes it in
`close()`, when used as a context manager, and, as a backstop, when the
object is garbage-collected without having been closed, so that a
forgotten object never leaks its descriptor.

Threads: the kernel hands a closed descriptor's number to the next object
opened, so a system call that read the number before another thread closed
it would act on whatever got the number since. ``FD.lock`` is the guard: the
live objects built on an ``FD`` (maps, programs, links) hold it from reading
the number until their system call returns, and ``close()`` takes it, so a
close waits for an operation in flight, and the operations after it find the
descriptor closed.
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType
from typing import Protocol

__all__ = ["FD", "HasFileno", "fileno_of"]


class HasFileno(Protocol):
    """Anything with a ``fileno()`` method (sockets, files, ``FD``, maps, ...)."""

    def fileno(self) -> int: ...


def fileno_of(obj: int | HasFileno) -> int:
    """Return the descriptor number of ``obj`` (an int or anything with ``fileno()``).

    Raises:
        TypeError: ``obj`` is neither.
        ValueError: the number is negative.
    """
    if isinstance(obj, bool):
        raise TypeError("a file descriptor must be an int or have fileno(), not bool")
    if isinstance(obj, int):
        fd = obj
    elif hasattr(obj, "fileno"):
        fd = obj.fileno()
    else:
        raise TypeError(f"a file descriptor must be an int or have fileno(), not {type(obj).__name__}")
    if fd < 0:
        raise ValueError(f"invalid file descriptor {fd}")
    return fd


class FD:
    """Owns one file descriptor; closing it is idempotent.

    Examples:
        >>> with FD(os.open("/dev/null", os.O_RDONLY)) as fd:
        ...     os.fstat(fd.fileno()).st_mode != 0
        True
    """

    __slots__ = ("__weakref__", "_fd", "_finalizer", "lock")

    def __init__(self, fd: int) -> None:
        """Take ownership of ``fd``.

        Raises:
            ValueError: ``fd`` is negative.
        """
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        self._fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)
        #: Held while a system call uses the number; `close()` waits for it (see the module docstring).
        self.lock = threading.RLock()

    def fileno(self) -> int:
        """The descriptor number.

        Raises:
            ValueError: the descriptor was closed or detached.
        """
        if self._fd < 0:
            raise ValueError("file descriptor is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        """Whether the descriptor was closed or detached."""
        return self._fd < 0

    def close(self) -> None:
        """Close the descriptor (after a system call another thread has in flight on it); a second call
        does nothing."""
        with self.lock:
            if self._fd >= 0:
                self._fd = -1
                self._finalizer()

    def detach(self) -> int:
        """Give up ownership and return the descriptor, which the caller must close.

        Raises:
            ValueError: the descriptor was already closed or detached.
        """
        with self.lock:
            fd = self.fileno()
            self._finalizer.detach()
            self._fd = -1
            return fd

    def dup(self) -> FD:
        """A new ``FD`` owning a duplicate (close-on-exec) of this descriptor."""
        return FD(os.dup(self.fileno()))

    def __enter__(self) -> FD:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __int__(self) -> int:
        return self.fileno()

    def __repr__(self) -> str:
        return f"FD({self._fd})" if self._fd >= 0 else "FD(closed)"
