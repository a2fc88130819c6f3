"""``TracePipe``: the text ``bpf_trace_printk()`` writes, read from tracefs ``trace_pipe``.

``trace_pipe`` is the kernel trace buffer read as a stream: a read consumes
what it returns, for every reader on the machine (two readers split the
lines between them), and every tracer's output comes through it. The lines
carry the task, pid, CPU and time of the event but nothing that names the
BPF program that printed: a reader keeps the ``bpf_trace_printk`` lines and
may keep only those of some pids or task names, and programs that need to
be told apart put a tag in their messages.

The descriptor is opened non-blocking and waited on with epoll (with the
reader's wake-up eventfd, as the ring buffer readers do). The kernel wakes a
poller of ``trace_pipe`` only when its buffer reaches the ``buffer_percent``
mark (Linux 6.x), so a wait also looks every ``flush_interval`` seconds.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType

from ebpf.syscall.fd import FD
from ebpf.syscall.system import ensure_tracefs

from ._aio import wait_readable
from ._resources import Resources
from ._trace_line import BPF_TRACE_PRINTK, TraceLine, parse_lost_events, parse_trace_line

__all__ = ["TracePipe"]

#: What one read asks of the kernel: ``trace_pipe`` returns whole lines up to this size.
_CHUNK = 1 << 16


class TracePipe:
    """Lines of tracefs ``trace_pipe``, parsed into [`TraceLine`][ebpf.events.TraceLine] s and filtered.

    ``read()`` takes the lines available now, ``poll(timeout)`` waits for
    some, iteration and ``async for`` yield them as they come (until
    [`close()`][ebpf.events.TracePipe.close] or [`interrupt()`][ebpf.events.TracePipe.interrupt]).
    Lines of another form (a message's continuation after an embedded newline,
    other tracers' text) are counted in ``skipped``; events the kernel
    overwrote before anybody read them, in ``lost``.

    Threads: reads and waits take turns; ``close()`` and ``interrupt()`` may
    come from any thread and wake a wait.

    Examples:
        >>> with TracePipe(pid=os.getpid()) as pipe:  # doctest: +SKIP
        ...     for line in pipe:
        ...         print(line.timestamp, line.message)
    """

    def __init__(
        self,
        *,
        function: str | None = BPF_TRACE_PRINTK,
        pid: int | None = None,
        comm: str | None = None,
        path: str | os.PathLike[str] | None = None,
        mount: bool = False,
        flush_interval: float = 0.1,
    ) -> None:
        """Open ``trace_pipe``.

        Args:
            function: keep the lines of this event (``None``: every line that parses).
            pid: keep the lines of this thread id only.
            comm: keep the lines of this task name only.
            path: the file to read (default: ``trace_pipe`` of the mounted tracefs).
            mount: mount tracefs when it is not mounted (``ensure_tracefs(mount=True)``).
            flush_interval: seconds between looks at the file while waiting (> 0).

        Raises:
            ValueError: ``flush_interval`` is not positive.
            NotMountedError: tracefs is not mounted and ``mount`` is false.
            PermissionError: reading ``trace_pipe`` needs root (or a tracefs mounted with other modes).
            OSError: the file cannot be opened.
        """
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be > 0 seconds, not {flush_interval!r}")
        self.function = function
        self.pid = pid
        self.comm = comm
        self.path = Path(path) if path is not None else ensure_tracefs(mount=mount) / "trace_pipe"
        self._flush_interval = flush_interval
        self._lock = threading.RLock()
        self._closed = False
        self._interrupted = False
        self._partial = b""
        self.lost = 0
        self.skipped = 0
        res = Resources()
        try:
            fd = FD(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            res.fds.append(fd)
            res.epoll.register(fd.fileno(), select.EPOLLIN)
        except BaseException:
            res.release()
            raise
        self._res = res
        self._fd = fd
        self._finalizer = weakref.finalize(self, res.release)

    # ------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        """Whether [`close()`][ebpf.events.TracePipe.close] was called."""
        return self._closed

    def fileno(self) -> int:
        """An epoll descriptor readable when ``trace_pipe`` may have lines (for selectors and loops).

        Raises:
            ValueError: the reader is closed.
        """
        self._check_open()
        return self._res.epoll_fd

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("TracePipe is closed")

    def _wanted(self, line: TraceLine) -> bool:
        return (
            (self.function is None or line.function == self.function)
            and (self.pid is None or line.pid == self.pid)
            and (self.comm is None or line.task == self.comm)
        )

    # ------------------------------------------------------------ reading

    def read(self) -> list[TraceLine]:
        """The lines available now that pass the filter, without waiting (``[]``: none).

        Raises:
            ValueError: the reader is closed.
            OSError: reading failed.
        """
        with self._lock:
            self._check_open()
            # A read returns whole lines, but the part of a line a read might
            # still cut off waits here for the rest.
            *complete, self._partial = (self._partial + self._read_available()).split(b"\n")
            found = []
            for raw in complete:
                text = raw.decode("utf-8", "backslashreplace")
                line = parse_trace_line(text)
                if line is not None:
                    if self._wanted(line):
                        found.append(line)
                elif lost := parse_lost_events(text):
                    self.lost += lost
                elif text.strip():
                    self.skipped += 1
            return found

    def _read_available(self) -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(self._fd.fileno(), _CHUNK)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------ waiting

    def interrupt(self) -> None:
        """Make a blocked [`poll()`][ebpf.events.TracePipe.poll] or iteration (in any thread) return now,
        empty-handed."""
        self._interrupted = True
        self._res.wake()

    def _lines_or_step(self, deadline: float | None) -> list[TraceLine] | float:
        """One round of a poll: the lines to return now (``[]`` when closed, interrupted or out of
        time), or how many seconds to wait before the next round."""
        if self._closed:
            return []
        lines = self.read()
        if lines:
            return lines
        if self._interrupted:
            self._interrupted = False
            return []
        step = (
            self._flush_interval
            if deadline is None
            else min(self._flush_interval, deadline - time.monotonic())
        )
        return [] if step <= 0 else float(step)

    def _wait(self, step: float) -> None:
        """Block up to ``step`` seconds for ``trace_pipe`` or a wake-up (under the lock, as reads)."""
        with self._lock:
            if self._closed:
                return
            for fd, _ in self._res.epoll.poll(step):
                if fd == self._res.wake_fd:
                    self._res.clear_wake()

    def poll(self, timeout: float | None = None) -> list[TraceLine]:
        """Wait up to ``timeout`` seconds (``None``: no limit) for lines that pass the filter, and read them.

        Returns ``[]`` when the time runs out, on [`interrupt()`][ebpf.events.TracePipe.interrupt], or
        when another thread closes the reader meanwhile.

        Raises:
            ValueError: the reader is closed.
            OSError: reading failed.
        """
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        while isinstance(step := self._lines_or_step(deadline), float):
            self._wait(step)
        return step

    async def apoll(self, timeout: float | None = None) -> list[TraceLine]:
        """[`poll()`][ebpf.events.TracePipe.poll] for asyncio: waits with the running loop, not blocking it.

        Raises:
            ValueError: the reader is closed.
            OSError: reading failed.
        """
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        while isinstance(step := self._lines_or_step(deadline), float):
            if await wait_readable(self.fileno(), step):
                self._res.clear_wake()
        return step

    def __iter__(self) -> Iterator[TraceLine]:
        """Lines as they come, blocking in between; ends when the reader is closed or interrupted."""
        while not self._closed:
            lines = self.poll()
            if not lines:
                return
            yield from lines

    async def _aiterate(self) -> AsyncIterator[TraceLine]:
        while not self._closed:
            lines = await self.apoll()
            if not lines:
                return
            for line in lines:
                yield line

    def __aiter__(self) -> AsyncIterator[TraceLine]:
        """``async for line in pipe``: lines as they come; ends when the reader is closed or interrupted."""
        return self._aiterate()

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        """Close ``trace_pipe`` and the epoll descriptor; wakes a wait in another thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._res.wake()
        with self._lock:  # a read or wait in another thread finishes first
            self._finalizer()

    def __enter__(self) -> TracePipe:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        where = str(self.path)
        return f"<TracePipe {where!r} function={self.function!r} pid={self.pid} comm={self.comm!r} {state}>"
