"""The ready tools' framework without a kernel: registry, options, parsers, records, tracers, objects."""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack
from dataclasses import FrozenInstanceError

import pytest

from ebpf.core.tools import TOOL_NAMES, CommonOptions, IntervalOptions, IntervalTracer, get_tool
from ebpf.core.tools._objects import object_spec


def test_every_tool_is_registered_under_its_name() -> None:
    for name in TOOL_NAMES:
        tool = get_tool(name)
        assert tool.name == name
        assert tool.summary
    with pytest.raises(KeyError, match="execsnoop"):
        get_tool("nosuchtool")


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_tool_ships_a_loadable_object_with_the_filters(name: str) -> None:
    spec = object_spec(name)
    assert spec.programs
    assert {"targ_tgid", "targ_comm"} <= set(spec.variables)
    assert spec.btf is not None  # CO-RE: the object carries its types


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pid": 0}, "pid"),
        ({"comm": ""}, "comm"),
        ({"comm": "x" * 16}, "comm"),
        ({"duration": 0}, "duration"),
    ],
)
def test_common_options_refuse_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CommonOptions(**kwargs)  # type: ignore[arg-type]


def test_interval_options_refuse_a_bad_interval_and_are_frozen() -> None:
    with pytest.raises(ValueError, match="interval"):
        IntervalOptions(interval=-1)
    options = IntervalOptions(interval=1)
    with pytest.raises(FrozenInstanceError):
        options.interval = 2  # type: ignore[misc]


@pytest.mark.parametrize("name", [name for name in TOOL_NAMES if name != "pycalls"])  # its own below
def test_the_parser_has_the_common_options(name: str) -> None:
    tool = get_tool(name)
    args = tool.parser(f"ebpf tool {name}").parse_args(
        ["-p", "42", "-c", "sleep", "-d", "1.5", "-T", "--json"]
    )
    options = tool.parse_options(args)
    assert (options.pid, options.comm, options.duration, options.timestamps) == (42, "sleep", 1.5, True)
    assert args.json is True


def test_execsnoop_records_decode_the_argument_strings() -> None:
    from ebpf.core.tools import execsnoop

    raw = execsnoop._Event()
    raw.pid, raw.ppid, raw.retval, raw.comm = 7, 1, 0, b"echo"
    text = b"/bin/echo\0hello\0world\0"
    raw.args[: len(text)] = list(text)
    raw.args_size, raw.args_count = len(text), 2
    event = execsnoop._convert(raw)
    assert (event.filename, event.args, event.truncated) == (
        "/bin/echo",
        ("/bin/echo", "hello", "world"),
        False,
    )
    json.dumps(event.to_dict())
    line = execsnoop.TOOL.format(event, execsnoop.Options())
    assert line.split() == ["echo", "7", "1", "0", "/bin/echo", "hello", "world"]
    assert str(execsnoop.TOOL.header(execsnoop.Options(timestamps=True))).startswith("TIME")


def test_execsnoop_fails_option() -> None:
    from ebpf.core.tools import execsnoop

    parser = execsnoop.TOOL.parser("execsnoop")
    assert execsnoop.TOOL.parse_options(parser.parse_args([])).failed is False
    assert execsnoop.TOOL.parse_options(parser.parse_args(["-x"])).failed is True


def test_an_interval_tracer_reports_each_interval_and_at_the_end() -> None:
    count = iter(range(100))
    stack = ExitStack()
    closed: list[bool] = []
    stack.callback(lambda: closed.append(True))
    with IntervalTracer(stack, 0.35, 0.1, lambda: next(count)) as tracer:
        started = time.monotonic()
        reports = list(tracer)
        elapsed = time.monotonic() - started
        assert tracer.flush() == [len(reports)]
    assert reports == list(range(len(reports)))
    assert 3 <= len(reports) <= 4  # three full intervals, then the end
    assert 0.3 <= elapsed < 1.0
    assert closed == [True]
    with pytest.raises(ValueError, match="closed"):
        tracer.poll(0)


def test_an_interval_tracer_without_interval_reports_once() -> None:
    with IntervalTracer(ExitStack(), 0.1, None, lambda: "summary") as tracer:
        assert list(tracer) == ["summary"]


