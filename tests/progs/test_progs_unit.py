"""ebpf.progs without the kernel: names, specs, verifier errors, argument checks."""

from __future__ import annotations

import errno
import os
import pickle
import struct
from collections.abc import Iterator

import pytest

from ebpf.btf import Kind
from ebpf.progs import (
    Program,
    ProgramSpec,
    ProgramVerifierError,
    SourceLine,
    attach_cgroup,
    attach_iter,
    attach_kprobe,
    attach_raw_tracepoint,
    attach_socket_filter,
    attach_tracepoint,
    attach_tracing,
    attach_uprobe,
    parse_attach_type,
    parse_prog_type,
    parse_section,
    syscall_prefix,
)
from ebpf.progs._kernel_btf import find_type_in_blob
from ebpf.progs._verifier import failing_instruction, source_line
from ebpf.syscall import FD, AttachType, ParseError, ProgLoadFlags, ProgType, VerifierError

EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)
RET0 = struct.pack("<BBhi", 0xB7, 0, 0, 0) + EXIT


@pytest.mark.parametrize(
    ("section", "prog_type", "attach_type", "target"),
    [
        ("xdp", ProgType.XDP, AttachType.XDP, ""),
        ("kprobe/do_unlinkat", ProgType.KPROBE, None, "do_unlinkat"),
        ("cgroup_skb/egress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, ""),
        ("tp/syscalls/sys_enter_getpid", ProgType.TRACEPOINT, None, "syscalls/sys_enter_getpid"),
        ("fentry/vfs_read", ProgType.TRACING, AttachType.TRACE_FENTRY, "vfs_read"),
        ("lsm/file_open", ProgType.LSM, AttachType.LSM_MAC, "file_open"),
        ("iter/task", ProgType.TRACING, AttachType.TRACE_ITER, "task"),
        ("cgroup/connect_unix", ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_CONNECT, ""),
        ("sk_skb/stream_verdict", ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT, ""),
        ("uprobe.multi", ProgType.KPROBE, AttachType.TRACE_UPROBE_MULTI, ""),
        ("ksyscall/openat", ProgType.KPROBE, None, "openat"),
        ("usdt/libc.so.6:libc:setjmp", ProgType.KPROBE, None, "libc.so.6:libc:setjmp"),
        ("tp", ProgType.TRACEPOINT, None, ""),
        ("raw_tp", ProgType.RAW_TRACEPOINT, None, ""),
    ],
)
def test_section_names(
    section: str, prog_type: ProgType, attach_type: AttachType | None, target: str
) -> None:
    parsed = parse_section(section)
    assert (parsed.prog_type, parsed.attach_type, parsed.target) == (prog_type, attach_type, target)
    spec = ProgramSpec.from_section(section, RET0)
    assert (spec.type, spec.expected_attach_type, spec.attach_to) == (prog_type, attach_type, target)


def test_section_flags_and_retprobes() -> None:
    assert parse_section("fentry.s/vfs_read").flags == ProgLoadFlags.SLEEPABLE
    assert parse_section("xdp.frags").flags == ProgLoadFlags.XDP_HAS_FRAGS
    assert parse_section("kretprobe/do_exit").retprobe
    assert not parse_section("kprobe/do_exit").retprobe
    assert parse_section("kretsyscall/openat").retprobe
    assert parse_section("kretsyscall/openat").syscall
    assert parse_section("ksyscall/openat").syscall
    assert not parse_section("kprobe/do_exit").syscall
    assert ProgramSpec.from_section("ksyscall/openat", RET0).syscall


def test_bad_section_names() -> None:
    with pytest.raises(ValueError, match="known names"):
        parse_section("nonsense")
    with pytest.raises(ValueError, match="needs a target"):
        parse_section("fentry/")
    with pytest.raises(TypeError):
        parse_section(3)  # type: ignore[arg-type]


def test_type_names() -> None:
    assert parse_prog_type("sched_cls") == ProgType.SCHED_CLS
    assert parse_prog_type("xdp") == ProgType.XDP
    assert parse_prog_type("kprobe/do_unlinkat") == ProgType.KPROBE
    assert parse_prog_type(ProgType.LSM) == ProgType.LSM
    assert parse_attach_type("cgroup_skb/egress") == AttachType.CGROUP_INET_EGRESS
    assert parse_attach_type("CGROUP_INET_INGRESS") == AttachType.CGROUP_INET_INGRESS
    with pytest.raises(ValueError, match="does not name an attach type"):
        parse_attach_type("socket")
    with pytest.raises(ValueError, match="unknown program type"):
        parse_prog_type("not_a_type")
    with pytest.raises(ValueError, match="unknown program type 999"):
        parse_prog_type(999)


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        ProgramSpec(name="x", type=ProgType.XDP, instructions=b"")
    with pytest.raises(TypeError, match="encode"):
        ProgramSpec(name="x", type=ProgType.XDP, instructions=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="characters"):
        ProgramSpec(name="a b", type=ProgType.XDP, instructions=RET0)
    with pytest.raises(ValueError, match="needs the program's BTF"):
        ProgramSpec(name="x", type=ProgType.XDP, instructions=RET0, line_info=bytes(16))
    with pytest.raises(ValueError, match="record size"):
        ProgramSpec(name="x", type=ProgType.XDP, instructions=RET0, btf=b"", func_info=bytes(5))


def test_spec_accepts_encodable_instructions() -> None:
    class Insn:
        def __init__(self, raw: bytes) -> None:
            self.raw = raw

        def encode(self) -> bytes:
            return self.raw

    spec = ProgramSpec(name="x", type=ProgType.XDP, instructions=[Insn(RET0[:8]), Insn(EXIT)])  # type: ignore[arg-type]
    assert spec.instructions == RET0
    assert spec.instruction_count == 2


def test_syscall_prefix_from_kallsyms() -> None:
    x86 = ["ffffffff81000000 T __x64_sys_bpf", "ffffffff81000010 T __ia32_sys_bpf"]
    assert syscall_prefix(x86) == "__x64_sys_"
    assert syscall_prefix(["0000 T __arm64_sys_bpf"]) == "__arm64_sys_"
    assert syscall_prefix(["0000 T sys_bpf"]) == "sys_"


def test_failing_instruction_and_source_line() -> None:
    log = ["0: R1=ctx() R10=fp0", "0: (b7) r0 = 0", "1: (95) exit", "R0 !read_ok", "processed 2 insns"]
    assert failing_instruction(log) == 1
    assert failing_instruction(["no instructions"]) is None
    strings = b"\0a.c\0int x = 1;\0"
    btf = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, len(strings)) + strings
    records = struct.pack("<IIII", 0, 1, 5, (3 << 10) | 2) + struct.pack("<IIII", 4, 1, 5, (9 << 10) | 1)
    assert source_line(btf, records, 16, 2) == SourceLine("a.c", 3, 2, "int x = 1;")
    line = source_line(btf, records, 16, 7)
    assert line is not None
    assert line.line == 9


