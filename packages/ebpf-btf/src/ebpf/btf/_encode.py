"""Encoding: build a BTF blob from types, with the layouts of the ``construct`` schemas.

[`BtfBuilder`][ebpf.btf.BtfBuilder] collects types (given as `_types` dataclasses whose
``id`` is ignored and whose references are ids of types added before or
after), copies types out of another graph, or converts ``ctypes`` types, and
builds the bytes ``BPF_BTF_LOAD`` takes (map key/value types, program
func_info/line_info).

Records are described by `_schema` (``BtfTypeRecord`` and its trailers);
building them goes through ``struct`` (`encode_record()`), which writes the
same bytes as the schemas' ``build_type_record`` ten times faster: an
object's BTF is rebuilt on every load. The tests check that both agree on
real files.
"""

from __future__ import annotations

import ctypes
import itertools
import operator
import struct
from collections.abc import Mapping
from dataclasses import replace

from . import _layout as k
from . import _schema as s
from ._graph import TypeGraph
from ._layout import BTF_HEADER_SIZE, BTF_MAGIC, BTF_VERSION, make_info
from ._types import (
    Array,
    Composite,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Member,
    Pointer,
    Restrict,
    Struct,
    Type,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Void,
    Volatile,
    _Ref,
)

__all__ = ["BtfBuilder", "StringTable", "encode_record"]

_WORD = struct.Struct("<I")
_SWORD = struct.Struct("<i")
_WORDS2 = struct.Struct("<II")
_WORDS3 = struct.Struct("<III")


def encode_record(record: s.BtfTypeRecord) -> bytes:
    """The bytes of one type record: what ``_schema.build_type_record`` builds, through ``struct``.

    Raises:
        ValueError: a field does not fit its 32 bits, or the trailer does
            not fit the kind in ``info``.
    """
    try:
        head = _WORDS3.pack(record.name_off, record.info, record.size_or_type)
        trailer = record.trailer
        if trailer is None:
            return head
        if isinstance(trailer, int):
            return head + (_SWORD if record.kind == k.KIND_DECL_TAG else _WORD).pack(trailer)
        if isinstance(trailer, s.BtfArray):
            return head + _WORDS3.pack(trailer.type, trailer.index_type, trailer.nelems)
        parts = [head]
        for entry in trailer:
            if isinstance(entry, s.BtfMember):
                parts.append(_WORDS3.pack(entry.name_off, entry.type, entry.offset))
            elif isinstance(entry, s.BtfParam):
                parts.append(_WORDS2.pack(entry.name_off, entry.type))
            elif isinstance(entry, s.BtfEnum):
                parts.append(_WORDS2.pack(entry.name_off, entry.val))
            elif isinstance(entry, s.BtfEnum64):
                parts.append(_WORDS3.pack(entry.name_off, entry.val_lo32, entry.val_hi32))
            else:
                parts.append(_WORDS3.pack(entry.type, entry.offset, entry.size))
        return b"".join(parts)
    except struct.error as exc:
        raise ValueError(f"BTF type record {record}: a field does not fit 32 bits: {exc}") from None


class StringTable:
    """The string section being built: each distinct string stored once, offset 0 is "".

    Starting from an existing section keeps every string at its offset, so
    records that refer to them (``.BTF.ext`` line info) stay valid.
    """

    def __init__(self, section: bytes = b"\0") -> None:
        """Start with the strings of ``section`` (NUL-terminated, the first one empty).

        Raises:
            ValueError: ``section`` does not start with NUL or is unterminated.
        """
        if not section.startswith(b"\0") or not section.endswith(b"\0"):
            raise ValueError("a BTF string section starts with an empty string and ends with NUL")
        parts = section[:-1].split(b"\0")
        # each string's offset: the lengths before it plus one NUL each (computed in C, no Python loop)
        starts = list(map(operator.add, itertools.accumulate(map(len, parts), initial=0), itertools.count()))
        names = map(bytes.decode, reversed(parts), itertools.repeat("utf-8"), itertools.repeat("replace"))
        # reversed: a string stored twice keeps its first offset
        self._offsets: dict[str, int] = dict(zip(names, reversed(starts[: len(parts)]), strict=True))
        self._parts: list[bytes] = [section]
        self._size = len(section)

    def add(self, text: str) -> int:
        """The offset of ``text``, adding it if new.

        Raises:
            ValueError: ``text`` contains NUL.
        """
        offset = self._offsets.get(text)
        if offset is not None:
            return offset
        if "\0" in text:
            raise ValueError(f"a BTF string cannot contain NUL: {text!r}")
        raw = text.encode() + b"\0"
        offset = self._size
        self._offsets[text] = offset
        self._parts.append(raw)
        self._size += len(raw)
        return offset

    def to_bytes(self) -> bytes:
        """The section's bytes."""
        return b"".join(self._parts)


