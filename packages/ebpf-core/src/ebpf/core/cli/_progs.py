"""``ebpf prog list|show|dump``: loaded programs and their instructions."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING

from ._objects import kernel_btf, open_by_id, resolve_id
from ._output import CliError, print_json, show, table, type_name
from ._xlated import jited_function_names, xlated_entries, xlated_text

if TYPE_CHECKING:
    from ebpf.syscall.objects import ProgramInfo

__all__ = ["cmd_prog_dump", "cmd_prog_list", "cmd_prog_show", "full_name"]


def _program_info(ref: str) -> ProgramInfo:
    from ebpf.syscall import objects

    with open_by_id("prog", resolve_id("prog", ref, objects.list_programs)) as fd:
        return objects.get_program_info(fd)


def full_name(info: ProgramInfo) -> str:
    """The program's whole name, as bpftool shows it.

    The kernel keeps 15 characters of a name; when a name fills them and the program
    has BTF func info, the name of its first function (its entry) is the whole one.
    """
    from ebpf.syscall import BpfSyscallError, objects

    if len(info.name) < 15 or not info.btf_id:
        return info.name
    try:
        with open_by_id("prog", info.id) as fd:
            funcs = objects.program_func_info(fd)
        if not funcs:
            return info.name
        name = kernel_btf(info.btf_id)[funcs[0][1]].name
    except (CliError, BpfSyscallError, KeyError, ValueError):  # gone meanwhile, or odd BTF
        return info.name
    return name if name.startswith(info.name) else info.name


def _loaded_at(load_time_ns: int) -> int:
    """Seconds since the epoch of a load time in the kernel's nanoseconds since boot.

    bpftool truncates the two clocks to seconds before subtracting, so its figure may be one
    second less; this one stays the same from one call to the next.
    """
    import time

    boot_ns = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return (boot_ns + load_time_ns) // 10**9


def _memlock(kind: str, object_id: int) -> int | None:
    """``memlock`` of the object's fdinfo (bytes charged to it), None when the kernel has none."""
    from ebpf.syscall import objects

    try:
        with open_by_id(kind, object_id) as fd:
            value = objects.fd_info(fd).get("memlock")
    except (CliError, OSError):
        return None
    return int(value) if value and value.isdigit() else None


def _prog_row(info: ProgramInfo) -> dict[str, object]:
    """The program as ``bpftool -j prog show`` has it: its fields, names and presence rules.

    Differences (docs/cli.md): ``name`` is always there ("" for none) and
    ``verified_insns`` is added.
    """
    row: dict[str, object] = {
        "id": info.id,
        "type": type_name(info.type),
        "name": full_name(info),
        "tag": info.tag,
        "gpl_compatible": info.gpl_compatible,
    }
    if info.run_time_ns:
        row["run_time_ns"] = info.run_time_ns
        row["run_cnt"] = info.run_count
    if info.recursion_misses:
        row["recursion_misses"] = info.recursion_misses
    if info.ifindex:
        row["ifindex"] = info.ifindex
    if info.load_time_ns:
        row["loaded_at"] = _loaded_at(info.load_time_ns)
        row["uid"] = info.created_by_uid
    row["bytes_xlated"] = info.xlated_size
    row["jited"] = bool(info.jited_size)
    if info.jited_size:
        row["bytes_jited"] = info.jited_size
    memlock = _memlock("prog", info.id)
    if memlock is not None:
        row["bytes_memlock"] = memlock
    if info.map_ids:
        row["map_ids"] = list(info.map_ids)
    if info.btf_id:
        row["btf_id"] = info.btf_id
    row["verified_insns"] = info.verified_insns
    return row


def cmd_prog_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    infos = objects.list_programs()
    if args.json:
        print_json([_prog_row(info) for info in infos])
        return 0
    cells = [
        (i.id, type_name(i.type), full_name(i) or "-", i.tag, ",".join(map(str, i.map_ids)) or "-")
        for i in infos
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


def _xlated(info: ProgramInfo, code: bytes, args: argparse.Namespace) -> list[dict[str, object]]:
    """bpftool's objects of the program's translated instructions, with its BTF when it has some."""
    from ebpf.syscall import objects

    graph = None
    func_info: list[tuple[int, int]] = []
    line_info: list[tuple[int, int, int, int]] = []
    functions: list[str] = []
    if info.btf_id:
        with open_by_id("prog", info.id) as fd:
            func_info = objects.program_func_info(fd)
            line_info = objects.program_line_info(fd)
            tags = objects.program_subprog_tags(fd) if info.jited_size else []
        graph = kernel_btf(info.btf_id)
        functions = jited_function_names(graph, func_info, tags)
    return xlated_entries(
        code,
        graph=graph,
        func_info=func_info,
        line_info=line_info,
        functions=functions,
        linum=args.linum,
        opcodes=args.opcodes,
    )


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
    if args.style == "llvm":
        text = disassemble(code)
        if args.json:
            print_json({"id": info.id, "insns": text.splitlines()})
        else:
            print(text)
        return 0
    entries = _xlated(info, code, args)
    if args.json:
        print_json(entries)
    else:
        print(xlated_text(entries))
    return 0
