"""Text forms of instructions: clang's (``llvm-objdump -d``) and the kernel verifier's.

The LLVM form is what ``llvm-objdump -d`` prints, so that the output of
[`disassemble()`][ebpf.asm.disassemble] can be diffed against it line for line: ``r0 = 1``,
``if r1 > 62 goto +9 <LBB0_4>``, ``r1 = *(u32 *)(r6 + 4)``. For
instructions that LLVM 14 cannot decode (it prints ``<unknown>``: ``mod``,
``jset``, stores of immediates, and the v4 instructions ``sdiv``, ``movsx``,
``ldsx``, ``bswap``, ``gotol``) the syntax of newer LLVM releases is used.
``alu32=True`` matches ``llvm-objdump --mattr=+alu32``, which names 32-bit
loads, stores and atomics with ``w`` registers; 32-bit atomics other than
``lock ... +=`` only exist in that form, and are always printed so.

The verifier form is what the kernel prints in verifier logs and
``bpftool prog dump xlated``: ``(b7) r0 = 1``, ``(15) if r0 == 0x0 goto pc+1``,
``(85) call bpf_map_lookup_elem#1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from .instruction import Instruction, decode
from .opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source

__all__ = ["disassemble", "format_instruction", "format_verifier"]

UNKNOWN = "<unknown>"

_ALU: dict[int, str] = {
    AluOp.ADD: "+=",
    AluOp.SUB: "-=",
    AluOp.MUL: "*=",
    AluOp.DIV: "/=",
    AluOp.OR: "|=",
    AluOp.AND: "&=",
    AluOp.LSH: "<<=",
    AluOp.RSH: ">>=",
    AluOp.MOD: "%=",
    AluOp.XOR: "^=",
    AluOp.MOV: "=",
    AluOp.ARSH: "s>>=",
}
_SIGNED_ALU: dict[int, str] = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}
_JMP: dict[int, str] = {
    JmpOp.JEQ: "==",
    JmpOp.JGT: ">",
    JmpOp.JGE: ">=",
    JmpOp.JSET: "&",
    JmpOp.JNE: "!=",
    JmpOp.JSGT: "s>",
    JmpOp.JSGE: "s>=",
    JmpOp.JLT: "<",
    JmpOp.JLE: "<=",
    JmpOp.JSLT: "s<",
    JmpOp.JSLE: "s<=",
}
_UNSIGNED = {Size.W: "u32", Size.H: "u16", Size.B: "u8", Size.DW: "u64"}
_SIGNED = {Size.W: "s32", Size.H: "s16", Size.B: "s8"}
_ATOMIC_ALU: dict[int, str] = {
    AtomicOp.ADD: "add",
    AtomicOp.OR: "or",
    AtomicOp.AND: "and",
    AtomicOp.XOR: "xor",
}
_ATOMIC_LOCK: dict[int, str] = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}
_ADDR_SPACE_CAST = 1
_MOVSX_BITS = (8, 16, 32)
_BSWAP_BITS = (16, 32, 64)
_NOSPEC = 0xC0


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def _mem(reg: int, off: int) -> str:
    return f"r{reg} {'-' if off < 0 else '+'} {abs(off)}"


def _alu_llvm(insn: Instruction) -> str:
    cls, op, x = insn.cls, insn.opcode & 0xF0, insn.opcode & Source.X
    r = "w" if cls == InsnClass.ALU else "r"
    dst, src, off, imm = insn.dst, insn.src, insn.offset, insn.imm
    if op == AluOp.END:
        if cls == InsnClass.ALU64:
            return f"r{dst} = bswap{imm} r{dst}" if not x and imm in _BSWAP_BITS else UNKNOWN
        return f"r{dst} = {'be' if x else 'le'}{imm} r{dst}" if imm in _BSWAP_BITS else UNKNOWN
    if op == AluOp.NEG:
        return f"{r}{dst} = -{r}{dst}" if not x else UNKNOWN
    if op == AluOp.MOV and x and off:
        if cls == InsnClass.ALU64 and off == _ADDR_SPACE_CAST:
            return f"r{dst} = addr_space_cast(r{src}, {(imm >> 16) & 0xFFFF}, {imm & 0xFFFF})"
        if off in _MOVSX_BITS and (cls == InsnClass.ALU64 or off != 32):
            return f"{r}{dst} = (s{off}){r}{src}"
        return UNKNOWN
    text = _SIGNED_ALU.get(op) if off == 1 else _ALU.get(op) if off == 0 else None
    if text is None:
        return UNKNOWN
    return f"{r}{dst} {text} {r}{src}" if x else f"{r}{dst} {text} {imm}"


def _jmp_llvm(insn: Instruction) -> str:
    op, x, jmp32 = insn.opcode & 0xF0, insn.opcode & Source.X, insn.cls == InsnClass.JMP32
    if op == JmpOp.CALL:
        return f"call {insn.imm}" if not jmp32 and not x else UNKNOWN
    if op == JmpOp.EXIT:
        return "exit" if not jmp32 and not x else UNKNOWN
    if op == JmpOp.JA:
        return f"gotol {insn.imm:+d}" if jmp32 else f"goto {insn.offset:+d}"
    if op == JmpOp.JCOND:
        return f"may_goto {insn.offset:+d}" if not jmp32 and insn.src == 0 else UNKNOWN
    if op not in _JMP:
        return UNKNOWN
    r = "w" if jmp32 else "r"
    rhs = f"{r}{insn.src}" if x else str(insn.imm)
    return f"if {r}{insn.dst} {_JMP[op]} {rhs} goto {insn.offset:+d}"


def _atomic_llvm(insn: Instruction, size: Size, alu32: bool) -> str:
    dst, src, imm = insn.dst, insn.src, insn.imm
    mem = _mem(dst, insn.offset)
    wide = size == Size.DW
    r = "r" if wide else "w"
    if imm == AtomicOp.LOAD_ACQ:
        return f"{r}{dst} = load_acquire(({_UNSIGNED[size]} *)({_mem(src, insn.offset)}))"
    if imm == AtomicOp.STORE_REL:
        return f"store_release(({_UNSIGNED[size]} *)({mem}), {r}{src})"
    if size not in (Size.W, Size.DW):
        return UNKNOWN
    if imm in _ATOMIC_LOCK:
        lock_reg = "w" if alu32 and not wide else "r"
        return f"lock *({_UNSIGNED[size]} *)({mem}) {_ATOMIC_LOCK[imm]} {lock_reg}{src}"
    if imm & AtomicOp.FETCH and imm & ~AtomicOp.FETCH in _ATOMIC_ALU:
        name = _ATOMIC_ALU[imm & ~AtomicOp.FETCH]
        return f"{r}{src} = atomic_fetch_{name}(({_UNSIGNED[size]} *)({mem}), {r}{src})"
    if imm == AtomicOp.XCHG:
        return f"r{src} = xchg_64({mem}, r{src})" if wide else f"w{src} = xchg32_32({mem}, w{src})"
    if imm == AtomicOp.CMPXCHG:
        return f"r0 = cmpxchg_64({mem}, r0, r{src})" if wide else f"w0 = cmpxchg32_32({mem}, w0, w{src})"
    return UNKNOWN


def _memory_llvm(insn: Instruction, alu32: bool) -> str:
    cls, size, mode = insn.cls, Size(insn.opcode & 0x18), insn.opcode & 0xE0
    sub = "w" if alu32 and size != Size.DW else "r"
    if cls == InsnClass.LD:
        if insn.is_wide:
            if insn.src == PseudoLoad.IMM:
                return f"r{insn.dst} = {insn.imm} ll"
            return f"ld_pseudo\tr{insn.dst}, {insn.src}, {_signed32(insn.imm)}"
        if mode == Mode.ABS and size != Size.DW:
            return f"r0 = *({_UNSIGNED[size]} *)skb[{insn.imm}]"
        if mode == Mode.IND and size != Size.DW:
            extra = f" + {insn.imm}" if insn.imm else ""
            return f"r0 = *({_UNSIGNED[size]} *)skb[r{insn.src}{extra}]"
        return UNKNOWN
    if cls == InsnClass.LDX:
        if mode == Mode.MEM:
            return f"{sub}{insn.dst} = *({_UNSIGNED[size]} *)({_mem(insn.src, insn.offset)})"
        if mode == Mode.MEMSX and size in _SIGNED:
            return f"r{insn.dst} = *({_SIGNED[size]} *)({_mem(insn.src, insn.offset)})"
        return UNKNOWN
    if mode == Mode.MEM:
        value = f"{sub}{insn.src}" if cls == InsnClass.STX else str(insn.imm)
        return f"*({_UNSIGNED[size]} *)({_mem(insn.dst, insn.offset)}) = {value}"
    if cls == InsnClass.STX and mode == Mode.ATOMIC:
        return _atomic_llvm(insn, size, alu32)
    return UNKNOWN


def format_instruction(insn: Instruction, *, alu32: bool = False) -> str:
    """One instruction as ``llvm-objdump -d`` prints it (without address and bytes).

    ``alu32`` selects the ``--mattr=+alu32`` form. Encodings that are no
    instruction give ``<unknown>``, as LLVM does.
    """
    if insn.cls in (InsnClass.ALU, InsnClass.ALU64):
        return _alu_llvm(insn)
    if insn.cls in (InsnClass.JMP, InsnClass.JMP32):
        return _jmp_llvm(insn)
    return _memory_llvm(insn, alu32)


def _helper_name(imm: int) -> str:
    from .helper_registry import helper

    try:
        return helper(imm).c_name
    except ValueError:
        return "unknown"


def _verifier_text(insn: Instruction) -> str:
    cls, op, x = insn.cls, insn.opcode & 0xF0, insn.opcode & Source.X
    dst, src, off, imm = insn.dst, insn.src, insn.offset, insn.imm
    bug = f"BUG_{insn.opcode:02x}"
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        r = "w" if cls == InsnClass.ALU else "r"
        if op == AluOp.END:
            kind = "bswap" if cls == InsnClass.ALU64 else "be" if x else "le"
            return f"r{dst} = {kind}{imm} r{dst}"
        if op == AluOp.NEG:
            return f"{r}{dst} = -{r}{dst}"
        if op == AluOp.MOV and x and cls == InsnClass.ALU64 and off == _ADDR_SPACE_CAST:
            return f"r{dst} = addr_space_cast(r{src}, {(imm >> 16) & 0xFFFF}, {imm & 0xFFFF})"
        text = _SIGNED_ALU.get(op) if off == 1 and op in _SIGNED_ALU else _ALU.get(op)
        if text is None:
            return bug
        if not x:
            return f"{r}{dst} {text} {imm}"
        cast = f"(s{off})" if op == AluOp.MOV and off in _MOVSX_BITS else ""
        return f"{r}{dst} {text} {cast}{r}{src}"
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        r = "w" if cls == InsnClass.JMP32 else "r"
        if op == JmpOp.CALL:
            if src == PseudoCall.FUNC:
                return f"call pc{imm:+d}"
            name = _helper_name(imm) if src == PseudoCall.HELPER else "kernel-function"
            return (
                f"call {name}#{imm}"
                if src in (PseudoCall.HELPER, PseudoCall.KFUNC)
                else f"call unknown#{imm}"
            )
        if op == JmpOp.EXIT:
            return "exit"
        if op == JmpOp.JA:
            return f"goto pc{imm if cls == InsnClass.JMP32 else off:+d}"
        if op == JmpOp.JCOND:
            return f"may_goto pc{off:+d}"
        if op not in _JMP:
            return bug
        rhs = f"{r}{src}" if x else f"0x{imm & 0xFFFFFFFF:x}"
        return f"if {r}{dst} {_JMP[op]} {rhs} goto pc{off:+d}"
    size, mode = Size(insn.opcode & 0x18), insn.opcode & 0xE0
    unsigned = _UNSIGNED[size]
    if cls == InsnClass.STX and mode == Mode.MEM:
        return f"*({unsigned} *)(r{dst} {off:+d}) = r{src}"
    if cls == InsnClass.STX and mode == Mode.ATOMIC:
        wide = "64" if size == Size.DW else ""
        where = f"({unsigned} *)(r{dst} {off:+d})"
        if imm in _ATOMIC_LOCK:
            return f"lock *{where} {_ATOMIC_LOCK[imm]} r{src}"
        if imm & AtomicOp.FETCH and imm & ~AtomicOp.FETCH in _ATOMIC_ALU:
            return f"r{src} = atomic{wide}_fetch_{_ATOMIC_ALU[imm & ~AtomicOp.FETCH]}({where}, r{src})"
        if imm == AtomicOp.CMPXCHG:
            return f"r0 = atomic{wide}_cmpxchg({where}, r0, r{src})"
        if imm == AtomicOp.XCHG:
            return f"r{src} = atomic{wide}_xchg({where}, r{src})"
        if imm == AtomicOp.LOAD_ACQ:
            return f"r{dst} = load_acquire(({unsigned} *)(r{src} {off:+d}))"
        if imm == AtomicOp.STORE_REL:
            return f"store_release({where}, r{src})"
        return bug
    if cls == InsnClass.ST:
        if mode == Mode.MEM:
            return f"*({unsigned} *)(r{dst} {off:+d}) = {imm}"
        return "nospec" if mode == _NOSPEC else bug
    if cls == InsnClass.LDX:
        if mode == Mode.MEM or (mode == Mode.MEMSX and size in _SIGNED):
            kind = unsigned if mode == Mode.MEM else _SIGNED[size]
            return f"r{dst} = *({kind} *)(r{src} {off:+d})"
        return bug
    if insn.is_wide:
        if src == PseudoLoad.FUNC:
            return f"r{dst} = {_signed32(imm):+d}"
        return f"r{dst} = 0x{imm & 0xFFFFFFFFFFFFFFFF:x}"
    if mode == Mode.ABS:
        return f"r0 = *({unsigned} *)skb[{imm}]"
    if mode == Mode.IND:
        return f"r0 = *({unsigned} *)skb[r{src} + {imm}]"
    return f"BUG_ld_{insn.opcode:02x}"


def format_verifier(insn: Instruction) -> str:
    """One instruction as the kernel's verifier log prints it: ``(b7) r0 = 1``."""
    return f"({insn.opcode:02x}) {_verifier_text(insn)}"


