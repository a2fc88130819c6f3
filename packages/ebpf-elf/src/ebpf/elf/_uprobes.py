"""Uprobes by symbol name: ELF symbol lookup (this package) + attachment (``ebpf.progs``).

Compositions of two siblings live in the lowest package that depends on
both (docs/architecture.md, Distributions); ebpf-elf depends on ebpf-progs.
"""

from __future__ import annotations

import os

from ebpf.progs import Link, Program, attach_uprobe

from ._symbols import uprobe_target

__all__ = ["attach_uprobe_symbol"]


def attach_uprobe_symbol(
    program: Program,
    binary: str | os.PathLike[str],
    symbol: str,
    *,
    offset: int = 0,
    retprobe: bool = False,
    pid: int | None = None,
    cookie: int = 0,
) -> Link:
    """Attach a uprobe program to ``symbol`` (plus ``offset`` bytes) of ``binary``.

    ``binary`` is a path or a library name found as the dynamic loader
    would (``"libc.so.6"``); ``symbol`` may carry a version
    (``"memcpy@GLIBC_2.2.5"``).

    Examples:
        >>> link = attach_uprobe_symbol(program, "libc.so.6", "malloc")  # doctest: +SKIP

    Raises:
        FileNotFoundError: the binary or library cannot be found.
        KeyError: no such symbol.
        ValueError: a negative ``offset``.
        ParseError: the binary is not a valid ELF64 file.
        TypeError, BpfSyscallError: what [`ebpf.progs.attach_uprobe()`][ebpf.progs.attach_uprobe] raises.
    """
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    path, file_offset = uprobe_target(binary, symbol)
    return attach_uprobe(program, path, file_offset + offset, retprobe=retprobe, pid=pid, cookie=cookie)
