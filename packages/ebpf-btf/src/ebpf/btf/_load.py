"""Where type graphs come from: the running kernel, its modules, files, bytes.

The kernel exposes its own BTF at ``/sys/kernel/btf/vmlinux`` (5.4+, with
``CONFIG_DEBUG_INFO_BTF``) and each module's at ``/sys/kernel/btf/<module>``
(5.11+): module BTF is *split* BTF, whose type ids and string offsets
continue after vmlinux's, so it can only be read on top of vmlinux's.
"""

from __future__ import annotations

import os
from pathlib import Path

from ebpf.syscall import commands, objects
from ebpf.syscall.errors import NotSupportedError, ParseError

from ._elf_sections import ELF_MAGIC, elf_section
from ._graph import TypeGraph

__all__ = [
    "KERNEL_BTF_DIR",
    "from_bytes",
    "kernel_modules_with_btf",
    "load_file",
    "load_kernel_object",
    "load_module",
    "load_vmlinux",
]

KERNEL_BTF_DIR = Path("/sys/kernel/btf")


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


def load_vmlinux(path: str | os.PathLike[str] = KERNEL_BTF_DIR / "vmlinux") -> TypeGraph:
    """The running kernel's types (``/sys/kernel/btf/vmlinux``), or those of a BTF/vmlinux file.

    Raises:
        NotSupportedError: the kernel exposes no BTF (``CONFIG_DEBUG_INFO_BTF``, 5.4+).
        ParseError: the file is malformed.
    """
    try:
        return load_file(path)
    except FileNotFoundError as exc:
        raise NotSupportedError("kernel BTF (/sys/kernel/btf/vmlinux)", "5.4", str(exc)) from exc


def kernel_modules_with_btf() -> list[str]:
    """Names of the loaded kernel modules that have BTF (empty without module BTF)."""
    try:
        return sorted(entry.name for entry in KERNEL_BTF_DIR.iterdir() if entry.name != "vmlinux")
    except FileNotFoundError:
        return []


def load_module(module: str, base: TypeGraph | None = None) -> TypeGraph:
    """A kernel module's types (split BTF on top of ``base``, by default the running kernel's).

    Raises:
        ValueError: ``module`` is not a plain module name.
        NotSupportedError: the module is not loaded or has no BTF (5.11+).
        ParseError: the BTF is malformed.
    """
    if not module or "/" in module or module in (".", ".."):
        raise ValueError(f"not a module name: {module!r}")
    path = KERNEL_BTF_DIR / module
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotSupportedError(
            f"BTF of kernel module {module!r}", "5.11", "module not loaded or without BTF"
        ) from exc
    return from_bytes(data, base if base is not None else load_vmlinux(), name=str(path))


def load_kernel_object(btf_id: int, base: TypeGraph | None = None) -> TypeGraph:
    """The types of a BTF object loaded in the kernel, by its id (``bpftool btf list``).

    A kernel module's BTF object is split BTF: it is read on top of ``base``,
    by default the running kernel's. Needs ``CAP_SYS_ADMIN``.

    Raises:
        BpfSyscallError: no such id, or no permission.
        ParseError: the data is malformed.
    """
    with commands.btf_get_fd_by_id(btf_id) as fd:
        info = objects.get_btf_info(fd)
        data = objects.btf_data(fd)
    split = info.kernel_btf and info.name != "vmlinux"
    if split and base is None:
        base = load_vmlinux()
    return from_bytes(data, base if split else None, name=f"BTF object {btf_id} ({info.name or 'anonymous'})")
