"""ebpf.core.prometheus with dicts standing in for maps: labels, counters, histograms, the endpoint."""

from __future__ import annotations

import ctypes
import logging
import urllib.request
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ebpf.core.prometheus import (
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    MapCollector,
    label_values,
    parse_address,
    registry,
    serve,
)


def _samples(metrics: list[Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The exposition of ``metrics``, parsed back: ``(sample name, sorted labels) -> value``."""
    text = generate_latest(registry(metrics)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# ------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9435", ("127.0.0.1", 9435)),
        (":9435", ("0.0.0.0", 9435)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("9435", "HOST:PORT"),
        ("host:http", "port"),
        ("host:65536", "port"),
        ("::1:80", "brackets"),
        ("h:", "port"),
    ],
)
def test_bad_addresses_say_what_is_accepted(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_address(text)


# --------------------------------------------------------------------- labels


class _Key(ctypes.Structure):
    _fields_ = (("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 8))


def test_keys_become_label_values() -> None:
    assert label_values(7, ["cpu"]) == ("7",)
    assert label_values((1, b"sh\0\0"), ["pid", "comm"]) == ("1", "sh")
    assert label_values({"pid": 3, "comm": "bash", "x": 1}, ["comm", "pid"]) == ("bash", "3")
    assert label_values(_Key(5, b"init"), ["pid", "comm"]) == ("5", "init")
    assert label_values(9, []) == ()
    with pytest.raises(ValueError, match="2 fields for 1 labels"):
        label_values((1, 2), ["a"])
    with pytest.raises(ValueError, match="give key="):
        label_values(1, ["a", "b"])
    with pytest.raises(KeyError, match="not members"):
        label_values({"pid": 1}, ["comm"])


# ------------------------------------------------------------------- counters


def test_counter_of_integer_keys_and_per_cpu_values() -> None:
    counts = {0: [1, 2], 59: [0, 5]}  # per-CPU values are summed
    got = _samples([CounterMetric("ebpf_syscalls", counts, "Syscalls", labels=("nr",))])
    assert got[("ebpf_syscalls_total", (("nr", "0"),))] == 3
    assert got[("ebpf_syscalls_total", (("nr", "59"),))] == 5


def test_counter_labels_default_to_struct_members() -> None:
    keys = [{"pid": 1, "comm": "init"}, {"pid": 2, "comm": "sh"}]
    metric = CounterMetric("ebpf_calls", _Pairs([(keys[0], 4), (keys[1], 6)]), "Calls", labels=None)
    names, samples = metric.read()
    assert names == ("pid", "comm")
    assert sorted(samples) == [(("1", "init"), 4.0), (("2", "sh"), 6.0)]


class _Pairs(dict[Any, Any]):
    """A map whose keys are dicts (BTF-decoded structs are unhashable): ``items()`` gives the pairs."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        super().__init__()
        self._pairs = pairs

    def items(self) -> Any:
        return list(self._pairs)


def test_counter_key_decoder_merges_equal_labels() -> None:
    counts = {1: 10, 2: 20, 1001: 5}
    metric = CounterMetric(
        "ebpf_by_kind", counts, "By kind", labels=("kind",), key=lambda k: "user" if k >= 1000 else "system"
    )
    assert sorted(metric.read()[1]) == [(("system",), 30.0), (("user",), 5.0)]


def test_counter_without_labels_sums_everything_and_starts_at_zero() -> None:
    assert CounterMetric("ebpf_events", {0: 2, 1: 3}, "Events").read() == ((), [((), 5.0)])
    assert CounterMetric("ebpf_events", {}, "Events").read() == ((), [((), 0.0)])


def test_struct_values_need_a_value_function() -> None:
    values = {1: {"count": 3, "bytes": 100}}
    with pytest.raises(TypeError, match="value=lambda"):
        CounterMetric("ebpf_io", values, "IO", labels=("dev",)).read()
    metric = GaugeMetric("ebpf_bytes", values, "Bytes", labels=("dev",), value=lambda v: v["bytes"])
    assert _samples([metric])[("ebpf_bytes", (("dev", "1"),))] == 100


# ----------------------------------------------------------------- histograms


def test_log2_histogram_buckets_are_cumulative_with_bounds_in_seconds() -> None:
    slots = {1: 1, 2: 3, 3: 10, 5: 5}  # bcc's bpf_log2l slots of microseconds
    (series,) = HistogramMetric("ebpf_lat_seconds", slots, "Latency", unit="us").read()
    assert series.buckets == (
        (2e-6, 1),  # 0 -> 1 us
        (4e-6, 4),  # 2 -> 3
        (8e-6, 14),  # 4 -> 7
        (16e-6, 14),  # 8 -> 15
        (32e-6, 19),  # 16 -> 31
    )
    assert series.count == 19
    # the middle of each bucket times its count: 1*1 + 3*3 + 10*6 + 5*24 us
    assert series.sum == pytest.approx(190e-6)


def test_histogram_exposition() -> None:
    slots = [0, 2, 1]  # an array: index = slot
    got = _samples([HistogramMetric("ebpf_size_bytes", slots, "Sizes", unit="bytes", buckets=4)])
    assert got[("ebpf_size_bytes_bucket", (("le", "2.0"),))] == 2
    assert got[("ebpf_size_bytes_bucket", (("le", "4.0"),))] == 3
    assert got[("ebpf_size_bytes_bucket", (("le", "16.0"),))] == 3  # padded up to 4 buckets
    assert got[("ebpf_size_bytes_bucket", (("le", "+Inf"),))] == 3
    assert got[("ebpf_size_bytes_count", ())] == 3
    assert got[("ebpf_size_bytes_sum", ())] == 2 * 1 + 1 * 3


def test_libbpf_layout_and_linear_histograms() -> None:
    (libbpf,) = HistogramMetric("h", {0: 1, 1: 1}, "x", layout="libbpf").read()
    assert libbpf.buckets == ((2.0, 1), (4.0, 2))
    (linear,) = HistogramMetric("h", {0: 1, 2: 4}, "x", kind="linear", start=10, step=5, buckets=4).read()
    assert linear.buckets == ((15.0, 1), (20.0, 1), (25.0, 5), (30.0, 5))
    assert linear.sum == 1 * 12.5 + 4 * 22.5


def test_empty_histogram_is_exposed_with_its_buckets() -> None:
    (series,) = HistogramMetric("h", {}, "x", buckets=3, multiplier=1e-3).read()
    assert series.buckets == ((2e-3, 0), (4e-3, 0), (8e-3, 0))
    assert (series.count, series.sum) == (0, 0.0)


def test_per_key_histograms_get_labels() -> None:
    counts = {(42, 1): 2, (42, 3): 1, (77, 2): 5}  # (pid, slot), as bcc's hist_key_t
    metric = HistogramMetric("ebpf_lat", counts, "Latency", unit="ms", labels=("pid",))
    got = _samples([metric])
    assert got[("ebpf_lat_count", (("pid", "42"),))] == 3
    assert got[("ebpf_lat_bucket", (("le", "0.004"), ("pid", "77")))] == 5


def test_histogram_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="'log2' or 'linear'"):
        HistogramMetric("h", {}, "x", kind="exp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="least number of buckets"):
        HistogramMetric("h", {}, "x", buckets=0)


# ------------------------------------------------------------------ collector


def test_a_metric_that_cannot_be_read_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Closed(dict[int, int]):
        def items(self) -> Any:
            raise OSError("map closed")

    metrics = [CounterMetric("ebpf_bad", Closed(), "Bad"), CounterMetric("ebpf_good", {0: 1}, "Good")]
    with caplog.at_level(logging.ERROR, logger="ebpf.core"):
        got = _samples(metrics)
    assert ("ebpf_good_total", ()) in got
    assert not any(name.startswith("ebpf_bad") for name, _ in got)
    assert "ebpf_bad" in caplog.text


def test_metric_names_are_unique() -> None:
    with pytest.raises(ValueError, match="ebpf_x"):
        MapCollector([CounterMetric("ebpf_x", {}, "a"), GaugeMetric("ebpf_x", {}, "b")])


def test_maps_are_read_at_scrape_time_over_http() -> None:
    counts = {0: 1}
    with serve([CounterMetric("ebpf_hits", counts, "Hits")], "127.0.0.1", 0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        first = urllib.request.urlopen(server.url, timeout=10).read().decode()
        counts[0] = 41
        second = urllib.request.urlopen(server.url, timeout=10).read().decode()
    assert "ebpf_hits_total 1.0" in first
    assert "ebpf_hits_total 41.0" in second
    server.close()  # a second close does nothing
    assert "closed" in repr(server)
