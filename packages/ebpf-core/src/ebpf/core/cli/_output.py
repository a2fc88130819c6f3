"""What every ``ebpf`` command shares: the user error, tables, JSON and one-object views."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "CliError",
    "Handler",
    "hex_bytes",
    "print_json",
    "print_json_stream",
    "show",
    "table",
    "type_name",
]

#: A command's handler: the parsed arguments in, the exit status out.
Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 1."""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned to their widest cell; numbers are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(r[i].isdigit() for r in cells) and bool(cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in cells)])


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON (what ``--json`` gives); values JSON lacks become strings."""
    json.dump(data, sys.stdout, indent=2, default=str)
    print()


def print_json_stream(items: Iterable[object]) -> int:
    """Print ``items`` as one indented JSON array, each item as soon as it comes; returns how many.

    The output is the same as ``print_json(list(items))`` but nothing waits for the last
    item, so a reader sees the first entries of a large map at once and memory stays flat.
    """
    count = 0
    for item in items:
        body = json.dumps(item, indent=2, default=str).replace("\n", "\n  ")
        sys.stdout.write(("[\n  " if count == 0 else ",\n  ") + body)
        count += 1
        if count % 256 == 0:
            sys.stdout.flush()
    sys.stdout.write("\n]\n" if count else "[]\n")
    sys.stdout.flush()
    return count


def hex_bytes(raw: bytes) -> list[str]:
    """Raw bytes as bpftool's JSON shows them: ``b"\\x03\\x00"`` -> ``["0x03", "0x00"]``."""
    return [f"0x{byte:02x}" for byte in raw]


def type_name(value: object) -> str:
    """How listings name a kernel enum value: ``MapType.HASH`` -> ``"hash"``; anything else as ``str()``."""
    name = getattr(value, "name", None)
    return name.lower() if isinstance(name, str) else str(value)


def show(row: dict[str, object], json_out: bool) -> int:
    """Print one object's fields, one per line (or as JSON); returns exit status 0."""
    if json_out:
        print_json(row)
    else:
        width = max(map(len, row))
        for key, value in row.items():
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            print(f"{key:<{width}}  {shown}")
    return 0
