"""What a map becomes at scrape time: the samples of a counter or gauge, the series of a histogram.

These classes describe a metric and read its map when asked; they know
nothing of ``prometheus_client`` (the collector turns what they read into
its metric families), so they are tested with plain dicts standing in for maps.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ebpf.maps import (
    Histogram,
    HistogramUnit,
    KeyValueMap,
    Map,
    linear_histogram,
    linear_histograms,
    log2_histogram,
    log2_histograms,
)

from ._labels import KeyDecoder, label_names, label_values, sample_value

__all__ = ["CounterMetric", "GaugeMetric", "HistogramMetric", "HistogramSeries", "Sample"]

#: One sample: its label values (in the metric's label order) and its value.
Sample = tuple[tuple[str, ...], float]


def _entries(source: Mapping[Any, Any] | Sequence[Any] | Map) -> Mapping[Any, Any] | Sequence[Any]:
    """``source`` as something with entries: a live map must be a key-value one (array, hash, per-CPU).

    Raises:
        TypeError: a live map with no keys to read (a ring buffer, a queue...).
    """
    if isinstance(source, Map) and not isinstance(source, KeyValueMap):
        raise TypeError(f"{source!r} has no keys and values to serve as metrics (use an array or hash map)")
    return source


@dataclass(frozen=True)
class CounterMetric:
    """A counter read from a map: one sample per distinct label set, the values of its entries summed.

    ``map`` is any mapping of keys to counts: an array, hash or per-CPU map
    (per-CPU values are summed), or a dict. Each key becomes label values
    (see [`label_values`][ebpf.core.prometheus.label_values]): ``labels``
    names them; ``key(k)`` may first turn a key into something else (label
    values in order, a dict by label name, one value), as ebpf_exporter's
    decoders do. ``labels=None`` names the labels after the members of
    struct keys (BTF-typed dicts, ``ctypes``); ``labels=()`` sums every entry
    into one sample. ``value(v)`` picks the number from values that are not
    numbers (a struct value). Entries whose labels are equal add up.

    ``name`` is the Prometheus name without the ``_total`` suffix, which
    the exposition adds.
    """

    name: str
    map: Mapping[Any, Any] | Map
    help: str
    labels: Sequence[str] | None = ()
    key: KeyDecoder | None = None
    value: Callable[[Any], Any] | None = None

    def read(self) -> tuple[tuple[str, ...], list[Sample]]:
        """The label names and the samples, from the map as it is now.

        Raises:
            TypeError: a value that is not a number (and no ``value=``),
                ``labels=None`` with keys that are not structs, or a map without keys.
            KeyError, ValueError: a key that does not give the labels (see ``label_values``).
            EbpfError: reading the map failed.
        """
        names: tuple[str, ...] | None = None if self.labels is None else tuple(self.labels)
        totals: dict[tuple[str, ...], float] = {}
        entries = _entries(self.map)
        if not isinstance(entries, Mapping):
            raise TypeError(f"a counter's map has keys: {type(entries).__name__} has none")
        for raw_key, raw_value in entries.items():
            key = raw_key if self.key is None else self.key(raw_key)
            if names is None:
                names = label_names(key)
            labels = label_values(key, names)
            value = sample_value(raw_value if self.value is None else self.value(raw_value))
            totals[labels] = totals.get(labels, 0.0) + value
        if names is None:
            names = ()
        if not names and not totals:
            totals[()] = 0.0  # a counter without labels exists from the start
        return names, list(totals.items())


@dataclass(frozen=True)
class GaugeMetric(CounterMetric):
    """A gauge read from a map, as [`CounterMetric`][ebpf.core.prometheus.CounterMetric] reads a counter
    (for values that go down: queue lengths, bytes in flight, the last value seen)."""


@dataclass(frozen=True)
class HistogramSeries:
    """One Prometheus histogram: its label values, its cumulative buckets, count and sum.

    ``buckets`` are ``(le, cumulative count)`` pairs in increasing ``le``,
    without ``+Inf`` (whose count is ``count``).
    """

    labels: tuple[str, ...]
    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: float


@dataclass(frozen=True)
class HistogramMetric:
    """A histogram read from a map of log2 or linear slots (see ``ebpf.maps.log2_histogram``):
    an array or hash map, a dict, or a list (index = slot).

    ``kind``, ``unit``, ``layout``, ``start`` and ``step`` say how the
    program fills the slots, as for ``ebpf.maps.log2_histogram`` and
    ``linear_histogram``. With ``labels``, the map is keyed by struct keys
    ending with the slot (bcc's ``hist_key_t``) and holds one histogram per
    section (``ebpf.maps.log2_histograms``; ``split(key)`` returns
    ``(section, slot)`` for other keys); the section gives the label values.

    Buckets: a counted value ``v`` stands for a real value in ``[v, v+1)``
    (programs divide and round down), so a bucket of values ``low..high``
    has the upper bound ``le = (high + 1) * multiplier``; for log2 slots that
    is ``2**slot``, as ebpf_exporter's ``exp2`` buckets. ``multiplier``
    defaults to the unit in seconds for time units (Prometheus' base unit:
    name such metrics ``..._seconds``) and 1 otherwise. ``buckets`` is the
    least number of buckets to expose: empty ones are added after the last
    counted one, so the series stays the same from scrape to scrape (as
    ebpf_exporter's ``bucket_max``).

    ``_sum`` is an estimate, since the map keeps counts only: each bucket's
    count times the middle of its range.
    """

    name: str
    map: Mapping[Any, Any] | Sequence[Any] | Map
    help: str
    kind: Literal["log2", "linear"] = "log2"
    unit: HistogramUnit | str = "value"
    layout: Literal["bcc", "libbpf"] = "bcc"
    start: int = 0
    step: int = 1
    labels: Sequence[str] = ()
    split: Callable[[Any], tuple[Hashable, int]] | None = None
    multiplier: float | None = None
    buckets: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("log2", "linear"):
            raise ValueError(f"a histogram's kind is 'log2' or 'linear', not {self.kind!r}")
        if self.buckets is not None and self.buckets < 1:
            raise ValueError(f"buckets is the least number of buckets to expose (>= 1), not {self.buckets}")

    def _scale(self) -> float:
        if self.multiplier is not None:
            return self.multiplier
        seconds = HistogramUnit.parse(self.unit).seconds
        return 1.0 if seconds is None else seconds

    def histograms(self) -> dict[Hashable, Histogram]:
        """The map's histograms as ``ebpf.maps`` reads them: one per section, or ``{(): whole}``.

        Raises:
            TypeError, ValueError: as ``ebpf.maps.log2_histogram`` and its siblings raise; a live map
                that has no keys (a ring buffer...).
            EbpfError: reading the map failed.
        """
        counts = _entries(self.map)
        if self.kind == "log2":
            if self.labels:
                return dict(log2_histograms(counts, unit=self.unit, layout=self.layout, split=self.split))
            return {(): log2_histogram(counts, unit=self.unit, layout=self.layout)}
        if self.labels:
            return dict(
                linear_histograms(counts, unit=self.unit, start=self.start, step=self.step, split=self.split)
            )
        return {(): linear_histogram(counts, unit=self.unit, start=self.start, step=self.step)}

    def read(self) -> list[HistogramSeries]:
        """One series per histogram of the map as it is now (one, without labels, even when empty).

        Raises:
            TypeError, ValueError: a key or count ``ebpf.maps`` cannot read, or
                a section that does not give the labels.
            EbpfError: reading the map failed.
        """
        scale, names = self._scale(), tuple(self.labels)
        series = []
        for section, histogram in self.histograms().items():
            labels = label_values(section, names) if names else ()
            series.append(self._series(labels, histogram, scale))
        return series

    def _series(self, labels: tuple[str, ...], histogram: Histogram, scale: float) -> HistogramSeries:
        bounds = [(b.low, b.high, b.count) for b in histogram.buckets]
        wanted = self.buckets or 0
        if not bounds and wanted:
            first = (0, 1) if self.kind == "log2" else (self.start, self.start + self.step - 1)
            bounds.append((*first, 0))
        while len(bounds) < wanted:
            low, high, _ = bounds[-1]
            width = high + 1 if self.kind == "log2" else high - low + 1
            bounds.append((high + 1, high + width, 0))
        cumulative, total, buckets = 0, 0.0, []
        for low, high, count in bounds:
            cumulative += count
            total += count * (low + high + 1) / 2
            buckets.append(((high + 1) * scale, cumulative))
        return HistogramSeries(labels, tuple(buckets), cumulative, total * scale)
