"""What is attached where, system-wide: programs on perf events (``bpftool perf``) and on cgroups.

Both are read-only queries, for listings: perf-event attachments are found
by asking ``BPF_TASK_FD_QUERY`` about every descriptor of every process
(what ``bpftool perf list`` does), cgroup attachments by one
``BPF_PROG_QUERY`` per cgroup attach type.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ebpf.syscall import AttachType, BpfSyscallError, PermissionDeniedError, commands
from ebpf.syscall.abi import TaskFdType

from ._cgroup import CGROUP_ATTACH_TYPES, CgroupLike, open_cgroup, query_cgroup

__all__ = ["CgroupAttachment", "PerfAttachment", "cgroup_attachments", "perf_attachments"]

_PROC = Path("/proc")


@dataclass(frozen=True)
class PerfAttachment:
    """A program attached through a perf event or raw tracepoint descriptor held by a process.

    Attributes:
        pid: the process holding the descriptor.
        fd: the descriptor's number in that process.
        prog_id: the attached program's id.
        fd_type: what the descriptor is (kprobe, uprobe, tracepoint, raw tracepoint...).
        name: the tracepoint, the probed function, or the probed file
            (empty for a kprobe given by address).
        probe_offset: the offset in the function or file (probes).
        probe_addr: the probed address (a kprobe given by address).
    """

    pid: int
    fd: int
    prog_id: int
    fd_type: TaskFdType
    name: str
    probe_offset: int
    probe_addr: int


def _pids() -> Iterator[int]:
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def _fds(pid: int) -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(_PROC / str(pid) / "fd") if name.isdigit())
    except OSError:  # the process exited, or its descriptors are not ours to see
        return []


def perf_attachments(*, include_self: bool = False) -> list[PerfAttachment]:
    """Every program attached through a perf event or raw tracepoint descriptor, by process and descriptor.

    Walks ``/proc/*/fd`` and asks ``BPF_TASK_FD_QUERY`` about each
    descriptor, as ``bpftool perf list`` does; descriptors of other kinds,
    and processes that exit meanwhile, are skipped. This process is left
    out unless ``include_self``; so are processes whose descriptors the
    kernel refuses to show (``EPERM`` for that process only).

    Raises:
        PermissionDeniedError: every query was refused: it needs ``CAP_SYS_ADMIN``.
    """
    own = os.getpid()
    found = []
    denied: PermissionDeniedError | None = None
    answered = False
    for pid in sorted(_pids()):
        if pid == own and not include_self:
            continue
        for fd in _fds(pid):
            try:
                result = commands.task_fd_query(pid, fd)
            except PermissionDeniedError as exc:
                denied = denied or exc  # a process the kernel protects, or no privileges at all
                continue
            except BpfSyscallError:
                answered = True
                continue  # not a perf event (ENOTSUPP, EINVAL...), or gone (ENOENT, EBADF, ESRCH)
            answered = True
            found.append(
                PerfAttachment(
                    pid=pid,
                    fd=fd,
                    prog_id=result.prog_id,
                    fd_type=result.fd_type,
                    name=result.name,
                    probe_offset=result.probe_offset,
                    probe_addr=result.probe_addr,
                )
            )
    if denied is not None and not answered:
        raise denied
    return found


@dataclass(frozen=True)
class CgroupAttachment:
    """A program attached to a cgroup at one hook.

    Attributes:
        prog_id: the program's id.
        attach_type: the hook (``AttachType.CGROUP_INET_INGRESS``...).
        attach_flags: how it was attached (``BPF_F_ALLOW_MULTI``,
            ``BPF_F_ALLOW_OVERRIDE``, 0), as the kernel reports it for this
            program (for the whole hook on kernels before 6.0).
        link_id: the id of the bpf_link holding it; 0 when attached without
            one, and when the kernel does not say (it may not for cgroups).
    """

    prog_id: int
    attach_type: AttachType
    attach_flags: int
    link_id: int


#: Every cgroup hook, in the kernel's order (as ``bpftool cgroup`` lists them).
_HOOKS = sorted(frozenset().union(*CGROUP_ATTACH_TYPES.values()))


def cgroup_attachments(cgroup: CgroupLike, *, effective: bool = False) -> list[CgroupAttachment]:
    """The programs attached to ``cgroup``, hook by hook in the kernel's order, each hook's in run order.

    ``effective`` includes what the cgroup inherits from its ancestors.
    Hooks this kernel does not have are skipped.

    Raises:
        FileNotFoundError: ``cgroup`` is not a cgroup v2 directory.
        BpfSyscallError: the kernel refused (``CAP_NET_ADMIN`` is needed).
    """
    cgroup_fd = open_cgroup(cgroup) if isinstance(cgroup, (str, os.PathLike)) else None
    try:
        return _attachments(cgroup_fd if cgroup_fd is not None else cgroup, effective)
    finally:
        if cgroup_fd is not None:
            cgroup_fd.close()


def _attachments(cgroup: CgroupLike, effective: bool) -> list[CgroupAttachment]:
    found: list[CgroupAttachment] = []
    for hook in _HOOKS:
        try:
            result = query_cgroup(cgroup, hook, effective=effective)
        except BpfSyscallError as exc:
            if exc.errno == errno.EINVAL:  # a hook newer than this kernel
                continue
            raise
        flags = result.prog_attach_flags or (0,) * len(result.prog_ids)
        links = result.link_ids or (0,) * len(result.prog_ids)
        found.extend(
            # a program's own flags, else the hook's (kernels before 6.0 report only those)
            CgroupAttachment(prog_id=p, attach_type=hook, attach_flags=f or result.attach_flags, link_id=k)
            for p, f, k in zip(result.prog_ids, flags, links, strict=True)
        )
    return found