def test_program_verifier_error_text_and_pickling() -> None:
    err = ProgramVerifierError(
        errno.EACCES,
        "BPF_PROG_LOAD",
        "loading XDP program 'x'",
        ["0: (95) exit", "R0 !read_ok"],
        instruction=0,
        source=SourceLine("x.c", 4, 1, "return r;"),
    )
    assert isinstance(err, VerifierError)
    text = str(err)
    assert "R0 !read_ok" in text
    assert "x.c:4:1: return r;" in text
    again = pickle.loads(pickle.dumps(err))
    assert again.source == err.source
    assert again.log == err.log


def test_btf_blob_lookup_and_malformed_blobs() -> None:
    strings = b"\0int\0main\0"
    types = struct.pack("<IIII", 1, 1 << 24, 4, 32) + struct.pack("<III", 0, 13 << 24, 1)
    types += struct.pack("<III", 5, 12 << 24, 2)
    blob = (
        struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings
    )
    assert find_type_in_blob(blob, Kind.FUNC, "main", "test") == 3
    assert find_type_in_blob(blob, Kind.FUNC, "other", "test") is None
    with pytest.raises(ParseError, match="magic"):
        find_type_in_blob(b"\0" * 24, Kind.FUNC, "main", "test")
    with pytest.raises(ParseError, match=r"truncated|past"):
        find_type_in_blob(blob[:30] + blob[30:40], Kind.FUNC, "main", "test")


@pytest.fixture
def fake_program() -> Iterator[Program]:
    """A Program over /dev/null: the argument checks must reject it before any syscall."""
    prog = Program(FD(os.open(os.devnull, os.O_RDONLY)), name="fake", prog_type=ProgType.XDP)
    try:
        yield prog
    finally:
        prog.close()


def test_attach_functions_check_the_program_type_first(fake_program: Program) -> None:
    with pytest.raises(TypeError, match="TRACEPOINT"):
        attach_tracepoint(fake_program, "syscalls", "sys_enter_getpid")
    with pytest.raises(TypeError, match="RAW_TRACEPOINT"):
        attach_raw_tracepoint(fake_program, "sys_enter")
    with pytest.raises(TypeError, match="KPROBE"):
        attach_kprobe(fake_program, "do_unlinkat")
    with pytest.raises(TypeError, match="KPROBE"):
        attach_uprobe(fake_program, "/bin/sh", 0)
    with pytest.raises(TypeError, match="CGROUP_SKB"):
        attach_cgroup(fake_program, "/nonexistent")
    with pytest.raises(TypeError, match="SOCKET_FILTER"):
        attach_socket_filter(fake_program, 0)
    with pytest.raises(TypeError, match="TRACING"):
        attach_tracing(fake_program)
    with pytest.raises(TypeError, match="TRACING"):
        attach_iter(fake_program)
    fake_program.close()
    with pytest.raises(ValueError, match="closed"):
        attach_tracepoint(fake_program, "syscalls", "sys_enter_getpid")


def test_kprobe_arguments_are_checked(fake_program: Program) -> None:
    fake_program.type = ProgType.KPROBE
    with pytest.raises(ValueError, match="invalid kernel symbol"):
        attach_kprobe(fake_program, "two words")
    with pytest.raises(ValueError, match="offset 0"):
        attach_kprobe(fake_program, "do_exit", 4, retprobe=True)
    with pytest.raises(FileNotFoundError):
        attach_uprobe(fake_program, "/nonexistent/binary", 0)
