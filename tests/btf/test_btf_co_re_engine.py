"""The CO-RE relocation engine on hand-built local and target BTF: every relocation kind,
flavours, candidate consistency and ambiguity, instruction patching and poisoning,
placeholders, and malformed records (ParseError/CoreError only)."""

from __future__ import annotations

import contextlib
import random
import struct
from collections.abc import Sequence

import pytest

from ebpf.asm import (
    DW,
    R1,
    R2,
    CoreKind,
    CoreRelocation,
    Instruction,
    W,
    call,
    decode,
    encode,
    exit_,
    lddw,
    load,
    mov,
)
from ebpf.btf import (
    Array,
    BtfBuilder,
    CoreError,
    CoreRelo,
    CoreRelocator,
    CoreResult,
    Enum,
    Enum64,
    EnumValue,
    Fwd,
    Int,
    IntEncoding,
    Member,
    Pointer,
    Struct,
    Typedef,
    TypeGraph,
    Union,
)
from ebpf.btf._co_re_compat import essential_name
from ebpf.syscall.abi import CoreReloKind
from ebpf.syscall.errors import ParseError

K = CoreReloKind
POISON = struct.pack("<BBhi", 0x85, 0, 0, 0xBAD2310)
NOP = struct.pack("<BBhi", 0x05, 0, 0, 0)
SIGNED = IntEncoding.SIGNED


# ------------------------------------------------------------------ graphs


def local_graph() -> TypeGraph:
    """The program's view: flavoured, reordered, with a field and an enumerator the target lacks."""
    b = BtfBuilder()
    i32 = b.add(Int(0, "int", 4, SIGNED, bits=32))  # 1
    u32 = b.add(Int(0, "unsigned int", 4, bits=32))  # 2
    b.add(
        Struct(  # 3
            0,
            "sample___mine",
            20,
            (
                Member("b", i32, 0),
                Member("a", u32, 32),
                Member("missing", i32, 64),
                Member("flag", u32, 96, 1),
                Member("sval", i32, 97, 5),
                Member("arr", 6, 128),
            ),
            kind_flag=True,
        )
    )
    b.add(
        Enum(0, "color___mine", 4, (EnumValue("RED", 0), EnumValue("GREEN", 1), EnumValue("YELLOW", 2)))
    )  # 4
    b.add(Struct(0, "nowhere", 4, (Member("x", i32, 0),)))  # 5
    b.add(Array(0, "", i32, i32, 1))  # 6: int[1]
    b.add(Typedef(0, "pid_t", i32))  # 7
    return b.graph("local")


def target_graph() -> TypeGraph:
    """The kernel's view of the same types."""
    b = BtfBuilder()
    i32 = b.add(Int(0, "int", 4, SIGNED, bits=32))  # 1
    u64 = b.add(Int(0, "long long unsigned int", 8, bits=64))  # 2
    b.add(Array(0, "", i32, i32, 0))  # 3: flexible int[]
    b.add(
        Struct(  # 4
            0,
            "sample",
            40,
            (
                Member("pad", u64, 0),
                Member("sval", i32, 64 + 27, 5),  # straddles the 4-byte boundary at bit 96
                Member("flag", i32, 64 + 3, 1),
                Member("a", u64, 128),
                Member("b", i32, 192),
                Member("arr", 3, 256),
            ),
            kind_flag=True,
        )
    )
    b.add(Enum(0, "color", 4, (EnumValue("GREEN", 11), EnumValue("RED", -5)), signed=True))  # 5
    b.add(Typedef(0, "pid_t", i32))  # 6
    return b.graph("target")


def relo(kind: CoreReloKind, access: str, type_id: int = 3, insn: int = 0) -> CoreRelo:
    return CoreRelo(insn * 8, type_id, access, kind)


def run(
    relocator: CoreRelocator, insns: Sequence[Instruction], relocations: Sequence[CoreRelo]
) -> tuple[bytes, list[CoreResult]]:
    return relocator.relocate(encode(insns), relocations)


def imm_of(code: bytes, index: int = 0) -> int:
    return decode(code)[index].imm


@pytest.fixture
def target() -> TypeGraph:
    return target_graph()


@pytest.fixture
def relocator(target: TypeGraph) -> CoreRelocator:
    return CoreRelocator(local_graph(), [target])


def sample(target: TypeGraph) -> Struct:
    found = target.find("sample")
    assert isinstance(found, Struct)
    return found


