"""Programs through functions: load from the DSL, bytes or a spec; pin; open."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ebpf.asm import HasFileno, Item
    from ebpf.maps import Map
    from ebpf.progs import BpfLink, Link, Program, ProgramSpec
    from ebpf.syscall import ProgType

__all__ = ["load_program", "open_pinned", "open_program", "pin", "unpin"]


def _instructions(program: Sequence[Item] | bytes, maps: Mapping[str, HasFileno | int] | None) -> bytes:
    if isinstance(program, bytes | bytearray | memoryview):
        if maps:
            raise ValueError("maps= patches map references of ebpf.asm programs, not of raw bytes")
        return bytes(program)
    from ebpf.asm import assemble

    return assemble(program, maps=maps)


def load_program(
    program: Sequence[Item] | bytes | ProgramSpec,
    kind: str | ProgType | None = None,
    *,
    maps: Mapping[str, HasFileno | int] | None = None,
    name: str = "",
    license: str = "GPL",
    log_level: int = 0,
) -> Program:
    """Load a program: an ``ebpf.asm`` instruction list, raw instruction bytes, or a ``ProgramSpec``.

    ``kind`` is a section name as libbpf knows them (``"xdp"``, ``"tc"``,
    ``"raw_tracepoint/sys_enter"``, ``"tracepoint/syscalls/sys_enter_openat"``,
    ``"cgroup_skb/egress"``...), which also sets the attach target used by
    ``program.attach()``, or a ``ProgType``. ``maps`` resolves the map names
    of ``ld_map_fd``/``ld_map_value`` instructions to maps (or descriptors).
    The returned [`Program`][ebpf.progs.Program] is a context manager.

    Raises:
        TypeError: a spec with ``kind``, or no ``kind`` without a spec.
        ValueError: an unknown section name, an unresolved label or map name.
        ProgramVerifierError: the verifier refused (the error has the whole log).
        PermissionDeniedError: missing capabilities (the message names them).
    """
    from ebpf.progs import Program, ProgramSpec
    from ebpf.syscall import ProgType

    if isinstance(program, ProgramSpec):
        if kind is not None or maps:
            raise TypeError("load_program(spec) takes no kind or maps: the spec has its type and bytes")
        spec = program
    elif kind is None:
        raise TypeError("load_program() needs kind= (a section name such as 'xdp', or a ProgType)")
    elif isinstance(kind, str):
        spec = ProgramSpec.from_section(kind, _instructions(program, maps), name=name, license=license)
    else:
        spec = ProgramSpec(name, ProgType(kind), _instructions(program, maps), license=license)
    return Program.load(spec, log_level=log_level)


def open_program(source: int | str | os.PathLike[str]) -> Program:
    """Open a loaded program by id (an int) or by the bpffs path it is pinned at."""
    from ebpf.progs import Program

    if isinstance(source, int):
        return Program.from_id(source)
    return Program.from_pin(source)


def open_pinned(path: str | os.PathLike[str]) -> Map | Program | BpfLink:
    """Open whatever is pinned at ``path``: a map, a program or a link.

    Raises:
        BpfSyscallError: nothing pinned there (``ENOENT``), or not on bpffs.
        ValueError: a pinned object of another kind (BTF...).
    """
    from ebpf.maps import Map
    from ebpf.progs import Link, Program
    from ebpf.syscall import commands, objects

    with commands.obj_get(path) as fd:
        kind = objects.object_kind(fd)
    if kind == "map":
        return Map.from_pin(path)
    if kind == "program":
        return Program.from_pin(path)
    if kind == "link":
        return Link.from_pin(path)
    raise ValueError(f"{os.fspath(path)} is pinned but is neither a map, a program nor a link")


def pin(obj: Map | Program | Link, path: str | os.PathLike[str]) -> None:
    """Pin a map, program or link at ``path`` on bpffs so it outlives this process."""
    obj.pin(path)


def unpin(obj: Map | Program | Link) -> None:
    """Remove the pin [`pin()`][ebpf.core.pin] made (the object stays while something else refers to it)."""
    obj.unpin()