class BtfBuilder:
    """Collects types and builds a BTF blob; ids are handed out from 1 in the order types are added.

    Examples:
        >>> b = BtfBuilder()
        >>> u32 = b.add(Int(0, "unsigned int", 4, bits=32))
        >>> b.add(Typedef(0, "u32", u32))
        2
    """

    def __init__(self, strings: StringTable | None = None) -> None:
        """Start empty, or with the string section ``strings`` (to keep its offsets)."""
        self.strings = strings if strings is not None else StringTable()
        # records to encode, or the bytes of records copied as they are
        self._records: list[s.BtfTypeRecord | bytes] = []
        # per source graph (by identity): its ids -> ids here
        self._copied: dict[int, dict[int, int]] = {}
        self._ctype_ids: dict[type, int] = {}

    @classmethod
    def from_graph(cls, graph: TypeGraph, replacements: Mapping[int, Type] | None = None) -> BtfBuilder:
        """A builder holding every type of ``graph`` with the same ids, ``replacements`` (by id) swapped in.

        The other records are copied as they are, without decoding them,
        and the strings keep their offsets: rewriting a few types of an
        object's BTF (its DATASECs before loading) costs little more than
        the copy. Add more types after them with [`add()`][ebpf.btf.BtfBuilder.add].

        Raises:
            ValueError: ``graph`` is split BTF (its records refer to its base's
                strings and types), or a replacement id is not one of its types.
            ParseError: ``graph``'s string section is malformed.
        """
        if graph.base is not None:
            raise ValueError(f"{graph.name}: split BTF cannot be copied on its own")
        replacements = dict(replacements or {})
        outside = sorted(i for i in replacements if not graph.first_id <= i <= graph.last_id)
        if outside:
            raise ValueError(f"{graph.name}: no types {outside} to replace (ids run 1..{graph.last_id})")
        builder = cls(StringTable(graph.string_section))
        records = builder._records
        table = graph._table
        data, start, offsets = table.data, table.types_start, table.offsets
        end = start + 4 * len(table.words)
        for index, at in enumerate(offsets):
            replacement = replacements.get(index + 1)
            if replacement is not None:
                records.append(builder._record(replacement))
                continue
            stop = start + 4 * offsets[index + 1] if index + 1 < len(offsets) else end
            records.append(bytes(data[start + 4 * at : stop]))
        return builder

    def __len__(self) -> int:
        """How many types were added."""
        return len(self._records)

    def add(self, t: Type) -> int:
        """Append ``t`` (its ``id`` is ignored) and return its new id.

        Raises:
            TypeError: ``t`` is ``Void`` (id 0 is implicit) or not a BTF type.
            ValueError: a field does not fit its encoding (too many members, a
                bit offset past 2^24 in a bitfield struct, a name with NUL).
        """
        self._records.append(self._record(t))
        return len(self._records)

    def build(self) -> bytes:
        """The BTF blob: header, type section, string section.

        Raises:
            ValueError: a field does not fit its 32 bits.
        """
        types = b"".join(r if isinstance(r, bytes) else encode_record(r) for r in self._records)
        strings = self.strings.to_bytes()
        header = s.BtfHeader(
            magic=BTF_MAGIC,
            version=BTF_VERSION,
            flags=0,
            hdr_len=BTF_HEADER_SIZE,
            type_off=0,
            type_len=len(types),
            str_off=len(types),
            str_len=len(strings),
        )
        return s.build_header(header) + types + strings

    def graph(self, name: str = "built BTF") -> TypeGraph:
        """The built types as a graph (parses [`build()`][ebpf.btf.BtfBuilder.build]'s bytes)."""
        return TypeGraph(self.build(), name=name)

    # ------------------------------------------------------------ copying

    def copy_from(self, graph: TypeGraph, type_id: int) -> int:
        """Copy ``type_id`` and everything it refers to from ``graph``; returns the id here.

        Each type is copied once per builder and graph, so cycles through
        pointers are kept.

        Raises:
            ParseError: ``graph`` is malformed.
        """
        memo = self._copied.setdefault(id(graph), {0: 0})
        if type_id in memo:
            return memo[type_id]
        # Reserve ids depth-first with a work list (no recursion: vmlinux
        # types can nest deeply), then fill the records with remapped ids.
        order: list[int] = []
        pending = [type_id]
        while pending:
            current = pending.pop()
            if current in memo:
                continue
            memo[current] = len(self._records) + len(order) + 1
            order.append(current)
            pending.extend(reversed(_references(graph[current])))
        for original in order:
            self._records.append(self._record(_remap(graph[original], memo)))
        return memo[type_id]

    # ------------------------------------------------------------- ctypes

    def add_ctype(self, ctype: type) -> int:
        """Add a ``ctypes`` type (integers, floats, bool, char, pointers, arrays, structures,
        unions, with bitfields) and return its id.

        Raises:
            TypeError: a ctypes type with no BTF equivalent.
        """
        found = self._ctype_ids.get(ctype)
        if found is not None:
            return found
        result = self._add_ctype(ctype)
        self._ctype_ids[ctype] = result
        return result

    def _add_ctype(self, ctype: type) -> int:
        if ctype in _CTYPE_INTS:
            name, signed = _CTYPE_INTS[ctype]
            size = ctypes.sizeof(ctype)
            encoding = IntEncoding.SIGNED if signed else IntEncoding(0)
            if ctype is ctypes.c_bool:
                encoding = IntEncoding.BOOL
            elif ctype is ctypes.c_char:
                encoding = IntEncoding.CHAR  # the kernel allows one encoding bit
            return self.add(Int(0, name, size, encoding, 8 * size))
        if ctype in (ctypes.c_float, ctypes.c_double):
            return self.add(Float(0, "float" if ctype is ctypes.c_float else "double", ctypes.sizeof(ctype)))
        if ctype is ctypes.c_void_p:
            return self.add(Pointer(0, "", 0))
        if issubclass(ctype, ctypes.Array):
            elem = self.add_ctype(ctype._type_)  # type: ignore[arg-type]  # typeshed: a class attribute
            index = self.add_ctype(ctypes.c_uint32)
            return self.add(Array(0, "", elem, index, ctype._length_))  # type: ignore[arg-type]
        if issubclass(ctype, ctypes._Pointer):
            pointer_id = len(self._records) + 1
            self._ctype_ids[ctype] = pointer_id  # a struct pointing to itself
            self._records.append(self._record(Pointer(0, "", 0)))
            target = self.add_ctype(ctype._type_)
            self._records[pointer_id - 1] = self._record(Pointer(0, "", target))
            return pointer_id
        if issubclass(ctype, (ctypes.Structure, ctypes.Union)):
            return self._add_ctypes_composite(ctype)
        raise TypeError(f"no BTF equivalent for ctypes type {ctype.__name__}")

    def _add_ctypes_composite(self, ctype: type[ctypes.Structure] | type[ctypes.Union]) -> int:
        composite_id = len(self._records) + 1
        self._ctype_ids[ctype] = composite_id
        self._records.append(self._record(Struct(0, ctype.__name__, ctypes.sizeof(ctype))))  # placeholder
        members = []
        for entry in ctype._fields_:
            name, field_type = entry[0], entry[1]
            descriptor = getattr(ctype, name)
            bitfield = entry[2] if len(entry) > 2 else 0
            # ctypes packs a bitfield's size and bit position into CField.size
            bit_in_unit = descriptor.size & 0xFFFF if bitfield else 0
            members.append(
                Member(name, self.add_ctype(field_type), 8 * descriptor.offset + bit_in_unit, bitfield)
            )
        cls = Union if issubclass(ctype, ctypes.Union) else Struct
        composite = cls(
            0, ctype.__name__, ctypes.sizeof(ctype), tuple(members), any(m.bitfield_size for m in members)
        )
        self._records[composite_id - 1] = self._record(composite)
        return composite_id

    # ------------------------------------------------------------ records

    def _record(self, t: Type) -> s.BtfTypeRecord:
        name = self.strings.add(t.name)

        def record(
            kind: int, size_or_type: int, trailer: s.Trailer = None, vlen: int = 0, flag: bool = False
        ) -> s.BtfTypeRecord:
            if vlen > 0xFFFF:
                raise ValueError(f"{t.kind.name} {t.name!r}: {vlen} entries, BTF allows 65535")
            return s.BtfTypeRecord(name, make_info(kind, vlen, flag), size_or_type, trailer)

        if isinstance(t, Void):
            raise TypeError("void is type id 0 and is never encoded")
        if isinstance(t, Int):
            return record(
                k.KIND_INT, t.size, (int(t.encoding) << 24) | (t.offset << 16) | (t.bits or 8 * t.size)
            )
        if isinstance(t, Array):
            return record(k.KIND_ARRAY, 0, s.BtfArray(t.type_id, t.index_type_id, t.nelems))
        if isinstance(t, Composite):
            flag = t.kind_flag or any(m.bitfield_size for m in t.members)
            members = []
            for m in t.members:
                if flag and (m.bit_offset >= 1 << 24 or m.bitfield_size > 0xFF):
                    raise ValueError(
                        f"{t.name!r}.{m.name}: bit offset/size do not fit the kind_flag encoding"
                    )
                offset = (m.bitfield_size << 24) | m.bit_offset if flag else m.bit_offset
                members.append(s.BtfMember(self.strings.add(m.name), m.type_id, offset))
            kind = k.KIND_STRUCT if isinstance(t, Struct) else k.KIND_UNION
            return record(kind, t.size, members, len(members), flag)
        if isinstance(t, Enum64):
            values64 = [
                s.BtfEnum64(
                    self.strings.add(v.name),
                    (v.value & 0xFFFFFFFFFFFFFFFF) & 0xFFFFFFFF,
                    (v.value & 0xFFFFFFFFFFFFFFFF) >> 32,
                )
                for v in t.values
            ]
            return record(k.KIND_ENUM64, t.size, values64, len(values64), t.signed)
        if isinstance(t, Enum):
            values = [s.BtfEnum(self.strings.add(v.name), v.value & 0xFFFFFFFF) for v in t.values]
            return record(k.KIND_ENUM, t.size, values, len(values), t.signed)
        if isinstance(t, Fwd):
            return record(k.KIND_FWD, 0, flag=t.union)
        if isinstance(t, Func):
            return record(k.KIND_FUNC, t.type_id, vlen=int(t.linkage))  # FUNC keeps its linkage in vlen
        if isinstance(t, FuncProto):
            params = [s.BtfParam(self.strings.add(p.name), p.type_id) for p in t.params]
            return record(k.KIND_FUNC_PROTO, t.return_type_id, params, len(params))
        if isinstance(t, Var):
            return record(k.KIND_VAR, t.type_id, int(t.linkage))
        if isinstance(t, Datasec):
            entries = [s.BtfVarSecinfo(v.type_id, v.offset, v.size) for v in t.vars]
            return record(k.KIND_DATASEC, t.size, entries, len(entries))
        if isinstance(t, Float):
            return record(k.KIND_FLOAT, t.size)
        if isinstance(t, DeclTag):
            return record(k.KIND_DECL_TAG, t.type_id, t.component_idx, flag=t.attribute)
        if isinstance(t, TypeTag):
            return record(k.KIND_TYPE_TAG, t.type_id, flag=t.attribute)
        if isinstance(t, (Pointer, Typedef, Volatile, Const, Restrict)):
            return record(int(t.kind), t.type_id)
        raise TypeError(f"not an encodable BTF type: {t!r}")


