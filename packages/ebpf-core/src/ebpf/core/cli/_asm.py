"""``ebpf asm disasm|helpers``: raw eBPF instructions and the kernel's helpers."""

from __future__ import annotations

import argparse
import sys

from ._output import CliError, print_json, table

__all__ = ["cmd_asm_disasm", "cmd_asm_helpers"]


def _read_code(source: str) -> bytes:
    if source.startswith("hex:"):
        try:
            return bytes.fromhex(source[4:])
        except ValueError as exc:
            raise CliError(f"{source!r} is not hexadecimal ({exc})") from None
    if source == "-":
        return sys.stdin.buffer.read()
    with open(source, "rb") as f:
        return f.read()


def cmd_asm_disasm(args: argparse.Namespace) -> int:
    from ebpf.asm import disassemble

    code = _read_code(args.source)
    text = disassemble(code, style=args.style, show_bytes=not args.no_bytes)
    if args.json:
        print_json(text.splitlines())
    else:
        print(text)
    return 0


def cmd_asm_helpers(args: argparse.Namespace) -> int:
    from ebpf.asm import available_helpers, helpers

    found = available_helpers(args.prog_type, args.kernel) if args.prog_type else helpers()
    if args.kernel and not args.prog_type:
        raise CliError("--kernel needs --prog-type (which helpers a program type may call on that kernel)")
    rows = [{"id": h.id, "name": h.name, "since": h.since, "signature": str(h)} for h in found]
    if args.json:
        print_json(rows)
    else:
        print(table(("ID", "NAME", "SINCE", "SIGNATURE"), [tuple(r.values()) for r in rows]))
    return 0
