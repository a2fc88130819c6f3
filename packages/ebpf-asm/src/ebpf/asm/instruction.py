"""The instruction model: registers, [`Instruction`][ebpf.asm.Instruction], and the 8-byte encoding.

An eBPF instruction is 8 bytes, little-endian on the hosts this library runs
on (x86_64, aarch64)::

    opcode:8  dst:4 src:4  offset:16 (signed)  imm:32 (signed)

(the register byte holds ``dst`` in its low nibble). ``lddw`` (opcode
``0x18``) is the one 16-byte form: its second 8 bytes are all zero except
their ``imm``, which holds the upper 32 bits of a 64-bit immediate. This
module models that pair as one [`Instruction`][ebpf.asm.Instruction] whose ``imm`` is the
whole 64-bit value.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from .co_re import CoreRelocation
from .opcodes import InsnClass

__all__ = [
    "LDDW",
    "R0",
    "R1",
    "R2",
    "R3",
    "R4",
    "R5",
    "R6",
    "R7",
    "R8",
    "R9",
    "R10",
    "Instruction",
    "Reg",
    "decode",
    "encode",
]

LDDW = 0x18  # BPF_LD | BPF_IMM | BPF_DW
_RAW = struct.Struct("<BBhi")


class Reg(IntEnum):
    """A register.

    ``R0`` holds return values, ``R1``-``R5`` arguments, ``R6``-``R9`` are
    callee-saved and ``R10`` is the read-only frame pointer.
    """

    R0 = 0
    R1 = 1
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5
    R6 = 6
    R7 = 7
    R8 = 8
    R9 = 9
    R10 = 10

    @classmethod
    def _missing_(cls, value: object) -> Reg:
        raise ValueError(f"unknown register {value!r}: eBPF has r0 to r10")

    def __str__(self) -> str:
        """``r3``."""
        return f"r{self.value}"


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = Reg


def _check_int(what: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Instruction {what} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"Instruction {what} {value} is out of range ({low} to {high})")
    return int(value)


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


@dataclass(frozen=True, slots=True)
class Instruction:
    """One eBPF instruction (two 8-byte slots for ``lddw``).

    ``dst`` and ``src`` are the 4-bit register fields, ``offset`` the signed
    16-bit offset, ``imm`` the immediate: signed 32 bits, or signed 64 bits
    for ``lddw``. Unsigned immediates are accepted and stored in their signed
    form (``imm=0xFFFFFFFF`` becomes ``-1``), which is how the kernel reads them.

    Two optional fields carry what only load time can fill in; they are not
    encoded: ``reference`` names what the instruction refers to (a label for
    a jump or a BPF-to-BPF call, a map for ``ld_map_fd``/``ld_map_value``, a
    kernel function for a kfunc call, a kernel symbol for ``ld_btf_id``), and
    ``relocation`` is a CO-RE record that ``ebpf.btf`` resolves.

    Raises:
        TypeError: a field is not an int.
        ValueError: a field does not fit its bits.
    """

    opcode: int
    dst: int = 0
    src: int = 0
    offset: int = 0
    imm: int = 0
    reference: str | None = field(default=None, kw_only=True)
    relocation: CoreRelocation | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        _check_int("opcode", self.opcode, 0, 0xFF)
        object.__setattr__(self, "dst", _check_int("dst register", self.dst, 0, 15))
        object.__setattr__(self, "src", _check_int("src register", self.src, 0, 15))
        _check_int("offset", self.offset, -(1 << 15), (1 << 15) - 1)
        bits = 64 if self.opcode == LDDW else 32
        imm = _check_int(f"imm ({bits}-bit)", self.imm, -(1 << (bits - 1)), (1 << bits) - 1)
        object.__setattr__(self, "imm", _signed(imm, bits))
        if self.reference is not None and (not isinstance(self.reference, str) or not self.reference):
            raise ValueError(f"Instruction reference must be a non-empty str, not {self.reference!r}")
        if self.relocation is not None and not isinstance(self.relocation, CoreRelocation):
            raise TypeError(
                f"Instruction relocation must be a CoreRelocation, not {type(self.relocation).__name__}"
            )

    @property
    def cls(self) -> InsnClass:
        """The instruction class (low three bits of the opcode)."""
        return InsnClass(self.opcode & 0x07)

    @property
    def is_wide(self) -> bool:
        """True for ``lddw``, the 16-byte instruction."""
        return self.opcode == LDDW

    @property
    def slots(self) -> int:
        """How many 8-byte slots the instruction takes (2 for ``lddw``)."""
        return 2 if self.is_wide else 1

    def encode(self) -> bytes:
        """The instruction's 8 bytes (16 for ``lddw``)."""
        regs = (self.src << 4) | self.dst
        if not self.is_wide:
            return _RAW.pack(self.opcode, regs, self.offset, self.imm)
        low, high = _signed(self.imm, 32), _signed(self.imm >> 32, 32)
        return _RAW.pack(self.opcode, regs, self.offset, low) + _RAW.pack(0, 0, 0, high)

    def __str__(self) -> str:
        """The instruction as ``llvm-objdump -d`` prints it (``r0 = 1``)."""
        from .disassembler import format_instruction

        return format_instruction(self)


def encode(instructions: Iterable[Instruction]) -> bytes:
    """The concatenated encodings of ``instructions`` (metadata is not encoded).

    Raises:
        TypeError: an item is not an [`Instruction`][ebpf.asm.Instruction].
    """
    out = bytearray()
    for index, insn in enumerate(instructions):
        if not isinstance(insn, Instruction):
            raise TypeError(f"item {index} is a {type(insn).__name__}, not an Instruction")
        out += insn.encode()
    return bytes(out)


def decode(data: bytes | bytearray | memoryview) -> list[Instruction]:
    """Decode a byte string of instructions.

    Any 8 bytes decode (the kernel, not this function, decides which
    opcodes are valid); ``lddw`` takes the next 8 bytes as its upper half.

    Raises:
        TypeError: ``data`` is not bytes-like.
        ValueError: the length is not a multiple of 8, an ``lddw`` is cut
            off at the end, or the second half of an ``lddw`` has fields other
            than ``imm`` set; the message gives the instruction index and byte offset.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() takes bytes, not {type(data).__name__}")
    raw = bytes(data)
    if len(raw) % 8:
        whole = len(raw) - len(raw) % 8
        raise ValueError(
            f"truncated instruction stream: {len(raw)} bytes is not a multiple of 8 "
            f"(the instruction at byte {whole} has only {len(raw) - whole} bytes)"
        )
    out: list[Instruction] = []
    pos = 0
    while pos < len(raw):
        opcode, regs, offset, imm = _RAW.unpack_from(raw, pos)
        if opcode == LDDW:
            slot = pos // 8
            if pos + 16 > len(raw):
                raise ValueError(
                    f"truncated lddw: instruction {slot} (byte {pos}) needs 16 bytes but only 8 remain"
                )
            op2, regs2, off2, imm2 = _RAW.unpack_from(raw, pos + 8)
            if op2 or regs2 or off2:
                raise ValueError(
                    f"malformed lddw at instruction {slot} (byte {pos}): its second half must have "
                    f"opcode, registers and offset 0, got opcode {op2:#04x}, "
                    f"registers {regs2:#04x}, offset {off2}"
                )
            out.append(Instruction(opcode, regs & 0xF, regs >> 4, offset, (imm2 << 32) | (imm & 0xFFFFFFFF)))
            pos += 16
        else:
            out.append(Instruction(opcode, regs & 0xF, regs >> 4, offset, imm))
            pos += 8
    return out
