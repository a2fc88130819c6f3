"""struct_ops maps of a BPF object (``SEC(".struct_ops")``, ``SEC(".struct_ops.link")``), the way libbpf
reads, lays out and registers them.

A global variable in one of these sections is a kernel "ops" struct that
the object implements (``struct tcp_congestion_ops`` for a TCP congestion
control, ``struct sched_ext_ops``...): its function pointer members point
at ``SEC("struct_ops/...")`` programs of the object (by relocations in
``.rel.struct_ops``), its other members hold data (a name, flags). Each
variable becomes a ``BPF_MAP_TYPE_STRUCT_OPS`` map of one element, named
after the variable:

- at parse ([`StructOpsSpec`][ebpf.elf.StructOpsSpec], libbpf's
  ``init_struct_ops_maps`` and ``bpf_object__collect_st_ops_relos``): the
  struct's bytes as the object initialises them, and which program each
  function pointer names; each such program gets ``attach_to =
  "<struct>:<member>"``. A map from ``.struct_ops.link`` has
  ``MapFlags.LINK``.
- at load (libbpf's ``bpf_map__init_kern_struct_ops``): the kernel's struct
  and its value type ``struct bpf_struct_ops_<struct>`` are found in vmlinux
  BTF. The map is created with that value type
  (``btf_vmlinux_value_type_id``) and its size; the value is laid out as the
  kernel's struct, each data member copied from the object's by *name* (the
  object may declare only some members, in any order, as long as each one's
  size matches the kernel's). Member programs are loaded as
  ``BPF_PROG_TYPE_STRUCT_OPS`` programs whose ``attach_btf_id`` is the kernel
  struct and ``expected_attach_type`` the member's index in it.
- at attach ([`Collection.attach_struct_ops()`][ebpf.elf.Collection.attach_struct_ops]):
  each program's descriptor is written at its member and the value stored
  at key 0; see [`ebpf.progs.attach_struct_ops()`][ebpf.progs.attach_struct_ops]
  for how that registers the ops and what unregisters them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

from ebpf.btf import (
    Datasec,
    FuncProto,
    Kind,
    Member,
    Pointer,
    Struct,
    TypeGraph,
    Var,
    kernel_modules_with_btf,
    load_module,
    load_vmlinux,
)
from ebpf.maps import MapSpec
from ebpf.progs import ProgramSpec
from ebpf.syscall import LibraryLimitError, NotSupportedError, ProgType
from ebpf.syscall.abi import MapType
from ebpf.syscall.errors import ParseError
from ebpf.syscall.flags import MapFlags

from ._elf import ElfFile, ElfRelocation, ElfSection, ElfSymbol, SymbolType
from ._linker import Function
from ._maps import kernel_name
from ._variables import Value, codec_for

__all__ = [
    "STRUCT_OPS_SECTIONS",
    "KernelStructOps",
    "StructOpsLoad",
    "StructOpsSpec",
    "kernel_struct_ops",
    "parse_struct_ops",
    "prepare_struct_ops",
]

logger = logging.getLogger("ebpf.elf")

STRUCT_OPS = ".struct_ops"
STRUCT_OPS_LINK = ".struct_ops.link"
#: The sections whose variables are struct_ops maps.
STRUCT_OPS_SECTIONS = (STRUCT_OPS, STRUCT_OPS_LINK)
#: The kernel's name of a struct_ops value type is this prefix and the ops struct's name.
VALUE_PREFIX = "bpf_struct_ops_"
_PTR_SIZE = 8


def essential_name(name: str) -> str:
    """``name`` without a ``___flavor`` suffix (``tcp_congestion_ops___v2`` -> ``tcp_congestion_ops``)."""
    cut = name.find("___")
    return name if cut <= 0 else name[:cut]


@dataclass
class StructOpsSpec:
    """A struct_ops map of a [`CollectionSpec`][ebpf.elf.CollectionSpec]: kernel ops the object implements.

    The map itself is ``spec.maps[name]`` (``MapType.STRUCT_OPS``); this
    says what goes in it. Edit data members before loading with
    [`set()`][ebpf.elf.StructOpsSpec.set] (``ops.set("name", b"my_cc")``), or
    point a member at another struct_ops program of the spec in `programs`.

    Attributes:
        name: the variable's (and the map's) name in the object.
        type_name: the struct's name in the object; the kernel's struct is
            this name without a ``___flavor`` suffix (`kernel_type`).
        section: ``".struct_ops"`` (registered by a map update) or
            ``".struct_ops.link"`` (registered through a bpf_link).
        data: the struct's bytes as the object initialises them, in the
            object's layout (function pointer members are zero).
        programs: function pointer member -> name of the program it points at.
        btf: the object's BTF, which describes the struct.
        type_id: the struct's id in `btf`.
    """

    name: str
    type_name: str
    section: str
    data: bytes
    programs: dict[str, str]
    btf: TypeGraph = field(repr=False)
    type_id: int = field(repr=False)

    @property
    def link(self) -> bool:
        """Whether the ops are registered through a bpf_link (``.struct_ops.link``, ``MapFlags.LINK``)."""
        return self.section == STRUCT_OPS_LINK

    @property
    def kernel_type(self) -> str:
        """The kernel struct these ops implement (``"tcp_congestion_ops"``)."""
        return essential_name(self.type_name)

    def _struct(self) -> Struct:
        found = self.btf[self.type_id]
        assert isinstance(found, Struct)  # checked when parsed
        return found

    def _data_member(self, member: str) -> tuple[Member, int]:
        try:
            found = self._struct().member(member)
        except KeyError:
            names = [m.name for m in self._struct().members]
            raise KeyError(
                f"struct {self.type_name} of {self.name!r} has no member {member!r}; it has {names}"
            ) from None
        if found.bitfield_size or found.bit_offset % 8:
            raise ValueError(f"{self.name}.{member} is a bitfield, which struct_ops do not support")
        if isinstance(self.btf.resolve(found.type_id), Pointer):
            raise ValueError(
                f"{self.name}.{member} is a pointer: point it at a program in programs[{member!r}] instead"
            )
        return found, self.btf.size_of(found.type_id)

    def get(self, member: str) -> Value:
        """The value of data member ``member`` (an ``int``, a ``float`` or ``bytes``).

        Raises:
            KeyError: the struct has no such member.
            ValueError: the member is a function pointer or a bitfield.
        """
        found, size = self._data_member(member)
        return codec_for(self.btf[found.type_id], size).decode(
            self.data[found.byte_offset : found.byte_offset + size]
        )

    def set(self, member: str, value: Value) -> None:
        """Set data member ``member`` (``char`` arrays take shorter ``bytes``, padded with zeros).

        Raises:
            KeyError: the struct has no such member.
            ValueError: the member is a function pointer or a bitfield, or
                ``value`` does not fit it.
            TypeError: ``value`` is not of the member's kind.
        """
        found, size = self._data_member(member)
        raw = codec_for(self.btf[found.type_id], size).encode(value, f"{self.name}.{member}")
        start = found.byte_offset
        self.data = self.data[:start] + raw + self.data[start + size :]


# ------------------------------------------------------------------ parsing


def parse_struct_ops(
    elf: ElfFile,
    btf: TypeGraph | None,
    relocations: Mapping[int, ElfSection],
    symbols: list[ElfSymbol],
    functions: Collection[Function],
    programs: Mapping[str, ProgramSpec],
    maps: Collection[str] = (),
) -> tuple[dict[str, StructOpsSpec], dict[str, MapSpec], dict[str, ProgramSpec]]:
    """The struct_ops of ``elf``: their specs, their maps and their programs with ``attach_to`` set.

    Args:
        btf: the object's BTF with DATASEC offsets filled in (``fixup_btf``).
        relocations: relocation tables by the index of the section they apply to.
        functions: every function of the code sections.
        programs: the object's programs by name.
        maps: the names of the object's other maps.

    Returns:
        ``(struct_ops, maps, programs)``: the specs and map specs by
        variable name, and the programs some member points at, updated.

    Raises:
        ParseError: a struct_ops section without BTF or DATASEC, a variable
            that is not a named struct or lies outside its section, or a
            relocation that does not put a struct_ops program of the object
            in a function pointer member (or reuses one program for two
            different members), or a variable named like another map.
    """
    found: dict[str, StructOpsSpec] = {}
    new_maps: dict[str, MapSpec] = {}
    targets: dict[str, str] = {}
    by_location = {(f.section, f.offset): f for f in functions}
    for section in elf.sections:
        if section.name not in STRUCT_OPS_SECTIONS:
            continue
        where = f"{elf.name}: {section}"
        if btf is None:
            raise ParseError(f"{where}: struct_ops need BTF, and the object has none (compile with -g)")
        datasec = next((t for t in btf.of_kind(Kind.DATASEC) if t.name == section.name), None)
        if not isinstance(datasec, Datasec):
            raise ParseError(f"{where}: no {section.name} DATASEC in the object's BTF")
        data = elf.section_data(section)
        in_section: list[tuple[int, StructOpsSpec]] = []
        for info in datasec.vars:
            var = btf[info.type_id]
            if not isinstance(var, Var):
                raise ParseError(f"{where}: DATASEC entry type id {info.type_id} is not a VAR")
            struct = btf.resolve(var.type_id)
            vwhere = f"{where}: variable {var.name!r}"
            if not isinstance(struct, Struct):
                raise ParseError(f"{vwhere}: a struct_ops variable must be a struct, not {struct.kind.name}")
            if not struct.name:
                raise ParseError(f"{vwhere}: an anonymous struct names no kernel struct")
            if info.offset + struct.size > len(data):
                raise ParseError(
                    f"{vwhere}: {struct.size} bytes at offset {info.offset} go past the section's {len(data)}"
                )
            ops = StructOpsSpec(
                var.name,
                struct.name,
                section.name,
                data[info.offset : info.offset + struct.size],
                {},
                btf,
                struct.id,
            )
            if var.name in found or var.name in maps:
                raise ParseError(f"{vwhere}: another map of the object has that name")
            found[var.name] = ops
            in_section.append((info.offset, ops))
            new_maps[var.name] = MapSpec(
                MapType.STRUCT_OPS,
                kernel_name(var.name),
                key_size=4,
                value_size=struct.size,  # the object's; the kernel's value type decides at load
                max_entries=1,
                flags=MapFlags.LINK if section.name == STRUCT_OPS_LINK else MapFlags.NONE,
            )
        table = relocations.get(section.index)
        for relo in elf.relocations(table) if table is not None else []:
            _place_program(elf, section, data, relo, symbols, by_location, programs, in_section, targets)
    updated = {name: replace(programs[name], attach_to=target) for name, target in targets.items()}
    return found, new_maps, updated


def _place_program(
    elf: ElfFile,
    section: ElfSection,
    data: bytes,
    relo: ElfRelocation,
    symbols: list[ElfSymbol],
    by_location: Mapping[tuple[int, int], Function],
    programs: Mapping[str, ProgramSpec],
    in_section: list[tuple[int, StructOpsSpec]],
    targets: dict[str, str],
) -> None:
    """Record the program relocation ``relo`` puts in a function pointer member."""
    where = f"{elf.name}: {section}: relocation at byte {relo.offset}"
    ops_at = next(
        ((start, ops) for start, ops in in_section if start <= relo.offset < start + len(ops.data)), None
    )
    if ops_at is None:
        raise ParseError(f"{where}: no struct_ops variable there")
    start, ops = ops_at
    if not 0 <= relo.symbol < len(symbols):
        raise ParseError(f"{where}: symbol index {relo.symbol} is past the {len(symbols)} symbols")
    sym = symbols[relo.symbol]
    moff = relo.offset - start
    member = next((m for m in ops._struct().members if m.bit_offset == moff * 8), None)
    if member is None:
        raise ParseError(f"{where}: no member of struct {ops.type_name} starts at byte {moff}")
    mwhere = f"{where}: {ops.name}.{member.name}"
    pointer = ops.btf.resolve(member.type_id)
    if not isinstance(pointer, Pointer) or not isinstance(ops.btf.resolve(pointer.type_id), FuncProto):
        raise ParseError(f"{mwhere}: only function pointer members can point at programs")
    offset = sym.value
    if sym.type == SymbolType.SECTION:  # REL: the addend is in the relocated bytes
        offset += int.from_bytes(
            data[relo.offset : relo.offset + _PTR_SIZE], "little" if elf.little_endian else "big"
        )
    function = by_location.get((sym.shndx, offset)) if not sym.undefined else None
    if function is None:
        raise ParseError(f"{mwhere}: {sym.name or 'the symbol'!r} is not a function of the object")
    program = programs.get(function.name)
    if program is None:
        raise ParseError(
            f"{mwhere}: {function.name!r} is a subprogram of {function.section_name}, not a program"
        )
    if program.type != ProgType.STRUCT_OPS:
        raise ParseError(
            f"{mwhere}: program {function.name!r} is a {program.type.name} program "
            f"(section {function.section_name!r}), not struct_ops"
        )
    target = f"{ops.kernel_type}:{member.name}"
    if targets.setdefault(function.name, target) != target:
        raise ParseError(
            f"{mwhere}: program {function.name!r} is already {targets[function.name]}; "
            "a struct_ops program serves one member of one struct"
        )
    ops.programs[member.name] = function.name


# ------------------------------------------------------------------ loading


@dataclass(frozen=True)
class KernelStructOps:
    """A struct_ops map laid out for the running kernel.

    Attributes:
        name: the map's name in the collection.
        kernel_type: the kernel's ops struct (``"tcp_congestion_ops"``).
        value_type_id: the vmlinux id of ``struct bpf_struct_ops_<kernel_type>``.
        value: the map's element with the data members filled in and every
            function pointer zero.
        slots: byte offset in `value` -> the program whose descriptor goes there.
    """

    name: str
    kernel_type: str
    value_type_id: int
    value: bytes
    slots: Mapping[int, str]

    def map_spec(self, spec: MapSpec) -> MapSpec:
        """``spec`` with the kernel's value type and size."""
        return replace(spec, value_size=len(self.value), btf_vmlinux_value_type_id=self.value_type_id)

    def value_with(self, fds: Mapping[str, int]) -> bytes:
        """`value` with each slot's program descriptor (from ``fds``, by program name); a program
        missing from ``fds`` leaves its member NULL."""
        value = bytearray(self.value)
        for offset, program in self.slots.items():
            fd = fds.get(program)
            if fd is not None:
                value[offset : offset + _PTR_SIZE] = fd.to_bytes(_PTR_SIZE, sys.byteorder)
        return bytes(value)


