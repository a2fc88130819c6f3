"""What a reader owns (descriptors, mappings, views, an epoll and a wake-up eventfd) and releasing it."""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import select
from collections.abc import Callable

from ebpf.syscall.fd import FD

__all__ = ["Resources"]

log = logging.getLogger("ebpf.events")


class Resources:
    """Everything a reader holds, released once, in the right order, by `release()`.

    Kept apart from the reader so that ``weakref.finalize`` can release it
    when a reader is forgotten without being closed.
    """

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.epoll_fd = self.epoll.fileno()
        try:
            # Written by close()/interrupt() to wake a blocked wait.
            self.wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            self.epoll.register(self.wake_fd, select.EPOLLIN)
        except BaseException:
            self.epoll.close()
            raise
        self.fds: list[FD] = []
        self.mmaps: list[mmap.mmap] = []
        self.views: list[memoryview] = []
        self.cleanups: list[Callable[[], None]] = []
        self.released = False

    def wake(self) -> None:
        """Make a blocked ``epoll.poll`` on this reader return."""
        if not self.released:
            with contextlib.suppress(OSError):
                os.eventfd_write(self.wake_fd, 1)

    def clear_wake(self) -> None:
        """Reset the wake-up eventfd after a wake-up was seen."""
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self.wake_fd)

    def release(self) -> None:
        """Run the cleanups, release views, unmap, close every descriptor; a second call does nothing."""
        if self.released:
            return
        self.released = True
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception:
                log.exception("releasing an event reader: a cleanup failed")
        for view in reversed(self.views):
            view.release()
        for mapping in self.mmaps:
            try:
                mapping.close()
            except BufferError:
                # The caller still holds a record view: the pages stay mapped
                # until that view is garbage-collected, then go with it.
                log.debug("a record view outlives its reader; its mapping is unmapped with it")
        for fd in reversed(self.fds):
            fd.close()
        self.epoll.close()
        os.close(self.wake_fd)
