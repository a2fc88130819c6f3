"""BTF queries on the running kernel's types."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ebpf.btf import Kind, Type, TypeGraph

__all__ = ["field_offset", "find_type", "kernel_btf", "type_size"]


def kernel_btf() -> TypeGraph:
    """The running kernel's BTF (``/sys/kernel/btf/vmlinux``).

    This is the process-wide graph of [`ebpf.btf.kernel_types()`][ebpf.btf.kernel_types],
    read and indexed once and shared with CO-RE relocation, kfunc
    resolution and attach-target lookup.

    Raises:
        NotSupportedError: the kernel has no BTF (``CONFIG_DEBUG_INFO_BTF``).
        ParseError: the file is malformed.
    """
    from ebpf.btf import kernel_types

    return kernel_types().vmlinux


def find_type(name: str, kind: Kind | str | None = None, *, btf: TypeGraph | None = None) -> Type:
    """The type called ``name`` in the kernel's BTF (or ``btf``); ``kind`` is a ``Kind`` or ``"struct"``...

    Raises:
        KeyError: no such type.
    """
    from ebpf.btf import Kind

    if isinstance(kind, str):
        kind = Kind[kind.upper()]
    return (btf or kernel_btf()).find(name, kind)


def _member_offset(type_name: str, path: str, btf: TypeGraph | None) -> int:
    from ebpf.btf import Composite

    graph = btf or kernel_btf()
    current: Type = find_type(type_name, btf=graph)
    offset = 0
    for part in path.split("."):
        current = graph.resolve(current)
        if not isinstance(current, Composite):
            raise ValueError(f"{type_name}.{path}: {current} has no member {part!r}")
        member = current.member(part)
        offset += member.byte_offset
        current = member.type
    return offset


def field_offset(type_name: str, path: str, *, btf: TypeGraph | None = None) -> int:
    """The byte offset of member ``path`` (``"sched_info.pcount"``) in struct or union ``type_name``.

    Raises:
        KeyError: no such type or member.
        ValueError: a path through something that is not a struct or union.
    """
    return _member_offset(type_name, path, btf)


def type_size(type_name: str, *, btf: TypeGraph | None = None) -> int:
    """``sizeof`` of the type called ``type_name`` in the kernel's BTF (or ``btf``)."""
    graph = btf or kernel_btf()
    return graph.size_of(find_type(type_name, btf=graph))
