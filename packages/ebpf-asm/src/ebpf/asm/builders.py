"""Builders for every instruction: the assembler DSL.

Each builder returns one [`Instruction`][ebpf.asm.Instruction]. Registers are
``R0``..``R10``; a second operand that is a register makes the register form
(``add(R1, R2)``: ``r1 += r2``), an int the immediate form (``add(R1, 2)``).
Names without a suffix are the 64-bit instructions, ``...32`` the 32-bit ones
(which zero the upper half of the destination). Jumps and BPF-to-BPF calls
take a label name (resolved by [`assemble()`][ebpf.asm.assemble]) or a raw offset.

Every builder checks its operands and raises ``ValueError`` naming the
builder and the operand: an unknown register, a write to the read-only
``R10``, an immediate or offset that does not fit.
"""

from __future__ import annotations

from typing import Protocol

from .co_re import CoreKind, CoreRelocation
from .helper_registry import Helper, helper
from .instruction import LDDW, Instruction, Reg
from .opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source

__all__ = [
    "DW",
    "B",
    "H",
    "HasFileno",
    "Label",
    "W",
    "add",
    "add32",
    "addr_space_cast",
    "and32",
    "and_",
    "arsh",
    "arsh32",
    "atomic_add",
    "atomic_and",
    "atomic_cmpxchg",
    "atomic_or",
    "atomic_xchg",
    "atomic_xor",
    "be16",
    "be32",
    "be64",
    "bswap16",
    "bswap32",
    "bswap64",
    "call",
    "call_func",
    "call_kfunc",
    "core_enum_value",
    "core_enum_value_exists",
    "core_field_exists",
    "core_field_lshift",
    "core_field_offset",
    "core_field_rshift",
    "core_field_signed",
    "core_field_size",
    "core_type_exists",
    "core_type_id_local",
    "core_type_id_target",
    "core_type_matches",
    "core_type_size",
    "div",
    "div32",
    "exit_",
    "gotol",
    "ja",
    "jeq",
    "jeq32",
    "jge",
    "jge32",
    "jgt",
    "jgt32",
    "jle",
    "jle32",
    "jlt",
    "jlt32",
    "jne",
    "jne32",
    "jset",
    "jset32",
    "jsge",
    "jsge32",
    "jsgt",
    "jsgt32",
    "jsle",
    "jsle32",
    "jslt",
    "jslt32",
    "label",
    "ld_abs",
    "ld_btf_id",
    "ld_func",
    "ld_ind",
    "ld_map_fd",
    "ld_map_idx",
    "ld_map_idx_value",
    "ld_map_value",
    "lddw",
    "le16",
    "le32",
    "le64",
    "load",
    "load_acquire",
    "lsh",
    "lsh32",
    "may_goto",
    "mod",
    "mod32",
    "mov",
    "mov32",
    "movsx",
    "movsx32",
    "mul",
    "mul32",
    "neg",
    "neg32",
    "or32",
    "or_",
    "rsh",
    "rsh32",
    "sdiv",
    "sdiv32",
    "smod",
    "smod32",
    "store",
    "store_release",
    "sub",
    "sub32",
    "xor",
    "xor32",
]

W, H, B, DW = Size.W, Size.H, Size.B, Size.DW

_I16 = (-(1 << 15), (1 << 15) - 1)
_I32 = (-(1 << 31), (1 << 31) - 1)
_U32_OR_I32 = (-(1 << 31), (1 << 32) - 1)


class HasFileno(Protocol):
    """Anything with a ``fileno()`` method (a map object, an ``FD``)."""

    def fileno(self) -> int: ...


