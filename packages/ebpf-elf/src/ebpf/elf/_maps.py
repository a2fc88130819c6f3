"""Maps of a BPF object: BTF-defined (``.maps``), legacy (``maps``) and global data sections.

BTF-defined maps are read like libbpf's ``parse_btf_map_def``: each
variable of the ``.maps`` DATASEC is an anonymous struct whose members encode
the definition in their *types*, because the values are not in the object:

- ``__uint(name, N)`` is ``int (*name)[N]``: the number is the array length;
- ``__type(name, T)`` is ``T *name``: the key or value type;
- ``__array(values, T)`` is ``T *values[]``: the initial contents of a
  map-in-map (``T`` is the inner map's definition) or a program array
  (``T`` is a function type), given by relocations in ``.rel.maps``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ebpf.btf import Array, Composite, Datasec, Enum, FuncProto, Int, Pointer, Struct, TypeGraph, Var
from ebpf.maps import BtfCodec, Codec, LpmKeyCodec, MapSpec, PinType, i8, i16, i32, i64, u8, u16, u32, u64
from ebpf.syscall.abi import MapType
from ebpf.syscall.errors import ParseError
from ebpf.syscall.flags import MapFlags

from ._elf import ElfFile, ElfRelocation, ElfSection, ElfSymbol, SymbolType

__all__ = [
    "ParsedMap",
    "btf_maps",
    "data_map",
    "kernel_name",
    "legacy_maps",
]

#: Map types created without BTF key/value type ids, as libbpf's ``bpf_object__create_map`` does:
#: the kernel rejects BTF for them (their values are descriptors or have no type).
NO_BTF_TYPES = frozenset(
    {
        MapType.PERF_EVENT_ARRAY,
        MapType.CGROUP_ARRAY,
        MapType.STACK_TRACE,
        MapType.ARRAY_OF_MAPS,
        MapType.HASH_OF_MAPS,
        MapType.DEVMAP,
        MapType.DEVMAP_HASH,
        MapType.CPUMAP,
        MapType.XSKMAP,
        MapType.SOCKMAP,
        MapType.SOCKHASH,
        MapType.QUEUE,
        MapType.STACK,
        MapType.RINGBUF,
        MapType.USER_RINGBUF,
        MapType.PROG_ARRAY,
    }
)

_INT_FIELDS = (
    "type",
    "max_entries",
    "map_flags",
    "numa_node",
    "key_size",
    "value_size",
    "map_extra",
    "pinning",
)
_LEGACY_DEF = 20  # struct bpf_map_def: type, key_size, value_size, max_entries, map_flags
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.]")
_MAX_NAME = 15
_PTR_SIZE = 8


def kernel_name(name: str) -> str:
    """The name given to the kernel: at most 15 bytes of ``[A-Za-z0-9_.]`` (libbpf truncates too)."""
    return _NAME_CHARS.sub("_", name)[:_MAX_NAME]


@dataclass(frozen=True)
class ParsedMap:
    """A map read from the object, with the initial contents that name other objects.

    ``initial`` maps slots of a program array to program names, or slots of
    a map-in-map to map names (libbpf's ``values = { ... }``).
    """

    name: str
    spec: MapSpec
    initial: Mapping[int, str] = field(default_factory=dict)


_INT_CODECS: dict[tuple[int, bool], Codec[int]] = {
    (1, False): u8,
    (2, False): u16,
    (4, False): u32,
    (8, False): u64,
    (1, True): i8,
    (2, True): i16,
    (4, True): i32,
    (8, True): i64,
}


class _BtfLpmKeyCodec(LpmKeyCodec):
    """The key of an LPM trie whose BTF key type is a struct (``{ __u32 prefixlen; ... data; }``).

    Keys are what [`LpmKeyCodec`][ebpf.maps.LpmKeyCodec] takes (IP networks and addresses for 4- and
    16-byte data, ``(prefixlen, data)`` pairs) and decode as it decodes them,
    so [`LpmTrieMap.longest_match()`][ebpf.maps.LpmTrieMap.longest_match] works; a dict of the struct's
    members is accepted too.
    """

    def __init__(self, struct_codec: BtfCodec) -> None:
        super().__init__(struct_codec.size - 4)
        self.struct_codec = struct_codec

    def encode(self, value: Any) -> bytes:
        """The key's bytes; a ``Mapping`` is encoded as the BTF struct.

        Raises:
            TypeError, ValueError: what [`LpmKeyCodec.encode()`][ebpf.maps.LpmKeyCodec.encode] or
                [`BtfCodec.encode()`][ebpf.maps.BtfCodec.encode] raise.
        """
        if isinstance(value, Mapping):
            return self.struct_codec.encode(value)
        return super().encode(value)

    def describe(self) -> str:
        return f"{super().describe()} ({self.struct_codec.describe()})"


def _btf_codec(graph: TypeGraph, type_id: int, map_type: MapType | int = MapType.UNSPEC) -> Codec[Any] | None:
    """The codec of a key or value by its BTF type: ``u32``, ``i64``... for integers and enums
    (the fast path), [`BtfCodec`][ebpf.maps.BtfCodec] for structs, unions and arrays (dicts and lists).

    The key of an LPM trie keeps the trie's codec (prefixes, ``longest_match()``):
    the kernel fixes its layout, a ``__u32`` prefix length then the data.
    """
    if not type_id:
        return None
    t = graph.resolve(type_id)
    if isinstance(t, (Int, Enum)):
        return _INT_CODECS.get((t.size, t.signed))
    if isinstance(t, (Composite, Array)):
        codec = BtfCodec(graph, t)
        if map_type == MapType.LPM_TRIE and isinstance(t, Composite) and codec.size > 4:
            return _BtfLpmKeyCodec(codec)
        return codec
    return None


def _map_type(value: int) -> MapType | int:
    try:
        return MapType(value)
    except ValueError:
        return value


def _spec(what: str, **kwargs: object) -> MapSpec:
    try:
        return MapSpec(**kwargs)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise ParseError(f"{what}: {exc}") from None


class _BtfMapReader:
    """Reads map definitions out of BTF struct types."""

    def __init__(self, graph: TypeGraph, object_name: str) -> None:
        self.graph = graph
        self.object_name = object_name

    def _int_field(self, where: str, member_type: int) -> int:
        pointer = self.graph.resolve(member_type)
        target = self.graph.resolve(pointer.type_id) if isinstance(pointer, Pointer) else None
        if not isinstance(target, Array):
            raise ParseError(f"{where}: expected __uint(...) (a pointer to an array), got {pointer}")
        return target.nelems

    def definition(
        self, name: str, def_type: int, *, inner: bool = False
    ) -> tuple[MapSpec, int | None, bool]:
        """``(spec, byte offset of the values member or None, values are programs)`` of one definition.

        Raises:
            ParseError: not a struct, an unknown member, a bad pinning or key/value mismatch.
        """
        where = f"{self.object_name}: map {name!r}"
        struct_type = self.graph.resolve(def_type)
        if not isinstance(struct_type, Struct):
            raise ParseError(
                f"{where}: the definition is a {struct_type.kind.name}, not a struct (type id {def_type})"
            )
        ints: dict[str, int] = {}
        key_type = value_type = 0
        values_offset: int | None = None
        values_are_programs = False
        inner_spec: MapSpec | None = None
        for member in struct_type.members:
            mwhere = f"{where}: member {member.name!r}"
            if member.name in _INT_FIELDS:
                ints[member.name] = self._int_field(mwhere, member.type_id)
            elif member.name in ("key", "value"):
                pointer = self.graph.resolve(member.type_id)
                if not isinstance(pointer, Pointer):
                    raise ParseError(f"{mwhere}: expected __type(...) (a pointer), got {pointer}")
                if member.name == "key":
                    key_type = pointer.type_id
                else:
                    value_type = pointer.type_id
            elif member.name == "values":
                array = self.graph.resolve(member.type_id)
                element = self.graph.resolve(array.type_id) if isinstance(array, Array) else None
                if not isinstance(element, Pointer):
                    raise ParseError(f"{mwhere}: expected __array(values, ...) (an array of pointers)")
                pointee = self.graph.resolve(element.type_id)
                values_offset = member.byte_offset
                if isinstance(pointee, FuncProto):
                    values_are_programs = True
                elif isinstance(pointee, Struct):
                    if inner:
                        raise ParseError(f"{mwhere}: an inner map cannot hold maps itself")
                    inner_spec, _, _ = self.definition(f"{name}.inner", pointee.id, inner=True)
                else:
                    raise ParseError(f"{mwhere}: values must point to a map definition or a function type")
            else:
                raise ParseError(
                    f"{mwhere}: unknown map definition field (known: "
                    f"{', '.join((*_INT_FIELDS, 'key', 'value', 'values'))})"
                )
        if "type" not in ints:
            raise ParseError(f"{where}: the definition has no type (__uint(type, BPF_MAP_TYPE_...))")
        map_type = _map_type(ints["type"])
        key_size = ints.get("key_size")
        value_size = ints.get("value_size")
        for what, type_id, given in (("key", key_type, key_size), ("value", value_type, value_size)):
            if type_id:
                try:
                    size = self.graph.size_of(type_id)
                except ValueError as exc:  # void, a function...: no size
                    raise ParseError(f"{where}: the {what} type has no size ({exc})") from None
                if given is not None and given != size:
                    raise ParseError(
                        f"{where}: {what}_size {given} disagrees with the {what} type ({size} bytes)"
                    )
                if what == "key":
                    key_size = size
                else:
                    value_size = size
        pinning = ints.get("pinning", 0)
        if pinning not in (0, 1):
            raise ParseError(f"{where}: unknown pinning {pinning} (0: none, 1: LIBBPF_PIN_BY_NAME)")
        # an inner map template is created on its own by ebpf.maps, without the object's BTF
        with_btf = map_type not in NO_BTF_TYPES and not inner
        spec = _spec(
            where,
            type=map_type,
            name=kernel_name(name),
            key=_btf_codec(self.graph, key_type, map_type) if with_btf else None,
            value=_btf_codec(self.graph, value_type) if with_btf else None,
            key_size=key_size,
            value_size=value_size,
            max_entries=ints.get("max_entries", 0),
            flags=ints.get("map_flags", 0),
            inner_map=inner_spec,
            pinning=PinType.BY_NAME if pinning else PinType.NONE,
            numa_node=ints.get("numa_node"),
            map_extra=ints.get("map_extra", 0),
            btf_key_type_id=key_type if with_btf else 0,
            btf_value_type_id=value_type if with_btf else 0,
            check_sizes=False,  # sized by user space before loading: checked by Map.create
        )
        return spec, values_offset, values_are_programs


def btf_maps(
    elf: ElfFile,
    section: ElfSection,
    graph: TypeGraph,
    symbols: list[ElfSymbol],
    relocations: list[ElfRelocation],
) -> list[ParsedMap]:
    """The maps of the ``.maps`` section, described by the ``.maps`` DATASEC of ``graph``.

    Raises:
        ParseError: no ``.maps`` DATASEC, a variable without its ELF symbol, a
            malformed definition, or a ``values`` relocation that is not a map
            or program symbol.
    """
    reader = _BtfMapReader(graph, elf.name)
    datasec = next((t for t in graph.of_kind(Datasec.kind) if t.name == ".maps"), None)
    if not isinstance(datasec, Datasec):
        raise ParseError(f"{elf.name}: {section} has no .maps DATASEC in BTF (compiled without -g?)")
    by_name = {
        sym.name: sym for sym in symbols if sym.shndx == section.index and sym.type != SymbolType.SECTION
    }
    maps: list[ParsedMap] = []
    for secinfo in datasec.vars:
        var = graph[secinfo.type_id]
        if not isinstance(var, Var):
            raise ParseError(f"{elf.name}: .maps DATASEC entry type id {secinfo.type_id} is not a VAR")
        symbol = by_name.get(var.name)
        if symbol is None:
            raise ParseError(f"{elf.name}: map {var.name!r} has no symbol in {section}")
        spec, values_offset, to_programs = reader.definition(var.name, var.type_id)
        initial: dict[int, str] = {}
        if values_offset is not None:
            start = symbol.value + values_offset
            end = symbol.value + max(symbol.size, graph.size_of(var.type_id))
            for relo in relocations:
                if not start <= relo.offset < end:
                    continue
                if (relo.offset - start) % _PTR_SIZE:
                    raise ParseError(
                        f"{elf.name}: map {var.name!r}: values relocation at {relo.offset} is misaligned"
                    )
                if not 0 <= relo.symbol < len(symbols):
                    raise ParseError(
                        f"{elf.name}: .rel.maps: relocation at offset {relo.offset} names symbol "
                        f"{relo.symbol}, past the {len(symbols)} symbols"
                    )
                target = symbols[relo.symbol]
                wanted = SymbolType.FUNC if to_programs else SymbolType.OBJECT
                if target.type != wanted or (not to_programs and target.shndx != section.index):
                    kind = "a program" if to_programs else "a map of .maps"
                    raise ParseError(
                        f"{elf.name}: map {var.name!r}: initial value {target.name!r} is not {kind}"
                    )
                initial[(relo.offset - start) // _PTR_SIZE] = target.name
        maps.append(ParsedMap(var.name, spec, initial))
    return maps


def legacy_maps(elf: ElfFile, section: ElfSection, symbols: list[ElfSymbol]) -> list[ParsedMap]:
    """The ``struct bpf_map_def`` definitions of a legacy ``maps`` section, named by their symbols.

    Like libbpf before 1.0, every definition has the same size: the section
    size divided by the number of symbols in it. Fields past the five
    standard ones must be zero.

    Raises:
        ParseError: definitions smaller than ``struct bpf_map_def``, or with unknown non-zero fields.
    """
    data = elf.section_data(section)
    named = sorted(
        (
            sym
            for sym in symbols
            if sym.shndx == section.index and sym.type in (SymbolType.OBJECT, SymbolType.NOTYPE) and sym.name
        ),
        key=lambda sym: sym.value,
    )
    if not named:
        return []
    size = len(data) // len(named)
    if size < _LEGACY_DEF or len(data) % len(named):
        raise ParseError(
            f"{elf.name}: {section}: {len(data)} bytes for {len(named)} maps: each definition must be "
            f"the same size, at least {_LEGACY_DEF} bytes (struct bpf_map_def)"
        )
    unpack = struct.Struct("<5I" if elf.little_endian else ">5I").unpack_from
    maps = []
    for sym in named:
        where = f"{elf.name}: legacy map {sym.name!r} at offset {sym.value} of {section}"
        if sym.value % size or sym.value + size > len(data):
            raise ParseError(f"{where}: not at a definition boundary ({size}-byte definitions)")
        map_type, key_size, value_size, max_entries, flags = unpack(data, sym.value)
        if any(data[sym.value + _LEGACY_DEF : sym.value + size]):
            raise ParseError(f"{where}: unknown fields after struct bpf_map_def are not zero")
        spec = _spec(
            where,
            type=_map_type(map_type),
            name=kernel_name(sym.name),
            key_size=key_size,
            value_size=value_size,
            max_entries=max_entries,
            flags=flags,
            check_sizes=False,
        )
        maps.append(ParsedMap(sym.name, spec))
    return maps


def data_map(elf: ElfFile, section: ElfSection, datasec: Datasec | None, *, readonly: bool) -> ParsedMap:
    """The one-element array map holding global data section ``section``, as libbpf creates it.

    ``.rodata*`` maps are read-only for programs (``BPF_F_RDONLY_PROG``) and
    frozen once written, so the verifier can treat their contents as
    constants; every data map is mmap-able so user space reads and writes
    variables in place.

    Raises:
        ParseError: the section lies outside the file.
    """
    data = elf.section_data(section)
    flags = MapFlags.MMAPABLE | (MapFlags.RDONLY_PROG if readonly else MapFlags.NONE)
    spec = _spec(
        f"{elf.name}: {section}",
        type=MapType.ARRAY,
        name=kernel_name(section.name),
        key_size=4,
        value_size=len(data),
        max_entries=1,
        flags=flags,
        btf_value_type_id=datasec.id if datasec is not None else 0,
        contents=((0, data),) if any(data) else (),
        freeze=readonly,
    )
    return ParsedMap(section.name, spec)
