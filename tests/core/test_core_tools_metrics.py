"""What the ready tools serve with ``--prometheus``: each tool's metric declarations, with dicts for maps."""

from __future__ import annotations

import urllib.error
import urllib.request
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ebpf.core.prometheus import registry
from ebpf.core.tools import (
    CommonOptions,
    CumulativeCounts,
    RecordCounter,
    Rekeyed,
    Tracer,
    execsnoop,
    exitsnoop,
    get_tool,
    opensnoop,
    syscount,
    tcpconnect,
    tcplife,
)
from ebpf.core.tools._export import counting, drain, errno_name, serve_metrics
from ebpf.core.tools._histograms import histogram_metric, read_histograms

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(metrics: list[Any]) -> Samples:
    served = [item.metric() if isinstance(item, RecordCounter) else item for item in metrics]
    text = generate_latest(registry(served)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_prometheus_is_a_common_option_checked_before_loading() -> None:
    assert CommonOptions(prometheus=":9435").prometheus == ":9435"
    with pytest.raises(ValueError, match="HOST:PORT"):
        CommonOptions(prometheus="9435")
    parsed = get_tool("runqlat").parser("ebpf tool runqlat").parse_args(["-q", "--prometheus", "127.0.0.1:0"])
    assert parsed.quiet
    assert get_tool("runqlat").parse_options(parsed).prometheus == "127.0.0.1:0"
    assert not get_tool("execsnoop").parser("x").parse_args([]).quiet


def test_drain_deletes_what_it_reads() -> None:
    live = {1: 5, 2: 7}
    assert drain(live) == [(1, 5), (2, 7)]
    assert live == {}


def test_cumulative_counts_keep_what_reports_drain() -> None:
    live: dict[Any, Any] = {3: {"count": 2, "total_ns": 10, "comm": "a"}}
    counts = CumulativeCounts(live)
    assert dict(counts.items()) == {3: {"count": 2, "total_ns": 10, "comm": "a"}}
    assert counts.drain() == [(3, {"count": 2, "total_ns": 10, "comm": "a"})]
    assert live == {}
    live[3] = {"count": 1, "total_ns": 5, "comm": "b"}
    # totals drained plus the map now: numbers add up, the comm is the newest
    assert counts[3] == {"count": 3, "total_ns": 15, "comm": "b"}
    assert len(counts) == 1
    assert list(counts) == [3]


def test_cumulative_counts_key_structs_by_their_members_and_keep_only_when_asked() -> None:
    class StructKeyed(dict[Any, Any]):
        """A map whose keys decode as dicts (BTF structs): keys() and items() give dicts."""

        def keys(self) -> Any:
            return [{"id": ident, "slot": slot} for ident, slot in self]

        def items(self) -> Any:
            return [({"id": i, "slot": s}, count) for (i, s), count in super().items()]

        def pop(self, key: Any, *default: Any) -> Any:
            return super().pop((key["id"], key["slot"]), *default)

    live = StructKeyed({(0, 3): 2})
    counts = CumulativeCounts(live)
    assert counts.drain() == [({"id": 0, "slot": 3}, 2)]
    live[(0, 3)] = 1
    assert dict(counts.items()) == {(0, 3): 3}
    forgetful = CumulativeCounts({1: 1}, keep=False)
    forgetful.drain()
    assert dict(forgetful.items()) == {}


def test_rekeyed_adds_up_entries_given_one_key() -> None:
    view = Rekeyed({(1, 3): 2, (2, 3): 5, (1, 4): 1}, lambda key, value: key[1])
    assert dict(view.items()) == {3: 7, 4: 1}
    assert view[3] == 7
    assert len(view) == 2
    assert set(view) == {3, 4}


def test_syscount_serves_counts_by_syscall_and_they_survive_reports() -> None:
    live: dict[Any, Any] = {39: {"count": 4, "total_ns": 2_000_000_000, "comm": "x"}}  # x86_64 getpid
    counts = CumulativeCounts(live)
    options = syscount.Options(latency=True)
    metrics = syscount.metrics(counts, options)
    name = syscount.syscall_name(39)
    assert _samples(metrics)[("ebpf_syscount_syscalls_total", (("syscall", name),))] == 4
    report = syscount._summarize(counts, options)
    assert report.total == 4
    assert live == {}
    live[39] = {"count": 1, "total_ns": 500_000_000, "comm": "x"}
    samples = _samples(metrics)
    assert samples[("ebpf_syscount_syscalls_total", (("syscall", name),))] == 5
    assert samples[("ebpf_syscount_syscall_seconds_total", (("syscall", name),))] == 2.5


def test_syscount_per_process_labels_pid_and_comm() -> None:
    counts = CumulativeCounts({7: {"count": 3, "total_ns": 0, "comm": "bash"}})
    samples = _samples(syscount.metrics(counts, syscount.Options(per_process=True)))
    assert samples == {("ebpf_syscount_syscalls_total", (("comm", "bash"), ("pid", "7"))): 3}


def test_histogram_tools_serve_latency_histograms_in_seconds() -> None:
    live: dict[Any, Any] = {(0, 3): 2, (0, 10): 1}  # 8..15 us twice, 1024..2047 us once
    hists = CumulativeCounts(live)
    metric = histogram_metric("runqlat", hists, "us", "")
    read_histograms(hists, "us", "", str)  # an interval report clears the map
    live[(0, 3)] = 1
    samples = _samples([metric])
    assert samples[("ebpf_runqlat_latency_seconds_count", ())] == 4
    assert samples[("ebpf_runqlat_latency_seconds_bucket", (("le", "1.6e-05"),))] == 3
    assert samples[("ebpf_runqlat_latency_seconds_bucket", (("le", "+Inf"),))] == 4
    # the buckets up to about a minute are there from the start, counted or not
    empty = _samples([histogram_metric("runqlat", CumulativeCounts({}), "us", "")])
    bounds = [dict(labels)["le"] for name, labels in empty if name.endswith("_bucket")]
    assert len(bounds) == 27 + 1
    assert "67.108864" in bounds


def test_histograms_per_disk_and_per_process_get_their_label() -> None:
    hists = CumulativeCounts({(8 << 20, 1): 2, (9 << 20 | 1, 2): 1})
    names = {8 << 20: "sda", 9 << 20 | 1: ""}
    samples = _samples([histogram_metric("biolatency", hists, "ms", "disk", names.__getitem__)])
    assert samples[("ebpf_biolatency_latency_seconds_count", (("disk", "sda"),))] == 2
    # a disk without a name is labelled by its number
    assert samples[("ebpf_biolatency_latency_seconds_count", (("disk", str(9 << 20 | 1)),))] == 1
    per_pid = _samples([histogram_metric("runqlat", CumulativeCounts({(42, 0): 5}), "us", "pid")])
    assert per_pid[("ebpf_runqlat_latency_seconds_count", (("pid", "42"),))] == 5


def test_errno_names() -> None:
    assert errno_name(0) == "ok"
    assert errno_name(3) == "ok"
    assert errno_name(-2) == "ENOENT"
    assert errno_name(-4095) == "4095"


def test_event_tools_count_their_records_by_label() -> None:
    def record(**fields: Any) -> Any:
        return SimpleNamespace(**fields)

    cases: list[tuple[list[RecordCounter], list[Any], Samples]] = [
        (
            execsnoop.counters(),
            [record(comm="ls", retval=0), record(comm="ls", retval=0), record(comm="x", retval=-2)],
            {
                ("ebpf_execsnoop_execs_total", (("comm", "ls"), ("result", "ok"))): 2,
                ("ebpf_execsnoop_execs_total", (("comm", "x"), ("result", "ENOENT"))): 1,
            },
        ),
        (
            opensnoop.counters(),
            [record(comm="cat", ret=3), record(comm="cat", ret=-13)],
            {
                ("ebpf_opensnoop_opens_total", (("comm", "cat"), ("result", "ok"))): 1,
                ("ebpf_opensnoop_opens_total", (("comm", "cat"), ("result", "EACCES"))): 1,
            },
        ),
        (
            exitsnoop.counters(),
            [record(comm="sh", status=1, signal=0), record(comm="sleep", status=0, signal=9)],
            {
                ("ebpf_exitsnoop_exits_total", (("code", "1"), ("comm", "sh"), ("signal", ""))): 1,
                ("ebpf_exitsnoop_exits_total", (("code", "0"), ("comm", "sleep"), ("signal", "SIGKILL"))): 1,
            },
        ),
        (
            tcpconnect.counters(),
            [record(comm="curl", dport=443)] * 3,
            {("ebpf_tcpconnect_connects_total", (("comm", "curl"), ("dport", "443"))): 3},
        ),
        (
            tcplife.counters(),
            [  # a client's session and a server's: the service port either way
                record(comm="ssh", sport=40000, dport=22, rx_bytes=100, tx_bytes=40),
                record(comm="ssh", sport=22, dport=50000, rx_bytes=100, tx_bytes=40),
            ],
            {
                ("ebpf_tcplife_sessions_total", (("comm", "ssh"), ("port", "22"))): 2,
                ("ebpf_tcplife_received_bytes_total", (("comm", "ssh"), ("port", "22"))): 200,
                ("ebpf_tcplife_sent_bytes_total", (("comm", "ssh"), ("port", "22"))): 80,
            },
        ),
    ]
    for counters, records, expected in cases:
        convert = counting(lambda raw: raw, counters)
        for one in records:
            assert convert(one) is one
        assert _samples(list(counters)) == expected


def test_counting_leaves_out_dropped_records_and_is_free_without_counters() -> None:
    (counter,) = tcpconnect.counters()
    convert = counting(lambda raw: None, [counter])
    assert convert(SimpleNamespace(comm="a", dport=1)) is None
    assert dict(counter.counts.items()) == {}

    def same(raw: Any) -> Any:
        return raw

    assert counting(same, []) is same


def test_serve_metrics_only_with_the_option_and_closes_with_the_tracer() -> None:
    stack = ExitStack()
    tracer: Tracer[Any] = Tracer(stack, None)
    assert serve_metrics(stack, CommonOptions(), tracer, list) is tracer
    assert tracer.metrics_server is None
    (counter,) = tcpconnect.counters()
    counter.observe(SimpleNamespace(comm="curl", dport=80))
    serve_metrics(stack, CommonOptions(prometheus="127.0.0.1:0"), tracer, lambda: [counter])
    server = tracer.metrics_server
    assert server is not None
    with urllib.request.urlopen(server.url, timeout=10) as response:
        text = response.read().decode()
    assert 'ebpf_tcpconnect_connects_total{comm="curl",dport="80"} 1.0' in text
    tracer.close()
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(server.url, timeout=2)
