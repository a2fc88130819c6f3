"""Building BTF from Python: types, ctypes structures, copies out of vmlinux; sanitizing kinds."""

from __future__ import annotations

import ctypes
import errno

import pytest

from ebpf.btf import (
    BtfBuilder,
    BtfFeatures,
    Const,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncProto,
    Int,
    IntEncoding,
    Kind,
    Member,
    Param,
    Pointer,
    Struct,
    TypeGraph,
    TypeTag,
    Union,
    Void,
    from_bytes,
    probe_btf_features,
    sanitize_btf,
)
from ebpf.syscall import features
from ebpf.syscall.abi import FuncLinkage
from ebpf.syscall.errors import PermissionDeniedError
from tests.btf._fake_kernel import module_blob, vmlinux_blob


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int32), ("y", ctypes.c_int32)]


class Flags(ctypes.Structure):
    _fields_ = [
        ("a", ctypes.c_uint32, 3),
        ("b", ctypes.c_uint32, 5),
        ("name", ctypes.c_char * 8),
        ("origin", Point),
        ("ratio", ctypes.c_double),
        ("ok", ctypes.c_bool),
    ]


class Node(ctypes.Structure):
    pass


Node._fields_ = [("value", ctypes.c_uint64), ("next", ctypes.POINTER(Node))]


def test_ctypes_structure_layout_is_kept() -> None:
    builder = BtfBuilder()
    flags_id = builder.add_ctype(Flags)
    graph = builder.graph()
    flags = graph[flags_id]
    assert isinstance(flags, Struct)
    assert flags.kind_flag
    assert flags.size == ctypes.sizeof(Flags)
    layout = {m.name: (m.bit_offset, m.bitfield_size, str(m.type)) for m in flags.members}
    assert layout == {
        "a": (0, 3, "unsigned int"),
        "b": (3, 5, "unsigned int"),
        "name": (8 * Flags.name.offset, 0, "char[8]"),
        "origin": (8 * Flags.origin.offset, 0, "struct Point"),
        "ratio": (8 * Flags.ratio.offset, 0, "double"),
        "ok": (8 * Flags.ok.offset, 0, "_Bool"),
    }
    assert graph.size_of(flags) == ctypes.sizeof(Flags)
    assert graph.align_of(flags) == ctypes.alignment(Flags)


def test_self_referencing_ctypes_structure() -> None:
    builder = BtfBuilder()
    graph_id = builder.add_ctype(Node)
    graph = builder.graph()
    node_type = graph[graph_id]
    assert isinstance(node_type, Struct)
    pointer = node_type.member("next").type
    assert isinstance(pointer, Pointer)
    assert pointer.type_id == graph_id
    assert str(pointer) == "struct Node *"


def test_every_kind_round_trips() -> None:
    builder = BtfBuilder()
    i32 = builder.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    ptr = builder.add(Pointer(0, "", i32))
    proto = builder.add(FuncProto(0, "", i32, (Param("p", ptr), Param("", 0))))
    func = builder.add(Func(0, "f", proto, FuncLinkage.GLOBAL))
    builder.add(Enum(0, "e", 4, (EnumValue("NEG", -3), EnumValue("POS", 7)), signed=True))
    builder.add(Enum64(0, "e64", 8, (EnumValue("BIG", 1 << 40), EnumValue("MINUS", -1)), signed=True))
    builder.add(Float(0, "double", 8))
    tag = builder.add(TypeTag(0, "user", i32))
    builder.add(Const(0, "", tag))
    builder.add(DeclTag(0, "kfunc", func, -1))
    builder.add(Union(0, "u", 8, (Member("a", i32, 0), Member("b", ptr, 0))))
    graph = builder.graph()
    again = from_bytes(graph.data)
    assert list(again) == list(graph)
    assert str(graph[func]) == "int f(int *p, ...)"
    enum = graph.find("e", Kind.ENUM)
    assert isinstance(enum, Enum)
    assert enum.value("NEG") == -3
    enum64 = graph.find("e64", Kind.ENUM64)
    assert isinstance(enum64, Enum64)
    assert [v.value for v in enum64.values] == [1 << 40, -1]


