"""``trace_pipe`` lines parsed, and ``TracePipe`` reading a FIFO that stands in for tracefs.

The lines are as Linux 6.18 printed them for ``bpf_trace_printk()`` (default
options, ``record-tgid`` on, ``irq-info`` off), and as older kernels print
them (4-column flags, ``<...>`` for an unknown task).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebpf.events import BPF_TRACE_PRINTK, TraceLine, TracePipe, parse_lost_events, parse_trace_line

DEFAULT = "          python-17261   [000] b..11 18364.354393: bpf_trace_printk: a: b: c 42\n"
TGID = "          python-17486   (  17486) [000] b..11 18370.331822: bpf_trace_printk: tgid: 42\n"
NO_IRQ_INFO = "          python-17486   [000]  18370.432545: bpf_trace_printk: tgid: 42\n"
OLD = "           <...>-1234  [015] d... 123.456789: bpf_trace_printk: old kernel\n"


def test_default_line() -> None:
    assert parse_trace_line(DEFAULT) == TraceLine(
        task="python",
        pid=17261,
        cpu=0,
        flags="b..11",
        timestamp=18364.354393,
        function=BPF_TRACE_PRINTK,
        message="a: b: c 42",
    )


def test_tgid_column_and_no_flags_column() -> None:
    with_tgid = parse_trace_line(TGID)
    assert with_tgid is not None
    assert (with_tgid.task, with_tgid.pid, with_tgid.cpu, with_tgid.flags) == ("python", 17486, 0, "b..11")
    assert with_tgid.message == "tgid: 42"
    bare = parse_trace_line(NO_IRQ_INFO)
    assert bare is not None
    assert (bare.pid, bare.cpu, bare.flags, bare.timestamp, bare.message) == (
        17486,
        0,
        "",
        18370.432545,
        "tgid: 42",
    )


def test_older_kernels_and_other_cpus() -> None:
    line = parse_trace_line(OLD)
    assert line is not None
    assert (line.task, line.pid, line.cpu, line.flags, line.message) == (
        "<...>",
        1234,
        15,
        "d...",
        "old kernel",
    )


@pytest.mark.parametrize(
    ("text", "task", "pid"),
    [
        ("  systemd-journal-345     [003] ..... 10.5: bpf_trace_printk: x\n", "systemd-journal", 345),
        ("    kworker/u8:2-77      [001] d.h2. 10.5: bpf_trace_printk: x\n", "kworker/u8:2", 77),
        ("     Web Content-9001    [001] ..... 10.5: bpf_trace_printk: x\n", "Web Content", 9001),
        ("    gdbus-2-1-12         [002] ...1. 10.5: bpf_trace_printk: x\n", "gdbus-2-1", 12),
    ],
)
def test_task_names_with_dashes_and_spaces(text: str, task: str, pid: int) -> None:
    line = parse_trace_line(text)
    assert line is not None
    assert (line.task, line.pid, line.message) == (task, pid, "x")


def test_message_with_colons_and_other_events() -> None:
    line = parse_trace_line("  sh-5 [001] ..... 1.000001: bpf_trace_printk: k: v: 10:20\n")
    assert line is not None
    assert line.message == "k: v: 10:20"
    other = parse_trace_line("  sh-5 [001] ..... 1.000001: sched_process_exec: filename=/bin/ls pid=5\n")
    assert other is not None
    assert (other.function, other.message) == ("sched_process_exec", "filename=/bin/ls pid=5")
    empty = parse_trace_line("  sh-5 [001] ..... 1.000001: bpf_trace_printk: \n")
    assert empty is not None
    assert empty.message == ""


def test_lines_of_another_form() -> None:
    assert parse_trace_line("\n") is None
    assert parse_trace_line("lines 42\n") is None  # the rest of a message holding a newline
    assert parse_trace_line("CPU:1 [LOST 17 EVENTS]\n") is None
    assert parse_lost_events("CPU:1 [LOST 17 EVENTS]\n") == 17
    assert parse_lost_events(DEFAULT) == 0


# ----------------------------------------------------------------- TracePipe on a FIFO


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "trace_pipe"
    os.mkfifo(path)
    reader_side = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open without blocking
    writer = os.open(path, os.O_WRONLY)
    os.close(reader_side)
    yield path, writer
    os.close(writer)


def test_read_filters_and_counts(fifo: tuple[Path, int]) -> None:
    path, writer = fifo
    with TracePipe(path=path) as pipe:
        assert pipe.read() == []
        os.write(writer, (DEFAULT + "\n" + OLD + "lines 42\n" + "CPU:0 [LOST 3 EVENTS]\n").encode())
        os.write(writer, b"  sh-5 [001] ..... 1.5: sched_switch: prev_comm=sh\n")
        assert [line.message for line in pipe.read()] == ["a: b: c 42", "old kernel"]
        assert (pipe.lost, pipe.skipped) == (3, 1)
    with TracePipe(path=path, function=None, pid=5) as everything_of_5:
        os.write(writer, (DEFAULT + "  sh-5 [001] ..... 1.5: sched_switch: prev_comm=sh\n").encode())
        assert [line.function for line in everything_of_5.read()] == ["sched_switch"]
    with TracePipe(path=path, comm="<...>") as unknown:
        os.write(writer, (DEFAULT + OLD).encode())
        assert [line.pid for line in unknown.read()] == [1234]


def test_a_line_cut_in_two_waits_for_its_end(fifo: tuple[Path, int]) -> None:
    path, writer = fifo
    with TracePipe(path=path) as pipe:
        os.write(writer, DEFAULT[:30].encode())
        assert pipe.read() == []
        os.write(writer, DEFAULT[30:].encode())
        assert [line.pid for line in pipe.read()] == [17261]


def test_poll_waits_and_times_out(fifo: tuple[Path, int]) -> None:
    path, writer = fifo
    with TracePipe(path=path) as pipe:
        start = time.monotonic()
        assert pipe.poll(0.2) == []
        assert time.monotonic() - start >= 0.19
        threading.Timer(0.1, os.write, (writer, OLD.encode())).start()
        assert [line.pid for line in pipe.poll(5)] == [1234]


def test_iteration_ends_on_close_from_another_thread(fifo: tuple[Path, int]) -> None:
    path, writer = fifo
    pipe = TracePipe(path=path, flush_interval=10)
    os.write(writer, OLD.encode())
    seen = []
    closer = threading.Timer(0.2, pipe.close)
    closer.start()
    for line in pipe:  # blocks in epoll after the first line: the close wakes it
        seen.append(line.pid)
    closer.join()
    assert seen == [1234]
    assert pipe.closed
    with pytest.raises(ValueError, match="closed"):
        pipe.read()
    pipe.close()


def test_interrupt_wakes_poll(fifo: tuple[Path, int]) -> None:
    path, _ = fifo
    with TracePipe(path=path, flush_interval=10) as pipe:
        threading.Timer(0.1, pipe.interrupt).start()
        start = time.monotonic()
        assert pipe.poll() == []
        assert time.monotonic() - start < 5


def test_async_for(fifo: tuple[Path, int]) -> None:
    path, writer = fifo

    async def collect(pipe: TracePipe) -> list[str]:
        asyncio.get_running_loop().call_later(0.05, os.write, writer, (DEFAULT + OLD).encode())
        found = []
        async for line in pipe:
            found.append(line.message)
            if len(found) == 2:
                break
        assert await pipe.apoll(0.05) == []
        return found

    with TracePipe(path=path) as pipe:
        assert asyncio.run(collect(pipe)) == ["a: b: c 42", "old kernel"]


def test_bad_arguments_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        TracePipe(path=tmp_path / "x", flush_interval=0)
    with pytest.raises(FileNotFoundError):
        TracePipe(path=tmp_path / "missing")
