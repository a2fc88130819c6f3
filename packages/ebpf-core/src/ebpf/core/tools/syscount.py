"""syscount: system calls counted by syscall (or by process), with their total latency.

Tracepoints ``raw_syscalls:sys_enter``/``sys_exit`` (``bpf/syscount.bpf.c``);
one [`SyscallCounts`][ebpf.core.tools.syscount.SyscallCounts] per interval::

    from ebpf.core.tools import syscount

    for report in syscount.run(syscount.Options(duration=2, latency=True)):
        for row in report.rows:
            print(row.name, row.count, row.total_ns)
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._export import CumulativeCounts, Rekeyed, drain, serve_metrics
from ._objects import load_and_attach
from ._options import IntervalOptions
from ._syscall_names import SYSCALL_NAMES
from ._tool import Tool, time_column
from ._tracer import IntervalTracer, start_tracer

if TYPE_CHECKING:
    from ebpf.core.prometheus import CounterMetric
    from ebpf.elf import CollectionSpec
    from ebpf.maps import KeyValueMap

__all__ = ["TOOL", "Options", "SyscallCount", "SyscallCounts", "metrics", "run", "start", "syscall_name"]


def syscall_name(number: int, machine: str | None = None) -> str:
    """The name of system call ``number`` on ``machine`` (default: this one); ``"syscall N"`` when unknown."""
    arch = machine or platform.machine()
    table = SYSCALL_NAMES.get("aarch64" if arch == "arm64" else arch, {})
    return table.get(number, f"syscall {number}")


@dataclass(frozen=True)
class Options(IntervalOptions):
    """syscount's options.

    Attributes:
        per_process: count by process rather than by system call (``-P``).
        latency: also add up the time spent in the calls (``-L``).
        failed: only calls that failed (``-x``).
        top: how many rows each report keeps (``--top``, bcc's ``-T``); 0 keeps all.
    """

    per_process: bool = False
    latency: bool = False
    failed: bool = False
    top: int = 10


@dataclass(frozen=True)
class SyscallCount:
    """One row: a system call (or a process with ``-P``).

    Attributes:
        key: the syscall number (the pid with ``-P``).
        name: the syscall's name (the process's comm with ``-P``).
        count: calls in the interval.
        total_ns: time spent in them, with ``-L`` (else ``None``).
    """

    key: int
    name: str
    count: int
    total_ns: int | None


@dataclass(frozen=True)
class SyscallCounts:
    """The counts of one interval, busiest first.

    Attributes:
        time: when it was read (seconds since the epoch).
        rows: the top rows.
        total: all calls counted in the interval (rows left out included).
    """

    time: float
    rows: tuple[SyscallCount, ...]
    total: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready)."""
        return asdict(self)


def _summarize(counts: CumulativeCounts | KeyValueMap[Any, Any], options: Options) -> SyscallCounts:
    seen = drain(counts)
    rows = [
        SyscallCount(
            key=key,
            name=value["comm"] if options.per_process else syscall_name(key),
            count=value["count"],
            total_ns=value["total_ns"] if options.latency else None,
        )
        for key, value in seen
    ]
    rows.sort(key=lambda row: (row.total_ns or 0, row.count) if options.latency else row.count, reverse=True)
    kept = rows[: options.top] if options.top else rows
    return SyscallCounts(time=time.time(), rows=tuple(kept), total=sum(row.count for row in rows))


def metrics(counts: Mapping[Any, Any], options: Options) -> list[CounterMetric]:
    """What ``--prometheus`` serves: ``ebpf_syscount_syscalls_total`` by ``syscall`` (by ``pid`` and
    ``comm`` with ``-P``) and, with ``-L``, ``ebpf_syscount_syscall_seconds_total`` (time spent in them).

    ``counts`` is the tool's map of counts as it only grows (a
    [`CumulativeCounts`][ebpf.core.tools.CumulativeCounts]), read at scrape time.
    """
    from ebpf.core.prometheus import CounterMetric

    if options.per_process:  # the key is the pid; the comm comes with the value
        labels: tuple[str, ...] = ("pid", "comm")
        source: Mapping[Any, Any] = Rekeyed(counts, lambda pid, value: (pid, value["comm"]))
        key: Callable[[int], str] | None = None
    else:
        labels, source, key = ("syscall",), counts, syscall_name

    what = "failed system calls" if options.failed else "system calls"
    served = [
        CounterMetric(
            "ebpf_syscount_syscalls",
            source,
            f"syscount: {what}",
            labels=labels,
            key=key,
            value=lambda value: value["count"],
        )
    ]
    if options.latency:
        served.append(
            CounterMetric(
                "ebpf_syscount_syscall_seconds",
                source,
                f"syscount: time spent in {what}",
                labels=labels,
                key=key,
                value=lambda value: value["total_ns"] / 1e9,
            )
        )
    return served


def start(options: Options | None = None) -> IntervalTracer[SyscallCounts]:
    """Load and attach syscount; reports come from the returned tracer (a context manager).

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no BTF (CO-RE).
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def configure(spec: CollectionSpec) -> None:
        spec.variables["targ_per_process"].set(opts.per_process)
        spec.variables["targ_latency"].set(opts.latency)
        spec.variables["targ_failed"].set(opts.failed)

    def make(stack: ExitStack) -> IntervalTracer[SyscallCounts]:
        from ebpf.maps import KeyValueMap

        collection = load_and_attach(stack, "syscount", opts, configure=configure)
        live = collection.maps["counts"]
        assert isinstance(live, KeyValueMap)
        counts = CumulativeCounts(live, keep=opts.prometheus is not None)
        tracer = IntervalTracer(stack, opts.duration, opts.interval, lambda: _summarize(counts, opts))
        return serve_metrics(stack, opts, tracer, lambda: metrics(counts, opts))

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[SyscallCounts]:
    """A report per interval (or one at the end of the duration); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    del options
    return "Tracing system calls... Ctrl-C to end."


def _format(report: SyscallCounts, options: Options) -> str:
    first = "PID    COMM" if options.per_process else "SYSCALL"
    lines = [time_column(options, report.time).rstrip()] if options.timestamps else []
    latency = f" {'TIME (us)':>14}" if options.latency else ""
    lines.append(f"{first:<22} {'COUNT':>10}{latency}")
    for row in report.rows:
        label = f"{row.key:<6} {row.name}" if options.per_process else row.name
        spent = f" {(row.total_ns or 0) / 1000:>14.3f}" if options.latency else ""
        lines.append(f"{label:<22} {row.count:>10}{spent}")
    return "\n".join(lines) + "\n"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--process", dest="per_process", action="store_true", help="count by process")
    parser.add_argument("-L", "--latency", action="store_true", help="add up the time spent in the calls")
    parser.add_argument("-x", "--failures", dest="failed", action="store_true", help="only failed calls")
    parser.add_argument("--top", type=int, help="rows per report (default 10; 0: all)")


TOOL: Tool[Options, SyscallCounts] = Tool(
    name="syscount",
    summary="count system calls by syscall or by process, with their total latency",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
