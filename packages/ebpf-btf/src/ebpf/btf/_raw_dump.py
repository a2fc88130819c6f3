"""The ``bpftool btf dump ... format raw`` listing of a type graph."""

from __future__ import annotations

from collections.abc import Iterator

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


def raw_lines(graph: TypeGraph) -> Iterator[str]:
    """One string per type (with its members on following lines), as bpftool prints them.

    Raises:
        ParseError: a record of the graph is malformed.
    """
    for t in graph:
        yield format_type(t, graph)


def dump_raw(graph: TypeGraph) -> str:
    """The whole ``format raw`` listing of this graph's own types, newline-terminated."""
    return "".join(line + "\n" for line in raw_lines(graph))


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
