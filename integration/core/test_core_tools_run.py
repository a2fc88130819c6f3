"""The ready tools (``ebpf.core.tools``, ``ebpf tool NAME``) against the real kernel.

Each test starts a tool, causes the events it reports (execs, opens, exits,
system calls, sleeps...) and checks the values it reports about them.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from core._cli import CHILD_TIMEOUT, child_env

from ebpf.core.tools import (
    Hook,
    Tracer,
    biolatency,
    execsnoop,
    exitsnoop,
    opensnoop,
    runqlat,
    syscount,
    tcpconnect,
    tcplife,
)
from ebpf.syscall import ProgType, features

R = TypeVar("R")


def _collect(tracer: Tracer[R], done: Callable[[list[R]], bool], timeout: float = 5.0) -> list[R]:
    """Records from ``tracer`` until ``done(records)`` or ``timeout`` seconds."""
    records: list[R] = []
    deadline = time.monotonic() + timeout
    while not done(records) and time.monotonic() < deadline:
        records.extend(tracer.poll(0.1))
    return records


def _run_cli(
    args: Iterable[str], during: Callable[[], object], until: Callable[[list[Any]], bool] = bool
) -> list[Any]:
    """``ebpf tool ARGS --json`` in a child; ``during()`` repeats until ``until(records)``; then Ctrl-C.

    The child must end cleanly on SIGINT (exit status 0) and leave nothing loaded.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "ebpf.core", "tool", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert child.stdout is not None
    assert child.stderr is not None
    lines: list[str] = []
    errors: list[str] = []
    # Both pipes are read by threads until the child closes them (communicate() would read
    # stdout too, under the line reader's feet).
    readers = [
        threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + CHILD_TIMEOUT
    while (
        not until([json.loads(ln) for ln in list(lines)])
        and child.poll() is None
        and time.monotonic() < deadline
    ):
        during()
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    child.wait(timeout=CHILD_TIMEOUT)
    for reader in readers:
        reader.join(timeout=CHILD_TIMEOUT)
    assert child.returncode == 0, "".join(errors)
    return [json.loads(line) for line in lines if line.strip()]


# --- execsnoop -----------------------------------------------------------------------------


@pytest.mark.requires_feature(features.RINGBUF)
def test_execsnoop_reports_a_child_with_its_arguments_and_a_failed_exec(tmp_path: Any) -> None:
    missing = str(tmp_path / "no-such-program")
    with execsnoop.start(execsnoop.Options(failed=True)) as tracer:
        child = subprocess.run(["/bin/echo", "hello", "execsnoop"], capture_output=True, check=True)
        del child
        with pytest.raises(FileNotFoundError):
            subprocess.run([missing, "arg"], check=False)
        events = _collect(
            tracer, lambda evs: any(e.filename == missing for e in evs) and any(e.comm == "echo" for e in evs)
        )
    echo = [e for e in events if e.comm == "echo" and e.args[1:] == ("hello", "execsnoop")]
    assert len(echo) == 1, events
    assert (echo[0].filename, echo[0].retval, echo[0].ppid, echo[0].uid) == ("/bin/echo", 0, os.getpid(), 0)
    assert abs(echo[0].time - time.time()) < 10
    failed = [e for e in events if e.filename == missing]
    assert failed
    assert (failed[0].retval, failed[0].ppid) == (-2, os.getpid())  # ENOENT


@pytest.mark.requires_feature(features.RINGBUF)
def test_execsnoop_by_default_leaves_out_failures_and_filters_by_comm() -> None:
    with execsnoop.start(execsnoop.Options(comm="true")) as tracer:
        subprocess.run(["/bin/echo", "not me"], capture_output=True, check=True)
        subprocess.run(["/bin/true", "me"], check=True)
        with pytest.raises(FileNotFoundError):
            subprocess.run(["/nonexistent/true"], check=False)
        events = _collect(tracer, bool, timeout=2.0)
        events += tracer.poll(0.3)
    assert [(e.comm, e.args[1:], e.retval) for e in events] == [("true", ("me",), 0)]


@pytest.mark.requires_feature(features.RINGBUF)
def test_ebpf_tool_execsnoop_prints_json_lines() -> None:
    lines = _run_cli(
        ["execsnoop", "-c", "echo"],
        lambda: subprocess.run(["/bin/echo", "from-cli"], capture_output=True, check=True),
    )
    assert lines
    assert {(line["comm"], tuple(line["args"])) for line in lines} == {("echo", ("/bin/echo", "from-cli"))}


# --- opensnoop -----------------------------------------------------------------------------


@pytest.mark.requires_feature(features.RINGBUF)
def test_opensnoop_reports_this_process_opening_a_file_and_failing_to(tmp_path: Any) -> None:
    present, missing = tmp_path / "present", tmp_path / "missing"
    with opensnoop.start(opensnoop.Options(pid=os.getpid())) as tracer:
        fd = os.open(present, os.O_CREAT | os.O_WRONLY, 0o640)
        os.close(fd)
        with pytest.raises(FileNotFoundError):
            os.open(missing, os.O_RDONLY)
        events = _collect(tracer, lambda evs: {str(missing), str(present)} <= {e.path for e in evs})
    opened = [e for e in events if e.path == str(present)]
    assert len(opened) == 1
    assert (opened[0].ret, opened[0].pid, opened[0].mode) == (fd, os.getpid(), 0o640)
    assert opened[0].flags & (os.O_CREAT | os.O_WRONLY) == os.O_CREAT | os.O_WRONLY
    (failed,) = [e for e in events if e.path == str(missing)]
    assert failed.ret == -2  # ENOENT
    assert {e.pid for e in events} == {os.getpid()}


@pytest.mark.requires_feature(features.RINGBUF)
def test_ebpf_tool_opensnoop_only_failures(tmp_path: Any) -> None:
    missing = tmp_path / "missing"

    def touch() -> None:
        subprocess.run(["/bin/cat", str(missing)], capture_output=True, check=False)
        subprocess.run(["/bin/cat", "/proc/version"], capture_output=True, check=True)

    lines = _run_cli(["opensnoop", "-x", "-c", "cat"], touch, lambda lines: str(missing) in str(lines))
    assert ("cat", str(missing), -2) in {(line["comm"], line["path"], line["ret"]) for line in lines}
    assert all(line["ret"] < 0 and line["comm"] == "cat" for line in lines)  # cat's locale files too


# --- exitsnoop -----------------------------------------------------------------------------


@pytest.mark.requires_feature(features.RINGBUF)
def test_exitsnoop_reports_an_exit_status_a_signal_and_the_age() -> None:
    with exitsnoop.start(exitsnoop.Options(comm="sleep")) as tracer:
        quick = subprocess.Popen(["/bin/sleep", "0.3"])
        quick.wait()
        killed = subprocess.Popen(["/bin/sleep", "30"])
        time.sleep(0.1)
        killed.send_signal(signal.SIGTERM)
        killed.wait()
        failing = subprocess.run(["/bin/sleep", "--no-such-option"], capture_output=True, check=False)
        events = _collect(
            tracer, lambda evs: {quick.pid, killed.pid} <= {e.pid for e in evs} and len(evs) >= 3
        )
    by_pid = {e.pid: e for e in events}
    assert (by_pid[quick.pid].status, by_pid[quick.pid].signal, by_pid[quick.pid].ppid) == (0, 0, os.getpid())
    assert 0.25 <= by_pid[quick.pid].age < 5
    assert (by_pid[killed.pid].signal, by_pid[killed.pid].status) == (signal.SIGTERM, 0)
    assert any(e.status == failing.returncode != 0 for e in events)  # sleep's usage error
    assert {e.comm for e in events} == {"sleep"}


@pytest.mark.requires_feature(features.RINGBUF)
def test_ebpf_tool_exitsnoop_failed_only() -> None:
    def exits() -> None:
        subprocess.run(["/bin/sh", "-c", "exit 0"], check=True)
        subprocess.run(["/bin/sh", "-c", "exit 7"], check=False)

    lines = _run_cli(["exitsnoop", "-x", "-c", "sh"], exits)
    assert lines
    assert {(line["comm"], line["status"], line["signal"]) for line in lines} == {("sh", 7, 0)}


# --- syscount ------------------------------------------------------------------------------


def test_syscount_counts_this_process_calls_by_name() -> None:
    with syscount.start(syscount.Options(pid=os.getpid(), latency=True, top=0)) as tracer:
        for _ in range(1000):
            os.getppid()
        (report,) = tracer.flush()
        (after,) = tracer.flush()
    rows = {row.name: row for row in report.rows}
    assert 1000 <= rows["getppid"].count < 1100
    assert rows["getppid"].total_ns is not None
    assert 0 < rows["getppid"].total_ns < 1000 * 1_000_000  # under a millisecond each
    assert report.total == sum(row.count for row in report.rows)
    assert after.total < report.total  # each report clears the counts


def test_syscount_counts_failures_only_and_by_process() -> None:
    with syscount.start(syscount.Options(pid=os.getpid(), failed=True, per_process=True)) as tracer:
        for _ in range(50):
            with pytest.raises(OSError, match="Bad file descriptor"):
                os.close(-1)
        (report,) = tracer.flush()
    (row,) = report.rows
    assert (row.key, row.name) == (os.getpid(), Path("/proc/self/comm").read_text().strip())
    assert 50 <= row.count < 60


def test_ebpf_tool_syscount_reports_each_interval() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import os, time\nwhile True:\n    os.getppid(); time.sleep(0.001)"]
    )
    try:
        lines = _run_cli(
            ["syscount", "-p", str(child.pid), "-i", "0.3"], lambda: None, lambda lines: len(lines) >= 2
        )
    finally:
        child.kill()
        child.wait()
    assert len(lines) >= 2
    for line in lines[:2]:
        names = {row["name"]: row["count"] for row in line["rows"]}
        assert names.get("getppid", 0) > 10, line


