"""The ``bpftool btf dump ... format raw`` listing of a type graph."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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


def raw_lines(graph: TypeGraph) -> Iterator[str]:
    """One string per type (with its members on following lines), as bpftool prints them.

    The kinds that make most of a kernel's records (structs, unions, function prototypes,
    functions, pointers and the other references, arrays) are formatted straight from
    their words (``_WordsReader``), the others from their decoded type: building a
    ``Member`` per line costs more than the line. The two agree (tests/btf compares the
    listing of real files both ways).

    Raises:
        ParseError: a record of the graph is malformed.
    """
    table = graph._table
    table.cache_strings()  # every name is printed: decoded in one pass
    entry = _WordsReader(table).entry
    for type_id, at in enumerate(table.offsets, table.first_id):
        text = entry(type_id, at)
        yield text if text is not None else format_type(graph[type_id], graph)


class _WordsReader:
    """Raw entries read from a type table's words, with decoding's checks and messages."""

    def __init__(self, table: TypeTable) -> None:
        self.table = table
        self.words = table.words
        self.names = table._names
        self.first_string = table.first_string
        self.last = table.last_id

    def name(self, offset: int, type_id: int) -> str:
        """The name at string ``offset``, ``(anon)`` for none.

        Raises:
            ParseError: the offset is outside the string section.
        """
        text = self.names.get(offset) if offset >= self.first_string else None
        if text is None:
            text = self.table.string(offset, f"type id {type_id}")
        return text or "(anon)"

    def ref(self, ref: int, type_id: int, part: str = "") -> int:
        """``ref``, checked to be a type id of the table.

        Raises:
            ParseError: it is past the last id.
        """
        return ref if ref <= self.last else self.table._checked_ref(ref, f"type id {type_id}{part}")

    def check_refs(self, refs: Sequence[int], type_id: int, part: str) -> None:
        """Check every id of ``refs`` (members' or parameters' types) at once.

        Raises:
            ParseError: one is past the last id (the message names the first such).
        """
        if refs and max(refs) > self.last:
            for i, ref in enumerate(refs):
                self.ref(ref, type_id, f" {part} {i}")

    def entry(self, type_id: int, at: int) -> str | None:
        """The raw entry of the record of ``type_id`` at word ``at``, or None for a kind read decoded.

        Raises:
            ParseError: a string offset or a referenced type id is out of range.
        """
        w = self.words
        info = w[at + 1]
        kind = (info >> 24) & 0x1F  # s.info_kind, inline: this runs once per record
        name, ref = self.name, self.ref
        if kind in _REF_KINDS:
            return (
                f"[{type_id}] {_REF_KINDS[kind]} '{name(w[at], type_id)}' type_id={ref(w[at + 2], type_id)}"
            )
        vlen = info & 0xFFFF  # s.info_vlen
        if kind == s.KIND_FUNC and vlen < len(_FUNC_LINKAGE):  # a bad linkage is decoding's to report
            target = ref(w[at + 2], type_id)
            return f"[{type_id}] FUNC '{name(w[at], type_id)}' type_id={target} linkage={_FUNC_LINKAGE[vlen]}"
        if kind == s.KIND_ARRAY:
            elem, index = ref(w[at + 3], type_id), ref(w[at + 4], type_id)
            head = f"[{type_id}] ARRAY '{name(w[at], type_id)}'"
            return f"{head} type_id={elem} index_type_id={index} nr_elems={w[at + 5]}"
        get, first_string = self.names.get, self.first_string
        if kind == s.KIND_FUNC_PROTO:
            ret = ref(w[at + 2], type_id)
            end = at + 3 + 2 * vlen
            param_types = w[at + 4 : end : 2]
            self.check_refs(param_types, type_id, "parameter")
            lines = [f"[{type_id}] FUNC_PROTO '{name(w[at], type_id)}' ret_type_id={ret} vlen={vlen}"]
            for name_off, param in zip(w[at + 3 : end : 2], param_types, strict=True):
                text = get(name_off) if name_off >= first_string else None
                if text is None:
                    text = name(name_off, type_id)
                lines.append(f"\t'{text or '(anon)'}' type_id={param}")
            return "\n".join(lines)
        if kind not in (s.KIND_STRUCT, s.KIND_UNION):
            return None
        kind_name = "STRUCT" if kind == s.KIND_STRUCT else "UNION"
        end = at + 3 + 3 * vlen
        member_types = w[at + 4 : end : 3]
        self.check_refs(member_types, type_id, "member")
        lines = [f"[{type_id}] {kind_name} '{name(w[at], type_id)}' size={w[at + 2]} vlen={vlen}"]
        bitfields = info >> 31  # BTF_MEMBER_BITFIELD_SIZE / BTF_MEMBER_BIT_OFFSET in each offset
        for name_off, m_type, m_off in zip(
            w[at + 3 : end : 3], member_types, w[at + 5 : end : 3], strict=True
        ):
            text = get(name_off) if name_off >= first_string else None
            if text is None:
                text = name(name_off, type_id)
            if not bitfields:
                lines.append(f"\t'{text or '(anon)'}' type_id={m_type} bits_offset={m_off}")
            elif m_off >> 24:
                lines.append(
                    f"\t'{text or '(anon)'}' type_id={m_type} "
                    f"bits_offset={m_off & 0xFFFFFF} bitfield_size={m_off >> 24}"
                )
            else:
                lines.append(f"\t'{text or '(anon)'}' type_id={m_type} bits_offset={m_off & 0xFFFFFF}")
        return "\n".join(lines)


def dump_raw(graph: TypeGraph) -> str:
    """The whole ``format raw`` listing of this graph's own types, newline-terminated."""
    lines = list(raw_lines(graph))
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
