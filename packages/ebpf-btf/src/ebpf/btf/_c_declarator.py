"""C declarators spelled from BTF records' words: `_c_decl.decl`'s algorithm on type ids.

The C dump writes a declarator per member, parameter and typedef; building
them from the records' words saves decoding each type into dataclasses.
How a base type is spelled (its ``___N`` name, or an anonymous body written
inline) is the dumper's: it is passed in as ``base_name``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ebpf.syscall.errors import ParseError

from . import _layout
from ._c_decl import MAX_DECL_DEPTH
from ._c_records import KIND_VOID, Records

__all__ = ["BaseName", "Declarator"]

#: spells a base type: (type id, kind, level of an anonymous body, the declarator) -> C
BaseName = Callable[[int, int, int, "Declarator"], str]


class Declarator:
    """C declarators spelled from the records' words (`_c_decl.decl`'s algorithm on type ids).

    ``wrote_body`` says whether an anonymous struct, union or enum was
    written inline (such a declarator depends on where it is used).
    """

    __slots__ = ("base_name", "level", "records", "wrote_body")

    def __init__(self, records: Records, base_name: BaseName, level: int) -> None:
        """Declarators of ``records``' types; base types spelled by ``base_name``, bodies at ``level``."""
        self.records = records
        self.base_name = base_name
        self.level = level
        self.wrote_body = False

    def decl(self, type_id: int, name: str, depth: int) -> str:
        """``name`` declared with type ``type_id`` (abstract when ``name`` is "").

        Raises:
            ParseError: the chain of pointers/arrays/prototypes is cyclic or too deep.
        """
        # The stack holds the chain from the declared name (bottom) down to the
        # base type (top) as (kind, id, words, record offset); unwound from the base.
        stack: list[tuple[int, int, Sequence[int], int]] = []
        current = type_id
        record = self.records.record
        while True:
            if len(stack) + depth > MAX_DECL_DEPTH:
                raise ParseError(f"type id {type_id}: declarator chain is cyclic or too deep")
            if current == 0:
                stack.append((KIND_VOID, 0, (), 0))
                break
            table, words, at = record(current)
            if current not in self.records.checked:
                self.records.check(current, table, words, at)
            kind = (words[at + 1] >> 24) & 0x1F  # _layout.info_kind, inline (hot)
            stack.append((kind, current, words, at))
            if kind == _layout.KIND_ARRAY:
                current = words[at + 3]
            elif kind in _CHAINED:
                current = words[at + 2]
            else:
                break
        out: list[str] = []
        self._chain(out, stack, name, depth)
        return "".join(out)

    def _chain(
        self, out: list[str], stack: list[tuple[int, int, Sequence[int], int]], name: str, depth: int
    ) -> None:
        # libbpf's btf_dump_emit_type_chain: pointers are written "*" right after
        # another pointer and " *" otherwise, so "int **p" and "char *name".
        last_was_ptr = True
        while stack:
            kind, type_id, words, at = stack.pop()
            if kind == _layout.KIND_PTR:
                out.append("*" if last_was_ptr else " *")
            elif kind in _QUALIFIER_NAMES:
                out.append(" " + _QUALIFIER_NAMES[kind])
            elif kind == _layout.KIND_TYPE_TAG:
                _emit_mods(out, stack)
                out.append(f' __attribute__((btf_type_tag("{self.records.name(type_id)}")))')
            elif kind == _layout.KIND_ARRAY:
                _drop_mods(stack)
                if not stack:
                    _emit_name(out, name, last_was_ptr)
                    out.append(f"[{words[at + 5]}]")
                    return
                multidim = stack[-1][0] == _layout.KIND_ARRAY
                if name and not last_was_ptr:
                    out.append(" ")
                if not multidim:
                    out.append("(")
                self._chain(out, stack, name, depth)
                if not multidim:
                    out.append(")")
                out.append(f"[{words[at + 5]}]")
                return
            elif kind == _layout.KIND_FUNC_PROTO:
                _drop_mods(stack)
                if stack:
                    out.append(" (")
                    self._chain(out, stack, name, depth)
                    out.append(")")
                else:
                    _emit_name(out, name, last_was_ptr)
                out.append(f"({self._params(type_id, words, at, depth)})")
                return
            else:  # the base type
                _emit_mods(out, stack)
                out.append(self.base_name(type_id, kind, self.level, self))
            last_was_ptr = kind == _layout.KIND_PTR
        _emit_name(out, name, last_was_ptr)

    def _params(self, type_id: int, words: Sequence[int], at: int, depth: int) -> str:
        vlen = _layout.info_vlen(words[at + 1])
        # clang writes "f(void)" as one parameter of type void
        if not vlen or (vlen == 1 and words[at + 4] == 0):
            return "void"
        table, _, _ = self.records.record(type_id)
        parts = []
        for index in range(vlen):
            name_off, param_type = words[at + 3 + 2 * index], words[at + 4 + 2 * index]
            if index == vlen - 1 and param_type == 0:
                parts.append("...")
                break
            param_name = table._names.get(name_off)
            if param_name is None:
                param_name = table.string(name_off, f"type id {type_id} parameter {index}")
            parts.append(self.decl(param_type, param_name, depth + 1))
        return ", ".join(parts)


#: kinds a declarator follows to the type they refer to (in the ``size_or_type`` word)
_CHAINED = frozenset(
    (
        _layout.KIND_FUNC_PROTO,
        _layout.KIND_PTR,
        _layout.KIND_CONST,
        _layout.KIND_VOLATILE,
        _layout.KIND_RESTRICT,
        _layout.KIND_TYPE_TAG,
    )
)
#: qualifiers, as C spells them
_QUALIFIER_NAMES = {
    _layout.KIND_CONST: "const",
    _layout.KIND_VOLATILE: "volatile",
    _layout.KIND_RESTRICT: "restrict",
}


def _emit_mods(out: list[str], stack: list[tuple[int, int, Sequence[int], int]]) -> None:
    """Qualifiers right above the base type go in front of it (``const char``)."""
    while stack and stack[-1][0] in _QUALIFIER_NAMES:
        out.append(_QUALIFIER_NAMES[stack.pop()[0]] + " ")


def _drop_mods(stack: list[tuple[int, int, Sequence[int], int]]) -> None:
    # Qualifiers on an array or a function (GCC quirks) mean nothing in C:
    # dropped like libbpf does.
    while stack and stack[-1][0] in _QUALIFIER_NAMES:
        stack.pop()


def _emit_name(out: list[str], name: str, last_was_ptr: bool) -> None:
    out.append((" " if name and not last_was_ptr else "") + name)
