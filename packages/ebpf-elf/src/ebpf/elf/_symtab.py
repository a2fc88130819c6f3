"""The function symbols of one executable or shared library, sorted by address for lookups by bisection.

An address in a process becomes a symbol in three steps: the mapping gives
the *file offset* (``address - start + offset``), the loadable segment
(``PT_LOAD``) that holds that offset gives the *virtual address* the linker
assigned (``offset - p_offset + p_vaddr``: the same for PIE executables,
shared libraries and fixed-address executables), and the symbol tables give
the function whose ``[value, value + size)`` holds it.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ebpf.syscall.errors import ParseError

from ._debuginfo import DEBUG_ROOT, debug_file
from ._elf import PT_LOAD, ElfFile, ElfSegment, ElfSymbol, SectionType, SymbolBinding, SymbolType

__all__ = ["FileSymbols"]

logger = logging.getLogger("ebpf.elf")

_FUNCTION_TYPES = (SymbolType.FUNC, SymbolType.GNU_IFUNC)
_BINDING_RANK: dict[int, int] = {SymbolBinding.GLOBAL: 0, SymbolBinding.WEAK: 1, SymbolBinding.LOCAL: 2}


def _preference(symbol: ElfSymbol) -> tuple[bool, int, int, bool, str]:
    """How good a name ``symbol`` is among those at its address (smaller is better).

    Plain names before versioned ones (``.symtab`` spells compatibility
    symbols ``name@VERSION``), fewer leading underscores (``getpid`` before
    ``__getpid``), global before weak before local, the default version.
    """
    name = symbol.name
    return (
        "@" in name,
        len(name) - len(name.lstrip("_")),
        _BINDING_RANK.get(symbol.binding, 3),
        not symbol.default_version,
        name,
    )


class FileSymbols:
    """The function symbols and loadable segments of one ELF file.

    Lookups bisect a sorted array of start addresses: cheap enough to
    resolve every frame of a large profile. A symbol of size 0 (hand-written
    assembly) extends to the next symbol.
    """

    def __init__(self, name: str, symbols: Iterable[ElfSymbol], segments: Sequence[ElfSegment]) -> None:
        """Index the defined functions among ``symbols`` of the file called ``name``.

        At an address with several names (aliases), the global, default-version
        name with the fewest leading underscores is kept.
        """
        self.name = name
        best: dict[int, ElfSymbol] = {}
        for symbol in symbols:
            if symbol.type not in _FUNCTION_TYPES or symbol.undefined or not symbol.value or not symbol.name:
                continue
            kept = best.get(symbol.value)
            if kept is None or _preference(symbol) < _preference(kept) or (kept.size == 0 < symbol.size):
                best[symbol.value] = symbol
        ordered = sorted(best.values(), key=lambda symbol: symbol.value)
        self._starts = [symbol.value for symbol in ordered]
        self._names = [symbol.name for symbol in ordered]
        self._ends = [
            symbol.value + symbol.size
            if symbol.size
            else (ordered[i + 1].value if i + 1 < len(ordered) else symbol.value + 1)
            for i, symbol in enumerate(ordered)
        ]
        self._loads = sorted(
            (segment for segment in segments if segment.type == PT_LOAD and segment.filesz),
            key=lambda segment: segment.offset,
        )

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, debug_roots: Sequence[Path] = (DEBUG_ROOT,)
    ) -> FileSymbols:
        """The functions of the file at ``path``: its and its debug file's ``.symtab``, else ``.dynsym``.

        A linker's ``.symtab`` holds every function of ``.dynsym`` and the
        static ones; ``.dynsym`` alone is read only when there is no
        ``.symtab`` (a stripped file without debug file). The debug file is
        found by build id or ``.gnu_debuglink`` under ``debug_roots``; one
        that cannot be read is skipped (logged).

        Raises:
            OSError: the file cannot be read.
            ParseError: it is not a valid ELF64 file.
        """
        elf = ElfFile.from_file(path)
        symbols = list(elf.symbols)
        debug = debug_file(Path(path), elf, debug_roots)
        if debug is not None:
            try:
                symbols += ElfFile.from_file(debug).symbols
            except (OSError, ParseError) as exc:
                logger.debug("%s: debug file %s skipped: %s", path, debug, exc)
        if not symbols:
            dynsym = next((sec for sec in elf.sections if sec.type == SectionType.DYNSYM), None)
            # the table without GNU versions: only names and addresses are needed here
            symbols = elf.symbol_table(dynsym) if dynsym is not None else []
        return cls(os.fspath(path), symbols, elf.segments)

    def __len__(self) -> int:
        return len(self._starts)

    def address(self, file_offset: int) -> int | None:
        """The virtual address (as linked) of byte ``file_offset`` of the file, or ``None`` if no
        loadable segment holds it."""
        loads = self._loads
        for segment in loads:
            if segment.offset <= file_offset < segment.offset + segment.filesz:
                return file_offset - segment.offset + segment.vaddr
        return None

    def lookup(self, address: int) -> tuple[str, int] | None:
        """``(name, offset into it)`` of the function at virtual ``address``, or ``None``."""
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0 or address >= self._ends[index]:
            return None
        return self._names[index], address - self._starts[index]

    def __repr__(self) -> str:
        return f"FileSymbols({self.name!r}, {len(self)} functions)"
