"""biolatency: block I/O latency as a log2 histogram, whole or per disk.

Block tracepoints ``block_rq_issue`` (``block_rq_insert`` with ``-Q``) and
``block_rq_complete``, BTF-typed (``tp_btf``) where the kernel takes them, raw
tracepoints elsewhere (``bpf/biolatency.bpf.c``); their one-argument form,
kernels 5.11 and later. One
[`HistogramReport`][ebpf.core.tools.HistogramReport] per interval::

    from ebpf.core.tools import biolatency

    for report in biolatency.run(biolatency.Options(duration=2, per_disk=True)):
        for dev, hist in report.histograms.items():
            print(report.labels.get(dev), hist.total)
"""

from __future__ import annotations

import argparse
import os
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

__all__ = ["TOOL", "Options", "disk_name", "run", "start"]

#: The kernel's MINORBITS: the tool's keys are ``major << 20 | minor``, as ``dev_t`` inside the kernel.
_MINORBITS = 20


@dataclass(frozen=True)
class Options(IntervalOptions):
    """biolatency's options (``-p``/``-c`` keep the requests those tasks insert or issue).

    Attributes:
        per_disk: a histogram per disk (``-D``), keyed by ``major << 20 | minor``.
        queued: time from the insertion in the OS queue, not the issue to the device (``-Q``).
        milliseconds: count milliseconds rather than microseconds (``-m``).
    """

    per_disk: bool = False
    queued: bool = False
    milliseconds: bool = False


def disk_name(dev: int) -> str:
    """The sysfs name of disk ``dev`` (``major << 20 | minor``): ``loop0``, ``sda``; ``""`` when unknown."""
    path = Path(f"/sys/dev/block/{dev >> _MINORBITS}:{dev & ((1 << _MINORBITS) - 1)}")
    try:
        return os.path.basename(os.path.realpath(path, strict=True))
    except OSError:
        return ""


def start(options: Options | None = None, *, hook: Hook | None = None) -> IntervalTracer[HistogramReport]:
    """Load and attach biolatency; reports come from the returned tracer (a context manager).

    Args:
        options: what to trace and how to report.
        hook: ``"btf"`` or ``"raw"`` tracepoints; ``None`` takes ``tp_btf``
            where the kernel loads it (a feature probe), raw ones elsewhere.

    Raises:
        LibraryLimitError: a kernel before 5.11 (the block tracepoints took the queue first).
        PermissionDeniedError: not root (``CAP_BPF`` and ``CAP_PERFMON``).
        NotSupportedError: no BTF (CO-RE).
        BpfSyscallError: another kernel error.
    """
    from ebpf.syscall import LibraryLimitError
    from ebpf.syscall.system import kernel_version

    if kernel_version() < (5, 11):
        raise LibraryLimitError(
            "biolatency reads the block tracepoints' one-argument form of Linux 5.11 and later; "
            f"this kernel is {kernel_version()}"
        )
    opts = options or Options()
    unit = "ms" if opts.milliseconds else "us"

    def configure(spec: CollectionSpec) -> None:
        spec.variables["targ_per_disk"].set(opts.per_disk)
        spec.variables["targ_queued"].set(opts.queued)
        spec.variables["targ_ms"].set(opts.milliseconds)

    def make(stack: ExitStack) -> IntervalTracer[HistogramReport]:
        collection = load_and_attach(stack, "biolatency", opts, hook=choose_hook(hook), configure=configure)
        hists = CumulativeCounts(collection.maps["hists"], keep=opts.prometheus is not None)
        what = "disk" if opts.per_disk else ""
        tracer = IntervalTracer(
            stack, opts.duration, opts.interval, lambda: read_histograms(hists, unit, what, disk_name)
        )
        return serve_metrics(
            stack, opts, tracer, lambda: [histogram_metric("biolatency", hists, unit, what, disk_name)]
        )

    return start_tracer(make)


def run(options: Options | None = None) -> Iterator[HistogramReport]:
    """A report per interval (or one at the end of the duration); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    del options
    return "Tracing block device I/O... Ctrl-C to end."


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-D", "--disks", dest="per_disk", action="store_true", help="a histogram per disk")
    parser.add_argument("-Q", "--queued", action="store_true", help="include the time queued in the OS")
    parser.add_argument(
        "-m", "--milliseconds", action="store_true", help="milliseconds (default microseconds)"
    )


TOOL: Tool[Options, HistogramReport] = Tool(
    name="biolatency",
    summary="block I/O latency as a log2 histogram, whole or per disk",
    options=Options,
    start=start,
    format=format_report,
    header=_header,
    arguments=_arguments,
)
