"""Kernel code addresses to ``symbol+offset [module]``, from ``/proc/kallsyms`` sorted once.

The lines come from the library's one kallsyms reader,
[`ebpf.syscall.system.kernel_symbols()`][ebpf.syscall.system.kernel_symbols].
kallsyms has no sizes: an address
belongs to the code symbol at or below it. Loaded BPF programs are there
too (``bpf_prog_<tag>_<name> [bpf]``), so a table made before a program was
loaded does not know it: make a new one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from ebpf.syscall.system import kernel_symbols

__all__ = ["KernelSymbols"]

#: kallsyms' type letters of code: text, weak text.
CODE_KINDS = "tTwW"


class KernelSymbols:
    """The kernel's code symbols (vmlinux, modules, BPF programs) sorted by address.

    Without ``CAP_SYSLOG`` (``kernel.kptr_restrict``) every address reads as
    0: the table is then empty and [`lookup()`][ebpf.elf.KernelSymbols.lookup] finds nothing.
    """

    def __init__(self, kallsyms: Iterable[str] | None = None) -> None:
        """Read ``/proc/kallsyms`` (or the lines ``kallsyms``, same format) and sort its code symbols.

        At an address listed more than once, the first name is kept.

        Raises:
            OSError: ``/proc/kallsyms`` cannot be read.
            ParseError: a line whose address is not hexadecimal.
        """
        found: dict[int, tuple[str, str | None]] = {}
        for symbol in kernel_symbols(kinds=CODE_KINDS, kallsyms=kallsyms):
            if symbol.address:
                found.setdefault(symbol.address, (symbol.name, symbol.module))
        self._starts = sorted(found)
        self._symbols = [found[address] for address in self._starts]

    def __len__(self) -> int:
        return len(self._starts)

    def lookup(self, address: int) -> tuple[str, int, str | None] | None:
        """``(name, offset into it, module)`` of the code at ``address`` (module ``None`` for vmlinux),
        or ``None`` below the first symbol."""
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        name, module = self._symbols[index]
        return name, address - self._starts[index], module
