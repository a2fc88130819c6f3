"""``ebpf prog dump xlated``: a program's verified instructions as bpftool prints them.

Each instruction becomes one object of bpftool's ``--json`` shape: ``disasm`` (the verifier's
text), and, where the program's BTF says so, ``proto`` (the C prototype of the function that
starts there, from BTF func info) and ``src`` (the source line, from BTF line info; with
``linum`` also ``file``, ``line_num``, ``line_col``); with ``opcodes`` the raw fields.
The text listing is made from the same objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ._output import hex_bytes

if TYPE_CHECKING:
    from ebpf.asm import Instruction
    from ebpf.btf import TypeGraph

__all__ = ["call_targets", "func_prototype", "jited_function_names", "xlated_entries", "xlated_text"]

# ``BPF_PSEUDO_CALL`` (1, a call of another function of the program) is left as the verifier
# prints it; helper calls (0) and kfunc calls (2) carry, once verified, the address of the
# kernel function as an offset from ``__bpf_call_base`` (kernel/bpf/verifier.c, do_misc_fixups
# and fixup_kfunc_call), which /proc/kallsyms names, as bpftool does.
_KERNEL_CALLS = (0, 2)
_PSEUDO_CALL = 1
_CALL = 0x85


def call_targets(insns: Sequence[Instruction]) -> dict[int, str]:
    """``imm -> kernel function name`` of the helper and kfunc calls in ``insns``, from /proc/kallsyms.

    Empty when the kernel hides its addresses (``kernel.kptr_restrict``) or has no kallsyms.
    """
    from ebpf.syscall.system import kernel_symbols

    wanted = {insn.imm for insn in insns if insn.opcode == _CALL and insn.src in _KERNEL_CALLS}
    if not wanted:
        return {}
    names: dict[int, str] = {}
    base = None
    try:
        for symbol in kernel_symbols(kinds="tT"):
            names.setdefault(symbol.address, symbol.name)
            if symbol.name == "__bpf_call_base":
                base = symbol.address
    except OSError:
        return {}
    if not base:
        return {}
    return {imm: names[base + imm] for imm in wanted if base + imm in names}


def func_prototype(graph: TypeGraph, type_id: int) -> str:
    """The ``FUNC`` ``type_id`` as bpftool prints it: ``int use_globals(struct xdp_md * ctx)``."""
    func = graph[type_id]
    proto = graph.func_proto(func)
    ret = str(graph[proto.return_type_id]) if proto.return_type_id else "void"
    params = ", ".join(
        "..." if not p.type_id and i == len(proto.params) - 1 else f"{p.type} {p.name}".rstrip()
        for i, p in enumerate(proto.params)
    )
    return f"{ret} {func.name}({params})"


def _verifier_text(insn: Instruction, calls: Mapping[int, str], functions: Sequence[str]) -> str:
    """bpftool's ``disasm``: map references by id, kernel functions and the program's own by name."""
    from ebpf.asm import LDDW, PseudoLoad, format_verifier

    if insn.opcode == LDDW and insn.src in (PseudoLoad.MAP_FD, PseudoLoad.MAP_VALUE):
        # The kernel replaced the map pointer by the map's id (the offset in the value above it).
        map_id, offset = insn.imm & 0xFFFFFFFF, (insn.imm >> 32) & 0xFFFFFFFF
        where = f"map[id:{map_id}]" if insn.src == PseudoLoad.MAP_FD else f"map[id:{map_id}][0]+{offset}"
        return f"({insn.opcode:02x}) r{insn.dst} = {where}"
    if insn.opcode == _CALL and insn.src in _KERNEL_CALLS and insn.imm in calls:
        return f"({insn.opcode:02x}) call {calls[insn.imm]}#{insn.imm}"
    if insn.opcode == _CALL and insn.src == _PSEUDO_CALL:
        # Once JIT-compiled, a call of another function of the program holds its relative
        # offset in ``off`` and the function's index in ``imm`` (verifier.c, jit_subprogs).
        name = f"#{functions[insn.imm]}" if 0 <= insn.imm < len(functions) else ""
        return f"({insn.opcode:02x}) call pc{insn.offset:+d}{name}"
    return format_verifier(insn)


def _opcodes(raw: bytes) -> dict[str, object]:
    """bpftool's ``opcodes`` object of one instruction (``raw``: 8 bytes, 16 for ``ld_imm64``)."""
    return {
        "code": f"0x{raw[0]:02x}",
        "src_reg": f"0x{raw[1] >> 4:x}",
        "dst_reg": f"0x{raw[1] & 0xF:x}",
        "off": hex_bytes(raw[2:4]),
        "imm": hex_bytes(raw[4:]),
    }


