"""Perf event helpers without the kernel: ioctl numbers, names, sysfs/tracefs parsing, argument checks."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebpf.syscall import perf
from ebpf.syscall._generated import PerfEventAttr, PerfSwId
from ebpf.syscall.errors import BpfSyscallError, NotSupportedError, ParseError
from ebpf.syscall.perf import IocDirection, PerfFlag, ioc

# --- ioctl numbers ---------------------------------------------------------


def test_generic_ioctl_numbers() -> None:
    assert perf.PERF_EVENT_IOC_ENABLE == 0x2400
    assert perf.PERF_EVENT_IOC_DISABLE == 0x2401
    assert perf.PERF_EVENT_IOC_REFRESH == 0x2402
    assert perf.PERF_EVENT_IOC_RESET == 0x2403
    assert perf.PERF_EVENT_IOC_PERIOD == 0x40082404
    assert perf.PERF_EVENT_IOC_SET_OUTPUT == 0x2405
    assert perf.PERF_EVENT_IOC_SET_BPF == 0x40042408
    assert perf.PERF_EVENT_IOC_PAUSE_OUTPUT == 0x40042409


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="pointer-sized ioctls differ on 32-bit")
def test_pointer_sized_ioctl_numbers() -> None:
    assert perf.PERF_EVENT_IOC_ID == 0x80082407
    assert perf.PERF_EVENT_IOC_SET_FILTER == 0x40082406
    assert perf.PERF_EVENT_IOC_QUERY_BPF == 0xC008240A
    assert perf.PERF_EVENT_IOC_MODIFY_ATTRIBUTES == 0x4008240B


@pytest.mark.parametrize("machine", ["x86_64", "aarch64", "riscv64", "s390x", None])
def test_generic_encoding(machine: str | None) -> None:
    assert ioc(IocDirection.WRITE, "$", 8, 4, machine=machine) == 0x40042408
    assert ioc(IocDirection.READ, "$", 7, 8, machine=machine) == 0x80082407
    assert ioc(IocDirection.NONE, "$", 0, 0, machine=machine) == 0x2400


@pytest.mark.parametrize("machine", ["ppc64le", "ppc64", "mips64", "sparc64", "alpha"])
def test_alternative_encoding(machine: str) -> None:
    # powerpc/mips/sparc/alpha: 3 direction bits at 29 (NONE=1, READ=2, WRITE=4), 13 size bits.
    assert ioc(IocDirection.NONE, "$", 0, 0, machine=machine) == 0x20002400
    assert ioc(IocDirection.WRITE, "$", 8, 4, machine=machine) == 0x80042408
    assert ioc(IocDirection.READ, "$", 7, 8, machine=machine) == 0x40082407
    assert ioc(IocDirection.READ | IocDirection.WRITE, "$", 10, 8, machine=machine) == 0xC008240A


def test_ioc_range_checks() -> None:
    with pytest.raises(ValueError, match="out of range"):
        ioc(IocDirection.NONE, "$", 256, 0)
    with pytest.raises(ValueError, match="out of range"):
        ioc(IocDirection.WRITE, "$", 0, 1 << 14)
    with pytest.raises(ValueError, match="out of range"):
        ioc(IocDirection.WRITE, "$", 0, 1 << 13, machine="ppc64le")


def test_perf_flags() -> None:
    assert [int(flag) for flag in (PerfFlag.FD_NO_GROUP, PerfFlag.FD_OUTPUT, PerfFlag.PID_CGROUP)] == [
        1,
        2,
        4,
    ]
    assert int(PerfFlag.FD_CLOEXEC) == 8
    assert perf.PERF_UPROBE_REF_CTR_OFFSET_SHIFT == 32


@pytest.fixture
def devnull() -> Iterator[int]:
    fd = os.open(os.devnull, os.O_RDONLY)
    yield fd
    os.close(fd)


def test_ioctl_on_a_non_perf_fd(devnull: int) -> None:
    with pytest.raises(BpfSyscallError) as info:
        perf.enable(devnull)
    assert info.value.errno == errno.ENOTTY
    assert info.value.command == "PERF_EVENT_IOC_ENABLE"
    with pytest.raises(BpfSyscallError, match="PERF_EVENT_IOC_ID"):
        perf.event_id(devnull)


def test_ioctl_argument_checks() -> None:
    with pytest.raises(ValueError, match="invalid file descriptor"):
        perf.disable(-1)
    with pytest.raises(TypeError):
        perf.set_bpf("3", 4)  # type: ignore[arg-type]


# --- tracefs and PMUs ------------------------------------------------------


@pytest.fixture
def tracefs(tmp_path: Path) -> Path:
    event = tmp_path / "events" / "syscalls" / "sys_enter_getpid"
    event.mkdir(parents=True)
    (event / "id").write_text("309\n")
    bad = tmp_path / "events" / "bad" / "garbage"
    bad.mkdir(parents=True)
    (bad / "id").write_text("not a number\n")
    return tmp_path


def test_tracepoint_id(tracefs: Path) -> None:
    assert perf.tracepoint_id("syscalls", "sys_enter_getpid", tracefs) == 309
    assert perf.tracepoint_id("syscalls", "sys_enter_getpid", str(tracefs)) == 309


def test_unknown_tracepoint_says_where_it_looked(tracefs: Path) -> None:
    with pytest.raises(NotSupportedError) as info:
        perf.tracepoint_id("syscalls", "sys_enter_nothing", tracefs)
    message = str(info.value)
    assert "syscalls:sys_enter_nothing" in message
    assert str(tracefs / "events" / "syscalls" / "sys_enter_nothing" / "id") in message
    with pytest.raises(NotSupportedError, match="no category 'nope'"):
        perf.tracepoint_id("nope", "x", tracefs)


def test_tracepoint_id_garbage(tracefs: Path) -> None:
    with pytest.raises(ParseError, match="not a tracepoint id"):
        perf.tracepoint_id("bad", "garbage", tracefs)


@pytest.mark.parametrize(
    ("category", "name"),
    [
        ("..", "x"),
        ("syscalls", ".."),
        ("a/b", "c"),
        ("syscalls", "../../etc"),
        ("", "x"),
        ("a", ""),
        (".", "x"),
    ],
)
def test_tracepoint_name_validation(category: str, name: str, tracefs: Path) -> None:
    with pytest.raises(ValueError, match="invalid tracepoint"):
        perf.tracepoint_id(category, name, tracefs)


def test_tracepoint_name_types(tracefs: Path) -> None:
    with pytest.raises(TypeError):
        perf.tracepoint_id(b"syscalls", "x", tracefs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid"):
        perf.tracepoint_id("sys\0calls", "x", tracefs)


@pytest.fixture
def pmus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    uprobe = tmp_path / "uprobe"
    (uprobe / "format").mkdir(parents=True)
    (uprobe / "type").write_text("8\n")
    (uprobe / "format" / "retprobe").write_text("config:0\n")
    odd = tmp_path / "odd"
    (odd / "format").mkdir(parents=True)
    (odd / "type").write_text("nine\n")
    (odd / "format" / "retprobe").write_text("config1:0-3\n")
    ranged = tmp_path / "ranged" / "format"
    ranged.mkdir(parents=True)
    (ranged / "retprobe").write_text("config:5-5\n")
    monkeypatch.setattr(perf, "_PMU_ROOT", tmp_path)
    return tmp_path


@pytest.mark.usefixtures("pmus")
def test_pmu_type_and_retprobe_bit() -> None:
    assert perf.pmu_type("uprobe") == 8
    assert perf.retprobe_bit("uprobe") == 0
    assert perf.retprobe_bit("ranged") == 5


@pytest.mark.usefixtures("pmus")
def test_missing_pmu_names_the_version() -> None:
    with pytest.raises(NotSupportedError) as info:
        perf.pmu_type("kprobe")
    assert info.value.version == "4.17"
    assert "kprobe" in str(info.value)
    with pytest.raises(NotSupportedError, match=r"4\.17"):
        perf.retprobe_bit("kprobe")


@pytest.mark.usefixtures("pmus")
def test_pmu_garbage() -> None:
    with pytest.raises(ParseError, match="not a PMU type"):
        perf.pmu_type("odd")
    with pytest.raises(ParseError, match="config:0"):
        perf.retprobe_bit("odd")
    with pytest.raises(ValueError, match="invalid PMU name"):
        perf.pmu_type("../kprobe")


# --- argument checks before any syscall ------------------------------------


def test_open_event_needs_a_task_or_a_cpu() -> None:
    attr = PerfEventAttr()
    with pytest.raises(ValueError, match="both be -1"):
        perf.open_event(attr, pid=-1, cpu=-1)
    with pytest.raises(ValueError, match="pid"):
        perf.open_event(attr, pid=-2, cpu=0)
    with pytest.raises(TypeError, match="PerfEventAttr"):
        perf.open_event(object(), cpu=0)  # type: ignore[arg-type]


def test_open_probe_argument_checks() -> None:
    with pytest.raises(ValueError, match="kernel symbol"):
        perf.open_kprobe("")
    with pytest.raises(ValueError, match="offset 0"):
        perf.open_kprobe("do_sys_openat2", 4, retprobe=True)
    with pytest.raises(ValueError, match="uprobe path"):
        perf.open_uprobe("", 0)
    with pytest.raises(ValueError, match="offset"):
        perf.open_uprobe("/bin/true", -1)
    with pytest.raises(ValueError, match="ref_ctr_offset"):
        perf.open_uprobe("/bin/true", 0, ref_ctr_offset=1 << 32)
    with pytest.raises(TypeError, match="offset"):
        perf.open_uprobe("/bin/true", 1.5)  # type: ignore[arg-type]


def test_open_software_argument_checks() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        perf.open_software(PerfSwId.CPU_CLOCK, 0)
    with pytest.raises(ValueError, match="exactly one"):
        perf.open_software(PerfSwId.CPU_CLOCK, 0, sample_period=1, sample_frequency=99)
    with pytest.raises(ValueError, match="sample_period"):
        perf.open_software(PerfSwId.CPU_CLOCK, 0, sample_period=0)
    with pytest.raises(TypeError, match="config"):
        perf.open_software("cpu-clock", 0, sample_period=1)  # type: ignore[arg-type]


def test_open_bpf_output_argument_checks() -> None:
    with pytest.raises(ValueError, match="cpu"):
        perf.open_bpf_output(-1)
    with pytest.raises(ValueError, match="wakeup_events"):
        perf.open_bpf_output(0, 0)
