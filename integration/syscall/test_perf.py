"""Perf events against the running kernel (as root): tracepoints, uprobes, kprobes, BPF output."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ebpf.syscall.perf as perf_module
from ebpf.syscall import _kernel, features
from ebpf.syscall._generated import Cmd, EnableStatsAttr, PerfSwId, ProgLoadAttr, ProgType
from ebpf.syscall.errors import BpfSyscallError, NotSupportedError
from ebpf.syscall.fd import FD
from ebpf.syscall.perf import (
    disable,
    enable,
    event_id,
    open_bpf_output,
    open_kprobe,
    open_software,
    open_tracepoint,
    open_uprobe,
    pmu_type,
    retprobe_bit,
    set_bpf,
    tracepoint_id,
)
from ebpf.syscall.system import ensure_tracefs, online_cpus, possible_cpus

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="integration tests run as root"),
]

_SRC = Path(perf_module.__file__).resolve().parents[2]
_KPROBE_PMU = Path("/sys/bus/event_source/devices/kprobe")


@pytest.fixture(scope="module")
def tracefs() -> Path:
    return ensure_tracefs(mount=True)


@pytest.fixture(scope="module")
def getpid_tp(tracefs: Path) -> int:
    return tracepoint_id("syscalls", "sys_enter_getpid", tracefs)


def _count(fd: FD) -> int:
    # With read_format 0, read() returns the event's counter as one u64.
    return int.from_bytes(os.read(fd.fileno(), 8), sys.byteorder)


def _hits(fd: FD, action: Callable[[], object], times: int = 5) -> int:
    before = _count(fd)
    for _ in range(times):
        action()
    return _count(fd) - before


def test_tracepoint_id(tracefs: Path, getpid_tp: int) -> None:
    assert getpid_tp > 0
    assert tracepoint_id("syscalls", "sys_exit_getpid") not in (0, getpid_tp)  # finds tracefs itself
    assert getpid_tp == int((tracefs / "events/syscalls/sys_enter_getpid/id").read_text())


def test_unknown_tracepoint(tracefs: Path) -> None:
    with pytest.raises(NotSupportedError) as info:
        tracepoint_id("syscalls", "sys_enter_no_such_call", tracefs)
    assert "syscalls:sys_enter_no_such_call" in str(info.value)
    assert str(tracefs / "events/syscalls/sys_enter_no_such_call/id") in str(info.value)
    with pytest.raises(ValueError, match="invalid tracepoint"):
        tracepoint_id("..", "syscalls", tracefs)


def test_tracepoint_event_counts_and_toggles(getpid_tp: int) -> None:
    # pid=0, cpu=-1: this thread on every CPU, so its own getpid() calls are counted.
    with open_tracepoint(getpid_tp, pid=0) as fd:
        assert _hits(fd, os.getpid) >= 5
        disable(fd)
        assert _hits(fd, os.getpid) == 0
        enable(fd)
        assert _hits(fd, os.getpid) >= 5
    assert fd.closed


def test_tracepoint_event_for_bpf(getpid_tp: int) -> None:
    with open_tracepoint(getpid_tp) as first, open_tracepoint(getpid_tp) as second:
        assert fcntl.fcntl(first.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        first_id = event_id(first)
        assert first_id > 0
        assert event_id(first) == first_id
        assert event_id(second) not in (0, first_id)
        enable(first)
        disable(first)


_RETURN_ZERO = bytes.fromhex("b700000000000000" + "9500000000000000")  # r0 = 0; exit


def _load_tracepoint_program() -> FD:
    insns = ctypes.create_string_buffer(_RETURN_ZERO, len(_RETURN_ZERO))
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = ProgLoadAttr()
    attr.prog_type = ProgType.TRACEPOINT
    attr.insn_cnt = len(_RETURN_ZERO) // 8
    attr.insns = ctypes.addressof(insns)
    attr.license = ctypes.addressof(license_)
    return FD(_kernel.bpf(Cmd.PROG_LOAD, attr, "loading a test tracepoint program"))


def _run_count(prog: FD) -> int:
    # /proc/<pid>/fdinfo of a program shows run_cnt while BPF stats are enabled.
    text = Path(f"/proc/self/fdinfo/{prog.fileno()}").read_text()
    match = re.search(r"^run_cnt:\s*(\d+)", text, re.MULTILINE)
    assert match is not None, text
    return int(match.group(1))


def test_set_bpf_runs_the_program(getpid_tp: int) -> None:
    stats_attr = EnableStatsAttr()
    stats_attr.type = 0  # BPF_STATS_RUN_TIME
    with (
        FD(_kernel.bpf(Cmd.ENABLE_STATS, stats_attr, "enabling BPF stats")),
        _load_tracepoint_program() as prog,
    ):
        with open_tracepoint(getpid_tp) as event:
            set_bpf(event, prog)
            enable(event)
            before = _run_count(prog)
            for _ in range(5):
                os.getpid()
            assert _run_count(prog) >= before + 5  # runs for getpid() on whichever CPU
            with pytest.raises(BpfSyscallError) as info:
                set_bpf(event, prog)  # one program per event
            assert info.value.errno == errno.EEXIST
            assert info.value.command == "PERF_EVENT_IOC_SET_BPF"
        # Closing the event's last fd detached the program.
        after = _run_count(prog)
        for _ in range(5):
            os.getpid()
        assert _run_count(prog) == after


def _libc_getpid_location() -> tuple[str, int]:
    """The file and file offset of libc's getpid, from its address in this process and /proc/self/maps."""
    address = ctypes.cast(ctypes.CDLL(None).getpid, ctypes.c_void_p).value
    assert address is not None
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[5], address - start + int(fields[2], 16)
    pytest.fail(f"getpid at {address:#x} is in no mapping")