def test_copy_from_vmlinux_keeps_the_layout(vmlinux: TypeGraph) -> None:
    builder = BtfBuilder()
    task = vmlinux.find("task_struct", Kind.STRUCT)
    copied_id = builder.copy_from(vmlinux, task.id)
    assert builder.copy_from(vmlinux, task.id) == copied_id
    graph = builder.graph()
    copied = graph[copied_id]
    assert isinstance(copied, Struct)
    assert isinstance(task, Struct)
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in copied.members] == [
        (m.name, m.bit_offset, m.bitfield_size) for m in task.members
    ]
    assert [str(m.type) for m in copied.members] == [str(m.type) for m in task.members]


@pytest.fixture(scope="module")
def every_new_kind(vmlinux: TypeGraph) -> TypeGraph:
    """A slice of vmlinux with task_struct and a few of each kind old kernels lack."""
    builder = BtfBuilder()
    builder.copy_from(vmlinux, vmlinux.find("task_struct", Kind.STRUCT).id)
    for kind in (Kind.ENUM64, Kind.FLOAT, Kind.DECL_TAG, Kind.TYPE_TAG, Kind.FUNC, Kind.ENUM):
        for _, t in zip(range(3), vmlinux.of_kind(kind), strict=False):
            builder.copy_from(vmlinux, t.id)
    builder.copy_from(vmlinux, vmlinux.find("rpm_status", Kind.ENUM).id)
    return builder.graph()


def test_sanitize_replaces_unknown_kinds_keeping_ids(every_new_kind: TypeGraph) -> None:
    graph = every_new_kind
    gone = {Kind.FLOAT, Kind.DECL_TAG, Kind.TYPE_TAG, Kind.ENUM64}
    assert {t.kind for t in graph} >= gone
    old = from_bytes(sanitize_btf(graph, BtfFeatures.none()))
    assert len(old) == len(graph) + 1  # plus the ENUM64 placeholder
    assert not [t for t in old if t.kind in gone]
    for t in graph.of_kind(Kind.ENUM64):
        replaced = old[t.id]
        assert isinstance(t, Enum64)
        assert isinstance(replaced, Union)
        assert replaced.size == t.size
        assert replaced.name == t.name
    assert all(not e.signed for e in old.of_kind(Kind.ENUM) if isinstance(e, Enum))
    assert all(f.linkage == FuncLinkage.STATIC for f in old.of_kind(Kind.FUNC) if isinstance(f, Func))
    task = graph.find("task_struct", Kind.STRUCT)
    assert old[task.id] == task
    assert sanitize_btf(graph, BtfFeatures()) == graph.data


def test_builder_rejects_bad_input() -> None:
    builder = BtfBuilder()
    with pytest.raises(TypeError, match="void"):
        builder.add(Void(0, ""))
    with pytest.raises(ValueError, match="65535"):
        builder.add(Struct(0, "huge", 4, tuple(Member(f"m{i}", 1, 0) for i in range(70000))))
    with pytest.raises(TypeError, match="no BTF equivalent"):
        builder.add_ctype(ctypes.py_object)


def test_btf_features_come_from_the_feature_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    # ebpf.btf runs no probes of its own: each answer is a feature of ebpf.syscall.features.

    answers = {
        features.btf_kind_feature("FLOAT"): True,
        features.btf_kind_feature("DECL_TAG"): True,
        features.btf_kind_feature("TYPE_TAG"): False,
        features.btf_kind_feature("ENUM64"): False,
        features.BTF_GLOBAL_FUNC: True,
    }
    for feature, answer in answers.items():
        monkeypatch.setattr(feature, "_result", answer)

    def denied() -> bool:
        raise PermissionDeniedError(errno.EPERM, "BPF_BTF_LOAD")

    monkeypatch.setattr(features.BTF_ATTRIBUTE_TAGS, "_result", None)
    monkeypatch.setattr(features.BTF_ATTRIBUTE_TAGS, "_probe", denied)
    # An inconclusive probe counts as supported: the load reports the real error.
    assert probe_btf_features() == BtfFeatures(
        float=True, decl_tag=True, type_tag=False, enum64=False, func_global=True, attribute_tags=True
    )


def test_sanitize_refuses_split_btf_whose_records_need_their_base() -> None:
    base = from_bytes(vmlinux_blob(), name="vmlinux")
    module = from_bytes(module_blob(base), base, name="module")
    assert not module.string_section.startswith(b"\0")  # as libbpf writes split BTF
    with pytest.raises(ValueError, match="module: split BTF cannot be sanitized on its own"):
        sanitize_btf(module, BtfFeatures.none())
