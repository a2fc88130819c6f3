"""Loading programs: info, pins, test runs and the verifier log strategy, against the kernel."""

from __future__ import annotations

import dataclasses
import errno
import os
import struct
from pathlib import Path

import pytest
from progs._progs_support import EXIT, MOV64_IMM, Counter, insn, returns

from ebpf.progs import Program, ProgramSpec, ProgramVerifierError, run_statistics
from ebpf.syscall import BpfSyscallError, ProgType, VerifierError, objects

XDP_PASS, XDP_DROP = 2, 1


def test_load_info_and_instruction_dumps(counter: Counter) -> None:
    spec = counter.spec("xdp", ret=XDP_PASS, name="info_test")
    with Program.load(spec) as prog:
        info = prog.info()
        assert info.name == "info_test"
        assert info.type == ProgType.XDP
        assert info.id == prog.id
        assert len(info.xlated_insns) % 8 == 0
        assert len(info.xlated_insns) >= len(spec.instructions) - 8
        assert info.jited_insns  # the JIT is always on here
        assert info.map_ids == (objects.get_map_info(counter.fd).id,)
        assert prog.verifier_log == []
    assert prog.closed


def test_test_run_xdp_returns_and_counts(counter: Counter) -> None:
    with Program.load(counter.spec("xdp", ret=XDP_DROP)) as prog:
        result = prog.test_run(bytes(64), repeat=10)
        assert result.retval == XDP_DROP
        assert result.data_out == bytes(64)
        assert result.duration_ns >= 0
        assert counter.value == 10


@pytest.mark.parametrize("section", ["socket", "tc", "cgroup_skb/egress"])
def test_test_run_packet_programs(counter: Counter, section: str) -> None:
    with Program.load(counter.spec(section, ret=1)) as prog:
        packet = bytes(14) + bytes([0x45]) + bytes(49)
        assert prog.test_run(packet, repeat=3).retval == 1
        assert counter.value == 3


def test_test_run_raw_tracepoint_with_context_on_a_cpu(counter: Counter) -> None:
    with Program.load(counter.spec("raw_tp/sys_enter", ret=7)) as prog:
        result = prog.test_run(ctx=bytes(16), cpu=0)
        assert result.retval == 7
        assert counter.value == 1


def test_test_run_syscall_program_writes_its_context() -> None:
    # r2 = 42; *(u32 *)(ctx + 0) = r2; return 3. A register store: the
    # verifier accepts an immediate store (BPF_ST) into a context only since
    # 6.4 (before, "BPF_ST stores into R1 ctx is not allowed").
    code = insn(0xB7, 2, 0, 0, 42) + insn(0x63, 1, 2, 0, 0) + returns(3)
    with Program.load(ProgramSpec.from_section("syscall", code, name="sys")) as prog:
        result = prog.test_run(ctx=bytes(8))
        assert result.retval == 3
        assert struct.unpack_from("<I", result.ctx_out)[0] == 42


def test_run_statistics_count_runs_while_enabled(counter: Counter) -> None:
    with Program.load(counter.spec("tp/syscalls/sys_enter_getpid")) as prog, prog.attach():
        with run_statistics():
            for _ in range(5):
                os.getpid()
            stats = prog.info(instructions=False)
        assert stats.run_count >= 5
        assert stats.run_time_ns > 0
        assert stats.xlated_insns == b""


def test_pin_and_open_again(counter: Counter, bpffs: Path) -> None:
    with Program.load(counter.spec("xdp", ret=XDP_PASS, name="pinned")) as prog:
        prog.pin(bpffs / "prog")
        prog_id = prog.id
    with Program.from_pin(bpffs / "prog") as again:
        assert again.id == prog_id
        assert again.type == ProgType.XDP
        assert again.name == "pinned"
        assert again.test_run(bytes(64)).retval == XDP_PASS
        again.unpin()
    assert not (bpffs / "prog").exists()
    with pytest.raises(BpfSyscallError) as exc:
        Program.from_id(prog_id)
    assert exc.value.errno == errno.ENOENT


def test_from_id(counter: Counter) -> None:
    with Program.load(counter.spec("socket")) as prog, Program.from_id(prog.id) as again:
        assert again.type == ProgType.SOCKET_FILTER


