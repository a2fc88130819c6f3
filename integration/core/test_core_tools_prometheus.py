"""``ebpf tool NAME --prometheus HOST:PORT`` against the real kernel: scraped values match the events caused.

Each test runs a tool as a child process (reporting every 0.2 s, so its maps
are cleared under the metrics), makes a child of its own cause a known number
of events, scrapes the endpoint with urllib as Prometheus would, and checks
the counter or histogram against what was caused, and that it never goes down.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from core._cli import CHILD_TIMEOUT, child_env
from prometheus_client.parser import text_string_to_metric_families

from ebpf.syscall import features

#: A child that does ``N`` getppid() calls and 2 ms sleeps each time it reads a line ``N``.
_WORKER = """
import os, sys, time
for line in sys.stdin:
    for _ in range(int(line)):
        os.getppid()
        time.sleep(0.002)
    print("done", flush=True)
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@contextmanager
def _worker() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def _work(child: subprocess.Popen[str], calls: int) -> None:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write(f"{calls}\n")
    child.stdin.flush()
    assert child.stdout.readline() == "done\n"
    time.sleep(0.5)  # at least one interval report has cleared the tool's maps


@contextmanager
def _tool(*args: str) -> Iterator[str]:
    """``ebpf tool ARGS -q --prometheus 127.0.0.1:0`` in a child; its metrics URL; Ctrl-C at the end."""
    child = subprocess.Popen(
        [sys.executable, "-m", "ebpf.core", "tool", *args, "-q", "--prometheus", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert child.stderr is not None
    try:
        first = child.stderr.readline()
        assert first.startswith("serving Prometheus metrics at http://127.0.0.1:"), (
            first + child.stderr.read()
        )
        yield first.split(" at ", 1)[1].strip()
    finally:
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=CHILD_TIMEOUT)
    assert child.returncode == 0, err
    assert out == ""  # -q: no records printed


@pytest.mark.requires_feature(features.RINGBUF)
def test_syscount_serves_cumulative_counts_by_syscall() -> None:
    with _worker() as worker, _tool("syscount", "-p", str(worker.pid), "-i", "0.2", "-L") as url:
        key = ("ebpf_syscount_syscalls_total", (("syscall", "getppid"),))
        seconds = ("ebpf_syscount_syscall_seconds_total", (("syscall", "getppid"),))
        _work(worker, 200)
        first = _scrape(url)
        assert first[key] >= 200, first
        assert first[seconds] > 0
        _work(worker, 100)
        second = _scrape(url)
    # the maps were cleared by the interval reports in between: the counter still only grows
    assert second[key] >= first[key] + 100, (first[key], second[key])
    assert second[seconds] >= first[seconds]


def test_runqlat_serves_a_cumulative_histogram_per_process() -> None:
    with _worker() as worker, _tool("runqlat", "-p", str(worker.pid), "-P", "-i", "0.2") as url:
        labels = (("pid", str(worker.pid)),)
        count = ("ebpf_runqlat_latency_seconds_count", labels)
        before = _scrape(url).get(count, 0.0)
        _work(worker, 100)
        first = _scrape(url)
        # a wakeup that finds the task still on its run queue (the timer was quicker) has no sched_wakeup
        assert first[count] >= before + 50, first
        inf = ("ebpf_runqlat_latency_seconds_bucket", (("le", "+Inf"), *labels))
        assert first[inf] == first[count]
        _work(worker, 100)
        second = _scrape(url)
    assert second[count] >= first[count] + 50, (first[count], second[count])
    buckets = sorted(
        (float(dict(name_labels)["le"]), value)
        for (name, name_labels), value in second.items()
        if name == "ebpf_runqlat_latency_seconds_bucket" and dict(name_labels).get("pid") == str(worker.pid)
    )
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)  # cumulative buckets
