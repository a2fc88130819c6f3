"""Tracepoints, raw tracepoints, tp_btf, fentry/fexit, LSM, kprobes, perf events, iterators: fire, stop."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from progs._progs_support import Counter, insn

from ebpf.progs import (
    BpfLink,
    IterLink,
    Link,
    PerfEventLink,
    Program,
    ProgramSpec,
    attach_iter,
    attach_kprobe,
    attach_perf_event,
    attach_raw_tracepoint,
    attach_tracepoint,
    attach_tracing,
    lsm_hooks,
    syscall_function,
    syscall_prefix,
)
from ebpf.syscall import BpfSyscallError, LinkType, NotSupportedError, ProgType, features, perf
from ebpf.syscall.abi import PerfSwId


def _getpid() -> None:
    os.getpid()


def _open_file() -> None:
    with open("/proc/self/stat", "rb"):
        pass


def assert_fires_then_stops(
    counter: Counter, link: Link, trigger: Callable[[], None], times: int = 5
) -> None:
    """Trigger ``times`` times: the counter grows; close the link: it stops growing."""
    before = counter.value
    for _ in range(times):
        trigger()
    during = counter.value
    assert during - before >= times
    link.close()
    assert link.closed
    after_close = counter.value
    for _ in range(times):
        trigger()
    # Other processes' events may still be in flight on another CPU for a moment.
    time.sleep(0.05)
    settled = counter.value
    for _ in range(times):
        trigger()
    assert counter.value == settled
    assert settled - after_close <= 1


@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "perf_ioctl"])
def test_tracepoint_fires_then_stops(counter: Counter, legacy: bool) -> None:
    with Program.load(counter.spec("tracepoint/syscalls/sys_enter_getpid")) as prog:
        link = attach_tracepoint(prog, "syscalls", "sys_enter_getpid", legacy=legacy)
        assert isinstance(link, PerfEventLink if legacy else BpfLink)
        info = link.info()
        assert info.program_id == prog.id
        assert info.mechanism == ("perf_event" if legacy else "bpf_link")
        if not legacy:
            assert info.type == LinkType.PERF_EVENT
        assert_fires_then_stops(counter, link, _getpid)


def test_program_attach_from_the_section_name(counter: Counter) -> None:
    with Program.load(counter.spec("tp/syscalls/sys_enter_getpid")) as prog, prog.attach() as link:
        _getpid()
        assert counter.value >= 1
        assert "sys_enter_getpid" in link.target


def test_link_keeps_a_closed_program_running(counter: Counter) -> None:
    prog = Program.load(counter.spec("raw_tp/sys_enter"))
    link = attach_raw_tracepoint(prog, "sys_enter")
    prog.close()
    assert_fires_then_stops(counter, link, _getpid)


def test_raw_tracepoint_fires_then_stops(counter: Counter) -> None:
    with Program.load(counter.spec("raw_tracepoint/sys_enter")) as prog:
        link = attach_raw_tracepoint(prog, "sys_enter")
        assert link.info().type == LinkType.RAW_TRACEPOINT
        assert_fires_then_stops(counter, link, _getpid)


def test_tp_btf_fires_then_stops(counter: Counter) -> None:
    with Program.load(counter.spec("tp_btf/sys_enter")) as prog:
        link = attach_tracing(prog)
        assert link.info().type == LinkType.RAW_TRACEPOINT  # BPF_RAW_TRACEPOINT_OPEN makes this type
        assert_fires_then_stops(counter, link, _getpid)


@pytest.mark.requires_feature(features.FENTRY)
@pytest.mark.parametrize("section", ["fentry/do_sys_openat2", "fexit/do_sys_openat2"])
def test_fentry_fexit_fire_then_stop(counter: Counter, section: str) -> None:
    with Program.load(counter.spec(section)) as prog:
        assert_fires_then_stops(counter, attach_tracing(prog), _open_file)


@pytest.mark.requires_feature(features.prog_type_feature(ProgType.LSM))
@pytest.mark.requires_feature(features.FENTRY)  # LSM programs attach through BPF trampolines too
def test_lsm_hook_fires_then_stops(counter: Counter) -> None:
    # No probe can tell whether the BPF LSM is in the boot-time list of active LSMs: the program
    # type loads either way, only attaching fails.
    lsm = Path("/sys/kernel/security/lsm")
    if lsm.exists() and "bpf" not in lsm.read_text():
        pytest.skip(f"the BPF LSM is not active ({lsm}: {lsm.read_text().strip()})")
    with Program.load(counter.spec("lsm/file_open", ret=0)) as prog, prog.attach() as link:
        assert_fires_then_stops(counter, link, _open_file)


def test_lsm_hooks_are_listed_with_categories() -> None:
    hooks = {hook.name: hook.category for hook in lsm_hooks()}
    assert hooks["file_open"] == "file"
    assert hooks["bpf_map"] == "bpf"
    assert hooks["socket_connect"] == "network"
    assert hooks["task_alloc"] == "task"
    assert "func_proto" not in hooks


def test_pinned_link_survives_close_until_unpinned(counter: Counter, bpffs: Path) -> None:
    with Program.load(counter.spec("raw_tp/sys_enter")) as prog:
        link = attach_raw_tracepoint(prog, "sys_enter")
        link.pin(bpffs / "link")
        link_id = link.info().id
        link.close()
    before = counter.value
    _getpid()
    assert counter.value > before  # still attached through the pin
    again = Link.from_pin(bpffs / "link")
    assert again.info().id == link_id
    again.unpin()
    assert_fires_then_stops(counter, again, _getpid)


def test_unknown_tracepoint_and_wrong_program_type(counter: Counter) -> None:
    with Program.load(counter.spec("tp/syscalls/sys_enter_getpid")) as prog:
        with pytest.raises(NotSupportedError, match="no_such_tracepoint"):
            attach_tracepoint(prog, "syscalls", "no_such_tracepoint")
        with pytest.raises(TypeError, match="RAW_TRACEPOINT"):
            attach_raw_tracepoint(prog, "sys_enter")
    with Program.load(counter.spec("raw_tp/sys_enter")) as prog:
        with pytest.raises(BpfSyscallError, match="no_such_raw_tp"):
            attach_raw_tracepoint(prog, "no_such_raw_tp")
        with pytest.raises(TypeError, match="TRACEPOINT"):
            attach_tracepoint(prog, "syscalls", "sys_enter_getpid")


def test_syscall_prefix_of_the_running_kernel() -> None:
    prefix = syscall_prefix()
    expected = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}.get(os.uname().machine)
    if expected is not None:
        assert prefix == expected
    assert syscall_function("getpid") == prefix + "getpid"


@pytest.mark.requires_feature(features.KPROBE_PMU)
@pytest.mark.parametrize("retprobe", [False, True], ids=["kprobe", "kretprobe"])
@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "perf_ioctl"])
def test_kprobe_fires_then_stops(counter: Counter, retprobe: bool, legacy: bool) -> None:
    with Program.load(counter.spec("kprobe")) as prog:
        link = attach_kprobe(prog, syscall_function("getpid"), retprobe=retprobe, legacy=legacy)
        assert_fires_then_stops(counter, link, _getpid)


@pytest.mark.requires_feature(features.KPROBE_PMU)
def test_kprobe_on_a_missing_function_fails_cleanly(counter: Counter) -> None:
    with Program.load(counter.spec("kprobe")) as prog, pytest.raises((BpfSyscallError, OSError)):
        attach_kprobe(prog, "no_such_kernel_function_ebpf")


def _burn_cpu(cpu_seconds: float, done: Callable[[], bool] = lambda: False) -> None:
    """Spin on this thread's CPU for up to ``cpu_seconds`` of process time, or until ``done()``."""
    deadline = time.process_time() + cpu_seconds
    while time.process_time() < deadline and not done():
        pass


