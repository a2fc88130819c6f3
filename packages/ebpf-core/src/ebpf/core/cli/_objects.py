"""Naming kernel objects on the command line: by id, by the bpffs path they are pinned at, or by name."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._output import CliError

if TYPE_CHECKING:
    from ebpf.btf import TypeGraph
    from ebpf.syscall.fd import FD
    from ebpf.syscall.objects import LinkInfo, MapInfo, ProgramInfo

__all__ = ["NOUNS", "kernel_btf", "open_by_id", "open_pinned", "pinned_id", "resolve_id"]

#: What each kind of object is called in messages.
NOUNS = {"prog": "program", "map": "map", "link": "link", "btf": "BTF object"}


def open_pinned(path: str) -> FD:
    """The descriptor of the object pinned at ``path``.

    Raises:
        CliError: ``path`` is not on a BPF filesystem, is a directory, or
            nothing is pinned there.
        BpfSyscallError: the kernel refused otherwise (privileges).
    """
    import errno
    from pathlib import Path

    from ebpf.syscall import BpfSyscallError, commands, system

    real = Path(os.path.realpath(path))
    if not any(real == mount or mount in real.parents for mount in system.find_mounts("bpf")):
        raise CliError(
            f"{path} is not on a BPF filesystem: objects are pinned under bpffs (usually /sys/fs/bpf)"
        )
    if real.is_dir():
        raise CliError(f"{path} is a directory of bpffs, not a pinned object (ls {path} lists them)")
    try:
        return commands.obj_get(path)
    except BpfSyscallError as exc:
        if exc.errno == errno.ENOENT:
            raise CliError(f"nothing is pinned at {path}") from None
        raise


def open_by_id(kind: str, object_id: int) -> FD:
    """The descriptor of the ``kind`` object (``prog``, ``map``, ``link``, ``btf``) with id ``object_id``.

    Raises:
        CliError: no such object is loaded.
        BpfSyscallError: the kernel refused otherwise (privileges).
    """
    import errno

    from ebpf.syscall import BpfSyscallError, commands

    opener: dict[str, Callable[[int], FD]] = {
        "prog": commands.prog_get_fd_by_id,
        "map": commands.map_get_fd_by_id,
        "link": commands.link_get_fd_by_id,
        "btf": commands.btf_get_fd_by_id,
    }
    try:
        return opener[kind](object_id)
    except BpfSyscallError as exc:
        if exc.errno == errno.ENOENT:
            raise CliError(
                f"no {NOUNS[kind]} with id {object_id} is loaded (`ebpf {kind} list` shows those that are)"
            ) from None
        raise


def pinned_id(kind: str, path: str) -> int:
    """The id of the ``kind`` object pinned at ``path``.

    Raises:
        CliError: nothing (or another kind of object) is pinned there.
    """
    from ebpf.syscall import objects

    with open_pinned(path) as fd:
        found = objects.object_kind(fd)
        if found != NOUNS[kind]:
            raise CliError(f"{path} is a pinned {found or 'object of unknown kind'}, not a {NOUNS[kind]}")
        info: ProgramInfo | MapInfo | LinkInfo = (
            objects.get_program_info(fd)
            if kind == "prog"
            else objects.get_map_info(fd)
            if kind == "map"
            else objects.get_link_info(fd)
        )
        return info.id


def resolve_id(kind: str, ref: str, listing: Callable[[], Sequence[Any]]) -> int:
    """An object id from ``ref``: an id, a pinned path, or a unique name."""
    if ref.isdigit():
        return int(ref)
    if "/" in ref:
        return pinned_id(kind, ref)
    matches = [info.id for info in listing() if info.name == ref]
    if not matches:
        raise CliError(f"no {NOUNS[kind]} named {ref!r} (give an id, a pinned path or a name)")
    if len(matches) > 1:
        raise CliError(
            f"{len(matches)} {kind}s are named {ref!r} (ids {', '.join(map(str, matches))}): give an id"
        )
    return int(matches[0])


def kernel_btf(btf_id: int) -> TypeGraph:
    """The BTF object with id ``btf_id``.

    Raises:
        CliError: no such BTF object is loaded.
    """
    from ebpf.btf import load_kernel_object

    with open_by_id("btf", btf_id):  # says which id is missing, in words
        pass
    return load_kernel_object(btf_id)
