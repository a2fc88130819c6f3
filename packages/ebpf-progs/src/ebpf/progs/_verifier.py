"""Verifier failures with the failing instruction and, given line info, its source line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ebpf.btf import TypeGraph, from_bytes
from ebpf.syscall import ParseError, VerifierError
from ebpf.syscall.abi import BpfLineInfo

__all__ = ["ProgramVerifierError", "SourceLine", "failing_instruction", "source_line"]

# At log level 1 the verifier prints every instruction it walks as
# "<index>: (<opcode>) <disassembly>"; the last one printed before the
# verdict is the one it rejected.
_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\)")


@dataclass(frozen=True)
class SourceLine:
    """Where in the source an instruction came from (from BTF line info)."""

    file: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.text.strip()}"


def failing_instruction(log: Sequence[str]) -> int | None:
    """The index of the last instruction the verifier printed, or ``None``."""
    for line in reversed(log):
        match = _INSN_LINE.match(line)
        if match is not None:
            return int(match.group(1))
    return None


def _btf_string(graph: TypeGraph | None, offset: int) -> str | None:
    if graph is None:
        return None
    try:
        return graph.string(offset)
    except ParseError:
        return None


def source_line(btf: bytes, line_info: bytes, rec_size: int, instruction: int) -> SourceLine | None:
    """The line-info record covering ``instruction`` resolved against the BTF strings, or ``None``.

    A record applies from its ``insn_off`` to the next record's, so the one
    with the greatest ``insn_off`` not after ``instruction`` wins.
    """
    best: BpfLineInfo | None = None
    for pos in range(0, len(line_info) - rec_size + 1, rec_size):
        record = BpfLineInfo.from_buffer_copy(line_info, pos)
        if record.insn_off <= instruction and (best is None or record.insn_off >= best.insn_off):
            best = record
    if best is None:
        return None
    file_off, line_off, line_col = best.file_name_off, best.line_off, best.line_col
    try:
        graph: TypeGraph | None = from_bytes(btf, name="program BTF")
    except ParseError:
        graph = None
    file, text = _btf_string(graph, file_off), _btf_string(graph, line_off)
    if file is None or text is None:
        return None
    # bpf_line_info.line_col: line number in the upper 22 bits, column in the lower 10.
    return SourceLine(file, line_col >> 10, line_col & 0x3FF, text)


class ProgramVerifierError(VerifierError):
    """A [`VerifierError`][ebpf.syscall.VerifierError] that knows the failing instruction and its source line.

    Raised by [`ebpf.progs.Program.load()`][ebpf.progs.Program.load]; ``except VerifierError``
    catches it.

    Attributes:
        instruction: index of the rejected instruction, when the log shows it.
        source: the source line of that instruction, when the program has line info.
    """

    def __init__(
        self,
        err: int,
        command: str,
        context: str = "",
        log: Sequence[str] = (),
        truncated: bool = False,
        instruction: int | None = None,
        source: SourceLine | None = None,
    ) -> None:
        self.instruction = instruction
        self.source = source
        super().__init__(err, command, context, log, truncated)

    @classmethod
    def from_error(
        cls, error: VerifierError, btf: bytes | None, line_info: bytes, rec_size: int
    ) -> ProgramVerifierError:
        """Wrap ``error``, locating its failing instruction in the line info."""
        instruction = failing_instruction(error.log)
        source = None
        if instruction is not None and btf is not None and line_info:
            source = source_line(btf, line_info, rec_size, instruction)
        return cls(
            error.errno or 0, error.command, error.context, error.log, error.truncated, instruction, source
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (self.errno, self.command, self.context, self.log, self.truncated, self.instruction, self.source),
        )

    def __str__(self) -> str:
        text = super().__str__()
        if self.source is not None:
            text += f"\n  failing instruction {self.instruction} is at {self.source}"
        elif self.instruction is not None:
            text += f"\n  failing instruction: {self.instruction}"
        return text
