"""The fields of an eBPF opcode, as named in ``linux/bpf.h`` and the instruction set document.

An opcode byte is ``class | ...``: for ALU, ALU64, JMP and JMP32 it is
``op | source | class``, for loads and stores ``mode | size | class``. The
pseudo source values select what a wide ``lddw`` or a ``call`` refers to.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AluOp",
    "AtomicOp",
    "InsnClass",
    "JmpOp",
    "Mode",
    "PseudoCall",
    "PseudoLoad",
    "Size",
    "Source",
]


class InsnClass(IntEnum):
    """The low three bits of the opcode."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Size(IntEnum):
    """The size bits of a load or store: word (4 bytes), half, byte, double word."""

    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18

    @property
    def nbytes(self) -> int:
        """How many bytes the size moves."""
        return {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}[self]


class Mode(IntEnum):
    """The mode bits of a load or store."""

    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class Source(IntEnum):
    """The source bit of ALU and JMP opcodes (for byte swaps: the target byte order)."""

    K = 0x00
    X = 0x08


class AluOp(IntEnum):
    """The operation bits of ALU and ALU64 opcodes."""

    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    """The operation bits of JMP and JMP32 opcodes."""

    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0


class AtomicOp(IntEnum):
    """The ``imm`` of an atomic instruction (``FETCH`` is a flag on the first four)."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01
    LOAD_ACQ = 0x100
    STORE_REL = 0x110


class PseudoLoad(IntEnum):
    """The ``src`` of a wide ``lddw``: what the 64-bit immediate means."""

    IMM = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class PseudoCall(IntEnum):
    """The ``src`` of a ``call``: a helper, a BPF-to-BPF function or a kernel function."""

    HELPER = 0
    FUNC = 1
    KFUNC = 2
