"""C output: a header like ``bpftool btf dump file ... format c`` (``vmlinux.h``).

This follows libbpf's ``btf_dump.c``, which decides what clang needs:

- *ordering*: a type is defined after every type it embeds by value; a
  struct reached only through a pointer needs only a forward declaration
  (``struct foo;``), which also breaks the cycles of self-referencing
  structs. Typedefs count as definitions and as forward declarations.
- anonymous structs, unions and enums are written inline where they are used;
  an anonymous enum nothing refers to is written on its own (its values are
  the point).
- member offsets are reproduced with explicit padding (``long: 0;``,
  ``int: 24;``) where natural alignment would not give them, bitfields with
  ``: N``, and ``__attribute__((packed))`` for structs whose members are not
  naturally aligned.
- different types with the same name (possible in vmlinux: static structs of
  different files) get ``___2``, ``___3`` suffixes, as do clashing enumerators.
"""

from __future__ import annotations

from collections.abc import Sequence

from ebpf.syscall.abi import BTF_KINDS
from ebpf.syscall.errors import ParseError

from . import _layout
from ._c_declarator import Declarator
from ._c_records import KIND_VOID, Records, reference_span
from ._decode import TypeTable
from ._graph import TypeGraph

__all__ = ["dump_c"]

_HEADER = """\
#ifndef {guard}
#define {guard}

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
_FOOTER = """\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* {guard} */
"""

#: deepest chain of embedded types followed before calling the graph cyclic
_MAX_DEPTH = 512
#: Kinds that declare nothing in C (functions, variables, sections, tags).
_DECLARE_NOTHING = frozenset(BTF_KINDS[k] for k in ("FUNC", "VAR", "DATASEC", "DECL_TAG"))

#: Kinds that are structs or unions.
_COMPOSITES = frozenset((_layout.KIND_STRUCT, _layout.KIND_UNION))
#: Kinds that qualify the type they refer to (declared with it, not on their own).
_MODIFIERS = frozenset(
    (_layout.KIND_VOLATILE, _layout.KIND_CONST, _layout.KIND_RESTRICT, _layout.KIND_TYPE_TAG)
)

#: stands for the declared name in a kept declarator (a BTF string cannot hold a NUL)
_NAME = "\0"

#: gaps wider than this (in bits) are padded with a char array rather than
#: unnamed bitfields (bpftool would print one ``long: 64;`` per 8 bytes)
_MAX_BITFIELD_PADDING = 8 * 4096

#: typedefs that clang defines itself and would reject a redefinition of
_BUILTIN_TYPEDEFS = frozenset({"__builtin_va_list"})


def dump_c(graph: TypeGraph, *, guard: str = "__VMLINUX_H__") -> str:
    """A C header defining every type of ``graph`` that C can express.

    Functions, variables, data sections and tags have no C type definition
    and are left out, as bpftool does.

    Raises:
        ParseError: the types are malformed or form a cycle C cannot express
            (a struct embedding itself by value).
    """
    return _CDumper(graph).dump(guard)


def _pad(level: int) -> str:
    return "\t" * level


class _CDumper:
    def __init__(self, graph: TypeGraph) -> None:
        self.graph = graph
        self.out: list[str] = []
        #: types ordered, and structs/unions being ordered (their members are)
        self.ordered: set[int] = set()
        self.ordering: set[int] = set()
        #: types written (nothing more to write for them), and types being written
        self.emitted: set[int] = set()
        self.emitting: set[int] = set()
        self.fwd_emitted: set[int] = set()
        self.queue: list[int] = []
        #: every type id a record refers to, and the anonymous enums and forwards queued
        self.referenced: set[int] = set()
        self.anonymous: set[int] = set()
        self.names: dict[int, str] = {}
        self.tag_counts: dict[str, int] = {}
        self.ident_counts: dict[str, int] = {}
        self.records = Records(graph)
        #: declarators without anonymous bodies, by type id: (text before, text after) a
        #: declared name, and abstract ones (no name declared)
        self.named_decls: dict[int, tuple[str, str]] = {}
        self.abstract_decls: dict[int, str] = {}
        self.sizes: dict[int, int] = {}

    # ------------------------------------------------------------ driver

    def dump(self, guard: str) -> str:
        table = self.graph._table
        table.cache_strings()  # most names are written: decoded in one pass
        words, ordered, note = table.words, self.ordered, self.referenced.update
        # One pass notes what every record refers to and orders the records. Where a
        # record's references lie depends only on its ``info`` word (a vmlinux has a
        # few hundred distinct ones): one slice per record.
        spans: dict[int, tuple[int, int, int]] = {}
        for type_id, at in enumerate(table.offsets, table.first_id):
            info = words[at + 1]
            span = spans.get(info)
            if span is None:
                span = spans[info] = reference_span(info)
            refs = words[at + span[0] : at + span[1] : span[2]]
            note(refs)
            if type_id in ordered:
                continue
            kind = (info >> 24) & 0x1F  # _layout.info_kind, inline: once per record
            # Functions, variables, sections and tags declare nothing: not even looked at.
            if kind in _DECLARE_NOTHING:
                continue
            # The most common record, a prototype, is not followed when what it refers to
            # (its return and parameter types: ``refs``) is ordered (then the call would
            # find nothing to do), in range and shallow.
            if kind == _layout.KIND_FUNC_PROTO and ordered.issuperset(refs):
                continue
            self._order_type(type_id, through_ptr=False, depth=0)
        # An anonymous enum is written on its own only when nothing refers to it, which
        # is known only now: those queued that something refers to are dropped.
        drop = self.anonymous & self.referenced
        # every id the blob's records refer to is in range: checking a record is checking its names
        self.records.own_refs_checked = not self.referenced or max(self.referenced) <= table.last_id
        for type_id in self.queue:
            if type_id not in drop:
                self._emit_type(type_id, 0, 0)
        return _HEADER.format(guard=guard) + "".join(self.out) + _FOOTER.format(guard=guard)

    # ---------------------------------------------------------- ordering

    def _order_type(self, type_id: int, through_ptr: bool, depth: int) -> bool:
        """Queue ``type_id`` after what it needs; True when it is a "strong" (by value) dependency.

        Read from the record's words: ordering decodes nothing (most function
        prototypes are never emitted), but checks every id it follows.

        Raises:
            ParseError: a reference out of range, a cycle C cannot express,
                or nesting deeper than ``_MAX_DEPTH``.
        """
        if depth > _MAX_DEPTH:
            raise ParseError(f"{self.graph.name}: type id {type_id}: types nest too deeply to order")
        ordered = self.ordered
        if type_id in ordered:
            return True
        if type_id == 0:
            ordered.add(type_id)
            return False
        table, words, at = self.records.record(type_id)
        info = words[at + 1]
        kind = (info >> 24) & 0x1F  # _layout.info_kind, inline (hot)
        if type_id in self.ordering:
            # a loop, fine when it goes through a pointer to a named struct
            if kind in _COMPOSITES and through_ptr and self._named(table, at, type_id):
                return False
            raise ParseError(f"{self.graph.name}: type id {type_id}: type cycle that C cannot express")
        deeper = depth + 1
        if kind in (_layout.KIND_INT, _layout.KIND_FLOAT):
            ordered.add(type_id)
            return False
        # A reference to an ordered type is not followed (the call would only say
        # "strong"), unless the call would report nesting too deep.
        shallow = deeper <= _MAX_DEPTH
        last = table.last_id
        if kind in _COMPOSITES:
            # embedded, or anonymous (defined inline even behind a pointer)
            named = self._named(table, at, type_id)
            if through_ptr and named:
                return False
            self.ordering.add(type_id)
            member_types = words[at + 4 : at + 3 + 3 * _layout.info_vlen(info) : 3]
            if member_types and max(member_types) > last:
                self.records.check_refs(table, member_types, type_id)
            for member_type in member_types:
                if member_type not in ordered:  # (the call would only say so)
                    self._order_type(member_type, False, deeper)
            if named:
                self.queue.append(type_id)
            self.ordering.discard(type_id)
            ordered.add(type_id)
            return True
        if kind == _layout.KIND_FUNC_PROTO:
            ids = words[at + 2 : at + 3 + 2 * _layout.info_vlen(info) : 2]  # return type, then parameters
            if max(ids) > last:
                self.records.check_refs(table, ids, type_id)
            strong = False
            for part in ids:
                # (ordered: strong, as the call would say; every part is ordered in turn)
                if (shallow and part in ordered) or self._order_type(part, through_ptr, deeper):
                    strong = True
            return strong
        if kind in (_layout.KIND_ENUM, _layout.KIND_ENUM64, _layout.KIND_FWD):
            # (an anonymous one is dropped from the queue if something refers to it)
            self.queue.append(type_id)
            if not self._named(table, at, type_id):
                self.anonymous.add(type_id)
            ordered.add(type_id)
            return True
        target = words[at + 3] if kind == _layout.KIND_ARRAY else words[at + 2]
        if target > last:
            self.records.check_refs(table, (target,), type_id)
        if kind == _layout.KIND_PTR:
            strong = (shallow and target in ordered) or self._order_type(target, True, deeper)
            ordered.add(type_id)
            return strong
        if kind == _layout.KIND_ARRAY:
            return (shallow and target in ordered) or self._order_type(target, False, deeper)
        if kind == _layout.KIND_TYPEDEF:
            strong = (shallow and target in ordered) or self._order_type(target, through_ptr, deeper)
            if through_ptr and not strong:
                return False
            self.queue.append(type_id)
            ordered.add(type_id)
            return True
        if kind in _MODIFIERS:
            return (shallow and target in ordered) or self._order_type(target, through_ptr, deeper)
        # FUNC, VAR, DATASEC, DECL_TAG: nothing to declare
        ordered.add(type_id)
        return False

    def _named(self, table: TypeTable, at: int, type_id: int) -> bool:
        """Whether the record at word ``at`` of ``table`` has a non-empty name.

        Raises:
            ParseError: its name offset is out of range.
        """
        name_off = table.words[at]
        if not name_off:
            return False
        text = table._names.get(name_off)
        return bool(text if text is not None else table.string(name_off, f"type id {type_id}"))

    # ---------------------------------------------------------- emitting
    #
    # Emitting reads the records' words too (`_c_records`): decoding the ~30k
    # types a vmlinux header writes into dataclasses cost more than writing them.
    # Kinds with checks of their own (INT, FLOAT, FUNC, VAR...) are decoded.

    def _emit_type(self, type_id: int, container: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ParseError(f"{self.graph.name}: type id {type_id}: types nest too deeply to emit")
        emitted = self.emitted
        if type_id in emitted:
            return
        if type_id == 0:  # void
            emitted.add(type_id)
            return
        table, words, at = self.records.record(type_id)
        if type_id not in self.records.checked:
            self.records.check(type_id, table, words, at)
        info = words[at + 1]
        kind = (info >> 24) & 0x1F  # _layout.info_kind, inline (hot)
        top_level = container == 0
        deeper = depth + 1
        # a type already emitted is not visited again (the call would only return),
        # unless the call would report nesting too deep
        shallow = deeper <= _MAX_DEPTH
        if type_id in self.emitting:
            # a cycle: a forward declaration lets the outer definition go on
            if type_id in self.fwd_emitted:
                return
            if kind in _COMPOSITES:
                if type_id == container or not self.records.name(type_id):
                    return
                self.out.append(self._composite_fwd(type_id, kind) + ";\n\n")
                self.fwd_emitted.add(type_id)
            elif kind == _layout.KIND_TYPEDEF:
                if self.records.name(type_id) not in _BUILTIN_TYPEDEFS:
                    self.out.append(self._typedef_def(type_id, words[at + 2]) + ";\n\n")
                self.fwd_emitted.add(type_id)
            return
        if kind in (_layout.KIND_ENUM, _layout.KIND_ENUM64):
            if top_level:
                self.out.append(self._enum_def(type_id, words, at, 0) + ";\n\n")
            emitted.add(type_id)
        elif kind in _MODIFIERS or kind in (_layout.KIND_PTR, _layout.KIND_ARRAY):
            target = words[at + 3] if kind == _layout.KIND_ARRAY else words[at + 2]
            if not shallow or target not in emitted:
                self._emit_type(target, container, deeper)
            if target in emitted or target in self.fwd_emitted:
                # nothing more can ever be written through this reference: a type reached
                # this way (not at the top level) whose forward declaration is written
                # writes nothing more (its definition is written at the top level only)
                emitted.add(type_id)
        elif kind == _layout.KIND_FWD:
            self.out.append(f"{'union' if info >> 31 else 'struct'} {self._tag_name(type_id)};\n\n")
            emitted.add(type_id)
        elif kind == _layout.KIND_TYPEDEF:
            self.emitting.add(type_id)
            if not shallow or words[at + 2] not in emitted:
                self._emit_type(words[at + 2], type_id, deeper)
            if type_id not in self.fwd_emitted and self.records.name(type_id) not in _BUILTIN_TYPEDEFS:
                self.out.append(self._typedef_def(type_id, words[at + 2]) + ";\n\n")
            self.emitting.discard(type_id)
            emitted.add(type_id)
        elif kind in _COMPOSITES:
            self.emitting.add(type_id)
            named = bool(self.records.name(type_id))
            if top_level or not named:
                inner = type_id if named else container
                for member_type in words[at + 4 : at + 3 + 3 * _layout.info_vlen(info) : 3]:
                    if not shallow or member_type not in emitted:
                        self._emit_type(member_type, inner, deeper)
            elif type_id not in self.fwd_emitted and type_id != container:
                self.out.append(self._composite_fwd(type_id, kind) + ";\n\n")
                self.fwd_emitted.add(type_id)
            if top_level:
                self.out.append(self._composite_def(type_id, words, at, 0) + ";\n\n")
                emitted.add(type_id)
            self.emitting.discard(type_id)
        elif kind == _layout.KIND_FUNC_PROTO:
            ids = (words[at + 2], *words[at + 4 : at + 3 + 2 * _layout.info_vlen(info) : 2])
            for part in ids:
                if not shallow or part not in emitted:
                    self._emit_type(part, container, deeper)
            if emitted.issuperset(ids):
                emitted.add(type_id)
        else:  # INT, FLOAT: built in (decoded for their checks)
            self.graph[type_id]
            emitted.add(type_id)

    # ------------------------------------------------------------- names

    def _unique(self, counts: dict[str, int], name: str) -> str:
        count = counts[name] = counts.get(name, 0) + 1
        return name if count == 1 else f"{name}___{count}"

    def _tag_name(self, type_id: int) -> str:
        """The (deduplicated) name of a struct/union/enum/fwd; FWDs share their struct's name."""
        name = self.names.get(type_id)
        if name is None:
            raw = self.records.name(type_id)
            name = self._unique(self.tag_counts, raw) if raw else ""
            self.names[type_id] = name
        return name

    def _ident_name(self, type_id: int) -> str:
        name = self.names.get(type_id)
        if name is None:
            name = self._unique(self.ident_counts, self.records.name(type_id))
            self.names[type_id] = name
        return name

    # -------------------------------------------------------- definitions

    def _decl(self, type_id: int, name: str, level: int) -> str:
        """``name`` declared with type ``type_id``, anonymous types written inline at ``level``.

        A declarator that writes no anonymous body is the same wherever it is
        used (names keep the suffix they got first), so it is kept per type
        id, as the text on either side of the declared name.

        Raises:
            ParseError: the declarator chain is cyclic or too deep.
        """
        if not name:
            text = self.abstract_decls.get(type_id)
            if text is None:
                spelling = Declarator(self.records, self._base_name, level)
                text = spelling.decl(type_id, "", 0)
                if not spelling.wrote_body:
                    self.abstract_decls[type_id] = text
            return text
        around = self.named_decls.get(type_id)
        if around is None:
            spelling = Declarator(self.records, self._base_name, level)
            before, _, after = spelling.decl(type_id, _NAME, 0).partition(_NAME)
            around = (before, after)
            if not spelling.wrote_body:
                self.named_decls[type_id] = around
        return around[0] + name + around[1]

    def _base_name(self, type_id: int, kind: int, level: int, spelling: Declarator) -> str:
        """How the base type of a declarator is spelled: its (renamed) name, or its body if anonymous."""
        if kind == KIND_VOID:
            return "void"
        table, words, at = self.records.record(type_id)
        raw = table._names.get(words[at])  # (the cached name; else the checked lookup)
        if raw is None:
            raw = self.records.name(type_id)
        if kind in _COMPOSITES:
            if not raw:
                spelling.wrote_body = True
                return self._composite_def(type_id, words, at, level)
            return self._composite_fwd(type_id, kind)
        if kind in (_layout.KIND_ENUM, _layout.KIND_ENUM64):
            if not raw:
                spelling.wrote_body = True
                return self._enum_def(type_id, words, at, level)
            return f"enum {self._tag_name(type_id)}"
        if kind == _layout.KIND_FWD:
            tag = self._tag_name(type_id) if raw else ""
            return f"{'union' if words[at + 1] >> 31 else 'struct'} {tag}"
        if kind == _layout.KIND_TYPEDEF and raw:
            return self._ident_name(type_id)
        if kind not in _MODIFIERS and kind != _layout.KIND_TYPEDEF:
            self.graph[type_id]  # INT, FLOAT and kinds C cannot spell: decoded for their checks
        return raw

    def _typedef_def(self, type_id: int, target: int) -> str:
        return "typedef " + self._decl(target, self._ident_name(type_id), 0)

    def _composite_fwd(self, type_id: int, kind: int) -> str:
        return f"{'struct' if kind == _layout.KIND_STRUCT else 'union'} {self._tag_name(type_id)}"

    def _composite_def(self, type_id: int, words: Sequence[int], at: int, level: int) -> str:
        info = words[at + 1]
        is_struct = _layout.info_kind(info) == _layout.KIND_STRUCT
        size = words[at + 2]
        end = at + 3 + 3 * _layout.info_vlen(info)
        member_types = words[at + 4 : end : 3]
        offsets = words[at + 5 : end : 3]
        if info >> 31:  # BTF_MEMBER_BITFIELD_SIZE / BTF_MEMBER_BIT_OFFSET
            bit_offsets = [offset & 0xFFFFFF for offset in offsets]
            bitfields = [offset >> 24 for offset in offsets]
        else:
            bit_offsets, bitfields = list(offsets), [0] * len(offsets)
        known_align = self.records.aligns.get  # (alignments are >= 1: "or" asks only the unknown)
        aligns = [known_align(member_type) or self._align(member_type) for member_type in member_types]
        packed = is_struct and _is_packed(size, bit_offsets, bitfields, aligns)
        name = self._tag_name(type_id)
        parts = [f"{'struct' if is_struct else 'union'}{' ' if name else ''}{name} {{"]
        offset = 0
        prev_bitfield = False
        pointer_size = self.records.pointer_size
        pad = _pad(level + 1)
        table, _, _ = self.records.record(type_id)
        cached_name = table._names.get  # (own whole strings only: others are looked up the checked way)
        named_decl, known_size = self.named_decls.get, self.sizes.get
        members = zip(words[at + 3 : end : 3], member_types, bit_offsets, bitfields, aligns, strict=True)
        for index, (name_off, member_type, bit_offset, bitfield, natural_align) in enumerate(members):
            member_name = cached_name(name_off)
            if member_name is None:
                member_name = table.string(name_off, f"type id {type_id} member {index}")
            if offset < bit_offset:
                parts.extend(
                    _padding(
                        offset,
                        bit_offset,
                        1 if packed else natural_align,
                        prev_bitfield and bitfield != 0,
                        level + 1,
                        pointer_size,
                    )
                )
            around = named_decl(member_type) if member_name else None  # self._decl's first step, inline
            if around is None:
                text = self._decl(member_type, member_name, level + 1)
            else:
                text = around[0] + member_name + around[1]
            if bitfield:
                parts.append(f"\n{pad}{text}: {bitfield};")
                offset = bit_offset + bitfield
                prev_bitfield = True
            else:
                parts.append(f"\n{pad}{text};")
                member_size = known_size(member_type)
                if member_size is None:
                    member_size = self._size(member_type)
                offset = bit_offset + 8 * member_size
                prev_bitfield = False
        if is_struct and offset < 8 * size:  # (alignment asked only for a struct with a tail to pad)
            parts.extend(_padding(offset, 8 * size, self._align(type_id), False, level + 1, pointer_size))
        if member_types or size:
            parts.append(f"\n{_pad(level)}}}")
        else:
            parts.append("}")
        if packed:
            parts.append(" __attribute__((packed))")
        return "".join(parts)

    def _align(self, type_id: int) -> int:
        """The type's alignment (1 for a type without one or with malformed types)."""
        align = self.records.aligns.get(type_id)
        if align is None:
            try:
                align = self.records.align_of(type_id)
            except ValueError:  # ParseError included, as before: the header still gets written
                align = 1
        return align

    def _size(self, type_id: int) -> int:
        """The type's size (0 for a type without one or with malformed types), kept per id."""
        size = self.sizes.get(type_id)
        if size is None:
            try:
                size = self.records.size_of(type_id)
            except ValueError:  # ParseError included, as before: the header still gets written
                size = 0
            self.sizes[type_id] = size
        return size

    def _enum_def(self, type_id: int, words: Sequence[int], at: int, level: int) -> str:
        name = self._tag_name(type_id)
        text = f"enum{' ' if name else ''}{name}"
        info = words[at + 1]
        vlen = _layout.info_vlen(info)
        if not vlen:
            return text
        table, _, _ = self.records.record(type_id)
        signed = info >> 31
        is_64 = _layout.info_kind(info) == _layout.KIND_ENUM64
        step = 3 if is_64 else 2
        values = []
        lines = [text + " {"]
        for index, value_at in enumerate(range(at + 3, at + 3 + step * vlen, step)):
            if is_64:
                value = words[value_at + 1] | (words[value_at + 2] << 32)
                if signed and value >= 1 << 63:
                    value -= 1 << 64
            else:
                value = words[value_at + 1]
                if signed and value >= 1 << 31:
                    value -= 1 << 32
            values.append(value)
            raw = table._names.get(words[value_at])
            if raw is None:
                raw = table.string(words[value_at], f"type id {type_id} enumerator {index}")
            ident = self._unique(self.ident_counts, raw)
            literal = f"{value}{'LL' if signed else 'ULL'}" if is_64 else str(value)
            lines.append(f"\n{_pad(level + 1)}{ident} = {literal},")
        lines.append(f"\n{_pad(level)}}}")
        # C sizes an enum by its values; other sizes are forced as libbpf >= 1.2 does
        size = words[at + 2]
        if size == 1:
            lines.append(" __attribute__((mode(byte)))")
        elif (
            size == 8
            and self.records.pointer_size == 8
            and (not is_64 or all((v & 0xFFFFFFFFFFFFFFFF) >> 32 == 0 for v in values))
        ):
            # an 8-byte enum whose values alone would not make it 64-bit
            lines.append(" __attribute__((mode(word)))")
        return "".join(lines)


