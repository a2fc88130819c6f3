"""Enumerate the BPF objects loaded in the kernel and read their info.

The kernel numbers every program, map, link and BTF object with an id
(``bpftool prog list`` shows them). Walking ids needs ``CAP_SYS_ADMIN``;
an object can disappear between learning its id and opening it, which the
iterators here skip silently.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from . import commands
from ._generated import (
    BpfBtfInfo,
    BpfFuncInfo,
    BpfLineInfo,
    BpfLinkInfo,
    BpfProgInfo,
    LinkType,
    MapType,
    ProgType,
)
from .errors import BpfSyscallError
from .fd import FD, HasFileno, fileno_of

__all__ = [
    "BtfInfo",
    "LinkInfo",
    "MapInfo",
    "ProgramInfo",
    "btf_data",
    "btf_ids",
    "describe_fd",
    "expect_kind",
    "fd_info",
    "get_btf_info",
    "get_link_info",
    "get_map_info",
    "get_program_info",
    "link_ids",
    "link_tracepoint_name",
    "list_btfs",
    "list_links",
    "list_maps",
    "list_programs",
    "map_ids",
    "object_kind",
    "prog_ids",
    "program_func_info",
    "program_jited_insns",
    "program_line_info",
    "program_map_ids",
    "program_subprog_tags",
    "program_xlated_insns",
]

FdLike = int | HasFileno
_Record = TypeVar("_Record", BpfFuncInfo, BpfLineInfo)


# What `readlink /proc/self/fd/N` shows for each kind of BPF object: the name of its anonymous
# inode (kernel/bpf/syscall.c and btf.c: anon_inode_getfd("bpf-map", ...), "bpf-prog", "btf";
# a link is "bpf_link" when it is created and "bpf-link" when opened by id or pin).
_ANON_INODE_KINDS = {
    "anon_inode:bpf-map": "map",
    "anon_inode:bpf-prog": "program",
    "anon_inode:bpf_link": "link",
    "anon_inode:bpf-link": "link",
    "anon_inode:btf": "BTF object",
}


def _fd_target(number: int) -> str:
    """What descriptor ``number`` of this process refers to, as ``/proc/self/fd`` names it.

    Raises:
        ValueError: no such descriptor is open.
    """
    try:
        return os.readlink(f"/proc/self/fd/{number}")
    except FileNotFoundError:
        raise ValueError(f"descriptor {number} is not open") from None


def object_kind(fd: int | HasFileno) -> str | None:
    """Which kind of BPF object ``fd`` refers to: ``"map"``, ``"program"``, ``"link"``,
    ``"BTF object"``, or ``None`` for anything else (a file, a socket, a perf event...).

    Reads ``/proc/self/fd``; makes no ``bpf(2)`` call.

    Raises:
        ValueError: ``fd`` is not an open descriptor.
        TypeError: ``fd`` is neither an int nor has ``fileno()``.
    """
    return _ANON_INODE_KINDS.get(_fd_target(fileno_of(fd)))


def describe_fd(fd: int | HasFileno) -> str:
    """``fd`` in words, for messages: ``"a BPF map"``, ``"a socket"``, ``"the file /etc/passwd"``...

    Raises:
        ValueError: ``fd`` is not an open descriptor.
    """
    target = _fd_target(fileno_of(fd))
    kind = _ANON_INODE_KINDS.get(target)
    if kind is not None:
        return f"a BPF {kind}"
    if target.startswith("socket:"):
        return "a socket"
    if target.startswith("pipe:"):
        return "a pipe"
    if target.startswith("anon_inode:"):
        return f"a {target.removeprefix('anon_inode:').strip('[]')} descriptor"
    return f"the file {target}"


def expect_kind(fd: int | HasFileno, kind: str) -> None:
    """Check, before any ``bpf(2)`` call, that ``fd`` refers to a BPF object of ``kind``
    (``"map"``, ``"program"``, ``"link"``, ``"BTF object"``).

    The kernel's ``BPF_OBJ_GET_INFO_BY_FD`` answers for whatever the
    descriptor is, so reading a program's info as a map's gives made-up sizes.

    Raises:
        TypeError: ``fd`` refers to something else; the message says what.
        ValueError: ``fd`` is not an open descriptor.
    """
    number = fileno_of(fd)
    if object_kind(number) != kind:
        raise TypeError(f"descriptor {number} is {describe_fd(number)}, not a BPF {kind}")


def _enum_or_int(enum: type[ProgType] | type[MapType] | type[LinkType], value: int) -> int:
    try:
        return enum(value)
    except ValueError:  # a type newer than our tables
        return value


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


@dataclass(frozen=True)
class ProgramInfo:
    """What the kernel reports about a loaded program (``struct bpf_prog_info``).

    ``type`` is a [`ProgType`][ebpf.syscall.ProgType], or a plain int for a type newer than
    this library. ``run_time_ns``/``run_count`` move only while statistics
    are enabled (``commands.enable_stats`` or ``kernel.bpf_stats_enabled``).
    """

    id: int
    type: ProgType | int
    name: str
    tag: str
    load_time_ns: int
    created_by_uid: int
    map_ids: tuple[int, ...]
    btf_id: int
    xlated_size: int
    jited_size: int
    verified_insns: int
    run_time_ns: int
    run_count: int
    recursion_misses: int
    gpl_compatible: bool
    ifindex: int
    attach_btf_obj_id: int
    attach_btf_id: int


@dataclass(frozen=True)
class MapInfo:
    """What the kernel reports about a map (``struct bpf_map_info``)."""

    id: int
    type: MapType | int
    name: str
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    btf_id: int
    btf_key_type_id: int
    btf_value_type_id: int
    btf_vmlinux_value_type_id: int
    map_extra: int
    ifindex: int


@dataclass(frozen=True)
class LinkInfo:
    """What the kernel reports about a link (``struct bpf_link_info``).

    ``raw`` keeps the whole structure for the per-type union (``raw.tracing``,
    ``raw.xdp.ifindex``...).
    """

    id: int
    type: LinkType | int
    prog_id: int
    raw: BpfLinkInfo


@dataclass(frozen=True)
class BtfInfo:
    """What the kernel reports about a BTF object (``struct bpf_btf_info``)."""

    id: int
    name: str
    size: int
    kernel_btf: bool


def get_program_info(fd: FdLike) -> ProgramInfo:
    """Info about the program behind ``fd``, including the ids of the maps it uses.

    Raises:
        TypeError: ``fd`` is not a program (it says what it is).
        ValueError: ``fd`` is not open.
    """
    expect_kind(fd, "program")
    info = BpfProgInfo()
    commands.obj_get_info_by_fd(fd, info)
    map_ids: tuple[int, ...] = ()
    if info.nr_map_ids:
        map_ids = program_map_ids(fd)
    return ProgramInfo(
        id=int(info.id),
        type=_enum_or_int(ProgType, info.type),
        name=_name(info.name),
        tag=bytes(info.tag).hex(),
        load_time_ns=int(info.load_time),
        created_by_uid=int(info.created_by_uid),
        map_ids=map_ids,
        btf_id=int(info.btf_id),
        xlated_size=int(info.xlated_prog_len),
        jited_size=int(info.jited_prog_len),
        verified_insns=int(info.verified_insns),
        run_time_ns=int(info.run_time_ns),
        run_count=int(info.run_cnt),
        recursion_misses=int(info.recursion_misses),
        gpl_compatible=bool(info.gpl_compatible),
        ifindex=int(info.ifindex),
        attach_btf_obj_id=int(info.attach_btf_obj_id),
        attach_btf_id=int(info.attach_btf_id),
    )


def _prog_array(
    fd: FdLike, count_field: str, pointer_field: str, elem: type[ctypes.c_uint32]
) -> tuple[int, ...]:
    # Two passes: learn the count, then hand the kernel an array that size.
    # A program's maps cannot change after load, so the count is stable.
    info = BpfProgInfo()
    commands.obj_get_info_by_fd(fd, info)
    count = int(getattr(info, count_field))
    if not count:
        return ()
    arr = (elem * count)()
    info = BpfProgInfo()
    setattr(info, count_field, count)
    setattr(info, pointer_field, ctypes.addressof(arr))
    commands.obj_get_info_by_fd(fd, info)
    return tuple(arr)


def program_map_ids(fd: FdLike) -> tuple[int, ...]:
    """Ids of the maps a program uses."""
    return _prog_array(fd, "nr_map_ids", "map_ids", ctypes.c_uint32)


def _prog_records(
    fd: FdLike, count_field: str, pointer_field: str, size_field: str, record: type[_Record]
) -> list[_Record]:
    # Like _prog_array, for records whose size the kernel states (func and line info): the
    # kernel fills min(its size, ours) bytes of each, so ours is what we hand it.
    info = BpfProgInfo()
    commands.obj_get_info_by_fd(fd, info)
    count = int(getattr(info, count_field))
    if not count:
        return []
    arr = (record * count)()
    info = BpfProgInfo()
    setattr(info, count_field, count)
    setattr(info, size_field, ctypes.sizeof(record))
    setattr(info, pointer_field, ctypes.addressof(arr))
    commands.obj_get_info_by_fd(fd, info)
    return list(arr)


def program_func_info(fd: FdLike) -> list[tuple[int, int]]:
    """``(insn_off, btf type id of the FUNC)`` of each function of the program, from its BTF func info.

    Empty for a program loaded without BTF. The type ids are in the program's BTF object
    (``ProgramInfo.btf_id``).
    """
    return [
        (int(r.insn_off), int(r.type_id))
        for r in _prog_records(fd, "nr_func_info", "func_info", "func_info_rec_size", BpfFuncInfo)
    ]


def program_line_info(fd: FdLike) -> list[tuple[int, int, int, int]]:
    """``(insn_off, file_name_off, line_off, line_col)`` of each BTF line info record of the program.

    The offsets are in the string section of the program's BTF object; ``line_col`` packs the
    line number (upper 22 bits) and the column (lower 10 bits), as ``struct bpf_line_info`` does.
    Empty for a program loaded without line info.
    """
    return [
        (int(r.insn_off), int(r.file_name_off), int(r.line_off), int(r.line_col))
        for r in _prog_records(fd, "nr_line_info", "line_info", "line_info_rec_size", BpfLineInfo)
    ]


def program_subprog_tags(fd: FdLike) -> list[str]:
    """The tag (hex) of each function of the program, the entry first, as the kernel computed them.

    The kernel names a JIT-compiled function ``bpf_prog_<tag>_<name>`` in /proc/kallsyms.
    """
    info = BpfProgInfo()
    commands.obj_get_info_by_fd(fd, info)
    count = int(info.nr_prog_tags)
    if not count:
        return []
    tags = ((ctypes.c_uint8 * 8) * count)()
    info = BpfProgInfo()
    info.nr_prog_tags = count
    info.prog_tags = ctypes.addressof(tags)
    commands.obj_get_info_by_fd(fd, info)
    return [bytes(tag).hex() for tag in tags]


def fd_info(fd: FdLike) -> dict[str, str]:
    """The fields of ``/proc/self/fdinfo/FD`` (``memlock``, ``frozen``, ``map_type``...), as text.

    Raises:
        OSError: the descriptor is not open.
    """
    fields: dict[str, str] = {}
    with open(f"/proc/self/fdinfo/{fileno_of(fd)}", encoding="utf-8") as lines:
        for line in lines:
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip()] = value.strip()
    return fields


def _prog_bytes(fd: FdLike, len_field: str, pointer_field: str) -> bytes:
    info = BpfProgInfo()
    commands.obj_get_info_by_fd(fd, info)
    size = int(getattr(info, len_field))
    if not size:
        return b""
    buf = ctypes.create_string_buffer(size)
    info = BpfProgInfo()
    setattr(info, len_field, size)
    setattr(info, pointer_field, ctypes.addressof(buf))
    commands.obj_get_info_by_fd(fd, info)
    return buf.raw[: int(getattr(info, len_field))]


def program_xlated_insns(fd: FdLike) -> bytes:
    """The program's instructions as the verifier rewrote them (8 bytes each).

    Empty when the kernel hides them (``kernel.kptr_restrict`` and no ``CAP_SYS_ADMIN``).
    """
    return _prog_bytes(fd, "xlated_prog_len", "xlated_prog_insns")


def program_jited_insns(fd: FdLike) -> bytes:
    """The program's JIT-compiled machine code; empty when the JIT is off."""
    return _prog_bytes(fd, "jited_prog_len", "jited_prog_insns")


