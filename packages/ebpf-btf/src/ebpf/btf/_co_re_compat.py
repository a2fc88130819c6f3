"""CO-RE compatibility rules: when may a target type stand for a local one.

Three relations, as libbpf's ``relo_core.c`` defines them:

- `types_are_compatible()` (``bpf_core_types_are_compat``) for
  ``TYPE_EXISTS``, ``TYPE_SIZE`` and ``TYPE_ID_TARGET``: same kind, then
  structurally through pointers, arrays and function prototypes; any two
  structs, unions, enums or forward declarations of the same (essential)
  name are compatible, their members are not compared.
- `fields_are_compatible()` (``bpf_core_fields_are_compat``) for the type
  of each field a field relocation goes through: looser, any two composites
  are compatible, integers of any size and signedness too.
- `types_match()` (``bpf_core_types_match``, Linux 6.2 / libbpf 1.0) for
  ``TYPE_MATCHES``: stricter, every local member must exist in the target
  with a matching type, integers must agree in size and signedness, enums
  in size and enumerator names.

Names are compared by their *essential* part (`essential_name()`): a
local ``task_struct___mine`` stands for the kernel's ``task_struct``.
Recursion is bounded (``MAX_DEPTH`` links per chain, ``MAX_LEVEL`` nested
members or parameters) so that a cyclic or absurdly deep graph raises
``ParseError`` instead of ``RecursionError``.
"""

from __future__ import annotations

from ebpf.syscall.errors import ParseError

from ._decode import _essential_name
from ._graph import TypeGraph
from ._types import (
    Array,
    Composite,
    Enum,
    FuncProto,
    Fwd,
    Int,
    Kind,
    Pointer,
    Type,
    Union,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_LEVEL",
    "essential_name",
    "fields_are_compatible",
    "kinds_compatible",
    "type_at",
    "types_are_compatible",
    "types_match",
]

#: links followed along one pointer/array/prototype chain (libbpf: 32)
MAX_DEPTH = 32
#: nested members or parameters compared recursively (libbpf: 32)
MAX_LEVEL = 32

_ENUMS = (Kind.ENUM, Kind.ENUM64)


def essential_name(name: str) -> str:
    """``name`` without its flavour: the part before the last ``X___Y`` separator.

    ``task_struct___mine`` -> ``task_struct``; ``a___b___c`` -> ``a___b``.
    The separator is exactly three underscores between two characters that
    are not underscores (libbpf's ``bpf_core_is_flavor_sep``), so
    ``__u32`` and ``foo____bar`` keep their names.
    """
    return _essential_name(name)


def kinds_compatible(a: Kind, b: Kind) -> bool:
    """Same BTF kind, or both enums (a 32-bit ENUM and an ENUM64 stand for each other)."""
    return a == b or (a in _ENUMS and b in _ENUMS)


def type_at(graph: TypeGraph, type_id: int, what: str) -> Type:
    """``graph[type_id]``, with an id outside the graph reported as malformed input.

    Raises:
        ParseError: no such id, or the record is malformed.
    """
    try:
        return graph[type_id]
    except KeyError:
        raise ParseError(f"{graph.name}: {what} refers to type id {type_id}, which does not exist") from None


def _resolved(graph: TypeGraph, type_id: int, what: str) -> Type:
    """The type behind ``type_id`` with typedefs and modifiers skipped (``skip_mods_and_typedefs``)."""
    return graph.resolve(type_at(graph, type_id, what))


def _too_deep(local: TypeGraph, target: TypeGraph, local_id: int, target_id: int) -> ParseError:
    return ParseError(
        f"comparing {local.name} type id {local_id} with {target.name} type id {target_id}: "
        f"the types nest deeper than {MAX_DEPTH} levels or are cyclic"
    )


def types_are_compatible(local: TypeGraph, local_id: int, target: TypeGraph, target_id: int) -> bool:
    """Whether the target type can stand for the local one in a type-based relocation.

    The caller has matched the names; here the root kinds must agree (a
    typedef stands only for a typedef), then, with typedefs and modifiers
    skipped: composites, enums and forward declarations are compatible as
    such, integers unless one is an old-style bitfield integer (non-zero
    ``offset``), pointers and arrays by their targets, prototypes by arity,
    parameters and return type.

    Raises:
        ParseError: an id is missing, or the types are cyclic or too deep.
    """
    return _types_are_compatible(local, local_id, target, target_id, MAX_LEVEL)


def _types_are_compatible(
    local: TypeGraph, local_id: int, target: TypeGraph, target_id: int, level: int
) -> bool:
    where = "a CO-RE type comparison"
    if not kinds_compatible(type_at(local, local_id, where).kind, type_at(target, target_id, where).kind):
        return False
    for _ in range(MAX_DEPTH):
        lt = _resolved(local, local_id, where)
        tt = _resolved(target, target_id, where)
        if not kinds_compatible(lt.kind, tt.kind):
            return False
        if lt.kind in (Kind.UNKN, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FWD):
            return True
        if isinstance(lt, Int) and isinstance(tt, Int):
            return lt.offset == 0 and tt.offset == 0
        if isinstance(lt, Pointer) and isinstance(tt, Pointer):
            local_id, target_id = lt.type_id, tt.type_id
            continue
        if isinstance(lt, Array) and isinstance(tt, Array):
            local_id, target_id = lt.type_id, tt.type_id
            continue
        if isinstance(lt, FuncProto) and isinstance(tt, FuncProto):
            if len(lt.params) != len(tt.params):
                return False
            if level <= 0 and lt.params:
                raise _too_deep(local, target, lt.id, tt.id)
            for lp, tp in zip(lt.params, tt.params, strict=True):
                lid = _resolved(local, lp.type_id, where).id
                tid = _resolved(target, tp.type_id, where).id
                if not _types_are_compatible(local, lid, target, tid, level - 1):
                    return False
            local_id, target_id = lt.return_type_id, tt.return_type_id
            continue
        return False  # functions, variables, sections: never the subject of a relocation
    raise _too_deep(local, target, local_id, target_id)


