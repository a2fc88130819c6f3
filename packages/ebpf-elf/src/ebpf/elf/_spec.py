"""``CollectionSpec``: the programs, maps, variables and BTF of a BPF object file, as editable data.

Parsing follows libbpf's ``bpf_object__open``: sections are sorted by
purpose, maps are read (BTF-defined, legacy, global data, ``.kconfig``),
relocations are recorded by name, and each program is linked with the
``.text`` subprograms it calls. Nothing touches the kernel: descriptors and
CO-RE are the business of [`Collection.load`][ebpf.elf.Collection.load].
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ebpf.btf import BtfExt, CoreRelo, Datasec, Kind, TypeGraph, Var, from_bytes, parse_btf_ext
from ebpf.maps import MapSpec
from ebpf.progs import ProgramSpec, parse_attach_type, parse_prog_type
from ebpf.syscall import AttachType, ProgType
from ebpf.syscall.errors import ParseError

from ._btf import fixup_btf
from ._elf import ElfFile, ElfSymbol, SymbolType
from ._externs import KCONFIG, Extern, KconfigLayout, kconfig_layout, ksym_externs
from ._linker import Function, link_program
from ._maps import ParsedMap, btf_maps, data_map, kernel_name, legacy_maps
from ._programs import NO_AUTOLOAD, TEXT, functions_of, program_spec, section_references
from ._relocate import Reference
from ._sections import ObjectSections, classify_sections
from ._struct_ops import StructOpsSpec, parse_struct_ops
from ._variables import VariableSpec, with_variables

__all__ = ["CollectionSpec"]


@dataclass
class CollectionSpec:
    """The contents of a BPF object file, ready to edit and load.

    Attributes:
        maps: every map by its name in the object (BTF-defined, legacy, and
            one per global data section: ``".data"``, ``".rodata"``,
            ``".bss"``, ``".rodata.str1.1"``..., plus ``".kconfig"``). Replace
            entries with `dataclasses.replace()` to resize or reconfigure.
        programs: every program by its function name. Their instructions are
            linked with their subprograms; map references are patched and CO-RE
            applied at load. A program in a section libbpf does not know has
            type ``ProgType.UNSPEC`` until
            [`set_program_type()`][ebpf.elf.CollectionSpec.set_program_type] gives it one.
            [`set_autoload()`][ebpf.elf.CollectionSpec.set_autoload] (or deleting the entry)
            keeps a program from being loaded.
        variables: global variables by name (see [`VariableSpec`][ebpf.elf.VariableSpec]).
        map_values: initial contents naming other objects: for program arrays
            the program at each slot, for maps of maps the map at each slot.
        btf: the object's BTF as the kernel will get it (DATASECs fixed up), or None.
        license: the ``license`` section (``""`` when missing).
        kernel_version: the ``version`` section (0 when missing).
        sections: the ELF section of each program (without the ``?`` of
            ``SEC("?...")``, which only turns autoload off).
        struct_ops: the kernel ops structs of ``SEC(".struct_ops")`` and
            ``SEC(".struct_ops.link")`` by variable name (see
            [`StructOpsSpec`][ebpf.elf.StructOpsSpec]); each is also a
            ``STRUCT_OPS`` map of `maps`, and the programs its members point
            at have ``attach_to = "<struct>:<member>"``.
    """

    maps: dict[str, MapSpec] = field(default_factory=dict)
    programs: dict[str, ProgramSpec] = field(default_factory=dict)
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    map_values: dict[str, dict[int, str]] = field(default_factory=dict)
    btf: TypeGraph | None = None
    license: str = ""
    kernel_version: int = 0
    sections: dict[str, str] = field(default_factory=dict)
    struct_ops: dict[str, StructOpsSpec] = field(default_factory=dict)
    _references: dict[str, dict[int, Reference]] = field(default_factory=dict, repr=False)
    _core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict, repr=False)
    _kconfig: KconfigLayout | None = field(default=None, repr=False)
    _ksyms: tuple[Extern, ...] = field(default=(), repr=False)
    _no_autoload: set[str] = field(default_factory=set, repr=False)

    # ------------------------------------------------------------- reading

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> CollectionSpec:
        """Parse the BPF object file at ``path``.

        Raises:
            OSError: the file cannot be read.
            ParseError: malformed ELF, BTF or map definitions or a bad
                relocation; the message names the file, section, symbol or
                offset. (Sections libbpf does not know, and maps whose sizes
                are left to user space, parse: loading them unset fails.)
            LibraryLimitError: the object uses something this library cannot
                load yet.
        """
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(), name=os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "BPF object") -> CollectionSpec:
        """Parse a BPF object file held in memory (see [`from_file()`][ebpf.elf.CollectionSpec.from_file])."""
        return _parse(ElfFile(data, name=name))

    @classmethod
    def from_c(
        cls,
        source: str | os.PathLike[str],
        *,
        cflags: Sequence[str] = (),
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> CollectionSpec:
        """Compile BPF C with clang (cached by content) and parse the object.

        ``source`` is a path (``Path`` or any ``os.PathLike``) or, as a ``str``,
        the C text itself. ``#include "vmlinux.h"`` finds the running kernel's
        types (written by [`ebpf.btf.dump_c()`][ebpf.btf.dump_c]); ``<bpf/bpf_helpers.h>`` and
        friends come from libbpf's headers (``libbpf-dev``).

        Raises:
            CompileError: clang is missing (the message names the package to
                install) or rejected the source (with its output).
            ParseError, LibraryLimitError: see [`from_file()`][ebpf.elf.CollectionSpec.from_file].
        """
        from ._compile import compile_c

        return cls.from_file(compile_c(source, cflags=cflags, cache_dir=cache_dir))

    # ------------------------------------------------------------- editing

    def copy(self) -> CollectionSpec:
        """A copy to edit on its own (cilium/ebpf's ``CollectionSpec.Copy``).

        Its dictionaries are new, and so is every variable and struct_ops
        spec in them (each with its own bytes), so editing one spec never
        changes the other. The map and program specs are frozen and shared,
        as is the BTF (read-only).
        """
        return replace(
            self,
            maps=dict(self.maps),
            programs=dict(self.programs),
            variables={name: replace(var) for name, var in self.variables.items()},
            map_values={name: dict(slots) for name, slots in self.map_values.items()},
            sections=dict(self.sections),
            struct_ops={
                name: replace(ops, programs=dict(ops.programs)) for name, ops in self.struct_ops.items()
            },
            _references={name: dict(refs) for name, refs in self._references.items()},
            _core_relos={name: list(relos) for name, relos in self._core_relos.items()},
            _no_autoload=set(self._no_autoload),
        )

    def resize_map(self, name: str, max_entries: int) -> None:
        """Change ``max_entries`` of map ``name`` (libbpf's ``bpf_map__set_max_entries``).

        Maps that C programs declare with ``max_entries`` 0 (or none) must be
        sized so before loading.

        Raises:
            KeyError: no such map.
            ValueError: the map type does not accept that size.
        """
        resized = replace(self.maps[name], max_entries=max_entries)
        try:
            resized.check("max_entries")
        except ValueError as exc:
            raise ValueError(f"map {name!r}: {exc}") from None
        self.maps[name] = resized

    def set_value_size(self, name: str, value_size: int) -> None:
        """Change the value size of map ``name`` (libbpf's ``bpf_map__set_value_size``).

        Stack trace maps hold ``value_size / 8`` frames: tools size them from
        the stack depth they record. A map whose value had a BTF type of
        another size keeps raw ``bytes`` values and is created without that
        type, as libbpf ends up creating it.

        Raises:
            KeyError: no such map.
            ValueError: the map type does not accept that size, or the map
                holds global variables (its size follows them).
        """
        current = self.maps[name]
        if any(var.map == name for var in self.variables.values()) or name == KCONFIG:
            raise ValueError(f"map {name!r} holds global variables: its value size follows them")
        if current.value_size == value_size:
            return
        changed = replace(current, value=None, value_size=value_size, btf_value_type_id=0)
        try:
            changed.check("value_size")
        except ValueError as exc:
            raise ValueError(f"map {name!r}: {exc}") from None
        self.maps[name] = changed

    def set_autoload(self, program: str, autoload: bool) -> None:
        """Whether [`Collection.load`][ebpf.elf.Collection.load] loads ``program``
        (libbpf's ``bpf_program__set_autoload``).

        Every program is loaded by default but those of ``SEC("?...")``
        sections. A program left out is not in the collection, the slots
        naming it in program arrays stay empty, and its spec stays here.

        Raises:
            KeyError: no such program.
            TypeError: ``autoload`` is not a bool.
        """
        if program not in self.programs:
            raise KeyError(f"no program {program!r}; the spec has {sorted(self.programs)}")
        if not isinstance(autoload, bool):
            raise TypeError(f"autoload must be a bool, not {autoload!r}")
        if autoload:
            self._no_autoload.discard(program)
        else:
            self._no_autoload.add(program)

    def autoload(self, program: str) -> bool:
        """Whether ``program`` will be loaded (see [`set_autoload()`][ebpf.elf.CollectionSpec.set_autoload]).

        Raises:
            KeyError: no such program.
        """
        if program not in self.programs:
            raise KeyError(f"no program {program!r}; the spec has {sorted(self.programs)}")
        return program not in self._no_autoload

    def set_program_type(
        self,
        program: str,
        prog_type: ProgType | str | int,
        attach_type: AttachType | str | int | None = None,
    ) -> None:
        """Set the type (and expected attach type) of ``program`` (libbpf's ``bpf_program__set_type``).

        Programs of sections libbpf does not know (``SEC("socket/tail")``)
        have no type until this gives them one. ``prog_type`` and
        ``attach_type`` are enum members, their values or names
        (``"socket_filter"``), or section names (``"socket"``).

        Raises:
            KeyError: no such program.
            TypeError, ValueError: an unknown type.
        """
        current = self.programs[program]
        self.programs[program] = replace(
            current,
            type=parse_prog_type(prog_type),
            expected_attach_type=None if attach_type is None else parse_attach_type(attach_type),
        )

    def maps_with_variables(self) -> dict[str, MapSpec]:
        """`maps` as [`Collection.load`][ebpf.elf.Collection.load] creates them: each data
        section's contents with its variables' current values written over them.

        `maps` itself keeps the object file's contents; the variables hold
        their own values (see [`VariableSpec`][ebpf.elf.VariableSpec]).

        Raises:
            ValueError: a variable outside its map's value (a map resized by hand).
        """
        return with_variables(self.maps, self.variables.values())

    def references_of(self, program: str) -> Mapping[int, Reference]:
        """What the relocated instructions of ``program`` refer to, by instruction index.

        Raises:
            KeyError: no such program.
        """
        return self._references[program]

    def core_relocations(self, program: str) -> list[CoreRelo]:
        """The CO-RE relocations of ``program`` (``insn_off`` in bytes of its linked instructions).

        Raises:
            KeyError: no such program.
        """
        return self._core_relos[program]

    def __repr__(self) -> str:
        return (
            f"CollectionSpec(programs={sorted(self.programs)}, maps={sorted(self.maps)}, "
            f"variables={sorted(self.variables)}, license={self.license!r})"
        )


def _parse(elf: ElfFile) -> CollectionSpec:
    """Parse ``elf`` into a spec; see [`CollectionSpec.from_file()`][ebpf.elf.CollectionSpec.from_file]."""
    found: ObjectSections = classify_sections(elf)
    symbols: list[ElfSymbol] = elf.symbols
    graph = from_bytes(found.btf, name=f"{elf.name}: .BTF") if found.btf else None
    ext: BtfExt | None = parse_btf_ext(found.btf_ext, graph) if graph is not None and found.btf_ext else None
    spec = CollectionSpec(license=found.license, kernel_version=found.kernel_version)
    datasecs = {t.name: t for t in graph.of_kind(Kind.DATASEC)} if graph is not None else {}

    # maps: BTF-defined, legacy, global data, .kconfig
    parsed: list[ParsedMap] = []
    map_offsets: dict[int, dict[int, str]] = {}
    for section, reader in ((found.btf_maps, "btf"), (found.legacy_maps, "legacy")):
        if section is None:
            continue
        if reader == "btf":
            if graph is None:
                raise ParseError(
                    f"{elf.name}: {section} needs BTF, and the object has no .BTF (compile with -g)"
                )
            table = found.relocations.get(section.index)
            found_maps = btf_maps(elf, section, graph, symbols, elf.relocations(table) if table else [])
        else:
            found_maps = legacy_maps(elf, section, symbols)
        names = {m.name for m in found_maps}
        map_offsets[section.index] = {
            sym.value: sym.name for sym in symbols if sym.shndx == section.index and sym.name in names
        }
        parsed.extend(found_maps)
    data_names: dict[int, str] = {}
    for index, section in found.data.items():
        if not section.size:
            continue
        datasec = datasecs.get(section.name)
        parsed.append(
            data_map(
                elf,
                section,
                datasec if isinstance(datasec, Datasec) else None,
                readonly=section.name.startswith(".rodata"),
            )
        )
        data_names[index] = section.name
    kconfig = kconfig_layout(graph, symbols)
    if kconfig is not None:
        spec.maps[KCONFIG] = kconfig.map_spec()
        spec._kconfig = kconfig
    spec._ksyms = ksym_externs(graph, symbols)
    for parsed_map in parsed:
        spec.maps[parsed_map.name] = parsed_map.spec
        if parsed_map.initial:
            spec.map_values[parsed_map.name] = dict(parsed_map.initial)

    # variables of the data sections
    for index, map_name in data_names.items():
        _add_variables(spec, elf, graph, datasecs.get(map_name), index, map_name, symbols)

    # code: references per section, then each program linked with its subprograms
    code: dict[int, bytes] = {}
    references: dict[int, dict[int, Reference]] = {}
    kconfig_offsets = {ext.name: ext.offset for ext in kconfig.externs} if kconfig is not None else {}
    for index, section in found.code.items():
        raw = bytearray(elf.section_data(section))
        table = found.relocations.get(index)
        references[index] = section_references(
            elf,
            section,
            raw,
            elf.relocations(table) if table is not None else [],
            symbols,
            map_sections=map_offsets,
            data_sections=data_names,
            code_sections=found.code.keys(),
            kconfig=kconfig_offsets,
            ksyms={ext.name for ext in spec._ksyms},
        )
        code[index] = bytes(raw)
    functions = functions_of(elf, found.code, symbols)
    by_location = {(f.section, f.offset): f for f in functions}
    if graph is not None:
        spec.btf = fixup_btf(graph, {s.name: s for s in elf.sections}, symbols, kconfig)
    for function in functions:
        if function.section_name == TEXT:
            continue
        _add_program(spec, elf, function, by_location, code, references, ext)
    spec.struct_ops, struct_ops_maps, struct_ops_programs = parse_struct_ops(
        elf, spec.btf, found.relocations, symbols, functions, spec.programs, spec.maps
    )
    spec.maps.update(struct_ops_maps)
    spec.programs.update(struct_ops_programs)
    return spec


def _add_variables(
    spec: CollectionSpec,
    elf: ElfFile,
    graph: TypeGraph | None,
    datasec: object,
    index: int,
    map_name: str,
    symbols: list[ElfSymbol],
) -> None:
    """Name the variables of data section ``index``: from its DATASEC, else from its object symbols.

    Each takes its initial bytes from the contents of the section's map.
    """
    data_spec = spec.maps[map_name]
    initial = dict(data_spec.contents).get(0)
    data = bytes(initial) if initial is not None else bytes(data_spec.value_size or 0)

    def value(offset: int, size: int) -> bytes:
        # a variable past the end of its section (a malformed object) reads as zeros; loading refuses it
        return data[offset : offset + size].ljust(size, b"\0")

    values = {
        sym.name: sym for sym in symbols if sym.shndx == index and sym.name and sym.type != SymbolType.SECTION
    }
    if graph is not None and isinstance(datasec, Datasec):
        for info in datasec.vars:
            var = graph[info.type_id]
            sym = values.get(var.name)
            if not isinstance(var, Var) or sym is None:
                continue
            spec.variables[var.name] = VariableSpec(
                var.name, map_name, sym.value, info.size, graph[var.type_id], value(sym.value, info.size)
            )
        return
    for sym in values.values():
        if sym.size:
            spec.variables[sym.name] = VariableSpec(
                sym.name, map_name, sym.value, sym.size, None, value(sym.value, sym.size)
            )


def _add_program(
    spec: CollectionSpec,
    elf: ElfFile,
    function: Function,
    by_location: Mapping[tuple[int, int], Function],
    code: Mapping[int, bytes],
    references: Mapping[int, Mapping[int, Reference]],
    ext: BtfExt | None,
) -> None:
    linked = link_program(function, by_location, code, references, ext)
    btf = spec.btf
    spec.programs[function.name] = program_spec(
        elf,
        function,
        linked.code,
        license=spec.license,
        kernel_version=spec.kernel_version,
        name=kernel_name(function.name),
        btf=btf.data if btf is not None else None,
        func_info=linked.func_info_bytes() if btf is not None else b"",
        line_info=linked.line_info_bytes(btf) if btf is not None else b"",
    )
    if function.section_name.startswith(NO_AUTOLOAD):
        spec._no_autoload.add(function.name)
    spec.sections[function.name] = function.section_name.removeprefix(NO_AUTOLOAD)
    spec._references[function.name] = linked.references
    spec._core_relos[function.name] = linked.core_relos
