"""kfunc calls and __ksym externs: parsed into references, resolved against a made-up kernel view.

What the running kernel does with them is in integration/elf/test_elf_kfuncs.py;
here the kernel's types are tests/btf/_fake_kernel.py's, so that a module's
kfunc (a BTF descriptor in fd_array, the call's off naming it) is covered
on any host.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from ebpf.btf import (
    BtfBuilder,
    Const,
    Func,
    FuncProto,
    Int,
    IntEncoding,
    KernelTypes,
    Member,
    Param,
    Pointer,
    Struct,
    TypeGraph,
    Var,
    VarLinkage,
)
from ebpf.elf import CollectionSpec, Reference, ReferenceKind
from ebpf.elf._externs import Extern
from ebpf.elf._ksyms import POISON_KFUNC_BASE, resolve_ksyms
from ebpf.elf._relocate import apply_references, read_insn
from ebpf.syscall.abi import FuncLinkage
from ebpf.syscall.errors import NotSupportedError, ParseError
from ebpf.syscall.fd import FD
from tests.btf._fake_kernel import MODULE, fake_kernel
from tests.elf._elf_corpus import compiled, spec_of

CALL = 0x85  # BPF_JMP | BPF_CALL
LD_IMM64 = 0x18


def test_kfunc_calls_parse_into_references_resolved_at_load() -> None:
    spec = spec_of("kfuncs")
    externs = {ext.name: ext for ext in spec._ksyms}
    assert {name for name, ext in externs.items() if ext.function} == {
        "bpf_task_from_pid",
        "bpf_task_acquire",
        "bpf_task_release",
        "bpf_rcu_read_lock",
        "bpf_rcu_read_unlock",
        "bpf_cpumask_create",
        "bpf_cpumask_release",
        "bpf_cpumask_set_cpu",
        "bpf_cpumask_test_cpu",
        "bpf_cpumask_weight",
        "bpf_dynptr_from_skb",
        "bpf_dynptr_slice",
        "bpf_kfunc_no_kernel_has",
    }
    assert {name for name, ext in externs.items() if ext.weak} == {
        "bpf_cpumask_weight",
        "bpf_kfunc_no_kernel_has",
    }
    assert all(spec.btf is not None and ext.declared_type for ext in externs.values())
    calls = {
        ref.name for ref in spec.references_of("inspect_task").values() if ref.kind is ReferenceKind.KFUNC
    }
    assert calls == {
        "bpf_task_from_pid",
        "bpf_task_acquire",
        "bpf_rcu_read_lock",
        "bpf_rcu_read_unlock",
        "bpf_task_release",
    }
    # bpf_ksym_exists(f) loads the function's address: a KSYM reference of an ld_imm64
    probe = spec.references_of("probe_kfuncs")
    assert {ref.name for ref in probe.values() if ref.kind is ReferenceKind.KSYM} == {
        "bpf_cpumask_weight",
        "bpf_kfunc_no_kernel_has",
    }
    code = spec.programs["probe_kfuncs"].instructions
    expected = {ReferenceKind.KFUNC: CALL, ReferenceKind.KSYM: LD_IMM64}
    for index, ref in probe.items():
        if ref.kind in expected:
            assert read_insn(code, index)[0] == expected[ref.kind], (index, ref)


def test_an_undefined_plain_extern_function_is_not_called_a_kfunc() -> None:
    with pytest.raises(ParseError) as caught:
        CollectionSpec.from_file(compiled("undefined_call"))
    message = str(caught.value)
    assert "'defined_in_another_object', which is undefined" in message
    assert "not a kernel function" in message
    assert "requires Linux" not in message


def test_objects_with_missing_or_unguarded_kfuncs_parse() -> None:
    for name in ("kfunc_missing", "kfunc_unguarded"):
        spec = spec_of(name)
        assert any(ext.name == "bpf_kfunc_no_kernel_has" for ext in spec._ksyms)


# --- resolution against a made-up kernel: vmlinux plus one module ----------------------


#: the descriptors the fake kernel handed out as module BTF objects
OPENED: list[FD] = []


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelTypes:
    OPENED.clear()

    def open_btf(self: KernelTypes, module: str) -> FD:
        assert module == MODULE
        fd = FD(os.open("/dev/null", os.O_RDONLY))  # stands in for the module's BTF object
        OPENED.append(fd)
        return fd

    monkeypatch.setattr(KernelTypes, "open_btf", open_btf)
    return KernelTypes(fake_kernel(tmp_path / "btf"))


def _local() -> tuple[TypeGraph, dict[str, int]]:
    """The object's side: declarations of the kernel's functions and a variable."""
    b = BtfBuilder()
    i = b.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    state = b.add(Struct(0, "mod_state", 4, (Member("counter", i, 0),)))
    state_ptr = b.add(Pointer(0, "", state))
    mod_proto = b.add(FuncProto(0, "", i, (Param("s", state_ptr),)))
    mod_func = b.add(Func(0, "mod_kfunc", mod_proto, FuncLinkage.EXTERN))
    task = b.add(Struct(0, "task_struct", 4, (Member("pid", i, 0),)))
    task_ptr = b.add(Pointer(0, "", task))
    task_proto = b.add(FuncProto(0, "", task_ptr, (Param("pid", i),)))
    task_func = b.add(Func(0, "bpf_task_from_pid", task_proto, FuncLinkage.EXTERN))
    wrong_proto = b.add(FuncProto(0, "", i, (Param("x", i), Param("y", i))))
    wrong_func = b.add(Func(0, "mod_kfunc___wrong", wrong_proto, FuncLinkage.EXTERN))
    const_int = b.add(Const(0, "", i))
    var = b.add(Var(0, "mod_var", const_int, VarLinkage.GLOBAL_EXTERN))
    ids = {
        "mod_kfunc": mod_func,
        "mod_proto": mod_proto,
        "bpf_task_from_pid": task_func,
        "task_proto": task_proto,
        "wrong": wrong_func,
        "wrong_proto": wrong_proto,
        "mod_var": var,
        "const int": const_int,
    }
    return b.graph("object"), ids


def _call() -> bytes:
    return struct.pack("<BBhi", CALL, 0x10, 0, -1)  # clang's call of an extern: src BPF_PSEUDO_CALL, imm -1


def test_a_module_kfunc_is_called_through_fd_array(kernel: KernelTypes) -> None:
    local, ids = _local()
    externs = [
        Extern(
            "bpf_task_from_pid",
            ids["bpf_task_from_pid"],
            False,
            function=True,
            declared_type=ids["task_proto"],
        ),
        Extern("mod_kfunc", ids["mod_kfunc"], False, function=True, declared_type=ids["mod_proto"]),
        # `extern const int mod_var __ksym;` stands for the module's `int mod_var`: modifiers are skipped
        Extern("mod_var", ids["mod_var"], False, declared_type=ids["const int"]),
    ]
    first = kernel.vmlinux.last_id + 1
    with resolve_ksyms(externs, local, kernel) as ksyms:
        module_fd = ksyms["mod_kfunc"].btf_fd
        assert module_fd > 0
        assert ksyms.fd_array == [0, module_fd]  # index 0 stays empty: off 0 means vmlinux
        assert (ksyms["mod_kfunc"].btf_id, ksyms["mod_kfunc"].fd_index) == (first + 3, 1)
        assert (ksyms["bpf_task_from_pid"].btf_id, ksyms["bpf_task_from_pid"].fd_index) == (7, 0)
        assert (ksyms["mod_var"].btf_id, ksyms["mod_var"].btf_fd) == (
            first + 4,
            module_fd,
        )  # one fd per module
        code = _call() + _call() + struct.pack("<BBhi", LD_IMM64, 0x01, 0, 0) + bytes(8)
        refs = {
            0: Reference(ReferenceKind.KFUNC, "mod_kfunc"),
            1: Reference(ReferenceKind.KFUNC, "bpf_task_from_pid"),
            2: Reference(ReferenceKind.KSYM, "mod_var"),
        }
        patched = apply_references(code, refs, {}, ksyms, "prog")
    # (opcode, dst, src, off, imm): BPF_PSEUDO_KFUNC_CALL with the BTF id; off is the fd_array index
    assert read_insn(patched, 0) == (CALL, 0, 2, 1, first + 3)
    assert read_insn(patched, 1) == (CALL, 0, 2, 0, 7)
    # a module's variable: BPF_PSEUDO_BTF_ID, the second half names the module's BTF by descriptor
    assert read_insn(patched, 2) == (LD_IMM64, 1, 3, 0, first + 4)
    assert read_insn(patched, 3)[4] == module_fd
    # one descriptor per module, closed with the resolution once the programs are loaded
    assert len(OPENED) == 1
    with pytest.raises(ValueError, match="closed"):
        OPENED[0].fileno()


def test_a_weak_kfunc_the_kernel_lacks_is_poisoned_like_libbpf(kernel: KernelTypes) -> None:
    local, ids = _local()
    externs = [
        Extern(
            "bpf_task_from_pid",
            ids["bpf_task_from_pid"],
            False,
            function=True,
            declared_type=ids["task_proto"],
        ),
        Extern("no_kernel_has", ids["mod_kfunc"], True, function=True, declared_type=ids["mod_proto"]),
    ]
    with resolve_ksyms(externs, local, kernel) as ksyms:
        assert ksyms.fd_array == []  # nothing from a module: no fd_array at all
        code = _call() + struct.pack("<BBhi", LD_IMM64, 0x01, 0, 0) + bytes(8)
        refs = {
            0: Reference(ReferenceKind.KFUNC, "no_kernel_has"),
            1: Reference(ReferenceKind.KSYM, "no_kernel_has"),
        }
        patched = apply_references(code, refs, {}, ksyms, "prog")
    # the call becomes an invalid helper call the verifier names; bpf_ksym_exists() loads 0
    assert read_insn(patched, 0) == (CALL, 0, 0, 0, POISON_KFUNC_BASE + 1)
    assert read_insn(patched, 1) == (LD_IMM64, 1, 0, 0, 0)
    assert read_insn(patched, 2)[4] == 0


def test_a_strong_kfunc_the_kernel_lacks_names_itself(kernel: KernelTypes) -> None:
    local, ids = _local()
    externs = [
        Extern("no_kernel_has", ids["mod_kfunc"], False, function=True, declared_type=ids["mod_proto"])
    ]
    with pytest.raises(NotSupportedError) as caught:
        resolve_ksyms(externs, local, kernel)
    assert OPENED == []
    message = str(caught.value)
    assert "kernel function (kfunc) 'no_kernel_has'" in message
    assert "not in the BTF of vmlinux or of any loaded module" in message
    assert "bpf_ksym_exists" in message
    assert "requires Linux" not in message


def test_a_kfunc_declared_with_another_prototype_is_refused(kernel: KernelTypes) -> None:
    local, ids = _local()
    # mod_kfunc___wrong: the flavour is dropped to find mod_kfunc, whose prototype differs
    externs = [
        Extern("mod_kfunc___wrong", ids["wrong"], False, function=True, declared_type=ids["wrong_proto"])
    ]
    with pytest.raises(
        NotSupportedError, match=r"'mod_kfunc___wrong' as the object declares it.*incompatible"
    ):
        resolve_ksyms(externs, local, kernel)
