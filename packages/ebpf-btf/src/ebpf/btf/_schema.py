# ruff: noqa: RUF009 - csfield() is construct-typing's dataclass field specifier, not a default value
"""The declarative description of BTF and BTF.ext, as ``construct`` schemas.

The layouts follow ``include/uapi/linux/btf.h`` and ``Documentation/bpf/btf.rst``
(and libbpf's ``struct btf_ext_header`` for ``.BTF.ext``). Every schema both
parses and builds: the encoder builds bytes with them, and the fast
``struct``-based decoder in :mod:`._decode` is checked against them by the tests.

Only little-endian BTF is described (what the kernel produces and what
``clang -target bpf`` emits on little-endian hosts).

Nothing here leaves this module as a ``Container``: parsing returns the typed
dataclasses below.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import construct as cs
from construct_typed import DataclassMixin, DataclassStruct, csfield

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

# ----------------------------------------------------------------------- BTF


@dataclasses.dataclass
class BtfHeader(DataclassMixin):
    """``struct btf_header``; offsets are relative to the end of the header (``hdr_len``)."""

    magic: int = csfield(cs.Int16ul)
    version: int = csfield(cs.Int8ul)
    flags: int = csfield(cs.Int8ul)
    hdr_len: int = csfield(cs.Int32ul)
    type_off: int = csfield(cs.Int32ul)
    type_len: int = csfield(cs.Int32ul)
    str_off: int = csfield(cs.Int32ul)
    str_len: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class BtfArray(DataclassMixin):
    """``struct btf_array``, the trailer of ``BTF_KIND_ARRAY``."""

    type: int = csfield(cs.Int32ul)
    index_type: int = csfield(cs.Int32ul)
    nelems: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class BtfMember(DataclassMixin):
    """``struct btf_member``; with ``kind_flag`` set, ``offset`` is ``bitfield_size << 24 | bit_offset``."""

    name_off: int = csfield(cs.Int32ul)
    type: int = csfield(cs.Int32ul)
    offset: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class BtfEnum(DataclassMixin):
    """``struct btf_enum``: a 32-bit enumerator (signedness is the type's ``kind_flag``)."""

    name_off: int = csfield(cs.Int32ul)
    val: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class BtfEnum64(DataclassMixin):
    """``struct btf_enum64``: a 64-bit enumerator split in two 32-bit halves."""

    name_off: int = csfield(cs.Int32ul)
    val_lo32: int = csfield(cs.Int32ul)
    val_hi32: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class BtfParam(DataclassMixin):
    """``struct btf_param``; a last parameter with name 0 and type 0 means ``...``."""

    name_off: int = csfield(cs.Int32ul)
    type: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class BtfVarSecinfo(DataclassMixin):
    """``struct btf_var_secinfo``: one variable (or function) placed in a DATASEC."""

    type: int = csfield(cs.Int32ul)
    offset: int = csfield(cs.Int32ul)
    size: int = csfield(cs.Int32ul)


def _vlen(ctx: Any) -> int:
    return info_vlen(ctx.info)


#: what follows the common header, per kind. INT's trailer is one word
#: (``encoding << 24 | offset << 16 | bits``), VAR's is its linkage, DECL_TAG's
#: is the signed ``component_idx`` (-1: the tag applies to the type itself).
_TRAILERS: dict[int, Any] = {
    KIND_INT: cs.Int32ul,
    KIND_ARRAY: DataclassStruct(BtfArray),
    KIND_STRUCT: cs.Array(_vlen, DataclassStruct(BtfMember)),
    KIND_UNION: cs.Array(_vlen, DataclassStruct(BtfMember)),
    KIND_ENUM: cs.Array(_vlen, DataclassStruct(BtfEnum)),
    KIND_FUNC_PROTO: cs.Array(_vlen, DataclassStruct(BtfParam)),
    KIND_VAR: cs.Int32ul,
    KIND_DATASEC: cs.Array(_vlen, DataclassStruct(BtfVarSecinfo)),
    KIND_DECL_TAG: cs.Int32sl,
    KIND_ENUM64: cs.Array(_vlen, DataclassStruct(BtfEnum64)),
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
class BtfTypeRecord(DataclassMixin):
    """``struct btf_type`` and its kind-specific trailer.

    ``size_or_type`` is the union of ``size`` (INT, ENUM, STRUCT, UNION,
    DATASEC, FLOAT, ENUM64) and ``type`` (the other kinds). An unknown kind
    cannot be skipped (its length is unknown), so the switch's default is an
    error.
    """

    name_off: int = csfield(cs.Int32ul)
    info: int = csfield(cs.Int32ul)
    size_or_type: int = csfield(cs.Int32ul)
    trailer: Trailer = csfield(
        cs.Switch(
            lambda ctx: info_kind(ctx.info),
            {**_TRAILERS, **dict.fromkeys(_NO_TRAILER, cs.Pass)},
            default=cs.Error,
        )
    )

    @property
    def kind(self) -> int:
        """The ``BTF_KIND_*`` number."""
        return info_kind(self.info)


BTF_HEADER = DataclassStruct(BtfHeader)
_TYPE_RECORD = DataclassStruct(BtfTypeRecord)


def parse_header(data: bytes) -> BtfHeader:
    """Parse the fixed part of ``struct btf_header`` (``construct`` errors propagate)."""
    return BTF_HEADER.parse(data)


def parse_type_records(section: bytes) -> list[BtfTypeRecord]:
    """Parse a whole type section record by record (the slow, declarative path).

    ``construct`` errors propagate; the callers turn them into ``ParseError``.
    """
    records = []
    stream = io.BytesIO(section)
    while stream.tell() < len(section):
        records.append(_TYPE_RECORD.parse_stream(stream))
    return records


def build_type_record(record: BtfTypeRecord) -> bytes:
    """Build the bytes of one record."""
    return _TYPE_RECORD.build(record)


def build_header(header: BtfHeader) -> bytes:
    """Build ``struct btf_header``."""
    return BTF_HEADER.build(header)


# ------------------------------------------------------------------- BTF.ext


@dataclasses.dataclass
class BtfExtHeader(DataclassMixin):
    """``struct btf_ext_header``; the CO-RE fields exist when ``hdr_len >= 32``."""

    magic: int = csfield(cs.Int16ul)
    version: int = csfield(cs.Int8ul)
    flags: int = csfield(cs.Int8ul)
    hdr_len: int = csfield(cs.Int32ul)
    func_info_off: int = csfield(cs.Int32ul)
    func_info_len: int = csfield(cs.Int32ul)
    line_info_off: int = csfield(cs.Int32ul)
    line_info_len: int = csfield(cs.Int32ul)
    core_relo_off: int | None = csfield(cs.If(cs.this.hdr_len >= BTF_EXT_HEADER_SIZE, cs.Int32ul))
    core_relo_len: int | None = csfield(cs.If(cs.this.hdr_len >= BTF_EXT_HEADER_SIZE, cs.Int32ul))


@dataclasses.dataclass
class FuncInfoRecord(DataclassMixin):
    """``struct bpf_func_info``; in an object file ``insn_off`` counts bytes, not instructions."""

    insn_off: int = csfield(cs.Int32ul)
    type_id: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class LineInfoRecord(DataclassMixin):
    """``struct bpf_line_info``; ``line_col`` is ``line << 10 | column``."""

    insn_off: int = csfield(cs.Int32ul)
    file_name_off: int = csfield(cs.Int32ul)
    line_off: int = csfield(cs.Int32ul)
    line_col: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class CoreReloRecord(DataclassMixin):
    """``struct bpf_core_relo``: one CO-RE relocation of an instruction."""

    insn_off: int = csfield(cs.Int32ul)
    type_id: int = csfield(cs.Int32ul)
    access_str_off: int = csfield(cs.Int32ul)
    kind: int = csfield(cs.Int32ul)


@dataclasses.dataclass
class ExtSection(DataclassMixin):
    """``struct btf_ext_info_sec``: the records of one ELF section (``sec_name_off``).

    Records are ``record_size`` bytes each; a producer newer than the reader
    may append fields, which are kept as raw bytes here and ignored.
    """

    sec_name_off: int = csfield(cs.Int32ul)
    num_info: int = csfield(cs.Int32ul)
    records: list[bytes] = csfield(cs.Array(cs.this.num_info, cs.Bytes(cs.this._.record_size)))


@dataclasses.dataclass
class ExtInfo(DataclassMixin):
    """One ``.BTF.ext`` subsection: the record size, then one block per ELF section."""

    record_size: int = csfield(cs.Int32ul)
    sections: list[ExtSection] = csfield(cs.GreedyRange(DataclassStruct(ExtSection)))


BTF_EXT_HEADER = DataclassStruct(BtfExtHeader)
EXT_INFO = DataclassStruct(ExtInfo)
FUNC_INFO_RECORD = DataclassStruct(FuncInfoRecord)
LINE_INFO_RECORD = DataclassStruct(LineInfoRecord)
CORE_RELO_RECORD = DataclassStruct(CoreReloRecord)
