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

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


#: one block of a subsection: the ELF section's name offset and the leading
#: 32-bit words of each of its records (2 for func_info, 4 for the others)
_Block = tuple[int, list[tuple[int, ...]]]
_BlockReader = Callable[[str, bytes, int, int], list[_Block]]

_HEADER = struct.Struct("<HBBIIIII")  # magic .. line_info_len, then core_relo_off/len when present
_HEADER_CORE = struct.Struct("<II")
_SECTION = struct.Struct("<II")
_RECORD_SCHEMAS: dict[str, cs.Construct[Any, Any]] = {
    "func_info": s.FUNC_INFO_RECORD,
    "line_info": s.LINE_INFO_RECORD,
    "core_relo": s.CORE_RELO_RECORD,
}


def _check_record_size(name: str, raw: bytes, min_record: int) -> int:
    # checked before parsing: a zero size would let a huge num_info loop for ever
    record_size: int = _U32.unpack_from(raw.ljust(4, b"\0"))[0]
    if record_size < min_record or record_size % 4:
        raise ParseError(f".BTF.ext: {name} record size {record_size} is invalid (at least {min_record})")
    return record_size


def _read_blocks(name: str, raw: bytes, off: int, words: int) -> list[_Block]:
    """The blocks of a subsection, through ``struct`` (the fast path)."""
    record_size = _check_record_size(name, raw, 4 * words)
    layout = struct.Struct(f"<{words}I")
    blocks: list[_Block] = []
    pos = 4
    while pos < len(raw):
        if pos + 8 > len(raw):
            break  # a truncated block header: reported below
        sec_name_off, num_info = _SECTION.unpack_from(raw, pos)
        end = pos + 8 + num_info * record_size
        if end > len(raw):
            break
        unpack = layout.unpack_from
        blocks.append((sec_name_off, [unpack(raw, at) for at in range(pos + 8, end, record_size)]))
        pos = end
    if pos != len(raw):
        raise ParseError(f".BTF.ext: {name}: block at offset {off + pos} is truncated")
    return blocks


def _read_blocks_with_schemas(name: str, raw: bytes, off: int, words: int) -> list[_Block]:
    """The blocks of a subsection, through the ``construct`` schemas (the declarative path)."""
    record_size = _check_record_size(name, raw, 4 * words)
    try:
        info = s.EXT_INFO.parse(raw)
    except cs.ConstructError as exc:
        raise ParseError(f".BTF.ext: {name} at offset {off}: {exc}") from None
    consumed = 4 + sum(8 + len(sec.records) * record_size for sec in info.sections)
    if consumed != len(raw):  # GreedyRange stops at a truncated block: report it
        raise ParseError(f".BTF.ext: {name}: block at offset {off + consumed} is truncated")
    schema: cs.Construct[Any, Any] = _RECORD_SCHEMAS[name]
    blocks: list[_Block] = []
    for sec in info.sections:
        rows = [dataclasses.astuple(schema.parse(r)) for r in sec.records]
        blocks.append((sec.sec_name_off, rows))
    return blocks


def _header(data: bytes, declarative: bool) -> s.BtfExtHeader:
    if declarative:
        try:
            return s.BTF_EXT_HEADER.parse(data)
        except cs.ConstructError as exc:
            raise ParseError(f".BTF.ext: truncated header ({len(data)} bytes): {exc}") from None
    if len(data) < _HEADER.size:
        raise ParseError(f".BTF.ext: truncated header ({len(data)} bytes), at least {_HEADER.size} needed")
    magic, version, flags, hdr_len, func_off, func_len, line_off, line_len = _HEADER.unpack_from(data)
    core_off: int | None = None
    core_len: int | None = None
    if hdr_len >= k.BTF_EXT_HEADER_SIZE:
        if len(data) < _HEADER.size + _HEADER_CORE.size:
            raise ParseError(f".BTF.ext: truncated header ({len(data)} bytes): no room for core_relo")
        core_off, core_len = _HEADER_CORE.unpack_from(data, _HEADER.size)
    return s.BtfExtHeader(
        magic, version, flags, hdr_len, func_off, func_len, line_off, line_len, core_off, core_len
    )


def parse_btf_ext(data: bytes, graph: TypeGraph) -> BtfExt:
    """Parse ``.BTF.ext``; names are looked up in the strings of ``graph`` (the object's ``.BTF``).

    Raises:
        ParseError: bad magic, subsections outside the data, records smaller
            than the kernel's, truncated blocks, string offsets out of range,
            or an unknown CO-RE relocation kind.
    """
    return _parse(data, graph, declarative=False)


def _parse(data: bytes, graph: TypeGraph, *, declarative: bool) -> BtfExt:
    """`parse_btf_ext()` through ``struct`` or, ``declarative``, through the construct schemas.

    Both give the same result (the tests check it on real objects); the
    ``struct`` path is the one used, as objects are parsed on every load.
    """
    header = _header(data, declarative)
    if header.magic != k.BTF_MAGIC:
        raise ParseError(f".BTF.ext: bad magic {header.magic:#06x} at offset 0, expected {k.BTF_MAGIC:#06x}")
    if header.hdr_len < k.BTF_EXT_HEADER_SIZE_NO_CORE or header.hdr_len > len(data):
        raise ParseError(f".BTF.ext: header length {header.hdr_len} at offset 4 is out of range")
    body = data[header.hdr_len :]
    reader: _BlockReader = _read_blocks_with_schemas if declarative else _read_blocks

    def blocks(
        name: str, off: int | None, length: int | None, words: int
    ) -> list[tuple[str, list[tuple[int, ...]]]]:
        if not length or off is None:
            return []
        if off + length > len(body):
            raise ParseError(f".BTF.ext: {name} [{off}, {off + length}) runs past the end of the section")
        return [
            (graph.string(name_off), rows)
            for name_off, rows in reader(name, body[off : off + length], off, words)
        ]

    result = BtfExt()
    for section, rows in blocks("func_info", header.func_info_off, header.func_info_len, 2):
        result.func_info[section] = [FuncInfo(insn_off, type_id) for insn_off, type_id in rows]
    string = graph.string
    for section, rows in blocks("line_info", header.line_info_off, header.line_info_len, 4):
        # BPF_LINE_INFO_LINE_NUM / BPF_LINE_INFO_LINE_COL: line << 10 | column
        result.line_info[section] = [
            LineInfo(insn_off, string(file_off), string(line_off), line_col >> 10, line_col & 0x3FF)
            for insn_off, file_off, line_off, line_col in rows
        ]
    for section, rows in blocks("core_relo", header.core_relo_off, header.core_relo_len, 4):
        relos = []
        for insn_off, type_id, access_off, kind_number in rows:
            try:
                kind = CoreReloKind(kind_number)
            except ValueError:
                raise ParseError(
                    f".BTF.ext: core_relo in {section}: unknown relocation kind {kind_number}"
                ) from None
            relos.append(CoreRelo(insn_off, type_id, string(access_off), kind))
        result.core_relos[section] = relos
    return result
