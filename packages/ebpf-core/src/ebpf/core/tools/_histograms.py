"""The report of the histogram tools (runqlat, biolatency): log2 histograms per key, read from a map.

Their BPF side counts into a hash map keyed by ``struct hist_key {id, slot}``
(``bpf/tools.h``, libbpf-tools' slot layout); each report reads it into
[`Histogram`][ebpf.maps.Histogram] s, one per ``id`` (0 when not split by
process or disk), and clears it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._export import CumulativeCounts, Rekeyed, drain
from ._options import CommonOptions
from ._tool import time_column

if TYPE_CHECKING:
    from ebpf.core.prometheus import HistogramMetric
    from ebpf.maps import Histogram, HistogramUnit

__all__ = ["HistogramReport", "format_report", "histogram_metric", "read_histograms"]


@dataclass(frozen=True)
class HistogramReport:
    """One interval's histograms.

    Attributes:
        time: when they were read (seconds since the epoch).
        histograms: by key: 0 for the whole machine, else the pid or the device
            the histogram is for.
        labels: what each key is (a process's comm, a disk's name), where known.
        what: the key's kind (``"pid"``, ``"disk"``), or ``""`` when not split.
    """

    time: float
    histograms: Mapping[int, Histogram]
    labels: Mapping[int, str]
    what: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the time, and per histogram its key, label and buckets."""
        return {
            "time": self.time,
            "histograms": [
                {"key": key, self.what or "key": key, "label": self.labels.get(key, ""), **hist.to_dict()}
                for key, hist in self.histograms.items()
            ],
        }


def read_histograms(
    hists: Any, unit: HistogramUnit | str, what: str, label: Callable[[int], str]
) -> HistogramReport:
    """Read (and clear) a ``hist_key``-keyed map into a report; ``label(key)`` names each key.

    ``hists`` is the map, a dict, or a `CumulativeCounts` over the map (which
    keeps what is cleared for ``--prometheus``).

    Raises:
        BpfSyscallError: reading the map failed.
    """
    from ebpf.maps import log2_histograms

    pairs = drain(hists)
    found = log2_histograms(pairs, unit=unit, layout="libbpf")
    by_key = {int(key): hist for key, hist in sorted(found.items(), key=lambda item: int(item[0]))}  # type: ignore[call-overload]
    return HistogramReport(
        time=time.time(),
        histograms=by_key,
        labels={key: label(key) for key in by_key if key},
        what=what,
    )


def format_report(report: HistogramReport, options: CommonOptions) -> str:
    """bcc's text: each histogram under a ``what = key label`` line when split."""
    lines = [time_column(options, report.time).rstrip()] if options.timestamps else []
    for key, hist in report.histograms.items():
        if report.what:
            lines.append(f"\n{report.what} = {key} {report.labels.get(key, '')}".rstrip())
        lines.append(hist.format())
    return "\n".join(lines) + "\n"


#: How many log2 buckets a latency histogram exposes at least: up to 2**26 us, 2**16 ms (about 65 s).
_BUCKETS = {"us": 27, "ms": 17}


def histogram_metric(
    tool: str, hists: CumulativeCounts, unit: str, what: str, label: Callable[[int], str] = str
) -> HistogramMetric:
    """The Prometheus histogram ``ebpf_TOOL_latency_seconds`` of a ``hist_key``-keyed map (cumulative).

    Split by ``what`` (``"pid"``, ``"disk"``): a label of that name, whose
    value is ``label(id)`` (the id itself where that is empty); one series when ``what`` is ``""``.
    Buckets up to about a minute are always exposed (ebpf_exporter's ``bucket_max``), so each
    series keeps its buckets from scrape to scrape.
    """
    from ebpf.core.prometheus import HistogramMetric

    def split(key: Any) -> tuple[Hashable, int]:
        ident, slot = key
        return (label(ident) or str(ident)), slot

    return HistogramMetric(
        f"ebpf_{tool}_latency_seconds",
        hists if what else Rekeyed(hists, lambda key, count: key[1]),
        f"{tool}: latency as a histogram of log2 buckets of {unit}",
        unit=unit,
        layout="libbpf",
        labels=(what,) if what else (),
        split=split if what else None,
        buckets=_BUCKETS[unit],
    )