def test_log_level_keeps_the_log_and_statistics_of_a_good_load() -> None:
    spec = ProgramSpec.from_section("xdp", returns(XDP_PASS), name="logged")
    with Program.load(spec, log_level=2 | 4) as prog:
        assert any(line.startswith("processed ") for line in prog.verifier_log)
        assert any("r0 = 2" in line for line in prog.verifier_log)


def _long_failing_program(n: int) -> bytes:
    # n moves that each get a log line at level 1, then an exit with r0 unset:
    # "R0 !read_ok". The log is about 25 bytes per instruction.
    body = insn(MOV64_IMM, 1, imm=1) * n
    return body + insn(EXIT)


def test_verifier_log_that_overflows_the_first_buffer_is_kept_whole() -> None:
    n = 30_000  # about 700 KiB of log, more than the first 256 KiB buffer
    spec = ProgramSpec(name="long", type=ProgType.SOCKET_FILTER, instructions=_long_failing_program(n))
    with pytest.raises(VerifierError) as exc:
        Program.load(spec)
    err = exc.value
    assert isinstance(err, ProgramVerifierError)
    assert not err.truncated
    assert sum(1 for line in err.log if ": (b7) r1 = 1" in line) == n
    assert err.instruction == n
    assert "R0 !read_ok" in str(err)
    assert str(err).count("\n") < 20  # the cause and the last lines, not the whole log


def test_explicit_small_log_buffer_grows() -> None:
    spec = ProgramSpec(name="long", type=ProgType.SOCKET_FILTER, instructions=_long_failing_program(2000))
    with pytest.raises(ProgramVerifierError) as exc:
        Program.load(spec, log_level=1, log_size=1024)
    assert not exc.value.truncated
    assert sum(1 for line in exc.value.log if ": (b7) r1 = 1" in line) == 2000


def _btf_with_line_info(file_name: str, line_text: str) -> tuple[bytes, int, int]:
    """BTF with ``int main(void)`` and two strings; returns it with the strings' offsets."""
    strings = b"\0int\0main\0" + file_name.encode() + b"\0" + line_text.encode() + b"\0"
    file_off = strings.index(file_name.encode())
    text_off = strings.index(line_text.encode())
    types = b"".join(
        [
            struct.pack("<III", 1, (1 << 24), 4) + struct.pack("<I", (1 << 24) | 32),  # [1] INT int
            struct.pack("<III", 0, (13 << 24), 1),  # [2] FUNC_PROTO int (void)
            struct.pack("<III", 5, (12 << 24), 2),  # [3] FUNC main, static
        ]
    )
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings, file_off, text_off


def test_verifier_error_names_the_source_line() -> None:
    file_name, text = "prog.c", "return undefined_thing;"
    btf, file_off, text_off = _btf_with_line_info(file_name, text)
    line_info = struct.pack("<IIII", 0, file_off, text_off, (42 << 10) | 5)
    spec = ProgramSpec(
        name="lines",
        type=ProgType.SOCKET_FILTER,
        instructions=insn(EXIT),  # r0 is never set
        btf=btf,
        func_info=struct.pack("<II", 0, 3),
        line_info=line_info,
    )
    with pytest.raises(ProgramVerifierError) as exc:
        Program.load(spec)
    source = exc.value.source
    assert source is not None
    assert (source.file, source.line, source.column, source.text) == (file_name, 42, 5, text)
    assert "prog.c:42:5: return undefined_thing;" in str(exc.value)


def test_bad_spec_fails_before_the_kernel() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        ProgramSpec(name="x", type=ProgType.XDP, instructions=b"\0" * 12)
    with pytest.raises(ValueError, match="15"):
        ProgramSpec(name="a" * 20, type=ProgType.XDP, instructions=returns(0))
    spec = ProgramSpec(name="x", type=ProgType.TRACING, instructions=returns(0))
    with pytest.raises(ValueError, match="attach_to"):
        Program.load(spec)
    missing = dataclasses.replace(
        ProgramSpec.from_section("fentry/no_such_function_anywhere", returns(0)), name="missing"
    )
    with pytest.raises(ValueError, match="no FUNC 'no_such_function_anywhere'"):
        Program.load(missing)
    assert not [p for p in objects.list_programs() if p.name == "missing"]
