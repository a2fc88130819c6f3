"""struct_ops maps of an object: parsed like libbpf (sections, relocations, programs' targets) and laid
out as the kernel's ``struct bpf_struct_ops_<name>`` by member name (here against hand-made kernel types)."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from ebpf.btf import Array, BtfBuilder, FuncProto, Int, IntEncoding, Member, Param, Pointer, Struct, TypeGraph
from ebpf.elf import CollectionSpec, StructOpsSpec
from ebpf.elf._struct_ops import essential_name, kernel_struct_ops, prepare_struct_ops
from ebpf.syscall import MapFlags, MapType, NotSupportedError, ProgType
from ebpf.syscall.errors import ParseError
from tests.elf._elf_corpus import spec_of

MEMBERS = ("ssthresh", "cong_avoid", "set_state", "undo_cwnd", "init", "release")
# Where the hand-made kernel struct below puts things.
DATA_OFF = 16  # struct tcp_congestion_ops inside struct bpf_struct_ops_tcp_congestion_ops
KERNEL_OFFSETS = {"init": 0, "release": 8, "ssthresh": 24, "undo_cwnd": 32, "cong_avoid": 40, "set_state": 48}
NAME_OFF, FLAGS_OFF, KERNEL_SIZE = 56, 72, 96


@pytest.fixture(scope="module")
def cc() -> CollectionSpec:
    return spec_of("struct_ops_cc")


def kernel_graph(*, name_size: int = 16, with_release: bool = True, value_type: bool = True) -> TypeGraph:
    """A kernel's view of tcp_congestion_ops: members in another order, some the object does not set."""
    b = BtfBuilder()
    u32 = b.add(Int(0, "unsigned int", 4, bits=32))
    char = b.add(Int(0, "char", 1, IntEncoding.CHAR, bits=8))
    name = b.add(Array(0, "", char, u32, name_size))
    sock = b.add(Struct(0, "sock", 8, (Member("x", u32, 0),)))
    sock_ptr = b.add(Pointer(0, "", sock))
    proto = b.add(FuncProto(0, "", u32, (Param("sk", sock_ptr),)))
    fn = b.add(Pointer(0, "", proto))
    members = [Member("init", fn, 0)]
    if with_release:
        members.append(Member("release", fn, 64))
    members += [
        Member("key", u32, 128),  # not in the object: stays zero
        Member("ssthresh", fn, 24 * 8),
        Member("undo_cwnd", fn, 32 * 8),
        Member("cong_avoid", fn, 40 * 8),
        Member("set_state", fn, 48 * 8),
        Member("name", name, NAME_OFF * 8),
        Member("flags", u32, FLAGS_OFF * 8),
    ]
    ops = b.add(Struct(0, "tcp_congestion_ops", KERNEL_SIZE - DATA_OFF, tuple(members)))
    if value_type:
        b.add(
            Struct(
                0,
                "bpf_struct_ops_tcp_congestion_ops",
                KERNEL_SIZE,
                (Member("refcnt", u32, 0), Member("state", u32, 32), Member("data", ops, DATA_OFF * 8)),
            )
        )
    return b.graph("kernel")


def test_each_struct_ops_variable_becomes_a_map_and_names_its_programs(cc: CollectionSpec) -> None:
    assert set(cc.struct_ops) == {"ebpf_reno", "ebpf_reno_map"}
    link, plain = cc.struct_ops["ebpf_reno"], cc.struct_ops["ebpf_reno_map"]
    assert (link.section, link.link, plain.section, plain.link) == (
        ".struct_ops.link",
        True,
        ".struct_ops",
        False,
    )
    assert link.type_name == link.kernel_type == "tcp_congestion_ops"
    for ops in (link, plain):
        assert ops.programs == {member: f"reno_{member}" for member in MEMBERS}
        spec = cc.maps[ops.name]
        assert spec.type == MapType.STRUCT_OPS
        assert (spec.key_size, spec.max_entries, spec.value_size) == (4, 1, len(ops.data))
    assert cc.maps["ebpf_reno"].flags == MapFlags.LINK
    assert cc.maps["ebpf_reno_map"].flags == MapFlags.NONE
    assert link.get("name") == b"ebpf_reno".ljust(16, b"\0")
    assert plain.get("name") == b"ebpf_reno_map".ljust(16, b"\0")
    assert link.get("flags") == 0


def test_member_programs_are_struct_ops_programs_for_their_member(cc: CollectionSpec) -> None:
    for member in MEMBERS:
        program = cc.programs[f"reno_{member}"]
        assert program.type == ProgType.STRUCT_OPS
        assert program.attach_to == f"tcp_congestion_ops:{member}"
    # no struct_ops member points at it: its section's target is left alone
    assert cc.programs["reno_unused"].attach_to == "reno_unused"


def test_data_members_are_set_by_name_and_checked() -> None:
    ops = spec_of("struct_ops_cc").struct_ops["ebpf_reno"]
    before = ops.data
    ops.set("name", b"other")
    ops.set("flags", 2)
    assert (ops.get("name"), ops.get("flags")) == (b"other".ljust(16, b"\0"), 2)
    assert len(ops.data) == len(before)
    with pytest.raises(KeyError, match="no member 'colour'"):
        ops.set("colour", 1)
    with pytest.raises(ValueError, match="is a pointer"):
        ops.set("init", 0)
    with pytest.raises(ValueError, match="16 bytes"):
        ops.set("name", b"x" * 17)
    with pytest.raises(TypeError):
        ops.set("flags", b"\1")