# ------------------------------------------------------------------- names


def test_core_kinds_are_the_kernels() -> None:
    """``ebpf.asm.CoreKind`` (the one hand-written table) matches the generated ABI enum."""
    assert {kind.name: int(kind) for kind in CoreKind} == {kind.name: int(kind) for kind in CoreReloKind}
    assert [kind.name for kind in CoreKind if kind.is_field] == [
        name for name in CoreReloKind.__members__ if name.startswith("FIELD_")
    ]
    assert [kind.name for kind in CoreKind if kind.is_type] == [
        name for name in CoreReloKind.__members__ if name.startswith("TYPE_")
    ]
    assert [kind.name for kind in CoreKind if kind.is_enum_value] == [
        name for name in CoreReloKind.__members__ if name.startswith("ENUMVAL_")
    ]


@pytest.mark.parametrize(
    ("name", "essential"),
    [
        ("task_struct___mine", "task_struct"),
        ("task_struct___2", "task_struct"),
        ("a___b___c", "a___b"),
        ("task_struct", "task_struct"),
        ("__u32", "__u32"),
        ("foo____bar", "foo____bar"),
        ("foo___", "foo___"),
        ("x___y", "x"),
    ],
)
def test_essential_name_strips_the_last_flavour(name: str, essential: str) -> None:
    assert essential_name(name) == essential


# ------------------------------------------------------------ field kinds


