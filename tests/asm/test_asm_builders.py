"""The assembler DSL: what each builder encodes, labels, map references, CO-RE placeholders, bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ebpf import asm
from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R10,
    CoreKind,
    CoreRelocation,
    Instruction,
    Item,
    W,
    assemble,
    decode,
    disassemble,
    format_instruction,
    format_verifier,
    label,
    resolve_labels,
)


@pytest.mark.parametrize(
    ("insn", "llvm", "verifier"),
    [
        (asm.mov(R0, 1), "r0 = 1", "(b7) r0 = 1"),
        (asm.mov32(R1, R2), "w1 = w2", "(bc) w1 = w2"),
        (asm.add(R1, -4), "r1 += -4", "(07) r1 += -4"),
        (asm.sub32(R1, 3), "w1 -= 3", "(14) w1 -= 3"),
        (asm.mul(R1, R2), "r1 *= r2", "(2f) r1 *= r2"),
        (asm.div32(R1, 7), "w1 /= 7", "(34) w1 /= 7"),
        (asm.sdiv(R1, R2), "r1 s/= r2", "(3f) r1 s/= r2"),
        (asm.sdiv32(R1, -3), "w1 s/= -3", "(34) w1 s/= -3"),
        (asm.mod(R1, 5), "r1 %= 5", "(97) r1 %= 5"),
        (asm.smod32(R1, R2), "w1 s%= w2", "(9c) w1 s%= w2"),
        (asm.or_(R1, 8), "r1 |= 8", "(47) r1 |= 8"),
        (asm.and32(R1, 0xFF00FF00), "w1 &= -16711936", "(54) w1 &= -16711936"),
        (asm.xor(R1, R2), "r1 ^= r2", "(af) r1 ^= r2"),
        (asm.lsh(R1, 3), "r1 <<= 3", "(67) r1 <<= 3"),
        (asm.rsh32(R1, R2), "w1 >>= w2", "(7c) w1 >>= w2"),
        (asm.arsh(R1, 63), "r1 s>>= 63", "(c7) r1 s>>= 63"),
        (asm.neg(R1), "r1 = -r1", "(87) r1 = -r1"),
        (asm.neg32(R1), "w1 = -w1", "(84) w1 = -w1"),
        (asm.movsx(R1, R2, 16), "r1 = (s16)r2", "(bf) r1 = (s16)r2"),
        (asm.movsx32(R1, R2, 8), "w1 = (s8)w2", "(bc) w1 = (s8)w2"),
        (
            asm.addr_space_cast(R1, R2, 1, 0),
            "r1 = addr_space_cast(r2, 1, 0)",
            "(bf) r1 = addr_space_cast(r2, 1, 0)",
        ),
        (asm.le16(R1), "r1 = le16 r1", "(d4) r1 = le16 r1"),
        (asm.be64(R1), "r1 = be64 r1", "(dc) r1 = be64 r1"),
        (asm.bswap32(R1), "r1 = bswap32 r1", "(d7) r1 = bswap32 r1"),
        (asm.ja(3), "goto +3", "(05) goto pc+3"),
        (asm.gotol(-70000), "gotol -70000", "(06) goto pc-70000"),
        (asm.may_goto(2), "may_goto +2", "(e5) may_goto pc+2"),
        (asm.jeq(R0, 0, 1), "if r0 == 0 goto +1", "(15) if r0 == 0x0 goto pc+1"),
        (asm.jne32(R1, R2, -2), "if w1 != w2 goto -2", "(5e) if w1 != w2 goto pc-2"),
        (asm.jsgt(R1, -1, 4), "if r1 s> -1 goto +4", "(65) if r1 s> 0xffffffff goto pc+4"),
        (asm.jset(R1, 4, 1), "if r1 & 4 goto +1", "(45) if r1 & 0x4 goto pc+1"),
        (asm.jle32(R1, 0xFFFFFFFF, 0), "if w1 <= -1 goto +0", "(b6) if w1 <= 0xffffffff goto pc+0"),
        (asm.call("map_lookup_elem"), "call 1", "(85) call bpf_map_lookup_elem#1"),
        (asm.call("bpf_ktime_get_ns"), "call 5", "(85) call bpf_ktime_get_ns#5"),
        (asm.call_func(4), "call 4", "(85) call pc+4"),
        (asm.call_kfunc(1234), "call 1234", "(85) call kernel-function#1234"),
        (asm.exit_(), "exit", "(95) exit"),
        (asm.load(R0, R1, 8, W), "r0 = *(u32 *)(r1 + 8)", "(61) r0 = *(u32 *)(r1 +8)"),
        (asm.load(R0, R10, -8), "r0 = *(u64 *)(r10 - 8)", "(79) r0 = *(u64 *)(r10 -8)"),
        (asm.load(R0, R1, 2, asm.H, signed=True), "r0 = *(s16 *)(r1 + 2)", "(89) r0 = *(s16 *)(r1 +2)"),
        (asm.store(R10, -4, R1, W), "*(u32 *)(r10 - 4) = r1", "(63) *(u32 *)(r10 -4) = r1"),
        (asm.store(R10, -1, 7, asm.B), "*(u8 *)(r10 - 1) = 7", "(72) *(u8 *)(r10 -1) = 7"),
        (asm.atomic_add(R1, 0, R2), "lock *(u64 *)(r1 + 0) += r2", "(db) lock *(u64 *)(r1 +0) += r2"),
        (
            asm.atomic_or(R1, 8, R2, W, fetch=True),
            "w2 = atomic_fetch_or((u32 *)(r1 + 8), w2)",
            "(c3) r2 = atomic_fetch_or((u32 *)(r1 +8), r2)",
        ),
        (
            asm.atomic_xor(R1, 0, R2, fetch=True),
            "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)",
            "(db) r2 = atomic64_fetch_xor((u64 *)(r1 +0), r2)",
        ),
        (asm.atomic_and(R1, 0, R2), "lock *(u64 *)(r1 + 0) &= r2", "(db) lock *(u64 *)(r1 +0) &= r2"),
        (
            asm.atomic_xchg(R1, 0, R2),
            "r2 = xchg_64(r1 + 0, r2)",
            "(db) r2 = atomic64_xchg((u64 *)(r1 +0), r2)",
        ),
        (
            asm.atomic_cmpxchg(R1, 0, R2, W),
            "w0 = cmpxchg32_32(r1 + 0, w0, w2)",
            "(c3) r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)",
        ),
        (
            asm.load_acquire(R0, R1, 0),
            "r0 = load_acquire((u64 *)(r1 + 0))",
            "(db) r0 = load_acquire((u64 *)(r1 +0))",
        ),
        (
            asm.store_release(R1, 0, R2, W),
            "store_release((u32 *)(r1 + 0), w2)",
            "(c3) store_release((u32 *)(r1 +0), r2)",
        ),
        (asm.ld_abs(asm.H, 12), "r0 = *(u16 *)skb[12]", "(28) r0 = *(u16 *)skb[12]"),
        (asm.ld_ind(W, R1, 4), "r0 = *(u32 *)skb[r1 + 4]", "(40) r0 = *(u32 *)skb[r1 + 4]"),
        (asm.lddw(R1, -1), "r1 = -1 ll", "(18) r1 = 0xffffffffffffffff"),
        (asm.ld_map_fd(R1, 7), "ld_pseudo\tr1, 1, 7", "(18) r1 = 0x7"),
        (asm.ld_map_value(R1, 7, 16), "ld_pseudo\tr1, 2, 7", "(18) r1 = 0x1000000007"),
        (asm.ld_map_idx(R1, 0), "ld_pseudo\tr1, 5, 0", "(18) r1 = 0x0"),
        (asm.ld_map_idx_value(R1, 1, 4), "ld_pseudo\tr1, 6, 1", "(18) r1 = 0x400000001"),
        (asm.ld_btf_id(R1, 99), "ld_pseudo\tr1, 3, 99", "(18) r1 = 0x63"),
        (asm.ld_func(R1, 5), "ld_pseudo\tr1, 4, 5", "(18) r1 = +5"),
    ],
)
def test_builders_encode_and_print(insn: Instruction, llvm: str, verifier: str) -> None:
    assert format_instruction(insn) == llvm
    assert str(insn) == llvm
    assert format_verifier(insn) == verifier
    assert decode(insn.encode()) == [insn]


def test_labels_resolve_forward_and_backward_jumps_and_calls() -> None:
    program: list[Item] = [
        asm.mov(R0, 0),
        label("loop"),
        asm.add(R0, 1),
        asm.lddw(R2, 1 << 40),  # two slots: offsets count them
        asm.jlt(R0, 10, "loop"),
        asm.call_func("double"),
        asm.jeq(R0, 20, label("done")),
        asm.mov(R0, 0),
        label("done"),
        asm.exit_(),
        label("double"),
        asm.ld_func(R3, "double"),
        asm.add(R0, R0),
        asm.exit_(),
    ]
    insns = resolve_labels(program)
    assert [str(i) for i in insns] == [
        "r0 = 0",
        "r0 += 1",
        "r2 = 1099511627776 ll",
        "if r0 < 10 goto -4",
        "call 3",
        "if r0 == 20 goto +1",
        "r0 = 0",
        "exit",
        "ld_pseudo\tr3, 4, -1",
        "r0 += r0",
        "exit",
    ]
    assert all(i.reference is None for i in insns)
    assert decode(assemble(program)) == insns


def test_gotol_reaches_further_than_goto() -> None:
    far: list[Item] = [asm.gotol("end"), *[asm.mov(R0, 0)] * 40000, label("end"), asm.exit_()]
    assert resolve_labels(far)[0].imm == 40000
    with pytest.raises(ValueError, match=r"instruction 0 \(goto \+0.*label 'end' is 40000 instructions away"):
        resolve_labels([asm.ja("end"), *far[1:]])


def test_unknown_and_duplicate_labels() -> None:
    with pytest.raises(
        ValueError, match=r"instruction 1 \(if r0 == 0 goto \+0.*unknown label 'out' \(labels: top\)"
    ):
        resolve_labels([label("top"), asm.mov(R0, 0), asm.jeq(R0, 0, "out"), asm.exit_()])
    with pytest.raises(ValueError, match=r"label 'x' is defined twice .before instruction 0 and 1."):
        resolve_labels([label("x"), asm.exit_(), label("x")])
    with pytest.raises(TypeError, match=r"item 0 is a str"):
        resolve_labels(["exit"])  # type: ignore[list-item]


def test_maps_are_patched_by_name_at_assembly() -> None:
    program: list[Item] = [asm.ld_map_fd(R1, "counters"), asm.ld_map_value(R2, "data", 8), asm.exit_()]
    unresolved = resolve_labels(program)
    assert [i.reference for i in unresolved] == ["counters", "data", None]

    class FakeMap:
        def fileno(self) -> int:
            return 42

    insns = decode(assemble(program, maps={"counters": 9, "data": FakeMap()}))
    assert (insns[0].src, insns[0].imm) == (1, 9)
    assert (insns[1].src, insns[1].imm) == (2, (8 << 32) | 42)
    with pytest.raises(ValueError, match=r"instruction 0 .* no map named 'counters' in maps= .data."):
        assemble(program, maps={"data": 3})


def test_what_needs_kernel_btf_is_refused_by_assemble() -> None:
    with pytest.raises(ValueError, match=r"kernel BTF id of 'bpf_obj_new_impl' is needed"):
        assemble([asm.call_kfunc("bpf_obj_new_impl"), asm.exit_()])
    with pytest.raises(ValueError, match=r"no label 'helper_fn' for this function call"):
        assemble([asm.call_func("helper_fn"), asm.exit_()])
    with pytest.raises(ValueError, match=r"carries the CO-RE relocation 'field_byte_offset task_struct.pid'"):
        assemble([asm.core_field_offset(R1, "task_struct.pid"), asm.exit_()])


@pytest.mark.parametrize(
    ("build", "kind", "type_name", "access"),
    [
        (
            lambda: asm.core_field_offset(R1, "task_struct.pid"),
            CoreKind.FIELD_BYTE_OFFSET,
            "task_struct",
            "pid",
        ),
        (
            lambda: asm.core_field_offset(R1, "task_struct", "0:12"),
            CoreKind.FIELD_BYTE_OFFSET,
            "task_struct",
            "0:12",
        ),
        (lambda: asm.core_field_size(R1, "sk_buff.len"), CoreKind.FIELD_BYTE_SIZE, "sk_buff", "len"),
        (
            lambda: asm.core_field_exists(R1, "task_struct.se.vruntime"),
            CoreKind.FIELD_EXISTS,
            "task_struct",
            "se.vruntime",
        ),
        (lambda: asm.core_field_signed(R1, "task_struct.pid"), CoreKind.FIELD_SIGNED, "task_struct", "pid"),
        (
            lambda: asm.core_field_lshift(R1, "sk_buff.pkt_type"),
            CoreKind.FIELD_LSHIFT_U64,
            "sk_buff",
            "pkt_type",
        ),
        (
            lambda: asm.core_field_rshift(R1, "sk_buff.pkt_type"),
            CoreKind.FIELD_RSHIFT_U64,
            "sk_buff",
            "pkt_type",
        ),
        (lambda: asm.core_type_id_local(R1, "task_struct"), CoreKind.TYPE_ID_LOCAL, "task_struct", "0"),
        (lambda: asm.core_type_id_target(R1, "task_struct"), CoreKind.TYPE_ID_TARGET, "task_struct", "0"),
        (lambda: asm.core_type_exists(R1, "bpf_iter_num"), CoreKind.TYPE_EXISTS, "bpf_iter_num", "0"),
        (lambda: asm.core_type_size(R1, "task_struct"), CoreKind.TYPE_SIZE, "task_struct", "0"),
        (lambda: asm.core_type_matches(R1, "task_struct"), CoreKind.TYPE_MATCHES, "task_struct", "0"),
        (
            lambda: asm.core_enum_value_exists(R1, "bpf_func_id.BPF_FUNC_loop"),
            CoreKind.ENUMVAL_EXISTS,
            "bpf_func_id",
            "BPF_FUNC_loop",
        ),
        (lambda: asm.core_enum_value(R1, "bpf_map_type", "3"), CoreKind.ENUMVAL_VALUE, "bpf_map_type", "3"),
    ],
)
def test_core_placeholders_carry_their_relocation(
    build: Callable[[], Instruction], kind: CoreKind, type_name: str, access: str
) -> None:
    insn = build()
    assert insn.relocation == CoreRelocation(kind, type_name, access)
    assert str(insn) == "r1 = 0"
    assert insn.relocation.is_raw == access[0].isdigit()


def test_core_relocation_kinds_match_the_kernel_abi() -> None:
    from ebpf.syscall.abi import CoreReloKind

    assert {k.name: k.value for k in CoreKind} == {k.name: k.value for k in CoreReloKind}


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: asm.mov(11, 1), ValueError, "mov: unknown register 11 as dst; eBPF has R0..R10"),  # type: ignore[arg-type]
        (
            lambda: asm.mov(R10, 1),
            ValueError,
            "mov: R10 is the read-only frame pointer and cannot be written",
        ),
        (lambda: asm.load(R10, R1), ValueError, "load: R10 is the read-only frame pointer"),
        (
            lambda: asm.atomic_add(R1, 0, R10, fetch=True),
            ValueError,
            "atomic_add: R10 is the read-only frame pointer",
        ),
        (lambda: asm.add(R1, 1 << 31), ValueError, "add: immediate 2147483648 does not fit .* sign-extends"),
        (lambda: asm.add32(R1, 1 << 32), ValueError, "add32: immediate 4294967296 does not fit"),
        (lambda: asm.lsh(R1, 64), ValueError, "lsh: shift amount 64 does not fit .accepted: 0 to 63."),
        (lambda: asm.ja(1 << 15), ValueError, "ja: jump offset 32768 does not fit"),
        (lambda: asm.load(R0, R1, 1 << 15), ValueError, "load: offset 32768 does not fit"),
        (lambda: asm.store(R10, -8, 1 << 31, DW), ValueError, "store: immediate 2147483648 does not fit"),
        (lambda: asm.atomic_add(R1, 0, R2, asm.B), ValueError, "atomic_add: atomics take W or DW, not B"),
        (lambda: asm.movsx(R1, R2, 64), ValueError, "movsx: bits must be 8, 16 or 32"),
        (
            lambda: asm.call("map_lookup_elm"),
            ValueError,
            "unknown helper 'map_lookup_elm'; did you mean map_lookup_elem",
        ),
        (lambda: asm.call(9999), ValueError, "unknown helper id 9999"),
        (lambda: asm.load(R0, R1, 0, 3), ValueError, "load: size must be B, H, W or DW"),  # type: ignore[arg-type]
        (lambda: asm.mov(R1, "1"), TypeError, "mov: immediate must be an int, not str"),  # type: ignore[arg-type]
        (lambda: asm.core_field_offset(R1, "task_struct"), ValueError, "needs a field after the type"),
        (lambda: asm.core_type_size(R1, "task_struct.pid"), ValueError, "TYPE_SIZE is about a whole type"),
        (lambda: asm.label(""), ValueError, "a label name must be a non-empty str"),
    ],
)
def test_bad_operands_say_what_and_where(
    build: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build()


def test_disassemble_verifier_style_and_without_bytes() -> None:
    code = assemble([asm.mov(R0, 2), asm.lddw(R1, 5), asm.exit_()])
    assert disassemble(code, style="verifier").splitlines() == [
        "0: (b7) r0 = 2",
        "1: (18) r1 = 0x5",
        "3: (95) exit",
    ]
    assert disassemble(code, show_bytes=False).splitlines() == [
        "       0:\tr0 = 2",
        "       1:\tr1 = 5 ll",
        "       3:\texit",
    ]
    with pytest.raises(ValueError, match=r"style must be 'llvm' or 'verifier'"):
        disassemble(code, style="gas")  # type: ignore[arg-type]


def test_undecodable_encodings_print_as_llvm_does() -> None:
    assert format_instruction(Instruction(0xFF)) == "<unknown>"
    assert format_verifier(Instruction(0xFD)) == "(fd) BUG_fd"


def test_ebpf_asm_core_is_a_deprecated_alias_of_co_re() -> None:
    import importlib
    import sys

    from ebpf.asm import co_re

    sys.modules.pop("ebpf.asm.core", None)
    with pytest.warns(DeprecationWarning, match=r"ebpf\.asm\.core is deprecated"):
        core = importlib.import_module("ebpf.asm.core")
    assert core.CoreKind is co_re.CoreKind
    assert core.CoreRelocation is co_re.CoreRelocation
