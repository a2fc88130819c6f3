"""``ebpf check`` and ``ebpf features``: what this machine offers (the report of ``ebpf.syscall.report``)."""

from __future__ import annotations

import argparse
import sys

from ._output import print_json, table

__all__ = ["cmd_check", "cmd_features"]


def cmd_check(args: argparse.Namespace) -> int:
    from ebpf.syscall.report import collect, render

    report = collect()
    if args.json:
        print_json(report)
    else:
        render(report, sys.stdout)
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from ebpf.syscall.report import collect

    rows = collect()["features"]
    assert isinstance(rows, list)
    if args.missing:
        rows = [row for row in rows if row["status"] != "yes"]
    if args.json:
        print_json(rows)
        return 0
    cells = [(r["name"], r["since"], r["status"], r["detail"]) for r in rows]
    print(table(("FEATURE", "SINCE", "SUPPORTED", "DETAIL"), cells))
    return 0
