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

import enum

from ebpf.syscall.abi import BTF_KINDS
from ebpf.syscall.errors import ParseError

from . import _layout
from ._c_decl import decl
from ._decode import TypeTable
from ._graph import TypeGraph
from ._types import (
    Array,
    Composite,
    Const,
    Enum,
    Enum64,
    FuncProto,
    Fwd,
    Pointer,
    Restrict,
    Struct,
    Type,
    Typedef,
    TypeTag,
    Volatile,
)

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
#: Kinds whose record refers to one type (in its ``size_or_type`` word).
_REFERS_ONCE = frozenset(
    BTF_KINDS[k]
    for k in ("PTR", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG", "TYPEDEF", "FUNC", "VAR", "DECL_TAG")
)

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


class _Order(enum.Enum):
    NOT_ORDERED = 0
    ORDERING = 1
    ORDERED = 2


class _Emit(enum.Enum):
    NOT_EMITTED = 0
    EMITTING = 1
    EMITTED = 2


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
        self.order: dict[int, _Order] = {}
        self.emit: dict[int, _Emit] = {}
        self.fwd_emitted: set[int] = set()
        self.queue: list[int] = []
        self.referenced: set[int] = set()
        self.names: dict[int, str] = {}
        self.tag_counts: dict[str, int] = {}
        self.ident_counts: dict[str, int] = {}
        self.aligns: dict[int, int] = {}
        #: declarators without anonymous bodies, by (type id, whether a name is declared)
        self.decls: dict[tuple[int, bool], str] = {}
        self.sizes: dict[int, int] = {}

    # ------------------------------------------------------------ driver

    def dump(self, guard: str) -> str:
        self._mark_referenced()
        table = self.graph._table
        order = self.order
        for type_id in range(self.graph.first_id, self.graph.last_id + 1):
            # Functions, variables, sections and tags declare nothing: not even looked at.
            if order.get(type_id) is not _Order.ORDERED and table.kind_of(type_id) not in _DECLARE_NOTHING:
                self._order_type(type_id, through_ptr=False, depth=0)
        for type_id in self.queue:
            self._emit_type(type_id, 0, 0)
        return _HEADER.format(guard=guard) + "".join(self.out) + _FOOTER.format(guard=guard)

    def _mark_referenced(self) -> None:
        """Note every type id another record refers to, read from the records' words."""
        table = self.graph._table
        words, referenced = table.words, self.referenced
        for at in table.offsets:
            info = words[at + 1]
            kind, vlen = _layout.info_kind(info), _layout.info_vlen(info)
            if kind in (_layout.KIND_STRUCT, _layout.KIND_UNION):
                referenced.update(words[at + 4 : at + 3 + 3 * vlen : 3])
            elif kind == _layout.KIND_FUNC_PROTO:
                referenced.add(words[at + 2])
                referenced.update(words[at + 4 : at + 3 + 2 * vlen : 2])
            elif kind == _layout.KIND_ARRAY:
                referenced.update((words[at + 3], words[at + 4]))
            elif kind == _layout.KIND_DATASEC:
                referenced.update(words[at + 3 : at + 3 + 3 * vlen : 3])
            elif kind in _REFERS_ONCE:
                referenced.add(words[at + 2])

    # ---------------------------------------------------------- ordering

    def _record(self, type_id: int) -> tuple[TypeTable, int]:
        """The table holding ``type_id`` (a split blob's base for base ids) and its record's word offset.

        Raises:
            ParseError: no such type id.
        """
        table: TypeTable | None = self.graph._table
        while table is not None and type_id < table.first_id:
            table = table.base
        if table is None or type_id > table.last_id:
            raise ParseError(f"{self.graph.name}: no type id {type_id} to order")
        return table, table.offsets[type_id - table.first_id]

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
        state = self.order.get(type_id, _Order.NOT_ORDERED)
        if state is _Order.ORDERED:
            return True
        if type_id == 0:
            self.order[type_id] = _Order.ORDERED
            return False
        table, at = self._record(type_id)
        words = table.words
        info = words[at + 1]
        kind = _layout.info_kind(info)
        if state is _Order.ORDERING:
            # a loop, fine when it goes through a pointer to a named struct
            if kind in _COMPOSITES and through_ptr and self._named(table, at, type_id):
                return False
            raise ParseError(f"{self.graph.name}: type id {type_id}: type cycle that C cannot express")
        deeper = depth + 1
        where = f"type id {type_id}"
        if kind in (_layout.KIND_INT, _layout.KIND_FLOAT):
            self.order[type_id] = _Order.ORDERED
            return False
        if kind == _layout.KIND_PTR:
            strong = self._order_type(table._checked_ref(words[at + 2], where), True, deeper)
            self.order[type_id] = _Order.ORDERED
            return strong
        if kind == _layout.KIND_ARRAY:
            return self._order_type(table._checked_ref(words[at + 3], where), False, deeper)
        if kind in _COMPOSITES:
            # embedded, or anonymous (defined inline even behind a pointer)
            named = self._named(table, at, type_id)
            if through_ptr and named:
                return False
            self.order[type_id] = _Order.ORDERING
            order = self.order
            for member_type in words[at + 4 : at + 3 + 3 * _layout.info_vlen(info) : 3]:
                if order.get(member_type) is not _Order.ORDERED:  # (the call would only say so)
                    self._order_type(table._checked_ref(member_type, where), False, deeper)
            if named:
                self.queue.append(type_id)
            self.order[type_id] = _Order.ORDERED
            return True
        if kind in (_layout.KIND_ENUM, _layout.KIND_ENUM64, _layout.KIND_FWD):
            if self._named(table, at, type_id) or type_id not in self.referenced:
                self.queue.append(type_id)
            self.order[type_id] = _Order.ORDERED
            return True
        if kind == _layout.KIND_TYPEDEF:
            strong = self._order_type(table._checked_ref(words[at + 2], where), through_ptr, deeper)
            if through_ptr and not strong:
                return False
            self.queue.append(type_id)
            self.order[type_id] = _Order.ORDERED
            return True
        if kind in _MODIFIERS:
            return self._order_type(table._checked_ref(words[at + 2], where), through_ptr, deeper)
        if kind == _layout.KIND_FUNC_PROTO:
            strong = self._order_type(table._checked_ref(words[at + 2], where), through_ptr, deeper)
            for param_type in words[at + 4 : at + 3 + 2 * _layout.info_vlen(info) : 2]:
                param_strong = self._order_type(table._checked_ref(param_type, where), through_ptr, deeper)
                strong = param_strong or strong
            return strong
        # FUNC, VAR, DATASEC, DECL_TAG: nothing to declare
        self.order[type_id] = _Order.ORDERED
        return False

    def _named(self, table: TypeTable, at: int, type_id: int) -> bool:
        """Whether the record at word ``at`` of ``table`` has a non-empty name.

        Raises:
            ParseError: its name offset is out of range.
        """
        name_off = table.words[at]
        return bool(name_off) and bool(table.string(name_off, f"type id {type_id}"))

    # ---------------------------------------------------------- emitting

    def _emit_type(self, type_id: int, container: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ParseError(f"{self.graph.name}: type id {type_id}: types nest too deeply to emit")
        state = self.emit.get(type_id, _Emit.NOT_EMITTED)
        if state is _Emit.EMITTED:
            return
        t = self.graph[type_id]
        top_level = container == 0
        deeper = depth + 1
        if state is _Emit.EMITTING:
            # a cycle: a forward declaration lets the outer definition go on
            if type_id in self.fwd_emitted:
                return
            if isinstance(t, Composite):
                if type_id == container or not t.name:
                    return
                self.out.append(self._composite_fwd(t) + ";\n\n")
                self.fwd_emitted.add(type_id)
            elif isinstance(t, Typedef):
                if t.name not in _BUILTIN_TYPEDEFS:
                    self.out.append(self._typedef_def(t) + ";\n\n")
                self.fwd_emitted.add(type_id)
            return
        if isinstance(t, Enum):
            if top_level:
                self.out.append(self._enum_def(t, 0) + ";\n\n")
            self.emit[type_id] = _Emit.EMITTED
        elif isinstance(t, (Pointer, Volatile, Const, Restrict, TypeTag, Array)):
            self._emit_type(t.type_id, container, deeper)
            if self.emit.get(t.type_id) is _Emit.EMITTED:
                # nothing more can ever be written through this reference
                self.emit[type_id] = _Emit.EMITTED
        elif isinstance(t, Fwd):
            self.out.append(f"{'union' if t.union else 'struct'} {self._tag_name(t)};\n\n")
            self.emit[type_id] = _Emit.EMITTED
        elif isinstance(t, Typedef):
            self.emit[type_id] = _Emit.EMITTING
            self._emit_type(t.type_id, type_id, deeper)
            if type_id not in self.fwd_emitted and t.name not in _BUILTIN_TYPEDEFS:
                self.out.append(self._typedef_def(t) + ";\n\n")
            self.emit[type_id] = _Emit.EMITTED
        elif isinstance(t, Composite):
            self.emit[type_id] = _Emit.EMITTING
            if top_level or not t.name:
                inner = container if not t.name else type_id
                for member in t.members:
                    self._emit_type(member.type_id, inner, deeper)
            elif type_id not in self.fwd_emitted and type_id != container:
                self.out.append(self._composite_fwd(t) + ";\n\n")
                self.fwd_emitted.add(type_id)
            if top_level:
                self.out.append(self._composite_def(t, 0) + ";\n\n")
                self.emit[type_id] = _Emit.EMITTED
            else:
                self.emit[type_id] = _Emit.NOT_EMITTED
        elif isinstance(t, FuncProto):
            self._emit_type(t.return_type_id, container, deeper)
            for param in t.params:
                self._emit_type(param.type_id, container, deeper)
            emitted = self.emit.get
            if emitted(t.return_type_id) is _Emit.EMITTED and all(
                emitted(param.type_id) is _Emit.EMITTED for param in t.params
            ):
                self.emit[type_id] = _Emit.EMITTED
        else:  # INT, FLOAT, void: built in
            self.emit[type_id] = _Emit.EMITTED

    # ------------------------------------------------------------- names

    def _unique(self, counts: dict[str, int], name: str) -> str:
        counts[name] = counts.get(name, 0) + 1
        return name if counts[name] == 1 else f"{name}___{counts[name]}"

    def _tag_name(self, t: Type) -> str:
        """The (deduplicated) name of a struct/union/enum/fwd; FWDs share their struct's name."""
        name = self.names.get(t.id)
        if name is None:
            name = self._unique(self.tag_counts, t.name) if t.name else ""
            self.names[t.id] = name
        return name

    def _ident_name(self, t: Type) -> str:
        name = self.names.get(t.id)
        if name is None:
            name = self._unique(self.ident_counts, t.name)
            self.names[t.id] = name
        return name

    # -------------------------------------------------------- definitions

    def _decl(self, t: Type, name: str, level: int) -> str:
        """``name`` declared with type ``t``, anonymous types written inline at ``level``.

        A declarator that writes no anonymous body is the same wherever it is
        used (names keep the suffix they got first), so it is kept per type
        id, with a placeholder for the declared name.

        Raises:
            ParseError: the declarator chain is cyclic or too deep.
        """
        key = (t.id, bool(name))
        template = self.decls.get(key)
        if template is not None:
            return template.replace(_NAME, name) if name else template
        wrote_body = False

        def inline(anon: Type) -> str:
            nonlocal wrote_body
            wrote_body = True
            return self._inline(anon, level)

        text = decl(t, _NAME if name else "", inline, renamer=self._renamed)
        if not wrote_body:
            self.decls[key] = text
        return text.replace(_NAME, name) if name else text

    def _renamed(self, t: Type) -> str:
        """How a named base type is spelled here (with its ``___N`` suffix if it has one)."""
        if isinstance(t, Composite):
            return f"{'struct' if isinstance(t, Struct) else 'union'} {self._tag_name(t)}"
        if isinstance(t, Enum):
            return f"enum {self._tag_name(t)}"
        if isinstance(t, Fwd):
            return f"{'union' if t.union else 'struct'} {self._tag_name(t)}"
        if isinstance(t, Typedef):
            return self._ident_name(t)
        return t.name

    def _inline(self, t: Type, level: int) -> str:
        if isinstance(t, Composite):
            return self._composite_def(t, level)
        if isinstance(t, Enum):
            return self._enum_def(t, level)
        return t.name

    def _typedef_def(self, t: Typedef) -> str:
        return "typedef " + self._decl(t.type, self._ident_name(t), 0)

    def _composite_fwd(self, t: Composite) -> str:
        return f"{'struct' if isinstance(t, Struct) else 'union'} {self._tag_name(t)}"

    def _composite_def(self, t: Composite, level: int) -> str:
        graph = self.graph
        is_struct = isinstance(t, Struct)
        aligns = [self._align(member.type_id) for member in t.members]
        packed = is_struct and _is_packed(t, aligns)
        name = self._tag_name(t)
        parts = [f"{'struct' if is_struct else 'union'}{' ' if name else ''}{name} {{"]
        offset = 0
        prev_bitfield = False
        for member, natural_align in zip(t.members, aligns, strict=True):
            member_align = 1 if packed else natural_align
            in_bitfield = prev_bitfield and member.bitfield_size != 0
            parts.extend(
                _padding(offset, member.bit_offset, member_align, in_bitfield, level + 1, graph.pointer_size)
            )
            text = f"\n{_pad(level + 1)}{self._decl(member.type, member.name, level + 1)}"
            if member.bitfield_size:
                text += f": {member.bitfield_size}"
                offset = member.bit_offset + member.bitfield_size
                prev_bitfield = True
            else:
                offset = member.bit_offset + 8 * self._size(member.type_id)
                prev_bitfield = False
            parts.append(text + ";")
        if is_struct:
            parts.extend(
                _padding(offset, 8 * t.size, self._align(t.id), False, level + 1, graph.pointer_size)
            )
        if t.members or t.size:
            parts.append(f"\n{_pad(level)}}}")
        else:
            parts.append("}")
        if packed:
            parts.append(" __attribute__((packed))")
        return "".join(parts)

    def _align(self, type_id: int) -> int:
        """The type's alignment (1 for a type without one or with malformed types), kept per id."""
        align = self.aligns.get(type_id)
        if align is None:
            try:
                align = self.graph.align_of(type_id)
            except ValueError:  # ParseError included, as before: the header still gets written
                align = 1
            self.aligns[type_id] = align
        return align

    def _size(self, type_id: int) -> int:
        """The type's size (0 for a type without one or with malformed types), kept per id."""
        size = self.sizes.get(type_id)
        if size is None:
            try:
                size = self.graph.size_of(type_id)
            except ValueError:  # ParseError included, as before: the header still gets written
                size = 0
            self.sizes[type_id] = size
        return size

    def _enum_def(self, t: Enum, level: int) -> str:
        name = self._tag_name(t)
        text = f"enum{' ' if name else ''}{name}"
        if not t.values:
            return text
        lines = [text + " {"]
        for value in t.values:
            ident = self._unique(self.ident_counts, value.name)
            if isinstance(t, Enum64):
                literal = f"{value.value}{'LL' if t.signed else 'ULL'}"
            else:
                literal = str(value.value)
            lines.append(f"\n{_pad(level + 1)}{ident} = {literal},")
        lines.append(f"\n{_pad(level)}}}")
        # C sizes an enum by its values; other sizes are forced as libbpf >= 1.2 does
        if t.size == 1:
            lines.append(" __attribute__((mode(byte)))")
        elif t.size == 8 and self.graph.pointer_size == 8 and _needs_word_mode(t):
            lines.append(" __attribute__((mode(word)))")
        return "".join(lines)


def _needs_word_mode(t: Enum) -> bool:
    """Whether an 8-byte enum needs ``mode(word)``: its values alone would not make it 64-bit."""
    return not isinstance(t, Enum64) or all((v.value & 0xFFFFFFFFFFFFFFFF) >> 32 == 0 for v in t.values)


def _is_packed(t: Composite, aligns: list[int]) -> bool:
    """Whether a struct needs ``__attribute__((packed))`` to get its layout (libbpf's test).

    ``aligns`` holds the alignment of each member's type, in member order.
    """
    max_align = 1
    for member, align in zip(t.members, aligns, strict=True):
        if member.bitfield_size == 0 and member.bit_offset % (8 * align):
            return True
        max_align = max(align, max_align)
    return t.size % max_align != 0


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
