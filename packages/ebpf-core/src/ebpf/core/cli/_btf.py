"""``ebpf btf list|dump``: BTF objects in the kernel, and BTF as bpftool's raw format or as C."""

from __future__ import annotations

import argparse
import os
import sys

from ._objects import kernel_btf
from ._output import CliError, print_json, table

__all__ = ["cmd_btf_dump", "cmd_btf_list"]


def _btf_rows() -> list[dict[str, object]]:
    """BTF objects as ``bpftool -j btf show`` has them: with the programs and maps that use each.

    Differences (docs/cli.md): ``name`` is always there ("" for none); ``prog_ids`` and
    ``map_ids`` are sorted.
    """
    from ebpf.syscall import objects

    users: dict[int, tuple[list[int], list[int]]] = {}
    for prog in objects.list_programs():
        if prog.btf_id:
            users.setdefault(prog.btf_id, ([], []))[0].append(prog.id)
    for m in objects.list_maps():
        if m.btf_id:
            users.setdefault(m.btf_id, ([], []))[1].append(m.id)
    rows: list[dict[str, object]] = []
    for b in objects.list_btfs():
        progs, maps = users.get(b.id, ([], []))
        rows.append(
            {
                "id": b.id,
                "size": b.size,
                "prog_ids": sorted(progs),
                "map_ids": sorted(maps),
                "kernel": b.kernel_btf,
                "name": b.name,
            }
        )
    return rows


def cmd_btf_list(args: argparse.Namespace) -> int:
    rows = _btf_rows()
    if args.json:
        print_json(rows)
    else:
        cells = [(r["id"], r["name"] or "-", r["size"], "kernel" if r["kernel"] else "-") for r in rows]
        print(table(("ID", "NAME", "SIZE", "KIND"), cells))
    return 0


def cmd_btf_dump(args: argparse.Namespace) -> int:
    # (ebpf.btf's kernel view and the syscall layer are imported only without a FILE)
    import ebpf.btf
    from ebpf.btf import dump_c, dump_raw, load_file

    if args.id is not None:
        if args.file is not None:
            raise CliError("give a FILE or --id, not both")
        graph = kernel_btf(args.id)
    elif args.file is None and not args.base:
        vmlinux = ebpf.btf.KERNEL_BTF_DIR / "vmlinux"
        if not vmlinux.exists():
            raise CliError(f"{vmlinux}: no such file")
        graph = ebpf.btf.load_vmlinux()  # the process-wide view of the kernel's types
    else:
        path = args.file or str(ebpf.btf.KERNEL_BTF_DIR / "vmlinux")
        if not os.path.exists(path):
            raise CliError(f"{path}: no such file")
        base = load_file(args.base) if args.base else None
        graph = load_file(path, base)
    sys.stdout.write(dump_c(graph) if args.format == "c" else dump_raw(graph))
    return 0
