"""Linking a program with the subprograms it calls, as libbpf's ``bpf_object__reloc_code`` does.

A program is the code of its own function followed by a copy of every
function it calls (directly, through other functions, or by taking its
address for a callback such as ``bpf_loop``), each appended once, in the
order they are first found. Call and function-address immediates become
relative to the linked program; ``func_info``, ``line_info`` and CO-RE
relocations of every copied function follow it to its new place.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ebpf.asm import PseudoLoad
from ebpf.btf import BtfExt, CoreRelo, LineInfo, StringTable, TypeGraph
from ebpf.syscall.abi import BpfFuncInfo, BpfLineInfo
from ebpf.syscall.errors import ParseError

from ._relocate import (
    INSN_SIZE,
    Reference,
    ReferenceKind,
    is_pseudo_call,
    is_pseudo_func,
    read_insn,
    write_imm,
)

__all__ = ["Function", "LinkedProgram", "link_program"]


@dataclass(frozen=True)
class Function:
    """A function of a code section: ``size`` bytes at byte ``offset`` of section ``section`` (an index)."""

    name: str
    section: int
    section_name: str
    offset: int
    size: int


@dataclass
class LinkedProgram:
    """A program with its subprograms appended.

    ``references`` maps instruction indexes to the maps and externs they
    refer to; ``core_relos`` have ``insn_off`` in bytes of ``code``;
    ``functions`` lists the functions copied in, the program first.
    """

    code: bytes
    references: dict[int, Reference] = field(default_factory=dict)
    func_info: list[tuple[int, int]] = field(default_factory=list)
    line_info: list[tuple[int, LineInfo]] = field(default_factory=list)
    core_relos: list[CoreRelo] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    def func_info_bytes(self) -> bytes:
        """``struct bpf_func_info`` records (instruction index, FUNC type id)."""
        return b"".join(bytes(BpfFuncInfo(index, type_id)) for index, type_id in self.func_info)

    def line_info_bytes(self, graph: TypeGraph) -> bytes:
        """``struct bpf_line_info`` records, with string offsets into ``graph``'s strings.

        Raises:
            ParseError: a line info string is not in the BTF string section.
        """
        strings = _string_table(graph)
        limit = len(graph.string_section)

        def offset(text: str) -> int:
            found = strings.add(text)
            if found >= limit:
                raise ParseError(f"{graph.name}: line info string {text[:40]!r} is not in the BTF strings")
            return found

        return b"".join(
            bytes(
                BpfLineInfo(
                    index, offset(info.file_name), offset(info.line_text), info.line << 10 | info.column
                )
            )
            for index, info in self.line_info
        )


# One string table per object graph: every program's line info looks its strings up in it.
_STRING_TABLES: weakref.WeakKeyDictionary[TypeGraph, StringTable] = weakref.WeakKeyDictionary()


def _string_table(graph: TypeGraph) -> StringTable:
    table = _STRING_TABLES.get(graph)
    if table is None:
        table = _STRING_TABLES[graph] = StringTable(graph.string_section)
    return table


def link_program(
    entry: Function,
    functions: Mapping[tuple[int, int], Function],
    code: Mapping[int, bytes],
    references: Mapping[int, Mapping[int, Reference]],
    btf_ext: BtfExt | None,
) -> LinkedProgram:
    """Link ``entry`` with every function it reaches.

    Args:
        entry: the program's function.
        functions: every function of the object by ``(section index, byte offset)``.
        code: the bytes of each code section by index.
        references: each code section's relocations by byte offset.
        btf_ext: the object's ``.BTF.ext`` (func/line info, CO-RE), if any.

    Raises:
        ParseError: a call or function address that lands where no function
            starts, or a function address without a relocation.
    """
    placed: dict[tuple[int, int], int] = {}
    order: list[Function] = []
    total = 0

    def place(function: Function) -> int:
        nonlocal total
        key = (function.section, function.offset)
        start = placed.get(key)
        if start is None:
            start = placed[key] = total
            order.append(function)
            total += function.size // INSN_SIZE
        return start

    place(entry)
    linked = LinkedProgram(b"")
    chunks: list[bytes] = []
    done = 0
    while done < len(order):
        function = order[done]
        done += 1
        base = placed[(function.section, function.offset)]
        chunk = bytearray(code[function.section][function.offset : function.offset + function.size])
        section_refs = references.get(function.section, {})
        for index in range(len(chunk) // INSN_SIZE):
            ref = section_refs.get(function.offset + index * INSN_SIZE)
            if ref is not None and ref.kind is ReferenceKind.KFUNC:
                # clang emits a kfunc call as a BPF_PSEUDO_CALL: it is the kernel's, not a subprogram
                linked.references[base + index] = ref
                continue
            call = is_pseudo_call(chunk, index)
            address = ref is not None and ref.kind is ReferenceKind.FUNC_ADDRESS
            if call or address or is_pseudo_func(chunk, index):
                where = f"{function.section_name}: {function.name}: instruction {index}"
                imm = read_insn(chunk, index)[4]
                if ref is not None and ref.kind in (ReferenceKind.CALL, ReferenceKind.FUNC_ADDRESS):
                    target = (ref.section, ref.offset)
                elif call and ref is None:
                    # a call inside the same section needs no relocation: imm is relative to it
                    target = (function.section, function.offset + (index + imm + 1) * INSN_SIZE)
                else:
                    raise ParseError(f"{where}: a function address without a relocation to a function")
                callee = functions.get(target)
                if callee is None:
                    raise ParseError(
                        f"{where}: calls byte {target[1]} of section {target[0]}, where no function starts"
                    )
                # libbpf marks address loads BPF_PSEUDO_FUNC (clang leaves src 0); both are relative
                write_imm(chunk, index, place(callee) - (base + index) - 1, None if call else PseudoLoad.FUNC)
            elif ref is not None:
                linked.references[base + index] = ref
        chunks.append(bytes(chunk))
        linked.functions.append(function.name)
        if btf_ext is not None:
            _carry_ext(linked, btf_ext, function, base)
    linked.code = b"".join(chunks)
    return linked


def _in(function: Function, insn_off: int) -> bool:
    return function.offset <= insn_off < function.offset + function.size


def _carry_ext(linked: LinkedProgram, ext: BtfExt, function: Function, base: int) -> None:
    """Copy ``function``'s func_info, line_info and CO-RE records, moved to instruction ``base``."""
    shift = base * INSN_SIZE - function.offset
    name = function.section_name
    linked.func_info.extend(
        ((f.insn_off + shift) // INSN_SIZE, f.type_id)
        for f in ext.func_info.get(name, ())
        if _in(function, f.insn_off)
    )
    linked.line_info.extend(
        ((line.insn_off + shift) // INSN_SIZE, line)
        for line in ext.line_info.get(name, ())
        if _in(function, line.insn_off)
    )
    relos: Sequence[CoreRelo] = ext.core_relos.get(name, ())
    linked.core_relos.extend(
        replace(r, insn_off=r.insn_off + shift) for r in relos if _in(function, r.insn_off)
    )
