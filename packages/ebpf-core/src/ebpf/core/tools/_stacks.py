"""Counts by stack, as profile and offcputime keep them: read, symbolized, printed as bcc does or folded.

Both tools count in a hash map keyed by a struct with the task's ids, a user
and a kernel stack id (into a stack trace map) and its comm. A stack id
below zero is ``bpf_get_stackid``'s error: ``-EFAULT`` means there was no
such stack (a kernel thread has no user stack) and is not reported; any
other (``-EEXIST``: a hash collision in a full stack map, ``-ENOMEM``) is a
missed stack, printed as ``[Missed User Stack]`` or ``[Missed Kernel Stack]``
as bcc does, and counted in [`StackReport.missed`][ebpf.core.tools.StackReport].
"""

from __future__ import annotations

import argparse
import errno
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._export import drain
from ._options import CommonOptions

if TYPE_CHECKING:
    from ebpf.elf import Symbolizer
    from ebpf.maps import StackTraceMap

__all__ = [
    "StackCount",
    "StackOptions",
    "StackReport",
    "StackSides",
    "add_stack_arguments",
    "folded_stack",
    "format_stacks",
    "read_stacks",
    "stack_id_error",
]

_log = logging.getLogger("ebpf.core")

#: What bcc prints in place of a stack it could not record.
MISSED_USER = "[Missed User Stack]"
MISSED_KERNEL = "[Missed Kernel Stack]"


def stack_id_error(stack_id: int) -> bool:
    """Whether ``stack_id`` is a stack that could not be recorded (bcc's ``stack_id_err``).

    ``-EFAULT`` (no such stack: a kernel thread's user stack) is not an error.
    """
    return stack_id < 0 and stack_id != -errno.EFAULT


@dataclass(frozen=True)
class StackSides:
    """Which stacks a tool records and prints, and how.

    Attributes:
        user: user stacks (not with ``-K``).
        kernel: kernel stacks (not with ``-U``).
        delimited: a ``-``/``--`` between the user and the kernel stack (``--delimited``).
        folded: one ``comm;user...;kernel... value`` line per stack (``-f``), root first.
    """

    user: bool = True
    kernel: bool = True
    delimited: bool = False
    folded: bool = False


@dataclass(frozen=True)
class StackOptions(CommonOptions):
    """What the tools that count by stack (profile, offcputime) take besides their own options.

    Attributes:
        user_stacks_only: record user stacks only (``-U``).
        kernel_stacks_only: record kernel stacks only (``-K``).
        folded: print folded stacks (``-f``), for flame graphs.
        delimited: a ``-`` between the user and the kernel stack (``--delimited``).
        stack_storage_size: distinct stacks the stack map holds (``--stack-storage-size``).
    """

    user_stacks_only: bool = False
    kernel_stacks_only: bool = False
    folded: bool = False
    delimited: bool = False
    stack_storage_size: int = 16384

    def __post_init__(self) -> None:
        """Check the values before anything is loaded.

        Raises:
            ValueError: both ``-U`` and ``-K``, a stack storage size below 1, or a bad common option.
        """
        super().__post_init__()
        if self.user_stacks_only and self.kernel_stacks_only:
            raise ValueError("user_stacks_only (-U) and kernel_stacks_only (-K) exclude each other")
        if self.stack_storage_size < 1:
            raise ValueError(f"stack_storage_size must be a positive integer, not {self.stack_storage_size}")

    @property
    def sides(self) -> StackSides:
        """Which stacks are recorded and how they print."""
        return StackSides(
            user=not self.kernel_stacks_only,
            kernel=not self.user_stacks_only,
            delimited=self.delimited,
            folded=self.folded,
        )


@dataclass(frozen=True)
class StackCount:
    """What was counted for one (task, user stack, kernel stack, comm).

    Attributes:
        pid: the task as the tool keys it (profile: the process; offcputime: the thread).
        tgid: its process (symbolizes the user stack).
        comm: its name.
        user: the user stack's function names, innermost first (``[unknown]`` where none).
        kernel: the kernel stack's function names, innermost first.
        user_stack_id: the stack id, or ``bpf_get_stackid``'s negative errno.
        kernel_stack_id: the same, for the kernel stack.
        value: samples (profile) or microseconds off CPU (offcputime).
    """

    pid: int
    tgid: int
    comm: str
    user: tuple[str, ...]
    kernel: tuple[str, ...]
    user_stack_id: int
    kernel_stack_id: int
    value: int

    @property
    def missed_user(self) -> bool:
        """Whether the user stack could not be recorded (printed as ``[Missed User Stack]``)."""
        return stack_id_error(self.user_stack_id)

    @property
    def missed_kernel(self) -> bool:
        """Whether the kernel stack could not be recorded (printed as ``[Missed Kernel Stack]``)."""
        return stack_id_error(self.kernel_stack_id)


