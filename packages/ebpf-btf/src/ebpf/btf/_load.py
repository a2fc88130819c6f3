"""Where type graphs come from: the running kernel, its modules, files, bytes.

The kernel exposes its own BTF at ``/sys/kernel/btf/vmlinux`` (5.4+, with
``CONFIG_DEBUG_INFO_BTF``) and each module's at ``/sys/kernel/btf/<module>``
(5.11+): module BTF is *split* BTF, whose type ids and string offsets
continue after vmlinux's, so it can only be read on top of vmlinux's.

The running kernel's files are read through the process-wide view of
`_kernel` (`kernel_types()`): `load_vmlinux()` and `load_module()` return
its shared graphs; an explicit path or base reads the file anew. That view
(and the syscall layer, for objects by id) is imported when first needed:
reading a file (``ebpf btf dump FILE``) does not pay for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ebpf.syscall.errors import NotSupportedError, ParseError

from ._elf_sections import ELF_MAGIC, elf_section
from ._graph import TypeGraph

__all__ = [
    "from_bytes",
    "kernel_modules_with_btf",
    "load_file",
    "load_kernel_object",
    "load_module",
    "load_vmlinux",
]


def from_bytes(data: bytes, base: TypeGraph | None = None, *, name: str = "BTF") -> TypeGraph:
    """A type graph from a raw BTF blob (split BTF on top of ``base``).

    Raises:
        ParseError: the blob is malformed.
    """
    return TypeGraph(bytes(data), base, name=name)


def load_file(path: str | os.PathLike[str], base: TypeGraph | None = None) -> TypeGraph:
    """A type graph from a raw BTF file or from the ``.BTF`` section of an ELF file.

    Raises:
        OSError: the file cannot be read.
        ParseError: the file is malformed, or an ELF file has no ``.BTF`` section.
    """
    data = Path(path).read_bytes()
    name = os.fspath(path)
    if data[:4] == ELF_MAGIC:
        section = elf_section(data, ".BTF", name)
        if section is None:
            raise ParseError(f"{name}: ELF file without a .BTF section (compile with -g)")
        data = section
    return from_bytes(data, base, name=name)


def load_vmlinux(path: str | os.PathLike[str] | None = None) -> TypeGraph:
    """The running kernel's types, or those of a BTF/vmlinux file at ``path``.

    Without ``path`` this is the process-wide graph of
    ``/sys/kernel/btf/vmlinux`` ([`kernel_types()`][ebpf.btf.kernel_types]),
    read and indexed once and shared by every caller; with one, the file is
    read into a new graph.

    Raises:
        NotSupportedError: the kernel exposes no BTF (``CONFIG_DEBUG_INFO_BTF``, 5.4+).
        OSError: ``path`` cannot be read.
        ParseError: the file is malformed.
    """
    if path is None:
        from ._kernel import kernel_types

        return kernel_types().vmlinux
    try:
        return load_file(path)
    except FileNotFoundError as exc:
        raise NotSupportedError(f"kernel BTF ({os.fspath(path)})", "5.4", str(exc)) from exc


def kernel_modules_with_btf() -> list[str]:
    """Names of the loaded kernel modules that have BTF (empty without module BTF)."""
    from ._kernel import kernel_types

    return kernel_types().module_names


def load_module(module: str, base: TypeGraph | None = None) -> TypeGraph:
    """A kernel module's types (split BTF on top of ``base``, by default the running kernel's).

    Without ``base`` this is the process-wide graph of the module
    ([`kernel_types()`][ebpf.btf.kernel_types]); with one, the file is read
    on top of ``base`` into a new graph.

    Raises:
        ValueError: ``module`` is not a plain module name.
        NotSupportedError: the module is not loaded or has no BTF (5.11+).
        ParseError: the BTF is malformed.
    """
    if not module or "/" in module or module in (".", "..", "vmlinux"):
        raise ValueError(f"not a module name: {module!r}")
    from ._kernel import KERNEL_BTF_DIR, kernel_types

    missing = NotSupportedError(
        f"BTF of kernel module {module!r}", "5.11", "module not loaded or without BTF"
    )
    if base is None:
        graph = kernel_types().module(module)
        if graph is None:
            raise missing
        return graph
    path = KERNEL_BTF_DIR / module
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise missing from exc
    return from_bytes(data, base, name=str(path))


def load_kernel_object(btf_id: int, base: TypeGraph | None = None) -> TypeGraph:
    """The types of a BTF object loaded in the kernel, by its id (``bpftool btf list``).

    A kernel module's BTF object is split BTF: it is read on top of ``base``,
    by default the running kernel's. Needs ``CAP_SYS_ADMIN``.

    Raises:
        BpfSyscallError: no such id, or no permission.
        ParseError: the data is malformed.
    """
    from ebpf.syscall import commands, objects

    with commands.btf_get_fd_by_id(btf_id) as fd:
        info = objects.get_btf_info(fd)
        data = objects.btf_data(fd)
    split = info.kernel_btf and info.name != "vmlinux"
    if split and base is None:
        base = load_vmlinux()
    return from_bytes(data, base if split else None, name=f"BTF object {btf_id} ({info.name or 'anonymous'})")
