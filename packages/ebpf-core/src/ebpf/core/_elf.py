"""Object files through functions: load and describe clang-compiled objects (or their ``.c`` sources)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ebpf.elf import Collection, CollectionSpec

__all__ = ["inspect_object", "load_object"]


def _spec(source: str | os.PathLike[str] | CollectionSpec) -> CollectionSpec:
    from pathlib import Path

    from ebpf.elf import CollectionSpec

    if isinstance(source, CollectionSpec):
        return source
    path = Path(source)
    # from_c takes a Path (a str would be C text).
    return CollectionSpec.from_c(path) if path.suffix == ".c" else CollectionSpec.from_file(path)


def load_object(source: str | os.PathLike[str] | CollectionSpec, **options: Any) -> Collection:
    """Load a BPF object file (``clang -O2 -g -target bpf``), a ``.c`` file (compiled first), or a spec.

    Maps, global variables (``coll.variables["hits"].value``), CO-RE
    relocations against the running kernel, then programs: the returned
    ``Collection`` is a context manager owning all of them. ``options`` go
    to ``Collection.load`` (``replace_maps=``, ``pin_root=``, ``log_level=``).
    Edit what the object says first with ``CollectionSpec.from_file(...)``
    (``spec.variables["target_pid"].set(pid)``) and pass the spec.

    Raises:
        ParseError: a malformed object file.
        CompileError: clang is missing or rejected a ``.c`` source.
        ProgramVerifierError, BpfSyscallError: loading failed; nothing is left behind.
    """
    from ebpf.elf import Collection

    return Collection.load(_spec(source), **options)


def inspect_object(source: str | os.PathLike[str] | CollectionSpec) -> str:
    """A readable summary of an object file: programs (type, target, size), maps, variables, license."""
    from ebpf.elf import inspect

    return inspect(_spec(source))
