"""offcputime: time spent blocked (off CPU), by stack, symbolized, as bcc prints it or folded.

At each context switch (``sched_switch``, BTF-typed ``tp_btf`` where the
kernel takes it, a raw tracepoint elsewhere: ``bpf/offcputime.bpf.c``) the
task leaving the CPU has its user and kernel stacks recorded and the time
noted; when it runs again, the time it was away is added to its (thread,
process, stacks, comm), in microseconds. At the end (of the duration, or at
Ctrl-C) the stacks are symbolized into one
[`StackReport`][ebpf.core.tools.StackReport] whose values are microseconds::

    from ebpf.core.tools import offcputime

    for report in offcputime.run(offcputime.Options(duration=2, user_threads_only=True)):
        longest = report.stacks[-1]
        print(longest.comm, longest.value, "us", longest.kernel[:3])

``folded=True`` (``-f``) prints ``comm;root;...;leaf microseconds`` lines,
for off-CPU flame graphs.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._export import CumulativeCounts, Rekeyed, serve_metrics
from ._objects import Hook, choose_hook, load_and_attach
from ._stacks import StackOptions, StackReport, add_stack_arguments, format_stacks, read_stacks
from ._tool import Tool
from ._tracer import IntervalTracer, start_tracer

if TYPE_CHECKING:
    from ebpf.core.prometheus import CounterMetric
    from ebpf.elf import CollectionSpec

__all__ = ["TOOL", "Options", "StackReport", "metrics", "run", "start"]

#: The largest block time the BPF side compares with (a u64 of microseconds).
_U64_MAX = 2**64 - 1


@dataclass(frozen=True)
class Options(StackOptions):
    """offcputime's options (``pid`` filters by process, ``comm`` by task name; stacks as `StackOptions`).

    Attributes:
        user_threads_only: user threads only (``-u``), no kernel threads.
        kernel_threads_only: kernel threads only (``-k``).
        min_block_us: count blocks of at least this many microseconds (``-m``, default 1).
        max_block_us: count blocks of at most this many microseconds (``-M``; ``None``: no bound).
    """

    user_threads_only: bool = False
    kernel_threads_only: bool = False
    min_block_us: int = 1
    max_block_us: int | None = None

    def __post_init__(self) -> None:
        """Check the values before anything is loaded.

        Raises:
            ValueError: both ``-u`` and ``-k``, a negative or out-of-range
                block time, a maximum below the minimum, or a bad stack or
                common option.
        """
        super().__post_init__()
        if self.user_threads_only and self.kernel_threads_only:
            raise ValueError("user_threads_only (-u) and kernel_threads_only (-k) exclude each other")
        for name in ("min_block_us", "max_block_us"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= _U64_MAX:
                raise ValueError(f"{name} must be 0 to 2**64-1 microseconds, not {value}")
        if self.max_block_us is not None and self.max_block_us < self.min_block_us:
            raise ValueError(
                f"max_block_us ({self.max_block_us}) is below min_block_us ({self.min_block_us})"
            )


def metrics(counts: Any) -> list[CounterMetric]:
    """What ``--prometheus`` serves: ``ebpf_offcputime_seconds_total`` by ``comm`` (every stack added up).

    ``counts`` is the tool's map of microseconds as it only grows (a
    [`CumulativeCounts`][ebpf.core.tools.CumulativeCounts]), read at scrape time.
    """
    from ebpf.core.prometheus import CounterMetric

    by_comm = Rekeyed(counts, lambda key, value: (key[-1],))
    return [
        CounterMetric(
            "ebpf_offcputime_seconds",
            by_comm,
            "offcputime: time spent off CPU (blocked)",
            labels=("comm",),
            value=lambda us: us / 1e6,
        )
    ]


def start(options: Options | None = None, *, hook: Hook | None = None) -> IntervalTracer[StackReport]:
    """Load and attach offcputime; the report comes from the returned tracer (a context manager).

    Args:
        options: what to trace and how to report.
        hook: ``"btf"`` or ``"raw"`` tracepoint; ``None`` takes ``tp_btf``
            where the kernel loads it (a feature probe), a raw one elsewhere.

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no BTF (CO-RE).
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def configure(spec: CollectionSpec) -> None:
        spec.variables["user_threads_only"].set(opts.user_threads_only)
        spec.variables["kernel_threads_only"].set(opts.kernel_threads_only)
        spec.variables["user_stacks_only"].set(opts.user_stacks_only)
        spec.variables["kernel_stacks_only"].set(opts.kernel_stacks_only)
        spec.variables["min_block_us"].set(opts.min_block_us)
        spec.variables["max_block_us"].set(_U64_MAX if opts.max_block_us is None else opts.max_block_us)
        spec.resize_map("stackmap", opts.stack_storage_size)

    def make(stack: ExitStack) -> IntervalTracer[StackReport]:
        from ebpf.elf import Symbolizer
        from ebpf.maps import StackTraceMap

        collection = load_and_attach(stack, "offcputime", opts, hook=choose_hook(hook), configure=configure)
        counts = CumulativeCounts(collection.maps["counts"], keep=opts.prometheus is not None)
        stack_map = collection.maps["stackmap"]
        assert isinstance(stack_map, StackTraceMap)
        symbolizer = Symbolizer()
        tracer = IntervalTracer(
            stack, opts.duration, None, lambda: read_stacks(counts, stack_map, symbolizer, opts.sides)
        )
        return serve_metrics(stack, opts, tracer, lambda: metrics(counts))

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[StackReport]:
    """The report at the end of the duration; unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str | None:
    if options.folded:
        return None
    if options.pid:
        what = f"PID {options.pid}"
    elif options.user_threads_only:
        what = "user threads"
    elif options.kernel_threads_only:
        what = "kernel threads"
    else:
        what = "all threads"
    stacks = (
        "user" if options.user_stacks_only else "kernel" if options.kernel_stacks_only else "user + kernel"
    )
    until = f" for {options.duration:g} secs." if options.duration else "... Hit Ctrl-C to end."
    return f"Tracing off-CPU time (us) of {what} by {stacks} stack{until}"


def _format(report: StackReport, options: Options) -> str:
    return format_stacks(report, options.sides)


def _arguments(parser: argparse.ArgumentParser) -> None:
    threads = parser.add_mutually_exclusive_group()
    threads.add_argument("-u", "--user-threads-only", action="store_true", help="user threads only")
    threads.add_argument("-k", "--kernel-threads-only", action="store_true", help="kernel threads only")
    parser.add_argument(
        "-m", "--min-block-time", dest="min_block_us", type=int, help="count blocks of at least this many us"
    )
    parser.add_argument(
        "-M", "--max-block-time", dest="max_block_us", type=int, help="count blocks of at most this many us"
    )
    add_stack_arguments(parser)


TOOL: Tool[Options, StackReport] = Tool(
    name="offcputime",
    summary="time spent blocked (off CPU) by stack, symbolized, bcc's output or folded for flame graphs",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
