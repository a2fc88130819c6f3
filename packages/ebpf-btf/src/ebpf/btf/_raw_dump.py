"""The ``bpftool btf dump ... format raw`` listing of a type graph."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ebpf.syscall.abi import BTF_KINDS

from . import _layout as s
from ._decode import TypeTable
from ._graph import TypeGraph
from ._types import (
    Array,
    Composite,
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
    Type,
    Var,
    VarLinkage,
    _Ref,
)

__all__ = ["dump_raw", "raw_lines"]

_INT_ENCODING = {
    0: "(none)",
    IntEncoding.SIGNED: "SIGNED",
    IntEncoding.CHAR: "CHAR",
    IntEncoding.BOOL: "BOOL",
}
_VAR_LINKAGE = {
    VarLinkage.STATIC: "static",
    VarLinkage.GLOBAL_ALLOCATED: "global",
    VarLinkage.GLOBAL_EXTERN: "extern",
}


def _name(name: str) -> str:
    return name or "(anon)"


#: Kinds whose record is one reference, printed ``type_id=N``, by kind number.
_REF_KINDS = {
    BTF_KINDS[name]: name for name in ("PTR", "TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG")
}
_FUNC_LINKAGE = ("static", "global", "extern")


def raw_lines(graph: TypeGraph) -> list[str]:
    """One string per type (with its members on following lines), as bpftool prints them.

    The kinds that make most of a kernel's records (functions, prototypes,
    references, structs, unions, arrays, enums) are formatted straight from
    their words in one loop, the others from their decoded type: building a
    ``Member`` per line costs more than the line. The two agree (tests/btf
    compares the listing of real files both ways), and the words are checked
    as decoding checks them.

    Raises:
        ParseError: a record of the graph is malformed.
    """
    table = graph._table
    table.cache_strings()  # every name is printed: decoded in one pass
    w, get, last = table.words, table._names.get, table.last_id
    checked = _Checks(table)
    name, ref, named_ids = checked.name, checked.ref, checked.named_ids
    out: list[str] = []
    append = out.append
    FUNC, FUNC_PROTO, STRUCT, UNION = s.KIND_FUNC, s.KIND_FUNC_PROTO, s.KIND_STRUCT, s.KIND_UNION  # noqa: N806
    ARRAY, ENUM, ENUM64 = s.KIND_ARRAY, s.KIND_ENUM, s.KIND_ENUM64  # noqa: N806
    # One pass, the most common kinds first (a vmlinux: 56k FUNC, 29k FUNC_PROTO,
    # 22k references, 13k structs and unions). Names are looked up in the string
    # cache (the offsets of whole strings); anything else goes through `_Checks`.
    offsets = table.offsets
    # the names of all records, looked up at once (None: not a cached whole string)
    labels = list(map(get, map(w.__getitem__, offsets)))
    for type_id, at, cached in zip(itertools.count(table.first_id), offsets, labels):
        info = w[at + 1]
        kind = (info >> 24) & 0x1F  # s.info_kind, inline: this runs once per record
        vlen = info & 0xFFFF  # s.info_vlen
        label = cached if cached is not None else name(w[at], type_id)
        if kind == FUNC and vlen < 3:  # a bad linkage is decoding's to report
            target = w[at + 2]
            if target > last:
                ref(target, type_id)
            append(f"[{type_id}] FUNC '{label or '(anon)'}' type_id={target} linkage={_FUNC_LINKAGE[vlen]}")
        elif kind == FUNC_PROTO:
            target = w[at + 2]
            if target > last:
                ref(target, type_id)
            names, params = named_ids(w, at + 3, at + 3 + 2 * vlen, 2, type_id, "parameter")
            append(
                f"[{type_id}] FUNC_PROTO '{label or '(anon)'}' ret_type_id={target} vlen={vlen}"
                + "".join([f"\n\t'{n or '(anon)'}' type_id={p}" for n, p in zip(names, params, strict=True)])
            )
        elif kind in _REF_KINDS:
            target = w[at + 2]
            if target > last:
                ref(target, type_id)
            append(f"[{type_id}] {_REF_KINDS[kind]} '{label or '(anon)'}' type_id={target}")
        elif kind in (STRUCT, UNION):
            end = at + 3 + 3 * vlen
            names, member_types = named_ids(w, at + 3, end, 3, type_id, "member")
            bit_offsets = w[at + 5 : end : 3]
            head = f"[{type_id}] {'UNION' if kind == UNION else 'STRUCT'} "
            head += f"'{label or '(anon)'}' size={w[at + 2]} vlen={vlen}"
            if not info >> 31:
                lines = [
                    f"\n\t'{n or '(anon)'}' type_id={t} bits_offset={o}"
                    for n, t, o in zip(names, member_types, bit_offsets, strict=True)
                ]
            else:  # BTF_MEMBER_BITFIELD_SIZE / BTF_MEMBER_BIT_OFFSET in each offset
                lines = [
                    f"\n\t'{n or '(anon)'}' type_id={t} bits_offset={o & 0xFFFFFF} bitfield_size={o >> 24}"
                    if o >> 24
                    else f"\n\t'{n or '(anon)'}' type_id={t} bits_offset={o}"
                    for n, t, o in zip(names, member_types, bit_offsets, strict=True)
                ]
            append(head + "".join(lines))
        elif kind == ARRAY:
            elem, index = w[at + 3], w[at + 4]
            if elem > last or index > last:
                ref(elem, type_id)
                ref(index, type_id)
            append(
                f"[{type_id}] ARRAY '{label or '(anon)'}' type_id={elem} index_type_id={index} "
                f"nr_elems={w[at + 5]}"
            )
        elif kind in (ENUM, ENUM64):
            append(_enum_entry(w, at, type_id, label, checked))
        else:
            append(format_type(graph[type_id], graph))
    return out


def _enum_entry(w: Sequence[int], at: int, type_id: int, label: str, checked: _Checks) -> str:
    """An ENUM's or ENUM64's entry, read from its words (values as decoding gives them)."""
    info = w[at + 1]
    vlen, signed = info & 0xFFFF, info >> 31
    if (info >> 24) & 0x1F == s.KIND_ENUM:
        step, kind_name, suffix = 2, "ENUM", ""
        values = [v - (1 << 32) if signed and v >= 1 << 31 else v for v in w[at + 4 : at + 3 + 2 * vlen : 2]]
    else:  # bpftool prints ENUM64 values as C literals: 1ULL, -1LL
        step, kind_name, suffix = 3, "ENUM64", "LL" if signed else "ULL"
        values = []
        end = at + 3 + 3 * vlen
        for low, high in zip(w[at + 4 : end : 3], w[at + 5 : end : 3], strict=True):
            value = low | (high << 32)
            values.append(value - (1 << 64) if signed and value >= 1 << 63 else value)
    labels = checked.names(w[at + 3 : at + 3 + step * vlen : step], type_id, "enumerator")
    head = f"[{type_id}] {kind_name} '{label or '(anon)'}' encoding={'SIGNED' if signed else 'UNSIGNED'}"
    head += f" size={w[at + 2]} vlen={vlen}"
    lines = [f"\n\t'{n or '(anon)'}' val={v}{suffix}" for n, v in zip(labels, values, strict=True)]
    return head + "".join(lines)


class _Checks:
    """Names and ids of a type table's records, checked as decoding checks them."""

    def __init__(self, table: TypeTable) -> None:
        self.table = table
        self.get = table._names.get

    def name(self, offset: int, type_id: int, part: str = "") -> str:
        """The string at ``offset``.

        Raises:
            ParseError: the offset is outside the string section.
        """
        return self.table.string(offset, f"type id {type_id}{part}")

    def names(self, offsets: Sequence[int], type_id: int, part: str = "") -> list[str]:
        """The strings at ``offsets`` (of members, parameters or enumerators), looked up at once.

        Raises:
            ParseError: one is outside the string section.
        """
        found = list(map(self.get, offsets))
        if None in found:  # not a cached whole string: the base's, a string's tail, or bad
            found = [
                self.name(offset, type_id, f" {part} {i}" if part else "") for i, offset in enumerate(offsets)
            ]
        return found  # type: ignore[return-value]  # (no None left)

    def named_ids(
        self, w: Sequence[int], first: int, end: int, step: int, type_id: int, part: str
    ) -> tuple[list[str], Sequence[int]]:
        """The names and type ids of a record's members or parameters: words ``first`` to ``end``,
        one ``(name_off, type, ...)`` group every ``step`` words.

        Raises:
            ParseError: a name offset outside the string section, or an id past the last.
        """
        ids = w[first + 1 : end : step]
        names = self.names(w[first:end:step], type_id)
        if ids and max(ids) > self.table.last_id:
            self.refs(ids, type_id, part)
        return names, ids

    def ref(self, ref: int, type_id: int, part: str = "") -> int:
        """``ref``, checked to be a type id of the table.

        Raises:
            ParseError: it is past the last id.
        """
        return self.table._checked_ref(ref, f"type id {type_id}{part}")

    def refs(self, refs: Sequence[int], type_id: int, part: str) -> None:
        """Check every id of ``refs`` (members' or parameters' types).

        Raises:
            ParseError: one is past the last id (the message names the first such).
        """
        for i, ref in enumerate(refs):
            self.ref(ref, type_id, f" {part} {i}")