class Label:
    """A position in a program that jumps and calls can name.

    Put it in the instruction list where the target is: ``label("out")``.

    Raises:
        ValueError: an empty name or one with whitespace.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"a label name must be a non-empty str without spaces, not {name!r}")
        self.name = name

    def __repr__(self) -> str:
        return f"label({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Label) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Label", self.name))


def label(name: str) -> Label:
    """Mark the position of the next instruction as ``name``.

    Raises:
        ValueError: see [`Label`][ebpf.asm.Label].
    """
    return Label(name)


Target = str | Label | int


# --------------------------------------------------------------------- checks


def _reg(builder: str, role: str, value: object, *, writes: bool = False) -> Reg:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{builder}: {role} must be a register (R0..R10), not {type(value).__name__}")
    try:
        reg = Reg(value)
    except ValueError:
        raise ValueError(f"{builder}: unknown register {value!r} as {role}; eBPF has R0..R10") from None
    if writes and reg == Reg.R10:
        raise ValueError(f"{builder}: R10 is the read-only frame pointer and cannot be written ({role})")
    return reg


def _int(builder: str, role: str, value: object, bounds: tuple[int, int], why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{builder}: {role} must be an int, not {type(value).__name__}")
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{builder}: {role} {value} does not fit (accepted: {low} to {high}){why}")
    return value


def _size(builder: str, size: object) -> Size:
    if isinstance(size, bool) or not isinstance(size, int) or size not in set(Size):
        raise ValueError(f"{builder}: size must be B, H, W or DW, not {size!r}")
    return Size(size)


def _name(builder: str, role: str, value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{builder}: {role} must be a non-empty name without spaces, not {value!r}")
    return value


def _target(builder: str, target: object, bounds: tuple[int, int]) -> tuple[int, str | None]:
    if isinstance(target, Label):
        return 0, target.name
    if isinstance(target, str):
        return 0, _name(builder, "label", target)
    return _int(builder, "jump offset", target, bounds), None


# ------------------------------------------------------------------------ ALU

_SIGN_EXTENDED = "; a 64-bit operation sign-extends its 32-bit immediate: load larger constants with lddw"


def _alu(name: str, op: AluOp, dst: Reg, src: Reg | int, *, wide: bool, offset: int = 0) -> Instruction:
    cls = InsnClass.ALU64 if wide else InsnClass.ALU
    d = _reg(name, "dst", dst, writes=True)
    if isinstance(src, Reg):
        return Instruction(op | Source.X | cls, d, src, offset, 0)
    bounds, why = (_I32, _SIGN_EXTENDED) if wide else (_U32_OR_I32, "")
    return Instruction(op | Source.K | cls, d, 0, offset, _int(name, "immediate", src, bounds, why))


def mov(dst: Reg, src: Reg | int) -> Instruction:
    """``dst = src`` (64-bit)."""
    return _alu("mov", AluOp.MOV, dst, src, wide=True)


def mov32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst = wsrc`` (32-bit; zeroes the upper half)."""
    return _alu("mov32", AluOp.MOV, dst, src, wide=False)


def add(dst: Reg, src: Reg | int) -> Instruction:
    """``dst += src``."""
    return _alu("add", AluOp.ADD, dst, src, wide=True)


def add32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst += wsrc``."""
    return _alu("add32", AluOp.ADD, dst, src, wide=False)


def sub(dst: Reg, src: Reg | int) -> Instruction:
    """``dst -= src``."""
    return _alu("sub", AluOp.SUB, dst, src, wide=True)


def sub32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst -= wsrc``."""
    return _alu("sub32", AluOp.SUB, dst, src, wide=False)


def mul(dst: Reg, src: Reg | int) -> Instruction:
    """``dst *= src``."""
    return _alu("mul", AluOp.MUL, dst, src, wide=True)


def mul32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst *= wsrc``."""
    return _alu("mul32", AluOp.MUL, dst, src, wide=False)


def div(dst: Reg, src: Reg | int) -> Instruction:
    """``dst /= src`` (unsigned; division by zero gives 0)."""
    return _alu("div", AluOp.DIV, dst, src, wide=True)


def div32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst /= wsrc`` (unsigned)."""
    return _alu("div32", AluOp.DIV, dst, src, wide=False)


def sdiv(dst: Reg, src: Reg | int) -> Instruction:
    """``dst s/= src`` (signed; cpu v4, Linux 6.6)."""
    return _alu("sdiv", AluOp.DIV, dst, src, wide=True, offset=1)


def sdiv32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst s/= wsrc`` (signed; cpu v4, Linux 6.6)."""
    return _alu("sdiv32", AluOp.DIV, dst, src, wide=False, offset=1)


def mod(dst: Reg, src: Reg | int) -> Instruction:
    """``dst %= src`` (unsigned; modulo zero leaves dst unchanged)."""
    return _alu("mod", AluOp.MOD, dst, src, wide=True)


def mod32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst %= wsrc`` (unsigned)."""
    return _alu("mod32", AluOp.MOD, dst, src, wide=False)


def smod(dst: Reg, src: Reg | int) -> Instruction:
    """``dst s%= src`` (signed; cpu v4, Linux 6.6)."""
    return _alu("smod", AluOp.MOD, dst, src, wide=True, offset=1)