def get_map_info(fd: FdLike) -> MapInfo:
    """Info about the map behind ``fd``.

    Raises:
        TypeError: ``fd`` is not a map (it says what it is).
        ValueError: ``fd`` is not open.
    """
    expect_kind(fd, "map")
    info = commands.map_info(fd)
    return MapInfo(
        id=int(info.id),
        type=_enum_or_int(MapType, info.type),
        name=_name(info.name),
        key_size=int(info.key_size),
        value_size=int(info.value_size),
        max_entries=int(info.max_entries),
        flags=int(info.map_flags),
        btf_id=int(info.btf_id),
        btf_key_type_id=int(info.btf_key_type_id),
        btf_value_type_id=int(info.btf_value_type_id),
        btf_vmlinux_value_type_id=int(info.btf_vmlinux_value_type_id),
        map_extra=int(info.map_extra),
        ifindex=int(info.ifindex),
    )


def get_link_info(fd: FdLike) -> LinkInfo:
    """Info about the link behind ``fd``.

    Raises:
        TypeError: ``fd`` is not a link (it says what it is).
        ValueError: ``fd`` is not open.
    """
    expect_kind(fd, "link")
    info = commands.link_info(fd)
    return LinkInfo(
        id=int(info.id),
        type=_enum_or_int(LinkType, info.type),
        prog_id=int(info.prog_id),
        raw=info,
    )


