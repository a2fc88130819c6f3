"""The CO-RE relocation engine: [`CoreRelocator`][ebpf.btf.CoreRelocator] and its report,
[`CoreResult`][ebpf.btf.CoreResult].

For each relocation (libbpf's ``bpf_core_calc_relo_insn``):

1. The access is parsed against the local BTF (``_co_re_spec.parse_spec``).
2. Candidates are the target types whose *essential* name (the name without
   a ``___flavor`` suffix) equals the local type's, of a compatible kind.
   They are looked up in the main target (vmlinux) first and only when it
   has none in the other targets (kernel modules), and are cached per local
   type: each relocation that matches keeps only the candidates it matched,
   so all relocations of one local type settle on the same target type(s).
3. Each candidate is matched (``_co_re_spec.match_spec``, with the
   compatibility rules of ``_co_re_compat``) and the relocation's value is
   computed for it. Several candidates may match, for instance duplicates
   left by BTF deduplication, but they must agree on the field's bit offset,
   the value and whether to poison; otherwise the relocation is ambiguous
   and [`CoreError`][ebpf.btf.CoreError] is raised.
4. When nothing matches, existence checks give 0, type relocations give 0,
   and everything else poisons its instruction (``_co_re_patch``) so that
   the verifier rejects it only if it can be reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from ebpf.asm import CoreKind, CoreRelocation
from ebpf.syscall.abi import CoreReloKind
from ebpf.syscall.errors import NotSupportedError, ParseError

from ._co_re_compat import essential_name, type_at
from ._co_re_patch import Fixup, patch_instruction
from ._co_re_spec import (
    CoreError,
    Spec,
    format_path,
    match_spec,
    parse_spec,
    path_to_access,
)
from ._encode import BtfBuilder
from ._ext import CoreRelo
from ._graph import TypeGraph
from ._kernel import KernelTypes, kernel_types
from ._types import Composite, Enum, Int, Kind, Pointer, Type

__all__ = ["CoreError", "CoreRelocator", "CoreResult"]

_K = CoreKind
# kinds a placeholder's type name may denote, by its C keyword, in order of preference
_KEYWORD_KINDS: dict[str, tuple[tuple[Kind, ...], ...]] = {
    "struct": ((Kind.STRUCT,),),
    "union": ((Kind.UNION,),),
    "enum": ((Kind.ENUM, Kind.ENUM64),),
    "typedef": ((Kind.TYPEDEF,),),
    "": ((Kind.STRUCT, Kind.UNION), (Kind.ENUM, Kind.ENUM64), (Kind.TYPEDEF,), (Kind.INT, Kind.FLOAT)),
}


@dataclass(frozen=True)
class CoreResult:
    """What one relocation resolved to: a line of the relocation report.

    Attributes:
        insn_index: the instruction's index in the instructions given (8-byte slots).
        kind: the relocation kind.
        local_type: the C name of the local root type (``struct task_struct___mine``).
        access: the access string and a readable path (``0:1 (task_struct___mine.pid)``).
        target: the target type it resolved to (``struct task_struct [id 123] in
            /sys/kernel/btf/vmlinux``) with the target access for field and
            enum relocations, or None when no target type matched.
        local_value: the value for the local types (what clang compiled in;
            0 for a placeholder without a local type).
        target_value: the value written into the instruction, or None when poisoned.
        poisoned: the instruction was replaced by a call to the invalid helper 0xbad2310.
    """

    insn_index: int
    kind: CoreReloKind
    local_type: str
    access: str
    target: str | None
    local_value: int
    target_value: int | None
    poisoned: bool

    def __str__(self) -> str:
        """One line: ``insn 2: field_byte_offset struct t___v1 0:1 (t___v1.pid): 4 -> 1264 (...)``."""
        head = f"insn {self.insn_index}: {self.kind.name.lower()} {self.local_type} {self.access}"
        where = self.target if self.target is not None else "no match in the targets"
        if self.poisoned:
            return f"{head}: poisoned ({where})"
        return f"{head}: {self.local_value} -> {self.target_value} ({where})"


@dataclass(frozen=True)
class _Candidate:
    graph: TypeGraph
    type_id: int

    def describe(self, spec: Spec | None) -> str:
        text = f"{self.graph[self.type_id]} [id {self.type_id}] in {self.graph.name}"
        if spec is not None and spec.raw:
            text += f", access {spec.access}"
        return text


@dataclass(frozen=True)
class _Value:
    """One side's value of a relocation; ``mem_size``/``mem_type``: the field a load/store reads."""

    value: int
    validate: bool = True
    mem_size: int = 0
    mem_type: Type | None = None


