"""The declarative description of BTF and BTF.ext, as ``construct`` schemas.

The layouts follow ``include/uapi/linux/btf.h`` and ``Documentation/bpf/btf.rst``
(and libbpf's ``struct btf_ext_header`` for ``.BTF.ext``). Every schema both
parses and builds: the encoder builds bytes with them, and the fast
``struct``-based decoder in `_decode` is checked against them by the tests.

Only little-endian BTF is described (what the kernel produces and what
``clang -target bpf`` emits on little-endian hosts).

Nothing here leaves this module as a ``Container``: each record is a
``cs.Struct`` inside an ``ExprAdapter`` that parses into the dataclass written
above it (its fields in the order of the struct's) and builds from one
(``vars()`` gives the struct its fields by name). Only ``construct`` is needed
at run time.
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
from typing import Any, TypeVar

import construct as cs

from ebpf.syscall.abi import BpfCoreRelo, BpfFuncInfo, BpfLineInfo

from ._layout import (
    BTF_EXT_HEADER_SIZE,
    KIND_ARRAY,
    KIND_CONST,
    KIND_DATASEC,
    KIND_DECL_TAG,
    KIND_ENUM,
    KIND_ENUM64,
    KIND_FLOAT,
    KIND_FUNC,
    KIND_FUNC_PROTO,
    KIND_FWD,
    KIND_INT,
    KIND_PTR,
    KIND_RESTRICT,
    KIND_STRUCT,
    KIND_TYPE_TAG,
    KIND_TYPEDEF,
    KIND_UNION,
    KIND_VAR,
    KIND_VOLATILE,
    info_kind,
    info_vlen,
)

_R = TypeVar("_R")

# ----------------------------------------------------------------------- BTF


@dataclasses.dataclass
class BtfHeader:
    """``struct btf_header``; offsets are relative to the end of the header (``hdr_len``)."""

    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


BTF_HEADER: cs.Construct[BtfHeader, BtfHeader] = cs.ExprAdapter(
    cs.Struct(
        "magic" / cs.Int16ul,
        "version" / cs.Int8ul,
        "flags" / cs.Int8ul,
        "hdr_len" / cs.Int32ul,
        "type_off" / cs.Int32ul,
        "type_len" / cs.Int32ul,
        "str_off" / cs.Int32ul,
        "str_len" / cs.Int32ul,
    ),
    lambda c, _: BtfHeader(
        c.magic, c.version, c.flags, c.hdr_len, c.type_off, c.type_len, c.str_off, c.str_len
    ),
    lambda header, _: vars(header),
)


@dataclasses.dataclass
class BtfArray:
    """``struct btf_array``, the trailer of ``BTF_KIND_ARRAY``."""

    type: int
    index_type: int
    nelems: int


BTF_ARRAY: cs.Construct[BtfArray, BtfArray] = cs.ExprAdapter(
    cs.Struct("type" / cs.Int32ul, "index_type" / cs.Int32ul, "nelems" / cs.Int32ul),
    lambda c, _: BtfArray(c.type, c.index_type, c.nelems),
    lambda array, _: vars(array),
)


@dataclasses.dataclass
class BtfMember:
    """``struct btf_member``; with ``kind_flag`` set, ``offset`` is ``bitfield_size << 24 | bit_offset``."""

    name_off: int
    type: int
    offset: int


BTF_MEMBER: cs.Construct[BtfMember, BtfMember] = cs.ExprAdapter(
    cs.Struct("name_off" / cs.Int32ul, "type" / cs.Int32ul, "offset" / cs.Int32ul),
    lambda c, _: BtfMember(c.name_off, c.type, c.offset),
    lambda member, _: vars(member),
)


@dataclasses.dataclass
class BtfEnum:
    """``struct btf_enum``: a 32-bit enumerator (signedness is the type's ``kind_flag``)."""

    name_off: int
    val: int


BTF_ENUM: cs.Construct[BtfEnum, BtfEnum] = cs.ExprAdapter(
    cs.Struct("name_off" / cs.Int32ul, "val" / cs.Int32ul),
    lambda c, _: BtfEnum(c.name_off, c.val),
    lambda value, _: vars(value),
)


@dataclasses.dataclass
class BtfEnum64:
    """``struct btf_enum64``: a 64-bit enumerator split in two 32-bit halves."""

    name_off: int
    val_lo32: int
    val_hi32: int


BTF_ENUM64: cs.Construct[BtfEnum64, BtfEnum64] = cs.ExprAdapter(
    cs.Struct("name_off" / cs.Int32ul, "val_lo32" / cs.Int32ul, "val_hi32" / cs.Int32ul),
    lambda c, _: BtfEnum64(c.name_off, c.val_lo32, c.val_hi32),
    lambda value, _: vars(value),
)


@dataclasses.dataclass
class BtfParam:
    """``struct btf_param``; a last parameter with name 0 and type 0 means ``...``."""

    name_off: int
    type: int


BTF_PARAM: cs.Construct[BtfParam, BtfParam] = cs.ExprAdapter(
    cs.Struct("name_off" / cs.Int32ul, "type" / cs.Int32ul),
    lambda c, _: BtfParam(c.name_off, c.type),
    lambda param, _: vars(param),
)


@dataclasses.dataclass
class BtfVarSecinfo:
    """``struct btf_var_secinfo``: one variable (or function) placed in a DATASEC."""

    type: int
    offset: int
    size: int


BTF_VAR_SECINFO: cs.Construct[BtfVarSecinfo, BtfVarSecinfo] = cs.ExprAdapter(
    cs.Struct("type" / cs.Int32ul, "offset" / cs.Int32ul, "size" / cs.Int32ul),
    lambda c, _: BtfVarSecinfo(c.type, c.offset, c.size),
    lambda entry, _: vars(entry),
)


def _vlen(ctx: Any) -> int:
    return info_vlen(ctx.info)


#: what follows the common header, per kind. INT's trailer is one word
#: (``encoding << 24 | offset << 16 | bits``), VAR's is its linkage, DECL_TAG's
#: is the signed ``component_idx`` (-1: the tag applies to the type itself).
_TRAILERS: dict[int, Any] = {
    KIND_INT: cs.Int32ul,
    KIND_ARRAY: BTF_ARRAY,
    KIND_STRUCT: cs.Array(_vlen, BTF_MEMBER),
    KIND_UNION: cs.Array(_vlen, BTF_MEMBER),
    KIND_ENUM: cs.Array(_vlen, BTF_ENUM),
    KIND_FUNC_PROTO: cs.Array(_vlen, BTF_PARAM),
    KIND_VAR: cs.Int32ul,
    KIND_DATASEC: cs.Array(_vlen, BTF_VAR_SECINFO),
    KIND_DECL_TAG: cs.Int32sl,
    KIND_ENUM64: cs.Array(_vlen, BTF_ENUM64),
}

#: kinds with nothing after the common header
_NO_TRAILER = (
    KIND_PTR,
    KIND_FWD,
    KIND_TYPEDEF,
    KIND_VOLATILE,
    KIND_CONST,
    KIND_RESTRICT,
    KIND_FUNC,
    KIND_FLOAT,
    KIND_TYPE_TAG,
)

Trailer = (
    int
    | BtfArray
    | list[BtfMember]
    | list[BtfEnum]
    | list[BtfParam]
    | list[BtfVarSecinfo]
    | list[BtfEnum64]
    | None
)


@dataclasses.dataclass
class BtfTypeRecord:
    """``struct btf_type`` and its kind-specific trailer.

    ``size_or_type`` is the union of ``size`` (INT, ENUM, STRUCT, UNION,
    DATASEC, FLOAT, ENUM64) and ``type`` (the other kinds). An unknown kind
    cannot be skipped (its length is unknown), so the switch's default is an
    error.
    """

    name_off: int
    info: int
    size_or_type: int
    trailer: Trailer

    @property
    def kind(self) -> int:
        """The ``BTF_KIND_*`` number."""
        return info_kind(self.info)


def _plain(trailer: Any) -> Trailer:
    """A parsed trailer with construct's ``ListContainer`` made a plain ``list``."""
    return list(trailer) if isinstance(trailer, list) else trailer


_TYPE_RECORD: cs.Construct[BtfTypeRecord, BtfTypeRecord] = cs.ExprAdapter(
    cs.Struct(
        "name_off" / cs.Int32ul,
        "info" / cs.Int32ul,
        "size_or_type" / cs.Int32ul,
        "trailer"
        / cs.Switch(
            lambda ctx: info_kind(ctx.info),
            {**_TRAILERS, **dict.fromkeys(_NO_TRAILER, cs.Pass)},
            default=cs.Error,
        ),
    ),
    lambda c, _: BtfTypeRecord(c.name_off, c.info, c.size_or_type, _plain(c.trailer)),
    lambda record, _: vars(record),
)


def parse_header(data: bytes) -> BtfHeader:
    """Parse the fixed part of ``struct btf_header``.

    Raises:
        construct.ConstructError: ``data`` is shorter than the header.
    """
    return BTF_HEADER.parse(data)


def parse_type_records(section: bytes) -> list[BtfTypeRecord]:
    """Parse a whole type section record by record (the slow, declarative path).

    Raises:
        construct.ConstructError: a truncated record or an unknown kind; the
            callers turn it into ``ParseError``.
    """
    records = []
    stream = io.BytesIO(section)
    while stream.tell() < len(section):
        records.append(_TYPE_RECORD.parse_stream(stream))
    return records


def build_type_record(record: BtfTypeRecord) -> bytes:
    """Build the bytes of one record.

    Raises:
        construct.ConstructError: a field does not fit its width, or the
            trailer does not match the kind in ``info``.
    """
    return _TYPE_RECORD.build(record)


def build_header(header: BtfHeader) -> bytes:
    """Build ``struct btf_header``.

    Raises:
        construct.ConstructError: a field does not fit its width.
    """
    return BTF_HEADER.build(header)


# ------------------------------------------------------------------- BTF.ext


@dataclasses.dataclass
class BtfExtHeader:
    """``struct btf_ext_header``; the CO-RE fields exist when ``hdr_len >= 32``."""

    magic: int
    version: int
    flags: int
    hdr_len: int
    func_info_off: int
    func_info_len: int
    line_info_off: int
    line_info_len: int
    core_relo_off: int | None
    core_relo_len: int | None


BTF_EXT_HEADER: cs.Construct[BtfExtHeader, BtfExtHeader] = cs.ExprAdapter(
    cs.Struct(
        "magic" / cs.Int16ul,
        "version" / cs.Int8ul,
        "flags" / cs.Int8ul,
        "hdr_len" / cs.Int32ul,
        "func_info_off" / cs.Int32ul,
        "func_info_len" / cs.Int32ul,
        "line_info_off" / cs.Int32ul,
        "line_info_len" / cs.Int32ul,
        "core_relo_off" / cs.If(cs.this.hdr_len >= BTF_EXT_HEADER_SIZE, cs.Int32ul),
        "core_relo_len" / cs.If(cs.this.hdr_len >= BTF_EXT_HEADER_SIZE, cs.Int32ul),
    ),
    lambda c, _: BtfExtHeader(
        c.magic,
        c.version,
        c.flags,
        c.hdr_len,
        c.func_info_off,
        c.func_info_len,
        c.line_info_off,
        c.line_info_len,
        c.core_relo_off,
        c.core_relo_len,
    ),
    lambda header, _: vars(header),
)


def _abi_record(layout: type[ctypes.Structure], record: type[_R]) -> cs.Construct[_R, _R]:
    """The little-endian schema of ``layout`` (a record of the kernel ABI whose fields are all
    ``__u32``), parsing into the dataclass ``record``, whose fields are the same in the same order.

    The field list is the ABI's (`ebpf.syscall.abi`), so the records of ``.BTF.ext``
    and the ones handed to the kernel have one description.

    Raises:
        TypeError: ``record``'s fields are not ``layout``'s, or a field is not 32 bits.
    """
    names = [name for name, *_ in layout._fields_]
    if [f.name for f in dataclasses.fields(record)] != names:  # type: ignore[arg-type]
        raise TypeError(f"{record.__name__} does not have the fields of {layout.__name__}: {names}")
    if ctypes.sizeof(layout) != 4 * len(names):
        raise TypeError(f"{layout.__name__} is not made of 32-bit fields")
    return cs.ExprAdapter(
        cs.Struct(*(name / cs.Int32ul for name in names)),
        lambda c, _: record(*(c[name] for name in names)),
        lambda value, _: vars(value),
    )


@dataclasses.dataclass
class FuncInfoRecord:
    """``struct bpf_func_info``; in an object file ``insn_off`` counts bytes, not instructions."""

    insn_off: int
    type_id: int


FUNC_INFO_RECORD = _abi_record(BpfFuncInfo, FuncInfoRecord)


@dataclasses.dataclass
class LineInfoRecord:
    """``struct bpf_line_info``; ``line_col`` is ``line << 10 | column``."""

    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int


LINE_INFO_RECORD = _abi_record(BpfLineInfo, LineInfoRecord)


@dataclasses.dataclass
class CoreReloRecord:
    """``struct bpf_core_relo``: one CO-RE relocation of an instruction."""

    insn_off: int
    type_id: int
    access_str_off: int
    kind: int


CORE_RELO_RECORD = _abi_record(BpfCoreRelo, CoreReloRecord)


@dataclasses.dataclass
class ExtSection:
    """``struct btf_ext_info_sec``: the records of one ELF section (``sec_name_off``).

    Records are ``record_size`` bytes each; a producer newer than the reader
    may append fields, which are kept as raw bytes here and ignored.
    """

    sec_name_off: int
    num_info: int
    records: list[bytes]


EXT_SECTION: cs.Construct[ExtSection, ExtSection] = cs.ExprAdapter(
    cs.Struct(
        "sec_name_off" / cs.Int32ul,
        "num_info" / cs.Int32ul,
        "records" / cs.Array(cs.this.num_info, cs.Bytes(cs.this._.record_size)),
    ),
    lambda c, _: ExtSection(c.sec_name_off, c.num_info, list(c.records)),
    lambda section, _: vars(section),
)


@dataclasses.dataclass
class ExtInfo:
    """One ``.BTF.ext`` subsection: the record size, then one block per ELF section."""

    record_size: int
    sections: list[ExtSection]


EXT_INFO: cs.Construct[ExtInfo, ExtInfo] = cs.ExprAdapter(
    cs.Struct("record_size" / cs.Int32ul, "sections" / cs.GreedyRange(EXT_SECTION)),
    lambda c, _: ExtInfo(c.record_size, list(c.sections)),
    lambda info, _: vars(info),
)
