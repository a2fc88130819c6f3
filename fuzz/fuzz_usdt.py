"""Fuzz target: USDT probe notes and argument specs through ``ebpf.elf`` (``usdt_probes``).

What ``ebpf elf usdt`` and a USDT attachment do with a binary: read its
``.note.stapsdt`` notes, turn addresses into file offsets, parse every
argument spec and lay it out as libbpf's ``struct __bpf_usdt_spec``. The
input is also read as a bare argument spec string for both architectures.

``ParseError`` is the documented error for malformed input, and
``LibraryLimitError`` for what the library cannot read yet (another
architecture, operands ``usdt.bpf.h`` cannot express); nothing else may come out.
"""

from __future__ import annotations

import contextlib

from ebpf.elf import ElfFile, parse_usdt_arguments, usdt_probes
from ebpf.syscall import LibraryLimitError, ParseError
from fuzz import _seeds

NAME = "usdt"
ALLOWED: tuple[type[BaseException], ...] = (ParseError, LibraryLimitError)


def one_input(data: bytes) -> None:
    """Read ``data`` as a binary with USDT notes and as a spec string; only ALLOWED may escape."""
    try:
        for probe in usdt_probes(ElfFile(data, name="fuzz binary")):
            probe.describe()
            for argument in probe.arguments:
                with contextlib.suppress(LibraryLimitError):
                    argument.encode()
    except ALLOWED:
        pass
    text = data[:256].decode("utf-8", "replace")
    for machine in ("x86_64", "aarch64"):
        try:
            for argument in parse_usdt_arguments(text, machine):
                argument.describe(machine)
        except ALLOWED:
            pass


def seeds() -> list[bytes]:
    """Hand-made binaries with x86_64 and aarch64 notes (``fuzz/seeds/usdt/``)."""
    return [path.read_bytes() for path in sorted((_seeds.SEED_DIR / "usdt").glob("*.elf"))]