# ---------------------------------------------------------------- values


def _field_value(kind: CoreKind, spec: Spec | None, where: str) -> _Value | None:
    """libbpf's ``bpf_core_calc_field_relo``; None asks for poisoning."""
    if kind == _K.FIELD_EXISTS:
        return _Value(1 if spec is not None else 0)
    if spec is None:
        return None
    graph = spec.graph
    last = spec.accessors[-1]
    if last.name is None:
        # the access ends on an array element (or the root): only its offset and size make sense
        size = graph.size_of(last.type_id)
        if kind == _K.FIELD_BYTE_OFFSET:
            return _Value(spec.bit_offset // 8, mem_size=size, mem_type=graph[last.type_id])
        if kind == _K.FIELD_BYTE_SIZE:
            return _Value(size)
        raise CoreError(f"{where}: {kind.name} cannot be applied to an array element")
    holder = graph[last.type_id]
    assert isinstance(holder, Composite)
    member = holder.members[last.index]
    member_type = graph.resolve(member.type_id)
    bit_offset = spec.bit_offset
    bit_size = member.bitfield_size
    bitfield = bit_size > 0
    if bitfield:
        # the smallest naturally aligned load, starting from the declared
        # integer's size, that covers every bit of the bitfield
        if not isinstance(member_type, (Int, Enum)) or member_type.size not in (1, 2, 4, 8):
            raise ParseError(
                f"{graph.name}: {where}: bitfield {member.name!r} is not an integer of 1-8 bytes"
            )
        byte_size = member_type.size
        byte_offset = bit_offset // 8 // byte_size * byte_size
        while bit_offset + bit_size - byte_offset * 8 > byte_size * 8:
            if byte_size >= 8:
                raise CoreError(f"{where}: bitfield {member.name!r} cannot be read with one 64-bit load")
            byte_size *= 2
            byte_offset = bit_offset // 8 // byte_size * byte_size
    else:
        byte_size = graph.size_of(member.type_id)
        byte_offset = bit_offset // 8
        bit_size = byte_size * 8
    # For bitfields the compiler may choose another load than these rules,
    # so only the unambiguous values (signedness, right shift) are checked.
    if kind == _K.FIELD_BYTE_OFFSET:
        if bitfield:
            return _Value(byte_offset, validate=False)
        return _Value(byte_offset, mem_size=byte_size, mem_type=member_type)
    if kind == _K.FIELD_BYTE_SIZE:
        return _Value(byte_size, validate=not bitfield)
    if kind == _K.FIELD_SIGNED:
        signed = isinstance(member_type, (Int, Enum)) and member_type.signed
        return _Value(int(signed))
    if kind == _K.FIELD_LSHIFT_U64:
        # little-endian: shift the field's top bit up to bit 63 of the loaded value
        return _Value(64 - (bit_offset + bit_size - byte_offset * 8), validate=not bitfield)
    # FIELD_RSHIFT_U64: then shift it down so that only its bits remain
    return _Value(64 - bit_size)


def _type_value(kind: CoreKind, spec: Spec | None) -> _Value:
    """libbpf's ``bpf_core_calc_type_relo``: a missing type gives 0, never poison."""
    if spec is None:
        return _Value(0)
    if kind == _K.TYPE_ID_TARGET:
        # ids change when objects are linked: not worth checking
        return _Value(spec.root_id, validate=False)
    if kind in (_K.TYPE_EXISTS, _K.TYPE_MATCHES):
        return _Value(1)
    # TYPE_SIZE
    try:
        return _Value(spec.graph.size_of(spec.root_id))
    except ValueError as exc:
        if isinstance(exc, ParseError):
            raise
        raise CoreError(f"TYPE_SIZE of {spec.graph[spec.root_id]}: {exc}") from None


def _enum_value(kind: CoreKind, spec: Spec | None) -> _Value | None:
    """libbpf's ``bpf_core_calc_enumval_relo``; None asks for poisoning."""
    if kind == _K.ENUMVAL_EXISTS:
        return _Value(1 if spec is not None else 0)
    if spec is None:
        return None
    accessor = spec.accessors[0]
    enum = spec.graph[accessor.type_id]
    assert isinstance(enum, Enum)
    return _Value(enum.values[accessor.index].value)


def _value(kind: CoreKind, spec: Spec | None, where: str) -> _Value | None:
    if kind.is_field:
        return _field_value(kind, spec, where)
    if kind.is_enum_value:
        return _enum_value(kind, spec)
    return _type_value(kind, spec)


def _resize_is_safe(local: Type | None, target: Type | None) -> bool:
    """A load/store may change size for pointers (32-bit kernels) and unsigned integers (zero extension)."""
    if isinstance(local, Pointer) and isinstance(target, Pointer):
        return True
    return isinstance(local, Int) and isinstance(target, Int) and not local.signed and not target.signed


def _fixup(kind: CoreKind, local: _Value | None, target: _Value | None) -> Fixup:
    """Combine both sides (``local`` None: a placeholder with no local type, nothing to check)."""
    if target is None:
        return Fixup(local.value if local is not None else 0, 0, poison=True)
    if local is None:
        return Fixup(0, target.value, validate=False, local_size=target.mem_size, target_size=target.mem_size)
    unsafe = local.mem_size != target.mem_size and not _resize_is_safe(local.mem_type, target.mem_type)
    return Fixup(
        local.value,
        target.value,
        validate=local.validate,
        local_size=local.mem_size,
        target_size=target.mem_size,
        size_change_unsafe=unsafe,
    )


# ------------------------------------------------------------ candidates


def _candidates_in(graph: TypeGraph, kinds: Sequence[Kind], essential: str) -> list[_Candidate]:
    """This graph's own types of ``kinds`` whose essential name is ``essential``, in id order."""
    # Flavoured target names ("essential___x") are candidates too (a module's
    # types may use names from vmlinux's string section: flavours_of looks
    # in a split graph's bases too). Both lookups are exact and indexed.
    found: set[int] = set()
    for name in (essential, *graph.flavours_of(essential)):
        for kind in kinds:
            found.update(graph.own_ids(name, kind))
            if kind in (Kind.ENUM, Kind.ENUM64):  # a 32-bit ENUM and an ENUM64 stand for each other
                found.update(graph.own_ids(name, Kind.ENUM64 if kind == Kind.ENUM else Kind.ENUM))
    return [_Candidate(graph, type_id) for type_id in sorted(found)]


def _c_keyword(type_name: str) -> tuple[str, str]:
    keyword, _, name = type_name.rpartition(" ")
    return keyword, name


class CoreRelocator:
    """Resolves CO-RE relocations of one object (one local BTF) against target BTF.

    Candidate target types are cached per local type for the relocator's
    lifetime, so every relocation of a local type, over all calls, resolves
    against the same target type(s): use one relocator per object file.

    Examples:
        >>> relocator = CoreRelocator(load_file("prog.o"))             # doctest: +SKIP
        >>> code, report = relocator.relocate(section_bytes, relos)    # doctest: +SKIP
        >>> print(*report, sep="\\n")                                   # doctest: +SKIP
        insn 2: field_byte_offset struct task_struct___mine 0:1 (task_struct___mine.pid): 4 -> 2504 (...)
    """

    def __init__(
        self,
        local: TypeGraph | None = None,
        targets: Sequence[TypeGraph] | None = None,
        *,
        kernel: KernelTypes | None = None,
    ) -> None:
        """Relocate for the types of ``local`` (the object's ``.BTF``) against ``targets``.

        ``local`` may be omitted for ``ebpf.asm`` programs, whose placeholders
        name kernel types directly (an empty graph stands in).

        ``targets`` default to the running kernel's types: vmlinux, then
        every loaded module's split BTF, from ``kernel`` or else the
        process-wide [`kernel_types()`][ebpf.btf.kernel_types] view (taken
        on first use and kept, so one relocator sees one set of types).
        Otherwise the first target is the main one (an external vmlinux BTF
        for kernels without ``/sys/kernel/btf/vmlinux``:
        ``targets=[load_file(path)]``) and the others are searched only for
        types the main one lacks, as module BTF is.

        Raises:
            ValueError: ``targets`` is given but empty, or together with ``kernel``.
        """
        if targets is not None and not targets:
            raise ValueError("targets must name at least one BTF (or be None for the running kernel's)")
        if targets is not None and kernel is not None:
            raise ValueError("give targets or kernel, not both")
        self.local = local if local is not None else BtfBuilder().graph()
        self._targets: list[TypeGraph] | None = list(targets) if targets is not None else None
        self._kernel = kernel
        self._candidates: dict[object, list[_Candidate]] = {}
        self._resolved: dict[tuple[int, str, CoreKind], tuple[str, str, Fixup, str | None]] = {}

    # ------------------------------------------------------------ targets

    def _kernel_types(self) -> KernelTypes:
        if self._kernel is None:
            self._kernel = kernel_types()
        return self._kernel

    def _main_target(self) -> TypeGraph:
        if self._targets is not None:
            return self._targets[0]
        try:
            return self._kernel_types().vmlinux
        except NotSupportedError as exc:
            raise NotSupportedError(
                exc.feature,
                exc.version,
                "CO-RE needs target BTF: pass targets=[load_file(path)] with a BTF file for this kernel",
            ) from exc

    def _other_targets(self) -> Iterator[TypeGraph]:
        if self._targets is not None:
            yield from self._targets[1:]
            return
        for _name, graph in self._kernel_types().modules():
            yield graph

    def _search(self, kinds: Sequence[Kind], name: str) -> list[_Candidate]:
        essential = essential_name(name)
        found = _candidates_in(self._main_target(), kinds, essential)
        if found:
            return found
        return [cand for graph in self._other_targets() for cand in _candidates_in(graph, kinds, essential)]

    # ------------------------------------------------------------- public

    def relocate(
        self, instructions: bytes, relocations: Sequence[CoreRelo]
    ) -> tuple[bytes, list[CoreResult]]:
        """Apply ``relocations`` (``insn_off``: byte offsets into ``instructions``).

        Returns:
            The patched instructions and one [`CoreResult`][ebpf.btf.CoreResult] per relocation, in order.

        Raises:
            ParseError: malformed input: instructions that are not whole
                8-byte slots, an ``insn_off`` that is misaligned or outside
                them, a record whose type id or access string does not fit
                the local BTF, malformed local or target BTF.
            CoreError: ambiguous candidates, an instruction that does not
                hold the expected value or cannot take the new one, an
                anonymous local type.
            NotSupportedError: no target was given and the kernel has no BTF.
        """
        buf = bytearray(instructions)
        if len(buf) % 8:
            raise ParseError(f"CO-RE: {len(buf)} bytes of instructions is not a whole number of 8-byte slots")
        results = []
        for number, relo in enumerate(relocations):
            kind = CoreKind(relo.kind)
            where = f"CO-RE relocation #{number} ({kind.name} at byte {relo.insn_off})"
            if relo.insn_off % 8 or not 0 <= relo.insn_off < len(buf):
                raise ParseError(f"{where}: the offset is not an instruction of the {len(buf)} bytes given")
            index = relo.insn_off // 8
            # Programs that inline the same helpers repeat the same records:
            # each distinct one is resolved once (the candidates of its type
            # only narrow afterwards, to targets that gave the same answer).
            key = (relo.type_id, relo.access, kind)
            resolved = self._resolved.get(key)
            if resolved is None:
                local_spec = parse_spec(self.local, relo.type_id, relo.access, kind)
                resolved = self._resolve(local_spec, relo.access, validate=True, where=where)
                self._resolved[key] = resolved
            results.append(self._patch(buf, index, kind, *resolved, where))
        return bytes(buf), results

    def relocate_placeholders(
        self, instructions: bytes, placeholders: Sequence[tuple[int, CoreRelocation]]
    ) -> tuple[bytes, list[CoreResult]]:
        """The same for ``ebpf.asm`` placeholders: (instruction index, record) pairs.

        A record names its type (``"task_struct"``, ``"struct task_struct"``)
        and access by name (``"pid"``, ``"sched_info.pcount"``, an enumerator)
        or raw (``"0:1"``). When the local BTF has a type of that name, the
        record is resolved exactly like clang's (the names become indexes in
        the local type, whose layout and shape are compared with the
        target's). Otherwise the name denotes the kernel's type itself: its
        candidates are the target types of that essential name, and names
        are looked up directly in them (``local_value`` is then 0);
        ``TYPE_ID_LOCAL`` and ``TYPE_MATCHES`` need the local type. The
        placeholder's current value is never checked.

        Raises:
            ValueError: an index outside the instructions.
            ParseError, CoreError, NotSupportedError: as for [`relocate()`][ebpf.btf.CoreRelocator.relocate];
                CoreError also for ``TYPE_ID_LOCAL``/``TYPE_MATCHES`` of a
                type the local BTF lacks.
        """
        buf = bytearray(instructions)
        if len(buf) % 8:
            raise ParseError(f"CO-RE: {len(buf)} bytes of instructions is not a whole number of 8-byte slots")
        results = []
        for index, record in placeholders:
            where = f"CO-RE placeholder '{record}' at instruction {index}"
            if not 0 <= index < len(buf) // 8:
                raise ValueError(f"{where}: the index is outside the {len(buf) // 8} instructions given")
            kind = CoreKind(int(record.kind))
            keyword, name = _c_keyword(record.type_name)
            local = self._local_type(keyword, name)
            if local is None:
                results.append(self._apply_by_name(buf, index, kind, keyword, name, record.access, where))
                continue
            access = path_to_access(self.local, local.id, kind, record.access)
            if access is None:
                raise CoreError(f"{where}: {local} has no {record.access!r} in {self.local.name}")
            local_spec = parse_spec(self.local, local.id, access, kind)
            resolved = self._resolve(local_spec, record.access, validate=False, where=where)
            results.append(self._patch(buf, index, kind, *resolved, where))
        return bytes(buf), results

    # ------------------------------------------------------------ engine

    def _resolve(
        self, local_spec: Spec, access: str, *, validate: bool, where: str
    ) -> tuple[str, str, Fixup, str | None]:
        """Resolve ``local_spec`` against the targets.

        Returns the local type's C name, the readable access, the fixup and
        the description of the target it matched (None when none did).
        """
        kind = local_spec.kind
        root = type_at(self.local, local_spec.root_id, where)
        readable = access if kind.is_type else f"{access} ({format_path(local_spec, root.name or '<anon>')})"
        if kind == _K.TYPE_ID_LOCAL:
            # the local id itself: no target involved, and linking may have renumbered it
            fixup = Fixup(local_spec.root_id, local_spec.root_id, validate=False)
            return str(root), readable, fixup, f"{root} in {self.local.name}"
        if not root.name:
            raise CoreError(
                f"{where}: the local type id {root.id} is anonymous: no name to find it by in the target"
            )
        local_value = _value(kind, local_spec, where)
        assert local_value is not None  # only a missing spec asks for poison

        def calculate(spec: Spec | None) -> Fixup:
            fixup = _fixup(kind, local_value, _value(kind, spec, where))
            # a placeholder holds no compiled value to check
            return fixup if validate else replace(fixup, validate=False)

        fixup, described = self._select(
            local_spec.root_id,
            lambda: self._search((root.kind,), root.name),
            lambda cand: match_spec(local_spec, cand.graph, cand.type_id),
            calculate,
            where,
        )
        return str(root), readable, fixup, described

    def _apply_by_name(
        self, buf: bytearray, index: int, kind: CoreKind, keyword: str, name: str, access: str, where: str
    ) -> CoreResult:
        """Resolve a placeholder whose type the local BTF lacks by names, in the target types themselves."""
        if kind in (_K.TYPE_ID_LOCAL, _K.TYPE_MATCHES):
            raise CoreError(f"{where}: {kind.name} needs the type in the local BTF ({self.local.name})")
        groups = _KEYWORD_KINDS[keyword]  # CoreRelocation admits only these keywords

        def search() -> list[_Candidate]:
            for kinds in groups:
                found = self._search(kinds, name)
                if found:
                    return found
            return []

        def match(cand: _Candidate) -> Spec | None:
            raw = path_to_access(cand.graph, cand.type_id, kind, access)
            if raw is None:
                return None
            try:
                return parse_spec(cand.graph, cand.type_id, raw, kind)
            except ParseError:
                return None  # an index outside this candidate: it does not have the field

        fixup, described = self._select(
            ("by name", keyword, name),
            search,
            match,
            lambda spec: _fixup(kind, None, _value(kind, spec, where)),
            where,
        )
        type_name = f"{keyword} {name}" if keyword else name
        return self._patch(buf, index, kind, type_name, access, fixup, described, where)

    def _select(
        self,
        key: object,
        search: Callable[[], list[_Candidate]],
        match: Callable[[_Candidate], Spec | None],
        calculate: Callable[[Spec | None], Fixup],
        where: str,
    ) -> tuple[Fixup, str | None]:
        """Match every cached candidate, check that the matches agree, prune the cache to them.

        Returns the fixup and the description of the (first) matching target, None when none matched.
        """
        candidates = self._candidates.get(key)
        if candidates is None:
            candidates = self._candidates[key] = search()
        chosen: tuple[Fixup, Spec, _Candidate] | None = None
        kept = []
        for cand in candidates:
            spec = match(cand)
            if spec is None:
                continue
            fixup = calculate(spec)
            if chosen is None:
                chosen = (fixup, spec, cand)
            elif spec.bit_offset != chosen[1].bit_offset or (fixup.poison, fixup.target_value) != (
                chosen[0].poison,
                chosen[0].target_value,
            ):
                first, other = chosen[2].describe(chosen[1]), cand.describe(spec)
                raise CoreError(
                    f"{where}: ambiguous: {first} gives {_outcome(chosen[0])} at bit offset "
                    f"{chosen[1].bit_offset}, {other} gives {_outcome(fixup)} at bit offset {spec.bit_offset}"
                )
            kept.append(cand)
        if chosen is None:
            # Nothing matched: keep the candidates (an existence check may
            # be what found nothing) and compute the "not found" answer.
            return calculate(None), None
        self._candidates[key] = kept
        extra = f" (+{len(kept) - 1} equivalent)" if len(kept) > 1 else ""
        return chosen[0], chosen[2].describe(chosen[1]) + extra

    @staticmethod
    def _patch(
        buf: bytearray,
        index: int,
        kind: CoreKind,
        local_type: str,
        access: str,
        fixup: Fixup,
        target: str | None,
        where: str,
    ) -> CoreResult:
        poisoned = patch_instruction(buf, index, fixup, where)
        return CoreResult(
            insn_index=index,
            kind=CoreReloKind(kind),
            local_type=local_type,
            access=access,
            target=target,
            local_value=fixup.local_value,
            target_value=None if poisoned else fixup.target_value,
            poisoned=poisoned,
        )

    def _local_type(self, keyword: str, name: str) -> Type | None:
        """The local type a placeholder names, preferring composites, then enums, typedefs, scalars."""
        found = self.local.find_all(name)
        for kinds in _KEYWORD_KINDS[keyword]:
            for t in found:
                if t.kind in kinds:
                    return t
        return None


def _outcome(fixup: Fixup) -> str:
    return "poison" if fixup.poison else str(fixup.target_value)
