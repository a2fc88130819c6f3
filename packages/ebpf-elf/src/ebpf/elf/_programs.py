"""Functions, relocations and programs of the code sections of a BPF object.

Every ``STT_FUNC`` symbol of an executable section is a function. In
``.text`` functions are subprograms, linked into the programs that call
them; in any other section each function is a program whose type comes
from the section name (libbpf's ``SEC()`` names, parsed by
[`ebpf.progs.parse_section()`][ebpf.progs.parse_section]), so one section may hold several programs.

As in libbpf, a section name that names no program type still makes
programs: their type is ``ProgType.UNSPEC`` until user space sets one, and
loading them without one fails. A leading ``?`` (``SEC("?tp/...")``) turns
the program's autoload off; the name is used without it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from ebpf.progs import ProgramSpec, Section, parse_section
from ebpf.syscall import ProgType
from ebpf.syscall.errors import ParseError

from ._elf import ElfFile, ElfRelocation, ElfSection, ElfSymbol, SymbolType
from ._linker import Function
from ._relocate import INSN_SIZE, Reference, ReferenceKind, is_call, is_ld_imm64, read_insn, write_imm

__all__ = ["NO_AUTOLOAD", "TEXT", "functions_of", "libbpf_section", "program_spec", "section_references"]

#: The section of subprograms.
TEXT = ".text"
#: The prefix of a section name whose programs are not loaded unless user space turns them on.
NO_AUTOLOAD = "?"


def libbpf_section(name: str) -> Section | None:
    """What libbpf's section table says about section ``name`` (without its ``?``), or None.

    libbpf's ``"type+"`` entries match ``type`` alone, ``type/`` and
    ``type/<target>``: ``SEC("kprobe")``, ``SEC("fentry")`` and
    ``SEC("tp/")`` have a program type and no target. Entries without
    ``+`` match exactly: ``socket/tail`` and ``sk_lookup/`` name no type.
    """
    try:
        return parse_section(name)
    except ValueError:
        pass
    base = name[:-1] if name.endswith("/") else name
    if not base or "/" in base:
        return None
    try:
        # the prefix form of `base`, if parse_section has one, with the target dropped
        return replace(parse_section(base + "/_"), target="")
    except ValueError:
        return None


def functions_of(elf: ElfFile, code: Mapping[int, ElfSection], symbols: list[ElfSymbol]) -> list[Function]:
    """Every function of the code sections, sized by its symbol (or up to the next one when 0).

    Raises:
        ParseError: a function that extends past its section.
    """
    found: list[Function] = []
    for index, section in code.items():
        starts = sorted(
            {
                sym.value: sym for sym in symbols if sym.shndx == index and sym.type == SymbolType.FUNC
            }.values(),
            key=lambda sym: sym.value,
        )
        for n, sym in enumerate(starts):
            end = starts[n + 1].value if n + 1 < len(starts) else section.size
            size = sym.size or end - sym.value
            if sym.value % INSN_SIZE or size % INSN_SIZE or sym.value + size > section.size or size <= 0:
                raise ParseError(
                    f"{elf.name}: {section}: function {sym.name!r} at byte {sym.value} ({size} bytes) "
                    "is not whole instructions inside the section"
                )
            found.append(Function(sym.name, index, section.name, sym.value, size))
    return found


def section_references(
    elf: ElfFile,
    section: ElfSection,
    code: bytearray,
    relocations: list[ElfRelocation],
    symbols: list[ElfSymbol],
    *,
    map_sections: Mapping[int, Mapping[int, str]],
    data_sections: Mapping[int, str],
    code_sections: Collection[int],
    kconfig: Mapping[str, int],
    ksyms: Collection[str],
) -> dict[int, Reference]:
    """What each relocated instruction of ``section`` refers to, by byte offset.

    ``code`` (the section's bytes) is normalised in place: a global data
    load keeps its full offset in the reference and 0 in the instruction.

    Args:
        map_sections: for ``.maps`` and ``maps``, the map name at each byte offset.
        data_sections: the map name of each global data section.
        code_sections: indexes of the code sections.
        kconfig: ``.kconfig`` externs and their offsets in the ``.kconfig`` map.
        ksyms: ``.ksyms`` externs.

    Raises:
        ParseError: a relocation off an instruction boundary or outside the
            section, a bad symbol index, an instruction that cannot be
            relocated, a symbol that is neither a map, global data, a
            function nor a known extern, or a call of an undefined function
            not declared ``__ksym``. Calls of kernel functions (kfuncs) are
            recorded as ``KFUNC`` references, resolved at load.
    """
    refs: dict[int, Reference] = {}
    for relo in relocations:
        where = f"{elf.name}: {section}: relocation at byte {relo.offset}"
        if relo.offset % INSN_SIZE or relo.offset + INSN_SIZE > len(code):
            raise ParseError(f"{where}: not an instruction of the section ({len(code)} bytes)")
        if not 0 <= relo.symbol < len(symbols):
            raise ParseError(f"{where}: symbol index {relo.symbol} is past the {len(symbols)} symbols")
        sym = symbols[relo.symbol]
        index = relo.offset // INSN_SIZE
        imm = read_insn(code, index)[4]
        target = f"symbol {sym.name or relo.symbol!r}"
        if is_call(code, index):
            if sym.undefined:
                if sym.name not in ksyms:
                    raise ParseError(
                        f"{where}: a call of {sym.name!r}, which is undefined: not a function of this "
                        "object, and not a kernel function (a kfunc is declared `extern ... __ksym`)"
                    )
                refs[relo.offset] = Reference(ReferenceKind.KFUNC, sym.name)  # resolved at load
                continue
            if sym.shndx not in code_sections:
                raise ParseError(f"{where}: a call of {target}, which is not in a code section")
            # libbpf: sub_insn_idx = sym_off / 8 + imm + 1 (imm is -1 for a global function's symbol)
            refs[relo.offset] = Reference(
                ReferenceKind.CALL, sym.name, sym.value + (imm + 1) * INSN_SIZE, sym.shndx
            )
            continue
        if not is_ld_imm64(code, index) or relo.offset + 2 * INSN_SIZE > len(code):
            raise ParseError(f"{where}: relocated instruction is neither ld_imm64 nor a call")
        if sym.shndx in code_sections:
            refs[relo.offset] = Reference(ReferenceKind.FUNC_ADDRESS, sym.name, sym.value + imm, sym.shndx)
        elif sym.shndx in map_sections:
            at = sym.value + (imm if sym.type == SymbolType.SECTION else 0)
            name = map_sections[sym.shndx].get(at)
            if name is None:
                raise ParseError(f"{where}: no map starts at byte {at} of {elf.section_at(sym.shndx)}")
            refs[relo.offset] = Reference(ReferenceKind.MAP, name)
            write_imm(code, index, 0)
        elif sym.shndx in data_sections:
            # bpf_object__relocate_data: insn[1].imm = insn[0].imm + sym->st_value
            refs[relo.offset] = Reference(ReferenceKind.MAP_VALUE, data_sections[sym.shndx], imm + sym.value)
            write_imm(code, index, 0)
        elif sym.undefined and sym.name in kconfig:
            refs[relo.offset] = Reference(ReferenceKind.MAP_VALUE, ".kconfig", kconfig[sym.name] + imm)
            write_imm(code, index, 0)
        elif sym.undefined and sym.name in ksyms:
            refs[relo.offset] = Reference(ReferenceKind.KSYM, sym.name)
        elif sym.undefined:
            raise ParseError(f"{where}: {target} is undefined and not a __kconfig or __ksym extern")
        else:
            raise ParseError(
                f"{where}: {target} is in {elf.section_at(sym.shndx, f'{where}: symbol section')}, "
                "which is not a map, data or code section"
            )
    return refs


def program_spec(
    elf: ElfFile,
    function: Function,
    code: bytes,
    *,
    license: str,
    kernel_version: int,
    name: str,
    btf: bytes | None,
    func_info: bytes,
    line_info: bytes,
) -> ProgramSpec:
    """The spec of program ``function`` (linked ``code``) from its section name.

    A section libbpf does not know gives a program of type ``ProgType.UNSPEC``
    (set by user space before loading), as libbpf opens it.

    Raises:
        ParseError: a spec the constructor rejects.
    """
    where = f"{elf.name}: section {function.section_name!r}: program {function.name!r}"
    section = libbpf_section(function.section_name.removeprefix(NO_AUTOLOAD))
    if section is None:
        section = Section(ProgType.UNSPEC)
    try:
        return ProgramSpec(
            name=name,
            type=section.prog_type,
            instructions=code,
            expected_attach_type=section.attach_type,
            attach_to=section.target,
            license=license,
            kernel_version=kernel_version,
            flags=section.flags,
            retprobe=section.retprobe,
            syscall=section.syscall,
            btf=btf if func_info or line_info else None,
            func_info=func_info,
            line_info=line_info,
        )
    except (ValueError, TypeError) as exc:
        raise ParseError(f"{where}: {exc}") from None