def test_field_offset_of_a_reordered_member_patches_an_alu_immediate(
    relocator: CoreRelocator, target: TypeGraph
) -> None:
    code, [result] = run(relocator, [mov(R1, 4), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:1")])
    assert imm_of(code) == sample(target).member("a").byte_offset == 16
    assert result.insn_index == 0
    assert result.local_type == "struct sample___mine"
    assert result.access == "0:1 (sample___mine.a)"
    assert result.target == "struct sample [id 4] in target, access 0:3"
    assert (result.local_value, result.target_value, result.poisoned) == (4, 16, False)
    assert str(result) == (
        "insn 0: field_byte_offset struct sample___mine 0:1 (sample___mine.a): 4 -> 16 "
        "(struct sample [id 4] in target, access 0:3)"
    )


def test_load_offset_and_size_grow_for_an_unsigned_member(relocator: CoreRelocator) -> None:
    # local u32 a at 4, target u64 a at 16: the 4-byte load becomes an 8-byte one
    code, [result] = run(relocator, [load(R1, R2, 4, W), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:1")])
    patched = decode(code)[0]
    assert (patched.offset, patched.opcode) == (16, load(R1, R2, 16, DW).opcode)
    assert (patched.dst, patched.src) == (1, 2)
    assert not result.poisoned


def test_load_of_a_signed_member_that_changed_size_is_poisoned() -> None:
    b = BtfBuilder()
    i16 = b.add(Int(0, "short", 2, SIGNED, bits=16))
    b.add(Struct(0, "sample", 8, (Member("b", i16, 32),)))
    relocator = CoreRelocator(local_graph(), [b.graph("target")])
    code, [result] = run(relocator, [load(R1, R2, 0, W), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:0")])
    assert code[:8] == POISON
    assert result.poisoned
    assert result.target_value is None


def test_field_size_signed_and_exists(relocator: CoreRelocator, target: TypeGraph) -> None:
    insns = [mov(R1, 4), mov(R1, 0), mov(R1, 1), mov(R1, 1), exit_()]
    code, results = run(
        relocator,
        insns,
        [
            relo(K.FIELD_BYTE_SIZE, "0:1", insn=0),
            relo(K.FIELD_SIGNED, "0:1", insn=1),
            relo(K.FIELD_SIGNED, "0:0", insn=2),
            relo(K.FIELD_EXISTS, "0:0", insn=3),
        ],
    )
    a, b = sample(target).member("a"), sample(target).member("b")
    assert imm_of(code, 0) == target.size_of(a.type_id) == 8
    assert imm_of(code, 1) == int(isinstance(a.type, Int) and a.type.signed) == 0
    assert imm_of(code, 2) == int(isinstance(b.type, Int) and b.type.signed) == 1
    assert imm_of(code, 3) == 1
    assert not any(r.poisoned for r in results)


def test_missing_field_exists_is_zero_and_its_offset_is_poisoned(relocator: CoreRelocator) -> None:
    code, results = run(
        relocator,
        [mov(R1, 1), mov(R1, 8), lddw(R2, 8), exit_()],
        [
            relo(K.FIELD_EXISTS, "0:2", insn=0),
            relo(K.FIELD_BYTE_OFFSET, "0:2", insn=1),
            relo(K.FIELD_BYTE_SIZE, "0:2", insn=2),
        ],
    )
    assert imm_of(code, 0) == 0
    assert code[8:16] == POISON
    # a poisoned 64-bit load keeps its two slots: the call, then a no-op
    assert code[16:24] == POISON
    assert code[24:32] == NOP
    assert code[32:] == encode([exit_()])
    assert [r.poisoned for r in results] == [False, True, True]
    assert results[0].target is None
    assert results[0].target_value == 0
    assert "poisoned" in str(results[1])


def bitfield_expectations(target: TypeGraph, name: str) -> tuple[int, int, int, int]:
    """(byte offset, byte size, lshift, rshift) from the target member, by the kernel's definition:
    the smallest aligned load of at least the declared size that holds every bit."""
    member = sample(target).member(name)
    size = target.size_of(member.type_id)
    while True:
        offset = member.bit_offset // 8 // size * size
        if member.bit_offset + member.bitfield_size <= (offset + size) * 8:
            break
        size *= 2
    lshift = 64 - (member.bit_offset + member.bitfield_size - offset * 8)
    return offset, size, lshift, 64 - member.bitfield_size


@pytest.mark.parametrize(("name", "access"), [("flag", "0:3"), ("sval", "0:4")])
def test_bitfield_offset_size_and_shifts(
    relocator: CoreRelocator, target: TypeGraph, name: str, access: str
) -> None:
    kinds = [K.FIELD_BYTE_OFFSET, K.FIELD_BYTE_SIZE, K.FIELD_LSHIFT_U64, K.FIELD_RSHIFT_U64, K.FIELD_SIGNED]
    # the compiler's local values of bitfield offsets, sizes and left shifts are not checked
    insns = [mov(R1, 1234) for _ in kinds]
    member = sample(target).member(name)
    local_sample = local_graph()[3]
    assert isinstance(local_sample, Struct)
    local_member = local_sample.member(name)
    insns[3] = mov(R1, 64 - local_member.bitfield_size)
    insns[4] = mov(R1, int(name == "sval"))
    code, _ = run(relocator, [*insns, exit_()], [relo(k, access, insn=i) for i, k in enumerate(kinds)])
    assert [imm_of(code, i) for i in range(4)] == list(bitfield_expectations(target, name))
    assert imm_of(code, 4) == int(isinstance(member.type, Int) and member.type.signed)
    if name == "sval":  # bits 91..95 fit the 4-byte word at 8; flag (bit 67) too
        assert imm_of(code, 1) == 4


def test_bitfield_straddling_a_word_needs_a_wider_load() -> None:
    b = BtfBuilder()
    u32 = b.add(Int(0, "unsigned int", 4, bits=32))
    b.add(Struct(0, "sample", 16, (Member("flag", u32, 30, 1), Member("sval", u32, 30, 5)), kind_flag=True))
    target = b.graph("target")
    code, _ = run(
        CoreRelocator(local_graph(), [target]),
        [mov(R1, 0), mov(R1, 0), exit_()],
        [relo(K.FIELD_BYTE_SIZE, "0:4", insn=0), relo(K.FIELD_LSHIFT_U64, "0:4", insn=1)],
    )
    # bits 30..34 cross the first 4-byte word: an 8-byte load at 0, shifted by 64 - 35
    assert (imm_of(code, 0), imm_of(code, 1)) == (8, 29)


def test_array_element_in_a_flexible_target_array(relocator: CoreRelocator, target: TypeGraph) -> None:
    code, [result] = run(relocator, [mov(R1, 16), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:5:0")])
    assert imm_of(code) == sample(target).member("arr").byte_offset == 32
    assert result.access == "0:5:0 (sample___mine.arr[0])"


def test_member_found_inside_an_anonymous_union() -> None:
    b = BtfBuilder()
    i32 = b.add(Int(0, "int", 4, SIGNED, bits=32))
    anon = b.add(Union(0, "", 4, (Member("alias", i32, 0), Member("a", i32, 0))))
    b.add(Struct(0, "sample", 12, (Member("pad", i32, 0), Member("", anon, 64))))
    code, [result] = run(
        CoreRelocator(local_graph(), [b.graph("target")]),
        [mov(R1, 4), exit_()],
        [relo(K.FIELD_BYTE_OFFSET, "0:1")],
    )
    assert imm_of(code) == 8
    assert result.target is not None
    assert result.target.endswith("access 0:1:1")


def test_member_of_an_incompatible_type_is_not_a_match() -> None:
    b = BtfBuilder()
    i32 = b.add(Int(0, "int", 4, SIGNED, bits=32))
    inner = b.add(Struct(0, "inner", 4, (Member("x", i32, 0),)))
    b.add(Struct(0, "sample", 8, (Member("a", inner, 0), Member("b", b.add(Pointer(0, "", i32)), 0))))
    code, results = run(
        CoreRelocator(local_graph(), [b.graph("target")]),
        [mov(R1, 1), mov(R1, 1), exit_()],
        [relo(K.FIELD_EXISTS, "0:1", insn=0), relo(K.FIELD_EXISTS, "0:0", insn=1)],
    )
    # an int is not a struct, nor a pointer
    assert (imm_of(code, 0), imm_of(code, 1)) == (0, 0)
    assert all(r.target is None for r in results)


# ------------------------------------------------------------- type kinds


def test_type_kinds(relocator: CoreRelocator, target: TypeGraph) -> None:
    insns = [lddw(R1, 3), lddw(R1, 3), mov(R1, 1), mov(R1, 20), mov(R1, 1), mov(R1, 4), exit_()]
    code, results = run(
        relocator,
        insns,
        [
            relo(K.TYPE_ID_LOCAL, "0", insn=0),
            relo(K.TYPE_ID_TARGET, "0", insn=2),
            relo(K.TYPE_EXISTS, "0", insn=4),
            relo(K.TYPE_SIZE, "0", insn=5),
            relo(K.TYPE_EXISTS, "0", type_id=5, insn=6),
            relo(K.TYPE_SIZE, "0", type_id=5, insn=7),
        ],
    )
    found = decode(code)
    assert found[0].imm == 3
    assert found[1].imm == sample(target).id == 4
    assert found[2].imm == 1
    assert found[3].imm == target.size_of(sample(target)) == 40
    # a type in no target: 0, not poison
    assert (found[4].imm, found[5].imm) == (0, 0)
    assert not any(r.poisoned for r in results)
    assert results[0].target == "struct sample___mine in local"
    assert results[4].target is None


def test_typedef_candidates_are_typedefs(relocator: CoreRelocator, target: TypeGraph) -> None:
    code, [result] = run(relocator, [lddw(R1, 7), exit_()], [relo(K.TYPE_ID_TARGET, "0", type_id=7)])
    assert imm_of(code) == target.find("pid_t").id == 6
    assert result.local_type == "pid_t"


def matches(local_members: Sequence[tuple[str, Int]], target_members: Sequence[tuple[str, Int]]) -> int:
    graphs = []
    for members in (local_members, target_members):
        b = BtfBuilder()
        ids = [b.add(t) for _, t in members]
        b.add(
            Struct(
                0,
                "shape",
                8,
                tuple(Member(n, i, 32 * k) for k, ((n, _), i) in enumerate(zip(members, ids, strict=True))),
            )
        )
        graphs.append(b.graph())
    code, _ = run(
        CoreRelocator(graphs[0], [graphs[1]]),
        [mov(R1, 1), exit_()],
        [CoreRelo(0, len(local_members) + 1, "0", K.TYPE_MATCHES)],
    )
    return imm_of(code)


def test_type_matches_compares_shapes() -> None:
    i32 = Int(0, "int", 4, SIGNED, bits=32)
    u32 = Int(0, "unsigned int", 4, bits=32)
    assert matches([("x", i32)], [("y", i32), ("x", i32)]) == 1  # a subset, any order
    assert matches([("x", i32)], [("x", u32)]) == 0  # other signedness
    assert matches([("x", i32), ("z", i32)], [("x", i32), ("y", i32)]) == 0  # z is missing


def test_type_matches_enums_by_names_and_pointers_to_declarations() -> None:
    local, target = BtfBuilder(), BtfBuilder()
    local.add(Enum(0, "e", 4, (EnumValue("A", 1),)))
    local.add(Struct(0, "node", 8, (Member("next", local.add(Pointer(0, "", 3)), 0),)))
    local.add(Struct(0, "node", 8, ()))
    target.add(Enum(0, "e", 4, (EnumValue("B", 1), EnumValue("A", 9))))
    target.add(Struct(0, "node", 8, (Member("next", target.add(Pointer(0, "", 4)), 0),)))
    target.add(Fwd(0, "node"))
    code, _ = run(
        CoreRelocator(local.graph(), [target.graph()]),
        [mov(R1, 1), mov(R1, 1), exit_()],
        [CoreRelo(0, 1, "0", K.TYPE_MATCHES), CoreRelo(8, 4, "0", K.TYPE_MATCHES)],
    )
    # enum values differ but names match; a pointer to a forward declaration matches the struct
    assert (imm_of(code, 0), imm_of(code, 1)) == (1, 1)


# ------------------------------------------------------------- enum kinds


def test_enum_values_exist_and_change(relocator: CoreRelocator, target: TypeGraph) -> None:
    code, results = run(
        relocator,
        [lddw(R1, 1), mov(R1, 0), mov(R1, 1), mov(R1, 1), lddw(R1, 2), exit_()],
        [
            relo(K.ENUMVAL_VALUE, "1", type_id=4, insn=0),
            relo(K.ENUMVAL_VALUE, "0", type_id=4, insn=2),
            relo(K.ENUMVAL_EXISTS, "1", type_id=4, insn=3),
            relo(K.ENUMVAL_EXISTS, "2", type_id=4, insn=4),
            relo(K.ENUMVAL_VALUE, "2", type_id=4, insn=5),
        ],
    )
    color = target.find("color")
    assert isinstance(color, Enum)
    found = decode(code)
    assert found[0].imm == color.value("GREEN") == 11
    assert found[1].imm == color.value("RED") == -5  # a signed enum: sign-extended
    assert (found[2].imm, found[3].imm) == (1, 0)  # YELLOW is not in the target
    assert code[40:48] == POISON
    assert code[48:56] == NOP
    assert results[0].access == "1 (color___mine::GREEN)"
    assert [r.poisoned for r in results] == [False, False, False, False, True]


def test_enum64_value_fills_both_halves_of_a_64_bit_load() -> None:
    b = BtfBuilder()
    b.add(Enum64(0, "color", 8, (EnumValue("GREEN", 0x1_2345_6789),)))
    code, _ = run(
        CoreRelocator(local_graph(), [b.graph()]),
        [lddw(R1, 1), exit_()],
        [relo(K.ENUMVAL_VALUE, "1", type_id=4)],
    )
    assert imm_of(code) == 0x1_2345_6789


# -------------------------------------------------- candidates and flavours


def struct_with(name: str, *members: tuple[str, int]) -> Struct:
    return Struct(0, name, 32, tuple(Member(n, 1, off * 8) for n, off in members))


def graph_of(*types: Struct) -> TypeGraph:
    b = BtfBuilder()
    b.add(Int(0, "int", 4, SIGNED, bits=32))
    for t in types:
        b.add(t)
    return b.graph("kernel")


def test_flavoured_target_types_are_candidates() -> None:
    target = graph_of(struct_with("sample___2", ("b", 12)))
    code, [result] = run(
        CoreRelocator(local_graph(), [target]), [mov(R1, 0), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:0")]
    )
    assert imm_of(code) == 12
    assert result.target is not None
    assert "struct sample___2" in result.target


def test_candidates_that_disagree_are_ambiguous() -> None:
    target = graph_of(struct_with("sample", ("b", 4)), struct_with("sample___v2", ("b", 8)))
    with pytest.raises(CoreError, match="ambiguous"):
        run(CoreRelocator(local_graph(), [target]), [mov(R1, 0), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:0")])


def test_candidates_that_agree_are_not_ambiguous() -> None:
    target = graph_of(struct_with("sample", ("b", 4)), struct_with("sample", ("b", 4)))
    code, [result] = run(
        CoreRelocator(local_graph(), [target]), [mov(R1, 0), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:0")]
    )
    assert imm_of(code) == 4
    assert result.target is not None
    assert result.target.endswith("(+1 equivalent)")


def test_one_candidate_for_all_relocations_of_a_local_type_across_calls() -> None:
    # only sample___v2 has `missing`; once a relocation picked it, `b` resolves
    # there alone, where it would otherwise be ambiguous (4 vs 8)
    target = graph_of(struct_with("sample", ("b", 4)), struct_with("sample___v2", ("b", 8), ("missing", 16)))
    relocator = CoreRelocator(local_graph(), [target])
    run(relocator, [mov(R1, 8), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:2")])
    code, [result] = run(relocator, [mov(R1, 0), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:0")])
    assert imm_of(code) == 8
    assert result.target is not None
    assert "sample___v2" in result.target
    with pytest.raises(CoreError, match="ambiguous"):
        run(CoreRelocator(local_graph(), [target]), [mov(R1, 0), exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:0")])


def test_later_targets_are_searched_only_for_types_the_first_lacks() -> None:
    main = graph_of(struct_with("other", ("b", 4)))
    module = graph_of(struct_with("sample", ("b", 24)))
    shadow = graph_of(struct_with("other", ("b", 99)))
    local = BtfBuilder()
    local.add(Int(0, "int", 4, SIGNED, bits=32))
    local.add(struct_with("sample", ("b", 0)))
    local.add(struct_with("other", ("b", 0)))
    code, _results = run(
        CoreRelocator(local.graph(), [main, module, shadow]),
        [mov(R1, 0), mov(R1, 0), exit_()],
        [CoreRelo(0, 2, "0:0", K.FIELD_BYTE_OFFSET), CoreRelo(8, 3, "0:0", K.FIELD_BYTE_OFFSET)],
    )
    assert (imm_of(code, 0), imm_of(code, 1)) == (24, 4)


# ------------------------------------------------------------- placeholders


def test_placeholders_by_kernel_type_name(target: TypeGraph) -> None:
    empty = BtfBuilder().graph("no local types")
    placeholders = [
        (0, CoreRelocation(CoreKind.FIELD_BYTE_OFFSET, "sample", "b")),
        (1, CoreRelocation(CoreKind.FIELD_BYTE_OFFSET, "struct sample", "arr[2]")),
        (2, CoreRelocation(CoreKind.TYPE_SIZE, "sample")),
        (3, CoreRelocation(CoreKind.ENUMVAL_VALUE, "enum color", "GREEN")),
        (4, CoreRelocation(CoreKind.FIELD_EXISTS, "sample", "nothing")),
        (5, CoreRelocation(CoreKind.TYPE_EXISTS, "typedef pid_t")),
        (6, CoreRelocation(CoreKind.FIELD_BYTE_OFFSET, "sample", "0:3")),
    ]
    code, results = CoreRelocator(empty, [target]).relocate_placeholders(
        encode([mov(R1, 0)] * 7 + [exit_()]), placeholders
    )
    s = sample(target)
    assert [imm_of(code, i) for i in range(7)] == [
        s.member("b").byte_offset,
        s.member("arr").byte_offset + 8,
        s.size,
        11,
        0,
        1,
        s.member("a").byte_offset,
    ]
    assert results[0].local_type == "sample"
    assert results[0].access == "b"
    assert results[0].local_value == 0


def test_placeholders_through_a_local_type(relocator: CoreRelocator, target: TypeGraph) -> None:
    code, results = relocator.relocate_placeholders(
        encode([mov(R1, 0), mov(R1, 0), mov(R1, 0), exit_()]),
        [
            (0, CoreRelocation(CoreKind.FIELD_BYTE_OFFSET, "sample___mine", "a")),
            (1, CoreRelocation(CoreKind.TYPE_ID_LOCAL, "struct sample___mine")),
            (2, CoreRelocation(CoreKind.TYPE_MATCHES, "sample___mine")),
        ],
    )
    assert imm_of(code, 0) == sample(target).member("a").byte_offset
    assert imm_of(code, 1) == 3
    assert imm_of(code, 2) == 0  # `missing` is not in the target
    assert results[0].local_value == 4


def test_placeholder_errors(relocator: CoreRelocator) -> None:
    code = encode([mov(R1, 0), exit_()])
    with pytest.raises(ValueError, match="outside"):
        relocator.relocate_placeholders(code, [(2, CoreRelocation(CoreKind.TYPE_EXISTS, "sample"))])
    with pytest.raises(CoreError, match="local BTF"):
        relocator.relocate_placeholders(code, [(0, CoreRelocation(CoreKind.TYPE_ID_LOCAL, "sample"))])
    with pytest.raises(CoreError, match="no 'nothing'"):
        relocator.relocate_placeholders(
            code, [(0, CoreRelocation(CoreKind.FIELD_EXISTS, "sample___mine", "nothing"))]
        )


# ------------------------------------------------------- patching errors


@pytest.mark.parametrize(
    ("insn", "message"),
    [
        (mov(R1, 5), "holds 5, expected 4"),
        (mov(R1, R2), "register operand"),
        (load(R1, R2, 0, W), "offset 0, expected 4"),
        (call(1), "cannot be relocated"),
    ],
)
def test_instructions_that_cannot_take_the_relocation(
    relocator: CoreRelocator, insn: Instruction, message: str
) -> None:
    with pytest.raises(CoreError, match=message):
        run(relocator, [insn, exit_()], [relo(K.FIELD_BYTE_OFFSET, "0:1")])


def test_anonymous_local_type_is_refused() -> None:
    b = BtfBuilder()
    b.add(Int(0, "int", 4, SIGNED, bits=32))
    b.add(Struct(0, "", 4, (Member("x", 1, 0),)))
    with pytest.raises(CoreError, match="anonymous"):
        run(
            CoreRelocator(b.graph(), [target_graph()]),
            [mov(R1, 0), exit_()],
            [CoreRelo(0, 2, "0:0", K.FIELD_BYTE_OFFSET)],
        )


def test_empty_target_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CoreRelocator(local_graph(), [])


# ---------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("record", "instructions"),
    [
        (relo(K.FIELD_BYTE_OFFSET, ""), 2),
        (relo(K.FIELD_BYTE_OFFSET, ":1"), 2),
        (relo(K.FIELD_BYTE_OFFSET, "0:x"), 2),
        (relo(K.FIELD_BYTE_OFFSET, "0:99"), 2),
        (relo(K.FIELD_BYTE_OFFSET, "0:5:1"), 2),  # int[1] has no element 1
        (relo(K.FIELD_BYTE_OFFSET, "0:0:0"), 2),  # an int has no members
        (relo(K.FIELD_BYTE_OFFSET, ":".join(["0"] * 65)), 2),
        (relo(K.FIELD_BYTE_OFFSET, "0:1", type_id=999), 2),
        (relo(K.ENUMVAL_VALUE, "0", type_id=3), 2),  # a struct is not an enum
        (relo(K.ENUMVAL_VALUE, "7", type_id=4), 2),
        (relo(K.TYPE_SIZE, "0:1"), 2),
        (CoreRelo(4, 3, "0:1", K.FIELD_BYTE_OFFSET), 2),  # misaligned
        (CoreRelo(16, 3, "0:1", K.FIELD_BYTE_OFFSET), 2),  # past the end
    ],
)
def test_malformed_records_raise_parse_error(
    relocator: CoreRelocator, record: CoreRelo, instructions: int
) -> None:
    with pytest.raises(ParseError):
        run(relocator, [mov(R1, 4)] * instructions, [record])


def test_instructions_must_be_whole_slots(relocator: CoreRelocator) -> None:
    with pytest.raises(ParseError, match="8-byte"):
        relocator.relocate(b"\0" * 12, [])


def test_random_records_never_crash_with_anything_but_parse_or_core_errors(target: TypeGraph) -> None:
    rng = random.Random(5)
    local = local_graph()
    relocator = CoreRelocator(local, [target])
    code = encode([mov(R1, 0), load(R1, R2, 0, W), lddw(R1, 0), exit_()])
    for _ in range(3000):
        access = ":".join(str(rng.choice([0, 1, 2, 3, 5, 9, 70000])) for _ in range(rng.randint(0, 4)))
        if rng.random() < 0.1:
            access = rng.choice(["", ":", "0::1", "-1", "0:1:", "a", "0 1"])
        record = CoreRelo(
            rng.choice([0, 8, 16, 24, 32, 3, 400]), rng.randint(0, 9), access, rng.choice(list(K))
        )
        # anything else (IndexError, KeyError, RecursionError...) fails the test
        with contextlib.suppress(ParseError, CoreError):
            relocator.relocate(code, [record])


def test_cyclic_target_types_raise_parse_error() -> None:
    b = BtfBuilder()
    b.add(Typedef(0, "sample", 2))
    b.add(Typedef(0, "loop", 1))
    local = BtfBuilder()
    local.add(Typedef(0, "sample", 2))
    local.add(Int(0, "int", 4, SIGNED, bits=32))
    with pytest.raises(ParseError):
        run(
            CoreRelocator(local.graph(), [b.graph()]),
            [mov(R1, 0), exit_()],
            [CoreRelo(0, 1, "0", K.TYPE_EXISTS)],
        )
