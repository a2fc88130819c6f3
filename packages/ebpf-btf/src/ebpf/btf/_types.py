"""The BTF type model: one frozen dataclass per kind.

Types refer to each other by id (``type_id``), as BTF does; the
[`TypeGraph`][ebpf.btf.TypeGraph] they came from resolves ids, and each type keeps
a reference to it (``graph``, not compared, not shown) so that ``member.type``,
``pointer.target`` and ``str(t)`` work. A type built by hand without a graph
has ``graph=None``; following its references then raises ``LookupError``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ebpf.syscall.abi import FuncLinkage

if TYPE_CHECKING:
    from ._graph import TypeGraph

__all__ = [
    "Array",
    "Composite",
    "Const",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Float",
    "Func",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "Kind",
    "Member",
    "Param",
    "Pointer",
    "Restrict",
    "Struct",
    "Type",
    "TypeTag",
    "Typedef",
    "Union",
    "Var",
    "VarLinkage",
    "VarSecinfo",
    "Void",
    "Volatile",
]


class Kind(enum.IntEnum):
    """``BTF_KIND_*``."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class IntEncoding(enum.IntFlag):
    """``BTF_INT_*``: how an INT's bits are interpreted (none set: unsigned)."""

    SIGNED = 1
    CHAR = 2
    BOOL = 4


_UNSIGNED = IntEncoding(0)


class VarLinkage(enum.IntEnum):
    """``BTF_VAR_*``: a VAR's linkage."""

    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


def _follow(graph: TypeGraph | None, type_id: int, owner: object) -> Type:
    if graph is None:
        raise LookupError(f"{owner!r} belongs to no TypeGraph: cannot follow type id {type_id}")
    return graph[type_id]


@dataclass(frozen=True, slots=True)
class Type:
    """Base of every BTF type: its id in its graph and its name ("" when anonymous)."""

    kind: ClassVar[Kind] = Kind.UNKN

    id: int
    name: str
    graph: TypeGraph | None = field(default=None, compare=False, repr=False, kw_only=True)

    def __str__(self) -> str:
        """The type in C syntax (``struct task_struct *``, ``int (*)(void *)``)."""
        from ._c_decl import type_to_c

        return type_to_c(self)


@dataclass(frozen=True, slots=True)
class Void(Type):
    """Type id 0: ``void`` (not a record in BTF, implied)."""

    kind: ClassVar[Kind] = Kind.UNKN


@dataclass(frozen=True, slots=True)
class Int(Type):
    """``BTF_KIND_INT``: an integer, char or bool of ``size`` bytes.

    ``bits`` is the number of value bits and ``offset`` their start; the
    kernel's own ints always have ``offset == 0`` and ``bits == 8 * size``.
    """

    kind: ClassVar[Kind] = Kind.INT

    size: int
    encoding: IntEncoding = _UNSIGNED
    bits: int = 0
    offset: int = 0

    @property
    def signed(self) -> bool:
        """Whether the integer is signed."""
        return bool(self.encoding & IntEncoding.SIGNED)


@dataclass(frozen=True, slots=True)
class _Ref(Type):
    """A type whose record holds one other type id (``type_id``)."""

    type_id: int

    @property
    def type(self) -> Type:
        """The referenced type.

        Raises:
            LookupError: this type belongs to no graph.
            KeyError: the id is not in the graph.
        """
        return _follow(self.graph, self.type_id, self)


@dataclass(frozen=True, slots=True)
class Pointer(_Ref):
    """``BTF_KIND_PTR``: a pointer to ``type`` (``type_id`` 0: ``void *``)."""

    kind: ClassVar[Kind] = Kind.PTR


@dataclass(frozen=True, slots=True)
class Typedef(_Ref):
    """``BTF_KIND_TYPEDEF``: ``name`` stands for ``type``."""

    kind: ClassVar[Kind] = Kind.TYPEDEF


@dataclass(frozen=True, slots=True)
class Volatile(_Ref):
    """``BTF_KIND_VOLATILE``: ``volatile type``."""

    kind: ClassVar[Kind] = Kind.VOLATILE


@dataclass(frozen=True, slots=True)
class Const(_Ref):
    """``BTF_KIND_CONST``: ``const type``."""

    kind: ClassVar[Kind] = Kind.CONST


@dataclass(frozen=True, slots=True)
class Restrict(_Ref):
    """``BTF_KIND_RESTRICT``: ``restrict type``."""

    kind: ClassVar[Kind] = Kind.RESTRICT


@dataclass(frozen=True, slots=True)
class TypeTag(_Ref):
    """``BTF_KIND_TYPE_TAG``: ``__attribute__((btf_type_tag(name)))`` on ``type`` (5.17+).

    ``attribute`` is the ``kind_flag``: the tag is a plain C attribute rather
    than a btf_type_tag (6.13+).
    """

    kind: ClassVar[Kind] = Kind.TYPE_TAG

    attribute: bool = False


@dataclass(frozen=True, slots=True)
class Func(_Ref):
    """``BTF_KIND_FUNC``: a function named ``name`` whose ``type`` is a [`FuncProto`][ebpf.btf.FuncProto]."""

    kind: ClassVar[Kind] = Kind.FUNC

    linkage: FuncLinkage = FuncLinkage.STATIC


@dataclass(frozen=True, slots=True)
class Var(_Ref):
    """``BTF_KIND_VAR``: a global or static variable of ``type``."""

    kind: ClassVar[Kind] = Kind.VAR

    linkage: VarLinkage = VarLinkage.STATIC


