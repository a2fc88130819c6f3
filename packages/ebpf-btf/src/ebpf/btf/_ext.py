"""``.BTF.ext``: per-instruction BTF facts of an object file.

Three subsections, each a list of ELF code sections with their records:
``func_info`` (which BTF FUNC starts at which instruction), ``line_info``
(source file, line and column of instructions) and ``core_relo`` (the CO-RE
relocations clang recorded for ``preserve_access_index`` accesses and the
``__builtin_*`` CO-RE intrinsics). In the object file every ``insn_off``
counts *bytes* from the start of its section; the kernel wants instruction
indexes, so loaders divide by 8.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import construct as cs

from ebpf.syscall.abi import CoreReloKind
from ebpf.syscall.errors import ParseError

from . import _layout as k
from . import _schema as s
from ._graph import TypeGraph

__all__ = ["BtfExt", "CoreRelo", "FuncInfo", "LineInfo", "parse_btf_ext"]

_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class FuncInfo:
    """A function starting at byte ``insn_off`` of its section, described by FUNC ``type_id``."""

    insn_off: int
    type_id: int


@dataclass(frozen=True)
class LineInfo:
    """Where the instruction at byte ``insn_off`` comes from in the source."""

    insn_off: int
    file_name: str
    line_text: str
    line: int
    column: int


@dataclass(frozen=True)
class CoreRelo:
    """One CO-RE relocation: the instruction at byte ``insn_off`` and what it asks for.

    ``access`` is the access string (``"0:1:2"``: the first element, member
    1, then member 2 of that) for field relocations, ``"0"`` for type ones and
    the enumerator index for enum ones; ``type_id`` is the local root type.
    """

    insn_off: int
    type_id: int
    access: str
    kind: CoreReloKind


@dataclass(frozen=True)
class BtfExt:
    """The parsed ``.BTF.ext`` section, keyed by ELF section name (``"kprobe/foo"``, ``".text"``)."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)


def parse_btf_ext(data: bytes, graph: TypeGraph) -> BtfExt:
    """Parse ``.BTF.ext``; names are looked up in the strings of ``graph`` (the object's ``.BTF``).

    Raises:
        ParseError: bad magic, subsections outside the data, records smaller
            than the kernel's, truncated blocks, string offsets out of range,
            or an unknown CO-RE relocation kind.
    """
    try:
        header = s.BTF_EXT_HEADER.parse(data)
    except cs.ConstructError as exc:
        raise ParseError(f".BTF.ext: truncated header ({len(data)} bytes): {exc}") from None
    if header.magic != k.BTF_MAGIC:
        raise ParseError(f".BTF.ext: bad magic {header.magic:#06x} at offset 0, expected {k.BTF_MAGIC:#06x}")
    if header.hdr_len < k.BTF_EXT_HEADER_SIZE_NO_CORE or header.hdr_len > len(data):
        raise ParseError(f".BTF.ext: header length {header.hdr_len} at offset 4 is out of range")
    body = data[header.hdr_len :]

    def blocks(
        name: str, off: int | None, length: int | None, min_record: int
    ) -> list[tuple[str, list[bytes]]]:
        if not length or off is None:
            return []
        if off + length > len(body):
            raise ParseError(f".BTF.ext: {name} [{off}, {off + length}) runs past the end of the section")
        raw = body[off : off + length]
        # check the record size before parsing: a zero size would let a huge
        # num_info loop for ever without consuming anything
        (record_size,) = _U32.unpack_from(raw.ljust(4, b"\0"))
        if record_size < min_record or record_size % 4:
            raise ParseError(f".BTF.ext: {name} record size {record_size} is invalid (at least {min_record})")
        try:
            info = s.EXT_INFO.parse(raw)
        except cs.ConstructError as exc:
            raise ParseError(f".BTF.ext: {name} at offset {off}: {exc}") from None
        consumed = 4 + sum(8 + len(sec.records) * info.record_size for sec in info.sections)
        if consumed != length:  # GreedyRange stops at a truncated block: report it
            raise ParseError(f".BTF.ext: {name}: block at offset {off + consumed} is truncated")
        return [(graph.string(sec.sec_name_off), sec.records) for sec in info.sections]

    result = BtfExt()
    for section, records in blocks("func_info", header.func_info_off, header.func_info_len, 8):
        result.func_info[section] = [
            FuncInfo(r.insn_off, r.type_id) for r in (s.FUNC_INFO_RECORD.parse(raw) for raw in records)
        ]
    for section, records in blocks("line_info", header.line_info_off, header.line_info_len, 16):
        lines = []
        for raw in records:
            r = s.LINE_INFO_RECORD.parse(raw)
            # BPF_LINE_INFO_LINE_NUM / BPF_LINE_INFO_LINE_COL: line << 10 | column
            lines.append(
                LineInfo(
                    r.insn_off,
                    graph.string(r.file_name_off),
                    graph.string(r.line_off),
                    r.line_col >> 10,
                    r.line_col & 0x3FF,
                )
            )
        result.line_info[section] = lines
    for section, records in blocks("core_relo", header.core_relo_off, header.core_relo_len, 16):
        relos = []
        for raw in records:
            relo = s.CORE_RELO_RECORD.parse(raw)
            try:
                kind = CoreReloKind(relo.kind)
            except ValueError:
                raise ParseError(
                    f".BTF.ext: core_relo in {section}: unknown relocation kind {relo.kind}"
                ) from None
            relos.append(CoreRelo(relo.insn_off, relo.type_id, graph.string(relo.access_str_off), kind))
        result.core_relos[section] = relos
    return result