def test_perf_event_sampling_fires_then_stops(counter: Counter) -> None:
    with Program.load(counter.spec("perf_event")) as prog:
        # A task clock of this process that samples every 100 µs of CPU time. Without high-resolution
        # timers (some emulated guests) samples come only on the scheduler tick, so burn until the
        # counter moves, with a generous bound, rather than a fixed 2 ms.
        with perf.open_software(PerfSwId.TASK_CLOCK, -1, 0, sample_period=100_000) as event:
            link = attach_perf_event(prog, event)
        with link:
            before = counter.value
            _burn_cpu(5.0, lambda: counter.value > before)
            assert counter.value > before
        settled = counter.value
        _burn_cpu(0.05)  # a dozen ticks even at HZ=250
        assert counter.value == settled


def _iter_program() -> ProgramSpec:
    # ctx = struct bpf_iter__bpf_map {meta, map}: write "m\n" for every map, nothing at the end.
    code = b"".join(
        [
            insn(0x79, 2, 1, 8, 0),  # r2 = ctx->map
            insn(0x15, 2, 0, 7, 0),  # if r2 == 0 goto out
            insn(0x79, 1, 1, 0, 0),  # r1 = ctx->meta
            insn(0x79, 1, 1, 0, 0),  # r1 = meta->seq
            insn(0x6A, 10, 0, -8, 0x0A6D),  # *(u16 *)(r10 - 8) = "m\n"
            insn(0xBF, 2, 10),
            insn(0x07, 2, imm=-8),
            insn(0xB7, 3, imm=2),
            insn(0x85, imm=127),  # bpf_seq_write(seq, r10 - 8, 2)
            insn(0xB7, 0, imm=0),  # out: return 0
            insn(0x95),
        ]
    )
    return ProgramSpec.from_section("iter/bpf_map", code, name="maps")


def test_iterator_output_is_read_back(counter: Counter) -> None:
    with Program.load(_iter_program()) as prog, attach_iter(prog) as link:
        assert isinstance(link, IterLink)
        text = link.read_text()
        assert text.count("m\n") >= 1  # at least the counter map
        assert set(text) <= {"m", "\n"}
        assert link.info().type == LinkType.ITER


def test_iterator_needs_an_iterator_program(counter: Counter) -> None:
    with Program.load(counter.spec("raw_tp/sys_enter")) as prog, pytest.raises(TypeError):
        attach_iter(prog)


def test_tracing_spec_target_is_checked_in_btf(counter: Counter) -> None:
    spec = ProgramSpec.from_section("tp_btf/no_such_tracepoint_ebpf", counter.program(), name="bad")
    with pytest.raises(ValueError, match="btf_trace_no_such_tracepoint_ebpf"):
        Program.load(spec)