def smod32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst s%= wsrc`` (signed; cpu v4, Linux 6.6)."""
    return _alu("smod32", AluOp.MOD, dst, src, wide=False, offset=1)


def or_(dst: Reg, src: Reg | int) -> Instruction:
    """``dst |= src``."""
    return _alu("or_", AluOp.OR, dst, src, wide=True)


def or32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst |= wsrc``."""
    return _alu("or32", AluOp.OR, dst, src, wide=False)


def and_(dst: Reg, src: Reg | int) -> Instruction:
    """``dst &= src``."""
    return _alu("and_", AluOp.AND, dst, src, wide=True)


def and32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst &= wsrc``."""
    return _alu("and32", AluOp.AND, dst, src, wide=False)


def xor(dst: Reg, src: Reg | int) -> Instruction:
    """``dst ^= src``."""
    return _alu("xor", AluOp.XOR, dst, src, wide=True)


def xor32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst ^= wsrc``."""
    return _alu("xor32", AluOp.XOR, dst, src, wide=False)


def _shift(name: str, op: AluOp, dst: Reg, src: Reg | int, wide: bool) -> Instruction:
    if not isinstance(src, Reg):
        _int(name, "shift amount", src, (0, 63 if wide else 31))
    return _alu(name, op, dst, src, wide=wide)


def lsh(dst: Reg, src: Reg | int) -> Instruction:
    """``dst <<= src``."""
    return _shift("lsh", AluOp.LSH, dst, src, True)


def lsh32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst <<= wsrc``."""
    return _shift("lsh32", AluOp.LSH, dst, src, False)


def rsh(dst: Reg, src: Reg | int) -> Instruction:
    """``dst >>= src`` (logical)."""
    return _shift("rsh", AluOp.RSH, dst, src, True)


def rsh32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst >>= wsrc`` (logical)."""
    return _shift("rsh32", AluOp.RSH, dst, src, False)


def arsh(dst: Reg, src: Reg | int) -> Instruction:
    """``dst s>>= src`` (arithmetic)."""
    return _shift("arsh", AluOp.ARSH, dst, src, True)


def arsh32(dst: Reg, src: Reg | int) -> Instruction:
    """``wdst s>>= wsrc`` (arithmetic)."""
    return _shift("arsh32", AluOp.ARSH, dst, src, False)


def neg(dst: Reg) -> Instruction:
    """``dst = -dst``."""
    return Instruction(AluOp.NEG | InsnClass.ALU64, _reg("neg", "dst", dst, writes=True))


def neg32(dst: Reg) -> Instruction:
    """``wdst = -wdst``."""
    return Instruction(AluOp.NEG | InsnClass.ALU, _reg("neg32", "dst", dst, writes=True))


def movsx(dst: Reg, src: Reg, bits: int) -> Instruction:
    """``dst = (s8|s16|s32) src``: sign-extend the low ``bits`` of src (cpu v4, Linux 6.6)."""
    d = _reg("movsx", "dst", dst, writes=True)
    s = _reg("movsx", "src", src)
    if bits not in (8, 16, 32):
        raise ValueError(f"movsx: bits must be 8, 16 or 32, not {bits!r}")
    return Instruction(AluOp.MOV | Source.X | InsnClass.ALU64, d, s, bits)


def movsx32(dst: Reg, src: Reg, bits: int) -> Instruction:
    """``wdst = (s8|s16) wsrc`` (cpu v4, Linux 6.6)."""
    d = _reg("movsx32", "dst", dst, writes=True)
    s = _reg("movsx32", "src", src)
    if bits not in (8, 16):
        raise ValueError(f"movsx32: bits must be 8 or 16, not {bits!r}")
    return Instruction(AluOp.MOV | Source.X | InsnClass.ALU, d, s, bits)


def addr_space_cast(dst: Reg, src: Reg, dst_as: int, src_as: int) -> Instruction:
    """``dst = addr_space_cast(src, dst_as, src_as)``: move a pointer between address spaces (Linux 6.9)."""
    d = _reg("addr_space_cast", "dst", dst, writes=True)
    s = _reg("addr_space_cast", "src", src)
    imm = (_int("addr_space_cast", "dst_as", dst_as, (0, 0xFFFF)) << 16) | _int(
        "addr_space_cast", "src_as", src_as, (0, 0xFFFF)
    )
    return Instruction(AluOp.MOV | Source.X | InsnClass.ALU64, d, s, 1, imm)


