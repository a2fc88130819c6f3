"""The ``prometheus_client`` collector: maps read when Prometheus scrapes, not by a polling thread."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ._metrics import CounterMetric, GaugeMetric, HistogramMetric

if TYPE_CHECKING:
    from prometheus_client.core import Metric
    from prometheus_client.registry import CollectorRegistry

__all__ = ["AnyMetric", "MapCollector", "registry"]

_log = logging.getLogger("ebpf.core")

#: What a collector exposes: counters, gauges and histograms read from maps.
AnyMetric = CounterMetric | HistogramMetric


def _missing() -> ImportError:
    return ImportError(
        "ebpf.core.prometheus needs the prometheus-client package: pip install 'ebpf-core[prometheus]'"
    )


class MapCollector:
    """A ``prometheus_client`` collector of map metrics: each scrape reads every map once.

    A metric whose map cannot be read (closed, a key that does not give its
    labels) is left out of that scrape and logged on ``ebpf.core``; the
    others are served, as ebpf_exporter does.

    Raises (on construction):
        ValueError: two metrics of one name.
    """

    def __init__(self, metrics: Iterable[AnyMetric]) -> None:
        self.metrics = tuple(metrics)
        names = [metric.name for metric in self.metrics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"metric names must be unique: {duplicates} appear more than once")

    def describe(self) -> list[Metric]:
        """The metric families without samples (the registry checks names with this, without reading maps).

        Raises:
            ImportError: prometheus-client is not installed.
        """
        return [self._family(metric, ()) for metric in self.metrics]

    def collect(self) -> Iterator[Metric]:
        """The metric families with the maps' current contents.

        Raises:
            ImportError: prometheus-client is not installed.
        """
        for metric in self.metrics:
            try:
                family = self._read(metric)
            except Exception:  # one bad map must not fail the whole scrape
                _log.exception("metric %s: reading its map failed; left out of this scrape", metric.name)
                continue
            yield family

    @staticmethod
    def _family(metric: AnyMetric, labels: Iterable[str]) -> Metric:
        try:
            from prometheus_client.core import (
                CounterMetricFamily,
                GaugeMetricFamily,
                HistogramMetricFamily,
            )
        except ImportError as exc:
            raise _missing() from exc
        cls = (
            HistogramMetricFamily
            if isinstance(metric, HistogramMetric)
            else GaugeMetricFamily
            if isinstance(metric, GaugeMetric)
            else CounterMetricFamily
        )
        return cls(metric.name, metric.help, labels=list(labels))

    def _read(self, metric: AnyMetric) -> Metric:
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        if isinstance(metric, HistogramMetric):
            series = metric.read()
            family = self._family(metric, metric.labels)
            assert isinstance(family, HistogramMetricFamily)
            for one in series:
                buckets = [
                    (floatToGoString(le), float(count))  # type: ignore[no-untyped-call]
                    for le, count in one.buckets
                ]
                buckets.append(("+Inf", float(one.count)))
                family.add_metric(list(one.labels), buckets, one.sum)
            return family
        names, samples = metric.read()
        family = self._family(metric, names)
        for labels, value in samples:
            family.add_metric(list(labels), value)  # type: ignore[attr-defined]
        return family


def registry(metrics: Iterable[AnyMetric] | MapCollector) -> CollectorRegistry:
    """A new ``prometheus_client`` registry holding a collector of ``metrics``, for a server of your own
    (``prometheus_client.make_wsgi_app(registry)``, ``generate_latest(registry)``...).

    Raises:
        ImportError: prometheus-client is not installed.
        ValueError: two metrics of one name.
    """
    try:
        from prometheus_client.registry import CollectorRegistry
    except ImportError as exc:
        raise _missing() from exc
    collector = metrics if isinstance(metrics, MapCollector) else MapCollector(metrics)
    result = CollectorRegistry()
    result.register(collector)
    return result
