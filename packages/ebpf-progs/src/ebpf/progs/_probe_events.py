"""Kprobe and uprobe events made through tracefs: the fallback for kernels without probe PMUs.

Before the ``kprobe``/``uprobe`` perf PMUs (4.17), or where they are absent,
a probe is created by appending its definition to
``<tracefs>/kprobe_events`` (``uprobe_events``), which makes a tracepoint
``kprobes/<event>`` with an id; a perf event is opened on that tracepoint.
The event must be removed (``-:kprobes/<event>``) when the attachment goes
away, and the kernel refuses that with ``EBUSY`` while a perf event still
uses it.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from ebpf.syscall import FD, NotSupportedError, perf, system

__all__ = ["open_probe_event"]


_counter = itertools.count()
_REMOVE_ATTEMPTS = 10


def _events_file(kind: str) -> Path:
    root = system.ensure_tracefs()
    path = root / f"{kind}_events"
    if not path.exists():
        config = "CONFIG_KPROBE_EVENTS (and CONFIG_KPROBES)" if kind == "kprobe" else "CONFIG_UPROBE_EVENTS"
        raise NotSupportedError(
            f"{kind}s", None, f"no {kind} PMU and no {path}: the kernel was built without {config}"
        )
    return path


def _write(path: Path, line: str) -> None:
    # O_APPEND: writing without it would clear every other probe event.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def _remover(path: Path, group: str, event: str) -> Callable[[], None]:
    def remove() -> None:
        for attempt in range(_REMOVE_ATTEMPTS):
            try:
                _write(path, f"-:{group}/{event}")
                return
            except OSError as exc:
                # The perf event is released asynchronously after close().
                if exc.errno != errno.EBUSY or attempt == _REMOVE_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    return remove


def open_probe_event(kind: str, location: str, *, retprobe: bool, pid: int) -> tuple[FD, Callable[[], None]]:
    """Create a tracefs ``kind`` (``"kprobe"``/``"uprobe"``) event at ``location``; open a perf event on it.

    ``location`` is ``symbol+offset`` for kprobes, ``path:0xoffset[(0xref)]`` for uprobes.
    Returns the perf event and the function that removes the tracefs event.

    Raises:
        NotSupportedError: the kernel has no such probe events.
        BpfSyscallError, OSError: the kernel refused the definition (an unknown symbol).
    """
    path = _events_file(kind)
    group = f"{kind}s"
    stem = re.sub(r"[^A-Za-z0-9_]", "_", location)[:40]
    event = f"ebpf_{os.getpid()}_{next(_counter)}_{stem}"
    _write(path, f"{'r' if retprobe else 'p'}:{group}/{event} {location}")
    remove = _remover(path, group, event)
    try:
        tp_id = perf.tracepoint_id(group, event)
        return perf.open_tracepoint(tp_id, pid=pid), remove
    except BaseException:
        remove()
        raise
