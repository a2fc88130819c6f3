"""From a list of instructions and labels to bytes the kernel loads.

[`resolve_labels()`][ebpf.asm.resolve_labels] turns label names into offsets;
[`assemble()`][ebpf.asm.assemble] also patches map references with descriptors and encodes the result. What
only the kernel's BTF can fill in (kfunc and ksym ids, CO-RE relocations) is left
to ``ebpf.btf``: [`assemble()`][ebpf.asm.assemble] refuses instructions that still need it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from .builders import HasFileno, Label
from .co_re import CoreRelocation
from .disassembler import format_instruction
from .instruction import Instruction, encode
from .opcodes import InsnClass, JmpOp, PseudoCall, PseudoLoad

__all__ = ["CoreResolver", "Item", "assemble", "enumerate_slots", "resolve_labels"]

Item = Instruction | Label

_I16 = (-(1 << 15), (1 << 15) - 1)
_I32 = (-(1 << 31), (1 << 31) - 1)


def _where(index: int, insn: Instruction) -> str:
    text = format_instruction(insn)
    return f"instruction {index} ({text}, referring to {insn.reference!r})"


def _is_jump(insn: Instruction) -> bool:
    return insn.cls in (InsnClass.JMP, InsnClass.JMP32) and insn.opcode & 0xF0 not in (JmpOp.CALL, JmpOp.EXIT)


def _is_local_call(insn: Instruction) -> bool:
    call = insn.opcode == JmpOp.CALL | InsnClass.JMP and insn.src == PseudoCall.FUNC
    return call or (insn.is_wide and insn.src == PseudoLoad.FUNC)


def resolve_labels(items: Iterable[Item]) -> list[Instruction]:
    """Resolve the labels that jumps, BPF-to-BPF calls and ``ld_func`` refer to.

    Returns the instructions with those offsets filled in and their
    references cleared. Calls to names that are not labels here stay as
    they are (an external function for a linker to resolve), and so do
    map, kfunc and ksym references and CO-RE relocations.

    Raises:
        TypeError: an item is neither an Instruction nor a Label.
        ValueError: a label defined twice, a jump to an unknown label, or a
            target too far for the instruction's offset field; the message
            names the instruction (index in 8-byte slots) and the label.
    """
    insns: list[tuple[int, Instruction]] = []
    labels: dict[str, int] = {}
    slot = 0
    for position, item in enumerate(items):
        if isinstance(item, Label):
            if item.name in labels:
                raise ValueError(
                    f"label {item.name!r} is defined twice "
                    f"(before instruction {labels[item.name]} and {slot})"
                )
            labels[item.name] = slot
        elif isinstance(item, Instruction):
            insns.append((slot, item))
            slot += item.slots
        else:
            raise TypeError(f"item {position} is a {type(item).__name__}, not an Instruction or a Label")
    out = []
    for index, insn in insns:
        if insn.reference is None or not (_is_jump(insn) or _is_local_call(insn)):
            out.append(insn)
            continue
        target = labels.get(insn.reference)
        if target is None:
            if _is_jump(insn):
                known = ", ".join(sorted(labels)) or "none"
                raise ValueError(f"{_where(index, insn)}: unknown label {insn.reference!r} (labels: {known})")
            out.append(insn)  # an external function
            continue
        delta = target - (index + 1)
        uses_imm = _is_local_call(insn) or (insn.cls == InsnClass.JMP32 and insn.opcode & 0xF0 == JmpOp.JA)
        low, high = _I32 if uses_imm else _I16
        if not low <= delta <= high:
            raise ValueError(
                f"{_where(index, insn)}: label {insn.reference!r} is {delta} instructions away, "
                f"out of range for this jump ({low} to {high}; use gotol for far jumps)"
            )
        if uses_imm:
            out.append(dataclasses.replace(insn, imm=delta, reference=None))
        else:
            out.append(dataclasses.replace(insn, offset=delta, reference=None))
    return out


def _fd(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        fd = value
    elif callable(getattr(value, "fileno", None)):
        fd = value.fileno()  # type: ignore[attr-defined]
    else:
        raise TypeError(f"maps[{name!r}] must be an fd or have fileno(), not {type(value).__name__}")
    if not isinstance(fd, int) or not 0 <= fd < 1 << 31:
        raise ValueError(f"maps[{name!r}] is not a valid file descriptor: {fd!r}")
    return fd


class CoreResolver(Protocol):
    """What resolves CO-RE placeholders against kernel BTF: ``ebpf.btf.CoreRelocator`` is one.

    It gets the encoded program and the (slot index, record) pairs and
    returns the patched program and a report.
    """

    def relocate_placeholders(
        self, instructions: bytes, placeholders: Sequence[tuple[int, CoreRelocation]], /
    ) -> tuple[bytes, Sequence[object]]: ...


def assemble(
    items: Iterable[Item],
    *,
    maps: Mapping[str, int | HasFileno] | None = None,
    core: CoreResolver | None = None,
) -> bytes:
    """Resolve labels, patch map references with the fds of ``maps`` and encode.

    ``maps`` maps the names used by ``ld_map_fd``/``ld_map_value`` to map
    descriptors (ints or objects with ``fileno()``). ``core`` resolves the
    CO-RE placeholders (``core_field_offset(...)``...) against kernel BTF,
    e.g. ``core=ebpf.btf.CoreRelocator()``; this package itself knows no BTF.

    Raises:
        TypeError: see [`resolve_labels()`][ebpf.asm.resolve_labels]; a map that is not an fd.
        ValueError: see [`resolve_labels()`][ebpf.asm.resolve_labels]; a map name missing from
            ``maps``; a call to a function that is not a label here; a kfunc
            or ksym that ``ebpf.btf`` has not resolved; a CO-RE placeholder
            without ``core``.
        Exception: what ``core`` raises (``ebpf.btf.CoreError``...).
    """
    given = dict(maps or {})
    out = []
    placeholders: list[tuple[int, CoreRelocation]] = []
    for index, slot in enumerate_slots(resolve_labels(items)):
        insn = slot
        if slot.relocation is not None:
            if core is None:
                raise ValueError(
                    f"instruction {index} ({format_instruction(slot)}) carries the CO-RE relocation "
                    f"'{slot.relocation}': pass core=ebpf.btf.CoreRelocator() to resolve it"
                )
            placeholders.append((index, slot.relocation))
            insn = dataclasses.replace(slot, relocation=None)
        if insn.reference is None:
            out.append(insn)
            continue
        if insn.is_wide and insn.src in (PseudoLoad.MAP_FD, PseudoLoad.MAP_VALUE):
            if insn.reference not in given:
                known = ", ".join(sorted(given)) or "none given"
                raise ValueError(f"{_where(index, insn)}: no map named {insn.reference!r} in maps= ({known})")
            fd = _fd(insn.reference, given[insn.reference])
            out.append(dataclasses.replace(insn, imm=(insn.imm & ~0xFFFFFFFF) | fd, reference=None))
            continue
        if _is_local_call(insn):
            raise ValueError(f"{_where(index, insn)}: no label {insn.reference!r} for this function call")
        raise ValueError(
            f"{_where(index, insn)}: the kernel BTF id of {insn.reference!r} is needed; "
            "resolve it with ebpf.btf"
        )
    code = encode(out)
    if placeholders:
        assert core is not None
        code, _report = core.relocate_placeholders(code, placeholders)
    return code


def enumerate_slots(insns: Iterable[Instruction]) -> Iterable[tuple[int, Instruction]]:
    """Pairs of (slot index, instruction): the index counts ``lddw`` as two slots, as jump offsets do."""
    slot = 0
    for insn in insns:
        yield slot, insn
        slot += insn.slots