def test_the_cli_lists_the_tools(capsys: pytest.CaptureFixture[str]) -> None:
    from ebpf.core.cli import main

    assert main(["tool", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed] == list(TOOL_NAMES)
    assert main(["tool", "nosuchtool"]) == 1
    assert "no tool 'nosuchtool'" in capsys.readouterr().err


def test_options_from_args_ignores_what_the_options_lack() -> None:
    from ebpf.core.tools._options import options_from_args

    args = argparse.Namespace(pid=3, json=True, comm=None, other="x")
    assert options_from_args(CommonOptions, args) == CommonOptions(pid=3)


def test_opensnoop_records_and_text() -> None:
    from ebpf.core.tools import opensnoop

    raw = opensnoop._Event()
    raw.pid, raw.ret, raw.flags, raw.comm, raw.fname = 9, -13, 0, b"cat", b"/etc/shadow"
    event = opensnoop._convert(raw)
    assert (event.path, event.ret, event.comm) == ("/etc/shadow", -13, "cat")
    line = opensnoop.TOOL.format(event, opensnoop.Options())
    assert line.split() == ["9", "cat", "-1", "13", "/etc/shadow"]
    assert opensnoop.TOOL.parse_options(opensnoop.TOOL.parser("o").parse_args(["-x"])).failed is True


def test_exitsnoop_decodes_status_signal_and_age() -> None:
    from ebpf.core.tools import exitsnoop

    raw = exitsnoop._Event()
    raw.pid, raw.ts_ns, raw.start_ns, raw.comm = 5, 3_500_000_000, 1_000_000_000, b"sh"
    raw.exit_code = 7 << 8
    event = exitsnoop._convert(raw)
    assert (event.status, event.signal, event.core, event.age) == (7, 0, False, 2.5)
    raw.exit_code = 0x80 | 11
    event = exitsnoop._convert(raw)
    assert (event.status, event.signal, event.core) == (0, 11, True)
    assert exitsnoop.TOOL.format(event, exitsnoop.Options()).endswith("signal 11 (SIGSEGV), core dumped")


def test_syscall_names_per_architecture() -> None:
    from ebpf.core.tools.syscount import syscall_name

    assert (syscall_name(0, "x86_64"), syscall_name(39, "x86_64"), syscall_name(321, "x86_64")) == (
        "read",
        "getpid",
        "bpf",
    )
    assert (syscall_name(56, "aarch64"), syscall_name(280, "arm64"), syscall_name(79, "aarch64")) == (
        "openat",
        "bpf",
        "newfstatat",
    )
    assert syscall_name(99999, "x86_64") == "syscall 99999"


def test_syscount_summarizes_sorts_and_clears() -> None:
    from ebpf.core.tools import syscount

    counts: dict[int, dict[str, object]] = {
        10: {"count": 5, "total_ns": 100, "comm": "a"},
        11: {"count": 9, "total_ns": 10, "comm": "b"},
        12: {"count": 1, "total_ns": 5000, "comm": "c"},
    }
    by_count = syscount._summarize(dict(counts), syscount.Options(per_process=True, top=2))  # type: ignore[arg-type]
    assert [(r.key, r.name, r.count, r.total_ns) for r in by_count.rows] == [
        (11, "b", 9, None),
        (10, "a", 5, None),
    ]
    assert by_count.total == 15
    live = dict(counts)
    options = syscount.Options(per_process=True, latency=True)
    by_time = syscount._summarize(live, options)  # type: ignore[arg-type]
    assert [r.key for r in by_time.rows] == [12, 10, 11]
    assert live == {}
    text = syscount.TOOL.format(by_time, options)
    assert text.splitlines()[1].split() == ["12", "c", "1", "5.000"]
    json.dumps(by_time.to_dict())


def test_histogram_reports_read_clear_and_print_per_key() -> None:
    from ebpf.core.tools import runqlat
    from ebpf.core.tools._histograms import read_histograms

    hists = {
        (7, 3): 2,  # pid 7: two waits of 8..15 us
        (7, 0): 1,
        (9, 10): 4,
    }
    live = dict(hists)
    report = read_histograms(live, "us", "pid", lambda pid: f"task{pid}")
    assert live == {}
    assert sorted(report.histograms) == [7, 9]
    assert report.histograms[7].total == 3
    assert report.labels == {7: "task7", 9: "task9"}
    bucket = next(b for b in report.histograms[9].buckets if b.count)
    assert (bucket.low, bucket.high, bucket.count) == (1024, 2047, 4)
    text = runqlat.TOOL.format(report, runqlat.Options(per_process=True))
    assert "pid = 7 task7" in text
    assert "8 -> 15" in text
    as_json = json.loads(json.dumps(report.to_dict()))
    assert [h["pid"] for h in as_json["histograms"]] == [7, 9]


def test_tcp_tools_decode_addresses_and_refuse_bad_ports() -> None:
    import ipaddress
    import socket

    from ebpf.core.tools import tcpconnect, tcplife

    raw = tcplife._Event()
    raw.pid, raw.comm, raw.rx_bytes, raw.tx_bytes, raw.span_ns = 3, b"curl", 2048, 100, 1_500_000
    raw.addrs.family, raw.addrs.sport, raw.addrs.dport = socket.AF_INET6, 40000, 443
    raw.addrs.saddr[:16] = list(ipaddress.IPv6Address("::1").packed)
    raw.addrs.daddr[:16] = list(ipaddress.IPv6Address("2001:db8::1").packed)
    session = tcplife._convert(raw)
    assert (session.family, str(session.saddr), str(session.daddr)) == (6, "::1", "2001:db8::1")
    assert session.duration == 0.0015
    assert json.loads(json.dumps(session.to_dict()))["daddr"] == "2001:db8::1"
    assert tcplife.TOOL.format(session, tcplife.Options()).split()[-3:] == ["0", "2", "1.50"]
    conn = tcpconnect._Event()
    conn.addrs.family, conn.addrs.dport = socket.AF_INET, 80
    conn.addrs.daddr[:4] = [10, 0, 0, 1]
    event = tcpconnect._convert(conn)
    assert (event.family, str(event.daddr), event.dport) == (4, "10.0.0.1", 80)
    for options in (tcpconnect.Options, tcplife.Options):
        with pytest.raises(ValueError, match="port"):
            options(port=70000)
