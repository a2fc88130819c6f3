"""BPF iterators: attach an ``iter/...`` program, then read what it prints."""

from __future__ import annotations

import os
import struct

from ebpf.syscall import AttachType, HasFileno, ProgType, commands, fileno_of

from ._checks import require_attach_type, require_type
from ._link import BpfLink
from ._program import Program

__all__ = ["IterLink", "attach_iter"]

# union bpf_iter_link_info: {u32 map_fd} | {u32 order, cgroup_fd; u64 cgroup_id} | {u32 tid, pid, pid_fd}.
_LINK_INFO = struct.Struct("<IIQ")


class IterLink(BpfLink):
    """An iterator link: each [`read()`][ebpf.progs.IterLink.read] runs the iterator afresh and returns its
    whole output."""

    def read(self) -> bytes:
        """Run the iterator once (``BPF_ITER_CREATE``) and return everything it wrote.

        Raises:
            BpfSyscallError: the kernel refused; ``OSError`` when the program failed while iterating.
        """
        with commands.iter_create(self) as fd:
            chunks = []
            while chunk := os.read(fd.fileno(), 1 << 16):
                chunks.append(chunk)
        return b"".join(chunks)

    def read_text(self, encoding: str = "utf-8") -> str:
        """[`read()`][ebpf.progs.IterLink.read], decoded."""
        return self.read().decode(encoding, "replace")


def attach_iter(
    program: Program,
    *,
    map: HasFileno | int | None = None,
    cgroup: HasFileno | int | None = None,
    cgroup_order: int = 0,
    pid: int = 0,
    tid: int = 0,
) -> IterLink:
    """Attach an iterator program (``iter/task``, ``iter/bpf_map_elem``...); read its output from the link.

    Args:
        program: a ``TRACING`` program loaded with ``expected_attach_type=TRACE_ITER``.
        map: the map to walk, for map element iterators.
        cgroup: the cgroup to walk (cgroup iterators, 6.1), in ``cgroup_order``.
        pid, tid: walk one process or thread only (task iterators, 6.1).

    Raises:
        TypeError: not an iterator program.
        ValueError: options of more than one kind.
        BpfSyscallError: the kernel refused (a map iterator without ``map``).
    """
    require_type(program, (ProgType.TRACING,), "attach_iter")
    require_attach_type(program, (AttachType.TRACE_ITER,), "attach_iter")
    kinds = [
        k
        for k, used in (("map", map is not None), ("cgroup", cgroup is not None), ("task", bool(pid or tid)))
        if used
    ]
    if len(kinds) > 1:
        raise ValueError(f"give options of one kind only, not {kinds}")
    info: bytes | None = None
    if map is not None:
        info = _LINK_INFO.pack(fileno_of(map), 0, 0)
    elif cgroup is not None:
        info = _LINK_INFO.pack(cgroup_order, fileno_of(cgroup), 0)
    elif pid or tid:
        info = struct.pack("<III", tid, pid, 0) + bytes(4)
    target = program.spec.attach_to if program.spec is not None else program.name
    fd = commands.link_create(program, 0, AttachType.TRACE_ITER, iter_info=info)
    return IterLink(fd, f"iterator {target}")
