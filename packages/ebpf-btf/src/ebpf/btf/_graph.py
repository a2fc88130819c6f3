"""``TypeGraph``: the queryable, lazily decoded types of one BTF blob."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from ebpf.syscall.errors import ParseError

from ._decode import TypeTable
from ._types import (
    Array,
    Composite,
    Const,
    Datasec,
    Enum,
    Float,
    Func,
    FuncProto,
    Int,
    Kind,
    Pointer,
    Restrict,
    Type,
    Typedef,
    TypeTag,
    Var,
    Void,
    Volatile,
)

__all__ = ["MAX_RESOLVE_DEPTH", "TypeGraph"]

#: how many typedef/const/volatile/restrict/array links are followed before a
#: chain is declared cyclic (libbpf's ``MAX_RESOLVE_DEPTH`` is 32).
MAX_RESOLVE_DEPTH = 32

_QUALIFIERS = (Typedef, Const, Volatile, Restrict, TypeTag)


class TypeGraph:
    """The types of one BTF blob, indexed on load and decoded on first use.

    Loading indexes every record (all ids are reachable at once) without
    decoding any; ``graph[id]``, [`find()`][ebpf.btf.TypeGraph.find] and iteration decode what they
    return and keep it. For split BTF (kernel modules) ids below
    [`first_id`][ebpf.btf.TypeGraph.first_id] are the base's and are found through it.

    Build one with [`ebpf.btf.from_bytes()`][ebpf.btf.from_bytes] or the loaders in
    [`ebpf.btf`][ebpf.btf] rather than directly.
    """

    def __init__(self, data: bytes | memoryview, base: TypeGraph | None = None, *, name: str = "BTF") -> None:
        """Index ``data`` (a raw BTF blob), on top of ``base`` for split BTF.

        A ``memoryview`` is read in place and must stay valid as long as
        the graph (a mapping that is never unmapped).

        Raises:
            ParseError: the blob is malformed.
        """
        self.name = name
        self.base = base
        self._table: TypeTable = TypeTable(data, base._table if base is not None else None, name)
        self._cache: dict[int, Type] = {}
        self._aligns: dict[int, int] = {}  # align_of of each type asked, and of what it resolves to, by id
        self._void = Void(0, "", graph=self)

    # ------------------------------------------------------------- basics

    @property
    def data(self) -> bytes:
        """The raw BTF blob."""
        return self._table.blob()

    @property
    def string_section(self) -> bytes:
        """This blob's own string section (for split BTF, without the base's)."""
        return self._table.strings

    @property
    def first_id(self) -> int:
        """The first type id of this blob (1, or after the base's last id for split BTF)."""
        return self._table.first_id

    @property
    def last_id(self) -> int:
        """The last type id of this blob."""
        return self._table.last_id

    def __len__(self) -> int:
        """How many types this blob holds (not counting ``void`` or the base's)."""
        return self._table.count

    def __iter__(self) -> Iterator[Type]:
        """This blob's types in id order (the base's are not included)."""
        for type_id in range(self.first_id, self.last_id + 1):
            yield self[type_id]

    def __contains__(self, type_id: object) -> bool:
        return isinstance(type_id, int) and 0 <= type_id <= self.last_id

    def __getitem__(self, type_id: int) -> Type:
        """The type with id ``type_id`` (0 is ``void``; base ids go to the base).

        Raises:
            KeyError: no such id.
            ParseError: the record is malformed.
        """
        cached = self._cache.get(type_id)
        if cached is not None:
            return cached
        if type_id == 0:
            return self._void
        if not isinstance(type_id, int) or type_id < 0 or type_id > self.last_id:
            raise KeyError(f"{self.name}: no type id {type_id!r} (ids run 1..{self.last_id})")
        if type_id < self.first_id:
            assert self.base is not None
            return self.base[type_id]
        decoded = self._table.decode(type_id, self)
        self._cache[type_id] = decoded
        return decoded

    def string(self, offset: int) -> str:
        """The string at ``offset`` of the string section (base strings first for split BTF).

        Raises:
            ParseError: out of range or unterminated.
        """
        return self._table.string(offset, "string lookup")

    # ------------------------------------------------------------ queries

    def find_all(self, name: str, kind: Kind | None = None) -> list[Type]:
        """Every type named exactly ``name`` (of ``kind`` if given), base first, in id order.

        The name is searched as a whole string of the string section and its
        offset looked up in an index of the record headers (built on the
        first lookup), so nothing else is decoded.

        Raises:
            ValueError: ``name`` is empty (anonymous types have no name to find).
        """
        if not name:
            raise ValueError("find needs a non-empty name; iterate or use of_kind() for anonymous types")
        found = self.base.find_all(name, kind) if self.base is not None else []
        found.extend(self[type_id] for type_id in self.own_ids(name, kind))
        return found

    def own_ids(self, name: str, kind: Kind | None = None) -> list[int]:
        """Ids of this blob's own types named exactly ``name`` (of ``kind`` if given), in id order.

        Unlike [`find_all()`][ebpf.btf.TypeGraph.find_all] this leaves out a
        split blob's base and decodes nothing.
        """
        if not name:
            return []
        table = self._table
        ids = table.ids_named(name)
        if kind is None:
            return ids
        return [type_id for type_id in ids if table.kind_of(type_id) == kind]

    def flavours_of(self, essential: str) -> list[str]:
        """Names in this blob's strings (and its base's) that are ``essential`` with a CO-RE flavour.

        ``flavours_of("task_struct")`` -> ``["task_struct___old"]`` when the
        strings hold that name (libbpf's ``___flavor`` convention).
        """
        found: list[str] = []
        table: TypeTable | None = self._table
        while table is not None:
            found.extend(table.flavours(essential))
            table = table.base
        return found

    def find(self, name: str, kind: Kind | None = None) -> Type:
        """The first type named ``name`` (of ``kind`` if given).

        ``find("task_struct")`` may return a FWD when one comes first; pass
        ``Kind.STRUCT`` to be sure.

        Raises:
            KeyError: no such type.
            ValueError: ``name`` is empty.
        """
        found = self.find_all(name, kind)
        if not found:
            what = f"{kind.name} " if kind is not None else ""
            raise KeyError(f"{self.name}: no {what}type named {name!r}")
        return found[0]

    def of_kind(self, kind: Kind) -> Iterator[Type]:
        """This blob's types of ``kind``, in id order (others are not decoded)."""
        table = self._table
        for type_id in range(self.first_id, self.last_id + 1):
            if table.kind_of(type_id) == kind:
                yield self[type_id]

    # ------------------------------------------------------ type algebra

    def resolve(self, t: Type | int) -> Type:
        """``t`` with typedefs, const, volatile, restrict and type tags stripped.

        Raises:
            ParseError: the chain is cyclic or longer than ``MAX_RESOLVE_DEPTH``.
        """
        current = self[t] if isinstance(t, int) else t
        for _ in range(MAX_RESOLVE_DEPTH):
            if not isinstance(current, _QUALIFIERS):
                return current
            current = self[current.type_id]
        raise ParseError(f"{self.name}: type id {current.id}: typedef/qualifier chain is cyclic or too deep")

    def size_of(self, t: Type | int) -> int:
        """``sizeof`` the type, through typedefs, qualifiers and arrays.

        Raises:
            ValueError: the type has no size (void, functions, forward declarations).
            ParseError: the chain is cyclic or the size overflows 32 bits.
        """
        current = self[t] if isinstance(t, int) else t
        factor = 1
        for _ in range(MAX_RESOLVE_DEPTH):
            current = self.resolve(current)
            if isinstance(current, Array):
                factor *= current.nelems
                if factor > 0xFFFFFFFF:
                    raise ParseError(f"{self.name}: type id {current.id}: array size overflows 32 bits")
                current = self[current.type_id]
                continue
            if isinstance(current, Pointer):
                return factor * self.pointer_size
            if isinstance(current, (Int, Composite, Enum, Datasec, Float)):
                size = factor * current.size
                if size > 0xFFFFFFFF:
                    raise ParseError(f"{self.name}: type id {current.id}: size overflows 32 bits")
                return size
            if isinstance(current, Var):
                current = self[current.type_id]
                continue
            raise ValueError(f"{self.name}: type id {current.id} ({current.kind.name}) has no size")
        raise ParseError(f"{self.name}: type id {current.id}: array chain is cyclic or too deep")

    def align_of(self, t: Type | int) -> int:
        """The type's alignment, as libbpf's ``btf__align_of`` computes it.

        A struct whose members are not naturally aligned (``__attribute__((packed))``)
        has alignment 1.

        Raises:
            ValueError: the type has no alignment (void, functions, forward declarations).
            ParseError: the type graph is cyclic.
        """
        return self._align_of(t, 0)

    def _align_of(self, t: Type | int, depth: int) -> int:
        if depth > MAX_RESOLVE_DEPTH:
            raise ParseError(f"{self.name}: type {t}: nesting is cyclic or too deep to align")
        if isinstance(t, int):
            known = self._aligns.get(t)  # a typedef's or qualifier's id, asked before
            if known is not None:
                return known
        current = self.resolve(t)
        align = self._aligns.get(current.id)
        if align is None:
            align = self._align_of_resolved(current, depth)
            self._aligns[current.id] = align
        if isinstance(t, int):
            self._aligns[t] = align
        return align

    def _align_of_resolved(self, current: Type, depth: int) -> int:
        if isinstance(current, (Int, Enum, Float)):
            return max(1, min(current.size, self.pointer_size))
        if isinstance(current, Pointer):
            return self.pointer_size
        if isinstance(current, Array):
            return self._align_of(current.type_id, depth + 1)
        if isinstance(current, Composite):
            align = 1
            for member in current.members:
                try:
                    member_align = self._align_of(member.type_id, depth + 1)
                except ValueError as exc:
                    if isinstance(exc, ParseError):
                        raise
                    # A member of a type with no alignment (a VAR, a FUNC): malformed BTF.
                    raise ParseError(
                        f"{self.name}: member {member.name!r} of type {current.id}: {exc}"
                    ) from None
                if member.bitfield_size == 0 and member.bit_offset % (8 * member_align):
                    return 1  # a member off its natural alignment: the struct is packed
                align = max(align, member_align)
            if current.size % align:
                return 1
            return align
        raise ValueError(f"{self.name}: type id {current.id} ({current.kind.name}) has no alignment")

    @functools.cached_property
    def pointer_size(self) -> int:
        """Bytes in a pointer: ``sizeof(long)`` when the BTF has ``long``, else 8 (BPF, 64-bit kernels)."""
        for name in ("long int", "long unsigned int", "long", "unsigned long"):
            for found in self.find_all(name, Kind.INT):
                if isinstance(found, Int) and found.size in (4, 8):
                    return found.size
        return 8

    def func_proto(self, t: Type | int) -> FuncProto:
        """The signature of a FUNC (or a FUNC_PROTO itself).

        Raises:
            TypeError: ``t`` is neither.
            ParseError: a FUNC whose type is not a FUNC_PROTO (malformed BTF).
        """
        current = self[t] if isinstance(t, int) else t
        if isinstance(current, Func):
            proto = self[current.type_id]
            if not isinstance(proto, FuncProto):
                raise ParseError(
                    f"{self.name}: FUNC {current.id} ({current.name!r}) has type {proto.id} "
                    f"({proto.kind.name}), not a FUNC_PROTO"
                )
            return proto
        if not isinstance(current, FuncProto):
            raise TypeError(f"{self.name}: type {current.id} ({current.kind.name}) is not a function")
        return current

    def __repr__(self) -> str:
        base = f", base={self.base.name!r}" if self.base is not None else ""
        return f"TypeGraph({self.name!r}, ids {self.first_id}..{self.last_id}{base})"
