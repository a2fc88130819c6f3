"""Querying a type graph: names, kinds, members, bitfields, enums, functions, sizes, C spelling."""

from __future__ import annotations

import ctypes

import pytest

from ebpf.btf import (
    Composite,
    Enum,
    Enum64,
    Func,
    Int,
    Kind,
    Pointer,
    Struct,
    TypeGraph,
    Union,
    load_file,
)
from ebpf.syscall.abi import FuncLinkage
from tests.btf._btf_support import BPF_DIR, compile_c


@pytest.fixture(scope="module")
def kinds() -> TypeGraph:
    return load_file(compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds"))


def test_find_by_name_and_kind(vmlinux: TypeGraph) -> None:
    task = vmlinux.find("task_struct", Kind.STRUCT)
    assert isinstance(task, Struct)
    assert vmlinux[task.id] is task
    assert task in vmlinux.find_all("task_struct")
    with pytest.raises(KeyError, match="no UNION type named 'task_struct'"):
        vmlinux.find("task_struct", Kind.UNION)
    with pytest.raises(KeyError):
        vmlinux.find("no_such_type_in_any_kernel")
    with pytest.raises(ValueError, match="non-empty name"):
        vmlinux.find("")
    with pytest.raises(KeyError):
        vmlinux[vmlinux.last_id + 1]


def test_members_resolve_through_typedefs(vmlinux: TypeGraph) -> None:
    task = vmlinux.find("task_struct", Kind.STRUCT)
    assert isinstance(task, Struct)
    pid = task.member("pid")
    assert pid.bitfield_size == 0
    assert pid.bit_offset % 32 == 0
    assert str(pid.type) == "pid_t"
    resolved = vmlinux.resolve(pid.type)
    assert isinstance(resolved, Int)
    assert resolved.signed
    assert resolved.size == 4
    assert vmlinux.size_of(task) == task.size
    assert vmlinux.align_of(task) in (8, 64)
    assert str(task.member("comm").type) == "char[16]"


def test_kind_flag_bitfields(vmlinux: TypeGraph, kinds: TypeGraph) -> None:
    task = vmlinux.find("task_struct", Kind.STRUCT)
    assert isinstance(task, Struct)
    assert task.kind_flag
    assert [m.bitfield_size for m in task.members if m.name == "sched_reset_on_fork"] == [1]
    bits = kinds.find("bits", Kind.STRUCT)
    assert isinstance(bits, Struct)
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in bits.members] == [
        ("a", 0, 3),
        ("b", 3, 5),
        ("c", 8, 7),
        ("wide", 15, 40),
        ("tail", 56, 0),
    ]


def test_enums_signed_and_64_bit(vmlinux: TypeGraph) -> None:
    status = vmlinux.find("rpm_status", Kind.ENUM)
    assert isinstance(status, Enum)
    assert status.signed
    assert status.value("RPM_INVALID") == -1
    enum64s = list(vmlinux.of_kind(Kind.ENUM64))
    assert enum64s
    assert all(isinstance(e, Enum64) for e in enum64s)
    assert any(v.value >= 1 << 32 for e in enum64s if isinstance(e, Enum64) for v in e.values)


def test_functions_have_named_parameters(vmlinux: TypeGraph, kinds: TypeGraph) -> None:
    func = (
        vmlinux.find("bpf_prog_run_pin_on_cpu", Kind.FUNC)
        if vmlinux.find_all("bpf_prog_run_pin_on_cpu", Kind.FUNC)
        else next(vmlinux.of_kind(Kind.FUNC))
    )
    assert isinstance(func, Func)
    proto = vmlinux.func_proto(func)
    assert all(p.name for p in proto.params)
    helper = kinds.find("helper", Kind.FUNC)
    assert isinstance(helper, Func)
    assert helper.linkage == FuncLinkage.STATIC
    assert str(helper) == "int helper(struct bits *b, int x)"
    entry = kinds.find("entry", Kind.FUNC)
    assert isinstance(entry, Func)
    assert entry.linkage == FuncLinkage.GLOBAL


def test_anonymous_members_and_c_spelling(kinds: TypeGraph) -> None:
    outer = kinds.find("with_anon", Kind.STRUCT)
    assert isinstance(outer, Struct)
    anon = outer.members[1]
    assert anon.name == ""
    assert isinstance(anon.type, Union)
    assert anon.byte_offset == 8
    assert str(anon.type) == "union {...}"
    spelled = {m.name: str(m.type) for m in outer.members}
    assert spelled["callback"] == "int (*)(const char * restrict, ...)"
    assert spelled["handlers"] == "void (*[3])(int)"
    assert spelled["flags"] == "volatile const u32 *"
    assert spelled["opaque"] == "struct fwd_only *"
    assert isinstance(outer.member("opaque").type, Pointer)


def test_sizes_and_alignment_match_the_compiler(kinds: TypeGraph) -> None:
    class Packed(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("c", ctypes.c_char), ("i", ctypes.c_int), ("l", ctypes.c_longlong)]

    packed = kinds.find("packed_one", Kind.STRUCT)
    assert kinds.size_of(packed) == ctypes.sizeof(Packed)
    assert kinds.align_of(packed) == 1
    outer = kinds.find("with_anon", Kind.STRUCT)
    assert isinstance(outer, Composite)
    assert kinds.align_of(outer) == 8
    assert kinds.size_of(outer.member("handlers").type) == 3 * 8


def test_split_ids_continue_after_base(vmlinux: TypeGraph, kinds: TypeGraph) -> None:
    assert vmlinux.first_id == 1
    assert vmlinux.last_id == len(vmlinux)
    assert kinds.first_id == 1
    assert len(list(kinds)) == len(kinds)