_CTYPE_INTS: dict[type, tuple[str, bool]] = {
    ctypes.c_int8: ("signed char", True),
    ctypes.c_uint8: ("unsigned char", False),
    ctypes.c_int16: ("short", True),
    ctypes.c_uint16: ("unsigned short", False),
    ctypes.c_int32: ("int", True),
    ctypes.c_uint32: ("unsigned int", False),
    ctypes.c_int64: ("long long", True),
    ctypes.c_uint64: ("unsigned long long", False),
    ctypes.c_bool: ("_Bool", False),
    ctypes.c_char: ("char", True),
}


def _references(t: Type) -> list[int]:
    """The type ids ``t`` refers to, in record order."""
    if isinstance(t, Array):
        return [t.type_id, t.index_type_id]
    if isinstance(t, Composite):
        return [m.type_id for m in t.members]
    if isinstance(t, FuncProto):
        return [t.return_type_id, *(p.type_id for p in t.params)]
    if isinstance(t, Datasec):
        return [v.type_id for v in t.vars]
    if isinstance(t, _Ref):
        return [t.type_id]
    return []


def _remap(t: Type, ids: dict[int, int]) -> Type:
    """``t`` with every referenced id replaced through ``ids``."""
    if isinstance(t, Array):
        return replace(t, type_id=ids[t.type_id], index_type_id=ids[t.index_type_id])
    if isinstance(t, Composite):
        return replace(t, members=tuple(replace(m, type_id=ids[m.type_id]) for m in t.members))
    if isinstance(t, FuncProto):
        params = tuple(replace(p, type_id=ids[p.type_id]) for p in t.params)
        return replace(t, return_type_id=ids[t.return_type_id], params=params)
    if isinstance(t, Datasec):
        return replace(t, vars=tuple(VarSecinfo(ids[v.type_id], v.offset, v.size) for v in t.vars))
    if isinstance(t, _Ref):
        return replace(t, type_id=ids[t.type_id])
    return t