def test_the_value_is_laid_out_as_the_kernel_struct_by_member_name(cc: CollectionSpec) -> None:
    ops = dataclasses.replace(cc.struct_ops["ebpf_reno"], data=cc.struct_ops["ebpf_reno"].data)
    ops.set("flags", 0x5)
    layout = kernel_struct_ops(ops, kernel_graph())
    assert layout.kernel_type == "tcp_congestion_ops"
    assert len(layout.value) == KERNEL_SIZE
    assert layout.slots == {DATA_OFF + KERNEL_OFFSETS[m]: f"reno_{m}" for m in MEMBERS}
    value = layout.value
    assert value[DATA_OFF + NAME_OFF : DATA_OFF + NAME_OFF + 16] == b"ebpf_reno".ljust(16, b"\0")
    assert value[DATA_OFF + FLAGS_OFF : DATA_OFF + FLAGS_OFF + 4] == (5).to_bytes(4, "little")
    assert not any(value[:DATA_OFF])  # refcnt and state are the kernel's
    spec = layout.map_spec(cc.maps["ebpf_reno"])
    assert (spec.value_size, spec.btf_vmlinux_value_type_id) == (KERNEL_SIZE, layout.value_type_id)
    # the descriptors go where the kernel's members are; a program not loaded leaves NULL
    fds = {f"reno_{m}": 100 + n for n, m in enumerate(MEMBERS) if m != "release"}
    filled = layout.value_with(fds)
    for n, member in enumerate(MEMBERS):
        at = DATA_OFF + KERNEL_OFFSETS[member]
        expected = 0 if member == "release" else 100 + n
        assert int.from_bytes(filled[at : at + 8], sys.byteorder) == expected
    assert filled[DATA_OFF + NAME_OFF :] == value[DATA_OFF + NAME_OFF :]


def test_layout_refuses_what_the_kernel_struct_cannot_hold(cc: CollectionSpec) -> None:
    ops = cc.struct_ops["ebpf_reno"]
    with pytest.raises(
        ValueError, match="'release': the kernel's struct tcp_congestion_ops has no such member"
    ):
        kernel_struct_ops(ops, kernel_graph(with_release=False))
    with pytest.raises(ValueError, match="'name': 16 bytes in the object, 32 in the kernel"):
        kernel_struct_ops(ops, kernel_graph(name_size=32))
    with pytest.raises(NotSupportedError, match="tcp_congestion_ops"):
        kernel_struct_ops(ops, kernel_graph(value_type=False))
    # a member the kernel lacks is fine while the object leaves it zero
    without = dataclasses.replace(ops, programs={m: p for m, p in ops.programs.items() if m != "release"})
    assert "reno_release" not in kernel_struct_ops(without, kernel_graph(with_release=False)).slots.values()


def test_loading_skips_struct_ops_programs_no_map_uses(cc: CollectionSpec) -> None:
    kernel = kernel_graph()
    load = prepare_struct_ops(cc.struct_ops, cc.maps, cc.programs, kernel)
    assert set(load.layouts) == {"ebpf_reno", "ebpf_reno_map"}
    assert load.unused == {"reno_unused"}
    assert load.targets == {f"reno_{m}": f"tcp_congestion_ops:{m}" for m in MEMBERS}
    # a map left out of the spec is not laid out; its programs still serve the other one
    only = {name: spec for name, spec in cc.maps.items() if name != "ebpf_reno"}
    assert set(prepare_struct_ops(cc.struct_ops, only, cc.programs, kernel).layouts) == {"ebpf_reno_map"}
    # a member pointed at a program the spec lost, or at a program that is not struct_ops
    programs = dict(cc.programs)
    del programs["reno_init"]
    with pytest.raises(
        ValueError, match="'init' points at program 'reno_init', which the spec does not have"
    ):
        prepare_struct_ops(cc.struct_ops, cc.maps, programs, kernel)
    programs["reno_init"] = dataclasses.replace(cc.programs["reno_init"], type=ProgType.XDP)
    with pytest.raises(ValueError, match="a XDP program, not struct_ops"):
        prepare_struct_ops(cc.struct_ops, cc.maps, programs, kernel)


def test_a_member_pointing_at_a_program_of_another_type_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"wrong\.ssthresh: program 'not_struct_ops' is a XDP program"):
        spec_of("bad_struct_ops")


def test_flavours_name_the_kernel_struct() -> None:
    assert essential_name("tcp_congestion_ops___v2") == "tcp_congestion_ops"
    assert essential_name("sched_ext_ops") == "sched_ext_ops"
    ops = spec_of("struct_ops_cc").struct_ops["ebpf_reno"]
    flavoured = dataclasses.replace(ops, type_name="tcp_congestion_ops___mine")
    assert isinstance(flavoured, StructOpsSpec)
    assert kernel_struct_ops(flavoured, kernel_graph()).kernel_type == "tcp_congestion_ops"