def dump_raw(graph: TypeGraph) -> str:
    """The whole ``format raw`` listing of this graph's own types, newline-terminated."""
    lines = raw_lines(graph)
    lines.append("")
    return "\n".join(lines)


def format_type(t: Type, graph: TypeGraph) -> str:
    """One type's entry of the raw listing (the lines of its members included)."""
    head = f"[{t.id}] {t.kind.name} '{_name(t.name)}'"
    if isinstance(t, Int):
        encoding = _INT_ENCODING.get(int(t.encoding), "UNKN")
        return f"{head} size={t.size} bits_offset={t.offset} nr_bits={t.bits} encoding={encoding}"
    if isinstance(t, Array):
        return f"{head} type_id={t.type_id} index_type_id={t.index_type_id} nr_elems={t.nelems}"
    if isinstance(t, Composite):
        lines = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            line = f"\t'{_name(m.name)}' type_id={m.type_id} bits_offset={m.bit_offset}"
            if m.bitfield_size:
                line += f" bitfield_size={m.bitfield_size}"
            lines.append(line)
        return "\n".join(lines)
    if isinstance(t, Enum):
        encoding = "SIGNED" if t.signed else "UNSIGNED"
        lines = [f"{head} encoding={encoding} size={t.size} vlen={len(t.values)}"]
        # bpftool prints ENUM64 values as C literals: 1ULL, -1LL
        suffix = ("LL" if t.signed else "ULL") if isinstance(t, Enum64) else ""
        lines.extend(f"\t'{_name(v.name)}' val={v.value}{suffix}" for v in t.values)
        return "\n".join(lines)
    if isinstance(t, Fwd):
        return f"{head} fwd_kind={'union' if t.union else 'struct'}"
    if isinstance(t, Func):
        return f"{head} type_id={t.type_id} linkage={t.linkage.name.lower()}"
    if isinstance(t, FuncProto):
        lines = [f"{head} ret_type_id={t.return_type_id} vlen={len(t.params)}"]
        lines.extend(f"\t'{_name(p.name)}' type_id={p.type_id}" for p in t.params)
        return "\n".join(lines)
    if isinstance(t, Var):
        return f"{head} type_id={t.type_id}, linkage={_VAR_LINKAGE[t.linkage]}"
    if isinstance(t, Datasec):
        lines = [f"{head} size={t.size} vlen={len(t.vars)}"]
        for v in t.vars:
            target = graph[v.type_id]
            described = f"{target.kind.name} '{_name(target.name)}'"
            lines.append(f"\ttype_id={v.type_id} offset={v.offset} size={v.size} ({described})")
        return "\n".join(lines)
    if isinstance(t, Float):
        return f"{head} size={t.size}"
    if isinstance(t, DeclTag):
        return f"{head} type_id={t.type_id} component_idx={t.component_idx}"
    if isinstance(t, _Ref):  # PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
        return f"{head} type_id={t.type_id}"
    return head