def _endian(name: str, dst: Reg, bits: int, cls: InsnClass, source: Source) -> Instruction:
    return Instruction(AluOp.END | source | cls, _reg(name, "dst", dst, writes=True), 0, 0, bits)


def le16(dst: Reg) -> Instruction:
    """``dst = le16 dst``: convert to little endian (truncates to 16 bits)."""
    return _endian("le16", dst, 16, InsnClass.ALU, Source.K)


def le32(dst: Reg) -> Instruction:
    """``dst = le32 dst``."""
    return _endian("le32", dst, 32, InsnClass.ALU, Source.K)


def le64(dst: Reg) -> Instruction:
    """``dst = le64 dst``."""
    return _endian("le64", dst, 64, InsnClass.ALU, Source.K)


def be16(dst: Reg) -> Instruction:
    """``dst = be16 dst``: convert to big endian (network order)."""
    return _endian("be16", dst, 16, InsnClass.ALU, Source.X)


def be32(dst: Reg) -> Instruction:
    """``dst = be32 dst``."""
    return _endian("be32", dst, 32, InsnClass.ALU, Source.X)


def be64(dst: Reg) -> Instruction:
    """``dst = be64 dst``."""
    return _endian("be64", dst, 64, InsnClass.ALU, Source.X)


def bswap16(dst: Reg) -> Instruction:
    """``dst = bswap16 dst``: unconditional byte swap (cpu v4, Linux 6.6)."""
    return _endian("bswap16", dst, 16, InsnClass.ALU64, Source.K)


def bswap32(dst: Reg) -> Instruction:
    """``dst = bswap32 dst`` (cpu v4)."""
    return _endian("bswap32", dst, 32, InsnClass.ALU64, Source.K)


def bswap64(dst: Reg) -> Instruction:
    """``dst = bswap64 dst`` (cpu v4)."""
    return _endian("bswap64", dst, 64, InsnClass.ALU64, Source.K)


# ---------------------------------------------------------------------- jumps


def ja(target: Target) -> Instruction:
    """``goto target`` (a label, or an offset in instructions after this one)."""
    off, ref = _target("ja", target, _I16)
    return Instruction(JmpOp.JA | InsnClass.JMP, 0, 0, off, 0, reference=ref)


def gotol(target: Target) -> Instruction:
    """``gotol target``: a jump with a 32-bit offset (cpu v4, Linux 6.6)."""
    off, ref = _target("gotol", target, _I32)
    return Instruction(JmpOp.JA | InsnClass.JMP32, 0, 0, 0, off, reference=ref)


def may_goto(target: Target) -> Instruction:
    """``may_goto target``: jump once the kernel's loop budget runs out (Linux 6.9)."""
    off, ref = _target("may_goto", target, _I16)
    return Instruction(JmpOp.JCOND | InsnClass.JMP, 0, 0, off, 0, reference=ref)


def _jump(name: str, op: JmpOp, dst: Reg, src: Reg | int, target: Target, wide: bool) -> Instruction:
    cls = InsnClass.JMP if wide else InsnClass.JMP32
    d = _reg(name, "dst", dst)
    off, ref = _target(name, target, _I16)
    if isinstance(src, Reg):
        return Instruction(op | Source.X | cls, d, src, off, 0, reference=ref)
    bounds, why = (
        (_I32, "; a 64-bit comparison sign-extends its 32-bit immediate: compare with a register instead")
        if wide
        else (_U32_OR_I32, "")
    )
    return Instruction(
        op | Source.K | cls, d, 0, off, _int(name, "immediate", src, bounds, why), reference=ref
    )


