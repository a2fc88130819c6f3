"""`Example` (a catalogue program: how to build it, its maps, what it does) and `LoadedExample`."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType

from ebpf.asm import Item, assemble, disassemble
from ebpf.core._progs import load_program
from ebpf.maps import Map, MapSpec
from ebpf.progs import Program

__all__ = ["Example", "LoadedExample", "ProcessEvent"]

_FILENAME_LEN = 64


class ProcessEvent(ctypes.Structure):
    """What ``exec_logger`` and ``open_logger`` push: who ran or opened which file."""

    _fields_ = (
        ("pid", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
        ("filename", ctypes.c_char * _FILENAME_LEN),
    )


@dataclass(frozen=True)
class Example:
    """One catalogue program: how to build it, the maps it uses, and what it does.

    Attributes:
        name: the catalogue name (also the kernel program name, cut to 15 bytes).
        section: the libbpf-style section name: program type and attach target.
        summary: one line for listings.
        behaviour: what a test observes, in words.
        build: returns the program as ``ebpf.asm`` items (maps referenced by name).
        maps: the map specs by the names ``build`` refers to.
    """

    name: str
    section: str
    summary: str
    behaviour: str
    build: Callable[[], list[Item]]
    maps: Mapping[str, MapSpec] = field(default_factory=dict)

    def disassemble(self) -> str:
        """The program as ``llvm-objdump`` prints it (map references shown as ``ld_pseudo``)."""
        unresolved = dict.fromkeys(self.maps, 0)  # map references show as ld_pseudo with fd 0
        return disassemble(assemble(self.build(), maps=unresolved), show_bytes=False)

    def load(self, maps: Mapping[str, Map] | None = None) -> LoadedExample:
        """Create the maps (or use those given by name), then load the program.

        Raises:
            ProgramVerifierError, PermissionDeniedError, BpfSyscallError: as ``Program.load``.
        """
        with ExitStack() as stack:
            live: dict[str, Map] = dict(maps or {})
            for name, spec in self.maps.items():
                if name not in live:
                    live[name] = stack.enter_context(Map.create(spec))
            program = load_program(self.build(), self.section, maps=live, name=self.name[:15])
            stack.pop_all()
        owned = [m for name, m in live.items() if maps is None or name not in maps]
        return LoadedExample(self, program, live, owned)


class LoadedExample:
    """A loaded catalogue program and its maps; closing it closes what
    [`Example.load()`][ebpf.core.catalogue.Example.load] created."""

    def __init__(self, example: Example, program: Program, maps: dict[str, Map], owned: list[Map]) -> None:
        """Hold ``program`` and ``maps``; ``owned`` are the maps to close with it."""
        self.example = example
        self.program = program
        self.maps = maps
        self._owned = owned

    def close(self) -> None:
        """Close the program and the maps created for it."""
        self.program.close()
        for m in self._owned:
            m.close()

    def __enter__(self) -> LoadedExample:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
