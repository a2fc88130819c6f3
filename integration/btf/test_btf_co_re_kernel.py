"""CO-RE against the running kernel: programs compiled once against deliberately different
local layouts are relocated, loaded (poisoned dead code and all) and read the right kernel data."""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R6,
    R9,
    R10,
    W,
    add,
    assemble,
    call,
    core_enum_value,
    core_field_exists,
    core_field_offset,
    core_type_matches,
    core_type_size,
    encode,
    enumerate_slots,
    exit_,
    load,
    mov,
    resolve_labels,
    store,
)
from ebpf.btf import (
    BtfBuilder,
    CoreRelocator,
    Enum,
    Int,
    IntEncoding,
    Kind,
    Member,
    Struct,
    TypeGraph,
    load_vmlinux,
)
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import features
from ebpf.syscall.abi import CoreReloKind, ProgType
from ebpf.syscall.flags import ProgLoadFlags
from tests.btf._btf_support import VMLINUX
from tests.btf.test_btf_co_re_objects import (
    bitfield_load,
    core_bits_expectations,
    core_object,
    struct_named,
)

pytestmark = [
    pytest.mark.skipif(not VMLINUX.exists(), reason="the kernel exposes no BTF"),
    pytest.mark.requires_feature(features.prog_type_feature(ProgType.SYSCALL)),
]

K = CoreReloKind


@pytest.fixture(scope="module")
def vmlinux() -> TypeGraph:
    return load_vmlinux()


def run_syscall_program(name: str, code: bytes, ctx: bytes) -> bytes:
    """Load ``code`` as a sleepable syscall program, run it once on ``ctx`` and return the ctx it left."""
    spec = ProgramSpec(name, ProgType.SYSCALL, code, flags=ProgLoadFlags.SLEEPABLE)
    with Program.load(spec) as program:
        return program.test_run(ctx=ctx).ctx_out


@pytest.fixture
def reset_on_fork() -> Iterator[None]:
    """Set SCHED_RESET_ON_FORK on this thread (task_struct's sched_reset_on_fork bitfield) for the test."""
    os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
    try:
        yield
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def test_task_struct_through_local_flavours(vmlinux: TypeGraph, reset_on_fork: None) -> None:
    program = core_object("core_task")
    code, report = CoreRelocator(program.graph).relocate(program.instructions, program.relocations)
    ctx = run_syscall_program("core_task", code, bytes(256))
    out = struct.unpack("<30q", ctx[:240])
    comm = ctx[240:256]

    # the kernel's data, read through the local layouts
    assert out[0] == threading.get_native_id()
    assert out[1] == os.getpid()
    assert out[2] == os.getppid()
    assert out[3] == 1  # sched_reset_on_fork, set by the fixture
    assert out[4] == os.getpgid(0)
    assert out[5] == os.getsid(0)
    assert comm.rstrip(b"\0") == Path("/proc/thread-self/comm").read_bytes().strip()

    # the values of the relocations, from vmlinux BTF
    task = struct_named(vmlinux, "task_struct")
    names = {m.name for m in task.members}
    assert (out[6], out[7]) == (int("state" in names), int("__state" in names))
    assert out[8] == 0  # TASK_RUNNING: this very task is running the program
    assert (out[9], out[10]) == (0, -1)  # the field of no kernel: guarded read never ran
    iter_num = vmlinux.find_all("bpf_iter_num", Kind.STRUCT)
    assert (out[11], out[12]) == ((1, vmlinux.size_of(iter_num[0])) if iter_num else (0, 0))
    assert out[13] == 0
    assert out[14] == task.id
    assert out[15] == struct_named(program.graph, "task_struct___mine").id
    assert out[16] == task.size
    pid = task.member("pid")
    pid_int = vmlinux.resolve(pid.type_id)
    assert isinstance(pid_int, Int)
    assert (out[17], out[18], out[19]) == (pid.byte_offset, pid_int.size, int(pid_int.signed))
    flag = task.member("sched_reset_on_fork")
    flag_type = vmlinux.resolve(flag.type_id)
    assert isinstance(flag_type, Int)
    assert out[20:24] == bitfield_load(vmlinux, flag.bit_offset, flag.bitfield_size, flag_type.size)
    assert out[24] == int(flag_type.signed)
    kernel_pid_type = vmlinux.find("pid_type", Kind.ENUM)
    assert isinstance(kernel_pid_type, Enum)
    assert (out[25], out[26]) == (kernel_pid_type.value("PIDTYPE_PGID"), kernel_pid_type.value("PIDTYPE_SID"))
    assert (out[27], out[28]) == (1, 0)
    assert out[29] == task.member("real_parent").byte_offset

    # the report: the reads guarded by failed existence checks were poisoned, nothing else
    poisoned = {(r.local_type, r.kind) for r in report if r.poisoned}
    expected = {("struct task_struct___nope", K.FIELD_BYTE_OFFSET)}
    if "state" not in names:
        expected.add(("struct task_struct___old", K.FIELD_BYTE_OFFSET))
    assert poisoned == expected
    mine = [r for r in report if r.local_type == "struct task_struct___mine" and r.kind != K.TYPE_ID_LOCAL]
    assert mine
    assert all(
        r.target is not None and r.target.startswith(f"struct task_struct [id {task.id}]") for r in mine
    )


def test_the_bitfield_is_read_from_the_kernel(vmlinux: TypeGraph) -> None:
    # without SCHED_RESET_ON_FORK the same program reads 0 where the other test read 1
    program = core_object("core_task")
    code, _ = CoreRelocator(program.graph, [vmlinux]).relocate(program.instructions, program.relocations)
    out = struct.unpack("<30q", run_syscall_program("core_task", code, bytes(256))[:240])
    assert out[3] == 0
    assert out[1] == os.getpid()