def fields_are_compatible(local: TypeGraph, local_id: int, target: TypeGraph, target_id: int) -> bool:
    """Whether a target member's type can stand for the local member's type (field relocations).

    With typedefs and modifiers skipped: any two structs/unions are
    compatible (and may be mixed); pointers and floats always; enums and
    forward declarations when their essential names agree or either is
    anonymous; integers of any size and signedness unless one is an old-style
    bitfield integer; arrays of any length by their element types.

    Raises:
        ParseError: an id is missing, or an array chain is cyclic or too deep.
    """
    where = "a CO-RE field comparison"
    for _ in range(MAX_DEPTH):
        lt = _resolved(local, local_id, where)
        tt = _resolved(target, target_id, where)
        if isinstance(lt, Composite) and isinstance(tt, Composite):
            return True
        if not kinds_compatible(lt.kind, tt.kind):
            return False
        if lt.kind in (Kind.PTR, Kind.FLOAT):
            return True
        if lt.kind in (Kind.FWD, Kind.ENUM, Kind.ENUM64):
            local_name, target_name = essential_name(lt.name), essential_name(tt.name)
            return not local_name or not target_name or local_name == target_name
        if isinstance(lt, Int) and isinstance(tt, Int):
            return lt.offset == 0 and tt.offset == 0
        if isinstance(lt, Array) and isinstance(tt, Array):
            local_id, target_id = lt.type_id, tt.type_id
            continue
        return False
    raise _too_deep(local, target, local_id, target_id)


def _names_match(local_name: str, target_name: str) -> bool:
    """An anonymous target matches only an anonymous local; otherwise the essential names must agree."""
    if not target_name:
        return not local_name
    return essential_name(local_name) == essential_name(target_name)


def types_match(local: TypeGraph, local_id: int, target: TypeGraph, target_id: int) -> bool:
    """Whether the target type *matches* the local one (``TYPE_MATCHES``, ``bpf_core_type_matches``).

    With typedefs and modifiers skipped at every level, names must match
    (essential names), and then by kind: integers agree in size and
    signedness; enums (32- or 64-bit) in size, and every local enumerator
    name exists in the target (values are not compared); structs and unions
    are of the same kind and every local member exists in the target with a
    matching type, except behind a pointer, where only the kind is checked
    and a forward declaration of the right kind also matches; pointers and
    arrays (of the same length) by their targets; prototypes by arity,
    parameters and return type.

    Raises:
        ParseError: an id is missing, or the types are cyclic or too deep.
    """
    return _types_match(local, local_id, target, target_id, False, MAX_LEVEL)


def _types_match(
    local: TypeGraph, local_id: int, target: TypeGraph, target_id: int, behind_ptr: bool, level: int
) -> bool:
    where = "a CO-RE type match"
    if level <= 0:
        raise _too_deep(local, target, local_id, target_id)
    for _ in range(MAX_DEPTH):
        lt = _resolved(local, local_id, where)
        tt = _resolved(target, target_id, where)
        if not _names_match(lt.name, tt.name):
            return False
        if lt.kind == Kind.UNKN:
            return tt.kind == Kind.UNKN
        if isinstance(lt, Fwd):
            if isinstance(tt, Fwd):
                return lt.union == tt.union
            # behind a pointer, "struct foo;" also matches the full struct foo
            return behind_ptr and tt.kind == (Kind.UNION if lt.union else Kind.STRUCT)
        if isinstance(lt, Enum):
            return isinstance(tt, Enum) and _enums_match(lt, tt)
        if isinstance(lt, Composite):
            if behind_ptr:
                if tt.kind == lt.kind:
                    return True
                return isinstance(tt, Fwd) and tt.union == isinstance(lt, Union)
            if tt.kind != lt.kind:
                return False
            assert isinstance(tt, Composite)
            return _composites_match(local, lt, target, tt, behind_ptr, level)
        if isinstance(lt, Int):
            return isinstance(tt, Int) and lt.size == tt.size and lt.signed == tt.signed
        if isinstance(lt, Pointer):
            if not isinstance(tt, Pointer):
                return False
            behind_ptr = True
            local_id, target_id = lt.type_id, tt.type_id
            continue
        if isinstance(lt, Array):
            if not isinstance(tt, Array) or lt.nelems != tt.nelems:
                return False
            local_id, target_id = lt.type_id, tt.type_id
            continue
        if isinstance(lt, FuncProto):
            if not isinstance(tt, FuncProto) or len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if not _types_match(local, lp.type_id, target, tp.type_id, behind_ptr, level - 1):
                    return False
            local_id, target_id = lt.return_type_id, tt.return_type_id
            continue
        return False
    raise _too_deep(local, target, local_id, target_id)


def _enums_match(local: Enum, target: Enum) -> bool:
    if local.size != target.size or len(local.values) > len(target.values):
        return False
    return all(any(_names_match(lv.name, tv.name) for tv in target.values) for lv in local.values)


def _composites_match(
    local: TypeGraph, lt: Composite, target: TypeGraph, tt: Composite, behind_ptr: bool, level: int
) -> bool:
    if len(lt.members) > len(tt.members):
        return False
    for lm in lt.members:
        if not any(
            _names_match(lm.name, tm.name)
            and _types_match(local, lm.type_id, target, tm.type_id, behind_ptr, level - 1)
            for tm in tt.members
        ):
            return False
    return True
