"""``ebpf prog list|show|dump``: loaded programs and their instructions."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING

from ._objects import open_by_id, resolve_id
from ._output import CliError, print_json, show, table, type_name

if TYPE_CHECKING:
    from ebpf.syscall.objects import ProgramInfo

__all__ = ["cmd_prog_dump", "cmd_prog_list", "cmd_prog_show"]


def _program_info(ref: str) -> ProgramInfo:
    from ebpf.syscall import objects

    with open_by_id("prog", resolve_id("prog", ref, objects.list_programs)) as fd:
        return objects.get_program_info(fd)


def _prog_row(info: ProgramInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "type": type_name(info.type),
        "name": info.name,
        "tag": info.tag,
        "gpl_compatible": info.gpl_compatible,
        "map_ids": list(info.map_ids),
        "btf_id": info.btf_id,
        "xlated_size": info.xlated_size,
        "jited_size": info.jited_size,
        "verified_insns": info.verified_insns,
        "run_count": info.run_count,
        "run_time_ns": info.run_time_ns,
        "created_by_uid": info.created_by_uid,
    }


def cmd_prog_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    infos = objects.list_programs()
    if args.json:
        print_json([_prog_row(info) for info in infos])
        return 0
    cells = [
        (i.id, type_name(i.type), i.name or "-", i.tag, ",".join(map(str, i.map_ids)) or "-") for i in infos
    ]
    print(table(("ID", "TYPE", "NAME", "TAG", "MAPS"), cells))
    return 0


def cmd_prog_show(args: argparse.Namespace) -> int:
    return show(_prog_row(_program_info(args.prog)), args.json)


def _native_listing(code: bytes) -> str:
    """Machine code as GNU objdump disassembles it, or hex lines when objdump is missing."""
    import platform

    objdump = shutil.which("objdump")
    arch = {"x86_64": "i386:x86-64", "aarch64": "aarch64"}.get(platform.machine())
    if objdump and arch:
        with tempfile.NamedTemporaryFile(suffix=".bin") as tmp:
            tmp.write(code)
            tmp.flush()
            out = subprocess.run(
                [objdump, "-D", "-b", "binary", "-m", arch, tmp.name],
                capture_output=True,
                text=True,
                check=False,
            )
        if out.returncode == 0:
            lines = out.stdout.splitlines()
            start = next((i for i, ln in enumerate(lines) if ln.endswith(">:")), -1)
            return "\n".join(lines[start + 1 :]).strip("\n")
    return "\n".join(f"{off:8x}:  {code[off : off + 16].hex(' ')}" for off in range(0, len(code), 16))


def _xlated_listing(code: bytes) -> str:
    """The verifier's form, with map references as bpftool shows them (``r1 = map[id:42]``).

    In translated instructions the kernel replaces each map pointer of an
    ``ld_imm64`` by the map's id, and keeps the pseudo source register that
    says whether it is the map (``BPF_PSEUDO_MAP_FD``) or an address in its
    value (``BPF_PSEUDO_MAP_VALUE``, offset in the upper half).
    """
    from ebpf.asm import LDDW, PseudoLoad, decode, format_verifier

    lines = []
    slot = 0
    for insn in decode(code):
        text = format_verifier(insn)
        if insn.opcode == LDDW and insn.src in (PseudoLoad.MAP_FD, PseudoLoad.MAP_VALUE):
            map_id, offset = insn.imm & 0xFFFFFFFF, (insn.imm >> 32) & 0xFFFFFFFF
            where = f"map[id:{map_id}]" if insn.src == PseudoLoad.MAP_FD else f"map[id:{map_id}][0]+{offset}"
            text = f"({insn.opcode:02x}) r{insn.dst} = {where}"
        lines.append(f"{slot}: {text}")
        slot += 2 if insn.opcode == LDDW else 1
    return "\n".join(lines)


def cmd_prog_dump(args: argparse.Namespace) -> int:
    from ebpf.asm import disassemble
    from ebpf.syscall import objects

    info = _program_info(args.prog)
    with open_by_id("prog", info.id) as fd:
        code = objects.program_xlated_insns(fd) if args.what == "xlated" else objects.program_jited_insns(fd)
    if not code:
        reason = "the kernel hides them (kptr_restrict)" if args.what == "xlated" else "the JIT is off"
        raise CliError(f"program {info.id} has no {args.what} instructions to show: {reason}")
    if args.what == "jited":
        if args.json:
            print_json({"id": info.id, "jited": code.hex()})
        else:
            print(_native_listing(code))
        return 0
    text = _xlated_listing(code) if args.style == "verifier" else disassemble(code)
    if args.json:
        print_json({"id": info.id, "insns": text.splitlines()})
    else:
        print(text)
    return 0
