"""Writing a CO-RE relocation's result into its instruction (libbpf's ``bpf_core_patch_insn``).

Clang puts the value it computed against the *local* types into the
instruction; the loader checks that it is there (when the value is not
ambiguous, see `Fixup`) and replaces it with the target's:

- ``ALU``/``ALU64`` with an immediate (``r1 = 8``, ``r1 += 8``): the ``imm``;
- ``LDX``/``ST``/``STX`` (``r1 = *(u32 *)(r2 + 8)``): the 16-bit ``off``, and
  the access size when the field's size changed, which is only safe for
  pointers and unsigned integers (zero extension keeps the value); other
  size changes poison the instruction;
- ``LD_IMM64`` (``r1 = 8 ll``): the 64-bit immediate over both halves.

An instruction that cannot be relocated is *poisoned*: replaced with a call
to helper ``0xbad2310`` ("bad relo"), which does not exist. Code that the
verifier proves dead (a field-existence check guards it) is removed without
complaint; reachable poison makes the load fail with "invalid func
unknown#195896080" at that instruction, pointing at the failed relocation.
The second half of a poisoned ``LD_IMM64`` becomes ``ja +0`` (a no-op), so
the instruction count and every jump offset stay the same.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ebpf.asm import LDDW, InsnClass, JmpOp, Size, Source

from ._co_re_spec import CoreError

__all__ = ["POISON_HELPER", "Fixup", "patch_instruction"]

#: the helper id a poisoned instruction calls: 0xbad2310 = "bad relo" (195896080)
POISON_HELPER = 0xBAD2310

_INSN = struct.Struct("<BBhi")  # code, dst:4|src:4, off, imm
_OFF = struct.Struct("<h")
_UIMM = struct.Struct("<I")
_POISON = _INSN.pack(InsnClass.JMP | JmpOp.CALL, 0, 0, POISON_HELPER)
_NOP = _INSN.pack(InsnClass.JMP | JmpOp.JA, 0, 0, 0)
_SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
_BYTES_SIZE = {nbytes: size for size, nbytes in _SIZE_BYTES.items()}
_SIZE_MASK = 0x18
_S16_MAX = 0x7FFF


@dataclass(frozen=True)
class Fixup:
    """What a relocation computed, ready to be written into its instruction.

    ``local_value`` is what clang put in the instruction (checked when
    ``validate``: bitfield offsets and sizes are not, as the compiler may pick
    a different load than libbpf's rules; type ids are not, as linking may
    renumber them). ``local_size``/``target_size`` are the sizes of the field
    a load or store reads (0 when not applicable), and ``size_change_unsafe``
    says that a load/store whose size would have to change must be poisoned.
    """

    local_value: int
    target_value: int
    poison: bool = False
    validate: bool = True
    local_size: int = 0
    target_size: int = 0
    size_change_unsafe: bool = False


def _poison(buf: bytearray, at: int, wide: bool) -> None:
    buf[at : at + 8] = _POISON
    if wide:
        buf[at + 8 : at + 16] = _NOP


def patch_instruction(buf: bytearray, index: int, fixup: Fixup, where: str) -> bool:
    """Apply ``fixup`` to instruction ``index`` of ``buf`` in place; True if it was poisoned.

    ``index`` must be within ``buf`` (the caller checks it).

    Raises:
        CoreError: the instruction is not one a relocation can patch, does
            not hold the expected local value, or cannot hold the new value
            (an offset beyond 32767, an immediate beyond 32 bits, a load size
            that is not 1, 2, 4 or 8 bytes); an ``LD_IMM64`` with a missing or
            malformed second half.
    """
    at = index * 8
    code, regs, off, imm = _INSN.unpack_from(buf, at)
    cls = code & 0x07
    wide = code == LDDW
    if fixup.poison:
        _poison(buf, at, wide and at + 16 <= len(buf))
        return True
    new = fixup.target_value
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if code & Source.X:
            raise CoreError(f"{where}: instruction {index} has a register operand, not an immediate")
        # compare modulo 2**32: the 32-bit imm holds signed and unsigned values alike
        if fixup.validate and (imm - fixup.local_value) % (1 << 32):
            raise CoreError(f"{where}: instruction {index} holds {imm}, expected {fixup.local_value}")
        if not -(1 << 31) <= new < 1 << 32:
            raise CoreError(f"{where}: instruction {index}: value {new} does not fit a 32-bit immediate")
        _UIMM.pack_into(buf, at + 4, new & 0xFFFFFFFF)
        return False
    if cls in (InsnClass.LDX, InsnClass.ST, InsnClass.STX):
        if fixup.validate and off != fixup.local_value:
            raise CoreError(f"{where}: instruction {index} has offset {off}, expected {fixup.local_value}")
        if not 0 <= new <= _S16_MAX:
            raise CoreError(f"{where}: instruction {index}: offset {new} does not fit the 16-bit field")
        if fixup.size_change_unsafe:
            # the field changed size and is neither a pointer nor unsigned:
            # a resized load would read a wrong value, so make it fail loudly
            _poison(buf, at, False)
            return True
        _OFF.pack_into(buf, at + 2, new)
        if fixup.target_size != fixup.local_size:
            nbytes = _SIZE_BYTES[Size(code & _SIZE_MASK)]
            if nbytes != fixup.local_size:
                raise CoreError(
                    f"{where}: instruction {index} accesses {nbytes} bytes, "
                    f"but the field has {fixup.local_size}"
                )
            size = _BYTES_SIZE.get(fixup.target_size)
            if size is None:
                raise CoreError(
                    f"{where}: instruction {index}: the target field's {fixup.target_size} bytes "
                    "cannot be loaded or stored by one instruction"
                )
            buf[at] = (code & ~_SIZE_MASK & 0xFF) | size
        return False
    if wide:
        if regs >> 4 or off or at + 16 > len(buf):
            raise CoreError(f"{where}: instruction {index} is not a plain 64-bit immediate load")
        code2, regs2, off2, high = _INSN.unpack_from(buf, at + 8)
        if code2 or regs2 or off2:
            raise CoreError(f"{where}: instruction {index}: the second half of the 64-bit load is malformed")
        current = (imm & 0xFFFFFFFF) | (high & 0xFFFFFFFF) << 32
        if fixup.validate and (current - fixup.local_value) % (1 << 64):
            raise CoreError(f"{where}: instruction {index} holds {current}, expected {fixup.local_value}")
        if not -(1 << 63) <= new < 1 << 64:
            raise CoreError(f"{where}: instruction {index}: value {new} does not fit 64 bits")
        _UIMM.pack_into(buf, at + 4, new & 0xFFFFFFFF)
        _UIMM.pack_into(buf, at + 12, (new >> 32) & 0xFFFFFFFF)
        return False
    raise CoreError(
        f"{where}: instruction {index} (opcode {code:#04x}) cannot be relocated: only ALU immediates, "
        "loads, stores and 64-bit immediate loads can"
    )