def jeq(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst == src goto target``."""
    return _jump("jeq", JmpOp.JEQ, dst, src, target, True)


def jeq32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst == wsrc goto target``."""
    return _jump("jeq32", JmpOp.JEQ, dst, src, target, False)


def jne(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst != src goto target``."""
    return _jump("jne", JmpOp.JNE, dst, src, target, True)


def jne32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst != wsrc goto target``."""
    return _jump("jne32", JmpOp.JNE, dst, src, target, False)


def jgt(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst > src goto target`` (unsigned)."""
    return _jump("jgt", JmpOp.JGT, dst, src, target, True)


def jgt32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst > wsrc goto target`` (unsigned)."""
    return _jump("jgt32", JmpOp.JGT, dst, src, target, False)


def jge(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst >= src goto target`` (unsigned)."""
    return _jump("jge", JmpOp.JGE, dst, src, target, True)


def jge32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst >= wsrc goto target`` (unsigned)."""
    return _jump("jge32", JmpOp.JGE, dst, src, target, False)


def jlt(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst < src goto target`` (unsigned)."""
    return _jump("jlt", JmpOp.JLT, dst, src, target, True)


def jlt32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst < wsrc goto target`` (unsigned)."""
    return _jump("jlt32", JmpOp.JLT, dst, src, target, False)


def jle(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst <= src goto target`` (unsigned)."""
    return _jump("jle", JmpOp.JLE, dst, src, target, True)


def jle32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst <= wsrc goto target`` (unsigned)."""
    return _jump("jle32", JmpOp.JLE, dst, src, target, False)


def jsgt(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst s> src goto target`` (signed)."""
    return _jump("jsgt", JmpOp.JSGT, dst, src, target, True)


def jsgt32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst s> wsrc goto target`` (signed)."""
    return _jump("jsgt32", JmpOp.JSGT, dst, src, target, False)


def jsge(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst s>= src goto target`` (signed)."""
    return _jump("jsge", JmpOp.JSGE, dst, src, target, True)


def jsge32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst s>= wsrc goto target`` (signed)."""
    return _jump("jsge32", JmpOp.JSGE, dst, src, target, False)


def jslt(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst s< src goto target`` (signed)."""
    return _jump("jslt", JmpOp.JSLT, dst, src, target, True)


def jslt32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst s< wsrc goto target`` (signed)."""
    return _jump("jslt32", JmpOp.JSLT, dst, src, target, False)


def jsle(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst s<= src goto target`` (signed)."""
    return _jump("jsle", JmpOp.JSLE, dst, src, target, True)


def jsle32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst s<= wsrc goto target`` (signed)."""
    return _jump("jsle32", JmpOp.JSLE, dst, src, target, False)


def jset(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if dst & src goto target``."""
    return _jump("jset", JmpOp.JSET, dst, src, target, True)


def jset32(dst: Reg, src: Reg | int, target: Target) -> Instruction:
    """``if wdst & wsrc goto target``."""
    return _jump("jset32", JmpOp.JSET, dst, src, target, False)


# ---------------------------------------------------------------------- calls


def call(target: str | int | Helper) -> Instruction:
    """Call a helper by name (``"map_lookup_elem"`` or ``"bpf_map_lookup_elem"``), id or
    [`Helper`][ebpf.asm.Helper].

    Raises:
        ValueError: an unknown helper name or id.
    """
    if isinstance(target, Helper):
        return Instruction(JmpOp.CALL | InsnClass.JMP, 0, PseudoCall.HELPER, 0, target.id)
    if isinstance(target, (str, int)) and not isinstance(target, bool):
        return Instruction(JmpOp.CALL | InsnClass.JMP, 0, PseudoCall.HELPER, 0, helper(target).id)
    raise TypeError(f"call: takes a helper name, id or Helper, not {type(target).__name__}")


def call_func(target: Target) -> Instruction:
    """Call a BPF-to-BPF function: a label in the same program, or an offset."""
    off, ref = _target("call_func", target, _I32)
    return Instruction(JmpOp.CALL | InsnClass.JMP, 0, PseudoCall.FUNC, 0, off, reference=ref)


def call_kfunc(target: str | int, *, module: int = 0) -> Instruction:
    """Call a kernel function by name (its BTF id is filled in at load time by ``ebpf.btf``) or BTF id.

    ``module`` is the index in the load's ``fd_array`` of the BTF of the
    module that defines the function (0: vmlinux).
    """
    index = _int("call_kfunc", "module index", module, _I16)
    if isinstance(target, str):
        return Instruction(
            JmpOp.CALL | InsnClass.JMP,
            0,
            PseudoCall.KFUNC,
            index,
            0,
            reference=_name("call_kfunc", "kernel function", target),
        )
    btf_id = _int("call_kfunc", "BTF id", target, (1, _I32[1]))
    return Instruction(JmpOp.CALL | InsnClass.JMP, 0, PseudoCall.KFUNC, index, btf_id)


def exit_() -> Instruction:
    """``exit``: return ``R0`` to the caller."""
    return Instruction(JmpOp.EXIT | InsnClass.JMP)


# ------------------------------------------------------------ loads and stores


def load(dst: Reg, src: Reg, offset: int = 0, size: Size = DW, *, signed: bool = False) -> Instruction:
    """``dst = *(size *)(src + offset)``; ``signed`` sign-extends (``ldsx``, cpu v4, Linux 6.6)."""
    sz = _size("load", size)
    if signed and sz == Size.DW:
        raise ValueError("load: a signed load of DW is a plain load; signed=True takes B, H or W")
    return Instruction(
        (Mode.MEMSX if signed else Mode.MEM) | sz | InsnClass.LDX,
        _reg("load", "dst", dst, writes=True),
        _reg("load", "src", src),
        _int("load", "offset", offset, _I16),
    )


def store(dst: Reg, offset: int, value: Reg | int, size: Size = DW) -> Instruction:
    """``*(size *)(dst + offset) = value`` (a register, or an immediate sign-extended to the size)."""
    sz = _size("store", size)
    d = _reg("store", "dst", dst)
    off = _int("store", "offset", offset, _I16)
    if isinstance(value, Reg):
        return Instruction(Mode.MEM | sz | InsnClass.STX, d, value, off)
    bounds = _I32 if sz == Size.DW else _U32_OR_I32
    return Instruction(Mode.MEM | sz | InsnClass.ST, d, 0, off, _int("store", "immediate", value, bounds))


def _atomic(
    name: str, dst: Reg, offset: int, src: Reg, size: Size, imm: int, writes_src: bool
) -> Instruction:
    sz = _size(name, size)
    if sz not in (Size.W, Size.DW):
        raise ValueError(f"{name}: atomics take W or DW, not {sz.name}")
    return Instruction(
        Mode.ATOMIC | sz | InsnClass.STX,
        _reg(name, "dst", dst),
        _reg(name, "src", src, writes=writes_src),
        _int(name, "offset", offset, _I16),
        imm,
    )


def atomic_add(dst: Reg, offset: int, src: Reg, size: Size = DW, *, fetch: bool = False) -> Instruction:
    """``lock *(size *)(dst + offset) += src``; with ``fetch`` src receives the old value."""
    imm = AtomicOp.ADD | (AtomicOp.FETCH if fetch else 0)
    return _atomic("atomic_add", dst, offset, src, size, imm, fetch)


def atomic_or(dst: Reg, offset: int, src: Reg, size: Size = DW, *, fetch: bool = False) -> Instruction:
    """``lock *(size *)(dst + offset) |= src``; with ``fetch`` src receives the old value."""
    imm = AtomicOp.OR | (AtomicOp.FETCH if fetch else 0)
    return _atomic("atomic_or", dst, offset, src, size, imm, fetch)


def atomic_and(dst: Reg, offset: int, src: Reg, size: Size = DW, *, fetch: bool = False) -> Instruction:
    """``lock *(size *)(dst + offset) &= src``; with ``fetch`` src receives the old value."""
    imm = AtomicOp.AND | (AtomicOp.FETCH if fetch else 0)
    return _atomic("atomic_and", dst, offset, src, size, imm, fetch)


def atomic_xor(dst: Reg, offset: int, src: Reg, size: Size = DW, *, fetch: bool = False) -> Instruction:
    """``lock *(size *)(dst + offset) ^= src``; with ``fetch`` src receives the old value."""
    imm = AtomicOp.XOR | (AtomicOp.FETCH if fetch else 0)
    return _atomic("atomic_xor", dst, offset, src, size, imm, fetch)


def atomic_xchg(dst: Reg, offset: int, src: Reg, size: Size = DW) -> Instruction:
    """``src = xchg(dst + offset, src)``: store src, return the old value in src."""
    return _atomic("atomic_xchg", dst, offset, src, size, AtomicOp.XCHG, True)


def atomic_cmpxchg(dst: Reg, offset: int, src: Reg, size: Size = DW) -> Instruction:
    """``r0 = cmpxchg(dst + offset, r0, src)``: store src if the value equals R0; R0 gets the old value."""
    return _atomic("atomic_cmpxchg", dst, offset, src, size, AtomicOp.CMPXCHG, False)


def load_acquire(dst: Reg, src: Reg, offset: int = 0, size: Size = DW) -> Instruction:
    """``dst = load_acquire((size *)(src + offset))`` (Linux 6.15)."""
    return Instruction(
        Mode.ATOMIC | _size("load_acquire", size) | InsnClass.STX,
        _reg("load_acquire", "dst", dst, writes=True),
        _reg("load_acquire", "src", src),
        _int("load_acquire", "offset", offset, _I16),
        AtomicOp.LOAD_ACQ,
    )


def store_release(dst: Reg, offset: int, src: Reg, size: Size = DW) -> Instruction:
    """``store_release((size *)(dst + offset), src)`` (Linux 6.15)."""
    return Instruction(
        Mode.ATOMIC | _size("store_release", size) | InsnClass.STX,
        _reg("store_release", "dst", dst),
        _reg("store_release", "src", src),
        _int("store_release", "offset", offset, _I16),
        AtomicOp.STORE_REL,
    )


def ld_abs(size: Size, offset: int) -> Instruction:
    """``r0 = *(size *)skb[offset]`` (legacy packet access, network byte order; socket filters)."""
    sz = _size("ld_abs", size)
    if sz == Size.DW:
        raise ValueError("ld_abs: size must be B, H or W")
    return Instruction(Mode.ABS | sz | InsnClass.LD, 0, 0, 0, _int("ld_abs", "offset", offset, _I32))


def ld_ind(size: Size, src: Reg, offset: int = 0) -> Instruction:
    """``r0 = *(size *)skb[src + offset]`` (legacy packet access)."""
    sz = _size("ld_ind", size)
    if sz == Size.DW:
        raise ValueError("ld_ind: size must be B, H or W")
    return Instruction(
        Mode.IND | sz | InsnClass.LD, 0, _reg("ld_ind", "src", src), 0, _int("ld_ind", "offset", offset, _I32)
    )


# --------------------------------------------------------------- wide loads


def lddw(dst: Reg, value: int) -> Instruction:
    """``dst = value ll``: load a 64-bit constant (16-byte instruction)."""
    imm = _int("lddw", "immediate", value, (-(1 << 63), (1 << 64) - 1))
    return Instruction(LDDW, _reg("lddw", "dst", dst, writes=True), PseudoLoad.IMM, 0, imm)


def _map(name: str, target: str | int | HasFileno) -> tuple[int, str | None]:
    if isinstance(target, str):
        return 0, _name(name, "map name", target)
    if isinstance(target, int) and not isinstance(target, bool):
        return _int(name, "map fd", target, (0, _I32[1])), None
    fileno = getattr(target, "fileno", None)
    if callable(fileno):
        return _int(name, "map fd", fileno(), (0, _I32[1])), None
    raise TypeError(f"{name}: map must be a name, an fd or have fileno(), not {type(target).__name__}")


def ld_map_fd(dst: Reg, map_: str | int | HasFileno) -> Instruction:
    """``dst = map`` (a pointer to the map): by name (patched at load time), fd or map object."""
    fd, ref = _map("ld_map_fd", map_)
    return Instruction(
        LDDW, _reg("ld_map_fd", "dst", dst, writes=True), PseudoLoad.MAP_FD, 0, fd, reference=ref
    )


def ld_map_value(dst: Reg, map_: str | int | HasFileno, offset: int = 0) -> Instruction:
    """``dst = &map[0] + offset``: a pointer into an array map's single value (global data)."""
    fd, ref = _map("ld_map_value", map_)
    off = _int("ld_map_value", "value offset", offset, (0, (1 << 32) - 1))
    return Instruction(
        LDDW,
        _reg("ld_map_value", "dst", dst, writes=True),
        PseudoLoad.MAP_VALUE,
        0,
        (off << 32) | fd,
        reference=ref,
    )


def ld_map_idx(dst: Reg, index: int) -> Instruction:
    """``dst = map`` for the map at ``index`` of the load's ``fd_array`` (Linux 5.14)."""
    idx = _int("ld_map_idx", "fd_array index", index, (0, _I32[1]))
    return Instruction(LDDW, _reg("ld_map_idx", "dst", dst, writes=True), PseudoLoad.MAP_IDX, 0, idx)


def ld_map_idx_value(dst: Reg, index: int, offset: int = 0) -> Instruction:
    """``dst = &map[0] + offset`` for the map at ``index`` of ``fd_array`` (Linux 5.14)."""
    idx = _int("ld_map_idx_value", "fd_array index", index, (0, _I32[1]))
    off = _int("ld_map_idx_value", "value offset", offset, (0, (1 << 32) - 1))
    return Instruction(
        LDDW,
        _reg("ld_map_idx_value", "dst", dst, writes=True),
        PseudoLoad.MAP_IDX_VALUE,
        0,
        (off << 32) | idx,
    )


def ld_btf_id(dst: Reg, target: str | int) -> Instruction:
    """``dst = &ksym``: the address of a kernel variable, by name (resolved by ``ebpf.btf``) or BTF id."""
    d = _reg("ld_btf_id", "dst", dst, writes=True)
    if isinstance(target, str):
        return Instruction(
            LDDW, d, PseudoLoad.BTF_ID, 0, 0, reference=_name("call_kfunc", "kernel function", target)
        )
    return Instruction(LDDW, d, PseudoLoad.BTF_ID, 0, _int("ld_btf_id", "BTF id", target, (1, _I32[1])))


def ld_func(dst: Reg, target: Target) -> Instruction:
    """``dst = &function``: the address of a BPF-to-BPF function, for callbacks (``bpf_loop``, timers)."""
    off, ref = _target("ld_func", target, _I32)
    return Instruction(LDDW, _reg("ld_func", "dst", dst, writes=True), PseudoLoad.FUNC, 0, off, reference=ref)


# ----------------------------------------------------------------------- CO-RE


def _core(name: str, dst: Reg, kind: CoreKind, path: str, access: str | None) -> Instruction:
    if not isinstance(path, str):
        raise TypeError(f"{name}: the type or path must be a str, not {type(path).__name__}")
    if access is None:
        type_name, sep, rest = path.partition(".")
        if kind.is_field or kind.is_enum_value:
            if not sep:
                raise ValueError(f"{name}: {path!r} needs a field after the type ('task_struct.pid')")
            access = rest
        elif sep:
            raise ValueError(f"{name}: {path!r} names a field, but {kind.name} is about a whole type")
        else:
            access = "0"
    else:
        type_name = path
    reloc = CoreRelocation(kind, type_name, access)
    return Instruction(AluOp.MOV | InsnClass.ALU64, _reg(name, "dst", dst, writes=True), relocation=reloc)


def core_field_offset(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst = offsetof(path)``: ``(R1, "task_struct.pid")`` or ``(R1, "task_struct", "0:12")``."""
    return _core("core_field_offset", dst, CoreKind.FIELD_BYTE_OFFSET, path, access)


def core_field_size(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst = sizeof(path)`` in the running kernel."""
    return _core("core_field_size", dst, CoreKind.FIELD_BYTE_SIZE, path, access)


def core_field_exists(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst = 1`` if the field exists in the running kernel, else 0."""
    return _core("core_field_exists", dst, CoreKind.FIELD_EXISTS, path, access)


def core_field_signed(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst = 1`` if the field is signed."""
    return _core("core_field_signed", dst, CoreKind.FIELD_SIGNED, path, access)


def core_field_lshift(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst`` = the left shift that brings a bitfield to the top of a u64."""
    return _core("core_field_lshift", dst, CoreKind.FIELD_LSHIFT_U64, path, access)


def core_field_rshift(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst`` = the right shift that then brings the bitfield down."""
    return _core("core_field_rshift", dst, CoreKind.FIELD_RSHIFT_U64, path, access)


def core_type_id_local(dst: Reg, type_name: str) -> Instruction:
    """``dst`` = the type's id in the program's own BTF."""
    return _core("core_type_id_local", dst, CoreKind.TYPE_ID_LOCAL, type_name, None)


def core_type_id_target(dst: Reg, type_name: str) -> Instruction:
    """``dst`` = the type's id in the kernel's BTF."""
    return _core("core_type_id_target", dst, CoreKind.TYPE_ID_TARGET, type_name, None)


def core_type_exists(dst: Reg, type_name: str) -> Instruction:
    """``dst = 1`` if the kernel has the type."""
    return _core("core_type_exists", dst, CoreKind.TYPE_EXISTS, type_name, None)


def core_type_size(dst: Reg, type_name: str) -> Instruction:
    """``dst = sizeof(type)`` in the kernel."""
    return _core("core_type_size", dst, CoreKind.TYPE_SIZE, type_name, None)


def core_type_matches(dst: Reg, type_name: str) -> Instruction:
    """``dst = 1`` if the kernel's type matches the local one's shape (Linux 6.2 semantics)."""
    return _core("core_type_matches", dst, CoreKind.TYPE_MATCHES, type_name, None)


def core_enum_value_exists(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst = 1`` if the enumerator exists: ``core_enum_value_exists(R1, "bpf_func_id.BPF_FUNC_loop")``."""
    return _core("core_enum_value_exists", dst, CoreKind.ENUMVAL_EXISTS, path, access)


def core_enum_value(dst: Reg, path: str, access: str | None = None) -> Instruction:
    """``dst`` = the enumerator's value in the kernel."""
    return _core("core_enum_value", dst, CoreKind.ENUMVAL_VALUE, path, access)
