"""C declarators: how a BTF type is spelled in C (``int (*handler)(void *)``).

A declarator is built the way libbpf's ``btf_dump_emit_type_decl`` does:
follow pointers, arrays, qualifiers and function prototypes down to a base
type (a name: int, struct, enum, typedef, void), then write it from the base
outwards, parenthesising what an array or a parameter list applies to.
"""

from __future__ import annotations

from collections.abc import Callable

from ebpf.syscall.errors import ParseError

from ._types import (
    Array,
    Composite,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Func,
    FuncProto,
    Fwd,
    Pointer,
    Restrict,
    Struct,
    Type,
    TypeTag,
    Var,
    Void,
    Volatile,
)

__all__ = ["MAX_DECL_DEPTH", "decl", "type_to_c"]

#: how deep pointers/arrays/prototypes may nest before the chain is called cyclic
MAX_DECL_DEPTH = 64

#: spells an anonymous struct/union/enum used inline (the C dumper prints its body)
AnonymousBody = Callable[[Type], str]
#: spells a named base type
Renamer = Callable[[Type], str]


def _anonymous_placeholder(t: Type) -> str:
    if isinstance(t, Composite):
        return f"{'struct' if isinstance(t, Struct) else 'union'} {{...}}"
    return "enum {...}"


def base_name(t: Type, anonymous: AnonymousBody = _anonymous_placeholder) -> str:
    """The name of a base type as C spells it (``struct foo``, ``int``, ``void``)."""
    if isinstance(t, Void):
        return "void"
    if isinstance(t, Composite):
        if not t.name:
            return anonymous(t)
        return f"{'struct' if isinstance(t, Struct) else 'union'} {t.name}"
    if isinstance(t, Enum):
        return f"enum {t.name}" if t.name else anonymous(t)
    if isinstance(t, Fwd):
        return f"{'union' if t.union else 'struct'} {t.name}"
    return t.name


def decl(
    t: Type,
    name: str = "",
    anonymous: AnonymousBody = _anonymous_placeholder,
    depth: int = 0,
    *,
    renamer: Renamer | None = None,
) -> str:
    """A C declaration of ``name`` with type ``t`` (an abstract one when ``name`` is "").

    ``anonymous`` spells anonymous structs, unions and enums; ``renamer``, when
    given, spells named base types (the C dumper's deduplicated names).
    Spacing follows libbpf (``char *name``, ``void * (*fn)(int)``, ``int * const p``).

    Raises:
        ParseError: the chain of pointers/arrays/prototypes is cyclic or too deep.
        LookupError: ``t`` belongs to no graph and refers to other types.
    """
    # The stack holds the chain from the declared name (bottom) down to the
    # base type (top); it is unwound from the base outwards.
    stack: list[Type] = []
    current = t
    while True:
        if len(stack) + depth > MAX_DECL_DEPTH:
            raise ParseError(f"type id {t.id}: declarator chain is cyclic or too deep")
        stack.append(current)
        if isinstance(current, FuncProto):
            current = current.return_type
        elif isinstance(current, (Pointer, Const, Volatile, Restrict, TypeTag, Array)):
            current = current.type
        else:
            break
    out: list[str] = []
    _emit_chain(out, stack, name, _Spelling(anonymous, renamer, depth))
    return "".join(out)


class _Spelling:
    __slots__ = ("anonymous", "depth", "renamer")

    def __init__(self, anonymous: AnonymousBody, renamer: Renamer | None, depth: int) -> None:
        self.anonymous = anonymous
        self.renamer = renamer
        self.depth = depth

    def base(self, t: Type) -> str:
        if self.renamer is not None and t.name and not isinstance(t, Void):
            return self.renamer(t)
        return base_name(t, self.anonymous)


_MODIFIERS = (Const, Volatile, Restrict)


def _emit_mods(out: list[str], stack: list[Type]) -> None:
    """Qualifiers right above the base type go in front of it (``const char``)."""
    while stack and isinstance(stack[-1], _MODIFIERS):
        out.append(_qualifier(stack.pop()) + " ")


def _drop_mods(stack: list[Type]) -> None:
    # Qualifiers on an array or a function (GCC quirks) mean nothing in C:
    # dropped like libbpf does.
    while stack and isinstance(stack[-1], _MODIFIERS):
        stack.pop()


def _emit_name(out: list[str], name: str, last_was_ptr: bool) -> None:
    out.append((" " if name and not last_was_ptr else "") + name)


def _emit_chain(out: list[str], stack: list[Type], name: str, spelling: _Spelling) -> None:
    # libbpf's btf_dump_emit_type_chain: pointers are written "*" right after
    # another pointer and " *" otherwise, so "int **p" and "char *name".
    last_was_ptr = True
    while stack:
        t = stack.pop()
        if isinstance(t, Pointer):
            out.append("*" if last_was_ptr else " *")
        elif isinstance(t, _MODIFIERS):
            out.append(" " + _qualifier(t))
        elif isinstance(t, TypeTag):
            _emit_mods(out, stack)
            out.append(f' __attribute__((btf_type_tag("{t.name}")))')
        elif isinstance(t, Array):
            _drop_mods(stack)
            if not stack:
                _emit_name(out, name, last_was_ptr)
                out.append(f"[{t.nelems}]")
                return
            multidim = isinstance(stack[-1], Array)
            if name and not last_was_ptr:
                out.append(" ")
            if not multidim:
                out.append("(")
            _emit_chain(out, stack, name, spelling)
            if not multidim:
                out.append(")")
            out.append(f"[{t.nelems}]")
            return
        elif isinstance(t, FuncProto):
            _drop_mods(stack)
            if stack:
                out.append(" (")
                _emit_chain(out, stack, name, spelling)
                out.append(")")
            else:
                _emit_name(out, name, last_was_ptr)
            out.append(f"({_params(t, spelling)})")
            return
        else:  # the base type
            _emit_mods(out, stack)
            out.append("void" if isinstance(t, Void) else spelling.base(t))
        last_was_ptr = isinstance(t, Pointer)
    _emit_name(out, name, last_was_ptr)


def _qualifier(t: Type) -> str:
    if isinstance(t, Const):
        return "const"
    if isinstance(t, Volatile):
        return "volatile"
    return "restrict"


def _params(proto: FuncProto, spelling: _Spelling) -> str:
    params = proto.params
    # clang writes "f(void)" as one parameter of type void
    if not params or (len(params) == 1 and params[0].type_id == 0):
        return "void"
    parts = []
    for index, param in enumerate(params):
        if index == len(params) - 1 and param.type_id == 0:
            parts.append("...")
            break
        parts.append(
            decl(param.type, param.name, spelling.anonymous, spelling.depth + 1, renamer=spelling.renamer)
        )
    return ", ".join(parts)


def type_to_c(t: Type) -> str:
    """``str()`` of a type: its C spelling; functions and variables with their names."""
    if isinstance(t, Func):
        return decl(t.type, t.name)
    if isinstance(t, Var):
        return decl(t.type, t.name)
    if isinstance(t, Datasec):
        return f'SEC("{t.name}")'
    if isinstance(t, DeclTag):
        return f'__attribute__((btf_decl_tag("{t.name}")))'
    return decl(t)