def link_tracepoint_name(fd: FdLike) -> str:
    """The tracepoint a ``raw_tracepoint`` link is attached to ("" for other links).

    Raises:
        TypeError: ``fd`` is not a link.
    """
    expect_kind(fd, "link")
    info = commands.link_info(fd)
    size = int(info.raw_tracepoint.tp_name_len)
    if info.type != LinkType.RAW_TRACEPOINT or not size:
        return ""
    buf = ctypes.create_string_buffer(size)
    info = BpfLinkInfo()
    info.raw_tracepoint.tp_name = ctypes.addressof(buf)
    info.raw_tracepoint.tp_name_len = size
    commands.obj_get_info_by_fd(fd, info)
    return buf.value.decode("utf-8", "replace")


def get_btf_info(fd: FdLike) -> BtfInfo:
    """Info about the BTF object behind ``fd`` (name and size, not the data).

    Raises:
        TypeError: ``fd`` is not a BTF object (it says what it is).
        ValueError: ``fd`` is not open.
    """
    expect_kind(fd, "BTF object")
    name = ctypes.create_string_buffer(256)
    info = BpfBtfInfo(name=ctypes.addressof(name), name_len=len(name))
    commands.obj_get_info_by_fd(fd, info)
    return BtfInfo(
        id=int(info.id),
        name=name.value.decode("utf-8", "replace"),
        size=int(info.btf_size),
        kernel_btf=bool(info.kernel_btf),
    )