@dataclass(frozen=True)
class StackReport:
    """The stacks counted in one report, smallest value first (bcc's order: the busiest last).

    Attributes:
        time: when it was read (seconds since the epoch).
        stacks: a row per (task, stacks, comm).
        missed: stacks that could not be recorded (``[Missed ... Stack]``).
        collisions: whether some were lost to a full stack map (``-EEXIST``):
            a larger ``stack_storage_size`` would keep them.
    """

    time: float
    stacks: tuple[StackCount, ...]
    missed: int = 0
    collisions: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready)."""
        return asdict(self)


def _names(
    symbolizer: Symbolizer, stack_map: StackTraceMap, stack_id: int, pid: int | None, *, kernel: bool
) -> tuple[str, ...]:
    """The function names of stack ``stack_id``, innermost first; ``()`` for an error or a stack gone."""
    from ebpf.syscall import KeyNotFoundError

    if stack_id < 0:
        return ()
    try:
        addresses = stack_map.stack(stack_id)
    except KeyNotFoundError:
        return ()
    try:
        frames = symbolizer.stack(pid, addresses, kernel=kernel)
    except OSError as exc:  # kallsyms unreadable, a process's maps refused
        _log.debug("stack %d not symbolized: %s", stack_id, exc)
        return tuple("[unknown]" for _ in addresses)
    return tuple(frame.name for frame in frames)


def read_stacks(
    counts: Any, stack_map: StackTraceMap, symbolizer: Symbolizer, sides: StackSides
) -> StackReport:
    """Drain ``counts`` (keys with ``pid``, optional ``tgid``, ``user_stack_id``, ``kern_stack_id``,
    ``name``) and symbolize the stacks it names; rows with a zero value are left out.

    Missed stacks are counted, and logged as bcc warns (a warning on ``ebpf.core``).

    Raises:
        BpfSyscallError: reading or deleting a map entry failed.
    """
    rows = []
    missed = 0
    collisions = False
    for key, value in drain(counts):
        if not value:
            continue
        pid = key["pid"]
        tgid = key.get("tgid", pid)
        user_id, kernel_id = key["user_stack_id"], key["kern_stack_id"]
        for used, stack_id in ((sides.user, user_id), (sides.kernel, kernel_id)):
            if used and stack_id_error(stack_id):
                missed += 1
                collisions = collisions or stack_id == -errno.EEXIST
        rows.append(
            StackCount(
                pid=pid,
                tgid=tgid,
                comm=key["name"],
                user=_names(symbolizer, stack_map, user_id, tgid, kernel=False) if sides.user else (),
                kernel=_names(symbolizer, stack_map, kernel_id, None, kernel=True) if sides.kernel else (),
                user_stack_id=user_id,
                kernel_stack_id=kernel_id,
                value=value,
            )
        )
    if missed:
        advice = " Consider increasing --stack-storage-size." if collisions else ""
        _log.warning("%d stack traces could not be displayed.%s", missed, advice)
    rows.sort(key=lambda row: row.value)
    return StackReport(time=time.time(), stacks=tuple(rows), missed=missed, collisions=collisions)


def folded_stack(row: StackCount, sides: StackSides) -> tuple[str, ...]:
    """The frames of ``row`` in a folded line, root first: the comm, the user stack, the kernel stack."""
    line = [row.comm]
    if sides.user:
        line.extend([MISSED_USER] if row.missed_user else reversed(row.user))
    if sides.kernel:
        if sides.user and sides.delimited and row.user_stack_id >= 0 and row.kernel_stack_id >= 0:
            line.append("-")
        line.extend([MISSED_KERNEL] if row.missed_kernel else reversed(row.kernel))
    return tuple(line)


def _lines(row: StackCount, sides: StackSides) -> Iterable[str]:
    """bcc's multi-line form of a row: kernel frames, ``--``, user frames, ``- comm (pid)``, the value."""
    if sides.kernel:
        yield from [f"    {MISSED_KERNEL}"] if row.missed_kernel else (f"    {name}" for name in row.kernel)
    if sides.user:
        if sides.kernel and sides.delimited and row.user_stack_id >= 0 and row.kernel_stack_id >= 0:
            yield "    --"
        yield from [f"    {MISSED_USER}"] if row.missed_user else (f"    {name}" for name in row.user)
    yield f"    {'-':<16} {row.comm} ({row.pid})"
    yield f"        {row.value}\n"


def format_stacks(report: StackReport, sides: StackSides) -> str:
    """``report`` as bcc prints it: each stack, innermost frame first, then ``- comm (pid)`` and the
    value, busiest last; or with ``sides.folded`` one ``comm;root;...;leaf value`` line per stack."""
    if sides.folded:
        from ebpf.elf import folded

        stacks: dict[tuple[str, ...], int] = {}
        for row in report.stacks:
            line = folded_stack(row, sides)
            stacks[line] = stacks.get(line, 0) + row.value
        return folded(stacks).rstrip("\n")
    return "\n".join(line for row in report.stacks for line in _lines(row, sides))


class _PositionalDuration(argparse.Action):
    """bcc's positional duration: sets ``duration`` when given, leaves ``-d``'s value alone when not."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values is not None:
            setattr(namespace, self.dest, values)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments profile and offcputime share: ``-U``, ``-K``, ``-f``, ``--delimited``,
    ``--stack-storage-size`` and the duration as bcc's positional argument."""
    parser.add_argument(
        "duration", nargs="?", type=float, action=_PositionalDuration, help="seconds to run (as -d)"
    )
    stacks = parser.add_mutually_exclusive_group()
    stacks.add_argument("-U", "--user-stacks-only", action="store_true", help="user stacks only")
    stacks.add_argument("-K", "--kernel-stacks-only", action="store_true", help="kernel stacks only")
    parser.add_argument("-f", "--folded", action="store_true", help="folded output, for flame graphs")
    parser.add_argument(
        "--delimited", action="store_true", help="a '-' between the kernel and the user stack"
    )
    parser.add_argument("--stack-storage-size", type=int, help="distinct stacks kept (default 16384)")
