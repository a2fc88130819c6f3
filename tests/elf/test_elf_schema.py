"""The ELF64 construct schemas are the structs of <elf.h>, field by field, in both byte orders.

Distinct values in every field: a field parsed into, or built from, the wrong
attribute of its dataclass changes the record or the bytes.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest

from ebpf.elf import _schema as schema

_IDENT = schema.ElfIdent(b"\x7fELF", 2, 1, 1, 3, 4, bytes(range(7)))
_IDENT_BYTES = b"\x7fELF" + bytes([2, 1, 1, 3, 4]) + bytes(range(7))

# (schema, record, struct format without the byte order)
_RECORDS: list[tuple[Any, Any, str]] = [
    (schema.SECTION_HEADER, schema.SectionHeader(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), "IIQQQQIIQQ"),
    (schema.PROGRAM_HEADER, schema.ProgramHeader(1, 2, 3, 4, 5, 6, 7, 8), "IIQQQQQQ"),
    (schema.SYMBOL, schema.Symbol(1, 2, 3, 4, 5, 6), "IBBHQQ"),
    (schema.REL, schema.Rel(1, 2 << 32 | 3), "QQ"),
    (schema.RELA, schema.Rela(1, 2 << 32 | 3, -4), "QQq"),
    (schema.VERDEF, schema.Verdef(1, 2, 3, 4, 5, 6, 7), "HHHHIII"),
    (schema.VERDAUX, schema.Verdaux(1, 2), "II"),
]


@pytest.mark.parametrize("little", [True, False], ids=["little", "big"])
@pytest.mark.parametrize(
    ("construct", "record", "fmt"), _RECORDS, ids=[type(r).__name__ for _, r, _ in _RECORDS]
)
def test_record_schema_is_the_c_layout(construct: Any, record: Any, fmt: str, little: bool) -> None:
    raw = struct.pack(("<" if little else ">") + fmt, *dataclasses.astuple(record))
    assert construct.parse(raw, little=little) == record
    assert construct.build(record, little=little) == raw


@pytest.mark.parametrize("little", [True, False], ids=["little", "big"])
def test_file_header_holds_the_ident_and_the_header_fields(little: bool) -> None:
    fields = (1, 247, 3, 4, 5, 6, 7, 64, 56, 9, 64, 11, 12)
    raw = _IDENT_BYTES + struct.pack(("<" if little else ">") + "HHIQQQIHHHHHH", *fields)
    header = schema.FILE_HEADER.parse(raw, little=little)
    assert header == schema.FileHeader(_IDENT, *fields)
    assert type(header.ident) is schema.ElfIdent  # no construct container leaves the schema
    assert schema.FILE_HEADER.build(header, little=little) == raw
    assert schema.IDENT.parse(_IDENT_BYTES) == _IDENT
