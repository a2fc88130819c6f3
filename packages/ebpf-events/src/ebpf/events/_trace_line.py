"""``TraceLine``: one line of tracefs ``trace_pipe``, parsed.

The kernel prints each trace event as (``kernel/trace/trace_output.c``)::

    <task>-<pid> [(<tgid>)] [<cpu>] <flags> <timestamp>: <event>: <message>

right-aligned to 16 columns for the task, for example::

               bash-4120    [001] d..31  5361.927306: bpf_trace_printk: hello from BPF
     kworker/u8:2-77        [000] .....  5361.927400: bpf_trace_printk: x: 1, y: 2

The ``(<tgid>)`` column appears with the ``record-tgid`` trace option, the
flags column (irqs-off, need-resched, hard/soft irq, preempt depth and, since
Linux 5.15, migrate-disable: 4 or 5 characters) disappears without the
``irq-info`` option. ``bpf_trace_printk()`` and ``bpf_trace_vprintk()`` both
print as the ``bpf_trace_printk`` event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BPF_TRACE_PRINTK", "TraceLine", "parse_lost_events", "parse_trace_line"]

#: The event name of ``bpf_trace_printk()``/``bpf_trace_vprintk()`` output in ``trace_pipe``.
BPF_TRACE_PRINTK = "bpf_trace_printk"

# The task name is anything (comms may hold spaces and dashes): the last
# "-<digits>" before the CPU column ends it.
_LINE = re.compile(
    r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+"
    r"(?:\(\s*(?:\d+|-+)\)\s+)?"  # (tgid), with the record-tgid option ("(-----)" when unknown)
    r"\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[^\s\d][^\s]{3,4})\s+)?"  # absent without the irq-info option
    r"(?P<timestamp>\d+(?:\.\d+)?):\s+"
    r"(?P<function>[^\s:]+):\s?"
    r"(?P<message>.*)$"
)
_LOST = re.compile(r"^CPU:(?P<cpu>\d+) \[LOST (?P<count>\d+) EVENTS\]$")


@dataclass(frozen=True)
class TraceLine:
    """One event line of ``trace_pipe``.

    Attributes:
        task: the ``comm`` of the task that was running (``<...>`` when the kernel no longer knew it).
        pid: its thread id.
        cpu: the CPU it ran on.
        flags: the irq-info flags (``"d..31"``), ``""`` when the column is off.
        timestamp: seconds, by the trace clock (``local`` by default: since boot, per CPU).
        function: the event or function name (``bpf_trace_printk`` for BPF programs' output).
        message: the text after it, without the line's newline.
    """

    task: str
    pid: int
    cpu: int
    flags: str
    timestamp: float
    function: str
    message: str


def parse_trace_line(line: str) -> TraceLine | None:
    """Parse one line of ``trace_pipe`` (with or without its newline); ``None`` for a line of
    another form (the continuation of a message holding a newline, a lost-events note, a blank line)."""
    match = _LINE.match(line.rstrip("\n"))
    if match is None:
        return None
    return TraceLine(
        task=match["task"],
        pid=int(match["pid"]),
        cpu=int(match["cpu"]),
        flags=match["flags"] or "",
        timestamp=float(match["timestamp"]),
        function=match["function"],
        message=match["message"],
    )


def parse_lost_events(line: str) -> int:
    """The count of a ``CPU:<n> [LOST <count> EVENTS]`` line (events overwritten unread), else 0."""
    match = _LOST.match(line.strip())
    return int(match["count"]) if match else 0