def kernel_struct_ops(ops: StructOpsSpec, kernel: TypeGraph | None = None) -> KernelStructOps:
    """Lay ``ops`` out as the kernel's ``struct bpf_struct_ops_<struct>`` value.

    Args:
        ops: the object's ops.
        kernel: the kernel's types (default: the running kernel's vmlinux BTF).

    Raises:
        NotSupportedError: the kernel has no BTF, or no such struct_ops type.
        LibraryLimitError: the type is a kernel module's (this library registers
            vmlinux struct_ops only).
        ValueError: a member the object sets that the kernel struct lacks,
            or whose kind or size differs from the kernel's, a bitfield, or a
            program in a member that is not a function pointer in the kernel.
    """
    what = f"struct_ops {ops.name!r} (struct {ops.type_name})"
    graph = kernel if kernel is not None else load_vmlinux()
    kern_type = _find_struct(graph, ops.kernel_type)
    kern_vtype = _find_struct(graph, VALUE_PREFIX + ops.kernel_type)
    if kern_type is None or kern_vtype is None:
        if kernel is None:
            _refuse_module_type(ops.kernel_type, what)
        raise NotSupportedError(
            f"struct_ops type {ops.kernel_type!r}",
            None,
            f"{what}: the kernel's BTF has no struct {ops.kernel_type} "
            f"with a {VALUE_PREFIX}{ops.kernel_type} value type",
        )
    data_member = next((m for m in kern_vtype.members if m.type_id == kern_type.id), None)
    if data_member is None:
        raise NotSupportedError(
            f"struct_ops type {ops.kernel_type!r}",
            None,
            f"{VALUE_PREFIX}{ops.kernel_type} holds no struct {ops.kernel_type}",
        )
    value = bytearray(kern_vtype.size)
    data_off = data_member.byte_offset
    slots: dict[int, str] = {}
    kern_members = {m.name: (i, m) for i, m in enumerate(kern_type.members) if m.name}
    for member in ops._struct().members:
        mwhere = f"{what}: member {member.name!r}"
        size = ops.btf.size_of(member.type_id)
        mdata = ops.data[member.byte_offset : member.byte_offset + size]
        program = ops.programs.get(member.name)
        found = kern_members.get(member.name)
        if found is None:
            if program is not None or any(mdata):
                raise ValueError(f"{mwhere}: the kernel's struct {ops.kernel_type} has no such member")
            logger.debug("%s: not in the kernel's struct, and zero: skipped", mwhere)
            continue
        _, kern_member = found
        if (
            member.bitfield_size
            or kern_member.bitfield_size
            or member.bit_offset % 8
            or kern_member.bit_offset % 8
        ):
            raise ValueError(f"{mwhere}: bitfields are not supported in struct_ops (libbpf refuses them too)")
        local_t = ops.btf.resolve(member.type_id)
        kern_t = graph.resolve(kern_member.type_id)
        if local_t.kind != kern_t.kind:
            raise ValueError(
                f"{mwhere}: a {local_t.kind.name} in the object, a {kern_t.kind.name} in the kernel"
            )
        at = data_off + kern_member.byte_offset
        if isinstance(local_t, Pointer):
            if program is None:
                continue  # a NULL pointer: the kernel takes the member as unset
            assert isinstance(kern_t, Pointer)
            if not isinstance(graph.resolve(kern_t.type_id), FuncProto):
                raise ValueError(f"{mwhere}: the kernel's member is not a function pointer")
            slots[at] = program
            continue
        kern_size = graph.size_of(kern_member.type_id)
        if kern_size != size:
            raise ValueError(f"{mwhere}: {size} bytes in the object, {kern_size} in the kernel")
        value[at : at + size] = mdata
    return KernelStructOps(ops.name, ops.kernel_type, kern_vtype.id, bytes(value), slots)


