"""``ebpf elf inspect|disasm|usdt``: BPF object files (programs, maps, variables); USDT probes of binaries."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from ._output import CliError, print_json, type_name

if TYPE_CHECKING:
    from ebpf.elf import CollectionSpec, UsdtProbe

__all__ = ["cmd_elf_disasm", "cmd_elf_inspect", "cmd_elf_usdt"]


def _object(path: str) -> CollectionSpec:
    from ebpf.elf import CollectionSpec

    if not os.path.exists(path):
        raise CliError(f"{path}: no such file")
    return CollectionSpec.from_file(path)


def cmd_elf_inspect(args: argparse.Namespace) -> int:
    from ebpf.elf import inspect

    spec = _object(args.file)
    if not args.json:
        print(inspect(spec))
        return 0
    programs = {
        name: {
            "type": type_name(p.type),
            "section": spec.sections.get(name, ""),
            "attach_to": p.attach_to,
            "insns": p.instruction_count,
        }
        for name, p in spec.programs.items()
    }
    maps = {
        name: {
            "type": type_name(m.type),
            "key_size": m.key_size,
            "value_size": m.value_size,
            "max_entries": m.max_entries,
        }
        for name, m in spec.maps.items()
    }
    print_json({"programs": programs, "maps": maps, "variables": sorted(spec.variables)})
    return 0


def cmd_elf_disasm(args: argparse.Namespace) -> int:
    from ebpf.asm import disassemble

    spec = _object(args.file)
    names = sorted(spec.programs)
    if args.program is not None:
        if args.program not in spec.programs:
            raise CliError(f"{args.file} has no program {args.program!r} (programs: {', '.join(names)})")
        names = [args.program]
    listings = {name: disassemble(spec.programs[name].instructions, style=args.style) for name in names}
    if args.json:
        print_json({name: text.splitlines() for name, text in listings.items()})
        return 0
    for name, text in listings.items():
        print(f"{name} (section {spec.sections.get(name, '?')}):")
        print(text)
        print()
    return 0


def _usdt_row(probe: UsdtProbe) -> dict[str, object]:
    """One probe site as ``ebpf elf usdt --json`` prints it."""
    return {
        "provider": probe.provider,
        "name": probe.name,
        "address": probe.address,
        "file_offset": probe.file_offset,
        "semaphore": probe.semaphore_address,
        "semaphore_offset": probe.semaphore_offset,
        "base": probe.base,
        "argument_spec": probe.argument_spec,
        "arguments": [
            {
                "spec": arg.text,
                "type": arg.type_name,
                "kind": type_name(arg.kind),
                "register": arg.register,
                "offset": arg.offset,
                "value": arg.value,
                "description": arg.describe(probe.machine),
            }
            for arg in probe.arguments
        ],
    }


def cmd_elf_usdt(args: argparse.Namespace) -> int:
    from ebpf.elf import usdt_probes

    try:
        probes = usdt_probes(args.file)
    except FileNotFoundError:
        raise CliError(f"{args.file}: no such file (nor a library the dynamic loader would find)") from None
    if args.json:
        print_json([_usdt_row(probe) for probe in probes])
        return 0
    print(f"{args.file}: {len(probes)} USDT probe{'' if len(probes) == 1 else 's'}")
    for probe in probes:
        where = f"{probe.qualified_name}  at {probe.address:#x} (file offset {probe.file_offset:#x})"
        if probe.semaphore_address:
            where += f", semaphore {probe.semaphore_address:#x} (file offset {probe.semaphore_offset:#x})"
        print(where)
        for line in probe.describe() or ["no arguments"]:
            print(f"  {line}")
    return 0
