"""Type records read from their words, for the C dump: names, sizes, alignments and checks.

The C header of a vmlinux writes ~30k types; decoding each into dataclasses
(a `Member` per member) cost more than writing it. `Records` reads what
the dumper needs straight from the type tables' 32-bit words, with the
answers of `TypeGraph.size_of` and `TypeGraph.align_of` (the tests compare
both on real files).
"""

from __future__ import annotations

from collections.abc import Sequence

from ebpf.syscall.errors import ParseError

from . import _layout as s
from ._decode import TypeTable
from ._graph import MAX_RESOLVE_DEPTH, TypeGraph

__all__ = ["KIND_VOID", "Records", "reference_span"]

#: the kind number the dumper uses for type id 0 (BTF's kind 0 is never a record's)
KIND_VOID = 0

#: kinds that `TypeGraph.resolve` strips
_QUALIFIERS = frozenset((s.KIND_TYPEDEF, s.KIND_CONST, s.KIND_VOLATILE, s.KIND_RESTRICT, s.KIND_TYPE_TAG))
#: kinds whose size is the record's ``size`` word
_SIZED = frozenset(
    (s.KIND_INT, s.KIND_STRUCT, s.KIND_UNION, s.KIND_ENUM, s.KIND_ENUM64, s.KIND_DATASEC, s.KIND_FLOAT)
)
#: words between the names of a record's members, parameters or enumerators, by kind
_NAME_STEPS = {
    s.KIND_STRUCT: 3,
    s.KIND_UNION: 3,
    s.KIND_FUNC_PROTO: 2,
    s.KIND_ENUM: 2,
    s.KIND_ENUM64: 3,
}
#: kinds whose record refers to one type (in its ``size_or_type`` word)
_REFERS_ONCE = frozenset(
    (
        s.KIND_PTR,
        s.KIND_CONST,
        s.KIND_VOLATILE,
        s.KIND_RESTRICT,
        s.KIND_TYPE_TAG,
        s.KIND_TYPEDEF,
        s.KIND_FUNC,
        s.KIND_VAR,
        s.KIND_DECL_TAG,
    )
)
#: kinds aligned on their size (at most a pointer's)
_SCALARS = frozenset((s.KIND_INT, s.KIND_ENUM, s.KIND_ENUM64, s.KIND_FLOAT))


