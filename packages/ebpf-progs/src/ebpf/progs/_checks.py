"""Argument checks shared by the attach functions: they run before any syscall."""

from __future__ import annotations

from collections.abc import Collection

from ebpf.syscall import AttachType, ProgType

from ._program import Program

__all__ = ["require_attach_type", "require_type"]


def _names(values: Collection[ProgType] | Collection[AttachType]) -> str:
    return ", ".join(sorted(v.name for v in values))


def require_type(program: Program, allowed: Collection[ProgType], what: str) -> None:
    """Check that ``program`` is open and of one of the ``allowed`` types.

    Raises:
        TypeError: ``program`` is not a [`Program`][ebpf.progs.Program], or its type does not fit ``what``.
        ValueError: the program was closed.
    """
    if not isinstance(program, Program):
        raise TypeError(f"{what} needs a Program, not {type(program).__name__}")
    program.fileno()
    if program.type not in allowed:
        raise TypeError(
            f"{what} needs a program of type {_names(allowed)}; {program.name or 'the program'!r} is "
            f"{program.type.name if isinstance(program.type, ProgType) else program.type}"
        )


def require_attach_type(program: Program, allowed: Collection[AttachType], what: str) -> AttachType:
    """Check the expected attach type a program was loaded with and return it.

    Raises:
        TypeError: the program was loaded for another attach type.
    """
    at = program.expected_attach_type
    if at is None or at not in allowed:
        raise TypeError(
            f"{what} needs a program loaded with expected_attach_type {_names(allowed)}; "
            f"{program.name or 'the program'!r} has {at.name if at is not None else None}"
        )
    return at
