"""CO-RE access specifications: what a relocation points at, locally and in a target.

An access string (``"0:1:2"``) is a list of indexes starting from the
relocation's root type: the first is an element index (``&p[0]``, as if the
root were reached through a pointer), each next one a member index when the
current type is a struct or union, or an element index when it is an array.
Parsing it against the local BTF gives two views (libbpf's
``bpf_core_parse_spec``):

- the *raw* spec: every index, including those that step through anonymous
  (unnamed) struct/union members;
- the *accessors*: only the semantically meaningful steps, the named members
  and array elements, which are what must be found again in the target.

Matching (``bpf_core_spec_match``) walks the target type by the accessors:
a named member is looked up by name (descending into anonymous members,
which may differ between the two sides), its type must be field-compatible,
and an array index must be in bounds (except in a flexible array member).
Along the way the target's raw spec and bit offset are rebuilt.

For enum value relocations the single accessor is the enumerator, matched by
essential name; type relocations have no accessors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ebpf.asm import CoreKind
from ebpf.syscall.errors import EbpfError, ParseError

from ._co_re_compat import essential_name, fields_are_compatible, type_at, types_are_compatible, types_match
from ._graph import TypeGraph
from ._types import Array, Composite, Enum, Type

__all__ = [
    "MAX_SPEC_LEN",
    "Accessor",
    "CoreError",
    "Spec",
    "format_path",
    "match_spec",
    "parse_spec",
    "path_to_access",
]

#: the most indexes an access string may have (libbpf's ``BPF_CORE_SPEC_MAX_LEN``)
MAX_SPEC_LEN = 64

_ACCESS = re.compile(r"^\d{1,10}(?::\d{1,10})*$")
_PATH_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d{1,10}\])*)$")
_INDEX = re.compile(r"\[(\d+)\]")


class CoreError(EbpfError):
    """A CO-RE relocation cannot be applied safely.

    Raised for ambiguity (candidate target types that disagree on a
    relocation's value), for an instruction that does not hold what the
    relocation expects or cannot carry the new value, and for relocations
    the engine cannot compute (an anonymous local type, a bitfield that no
    64-bit load can reach). A relocation that merely finds nothing in the
    target is *not* an error: its instruction is poisoned.
    """


@dataclass(frozen=True)
class Accessor:
    """One meaningful step of an access.

    For a named member: ``type_id`` is the (resolved) struct/union holding
    it and ``index`` its position there; for an array element (and the
    first, implicit element of the root): ``type_id`` is the (resolved)
    element type and ``name`` is None; for an enumerator: the enum and the
    enumerator's position.
    """

    type_id: int
    index: int
    name: str | None


@dataclass
class Spec:
    """A relocation's access resolved in one graph: raw indexes, accessors and the bit offset."""

    graph: TypeGraph
    root_id: int
    kind: CoreKind
    raw: list[int] = field(default_factory=list)
    accessors: list[Accessor] = field(default_factory=list)
    bit_offset: int = 0

    @property
    def access(self) -> str:
        """The raw spec as an access string (``"0:1:2"``)."""
        return ":".join(str(i) for i in self.raw)


def _size(graph: TypeGraph, type_id: int, where: str) -> int:
    try:
        return graph.size_of(type_at(graph, type_id, where))
    except ValueError as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError(f"{graph.name}: {where}: {exc}") from None


def _is_flex_array(graph: TypeGraph, last: Accessor | None, array: Array) -> bool:
    """Whether ``array`` is a flexible array member: zero-length, the last named member of a struct."""
    if last is None or last.name is None or array.nelems > 0:
        return False
    holder = graph[last.type_id]
    return isinstance(holder, Composite) and last.index == len(holder.members) - 1


def parse_spec(graph: TypeGraph, root_id: int, access: str, kind: CoreKind) -> Spec:
    """Parse ``access`` for a relocation of ``kind`` rooted at type ``root_id`` of ``graph``.

    Raises:
        ParseError: the access string is malformed or too long, the root
            type does not exist or does not fit the kind (an enum kind on a
            struct), an index is outside its struct, enum or array, or a
            step goes into a type that has no members or elements.
    """
    where = f"CO-RE {kind.name} relocation of type id {root_id} with access {access!r}"
    root = type_at(graph, root_id, where)
    spec = Spec(graph, root_id, kind)
    if kind.is_type:
        # type-based relocations carry no field access, only "0"
        if access != "0":
            raise ParseError(f"{graph.name}: {where}: a type relocation's access string must be '0'")
        return spec
    if not _ACCESS.match(access):
        raise ParseError(f"{graph.name}: {where}: not an access string of ':'-separated indexes")
    raw = [int(part) for part in access.split(":")]
    if len(raw) > MAX_SPEC_LEN:
        raise ParseError(f"{graph.name}: {where}: more than {MAX_SPEC_LEN} indexes")
    spec.raw = raw
    current = graph.resolve(root)
    if kind.is_enum_value:
        if not isinstance(current, Enum) or len(raw) != 1 or raw[0] >= len(current.values):
            raise ParseError(f"{graph.name}: {where}: not the index of an enumerator of an enum")
        spec.accessors.append(Accessor(current.id, raw[0], current.values[raw[0]].name))
        return spec
    # the root is accessed as element raw[0] of an implicit array: &p[raw[0]]
    spec.accessors.append(Accessor(current.id, raw[0], None))
    spec.bit_offset = raw[0] * _size(graph, current.id, where) * 8
    type_id = current.id
    for index in raw[1:]:
        current = graph.resolve(type_at(graph, type_id, where))
        if isinstance(current, Composite):
            if index >= len(current.members):
                raise ParseError(f"{graph.name}: {where}: {current} has no member {index}")
            member = current.members[index]
            spec.bit_offset += member.bit_offset
            if member.name:  # anonymous members are steps of the raw spec only
                spec.accessors.append(Accessor(current.id, index, member.name))
            type_id = member.type_id
        elif isinstance(current, Array):
            element = graph.resolve(type_at(graph, current.type_id, where))
            if index >= current.nelems and not _is_flex_array(graph, spec.accessors[-1], current):
                raise ParseError(f"{graph.name}: {where}: index {index} is outside {current}")
            spec.accessors.append(Accessor(element.id, index, None))
            spec.bit_offset += index * _size(graph, element.id, where) * 8
            type_id = element.id
        else:
            raise ParseError(
                f"{graph.name}: {where}: {current} ({current.kind.name}) has no members or elements"
            )
    return spec


def match_spec(local: Spec, target: TypeGraph, target_id: int) -> Spec | None:
    """The local spec found again in the target type ``target_id``, or None when it is not there.

    Type relocations match when the types are compatible (``TYPE_MATCHES``:
    when they match); enum value relocations when the target enum has an
    enumerator of the same essential name; field relocations when every
    named member is found by name with a compatible type and every array
    index is within bounds.

    Raises:
        ParseError: the target BTF is malformed (missing ids, no size, cycles).
        CoreError: the target nests anonymous members deeper than
            ``MAX_SPEC_LEN`` levels.
    """
    where = f"CO-RE {local.kind.name} relocation candidate"
    spec = Spec(target, target_id, local.kind)
    if local.kind.is_type:
        if local.kind == CoreKind.TYPE_MATCHES:
            found = types_match(local.graph, local.root_id, target, target_id)
        else:
            found = types_are_compatible(local.graph, local.root_id, target, target_id)
        return spec if found else None
    if local.kind.is_enum_value:
        current = target.resolve(type_at(target, target_id, where))
        wanted = local.accessors[0].name or ""
        if not isinstance(current, Enum):
            return None
        for index, value in enumerate(current.values):
            if essential_name(value.name) == essential_name(wanted):
                spec.accessors.append(Accessor(current.id, index, value.name))
                spec.raw.append(index)
                return spec
        return None
    type_id = target_id
    for position, accessor in enumerate(local.accessors):
        current = target.resolve(type_at(target, type_id, where))
        if accessor.name is not None:
            found_id = _match_member(local, accessor, target, current, spec)
            if found_id is None:
                return None
            type_id = found_id
            continue
        if position > 0:
            # the first accessor is the root itself, later ones step into an array
            if not isinstance(current, Array):
                return None
            last = spec.accessors[-1] if spec.accessors else None
            if accessor.index >= current.nelems and not _is_flex_array(target, last, current):
                return None
            current = target.resolve(type_at(target, current.type_id, where))
        if len(spec.raw) >= MAX_SPEC_LEN:
            raise CoreError(f"{target.name}: {where}: access nests deeper than {MAX_SPEC_LEN} levels")
        spec.accessors.append(Accessor(current.id, accessor.index, None))
        spec.raw.append(accessor.index)
        spec.bit_offset += accessor.index * _size(target, current.id, where) * 8
        type_id = current.id
    return spec


def _match_member(
    local: Spec, accessor: Accessor, target: TypeGraph, current: Type, spec: Spec
) -> int | None:
    """Find the local named member in ``current`` (a resolved target type), descending into
    anonymous members; extend ``spec`` and return the member's type id, or None if absent."""
    if not isinstance(current, Composite):
        return None
    holder = local.graph[accessor.type_id]
    assert isinstance(holder, Composite)
    local_member = holder.members[accessor.index]
    for index, member in enumerate(current.members):
        if len(spec.raw) >= MAX_SPEC_LEN:
            raise CoreError(
                f"{target.name}: looking for member {accessor.name!r}: anonymous members nest "
                f"deeper than {MAX_SPEC_LEN} levels"
            )
        # speculate that this member is (or leads to) the one we look for
        spec.raw.append(index)
        spec.bit_offset += member.bit_offset
        if not member.name:
            inner = target.resolve(type_at(target, member.type_id, "an anonymous member"))
            found = _match_member(local, accessor, target, inner, spec)
            if found is not None:
                return found
        elif member.name == accessor.name:
            if fields_are_compatible(local.graph, local_member.type_id, target, member.type_id):
                spec.accessors.append(Accessor(current.id, index, member.name))
                return member.type_id
            # a same-named member of an incompatible type ends the search at
            # this level (names are unique within one struct); an enclosing
            # level may still find it in another anonymous member
            spec.raw.pop()
            spec.bit_offset -= member.bit_offset
            return None
        spec.raw.pop()
        spec.bit_offset -= member.bit_offset
    return None


def path_to_access(graph: TypeGraph, root_id: int, kind: CoreKind, path: str) -> str | None:
    """The raw access string for a named ``path`` in type ``root_id``, or None if a name is missing.

    ``path`` is what ``ebpf.asm`` placeholders carry: ``"pid"``,
    ``"sched_info.pcount"``, ``"args[2]"`` for field kinds (members are
    looked up by exact name, descending into anonymous members), the
    enumerator's name for enum kinds; an access that already is raw
    (``"0:1"``) is returned unchanged.

    Raises:
        ParseError: the graph is malformed.
    """
    if _ACCESS.match(path) or kind.is_type:
        return path
    where = f"CO-RE path {path!r}"
    current = graph.resolve(type_at(graph, root_id, where))
    if kind.is_enum_value:
        if not isinstance(current, Enum):
            return None
        names = [value.name for value in current.values]
        return str(names.index(path)) if path in names else None
    raw = [0]
    for part in path.split("."):
        parsed = _PATH_PART.match(part)
        if parsed is None:
            return None
        steps = _find_member(graph, current, parsed.group(1), 0)
        if steps is None:
            return None
        type_id = steps[-1][1]
        raw.extend(index for index, _ in steps)
        for index_text in _INDEX.findall(parsed.group(2)):
            array = graph.resolve(type_at(graph, type_id, where))
            if not isinstance(array, Array):
                return None
            raw.append(int(index_text))
            type_id = array.type_id
        current = graph.resolve(type_at(graph, type_id, where))
    return ":".join(str(i) for i in raw)


def _find_member(graph: TypeGraph, current: Type, name: str, depth: int) -> list[tuple[int, int]] | None:
    """(index, type id) steps to the member ``name`` of ``current``, through anonymous members."""
    if not isinstance(current, Composite) or depth > MAX_SPEC_LEN:
        return None
    for index, member in enumerate(current.members):
        if member.name == name:
            return [(index, member.type_id)]
        if not member.name:
            inner = graph.resolve(type_at(graph, member.type_id, "an anonymous member"))
            found = _find_member(graph, inner, name, depth + 1)
            if found is not None:
                return [(index, member.type_id), *found]
    return None


def format_path(spec: Spec, root_name: str) -> str:
    """A C-like view of the access: ``task_struct.pid``, ``x[2].a[3]``, ``pid_type::PIDTYPE_PGID``."""
    if spec.kind.is_type or not spec.accessors:
        return root_name
    if spec.kind.is_enum_value:
        return f"{root_name}::{spec.accessors[0].name}"
    text = root_name
    for position, accessor in enumerate(spec.accessors):
        if accessor.name is not None:
            text += f".{accessor.name}"
        elif position > 0 or accessor.index > 0:
            text += f"[{accessor.index}]"
    return text