def btf_data(fd: FdLike) -> bytes:
    """The raw BTF blob of a BTF object (as ``/sys/kernel/btf/vmlinux`` holds for the kernel's)."""
    info = BpfBtfInfo()
    commands.obj_get_info_by_fd(fd, info)
    buf = ctypes.create_string_buffer(int(info.btf_size))
    info = BpfBtfInfo(btf=ctypes.addressof(buf), btf_size=len(buf))
    commands.obj_get_info_by_fd(fd, info)
    return buf.raw[: int(info.btf_size)]


def _ids(next_id: Callable[[int], int | None]) -> Iterator[int]:
    current = 0
    while (found := next_id(current)) is not None:
        yield found
        current = found


def prog_ids() -> Iterator[int]:
    """Ids of every loaded program, ascending (needs ``CAP_SYS_ADMIN``)."""
    return _ids(commands.prog_get_next_id)


def map_ids() -> Iterator[int]:
    """Ids of every map, ascending (needs ``CAP_SYS_ADMIN``)."""
    return _ids(commands.map_get_next_id)


def link_ids() -> Iterator[int]:
    """Ids of every link, ascending (needs ``CAP_SYS_ADMIN``)."""
    return _ids(commands.link_get_next_id)


def btf_ids() -> Iterator[int]:
    """Ids of every BTF object, ascending (needs ``CAP_SYS_ADMIN``)."""
    return _ids(commands.btf_get_next_id)


def _open_each(ids: Iterator[int], opener: Callable[[int], FD]) -> Iterator[FD]:
    """A descriptor of each object in ``ids`` that still exists when its turn comes.

    ``ENOENT``: the object went away since its id was listed. ``EAGAIN`` (links only): the
    id was allocated but the link is not settled yet (being created, or failed and being
    freed; bpftool stops its listing there); neither is in a snapshot of what exists.
    """
    for obj_id in ids:
        try:
            fd = opener(obj_id)
        except BpfSyscallError as exc:
            if exc.errno in (errno.ENOENT, errno.EAGAIN):
                continue
            raise
        yield fd


def list_programs() -> list[ProgramInfo]:
    """Info on every loaded program."""
    result = []
    for fd in _open_each(prog_ids(), commands.prog_get_fd_by_id):
        with fd:
            result.append(get_program_info(fd))
    return result


def list_maps() -> list[MapInfo]:
    """Info on every map."""
    result = []
    for fd in _open_each(map_ids(), commands.map_get_fd_by_id):
        with fd:
            result.append(get_map_info(fd))
    return result


def list_links() -> list[LinkInfo]:
    """Info on every link."""
    result = []
    for fd in _open_each(link_ids(), commands.link_get_fd_by_id):
        with fd:
            result.append(get_link_info(fd))
    return result


def list_btfs() -> list[BtfInfo]:
    """Info on every BTF object (vmlinux, modules, programs')."""
    result = []
    for fd in _open_each(btf_ids(), commands.btf_get_fd_by_id):
        with fd:
            result.append(get_btf_info(fd))
    return result
