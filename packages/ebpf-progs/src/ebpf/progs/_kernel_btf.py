"""Find kernel types by name in BTF: the attach targets of BTF-based programs.

STOPGAP, to be replaced by ``ebpf.btf`` once it offers kernel and module BTF
lookup by name: everything here is private and used only through
:func:`find_kernel_type`, :func:`find_type_in_blob` and :func:`member_index`.

fentry/fexit/fmod_ret/LSM/iterator programs name a ``FUNC``, ``tp_btf``
programs the ``TYPEDEF btf_trace_<tracepoint>``, struct_ops programs a
``STRUCT``; the kernel wants that type's id (and, for a module's type, a
descriptor of the module's BTF object) in ``BPF_PROG_LOAD``.

The reader walks type records only as far as needed to know their sizes; it
never builds a type graph. Module BTF (``/sys/kernel/btf/<module>``) is
*split* BTF: its type ids continue after vmlinux's and its string offsets
after vmlinux's string section.
"""

from __future__ import annotations

import enum
import errno
import functools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ebpf.syscall import FD, BpfSyscallError, NotSupportedError, ParseError, commands, objects

__all__ = ["BtfKind", "KernelType", "find_kernel_type", "find_type_in_blob", "kernel_names", "member_index"]

_SYS_BTF = Path("/sys/kernel/btf")
_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")


class BtfKind(enum.IntEnum):
    """The BTF kinds this module looks up (``BTF_KIND_*``)."""

    STRUCT = 4
    TYPEDEF = 8
    FUNC = 12


# Bytes that follow the 12-byte common record, per kind: a constant plus a
# per-member size times vlen (include/uapi/linux/btf.h).
_TRAILER = {
    1: (4, 0),  # INT
    2: (0, 0),  # PTR
    3: (12, 0),  # ARRAY
    4: (0, 12),  # STRUCT
    5: (0, 12),  # UNION
    6: (0, 8),  # ENUM
    7: (0, 0),  # FWD
    8: (0, 0),  # TYPEDEF
    9: (0, 0),  # VOLATILE
    10: (0, 0),  # CONST
    11: (0, 0),  # RESTRICT
    12: (0, 0),  # FUNC (vlen is the linkage)
    13: (0, 8),  # FUNC_PROTO
    14: (4, 0),  # VAR
    15: (0, 12),  # DATASEC
    16: (0, 0),  # FLOAT
    17: (4, 0),  # DECL_TAG
    18: (0, 0),  # TYPE_TAG
    19: (0, 12),  # ENUM64
}


@dataclass(frozen=True)
class _Index:
    """Name -> id for the kinds of :class:`BtfKind` (this file's own types), plus what split BTF needs."""

    names: dict[tuple[int, str], int]
    members: dict[int, tuple[str, ...]]
    type_count: int
    str_len: int