def xlated_entries(
    code: bytes,
    *,
    graph: TypeGraph | None = None,
    func_info: Iterable[tuple[int, int]] = (),
    line_info: Iterable[tuple[int, int, int, int]] = (),
    functions: Sequence[str] = (),
    linum: bool = False,
    opcodes: bool = False,
) -> list[dict[str, object]]:
    """One bpftool ``--json`` object per instruction of ``code`` (translated instructions).

    ``func_info`` and ``line_info`` are the program's records (``ebpf.syscall.objects``) and
    ``graph`` its BTF; without a graph no prototype or source line is shown. ``functions``
    are the kernel's symbol names of the program's JIT-compiled functions, by index
    (``jited_function_names``), for the calls between them.

    Raises:
        ParseError: the BTF does not have a type or string the records name.
    """
    from ebpf.asm import LDDW, decode

    insns = decode(code)
    calls = call_targets(insns)
    protos = {off: type_id for off, type_id in func_info} if graph is not None else {}
    # bpftool shows the last record of each instruction offset (bpf_prog_linfo__lfind).
    lines = {rec[0]: rec for rec in line_info} if graph is not None else {}
    entries = []
    slot = 0
    for insn in insns:
        size = 16 if insn.opcode == LDDW else 8
        entry: dict[str, object] = {}
        if graph is not None and slot in protos:
            entry["proto"] = func_prototype(graph, protos[slot])
        if graph is not None and slot in lines:
            _, file_off, line_off, line_col = lines[slot]
            entry["src"] = graph.string(line_off).strip()
            if linum:
                entry["file"] = graph.string(file_off)
                entry["line_num"] = line_col >> 10
                entry["line_col"] = line_col & 0x3FF
        entry["disasm"] = _verifier_text(insn, calls, functions)
        if opcodes:
            entry["opcodes"] = _opcodes(code[slot * 8 : slot * 8 + size])
        entries.append(entry)
        slot += size // 8
    return entries


def jited_function_names(
    graph: TypeGraph, func_info: Sequence[tuple[int, int]], tags: Sequence[str]
) -> list[str]:
    """``bpf_prog_<tag>_<name>``: what /proc/kallsyms calls each JIT-compiled function of a program with BTF.

    The kernel names them so (kernel/bpf/core.c, bpf_prog_ksym_set_name) from each function's
    tag and its name in the program's BTF func info.
    """
    return [
        f"bpf_prog_{tag}_{graph[type_id].name}" for tag, (_, type_id) in zip(tags, func_info, strict=False)
    ]


def xlated_text(entries: Sequence[Mapping[str, object]]) -> str:
    """The listing bpftool prints for ``entries`` (from ``xlated_entries``), without a final newline."""
    out = []
    slot = 0
    for entry in entries:
        if "proto" in entry:
            out.append(f"{entry['proto']}:")
        if "src" in entry:
            where = (
                f" [file:{entry['file']} line_num:{entry['line_num']} line_col:{entry['line_col']}]"
                if "file" in entry
                else ""
            )
            out.append(f"; {entry['src']}{where}")
        out.append(f"{slot:4d}: {entry['disasm']}")
        raw = entry.get("opcodes")
        size = 2 if str(entry["disasm"]).startswith("(18)") else 1
        if isinstance(raw, dict):
            fields = [raw["code"], f"0x{raw['src_reg'][2:]}{raw['dst_reg'][2:]}", *raw["off"], *raw["imm"]]
            out.append("       " + " ".join(str(f)[2:] for f in fields))
        slot += size
    return "\n".join(out)