def _is_packed(size: int, bit_offsets: list[int], bitfields: list[int], aligns: list[int]) -> bool:
    """Whether a struct needs ``__attribute__((packed))`` to get its layout (libbpf's test).

    ``aligns`` holds the alignment of each member's type, in member order.
    """
    for bit_offset, bitfield, align in zip(bit_offsets, bitfields, aligns, strict=True):
        if bitfield == 0 and bit_offset % (8 * align):
            return True
    return bool(aligns) and size % max(aligns) != 0


def _padding(cur: int, nxt: int, next_align: int, in_bitfield: bool, level: int, ptr_size: int) -> list[str]:
    """Unnamed bitfields that move the offset from bit ``cur`` to bit ``nxt`` (libbpf's algorithm).

    First the largest of long/int/short/char whose alignment boundary lies
    within the gap is used to align (an explicit ``type: 0`` where natural
    alignment alone would not land on ``nxt``), then the rest of the gap is
    filled with full-width and finally smaller unnamed bitfields.
    """
    if cur >= nxt:
        return []
    if nxt - cur > _MAX_BITFIELD_PADDING:
        # a huge gap (only in odd or corrupt BTF) as one array, not millions of lines
        start, end = cur + (-cur) % 8, nxt - nxt % 8
        return [
            *_padding(cur, start, 1, in_bitfield, level, ptr_size),
            f"\n{_pad(level)}char __pad_{start // 8}[{(end - start) // 8}];",
            *_padding(end, nxt, next_align, False, level, ptr_size),
        ]
    pads = (("long", ptr_size * 8), ("int", 32), ("short", 16), ("char", 8))
    out: list[str] = []
    # the largest type whose next alignment boundary is not past nxt
    index = 0
    while True:
        pad_type, pad_bits = pads[index]
        new_off = -(-cur // pad_bits) * pad_bits
        if new_off <= nxt or index == len(pads) - 1:
            break
        index += 1
    if cur < new_off <= nxt:
        if (
            in_bitfield
            or (new_off == nxt and -(-cur // (next_align * 8)) * (next_align * 8) != new_off)
            or (new_off != nxt and nxt - new_off <= new_off - cur)
        ):
            out.append(f"\n{_pad(level)}{pad_type}: {new_off - cur if in_bitfield else 0};")
        cur = new_off
    while cur != nxt:
        bits = min(nxt - cur, pad_bits)
        if bits == pad_bits:
            out.append(f"\n{_pad(level)}{pad_type}: {pad_bits};")
            cur += bits
            continue
        for small_type, small_bits in reversed(pads):
            if small_bits >= bits:
                out.append(f"\n{_pad(level)}{small_type}: {bits};")
                cur += bits
                break
    return out
