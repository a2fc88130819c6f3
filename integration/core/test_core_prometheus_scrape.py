"""ebpf.core.prometheus against the kernel: a program counts calls and times sleeps, Prometheus-style.

The program (``integration/bpf/sleep_metrics.bpf.c``) counts this process's
getpid()/getppid() calls in a hash keyed by a struct, and the latency of its
clock_nanosleep() calls in a log2 histogram; the test makes a known number of
calls and sleeps of known length, scrapes the HTTP endpoint with urllib as
Prometheus would, and checks the values against what it did.
"""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest
from bpf_build import BUILD_DIR
from prometheus_client.parser import text_string_to_metric_families

from ebpf.core.prometheus import CounterMetric, HistogramMetric, serve
from ebpf.elf import Collection, CollectionSpec
from tests.elf._elf_corpus import require_tool

SOURCE = Path(__file__).resolve().parents[1] / "bpf" / "sleep_metrics.bpf.c"
CALLS = {0: "getpid", 1: "getppid"}


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_scraped_metrics_match_the_events_caused() -> None:
    require_tool("clang")
    spec = CollectionSpec.from_c(SOURCE, cache_dir=BUILD_DIR / "elf-cache")
    spec.variables["target_tgid"].set(os.getpid())
    with Collection.load(spec) as coll:
        metrics: list[CounterMetric | HistogramMetric] = [
            CounterMetric(
                "ebpf_test_calls",
                coll.maps["calls"],
                "System calls of the test process, by call",
                labels=("call", "tgid"),
                key=lambda key: {"call": CALLS[key["call"]], "tgid": key["tgid"]},
            ),
            CounterMetric("ebpf_test_events", coll.maps["total"], "Calls counted, all kinds"),
            HistogramMetric(
                "ebpf_test_sleep_seconds",
                coll.maps["sleep_latency"],
                "clock_nanosleep() latency",
                unit="us",
                buckets=20,
            ),
        ]
        with serve(metrics, "127.0.0.1", 0) as server:
            before = _scrape(server.url)  # read at scrape time: nothing happened yet
            links = [coll.programs[name].attach() for name in ("on_getpid", "on_getppid")]
            links += [coll.programs[name].attach() for name in ("sleep_enter", "sleep_exit")]
            try:
                for _ in range(7):
                    os.getpid()
                for _ in range(3):
                    os.getppid()
                slept = []
                for _ in range(5):
                    began = time.perf_counter_ns()
                    time.sleep(0.02)
                    slept.append((time.perf_counter_ns() - began) // 1000)
            finally:
                for link in links:
                    link.close()
            after = _scrape(server.url)

    tgid = str(os.getpid())
    assert before[("ebpf_test_events_total", ())] == 0
    assert before[("ebpf_test_sleep_seconds_count", ())] == 0
    assert after[("ebpf_test_calls_total", (("call", "getpid"), ("tgid", tgid)))] == 7
    assert after[("ebpf_test_calls_total", (("call", "getppid"), ("tgid", tgid)))] == 3
    assert after[("ebpf_test_events_total", ())] == 10

    def bucket(le: str) -> float:
        return after[("ebpf_test_sleep_seconds_bucket", (("le", le),))]

    # Each sleep lasted at least 20 ms (20000 us: log2 slot 15, 16384..32767 us, le = 0.032768 s)
    # and at most what Python measured around it.
    assert after[("ebpf_test_sleep_seconds_count", ())] == 5
    assert bucket("0.016384") == 0
    longest = max(slept)
    le = 1 << longest.bit_length()  # the bound of the bucket holding the longest sleep, in us
    assert bucket(str(le / 1e6)) == 5, (slept, after)
    assert bucket("+Inf") == 5
    assert 5 * 0.016384 <= after[("ebpf_test_sleep_seconds_sum", ())] <= 5 * le / 1e6


def test_the_endpoint_is_gone_when_closed() -> None:
    with serve([CounterMetric("ebpf_test_nothing", {}, "Nothing")], "127.0.0.1", 0) as server:
        assert _scrape(server.url)[("ebpf_test_nothing_total", ())] == 0
    with pytest.raises(OSError, match="refused"):
        urllib.request.urlopen(server.url, timeout=2)