def _jump_target(insn: Instruction, index: int) -> int | None:
    if insn.cls not in (InsnClass.JMP, InsnClass.JMP32):
        return None
    op = insn.opcode & 0xF0
    if op in (JmpOp.CALL, JmpOp.EXIT):
        return None
    if op == JmpOp.JA and insn.cls == InsnClass.JMP32:
        return index + 1 + insn.imm
    return index + 1 + insn.offset


def _symbolize(target: int, symbols: Mapping[int, str]) -> str:
    before = [at for at in symbols if at <= target]
    if not before:
        return ""
    at = max(before)
    return f" <{symbols[at]}>" if at == target else f" <{symbols[at]}+0x{(target - at) * 8:x}>"


def disassemble(
    code: bytes | bytearray | memoryview | Iterable[Instruction],
    *,
    style: Literal["llvm", "verifier"] = "llvm",
    alu32: bool = False,
    symbols: Mapping[int, str] | None = None,
    show_bytes: bool = True,
) -> str:
    """A listing of ``code`` (bytes, or instructions), one line per instruction.

    With ``style="llvm"`` (the default) the lines are those of
    ``llvm-objdump -d``: ``       5:\\t18 01 00 ... 00\\tr1 = 0 ll`` (index in
    8-byte slots, the bytes unless ``show_bytes`` is false, the text).
    ``symbols`` maps slot indices to names (function and label symbols of
    an object file): each gets a ``0000000000000028 <name>:`` header, and
    jump targets are annotated ``<name+0x10>`` as llvm-objdump does.

    With ``style="verifier"`` the lines are those of a verifier log:
    ``5: (18) r1 = 0x0``.

    Raises:
        ValueError: the bytes do not decode (see [`decode()`][ebpf.asm.decode]), or
            an unknown style.
    """
    if style not in ("llvm", "verifier"):
        raise ValueError(f"disassemble style must be 'llvm' or 'verifier', not {style!r}")
    insns = decode(code) if isinstance(code, (bytes, bytearray, memoryview)) else list(code)
    lines: list[str] = []
    index = 0
    for insn in insns:
        if style == "verifier":
            lines.append(f"{index}: {format_verifier(insn)}")
            index += insn.slots
            continue
        if symbols and index in symbols:
            lines += ["", f"{index * 8:016x} <{symbols[index]}>:"]
        text = format_instruction(insn, alu32=alu32)
        target = _jump_target(insn, index)
        if symbols and target is not None and text != UNKNOWN:
            text += _symbolize(target, symbols)
        if show_bytes:
            raw = " ".join(f"{b:02x}" for b in insn.encode())
            lines.append(f"{index:>8}:\t{raw}\t{text}")
        else:
            lines.append(f"{index:>8}:\t{text}")
        index += insn.slots
    return "\n".join(lines)
