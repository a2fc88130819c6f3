"""ebpf.btf against the running kernel: BTF_LOAD of built and rewritten BTF, BTF objects by id,
and a program built on the generated vmlinux.h that loads and reads the right value."""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import pytest

from ebpf.btf import (
    BtfBuilder,
    BtfFeatures,
    DeclTag,
    Enum64,
    EnumValue,
    Float,
    Int,
    IntEncoding,
    Member,
    Pointer,
    Struct,
    TypeGraph,
    TypeTag,
    dump_c,
    dump_raw,
    load_btf,
    load_kernel_object,
    load_vmlinux,
    probe_btf_features,
)
from ebpf.btf._elf_sections import elf_section
from ebpf.syscall import commands, objects
from ebpf.syscall.abi import ProgType
from tests.btf._btf_support import VMLINUX, need_tool

pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="the kernel exposes no BTF")


@pytest.fixture(scope="module")
def vmlinux() -> TypeGraph:
    return load_vmlinux()


class Value(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint64), ("flags", ctypes.c_uint32, 4), ("name", ctypes.c_char * 12)]


def test_kernel_accepts_built_btf_and_reports_it_back() -> None:
    builder = BtfBuilder()
    value_id = builder.add_ctype(Value)
    data = builder.build()
    with load_btf(data) as fd:
        info = objects.get_btf_info(fd)
        assert info.size == len(data)
        assert not info.kernel_btf
        back = load_kernel_object(info.id)
    assert dump_raw(back) == dump_raw(builder.graph())
    assert isinstance(back[value_id], Struct)


def test_new_kinds_are_rewritten_for_older_kernels() -> None:
    # Built by hand: a distribution's vmlinux BTF need not use every kind
    # (Debian's 6.1 and 6.12 have no DECL_TAG or TYPE_TAG).
    builder = BtfBuilder()
    i32 = builder.add(Int(0, "int", 4, IntEncoding.SIGNED))
    builder.add(Float(0, "double", 8))
    tagged = builder.add(TypeTag(0, "user", i32))
    pointer = builder.add(Pointer(0, "", tagged))
    holder = builder.add(Struct(0, "holder", 8, (Member("p", pointer, 0),)))
    builder.add(DeclTag(0, "documented", holder, component_idx=-1))
    builder.add(Enum64(0, "big", 8, (EnumValue("HUGE", 1 << 40),)))
    graph = builder.graph()
    for features in (BtfFeatures(), BtfFeatures.none()):
        with load_btf(graph, features=features) as fd:
            assert objects.get_btf_info(fd).size > 0


def test_features_of_this_kernel() -> None:
    # 6.1 and newer have every kind; tag attributes came in 6.13
    features = probe_btf_features()
    assert features.float
    assert features.decl_tag
    assert features.type_tag
    assert features.enum64
    assert features.func_global


def test_vmlinux_btf_object_by_id(vmlinux: TypeGraph) -> None:
    kernel = [info for info in objects.list_btfs() if info.kernel_btf and info.name == "vmlinux"]
    assert kernel, "no vmlinux BTF object listed"
    graph = load_kernel_object(kernel[0].id)
    assert len(graph) == len(vmlinux)
    assert graph.data == vmlinux.data


def test_program_built_on_generated_header_loads_and_reads_tgid(vmlinux: TypeGraph, tmp_path: Path) -> None:
    clang = need_tool("clang")
    (tmp_path / "vmlinux.h").write_text(dump_c(vmlinux))
    obj = tmp_path / "reader.o"
    subprocess.run(
        [
            clang,
            "-O2",
            "-g",
            "-target",
            "bpf",
            f"-I{tmp_path}",
            "-c",
            str(Path(__file__).with_name("vmlinux_reader.c")),
            "-o",
            str(obj),
        ],
        check=True,
        capture_output=True,
    )
    insns = elf_section(obj.read_bytes(), "socket")
    assert insns
    with commands.prog_load(ProgType.SOCKET_FILTER, insns, "GPL", name="read_tgid") as prog:
        result = commands.prog_test_run(prog, data_in=bytes(64))
    assert result.retval == os.getpid()
