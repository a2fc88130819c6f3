"""profile: CPU sampling by stack, what the CPUs were running, symbolized, as bcc prints it or folded.

A software CPU-clock perf event per CPU (or only ``-C CPU``), at ``-F HZ``
samples a second (49 by default, as bcc) or every ``--period`` nanoseconds
of CPU time, runs ``bpf/profile.bpf.c``: each sample counts the process,
its user and kernel stacks and its comm. At the end (of the duration, or at
Ctrl-C) the stacks are symbolized by a [`Symbolizer`][ebpf.elf.Symbolizer]
(kernel frames from ``/proc/kallsyms``, user frames from the process's
mappings and ELF symbols) into one
[`StackReport`][ebpf.core.tools.StackReport]::

    from ebpf.core.tools import profile

    for report in profile.run(profile.Options(duration=2)):
        busiest = report.stacks[-1]
        print(busiest.comm, busiest.value, busiest.user[:1], busiest.kernel[:1])

``folded=True`` (``-f``) prints one ``comm;root;...;leaf count`` line per
stack, the input of ``flamegraph.pl``, inferno and speedscope. Stacks of a
process are symbolized while it runs: one that has exited by the end shows
``[unknown]`` user frames.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._export import CumulativeCounts, Rekeyed, serve_metrics
from ._objects import load_and_attach
from ._stacks import StackOptions, StackReport, add_stack_arguments, format_stacks, read_stacks
from ._tool import Tool
from ._tracer import IntervalTracer, start_tracer

if TYPE_CHECKING:
    from ebpf.core.prometheus import CounterMetric
    from ebpf.elf import CollectionSpec

__all__ = ["DEFAULT_FREQUENCY", "TOOL", "Options", "StackReport", "metrics", "run", "start"]

#: Samples a second per CPU without ``-F`` or ``--period`` (bcc's: no multiple of common timer rates).
DEFAULT_FREQUENCY = 49


@dataclass(frozen=True)
class Options(StackOptions):
    """profile's options (``pid`` filters by process, ``comm`` by task name; stacks as `StackOptions`).

    Attributes:
        frequency: samples a second on each CPU (``-F``); 49 when neither it nor ``period`` is given.
        period: a sample every this many nanoseconds of CPU time (``--period``, bcc's ``-c``).
        cpu: sample this CPU only (``-C``); ``None`` samples every online CPU.
        include_idle: count the CPUs' idle tasks too (``-I``).
    """

    frequency: int | None = None
    period: int | None = None
    cpu: int | None = None
    include_idle: bool = False

    def __post_init__(self) -> None:
        """Check the values before anything is loaded.

        Raises:
            ValueError: both a frequency and a period, one that is not
                positive, a negative CPU, or a bad stack or common option.
        """
        super().__post_init__()
        if self.frequency is not None and self.period is not None:
            raise ValueError("give a sampling frequency or a period, not both")
        for name in ("frequency", "period"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value}")
        if self.cpu is not None and self.cpu < 0:
            raise ValueError(f"cpu must be a CPU number, not {self.cpu}")


def metrics(counts: Any) -> list[CounterMetric]:
    """What ``--prometheus`` serves: ``ebpf_profile_samples_total`` by ``comm`` (every stack added up).

    ``counts`` is the tool's map of counts as it only grows (a
    [`CumulativeCounts`][ebpf.core.tools.CumulativeCounts]), read at scrape time.
    """
    from ebpf.core.prometheus import CounterMetric

    by_comm = Rekeyed(counts, lambda key, value: (key[-1],))
    return [CounterMetric("ebpf_profile_samples", by_comm, "profile: CPU samples", labels=("comm",))]


def _cpus(options: Options) -> list[int]:
    """The CPUs to sample.

    Raises:
        ValueError: ``options.cpu`` is not online.
    """
    from ebpf.syscall.system import online_cpus

    online = online_cpus()
    if options.cpu is None:
        return online
    if options.cpu not in online:
        raise ValueError(f"CPU {options.cpu} is not online (online: {', '.join(map(str, online))})")
    return [options.cpu]


def _attach_sampling(stack: ExitStack, program: Any, options: Options) -> None:
    """Open a CPU-clock sampling event on each CPU and attach ``program`` to it (the links go on ``stack``).

    Raises:
        ValueError: ``options.cpu`` is not online.
        PermissionDeniedError: perf events refused (``CAP_PERFMON``, ``perf_event_paranoid``).
        BpfSyscallError: the kernel refused.
    """
    from ebpf.progs import attach_perf_event
    from ebpf.syscall import perf
    from ebpf.syscall.abi import PerfSwId

    if options.period is not None:
        sampling = {"sample_period": options.period}
    else:
        sampling = {"sample_frequency": options.frequency or DEFAULT_FREQUENCY}
    for cpu in _cpus(options):
        with perf.open_software(PerfSwId.CPU_CLOCK, cpu, **sampling) as event:
            stack.enter_context(attach_perf_event(program, event))


def start(options: Options | None = None) -> IntervalTracer[StackReport]:
    """Load profile and start sampling; the report comes from the returned tracer (a context manager).

    Raises:
        ValueError: ``options.cpu`` is not online.
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``), or perf events refused.
        NotSupportedError: no BTF (CO-RE).
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()

    def configure(spec: CollectionSpec) -> None:
        spec.variables["user_stacks_only"].set(opts.user_stacks_only)
        spec.variables["kernel_stacks_only"].set(opts.kernel_stacks_only)
        spec.variables["include_idle"].set(opts.include_idle)
        spec.resize_map("stackmap", opts.stack_storage_size)

    def make(stack: ExitStack) -> IntervalTracer[StackReport]:
        from ebpf.elf import Symbolizer
        from ebpf.maps import StackTraceMap

        collection = load_and_attach(stack, "profile", opts, configure=configure)
        _attach_sampling(stack, collection.programs["do_perf_event"], opts)
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
    rate = (
        f"every {options.period} ns" if options.period else f"{options.frequency or DEFAULT_FREQUENCY} Hertz"
    )
    what = f"process {options.pid}" if options.pid else "all threads"
    stacks = (
        "user" if options.user_stacks_only else "kernel" if options.kernel_stacks_only else "user + kernel"
    )
    until = f" for {options.duration:g} secs." if options.duration else "... Hit Ctrl-C to end."
    return f"Sampling at {rate} of {what} by {stacks} stack{until}"


def _format(report: StackReport, options: Options) -> str:
    return format_stacks(report, options.sides)


def _arguments(parser: argparse.ArgumentParser) -> None:
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("-F", "--frequency", type=int, help=f"samples a second (default {DEFAULT_FREQUENCY})")
    rate.add_argument("--period", type=int, help="a sample every this many ns of CPU time (bcc's -c)")
    parser.add_argument("-C", "--cpu", type=int, help="sample this CPU only")
    parser.add_argument("-I", "--include-idle", action="store_true", help="count the idle tasks too")
    add_stack_arguments(parser)


TOOL: Tool[Options, StackReport] = Tool(
    name="profile",
    summary="CPU sampling by stack (user and kernel, symbolized), bcc's output or folded for flame graphs",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
