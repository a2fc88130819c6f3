"""ebpf.elf: load what clang compiles, the way libbpf does, with no C library.

Read a BPF object file (``clang -O2 -g -target bpf``) into a
[`CollectionSpec`][ebpf.elf.CollectionSpec] (programs, maps, global variables, BTF: plain data,
no kernel involved), edit it, then [`Collection.load()`][ebpf.elf.Collection.load] it::

    spec = CollectionSpec.from_file("minimal.bpf.o")
    spec.variables["target_pid"].set(1234)          # a const volatile in .rodata
    with Collection.load(spec) as coll:
        link = coll.programs["handle_tp"].attach()
        print(coll.maps["counts"][0], coll.variables["hits"].value)

Lifecycle: a [`Collection`][ebpf.elf.Collection] owns its maps, programs and BTF object and
closes them in ``close()`` (or at the end of a ``with`` block); a failed
load leaves nothing behind (no descriptor, no new pin). Malformed input
raises ``ebpf.syscall.errors.ParseError`` saying what and where.

Also: ELF64 reading ([`ElfFile`][ebpf.elf.ElfFile]), symbol lookup for uprobes
([`uprobe_target()`][ebpf.elf.uprobe_target], [`find_library()`][ebpf.elf.find_library]), USDT probes of
executables and libraries ([`usdt_probes()`][ebpf.elf.usdt_probes]) and attaching programs to them
([`attach_usdt()`][ebpf.elf.attach_usdt]), BPF C compilation
([`CollectionSpec.from_c()`][ebpf.elf.CollectionSpec.from_c]), a human-readable summary
([`inspect()`][ebpf.elf.inspect]), and stack symbolization ([`Symbolizer`][ebpf.elf.Symbolizer],
[`folded()`][ebpf.elf.folded]). Importing this package has no side effects.
"""

from typing import TYPE_CHECKING, Any

from ebpf.syscall._lazy import import_public

if TYPE_CHECKING:
    from ._attach import Links
    from ._collection import Collection
    from ._compile import CompileError
    from ._elf import (
        ElfFile,
        ElfRelocation,
        ElfSection,
        ElfSegment,
        ElfSymbol,
        SectionFlags,
        SectionType,
        SymbolBinding,
        SymbolType,
    )
    from ._folded import folded
    from ._inspect import inspect
    from ._kernel_symbols import KernelSymbols
    from ._procmaps import Mapping, parse_proc_maps, process_mappings
    from ._relocate import Reference, ReferenceKind
    from ._spec import CollectionSpec
    from ._struct_ops import StructOpsSpec
    from ._symbolize import Frame, Symbolizer
    from ._symbols import find_library, symbol_offset, uprobe_target
    from ._symtab import FileSymbols
    from ._uprobes import attach_uprobe_symbol
    from ._usdt import UsdtProbe, usdt_probes
    from ._usdt_args import UsdtArgKind, UsdtArgument, encode_usdt_spec, parse_usdt_arguments
    from ._usdt_attach import UsdtLink, attach_usdt
    from ._variables import Value, Variable, VariableSpec

# The public names are imported from their modules on first use (PEP 562), as in ebpf.btf: a
# tool that loads an object needs the collection, not uprobes, USDT, symbolization or C
# compilation, whose imports cost more than the rest of starting it.
_HOMES = {
    "Collection": "._collection",
    "CollectionSpec": "._spec",
    "CompileError": "._compile",
    "ElfFile": "._elf",
    "ElfRelocation": "._elf",
    "ElfSection": "._elf",
    "ElfSegment": "._elf",
    "ElfSymbol": "._elf",
    "FileSymbols": "._symtab",
    "Frame": "._symbolize",
    "KernelSymbols": "._kernel_symbols",
    "Links": "._attach",
    "Mapping": "._procmaps",
    "Reference": "._relocate",
    "ReferenceKind": "._relocate",
    "SectionFlags": "._elf",
    "SectionType": "._elf",
    "StructOpsSpec": "._struct_ops",
    "SymbolBinding": "._elf",
    "SymbolType": "._elf",
    "Symbolizer": "._symbolize",
    "UsdtArgKind": "._usdt_args",
    "UsdtArgument": "._usdt_args",
    "UsdtLink": "._usdt_attach",
    "UsdtProbe": "._usdt",
    "Value": "._variables",
    "Variable": "._variables",
    "VariableSpec": "._variables",
    "attach_uprobe_symbol": "._uprobes",
    "attach_usdt": "._usdt_attach",
    "encode_usdt_spec": "._usdt_args",
    "find_library": "._symbols",
    "folded": "._folded",
    "inspect": "._inspect",
    "parse_proc_maps": "._procmaps",
    "parse_usdt_arguments": "._usdt_args",
    "process_mappings": "._procmaps",
    "symbol_offset": "._symbols",
    "uprobe_target": "._symbols",
    "usdt_probes": "._usdt",
}


def __getattr__(name: str) -> Any:
    """A public name of this package, imported from its module on first use.

    Raises:
        AttributeError: ``name`` is not one of ``__all__``.
    """
    return import_public(__name__, _HOMES, globals(), name)


__all__ = [
    "Collection",
    "CollectionSpec",
    "CompileError",
    "ElfFile",
    "ElfRelocation",
    "ElfSection",
    "ElfSegment",
    "ElfSymbol",
    "FileSymbols",
    "Frame",
    "KernelSymbols",
    "Links",
    "Mapping",
    "Reference",
    "ReferenceKind",
    "SectionFlags",
    "SectionType",
    "StructOpsSpec",
    "SymbolBinding",
    "SymbolType",
    "Symbolizer",
    "UsdtArgKind",
    "UsdtArgument",
    "UsdtLink",
    "UsdtProbe",
    "Value",
    "Variable",
    "VariableSpec",
    "__version__",
    "attach_uprobe_symbol",
    "attach_usdt",
    "encode_usdt_spec",
    "find_library",
    "folded",
    "inspect",
    "parse_proc_maps",
    "parse_usdt_arguments",
    "process_mappings",
    "symbol_offset",
    "uprobe_target",
    "usdt_probes",
]


#: The version of ``ebpf-elf``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"
