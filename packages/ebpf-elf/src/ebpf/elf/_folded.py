"""Folded stacks: the text ``flamegraph.pl``, inferno and speedscope read (``root;caller;leaf count``)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["folded"]


def _clean(name: str) -> str:
    # ';' separates frames and a newline ends the line: neither may appear in a name
    return name.replace(";", ":").replace("\n", " ") or "[unknown]"


def folded(stacks: Mapping[tuple[str, ...], int], *, leaf_first: bool = False) -> str:
    """One ``a;b;c count`` line per stack, root first, sorted, for flame graphs.

    ``stacks`` maps a stack of names, root first (``leaf_first``: innermost
    first, as a StackTraceMap's stack and [`Symbolizer.stack()`][ebpf.elf.Symbolizer.stack] give
    them), to how many times it was seen. Stacks that fold to the same line
    add up; empty stacks and zero counts are left out.

    Examples:
        >>> print(folded({("main", "work"): 3, ("main",): 1}), end="")
        main 1
        main;work 3
        >>> print(folded({("work", "main"): 3}, leaf_first=True), end="")
        main;work 3

    Raises:
        ValueError: a negative count.
    """
    lines: dict[str, int] = {}
    for stack, count in stacks.items():
        if count < 0:
            raise ValueError(f"stack {stack!r} has a negative count ({count})")
        if not stack or not count:
            continue
        names = reversed(stack) if leaf_first else stack
        line = ";".join(_clean(name) for name in names)
        lines[line] = lines.get(line, 0) + count
    return "".join(f"{line} {lines[line]}\n" for line in sorted(lines))
