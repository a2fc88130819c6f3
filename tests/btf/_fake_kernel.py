"""A made-up kernel BTF directory (``vmlinux`` and one module's split BTF), for tests of the kernel view.

The types are few, chosen for what the tests look for: a name that is the
suffix of another (``sock``, ``inet_sock``), a flavoured name, a kernel
function and variable in vmlinux and in the module, and a module type whose
name vmlinux also has.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ebpf.btf import (
    BtfBuilder,
    Func,
    FuncProto,
    Int,
    IntEncoding,
    Member,
    Param,
    Pointer,
    Struct,
    TypeGraph,
    Var,
    VarLinkage,
    from_bytes,
)
from ebpf.btf import _schema as schema
from ebpf.btf._encode import encode_record
from ebpf.btf._layout import KIND_FUNC, KIND_FUNC_PROTO, KIND_PTR, KIND_STRUCT, KIND_VAR, make_info
from ebpf.syscall.abi import FuncLinkage

__all__ = ["MODULE", "fake_kernel", "module_blob", "vmlinux_blob"]

MODULE = "fakemod"


def vmlinux_blob() -> bytes:
    """A small vmlinux: ids 1..11."""
    b = BtfBuilder()
    i = b.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))  # 1
    task = b.add(Struct(0, "task_struct", 8, (Member("pid", i, 0), Member("tgid", i, 32))))  # 2
    sock = b.add(Struct(0, "sock", 4, (Member("sk_mark", i, 0),)))  # 3
    b.add(Struct(0, "inet_sock", 8, (Member("sk", sock, 0), Member("inet_id", i, 32))))  # 4
    task_ptr = b.add(Pointer(0, "", task))  # 5
    proto = b.add(FuncProto(0, "", task_ptr, (Param("pid", i),)))  # 6
    b.add(Func(0, "bpf_task_from_pid", proto, FuncLinkage.STATIC))  # 7
    b.add(Struct(0, "nf_conn___init", 4, (Member("mark", i, 0),)))  # 8: a flavoured kernel name
    b.add(Struct(0, "nf_conn", 4, (Member("mark", i, 0),)))  # 9
    b.add(Var(0, "runqueues", i, VarLinkage.GLOBAL_ALLOCATED))  # 10
    b.add(Struct(0, "sock____pad", 4, (Member("x", i, 0),)))  # 11: four underscores, no flavour
    return b.build()


def module_blob(base: TypeGraph) -> bytes:
    """Split BTF on top of ``base``: ids ``base.last_id + 1`` .. ``+ 6``, names in its own strings.

    Its string section starts with a name (as libbpf writes split BTF),
    and one record reuses a string of the base (``task_struct``).
    """
    first = base.last_id + 1
    own = [b"mod_state", b"counter", b"mod_kfunc", b"s", b"mod_var"]
    strings = b"".join(name + b"\0" for name in own)
    base_len = len(base.string_section)
    offset = {name: base_len + strings.index(name + b"\0") for name in own}
    base_task = base.string_section.index(b"\0task_struct\0") + 1
    records = [
        # first + 0: struct mod_state { int counter; }
        schema.BtfTypeRecord(
            offset[b"mod_state"],
            make_info(KIND_STRUCT, 1, False),
            4,
            [schema.BtfMember(offset[b"counter"], 1, 0)],
        ),
        # first + 1: struct mod_state *
        schema.BtfTypeRecord(0, make_info(KIND_PTR, 0, False), first, None),
        # first + 2: int (struct mod_state *s)
        schema.BtfTypeRecord(
            0, make_info(KIND_FUNC_PROTO, 1, False), 1, [schema.BtfParam(offset[b"s"], first + 1)]
        ),
        # first + 3: mod_kfunc
        schema.BtfTypeRecord(offset[b"mod_kfunc"], make_info(KIND_FUNC, 0, False), first + 2, None),
        # first + 4: int mod_var
        schema.BtfTypeRecord(
            offset[b"mod_var"], make_info(KIND_VAR, 0, False), 1, int(VarLinkage.GLOBAL_ALLOCATED)
        ),
        # first + 5: a struct task_struct of the module (vmlinux has one too)
        schema.BtfTypeRecord(base_task, make_info(KIND_STRUCT, 0, False), 0, []),
    ]
    types = b"".join(map(encode_record, records))
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def fake_kernel(directory: Path, *, module: bool = True) -> Path:
    """Write ``vmlinux`` (and the module's BTF) into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    vmlinux = vmlinux_blob()
    (directory / "vmlinux").write_bytes(vmlinux)
    if module:
        (directory / MODULE).write_bytes(module_blob(from_bytes(vmlinux)))
    return directory