def test_ebpf_tool_syscount_prints_its_summary_on_sigterm() -> None:
    """``timeout``, ``kill`` and service managers stop a tool with SIGTERM: the summary still comes."""
    worker = subprocess.Popen(
        [sys.executable, "-c", "import os, time\nwhile True:\n    os.getppid(); time.sleep(0.001)"]
    )
    tool = subprocess.Popen(
        [sys.executable, "-m", "ebpf.core", "tool", "syscount", "-p", str(worker.pid)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert tool.stdout is not None
    try:
        header = tool.stdout.readline()  # printed once every program is attached
        time.sleep(0.5)
        tool.send_signal(signal.SIGTERM)
        out, err = tool.communicate(timeout=CHILD_TIMEOUT)
    finally:
        worker.kill()
        worker.wait()
        if tool.poll() is None:
            tool.kill()
            tool.wait()
    assert tool.returncode == 0, err
    assert header.startswith("Tracing system calls"), header + out + err
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[1:] if line.strip()}
    assert counts.get("getppid", 0) > 10, out


# --- runqlat -------------------------------------------------------------------------------

# A real-time task that holds CPU 0 for 30 ms at a time: a normal task woken on CPU 0 waits for it.
_HOG = """
import os, time
os.sched_setaffinity(0, {0})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
end = time.monotonic() + 1.5
while time.monotonic() < end:
    busy = time.monotonic() + 0.03
    while time.monotonic() < busy:
        pass
    time.sleep(0.01)
"""
_SLEEPER = """
import os, sys, time
os.sched_setaffinity(0, {0})
sys.stdin.readline()
for _ in range(100):
    time.sleep(0.002)
"""


def _hooks() -> list[Any]:
    btf = pytest.param(
        "btf", marks=pytest.mark.requires_feature(features.prog_type_feature(ProgType.TRACING))
    )
    return [btf, "raw"]


@pytest.mark.parametrize("hook", _hooks())
def test_runqlat_counts_each_wakeup_of_a_sleeping_process(hook: Hook) -> None:
    with runqlat.start(runqlat.Options(pid=os.getpid(), per_process=True), hook=hook) as tracer:
        for _ in range(100):
            time.sleep(0.001)
        (report,) = tracer.flush()
    assert set(report.histograms) == {os.getpid()}
    assert report.labels[os.getpid()] == Path("/proc/self/comm").read_text().strip()
    hist = report.histograms[os.getpid()]
    # a wakeup that finds the task still on its run queue (the timer was quicker) has no sched_wakeup
    assert 50 <= hist.total <= 200, hist
    assert hist.unit.symbol == "us"


def test_runqlat_puts_the_wait_behind_a_real_time_task_in_its_bucket() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", _SLEEPER], stdin=subprocess.PIPE, text=True)
    assert sleeper.stdin is not None
    try:
        with runqlat.start(runqlat.Options(pid=sleeper.pid)) as tracer:
            hog = subprocess.Popen([sys.executable, "-c", _HOG])
            time.sleep(0.2)  # the hog has its CPU
            sleeper.stdin.write("go\n")
            sleeper.stdin.flush()
            assert sleeper.wait(timeout=CHILD_TIMEOUT) == 0
            assert hog.wait(timeout=CHILD_TIMEOUT) == 0
            (report,) = tracer.flush()
    finally:
        sleeper.kill()
        sleeper.wait()
    hist = report.histograms[0]
    behind_hog = sum(bucket.count for bucket in hist.buckets if bucket.low >= 4096)  # waits of 4 ms and more
    assert behind_hog >= 3, hist  # the hog holds the CPU 30 ms at a time
    assert all(bucket.low < 1 << 20 or bucket.count == 0 for bucket in hist.buckets), hist  # under a second


def test_ebpf_tool_runqlat_json() -> None:
    lines = _run_cli(["runqlat", "-i", "0.3", "-m"], lambda: time.sleep(0.01), lambda lines: len(lines) >= 1)
    (hist,) = lines[0]["histograms"]
    assert (hist["key"], hist["unit"], hist["kind"]) == (0, "ms", "log2")
    assert hist["total"] > 0


# --- biolatency ----------------------------------------------------------------------------


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB loop device backed by a file (skipped where loop devices are unavailable)."""
    losetup = shutil.which("losetup")
    if losetup is None or not Path("/dev/loop-control").exists():
        pytest.skip("no loop devices here (/dev/loop-control or losetup missing)")
    backing = tmp_path / "disk.img"
    with backing.open("wb") as f:
        f.truncate(16 << 20)
    made = subprocess.run(
        [losetup, "--find", "--show", str(backing)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        pytest.skip(f"cannot set up a loop device: {made.stderr.strip()}")
    device = Path(made.stdout.strip())
    try:
        yield device
    finally:
        subprocess.run([losetup, "--detach", str(device)], check=False)


def _direct_writes(device: Path, count: int) -> None:
    """``count`` 4 KiB writes to ``device`` bypassing the page cache, each waited for."""
    buffer = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
    buffer.write(b"x" * 4096)
    fd = os.open(device, os.O_WRONLY | os.O_DIRECT)
    try:
        for i in range(count):
            os.pwrite(fd, buffer, i * 4096)
    finally:
        os.close(fd)
        buffer.close()


@pytest.mark.parametrize("hook", _hooks())
def test_biolatency_times_each_write_to_a_loop_device(loop_device: Path, hook: Hook) -> None:
    st = os.stat(loop_device)
    dev = os.major(st.st_rdev) << 20 | os.minor(st.st_rdev)
    with biolatency.start(biolatency.Options(per_disk=True), hook=hook) as tracer:
        _direct_writes(loop_device, 64)
        (report,) = tracer.flush()
    assert dev in report.histograms, report
    assert report.labels[dev] == loop_device.name
    hist = report.histograms[dev]
    assert 64 <= hist.total <= 96, hist  # one request each (and what udev may read meanwhile)
    assert all(bucket.low < 1 << 20 or bucket.count == 0 for bucket in hist.buckets), hist  # under a second


def test_ebpf_tool_biolatency_queued_in_ms(loop_device: Path) -> None:
    lines = _run_cli(
        ["biolatency", "-Q", "-m", "-i", "0.5"],
        lambda: _direct_writes(loop_device, 8),
        lambda ls: bool(ls) and any(h["total"] for h in ls[-1]["histograms"]),
    )
    hist = next(h for line in lines for h in line["histograms"] if h["total"])
    assert (hist["key"], hist["unit"]) == (0, "ms")


# --- tcpconnect, tcplife -------------------------------------------------------------------

# A TCP server and client in a network namespace of their own: after "go", 5000 bytes one way,
# 300 back, both ends closed; prints the ports.
_TCP_PAIR = """
import socket, sys, time
server = socket.create_server(("127.0.0.1", 0))
port = server.getsockname()[1]
sys.stdin.readline()
client = socket.create_connection(("127.0.0.1", port))
accepted, _ = server.accept()
client.sendall(b"x" * 5000)
got = 0
while got < 5000:
    got += len(accepted.recv(65536))
accepted.sendall(b"y" * 300)
got = 0
while got < 300:
    got += len(client.recv(65536))
time.sleep(0.05)
print(port, client.getsockname()[1], flush=True)
client.close()
accepted.close()
server.close()
"""


def _tcp_pair() -> tuple[subprocess.Popen[str], Callable[[], tuple[int, int]]]:
    """The ``_TCP_PAIR`` child (not started until its ``go()``), which returns (server port, client port)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        pytest.skip("needs unshare (util-linux) and ip (iproute2)")
    child = subprocess.Popen(
        [
            unshare,
            "--net",
            "sh",
            "-c",
            f'{ip} link set lo up && exec "$0" -c "$1"',
            sys.executable,
            _TCP_PAIR,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def go() -> tuple[int, int]:
        out, _ = child.communicate("go\n", timeout=CHILD_TIMEOUT)
        assert child.returncode == 0
        server_port, client_port = map(int, out.split())
        return server_port, client_port

    return child, go


@pytest.mark.requires_feature(features.RINGBUF)
def test_tcpconnect_reports_a_connection_in_a_network_namespace() -> None:
    with tcpconnect.start() as tracer:
        child, go = _tcp_pair()
        server_port, _ = go()
        events = _collect(tracer, lambda evs: any(e.pid == child.pid for e in evs))
    (event,) = [e for e in events if e.pid == child.pid]
    assert (event.family, str(event.saddr), str(event.daddr), event.dport) == (
        4,
        "127.0.0.1",
        "127.0.0.1",
        server_port,
    )
    assert event.comm == Path(sys.executable).name[:15] or event.comm.startswith("python")


@pytest.mark.requires_feature(features.RINGBUF)
def test_tcplife_reports_both_ends_with_their_bytes() -> None:
    with tcplife.start() as tracer:
        child, go = _tcp_pair()
        server_port, client_port = go()
        events = _collect(tracer, lambda evs: len([e for e in evs if e.pid == child.pid]) >= 2)
    mine = {(e.sport, e.dport): e for e in events if e.pid == child.pid}
    assert set(mine) == {(client_port, server_port), (server_port, client_port)}, events  # no listener
    client, server = mine[client_port, server_port], mine[server_port, client_port]
    # the kernel's counts include the SYN and FIN sequence numbers where they were acknowledged or received
    overheads = [client.tx_bytes - 5000, client.rx_bytes - 300, server.rx_bytes - 5000, server.tx_bytes - 300]
    assert all(0 <= overhead <= 2 for overhead in overheads), (client, server)
    assert 0.04 <= client.duration < 30


def test_ebpf_tool_tcpconnect_json() -> None:
    pairs: dict[int, int] = {}  # child pid -> server port

    def connect() -> None:
        child, go = _tcp_pair()
        pairs[child.pid] = go()[0]

    lines = _run_cli(["tcpconnect"], connect, lambda lines: any(line["pid"] in pairs for line in lines))
    seen = [line for line in lines if line["pid"] in pairs]
    assert seen
    assert {(line["daddr"], line["dport"]) for line in seen} <= {
        ("127.0.0.1", port) for port in pairs.values()
    }
