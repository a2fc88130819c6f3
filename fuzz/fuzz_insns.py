"""Fuzz target: instruction streams (``ebpf.asm.decode``, ``encode`` and ``disassemble``).

``ebpf.asm`` depends on nothing but the standard library, so its documented
error for a malformed stream is ``ValueError`` (of which ``ParseError`` is a
subclass). Beyond "no other exception", the target checks two properties:
a stream that decodes encodes back to the same bytes, and both listing
styles print one line per instruction.
"""

from __future__ import annotations

from ebpf.asm import decode, disassemble, encode, format_instruction, format_verifier

NAME = "insns"
ALLOWED: tuple[type[BaseException], ...] = (ValueError,)


class RoundTripError(AssertionError):
    """Decoding then encoding did not give the input back."""


def one_input(data: bytes) -> None:
    """Decode, re-encode and disassemble ``data``; only ValueError (from decode) may escape."""
    try:
        insns = decode(data)
    except ALLOWED:
        return
    if encode(insns) != data:
        raise RoundTripError(f"decode/encode changed {data.hex()}")
    symbols = {0: "entry", len(data) // 16: "middle"}
    llvm = disassemble(data, symbols=symbols, alu32=bool(data[:1] and data[0] & 1))
    verifier = disassemble(insns, style="verifier")
    if len(verifier.splitlines()) != len(insns):
        raise RoundTripError(f"verifier listing has {len(verifier.splitlines())} lines for {len(insns)}")
    assert len(llvm.splitlines()) >= len(insns)
    for insn in insns:
        format_instruction(insn)
        format_verifier(insn)
        str(insn)


def seeds() -> list[bytes]:
    """The executable sections of every compiled test object."""
    from fuzz import _seeds

    return list(_seeds.instruction_streams())
