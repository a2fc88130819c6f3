"""Uprobes and uretprobes: the uprobe PMU, tracefs ``uprobe_events``, and uprobe_multi links."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ebpf.syscall import AttachType, LinkType, NotSupportedError, ProgType, commands, perf
from ebpf.syscall.commands import UprobeMultiOptions
from ebpf.syscall.flags import LinkFlags

from ._checks import require_attach_type, require_type
from ._link import BpfLink, Link
from ._link_support import require_link_type
from ._perf_event import attach_to_event
from ._probe_events import open_probe_event
from ._program import Program

__all__ = ["attach_uprobe", "attach_uprobe_multi"]


def _check_binary(path: str | os.PathLike[str]) -> str:
    text = os.fsdecode(path)
    if not text or "\0" in text:
        raise ValueError(f"invalid binary path {text!r}")
    if not os.path.isfile(text):
        raise FileNotFoundError(f"uprobe target {text!r} is not a file")
    return os.path.realpath(text)


def attach_uprobe(
    program: Program,
    path: str | os.PathLike[str],
    offset: int,
    *,
    retprobe: bool = False,
    pid: int | None = None,
    ref_ctr_offset: int = 0,
    cookie: int = 0,
    legacy: bool = False,
) -> Link:
    """Attach a uprobe (or, with ``retprobe``, a uretprobe) program at file ``offset`` of binary ``path``.

    The offset is a *file* offset: for a symbol, its address minus the
    ``p_vaddr`` plus the ``p_offset`` of the loadable segment holding it.
    (Attaching by symbol name is ``ebpf.elf``'s, which reads the symbol table.)

    Args:
        program: a ``KPROBE`` program (uprobes share the type).
        path: the executable or shared library.
        offset: the instruction's file offset.
        retprobe: probe the function's return.
        pid: only this process (``None``: every process running the binary).
        ref_ctr_offset: file offset of a USDT semaphore the kernel increments while attached (4.20+).
        cookie: a value ``bpf_get_attach_cookie()`` returns (5.15+).
        legacy: use ``PERF_EVENT_IOC_SET_BPF`` even where perf bpf_links exist.

    Raises:
        TypeError: not a ``KPROBE`` program.
        FileNotFoundError: ``path`` is not a file.
        ValueError: a negative offset or pid.
        NotSupportedError: the kernel has no uprobes.
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.KPROBE,), "attach_uprobe")
    binary = _check_binary(path)
    if offset < 0 or ref_ctr_offset < 0:
        raise ValueError(f"offsets must not be negative: offset {offset}, ref_ctr_offset {ref_ctr_offset}")
    if pid is not None and pid <= 0:
        raise ValueError(f"pid must be positive, not {pid}")
    kind = "uretprobe" if retprobe else "uprobe"
    target = f"{kind} {binary}:{offset:#x}" + (f" pid {pid}" if pid is not None else "")
    perf_pid = -1 if pid is None else pid
    try:
        event = perf.open_uprobe(
            binary, offset, retprobe=retprobe, pid=perf_pid, ref_ctr_offset=ref_ctr_offset
        )
    except NotSupportedError:
        location = f"{binary}:{offset:#x}" + (f"({ref_ctr_offset:#x})" if ref_ctr_offset else "")
        event, cleanup = open_probe_event("uprobe", location, retprobe=retprobe, pid=perf_pid)
        return attach_to_event(program, event, cookie=cookie, legacy=legacy, target=target, cleanup=cleanup)
    return attach_to_event(program, event, cookie=cookie, legacy=legacy, target=target)


def attach_uprobe_multi(
    program: Program,
    path: str | os.PathLike[str],
    offsets: Sequence[int],
    *,
    retprobe: bool = False,
    pid: int | None = None,
    ref_ctr_offsets: Sequence[int] = (),
    cookies: Sequence[int] = (),
) -> Link:
    """Attach one program at many file offsets of a binary with a uprobe_multi link (6.6).

    Args:
        program: a ``KPROBE`` program loaded with ``expected_attach_type=TRACE_UPROBE_MULTI``.
        path: the executable or shared library.
        offsets: the file offsets.
        retprobe: probe returns instead.
        pid: only this process (``None``: every process).
        ref_ctr_offsets, cookies: one per offset, or none.

    Raises:
        TypeError: the program was not loaded for uprobe_multi.
        FileNotFoundError: ``path`` is not a file.
        ValueError: no offsets, negative ones, or per-offset lists of another length.
        NotSupportedError: the kernel has no uprobe_multi links.
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.KPROBE,), "attach_uprobe_multi")
    require_attach_type(program, (AttachType.TRACE_UPROBE_MULTI,), "attach_uprobe_multi")
    binary = _check_binary(path)
    if not offsets or any(o < 0 for o in offsets):
        raise ValueError(
            f"offsets must be a non-empty list of non-negative file offsets, not {list(offsets)}"
        )
    for what, values in (("ref_ctr_offsets", ref_ctr_offsets), ("cookies", cookies)):
        if values and len(values) != len(offsets):
            raise ValueError(f"{len(values)} {what} for {len(offsets)} offsets")
    if pid is not None and pid <= 0:
        raise ValueError(f"pid must be positive, not {pid}")
    require_link_type(LinkType.UPROBE_MULTI)
    options = UprobeMultiOptions(
        path=binary,
        offsets=offsets,
        ref_ctr_offsets=ref_ctr_offsets,
        cookies=cookies,
        pid=pid or 0,
        flags=LinkFlags.UPROBE_MULTI_RETURN if retprobe else 0,
    )
    fd = commands.link_create(program, 0, AttachType.TRACE_UPROBE_MULTI, uprobe_multi=options)
    kind = "uretprobe" if retprobe else "uprobe"
    return BpfLink(fd, f"{kind}.multi {binary} ({len(offsets)} offsets)")
