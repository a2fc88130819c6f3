"""What every ``ebpf`` command shares: the user error, tables, JSON and one-object views."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "CliError",
    "Handler",
    "hex_bytes",
    "print_json",
    "print_json_stream",
    "show",
    "table",
    "terminal_width",
    "type_name",
]

#: A command's handler: the parsed arguments in, the exit status out.
Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 1."""


def terminal_width() -> int | None:
    """The width tables must fit: ``$COLUMNS`` when set, else the terminal's; ``None`` when piped.

    Output read by a program (stdout not a terminal, no ``COLUMNS``) is not
    wrapped, so that scripts see one line per row whatever their window.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


_GAP = "  "


def _shrink(widths: list[int], floors: Sequence[int], limit: int) -> list[int]:
    """Narrow the widest columns, one character at a time, until they fit ``limit`` or reach their floors."""
    widths = list(widths)
    excess = sum(widths) + len(_GAP) * (len(widths) - 1) - limit
    while excess > 0:
        room = [i for i, w in enumerate(widths) if w > floors[i]]
        if not room:
            break
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _fold(cell: str, width: int) -> list[str]:
    """A cell's lines in a column of ``width``: wrapped between words; a word too long is cut with ``…``."""
    if len(cell) <= width:
        return [cell]
    lines = textwrap.wrap(cell, width, break_long_words=False, break_on_hyphens=False) or [""]
    return [ln if len(ln) <= width else ln[: max(width - 1, 0)] + "…" for ln in lines]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], width: int | None = None) -> str:
    """Columns aligned to their widest cell; numbers are right-aligned.

    When the table is wider than ``width`` (default: ``terminal_width()``),
    the widest text columns are narrowed and their cells wrapped between
    words onto more lines (a single word longer than its column is cut and
    ends with ``…``, and only when wrapping every column between words is not
    enough). Numbers and headers are never narrowed.
    """
    if width is None:
        width = terminal_width()
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(r[i].isdigit() for r in cells) and bool(cells) for i in range(len(headers))]
    if width is not None:
        # First wrap between words; only when that is not enough, cut the longest words.
        longest = [
            max([len(h)] + [len(w) for r in cells for w in r[i].split()]) for i, h in enumerate(headers)
        ]
        whole = [w if numeric[i] else min(w, longest[i]) for i, w in enumerate(widths)]
        cut = [w if numeric[i] else min(w, max(len(headers[i]), 8)) for i, w in enumerate(widths)]
        widths = _shrink(_shrink(widths, whole, width), cut, width)

    def lines(values: Sequence[str]) -> list[str]:
        folded = [_fold(v, w) for v, w in zip(values, widths, strict=True)]
        out = []
        for n in range(max(map(len, folded))):
            parts = [
                (f[n] if n < len(f) else "").rjust(w) if num else (f[n] if n < len(f) else "").ljust(w)
                for f, w, num in zip(folded, widths, numeric, strict=True)
            ]
            out.append(_GAP.join(parts).rstrip())
        return out

    return "\n".join([ln for row in [list(headers), *cells] for ln in lines(row)])


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