class Records:
    """The records of a graph's types (a split blob's base included), read from their words."""

    def __init__(self, graph: TypeGraph) -> None:
        self.graph = graph
        self.own = graph._table
        self.own_words = self.own.words
        self.own_offsets = self.own.offsets
        self.first_id = self.own.first_id
        self.last_id = self.own.last_id
        self.pointer_size = graph.pointer_size
        #: alignment of each type asked (successful answers only), by id
        self.aligns: dict[int, int] = {}
        #: types whose record is checked (`check`)
        self.checked: set[int] = set()
        #: whether every id the own records refer to is known to be in range (then
        #: `check` looks at their names only)
        self.own_refs_checked = False
        #: what `check` reads of a record, by its ``info`` word (a vmlinux has a few hundred)
        self._spans: dict[int, tuple[int, int, int, int, int]] = {}

    def record(self, type_id: int) -> tuple[TypeTable, Sequence[int], int]:
        """The table holding ``type_id``, its words and the word offset of its record.

        Raises:
            ParseError: no such type id (0, ``void``, has no record).
        """
        if self.first_id <= type_id <= self.last_id:
            return self.own, self.own_words, self.own_offsets[type_id - self.first_id]
        table: TypeTable | None = self.own.base
        while table is not None and type_id < table.first_id:
            table = table.base
        if table is None or not 0 < type_id <= table.last_id:
            raise ParseError(f"{self.graph.name}: no type id {type_id}")
        return table, table.words, table.offsets[type_id - table.first_id]

    def check(self, type_id: int, table: TypeTable, words: Sequence[int], at: int) -> None:
        """Check a record written or followed as decoding it would: its string offsets and type ids.

        Its name, its members', parameters' or enumerators' names, and every
        id it refers to: also those the header does not print (an anonymous
        pointer's name, an array's index type), so that malformed BTF raises
        whatever the header needs of it.

        Raises:
            ParseError: an offset is outside the string section, or an id past the last.
        """
        info = words[at + 1]
        spans = self._spans.get(info)
        if spans is None:
            spans = self._spans[info] = _check_spans(info)
        start, stop, ref_step, names_stop, name_step = spans
        if table is not self.own or not self.own_refs_checked:
            refs = words[at + start : at + stop : ref_step]
            if refs and max(refs) > table.last_id:
                self.check_refs(table, refs, type_id)
        name_off = words[at]
        if not table.first_string <= name_off < table.first_string + len(table.strings):
            table.string(name_off, f"type id {type_id}")  # (the base's strings, for split BTF, or bad)
        if names_stop:
            offsets = words[at + 3 : at + names_stop : name_step]
            if max(offsets) >= table.first_string + len(table.strings) or min(offsets) < table.first_string:
                for offset in offsets:
                    table.string(offset, f"type id {type_id}")
        self.checked.add(type_id)

    def check_refs(self, table: TypeTable, refs: Sequence[int], type_id: int) -> None:
        """Check the ids a record refers to.

        Raises:
            ParseError: one is past the table's last id.
        """
        for ref in refs:
            table._checked_ref(ref, f"type id {type_id}")

    def kind(self, type_id: int) -> int:
        """The kind number of ``type_id`` (`KIND_VOID` for 0).

        Raises:
            ParseError: no such type id.
        """
        if type_id == 0:
            return KIND_VOID
        _, words, at = self.record(type_id)
        return s.info_kind(words[at + 1])

    def name(self, type_id: int) -> str:
        """The record's name ("" for anonymous types and ``void``).

        Raises:
            ParseError: no such type id, or its name offset is out of range.
        """
        if type_id == 0:
            return ""
        table, words, at = self.record(type_id)
        text = table._names.get(words[at])  # (cached: no message built for the common case)
        return text if text is not None else table.string(words[at], f"type id {type_id}")

    def _resolve(self, type_id: int) -> tuple[int, Sequence[int], int]:
        """``type_id`` through typedefs and qualifiers: (id, words, record offset); words empty for void.

        Raises:
            ParseError: the chain is cyclic or too deep, or refers to no type.
        """
        for _ in range(MAX_RESOLVE_DEPTH):
            if type_id == 0:
                return 0, (), 0
            _, words, at = self.record(type_id)
            if (words[at + 1] >> 24) & 0x1F not in _QUALIFIERS:
                return type_id, words, at
            type_id = words[at + 2]
        raise ParseError(
            f"{self.graph.name}: type id {type_id}: typedef/qualifier chain is cyclic or too deep"
        )

    def size_of(self, type_id: int) -> int:
        """`TypeGraph.size_of` of ``type_id``.

        Raises:
            ValueError: the type has no size.
            ParseError: the chain is cyclic or the size overflows 32 bits.
        """
        factor = 1
        for _ in range(MAX_RESOLVE_DEPTH):
            type_id, words, at = self._resolve(type_id)
            if type_id == 0:
                break
            kind = s.info_kind(words[at + 1])
            if kind == s.KIND_ARRAY:
                factor *= words[at + 5]
                if factor > 0xFFFFFFFF:
                    raise ParseError(f"{self.graph.name}: type id {type_id}: array size overflows 32 bits")
                type_id = words[at + 3]
                continue
            if kind == s.KIND_PTR:
                return factor * self.pointer_size
            if kind in _SIZED:
                size = factor * words[at + 2]
                if size > 0xFFFFFFFF:
                    raise ParseError(f"{self.graph.name}: type id {type_id}: size overflows 32 bits")
                return size
            if kind == s.KIND_VAR:
                type_id = words[at + 2]
                continue
            break
        else:
            raise ParseError(f"{self.graph.name}: type id {type_id}: array chain is cyclic or too deep")
        raise ValueError(f"{self.graph.name}: type id {type_id} has no size")

    def align_of(self, type_id: int, depth: int = 0) -> int:
        """`TypeGraph.align_of` of ``type_id``.

        Raises:
            ValueError: the type has no alignment.
            ParseError: the types nest cyclically or too deep.
        """
        if depth > MAX_RESOLVE_DEPTH:
            raise ParseError(f"{self.graph.name}: type {type_id}: nesting is cyclic or too deep to align")
        known = self.aligns.get(type_id)
        if known is not None:
            return known
        resolved, words, at = self._resolve(type_id)
        align = self.aligns.get(resolved)
        if align is None:
            align = self._align_resolved(resolved, words, at, depth)
            self.aligns[resolved] = align
        self.aligns[type_id] = align
        return align

    def _align_resolved(self, type_id: int, words: Sequence[int], at: int, depth: int) -> int:
        kind = s.info_kind(words[at + 1]) if type_id else KIND_VOID
        if kind in _SCALARS:
            return max(1, min(words[at + 2], self.pointer_size))
        if kind == s.KIND_PTR:
            return self.pointer_size
        if kind == s.KIND_ARRAY:
            return self.align_of(words[at + 3], depth + 1)
        if kind in (s.KIND_STRUCT, s.KIND_UNION):
            info = words[at + 1]
            end = at + 3 + 3 * s.info_vlen(info)
            bitfields = info >> 31
            align = 1
            for member_type, offset in zip(words[at + 4 : end : 3], words[at + 5 : end : 3], strict=True):
                member_align = self.align_of(member_type, depth + 1)
                if bitfields:
                    if not offset >> 24 and (offset & 0xFFFFFF) % (8 * member_align):
                        return 1  # a member off its natural alignment: the struct is packed
                elif offset % (8 * member_align):
                    return 1
                align = max(align, member_align)
            if words[at + 2] % align:
                return 1
            return align
        raise ValueError(f"{self.graph.name}: type id {type_id} has no alignment")


def _check_spans(info: int) -> tuple[int, int, int, int, int]:
    """(start, stop, step) of the ids in a record with this ``info``, then (stop, step) of its other names.

    The other names (members', parameters', enumerators') start at word 3; a stop of 0: none.
    """
    step = _NAME_STEPS.get(s.info_kind(info))
    vlen = s.info_vlen(info)
    names = (3 + step * vlen, step) if step is not None and vlen else (0, 1)
    return (*reference_span(info), *names)


def reference_span(info: int) -> tuple[int, int, int]:
    """(start, stop, step): the words of a record with this ``info`` word that hold type ids."""
    kind, vlen = s.info_kind(info), s.info_vlen(info)
    if kind in (s.KIND_STRUCT, s.KIND_UNION):
        return 4, 3 + 3 * vlen, 3  # each member's type
    if kind == s.KIND_FUNC_PROTO:
        return 2, 3 + 2 * vlen, 2  # the return type, then each parameter's
    if kind == s.KIND_ARRAY:
        return 3, 5, 1  # the element and index types
    if kind == s.KIND_DATASEC:
        return 3, 3 + 3 * vlen, 3  # each variable
    if kind in _REFERS_ONCE:
        return 2, 3, 1
    return 0, 0, 1  # INT, ENUM, FWD, FLOAT: none
