"""pycalls without a kernel: its options and command line, summaries, text, metrics, objects and tracer."""

from __future__ import annotations

import subprocess
from contextlib import ExitStack
from importlib import resources
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ebpf.core.prometheus import registry
from ebpf.core.tools import CumulativeCounts, get_tool, pycalls
from ebpf.core.tools._objects import TARGET_ARCHES, object_spec
from ebpf.elf import CollectionSpec

FILE = "/srv/app.py"


def _entry(name: str, line: int, calls: int, timed: int = 0, total: int = 0, longest: int = 0) -> Any:
    key = {"file": FILE, "name": name, "line": line}
    return key, {"calls": calls, "timed": timed, "total_ns": total, "max_ns": longest}


ENTRIES = [
    _entry("handle", 10, 3, 3, 9_000_000, 5_000_000),
    _entry("handle", 12, 1, 1, 1_000_000, 1_000_000),  # the same function, another return
    _entry("get", 30, 50),
    _entry("query", 40, 6, 6, 3_000_000, 900_000),
]


def test_the_command_line_takes_pid_and_interval_as_bcc_does_and_t_is_top() -> None:
    tool = get_tool("pycalls")
    parser = tool.parser("ebpf tool pycalls")
    options = tool.parse_options(parser.parse_args(["42", "2.5", "-L", "-m", "-T", "5", "--lines"]))
    assert options == pycalls.Options(
        pid=42, interval=2.5, latency=True, milliseconds=True, top=5, lines=True
    )
    options = tool.parse_options(parser.parse_args(["-p", "7", "-i", "1", "-d", "3", "--timestamp"]))
    assert (options.pid, options.interval, options.duration, options.timestamps) == (7, 1.0, 3.0, True)
    assert "--timestamp" in parser.format_help()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "give its pid"), ({"pid": 1, "comm": "python3"}, "comm"), ({"pid": 1, "top": -1}, "top")],
)
def test_options_refuse_what_the_tool_cannot_do(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pycalls.Options(**kwargs)


def test_a_summary_adds_up_each_function_busiest_first() -> None:
    report = pycalls.summarize(ENTRIES, pycalls.Options(pid=9))
    assert [(r.function, r.line, r.calls, r.timed, r.total_ns, r.max_ns) for r in report.rows] == [
        ("get", None, 50, 0, 0, 0),
        ("query", None, 6, 6, 3_000_000, 900_000),
        ("handle", None, 4, 4, 10_000_000, 5_000_000),
    ]
    assert (report.pid, report.functions, report.calls, report.timed) == (9, 3, 60, 10)
    assert report.rows[2].average_ns == 2_500_000
    assert report.rows[0].average_ns is None


def test_a_summary_with_latency_sorts_by_time_and_keeps_the_top_rows_or_lines() -> None:
    report = pycalls.summarize(ENTRIES, pycalls.Options(pid=9, latency=True, top=2))
    assert [row.function for row in report.rows] == ["handle", "query"]
    assert (report.functions, report.calls) == (3, 60)  # the rows left out are in the totals
    by_line = pycalls.summarize(ENTRIES, pycalls.Options(pid=9, lines=True))
    assert [(row.function, row.line) for row in by_line.rows] == [
        ("get", 30),
        ("query", 40),
        ("handle", 10),
        ("handle", 12),
    ]
    assert by_line.to_dict()["rows"][0] == {
        "file": FILE,
        "function": "get",
        "line": 30,
        "calls": 50,
        "timed": 0,
        "total_ns": 0,
        "max_ns": 0,
    }


def test_the_text_shows_counts_and_with_latency_times_or_dashes() -> None:
    tool = get_tool("pycalls")
    options = pycalls.Options(pid=9, top=2)
    assert tool.format(pycalls.summarize(ENTRIES, options), options) == (
        "   CALLS  FUNCTION (FILE)\n"
        "      50  get (/srv/app.py)\n"
        "       6  query (/srv/app.py)\n"
        "3 functions (2 shown), 60 calls, 10 timed (function__entry seen)\n"
    )
    options = pycalls.Options(pid=9, latency=True, lines=True)
    text = tool.format(pycalls.summarize(ENTRIES, options), options)
    assert text.splitlines()[:2] == [
        "   CALLS    TIMED   TOTAL us     AVG us     MAX us  FUNCTION (FILE)",
        "       3        3   9000.000   3000.000   5000.000  handle (/srv/app.py:10)",
    ]
    assert "      50        0          -          -          -  get (/srv/app.py:30)" in text
    options = pycalls.Options(pid=9, latency=True, milliseconds=True)
    text = tool.format(pycalls.summarize(ENTRIES, options), options)
    assert "TOTAL ms" in text
    assert "       4        4     10.000      2.500      5.000  handle (/srv/app.py)" in text


def test_the_header_says_when_times_are_measured() -> None:
    tool = get_tool("pycalls")
    assert tool.header(pycalls.Options(pid=9)) == "Tracing Python calls of pid 9... Ctrl-C to end."
    header = tool.header(pycalls.Options(pid=9, latency=True))
    assert header is not None
    assert "function__entry" in header
    assert "sys.setprofile" in header


def _samples(metrics: list[Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry(metrics)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_calls_and_seconds_by_file_and_function_across_reports() -> None:
    live: dict[Any, Any] = {tuple(key.values()): value for key, value in ENTRIES}
    counts = CumulativeCounts(live)
    options = pycalls.Options(pid=9, latency=True)
    metrics = pycalls.metrics(counts, options)
    handle = (("file", FILE), ("function", "handle"))
    samples = _samples(metrics)
    assert samples[("ebpf_pycalls_calls_total", handle)] == 4  # both return lines
    assert samples[("ebpf_pycalls_timed_calls_total", handle)] == 4
    assert samples[("ebpf_pycalls_call_seconds_total", handle)] == pytest.approx(0.01)
    counts.drain()  # a report
    assert live == {}
    assert _samples(metrics)[("ebpf_pycalls_calls_total", handle)] == 4
    assert [m.name for m in pycalls.metrics(counts, pycalls.Options(pid=9))] == ["ebpf_pycalls_calls"]


def test_the_object_is_built_per_architecture_and_this_machine_gets_its_own() -> None:
    spec = object_spec("pycalls")
    assert set(spec.programs) == {"function_entry", "function_return"}
    assert {"functions", "depths", "starts"} <= set(spec.maps)
    folder = resources.files("ebpf.core.tools") / "bpf"
    for arch in TARGET_ARCHES.values():
        other = CollectionSpec.from_bytes((folder / f"pycalls.{arch}.bpf.o").read_bytes())
        assert set(other.programs) == set(spec.programs)


class _Key(dict[str, Any]):
    """A struct key as the map decodes it (a dict), hashable as a dict key of a fake map."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))


def test_the_tracer_ends_with_the_process_and_reports_what_was_counted() -> None:
    child = subprocess.Popen(["true"])
    child.wait()  # gone, and reaped
    key, value = ENTRIES[2]
    live = {_Key(key): value}
    tracer = pycalls.PythonCallsTracer(
        ExitStack(), pycalls.Options(pid=child.pid), ("/usr/bin/python3",), live
    )
    with tracer:
        assert tracer.expired
        (report,) = list(tracer)  # at once: no duration, but no process either
    assert [(row.function, row.calls) for row in report.rows] == [("get", 50)]
    assert live == {}
