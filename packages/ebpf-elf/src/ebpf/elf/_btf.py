"""The object's BTF as the kernel needs it, fixed up the way libbpf's ``btf_fixup_datasec`` does.

clang leaves every DATASEC size and variable offset at 0: only the linker
would know them. Before ``BPF_BTF_LOAD`` (which rejects such DATASECs):

- a DATASEC named after an ELF section gets that section's size, and each
  variable its symbol's value as offset; a global variable with hidden
  visibility becomes static, so the kernel does not expose it;
- ``.kconfig`` gets the layout of the ``.kconfig`` map, and its externs
  become allocated globals;
- ``.ksyms`` externs become 4-byte ``int`` globals at consecutive offsets
  (the kernel cannot take extern VARs; the real types are only used to
  find the symbols in vmlinux);
- variables are sorted by offset, as the kernel requires;
- a global function of ``.text`` (a subprogram) whose symbol has hidden
  visibility (``__hidden``, ``__attribute__((visibility("hidden")))``) gets
  static linkage, as libbpf's ``mark_btf_static`` does: the verifier then
  checks it as part of each caller, with what the caller knows about its
  arguments (a pointer it checked for NULL...), instead of on its own with
  nothing known. libbpf's ``usdt.bpf.h`` helpers (``bpf_usdt_arg``) rely on
  it.

Type ids do not change, so map and program BTF ids stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping

from ebpf.btf import (
    BtfBuilder,
    Datasec,
    Func,
    Int,
    IntEncoding,
    Kind,
    Type,
    TypeGraph,
    Var,
    VarLinkage,
    VarSecinfo,
)
from ebpf.syscall.abi import FuncLinkage
from ebpf.syscall.errors import ParseError

from ._elf import ElfSection, ElfSymbol, SymbolBinding, SymbolType
from ._externs import KCONFIG, KSYMS, KconfigLayout

__all__ = ["fixup_btf"]

_KSYM_SIZE = 4
_TEXT = ".text"


# DATASEC sizes and variable offsets are 32-bit in BTF; ELF64 symbol values and section sizes are not.
_U32_MAX = 0xFFFFFFFF


def fixup_btf(
    graph: TypeGraph,
    sections: Mapping[str, ElfSection],
    symbols: list[ElfSymbol],
    kconfig: KconfigLayout | None,
) -> TypeGraph:
    """A copy of ``graph`` with DATASEC sizes, offsets and linkages set for loading.

    Args:
        graph: the object's ``.BTF``.
        sections: the object's sections by name.
        symbols: its symbol table.
        kconfig: the ``.kconfig`` layout, if the object has externs there.

    Raises:
        ParseError: the BTF is malformed.
    """
    var_changes: dict[int, Var] = {}
    datasecs: dict[int, Datasec] = {}
    int_id = next((t.id for t in graph.of_kind(Kind.INT) if isinstance(t, Int) and t.size == _KSYM_SIZE), 0)
    needs_int = False
    if int_id == 0:
        int_id = len(graph) + 1  # appended after every type if a ksym needs it
    kconfig_offsets = {ext.name: ext.offset for ext in kconfig.externs} if kconfig is not None else {}
    for datasec in graph.of_kind(Kind.DATASEC):
        assert isinstance(datasec, Datasec)
        if datasec.name == KCONFIG and kconfig is not None:
            secinfos = []
            for info in datasec.vars:
                var = graph[info.type_id]
                if isinstance(var, Var):
                    var_changes[var.id] = Var(var.id, var.name, var.type_id, VarLinkage.GLOBAL_ALLOCATED)
                secinfos.append(VarSecinfo(info.type_id, kconfig_offsets.get(var.name, 0), info.size))
            datasecs[datasec.id] = Datasec(datasec.id, datasec.name, max(kconfig.size, 1), _sorted(secinfos))
        elif datasec.name == KSYMS:
            needs_int = int_id > len(graph)
            secinfos = []
            for n, info in enumerate(datasec.vars):
                var = graph[info.type_id]
                var_changes[var.id] = Var(var.id, var.name, int_id, VarLinkage.GLOBAL_ALLOCATED)
                secinfos.append(VarSecinfo(info.type_id, n * _KSYM_SIZE, _KSYM_SIZE))
            datasecs[datasec.id] = Datasec(
                datasec.id, datasec.name, len(secinfos) * _KSYM_SIZE, tuple(secinfos)
            )
        elif datasec.name in sections:
            section = sections[datasec.name]
            values = {
                sym.name: sym
                for sym in symbols
                if sym.shndx == section.index
                and sym.type in (SymbolType.OBJECT, SymbolType.NOTYPE, SymbolType.FUNC)
            }
            secinfos = []
            for info in datasec.vars:
                var = graph[info.type_id]
                sym = values.get(var.name)
                offset = sym.value if sym is not None and not datasec.size else info.offset
                if offset > _U32_MAX:
                    raise ParseError(
                        f"section {datasec.name}: symbol {var.name} has value {offset:#x}, "
                        "past the 32-bit offsets BTF can hold"
                    )
                if (
                    isinstance(var, Var)
                    and var.linkage == VarLinkage.GLOBAL_ALLOCATED
                    and sym is not None
                    and sym.binding != SymbolBinding.LOCAL
                    and sym.hidden
                ):
                    var_changes[var.id] = Var(var.id, var.name, var.type_id, VarLinkage.STATIC)
                secinfos.append(VarSecinfo(info.type_id, offset, info.size))
            size = datasec.size or section.size
            if size > _U32_MAX:
                raise ParseError(
                    f"section {datasec.name}: size {size:#x} is past the 32-bit sizes BTF can hold"
                )
            datasecs[datasec.id] = Datasec(datasec.id, datasec.name, size, _sorted(secinfos))
    func_changes = _hidden_functions(graph, sections, symbols)
    # the other types are copied as they are, undecoded (same ids, same string offsets)
    changes: dict[int, Type] = {**func_changes, **var_changes, **datasecs}
    builder = BtfBuilder.from_graph(graph, changes)
    if needs_int:
        builder.add(Int(0, "int", _KSYM_SIZE, IntEncoding.SIGNED, 32))
    return builder.graph(graph.name)


def _hidden_functions(
    graph: TypeGraph, sections: Mapping[str, ElfSection], symbols: list[ElfSymbol]
) -> dict[int, Func]:
    """Static copies of the global FUNCs whose ``.text`` symbol is global or weak with hidden visibility.

    libbpf does the same (``mark_btf_static``) for subprograms only: a
    program's own FUNC keeps its linkage.
    """
    text = sections.get(_TEXT)
    if text is None:
        return {}
    hidden = {
        sym.name
        for sym in symbols
        if sym.shndx == text.index
        and sym.type == SymbolType.FUNC
        and sym.binding != SymbolBinding.LOCAL
        and sym.hidden
    }
    if not hidden:
        return {}
    return {
        t.id: Func(t.id, t.name, t.type_id, FuncLinkage.STATIC)
        for t in graph.of_kind(Kind.FUNC)
        if isinstance(t, Func) and t.linkage == FuncLinkage.GLOBAL and t.name in hidden
    }


def _sorted(secinfos: list[VarSecinfo]) -> tuple[VarSecinfo, ...]:
    return tuple(sorted(secinfos, key=lambda info: info.offset))
