"""Finding attach targets in the kernel's BTF (vmlinux and modules) by name.

BTF-based programs (fentry/fexit/fmod_ret, LSM, ``tp_btf``, iterators,
struct_ops) are verified against a kernel type: ``attach_btf_id`` names it
and, for a module's type, ``attach_btf_obj_fd`` names the module's BTF
object. The lookups go through [`ebpf.btf`][ebpf.btf]; the parsed graphs are kept
for the life of the process (module graphs until the module is reloaded).
"""

from __future__ import annotations

import errno
import functools
import os
from dataclasses import dataclass

from ebpf.btf import (
    KERNEL_BTF_DIR,
    Composite,
    Kind,
    TypeGraph,
    from_bytes,
    kernel_modules_with_btf,
    load_module,
)
from ebpf.btf import load_vmlinux as _load_vmlinux
from ebpf.syscall import FD, BpfSyscallError, NotSupportedError, commands, objects

__all__ = ["KernelType", "find_kernel_type", "find_type_in_blob", "kernel_names", "member_index"]


@functools.cache
def _vmlinux() -> TypeGraph:
    return _load_vmlinux()


@functools.lru_cache(maxsize=64)
def _module(name: str, _identity: tuple[int, int]) -> TypeGraph:
    # _identity (inode, size) makes a reloaded module's new BTF a new cache entry.
    return load_module(name, _vmlinux())


def _module_graph(name: str) -> TypeGraph | None:
    try:
        st = os.stat(KERNEL_BTF_DIR / name)
    except FileNotFoundError:
        return None
    return _module(name, (st.st_ino, st.st_size))


def _first_id(graph: TypeGraph, kind: Kind, name: str) -> int | None:
    # A module's graph also answers for its vmlinux base: keep only its own ids.
    for found in graph.find_all(name, kind):
        if found.id >= graph.first_id:
            return found.id
    return None


@dataclass(frozen=True)
class KernelType:
    """A type found in kernel BTF: its id and the module that has it (``None`` for vmlinux)."""

    type_id: int
    module: str | None

    def open_btf(self) -> FD | None:
        """A descriptor of the module's BTF object (``attach_btf_obj_fd``), ``None`` for vmlinux.

        Raises:
            NotSupportedError: the module's BTF object is not loaded.
        """
        if self.module is None:
            return None
        for btf_id in objects.btf_ids():
            try:
                fd = commands.btf_get_fd_by_id(btf_id)
            except BpfSyscallError as exc:
                if exc.errno == errno.ENOENT:
                    continue
                raise
            try:
                info = objects.get_btf_info(fd)
            except BaseException:
                fd.close()
                raise
            if info.kernel_btf and info.name == self.module:
                return fd
            fd.close()
        raise NotSupportedError(f"BTF of kernel module {self.module!r}", None, "the module is not loaded")


def find_kernel_type(kind: Kind, name: str, module: str | None = None) -> KernelType | None:
    """Find a ``kind`` type called ``name`` in vmlinux BTF, then in each module's BTF.

    ``module`` restricts the search to one module's BTF (and vmlinux).
    Returns ``None`` when no BTF has it.

    Raises:
        NotSupportedError: the kernel has no BTF.
        ParseError: a BTF file is malformed.
    """
    found = _first_id(_vmlinux(), kind, name)
    if found is not None:
        return KernelType(found, None)
    for mod in [module] if module is not None else kernel_modules_with_btf():
        graph = _module_graph(mod)
        if graph is None:
            continue
        found = _first_id(graph, kind, name)
        if found is not None:
            return KernelType(found, mod)
    return None


def find_type_in_blob(data: bytes, kind: Kind, name: str, source: str) -> int | None:
    """The id of the ``kind`` type ``name`` in a self-contained BTF blob (a program's BTF), or ``None``.

    Raises:
        ParseError: the blob is malformed.
    """
    return _first_id(from_bytes(data, name=source), kind, name)


def member_index(struct_id: int, member: str, module: str | None = None) -> int | None:
    """The position of ``member`` in kernel struct ``struct_id``, or ``None``.

    Raises:
        NotSupportedError: the kernel has no BTF, or ``module`` has none.
    """
    graph = _vmlinux() if module is None else _module_graph(module)
    if graph is None:
        raise NotSupportedError(f"BTF of kernel module {module!r}", None, "the module is not loaded")
    struct = graph[struct_id]
    if not isinstance(struct, Composite):
        return None
    names = [m.name for m in struct.members]
    return names.index(member) if member in names else None


def kernel_names(kind: Kind, prefix: str) -> list[str]:
    """Names of vmlinux ``kind`` types starting with ``prefix``, sorted.

    Raises:
        NotSupportedError: the kernel has no BTF.
    """
    return sorted(t.name for t in _vmlinux().of_kind(kind) if t.name.startswith(prefix))