def test_struct_read_through_an_external_target_btf() -> None:
    program = core_object("core_bits")
    target = core_object("core_bits_target")
    code, _ = CoreRelocator(program.graph, [target.graph]).relocate(program.instructions, program.relocations)
    sample = target.section(".data")
    out = struct.unpack(
        "<32q", run_syscall_program("core_bits", code, sample.ljust(128, b"\0") + bytes(256))[128:]
    )
    # the values of core_bits_sample in core_bits_target.c, read through the local layout
    assert out[:11] == (0x100000005, -99, 1, -7, 0xABC, 77, 11, 30, -20, 4242, 13)
    expected = core_bits_expectations(program.graph, target.graph)
    assert out[11:32] == (
        expected[(K.FIELD_EXISTS, "missing")],
        expected[(K.FIELD_EXISTS, "wide")],
        expected[(K.FIELD_BYTE_OFFSET, "wide")],
        expected[(K.FIELD_BYTE_SIZE, "wide")],
        expected[(K.FIELD_SIGNED, "sval")],
        expected[(K.FIELD_SIGNED, "wide")],
        expected[(K.FIELD_LSHIFT_U64, "sval")],
        expected[(K.FIELD_RSHIFT_U64, "sval")],
        expected[(K.FIELD_BYTE_OFFSET, "a")],
        expected[(K.FIELD_BYTE_SIZE, "a")],
        expected[(K.TYPE_EXISTS, "struct core_bits___local")],
        expected[(K.TYPE_SIZE, "struct core_bits___local")],
        expected[(K.TYPE_EXISTS, "struct core_absent___local")],
        expected[(K.TYPE_SIZE, "struct core_absent___local")],
        expected[(K.TYPE_ID_LOCAL, "struct core_bits___local")],
        expected[(K.TYPE_ID_TARGET, "struct core_bits___local")],
        expected[(K.ENUMVAL_EXISTS, "CORE_YELLOW")],
        expected[(K.ENUMVAL_VALUE, "CORE_GREEN")],
        expected[(K.ENUMVAL_EXISTS, "CORE_BLUE")],
        expected[(K.ENUMVAL_VALUE, "CORE_BLUE")],
        -1,  # CORE_YELLOW's value: poisoned, never reached
    )


def placeholder_local_types() -> TypeGraph:
    """Local BTF for TYPE_MATCHES placeholders: one shape the kernel's task_struct has, one it has not."""
    b = BtfBuilder()
    i32 = b.add(Int(0, "int", 4, IntEncoding.SIGNED, bits=32))
    char = b.add(Int(0, "char", 1, IntEncoding.SIGNED, bits=8))
    b.add(Struct(0, "task_struct___mine", 8, (Member("tgid", i32, 0), Member("pid", i32, 32))))
    b.add(Struct(0, "task_struct___bad", 1, (Member("pid", char, 0),)))
    return b.graph("placeholder types")


def test_asm_placeholders_relocated_and_loaded(vmlinux: TypeGraph) -> None:
    items = [
        mov(R9, R1),
        call("get_current_task"),
        mov(R6, R0),
        core_field_offset(R3, "task_struct.tgid"),
        add(R3, R6),
        mov(R1, R10),
        add(R1, -8),
        mov(R2, 4),
        call("probe_read_kernel"),
        load(R1, R10, -8, W),
        store(R9, 0, R1, DW),
        core_type_matches(R1, "task_struct___mine"),
        store(R9, 8, R1, DW),
        core_type_matches(R1, "task_struct___bad"),
        store(R9, 16, R1, DW),
        core_field_exists(R1, "task_struct.no_such_field"),
        store(R9, 24, R1, DW),
        core_enum_value(R1, "pid_type.PIDTYPE_SID"),
        store(R9, 32, R1, DW),
        core_type_size(R1, "struct task_struct"),
        store(R9, 40, R1, DW),
        mov(R0, 0),
        exit_(),
    ]
    insns = resolve_labels(items)
    placeholders = [(slot, insn.relocation) for slot, insn in enumerate_slots(insns) if insn.relocation]
    relocator = CoreRelocator(placeholder_local_types(), [vmlinux])
    code, report = relocator.relocate_placeholders(encode(insns), placeholders)
    # assemble() does the same when given the relocator.
    assert assemble(items, core=relocator) == code
    out = struct.unpack("<6q", run_syscall_program("core_asm", code, bytes(48)))
    task = struct_named(vmlinux, "task_struct")
    pid_type = vmlinux.find("pid_type", Kind.ENUM)
    assert isinstance(pid_type, Enum)
    assert out == (os.getpid(), 1, 0, 0, pid_type.value("PIDTYPE_SID"), task.size)
    assert report[0].target_value == task.member("tgid").byte_offset
    assert not any(r.poisoned for r in report)


def test_assemble_resolves_kernel_named_placeholders_without_local_btf() -> None:
    items = [
        mov(R9, R1),
        core_field_offset(R1, "task_struct.tgid"),
        store(R9, 0, R1, DW),
        mov(R0, 0),
        exit_(),
    ]
    code = assemble(items, core=CoreRelocator())
    (offset,) = struct.unpack("<q", run_syscall_program("core_asm2", code, bytes(8)))
    vmlinux = load_vmlinux()
    assert offset == struct_named(vmlinux, "task_struct").member("tgid").byte_offset