@dataclass(frozen=True, slots=True)
class DeclTag(_Ref):
    """``BTF_KIND_DECL_TAG``: ``btf_decl_tag(name)`` on ``type`` or on its member/param ``component_idx``.

    ``component_idx`` is -1 when the tag applies to the type itself (5.16+);
    ``attribute`` is the ``kind_flag``: the tag is a plain C attribute (6.13+).
    """

    kind: ClassVar[Kind] = Kind.DECL_TAG

    component_idx: int = -1
    attribute: bool = False


@dataclass(frozen=True, slots=True)
class Array(Type):
    """``BTF_KIND_ARRAY``: ``nelems`` elements of ``type_id``, indexed by ``index_type_id``."""

    kind: ClassVar[Kind] = Kind.ARRAY

    type_id: int
    index_type_id: int
    nelems: int

    @property
    def type(self) -> Type:
        """The element type (raises ``LookupError`` without a graph)."""
        return _follow(self.graph, self.type_id, self)


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a struct or union.

    ``bit_offset`` counts from the start of the enclosing type;
    ``bitfield_size`` is 0 for a plain member. Both come from the
    ``kind_flag`` encoding when the struct has it; without it a bitfield is
    described by an INT type with ``bits``/``offset`` instead (old encoding),
    and `bitfield_size` is 0 like libbpf's ``btf_member_bitfield_size``.
    """

    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0
    graph: TypeGraph | None = field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def byte_offset(self) -> int:
        """``bit_offset // 8`` (the byte holding the member's first bit)."""
        return self.bit_offset // 8

    @property
    def type(self) -> Type:
        """The member's type (raises ``LookupError`` without a graph)."""
        return _follow(self.graph, self.type_id, self)


@dataclass(frozen=True, slots=True)
class Composite(Type):
    """A struct or union of ``size`` bytes.

    ``kind_flag`` says whether members carry their bitfield size (see [`Member`][ebpf.btf.Member]).
    """

    size: int
    members: tuple[Member, ...] = ()
    kind_flag: bool = False

    def member(self, name: str) -> Member:
        """The member called ``name`` (direct members only; anonymous ones have name "").

        Raises:
            KeyError: no such member.
        """
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(f"{self} has no member {name!r}")


@dataclass(frozen=True, slots=True)
class Struct(Composite):
    """``BTF_KIND_STRUCT``."""

    kind: ClassVar[Kind] = Kind.STRUCT


@dataclass(frozen=True, slots=True)
class Union(Composite):
    """``BTF_KIND_UNION``."""

    kind: ClassVar[Kind] = Kind.UNION


@dataclass(frozen=True, slots=True)
class EnumValue:
    """An enumerator: its name and value (negative for signed enums)."""

    name: str
    value: int


@dataclass(frozen=True, slots=True)
class Enum(Type):
    """``BTF_KIND_ENUM``: 32-bit (or smaller) enumerators; ``signed`` is the ``kind_flag`` (6.0+)."""

    kind: ClassVar[Kind] = Kind.ENUM

    size: int
    values: tuple[EnumValue, ...] = ()
    signed: bool = False

    def value(self, name: str) -> int:
        """The value of enumerator ``name``.

        Raises:
            KeyError: no such enumerator.
        """
        for value in self.values:
            if value.name == name:
                return value.value
        raise KeyError(f"{self} has no enumerator {name!r}")


@dataclass(frozen=True, slots=True)
class Enum64(Enum):
    """``BTF_KIND_ENUM64``: 64-bit enumerators (6.0+)."""

    kind: ClassVar[Kind] = Kind.ENUM64


@dataclass(frozen=True, slots=True)
class Fwd(Type):
    """``BTF_KIND_FWD``: a forward declaration of a struct, or a union when ``union``."""

    kind: ClassVar[Kind] = Kind.FWD

    union: bool = False


@dataclass(frozen=True, slots=True)
class Param:
    """A function parameter; name "" and type 0 as the last one means ``...``."""

    name: str
    type_id: int
    graph: TypeGraph | None = field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def type(self) -> Type:
        """The parameter's type (raises ``LookupError`` without a graph)."""
        return _follow(self.graph, self.type_id, self)


@dataclass(frozen=True, slots=True)
class FuncProto(Type):
    """``BTF_KIND_FUNC_PROTO``: a signature (always anonymous); ``return_type_id`` 0 is ``void``."""

    kind: ClassVar[Kind] = Kind.FUNC_PROTO

    return_type_id: int
    params: tuple[Param, ...] = ()

    @property
    def return_type(self) -> Type:
        """The return type (raises ``LookupError`` without a graph)."""
        return _follow(self.graph, self.return_type_id, self)

    @property
    def variadic(self) -> bool:
        """Whether the signature ends with ``...``."""
        return bool(self.params) and self.params[-1].type_id == 0 and not self.params[-1].name


@dataclass(frozen=True, slots=True)
class VarSecinfo:
    """A variable or function placed in a DATASEC at ``offset``, taking ``size`` bytes."""

    type_id: int
    offset: int
    size: int
    graph: TypeGraph | None = field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def type(self) -> Type:
        """The VAR or FUNC (raises ``LookupError`` without a graph)."""
        return _follow(self.graph, self.type_id, self)


@dataclass(frozen=True, slots=True)
class Datasec(Type):
    """``BTF_KIND_DATASEC``: an ELF data section (``.data``, ``.bss``, ``.rodata``, ``.maps``, ...)."""

    kind: ClassVar[Kind] = Kind.DATASEC

    size: int
    vars: tuple[VarSecinfo, ...] = ()


@dataclass(frozen=True, slots=True)
class Float(Type):
    """``BTF_KIND_FLOAT``: a floating-point type of ``size`` bytes (5.13+)."""

    kind: ClassVar[Kind] = Kind.FLOAT

    size: int
