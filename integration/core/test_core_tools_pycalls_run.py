"""pycalls (``ebpf.core.tools.pycalls``, ``ebpf tool pycalls PID``) against the real kernel.

A script run by Debian's ``/usr/bin/python3.11`` (built with the USDT
probes) calls known functions a known number of times each time it reads a
line: ``alpha`` plainly, ``beta`` (which calls ``gamma``, which sleeps 2 ms)
under a profile function, since CPython 3.11 fires ``function__entry`` only
then. The tool must report each function by name and file with its exact
count, time exactly the calls made under the profile function, and give
times that fit the sleeps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from core._cli import CHILD_TIMEOUT, child_env
from core.test_core_tools_prometheus import _scrape, _tool

from ebpf.core.tools import pycalls
from ebpf.elf import usdt_probes

PYTHON = Path("/usr/bin/python3.11")

WORKLOAD = """\
import sys
import time


def alpha(n):
    return n + 1


def gamma(x):
    time.sleep(0.002)
    return x * 2


def beta(n):
    return gamma(n) + gamma(n + 1)


print("ready", flush=True)
for line in sys.stdin:
    for i in range(int(line)):
        alpha(i)
    sys.setprofile(slice)  # a profile function written in C: function__entry fires now
    for i in range(3):
        beta(i)
    sys.setprofile(None)
    print("done", flush=True)
"""
#: Per batch of N: function -> (calls, timed calls).
EXPECTED = {"alpha": (7, 0), "beta": (3, 3), "gamma": (6, 6)}


@contextmanager
def _workload(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The workload running under python3.11, waiting for its first line; it and its script's path."""
    if not PYTHON.is_file():
        pytest.skip(f"{PYTHON} is not installed (apt-get install python3.11)")
    if "python:function__return" not in {probe.qualified_name for probe in usdt_probes(PYTHON)}:
        pytest.skip(f"{PYTHON} was built without USDT probes (--with-dtrace)")
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    child = subprocess.Popen(
        [str(PYTHON), str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        yield child, str(script)
    finally:
        child.kill()
        child.wait()


def _batch(child: subprocess.Popen[str], alphas: int = 7) -> None:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write(f"{alphas}\n")
    child.stdin.flush()
    assert child.stdout.readline() == "done\n"


def _calls(rows: Any, script: str) -> dict[str, tuple[int, int]]:
    return {row.function: (row.calls, row.timed) for row in rows if row.file == script}


def test_pycalls_counts_each_function_and_times_those_whose_entry_fired(tmp_path: Path) -> None:
    with _workload(tmp_path) as (child, script):
        options = pycalls.Options(pid=child.pid, latency=True)
        with pycalls.start(options) as tracer:
            assert tracer.files == (str(PYTHON),)
            _batch(child)
            (report,) = tracer.flush()
    assert _calls(report.rows, script) == EXPECTED
    rows = {row.function: row for row in report.rows if row.file == script}
    gamma, beta = rows["gamma"], rows["beta"]
    assert gamma.average_ns is not None
    assert beta.average_ns is not None
    assert 2e6 <= gamma.average_ns <= gamma.max_ns < 1e9  # a 2 ms sleep, and some
    assert beta.average_ns >= 4e6  # two gammas
    assert rows["alpha"].average_ns is None
    assert rows["alpha"].total_ns == 0
    assert report.pid == child.pid
    assert report.calls >= 16
    assert report.timed >= 9
    # busiest first: with -L by time spent
    assert [row.function for row in report.rows[:2]] == ["beta", "gamma"]
    text = pycalls.TOOL.format(report, options)
    assert f"gamma ({script})" in text
    assert "TOTAL us" in text


def test_pycalls_lines_top_and_the_end_of_the_process(tmp_path: Path) -> None:
    with _workload(tmp_path) as (child, _script):
        options = pycalls.Options(pid=child.pid, lines=True, top=2)
        with pycalls.start(options) as tracer:
            _batch(child, alphas=50)
            assert child.stdin is not None
            child.stdin.close()  # the workload ends; so does the tracer's iteration
            assert child.wait(timeout=CHILD_TIMEOUT) == 0
            reports = list(tracer)
    (report,) = reports
    assert [(row.function, row.line, row.calls) for row in report.rows] == [
        ("alpha", 6, 50),
        ("gamma", 11, 6),
    ]
    assert report.functions > 2
    assert f"{report.functions} functions (2 shown)" in pycalls.TOOL.format(report, options)


def test_ebpf_tool_pycalls_reports_each_interval_until_the_process_exits(tmp_path: Path) -> None:
    with _workload(tmp_path) as (child, script):
        tool = subprocess.Popen(
            [sys.executable, "-m", "ebpf.core", "tool", "pycalls", str(child.pid), "0.2", "-L", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        try:
            assert tool.stdout is not None
            first = tool.stdout.readline()  # the first interval's report: attached by then
            assert first, tool.communicate(timeout=CHILD_TIMEOUT)[1]
            _batch(child)
            _batch(child)
            assert child.stdin is not None
            child.stdin.close()
            assert child.wait(timeout=CHILD_TIMEOUT) == 0
            out, err = tool.communicate(timeout=CHILD_TIMEOUT)  # it ends with the process
        finally:
            if tool.poll() is None:
                tool.kill()
                tool.wait()
    assert tool.returncode == 0, err
    reports = [json.loads(line) for line in [first, *out.splitlines()]]
    assert len(reports) >= 2
    totals: dict[str, list[int]] = {}
    for report in reports:
        assert report["pid"] == child.pid
        for row in report["rows"]:
            if row["file"] == script:
                seen = totals.setdefault(row["function"], [0, 0])
                seen[0] += row["calls"]
                seen[1] += row["timed"]
                if row["timed"]:
                    assert row["total_ns"] >= 2e6 * row["timed"]
    assert {name: tuple(seen) for name, seen in totals.items()} == {
        name: (2 * calls, 2 * timed) for name, (calls, timed) in EXPECTED.items()
    } | {"<module>": (1, 0)}


def test_ebpf_tool_pycalls_serves_calls_and_seconds_that_survive_reports(tmp_path: Path) -> None:
    with _workload(tmp_path) as (child, script), _tool("pycalls", str(child.pid), "-i", "0.2", "-L") as url:
        labels = (("file", script), ("function", "gamma"))
        calls, timed = ("ebpf_pycalls_calls_total", labels), ("ebpf_pycalls_timed_calls_total", labels)
        seconds = ("ebpf_pycalls_call_seconds_total", labels)
        _batch(child)
        time.sleep(0.5)  # at least one interval report has cleared the tool's map
        first = _scrape(url)
        assert (first[calls], first[timed]) == (6, 6)
        assert first[seconds] >= 6 * 0.002
        _batch(child)
        time.sleep(0.5)
        second = _scrape(url)
        assert (second[calls], second[timed]) == (12, 12)
        assert second[seconds] > first[seconds]
        alpha = ("ebpf_pycalls_calls_total", (("file", script), ("function", "alpha")))
        assert second[alpha] == 14


def test_pycalls_says_when_the_process_has_no_python_probes() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(ValueError, match=r"no CPython USDT probe .*--with-dtrace"):
            pycalls.start(pycalls.Options(pid=sleeper.pid))
    finally:
        sleeper.kill()
        sleeper.wait()
