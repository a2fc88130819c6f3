"""The memory map of a process: ``/proc/PID/maps`` parsed into [`Mapping`][ebpf.elf.Mapping]s.

Each line is ``start-end perms offset dev inode [path]`` with hexadecimal
``start``, ``end``, ``offset`` and decimal ``inode``; the path is absent for
anonymous memory, a bracketed name for the kernel's special mappings
(``[heap]``, ``[stack]``, ``[vdso]``), and ends with `` (deleted)`` when the
file was removed after it was mapped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ebpf.syscall.errors import ParseError

__all__ = ["Mapping", "parse_proc_maps", "process_mappings"]

_DELETED = " (deleted)"


@dataclass(frozen=True)
class Mapping:
    """One mapping of a process: ``end - start`` bytes of ``path`` from file ``offset``, mapped at ``start``.

    ``path`` is ``""`` for anonymous memory and ``"[vdso]"``-style names for
    the kernel's special mappings; ``inode`` is 0 for both.
    """

    start: int
    end: int
    offset: int
    path: str
    perms: str
    inode: int

    @property
    def executable(self) -> bool:
        """Mapped with execute permission (``x`` in ``perms``)."""
        return "x" in self.perms

    @property
    def file_backed(self) -> bool:
        """Backed by a file (an absolute path and an inode), not anonymous or special memory."""
        return self.inode != 0 and self.path.startswith("/")

    @property
    def deleted(self) -> bool:
        """The file was deleted (or replaced) after it was mapped."""
        return self.path.endswith(_DELETED)

    def file_offset(self, address: int) -> int:
        """The offset in the mapped file of ``address`` (which lies in this mapping)."""
        return address - self.start + self.offset


def parse_proc_maps(text: str) -> list[Mapping]:
    """The mappings listed in ``text`` (the format of ``/proc/PID/maps``), in address order.

    Raises:
        ParseError: a line with fewer than five fields or numbers that do not parse.
    """
    mappings = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        # the path is the rest of the line after the fifth field, and may hold spaces
        fields = line.split(maxsplit=5)
        if len(fields) < 5:
            raise ParseError(f"/proc/PID/maps line {lineno}: expected at least 5 fields, got {line!r}")
        span, perms, offset, _dev, inode = fields[:5]
        start, dash, end = span.partition("-")
        try:
            if not dash:
                raise ValueError(span)
            mapping = Mapping(
                int(start, 16),
                int(end, 16),
                int(offset, 16),
                fields[5].strip() if len(fields) > 5 else "",
                perms,
                int(inode),
            )
        except ValueError:
            raise ParseError(
                f"/proc/PID/maps line {lineno}: {line!r} is not 'start-end perms offset dev inode [path]'"
            ) from None
        mappings.append(mapping)
    mappings.sort(key=lambda mapping: mapping.start)
    return mappings


def process_mappings(pid: int) -> list[Mapping]:
    """The mappings of process ``pid`` now, from ``/proc/PID/maps``, in address order.

    Raises:
        ProcessLookupError: no process ``pid`` (it exited).
        PermissionError: the caller may not read that process's map (another
            user's, without ``CAP_SYS_PTRACE``).
        ParseError: see [`parse_proc_maps()`][ebpf.elf.parse_proc_maps].
    """
    try:
        with open(f"/proc/{pid}/maps", "rb") as maps:
            data = maps.read()
    except FileNotFoundError:
        raise ProcessLookupError(f"no process {pid}") from None
    return parse_proc_maps(os.fsdecode(data))
