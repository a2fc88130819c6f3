"""The instruction model: exact encoding, decoding, round trips and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ebpf.asm import LDDW, InsnClass, Instruction, Reg, decode, encode

I16 = st.integers(-(1 << 15), (1 << 15) - 1)
I32 = st.integers(-(1 << 31), (1 << 31) - 1)
I64 = st.integers(-(1 << 63), (1 << 63) - 1)
NIBBLE = st.integers(0, 15)


@st.composite
def instructions(draw: st.DrawFn) -> Instruction:
    """Any instruction of any class: every opcode byte, every field value."""
    opcode = draw(st.integers(0, 255))
    imm = draw(I64 if opcode == LDDW else I32)
    return Instruction(opcode, draw(NIBBLE), draw(NIBBLE), draw(I16), imm)


@settings(max_examples=300, deadline=None)
@given(st.lists(instructions(), max_size=20))
def test_decode_of_encode_is_identity(insns: list[Instruction]) -> None:
    raw = encode(insns)
    assert len(raw) == 8 * sum(i.slots for i in insns)
    assert decode(raw) == insns


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(InsnClass)), NIBBLE, NIBBLE, I16, I32)
def test_every_class_round_trips(cls: InsnClass, dst: int, src: int, off: int, imm: int) -> None:
    insn = Instruction(0x60 | cls if cls != InsnClass.LD else 0x20, dst, src, off, imm)
    assert insn.cls == cls
    assert decode(insn.encode()) == [insn]


def test_encoding_is_the_kernel_layout() -> None:
    # r1 = *(u32 *)(r10 - 4): opcode 0x61, dst in the low nibble, offset and imm little-endian.
    assert Instruction(0x61, 1, 10, -4, 0).encode() == bytes.fromhex("61a1fcff00000000")
    assert Instruction(0xB7, 0, 0, 0, -2).encode() == bytes.fromhex("b7000000feffffff")


def test_lddw_is_one_instruction_of_sixteen_bytes() -> None:
    insn = Instruction(LDDW, 2, 0, 0, 0x1122334455667788)
    assert insn.is_wide
    assert insn.slots == 2
    assert insn.encode() == bytes.fromhex("1802000088776655" + "0000000044332211")
    assert decode(insn.encode()) == [insn]


def test_unsigned_immediates_are_stored_signed() -> None:
    assert Instruction(0xB4, imm=0xFFFFFFFF).imm == -1
    assert Instruction(LDDW, imm=(1 << 64) - 1).imm == -1
    assert Instruction(0xB4, imm=0xFFFFFFFF) == Instruction(0xB4, imm=-1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opcode": 256}, "opcode 256 is out of range"),
        ({"opcode": 7, "dst": 16}, "dst register 16 is out of range"),
        ({"opcode": 7, "src": -1}, "src register -1 is out of range"),
        ({"opcode": 7, "offset": 1 << 15}, "offset 32768 is out of range"),
        ({"opcode": 7, "imm": 1 << 32}, "imm (32-bit) 4294967296 is out of range"),
        ({"opcode": LDDW, "imm": 1 << 64}, "imm (64-bit)"),
    ],
)
def test_fields_that_do_not_fit_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Instruction(**kwargs)


def test_a_non_int_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"imm .32-bit. must be an int, not str"):
        Instruction(7, imm="1")  # type: ignore[arg-type]


def test_unknown_register_names_the_register() -> None:
    with pytest.raises(ValueError, match=r"unknown register 11: eBPF has r0 to r10"):
        Reg(11)
    assert str(Reg.R10) == "r10"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(13), "13 bytes is not a multiple of 8 .the instruction at byte 8 has only 5 bytes"),
        (bytes(8) + bytes([LDDW]) + bytes(7), "truncated lddw: instruction 1 .byte 8. needs 16 bytes"),
        (bytes([LDDW]) + bytes(7) + bytes([0x95]) + bytes(7), "malformed lddw at instruction 0 .byte 0."),
    ],
)
def test_bad_byte_strings_say_what_and_where(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(data)


def test_decode_takes_only_bytes() -> None:
    with pytest.raises(TypeError, match=r"decode.. takes bytes, not str"):
        decode("9500000000000000")  # type: ignore[arg-type]


def test_encode_rejects_what_is_not_an_instruction() -> None:
    with pytest.raises(TypeError, match=r"item 1 is a int, not an Instruction"):
        encode([Instruction(0x95), 5])  # type: ignore[list-item]