def _find_struct(graph: TypeGraph, name: str) -> Struct | None:
    for found in graph.find_all(name, Kind.STRUCT):
        if isinstance(found, Struct) and found.id >= graph.first_id:
            return found
    return None


def _refuse_module_type(kernel_type: str, what: str) -> None:
    """Raise the library's limit if a kernel module defines ``kernel_type``'s value type."""
    for module in kernel_modules_with_btf():
        try:
            graph = load_module(module)
        except NotSupportedError:
            continue
        if _find_struct(graph, VALUE_PREFIX + kernel_type) is not None:
            raise LibraryLimitError(
                f"{what}: struct {kernel_type} belongs to kernel module {module!r}; this library registers "
                "struct_ops of vmlinux only (a limit of the library, not of the kernel)"
            )


@dataclass(frozen=True)
class StructOpsLoad:
    """What loading a spec's struct_ops takes: the kernel layouts of their maps, the ``attach_to``
    of their programs, and the struct_ops programs no map uses (libbpf does not load those)."""

    layouts: Mapping[str, KernelStructOps] = field(default_factory=dict)
    targets: Mapping[str, str] = field(default_factory=dict)
    unused: frozenset[str] = frozenset()


def prepare_struct_ops(
    struct_ops: Mapping[str, StructOpsSpec],
    maps: Collection[str],
    programs: Mapping[str, ProgramSpec],
    kernel: TypeGraph | None = None,
) -> StructOpsLoad:
    """Lay out for the running kernel (or ``kernel``'s types) the struct_ops whose map is among ``maps``.

    The programs their members point at are loaded for that member
    (``attach_to``); other ``STRUCT_OPS`` programs are not loaded, as libbpf
    turns their autoload off.

    Raises:
        ValueError: a member points at a program the spec does not have, or
            at one that is not a struct_ops program, or one program serves
            two different members; see also [`kernel_struct_ops()`][ebpf.elf._struct_ops.kernel_struct_ops].
        NotSupportedError, LibraryLimitError: see
            [`kernel_struct_ops()`][ebpf.elf._struct_ops.kernel_struct_ops].
    """
    kept = {name: ops for name, ops in struct_ops.items() if name in maps}
    targets: dict[str, str] = {}
    for ops in kept.values():
        for member, program in ops.programs.items():
            where = f"struct_ops {ops.name!r}: member {member!r}"
            spec = programs.get(program)
            if spec is None:
                raise ValueError(f"{where} points at program {program!r}, which the spec does not have")
            if spec.type != ProgType.STRUCT_OPS:
                raise ValueError(f"{where} points at {program!r}, a {spec.type.name} program, not struct_ops")
            target = f"{ops.kernel_type}:{member}"
            if targets.setdefault(program, target) != target:
                raise ValueError(f"{where}: program {program!r} already serves {targets[program]}")
    layouts = {name: kernel_struct_ops(ops, kernel) for name, ops in kept.items()}
    unused = frozenset(
        name for name, spec in programs.items() if spec.type == ProgType.STRUCT_OPS and name not in targets
    )
    for name in sorted(unused):
        logger.debug("struct_ops program %r: no struct_ops map uses it, not loaded (as libbpf does)", name)
    return StructOpsLoad(layouts, targets, unused)
