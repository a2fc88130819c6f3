"""Programs on perf events: the common path of tracepoints, kprobes, uprobes and sampling events."""

from __future__ import annotations

import os
from collections.abc import Callable

from ebpf.syscall import (
    FD,
    AttachType,
    HasFileno,
    LinkType,
    NotSupportedError,
    ProgType,
    commands,
    fileno_of,
    perf,
)

from ._checks import require_type
from ._link import BpfLink, Link, PerfEventLink
from ._link_support import has_link_type
from ._program import Program

__all__ = ["attach_perf_event", "attach_to_event"]


def attach_to_event(
    program: Program,
    event: FD,
    *,
    cookie: int,
    legacy: bool,
    target: str,
    cleanup: Callable[[], None] | None = None,
) -> Link:
    """Attach ``program`` to perf event ``event``, taking ownership of ``event`` and ``cleanup``.

    A ``perf_event`` bpf_link (5.15) holds its own reference to the event, so
    ``event`` is closed once the link exists; the legacy
    ``PERF_EVENT_IOC_SET_BPF`` lasts while the event's descriptor is open, so
    the [`PerfEventLink`][ebpf.progs.PerfEventLink] keeps it. On failure ``event`` is closed and
    ``cleanup`` runs: nothing stays attached or created.

    Raises:
        NotSupportedError: a cookie without perf bpf_links (5.15).
        BpfSyscallError: the kernel refused.
    """
    try:
        if cookie < 0 or cookie >= 1 << 64:
            raise ValueError(f"cookie must be a u64, not {cookie}")
        program_id = program.id
        if not legacy and has_link_type(LinkType.PERF_EVENT):
            # The events opened here are enabled from the start (attr.disabled = 0).
            with event:
                link_fd = commands.link_create(program, event, AttachType.PERF_EVENT, cookie=cookie)
            return BpfLink(link_fd, target, cleanup)
        if cookie:
            raise NotSupportedError("BPF cookies on perf events", "5.15", "they need perf_event bpf_links")
        perf.set_bpf(event, program)
        perf.enable(event)
    except BaseException:
        event.close()
        if cleanup is not None:
            cleanup()
        raise
    return PerfEventLink(event, program_id, target, cleanup)


def attach_perf_event(
    program: Program, event: HasFileno | int, *, cookie: int = 0, legacy: bool = False
) -> Link:
    """Attach a ``perf_event`` program to a perf event the caller opened (a sampling event, say).

    Open the event with [`ebpf.syscall.perf.open_software()`][ebpf.syscall.perf.open_software] or
    [`open_event()`][ebpf.syscall.perf.open_event]; the link uses its own duplicate
    of the descriptor, so the caller may close theirs.

    Args:
        program: a ``PERF_EVENT`` program (or ``TRACEPOINT``/``KPROBE`` for such events).
        event: the perf event.
        cookie: a value ``bpf_get_attach_cookie()`` returns (5.15+).
        legacy: use ``PERF_EVENT_IOC_SET_BPF`` even where perf bpf_links exist.

    Raises:
        TypeError: the program type does not fit.
        NotSupportedError: a cookie on a kernel without perf bpf_links.
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.PERF_EVENT, ProgType.TRACEPOINT, ProgType.KPROBE), "attach_perf_event")
    dup = FD(os.dup(fileno_of(event)))
    return attach_to_event(
        program, dup, cookie=cookie, legacy=legacy, target=f"perf event fd {fileno_of(event)}"
    )