def _parse(data: bytes, source: str, base: _Index | None, base_strings: bytes = b"") -> tuple[_Index, bytes]:
    if len(data) < _HEADER.size:
        raise ParseError(f"{source}: {len(data)} bytes is too short for a BTF header")
    magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ParseError(f"{source}: bad BTF magic {magic:#x} (expected {_MAGIC:#x})")
    types_start, strings_start = hdr_len + type_off, hdr_len + str_off
    if types_start + type_len > len(data) or strings_start + str_len > len(data):
        raise ParseError(f"{source}: BTF sections run past the end of the data ({len(data)} bytes)")
    strings = data[strings_start : strings_start + str_len]
    first_id = base.type_count + 1 if base is not None else 1
    str_base = base.str_len if base is not None else 0

    def name_at(offset: int) -> str:
        blob, rel = (base_strings, offset) if offset < str_base else (strings, offset - str_base)
        end = blob.find(b"\0", rel)
        if rel >= len(blob) or end < 0:
            raise ParseError(f"{source}: string offset {offset} is outside the string section")
        return blob[rel:end].decode("utf-8", "replace")

    names: dict[tuple[int, str], int] = {}
    members: dict[int, tuple[str, ...]] = {}
    pos, end, type_id = types_start, types_start + type_len, first_id
    wanted = {int(k) for k in BtfKind}
    while pos < end:
        if pos + _TYPE.size > end:
            raise ParseError(f"{source}: type {type_id} at offset {pos} is truncated")
        name_off, info, _size = _TYPE.unpack_from(data, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        trailer = _TRAILER.get(kind)
        if trailer is None:
            raise ParseError(f"{source}: type {type_id} at offset {pos} has unknown kind {kind}")
        body = pos + _TYPE.size
        pos = body + trailer[0] + trailer[1] * vlen
        if kind in wanted and name_off:
            names.setdefault((kind, name_at(name_off)), type_id)
            if kind == BtfKind.STRUCT:
                members[type_id] = tuple(
                    name_at(struct.unpack_from("<I", data, body + 12 * i)[0]) for i in range(vlen)
                )
        type_id += 1
    if pos != end:
        raise ParseError(f"{source}: the last type runs past the type section")
    return _Index(names, members, type_id - 1, str_base + str_len), strings


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotSupportedError(
            "kernel BTF", "5.4", f"{path} does not exist (a kernel built without CONFIG_DEBUG_INFO_BTF)"
        ) from None


@functools.cache
def _vmlinux() -> tuple[_Index, bytes]:
    path = _SYS_BTF / "vmlinux"
    return _parse(_read(path), str(path), None)


@functools.lru_cache(maxsize=64)
def _module(name: str, _identity: tuple[int, int]) -> _Index:
    base, base_strings = _vmlinux()
    path = _SYS_BTF / name
    return _parse(_read(path), str(path), base, base_strings)[0]


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


def _modules() -> list[str]:
    try:
        return sorted(p.name for p in _SYS_BTF.iterdir() if p.name != "vmlinux")
    except FileNotFoundError:
        return []


def find_kernel_type(kind: BtfKind, name: str, module: str | None = None) -> KernelType | None:
    """Find a ``kind`` type called ``name`` in vmlinux BTF, then in each module's BTF.

    ``module`` restricts the search to one module's BTF (and vmlinux).
    Returns ``None`` when no BTF has it.

    Raises:
        NotSupportedError: the kernel has no BTF.
        ParseError: a BTF file is malformed.
    """
    index, _ = _vmlinux()
    found = index.names.get((int(kind), name))
    if found is not None:
        return KernelType(found, None)
    for mod in [module] if module is not None else _modules():
        path = _SYS_BTF / mod
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        mod_index = _module(mod, (st.st_ino, st.st_size))
        found = mod_index.names.get((int(kind), name))
        if found is not None:
            return KernelType(found, mod)
    return None


def find_type_in_blob(data: bytes, kind: BtfKind, name: str, source: str) -> int | None:
    """The id of the ``kind`` type ``name`` in a self-contained BTF blob (a program's BTF), or ``None``.

    Raises:
        ParseError: the blob is malformed.
    """
    return _parse(data, source, None)[0].names.get((int(kind), name))


def member_index(struct_id: int, member: str, module: str | None = None) -> int | None:
    """The position of ``member`` in kernel struct ``struct_id``, or ``None``.

    Raises:
        NotSupportedError: the kernel has no BTF.
    """
    index = _vmlinux()[0]
    if module is not None:
        st = os.stat(_SYS_BTF / module)
        index = _module(module, (st.st_ino, st.st_size))
    names = index.members.get(struct_id, ())
    return names.index(member) if member in names else None


def kernel_names(kind: BtfKind, prefix: str) -> list[str]:
    """Names of vmlinux ``kind`` types starting with ``prefix``, sorted.

    Raises:
        NotSupportedError: the kernel has no BTF.
    """
    index, _ = _vmlinux()
    return sorted(name for k, name in index.names if k == kind and name.startswith(prefix))
