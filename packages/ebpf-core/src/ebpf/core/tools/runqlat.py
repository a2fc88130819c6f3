"""runqlat: run queue latency, how long tasks wait for a CPU once runnable, as a log2 histogram.

Scheduler tracepoints ``sched_wakeup``, ``sched_wakeup_new`` and
``sched_switch``, BTF-typed (``tp_btf``) where the kernel takes them, raw
tracepoints elsewhere (``bpf/runqlat.bpf.c``); one
[`HistogramReport`][ebpf.core.tools.runqlat.HistogramReport] per interval::

    from ebpf.core.tools import runqlat

    for report in runqlat.run(runqlat.Options(duration=2)):
        print(report.histograms[0])
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._export import CumulativeCounts, serve_metrics
from ._histograms import HistogramReport, format_report, histogram_metric, read_histograms
from ._objects import Hook, choose_hook, load_and_attach
from ._options import IntervalOptions
from ._tool import Tool
from ._tracer import IntervalTracer, start_tracer

if TYPE_CHECKING:
    from ebpf.elf import CollectionSpec

__all__ = ["TOOL", "HistogramReport", "Options", "run", "start"]


@dataclass(frozen=True)
class Options(IntervalOptions):
    """runqlat's options.

    Attributes:
        per_process: a histogram per process (``-P``), keyed by pid.
        milliseconds: count milliseconds rather than microseconds (``-m``).
    """

    per_process: bool = False
    milliseconds: bool = False


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def start(options: Options | None = None, *, hook: Hook | None = None) -> IntervalTracer[HistogramReport]:
    """Load and attach runqlat; reports come from the returned tracer (a context manager).

    Args:
        options: what to trace and how to report.
        hook: ``"btf"`` or ``"raw"`` tracepoints; ``None`` takes ``tp_btf``
            where the kernel loads it (a feature probe), raw ones elsewhere.

    Raises:
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no BTF (CO-RE).
        BpfSyscallError: another kernel error.
    """
    opts = options or Options()
    unit = "ms" if opts.milliseconds else "us"

    def configure(spec: CollectionSpec) -> None:
        spec.variables["targ_per_process"].set(opts.per_process)
        spec.variables["targ_ms"].set(opts.milliseconds)

    def make(stack: ExitStack) -> IntervalTracer[HistogramReport]:
        collection = load_and_attach(stack, "runqlat", opts, hook=choose_hook(hook), configure=configure)
        hists = CumulativeCounts(collection.maps["hists"], keep=opts.prometheus is not None)
        what = "pid" if opts.per_process else ""
        tracer = IntervalTracer(
            stack, opts.duration, opts.interval, lambda: read_histograms(hists, unit, what, _comm)
        )
        return serve_metrics(stack, opts, tracer, lambda: [histogram_metric("runqlat", hists, unit, what)])

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[HistogramReport]:
    """A report per interval (or one at the end of the duration); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    del options
    return "Tracing run queue latency... Ctrl-C to end."


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-P", "--pids", dest="per_process", action="store_true", help="a histogram per process"
    )
    parser.add_argument(
        "-m", "--milliseconds", action="store_true", help="milliseconds (default microseconds)"
    )


TOOL: Tool[Options, HistogramReport] = Tool(
    name="runqlat",
    summary="run queue latency (waiting for a CPU) as a log2 histogram, whole or per process",
    options=Options,
    start=start,
    format=format_report,
    header=_header,
    arguments=_arguments,
)
