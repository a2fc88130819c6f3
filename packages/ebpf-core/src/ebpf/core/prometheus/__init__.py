"""Maps served as Prometheus metrics, the way Cloudflare's ebpf_exporter turns maps into metrics.

A program counts into maps; this module describes what each map means
([`CounterMetric`][ebpf.core.prometheus.CounterMetric],
[`GaugeMetric`][ebpf.core.prometheus.GaugeMetric],
[`HistogramMetric`][ebpf.core.prometheus.HistogramMetric] for log2 or linear
slots), and a [`MapCollector`][ebpf.core.prometheus.MapCollector] reads the
maps each time Prometheus scrapes (no polling thread, no stale values).
[`serve()`][ebpf.core.prometheus.serve] runs the HTTP endpoint;
[`registry()`][ebpf.core.prometheus.registry] gives a ``prometheus_client``
registry for a server of your own;
[`parse_address()`][ebpf.core.prometheus.parse_address] reads a
command line's ``HOST:PORT``.

::

    from ebpf.core.prometheus import CounterMetric, HistogramMetric, serve

    with serve([
        CounterMetric("ebpf_syscalls", coll.maps["counts"], "System calls by number", labels=("nr",)),
        HistogramMetric("ebpf_read_latency_seconds", coll.maps["latency"], "read() latency", unit="us"),
    ], "127.0.0.1", 9435) as server:
        ...  # Prometheus scrapes server.url

Needs the ``prometheus-client`` package: ``pip install 'ebpf-core[prometheus]'``
(this module imports without it; serving raises ``ImportError`` naming the extra).
"""

from __future__ import annotations

from ._address import DEFAULT_PORT, parse_address
from ._collector import MapCollector, registry
from ._labels import label_text, label_values
from ._metrics import CounterMetric, GaugeMetric, HistogramMetric, HistogramSeries
from ._server import MetricsServer, serve

__all__ = [
    "DEFAULT_PORT",
    "CounterMetric",
    "GaugeMetric",
    "HistogramMetric",
    "HistogramSeries",
    "MapCollector",
    "MetricsServer",
    "label_text",
    "label_values",
    "parse_address",
    "registry",
    "serve",
]