@pytest.fixture(scope="module")
def getpid_uprobe() -> tuple[str, int]:
    pmu_type("uprobe")  # NotSupportedError (a failure, not a skip) on a kernel with uprobes but no PMU
    return _libc_getpid_location()


def test_uprobe_counts_calls(getpid_uprobe: tuple[str, int]) -> None:
    path, offset = getpid_uprobe
    with open_uprobe(path, offset, pid=0) as fd:
        assert event_id(fd) > 0
        assert _hits(fd, os.getpid) >= 5
        disable(fd)
        assert _hits(fd, os.getpid) == 0


def test_uretprobe_counts_returns(getpid_uprobe: tuple[str, int]) -> None:
    assert retprobe_bit("uprobe") >= 0
    path, offset = getpid_uprobe
    with open_uprobe(path, offset, retprobe=True, pid=0) as fd:
        assert _hits(fd, os.getpid) >= 5


def test_uprobe_for_every_process(getpid_uprobe: tuple[str, int]) -> None:
    path, offset = getpid_uprobe
    with open_uprobe(path, offset) as fd:  # pid=-1, cpu=0
        assert event_id(fd) > 0


def test_uprobe_on_a_missing_file() -> None:
    with pytest.raises(BpfSyscallError) as info:
        open_uprobe("/nonexistent/libfoo.so", 0x1000)
    assert info.value.errno == errno.ENOENT
    assert "/nonexistent/libfoo.so" in str(info.value)


def test_kprobe_pmu_absent_is_not_supported() -> None:
    if _KPROBE_PMU.exists():
        pytest.skip("this kernel has the kprobe PMU")
    with pytest.raises(NotSupportedError) as info:
        open_kprobe("do_sys_openat2")
    assert info.value.version == "4.17"
    assert "kprobe" in str(info.value)


def _getpid_syscall_symbol() -> str:
    names = {
        "__x64_sys_getpid",
        "__arm64_sys_getpid",
        "__riscv_sys_getpid",
        "__s390x_sys_getpid",
        "sys_getpid",
    }
    with open("/proc/kallsyms") as kallsyms:
        for line in kallsyms:
            symbol = line.split()[2]
            if symbol in names:
                return symbol
    pytest.skip("no getpid syscall symbol in /proc/kallsyms")


@pytest.mark.requires_feature(features.KPROBE_PMU)
def test_kprobe_counts_calls() -> None:
    symbol = _getpid_syscall_symbol()
    with open_kprobe(symbol, pid=0) as fd:
        assert _hits(fd, os.getpid) >= 5
    with open_kprobe(symbol, retprobe=True, pid=0) as fd:
        assert _hits(fd, os.getpid) >= 5
    with pytest.raises(BpfSyscallError):
        open_kprobe("no_such_kernel_function_ebpf_test")


def test_bpf_output_on_every_possible_cpu() -> None:
    online = set(online_cpus())
    ids = set()
    opened = 0
    for cpu in range(possible_cpus()):
        if cpu not in online:
            with pytest.raises(BpfSyscallError):
                open_bpf_output(cpu).close()
            continue
        with open_bpf_output(cpu) as fd:
            ids.add(event_id(fd))
            enable(fd)
            disable(fd)
            opened += 1
    assert opened == len(online)
    assert len(ids) == opened


def test_bpf_output_with_watermark() -> None:
    with open_bpf_output(online_cpus()[0], wakeup_watermark=4096) as fd:
        assert event_id(fd) > 0


def test_software_event_samples() -> None:
    # TASK_CLOCK counts nanoseconds this thread runs: busy work makes it grow.
    with open_software(PerfSwId.TASK_CLOCK, -1, 0, sample_period=1_000_000) as fd:
        before = _count(fd)
        deadline = time.monotonic() + 0.02
        while time.monotonic() < deadline:
            pass
        assert _count(fd) - before >= 5_000_000
    with open_software(PerfSwId.CPU_CLOCK, online_cpus()[0], sample_frequency=99) as fd:
        assert event_id(fd) > 0


@pytest.fixture
def paranoid() -> int:
    return int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv is not installed")
def test_without_cap_perfmon_permission_is_denied(getpid_tp: int, paranoid: int) -> None:
    if paranoid <= 0:
        pytest.skip(
            f"kernel.perf_event_paranoid={paranoid} lets unprivileged users open CPU-wide tracepoints"
        )
    script = """
import json, sys
from ebpf.syscall.errors import PermissionDeniedError
from ebpf.syscall.perf import open_tracepoint
from ebpf.syscall.system import effective_capabilities
result = {"caps": sorted(effective_capabilities())}
try:
    open_tracepoint(int(sys.argv[1])).close()
except PermissionDeniedError as exc:
    result.update(error=type(exc).__name__, capability=exc.capability, message=str(exc))
print(json.dumps(result))
"""
    # Still uid 0, but with empty capability sets: the kernel checks CAP_PERFMON.
    out = subprocess.run(
        [
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            sys.executable,
            "-c",
            script,
            str(getpid_tp),
        ],
        env={**os.environ, "PYTHONPATH": str(_SRC)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(out.stdout)
    assert result["caps"] == []
    assert result.get("error") == "PermissionDeniedError", result
    assert result["capability"] == "CAP_PERFMON"
    assert "CAP_PERFMON" in result["message"]
    assert "perf_event_open" in result["message"]
