"""Finding attach targets in the kernel's BTF (vmlinux and modules) by name.

BTF-based programs (fentry/fexit/fmod_ret, LSM, ``tp_btf``, iterators,
struct_ops) are verified against a kernel type: ``attach_btf_id`` names it
and, for a module's type, ``attach_btf_obj_fd`` names the module's BTF
object. The lookups go through the process-wide view of the kernel's types,
[`ebpf.btf.kernel_types()`][ebpf.btf.kernel_types], which reads each BTF
file once and notices modules that come and go.
"""

from __future__ import annotations

from dataclasses import dataclass

from ebpf.btf import Composite, Kind, from_bytes, kernel_types
from ebpf.syscall import FD, NotSupportedError

__all__ = ["KernelType", "find_kernel_type", "find_type_in_blob", "kernel_names", "member_index"]


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
        return kernel_types().open_btf(self.module)


def find_kernel_type(kind: Kind, name: str, module: str | None = None) -> KernelType | None:
    """Find a ``kind`` type called ``name`` in vmlinux BTF, then in each module's BTF.

    ``module`` restricts the search to one module's BTF (and vmlinux).
    Returns ``None`` when no BTF has it.

    Raises:
        NotSupportedError: the kernel has no BTF.
        ParseError: a BTF file is malformed.
    """
    found = kernel_types().find(name, kind, module=module)
    return None if found is None else KernelType(found.type_id, found.module)


def find_type_in_blob(data: bytes, kind: Kind, name: str, source: str) -> int | None:
    """The id of the ``kind`` type ``name`` in a self-contained BTF blob (a program's BTF), or ``None``.

    Raises:
        ParseError: the blob is malformed.
    """
    ids = from_bytes(data, name=source).own_ids(name, kind)
    return ids[0] if ids else None


def member_index(struct_id: int, member: str, module: str | None = None) -> int | None:
    """The position of ``member`` in kernel struct ``struct_id``, or ``None``.

    Raises:
        NotSupportedError: the kernel has no BTF, or ``module`` has none.
    """
    kernel = kernel_types()
    graph = kernel.vmlinux if module is None else kernel.module(module)
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
    return sorted(t.name for t in kernel_types().vmlinux.of_kind(kind) if t.name.startswith(prefix))
