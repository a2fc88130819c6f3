"""Tracepoints (through perf events) and raw tracepoints."""

from __future__ import annotations

from ebpf.syscall import ProgType, commands, perf

from ._checks import require_type
from ._link import BpfLink, Link
from ._perf_event import attach_to_event
from ._program import Program

__all__ = ["attach_raw_tracepoint", "attach_tracepoint"]


def attach_tracepoint(
    program: Program, category: str, name: str, *, cookie: int = 0, legacy: bool = False
) -> Link:
    """Attach a ``tracepoint`` program to tracepoint ``category:name`` (``"syscalls"``, ``"sys_enter_open"``).

    The tracepoint's id comes from tracefs (``events/<category>/<name>/id``).

    Args:
        program: a ``TRACEPOINT`` program.
        category: the tracepoint's group.
        name: the tracepoint.
        cookie: a value ``bpf_get_attach_cookie()`` returns (5.15+).
        legacy: use ``PERF_EVENT_IOC_SET_BPF`` even where perf bpf_links exist.

    Raises:
        TypeError: not a ``TRACEPOINT`` program.
        ValueError: a name that is not a single path component.
        NotSupportedError: no such tracepoint (the message says which file
            was looked for), or tracefs is missing.
        NotMountedError: tracefs is not mounted.
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.TRACEPOINT,), "attach_tracepoint")
    tp_id = perf.tracepoint_id(category, name)
    event = perf.open_tracepoint(tp_id)
    return attach_to_event(
        program, event, cookie=cookie, legacy=legacy, target=f"tracepoint {category}:{name}"
    )


def attach_raw_tracepoint(program: Program, name: str, *, cookie: int = 0) -> Link:
    """Attach a raw tracepoint program to tracepoint ``name`` (``"sys_enter"``, ``"sched_switch"``).

    Raw tracepoints see the tracepoint's arguments without the perf
    formatting; they are always bpf_links (4.17; link ids since 5.8).

    Raises:
        TypeError: not a ``RAW_TRACEPOINT``/``RAW_TRACEPOINT_WRITABLE`` program.
        ValueError: an empty name or one with a NUL.
        BpfSyscallError: ``ENOENT`` for an unknown tracepoint.
    """
    require_type(
        program, (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE), "attach_raw_tracepoint"
    )
    if not name or "\0" in name:
        raise ValueError(f"invalid raw tracepoint name {name!r}")
    return BpfLink(commands.raw_tracepoint_open(name, program, cookie=cookie), f"raw tracepoint {name}")
