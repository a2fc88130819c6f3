"""Raw ``bpf(2)`` calls for the feature probes.

A probe decides by the exact errno (and sometimes the verifier log) of a
command made to fail on purpose, so the probes call the choke point
([`bpf_errno()`][ebpf.syscall.bpf_errno]) directly instead of the typed
functions of [`commands`][ebpf.syscall.commands], which turn failures into
exceptions and retry loads with a log. Every helper here returns a
descriptor the caller must close, or ``-errno``; `owned()` wraps a
result in an [`FD`][ebpf.syscall.FD] or raises the matching exception.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass
from typing import TypedDict

from ._generated import (
    BtfLoadAttr,
    Cmd,
    LinkCreateAttr,
    MapBatchAttr,
    MapCreateAttr,
    MapElemAttr,
    ObjGetInfoAttr,
    ProgLoadAttr,
    ProgTestRunAttr,
    RawTracepointOpenAttr,
    TokenCreateAttr,
)
from ._kernel import bpf_errno
from .errors import BpfSyscallError, syscall_error
from .fd import FD

__all__ = [
    "ENOTSUPP",
    "EXIT",
    "MOV_R0_0",
    "LoadAttrs",
    "LoadResult",
    "btf_load",
    "insn",
    "link_attr",
    "link_create",
    "link_type_of",
    "map_create",
    "map_freeze",
    "map_update_batch",
    "owned",
    "prog_load",
    "prog_test_run",
    "raw_tracepoint_open",
    "token_create",
    "unexpected",
]

#: The kernel-internal "operation not supported" (``include/linux/errno.h``),
#: which leaks to user space from BPF code and has no name in `errno`.
ENOTSUPP = 524

_INSN = struct.Struct("=BBhi")
_LITTLE_ENDIAN = sys.byteorder == "little"


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte instruction (``struct bpf_insn``) in the host's byte order."""
    # dst_reg:4 and src_reg:4 are bitfields: dst takes the low nibble on
    # little-endian hosts and the high one on big-endian hosts.
    regs = dst | (src << 4) if _LITTLE_ENDIAN else (dst << 4) | src
    return _INSN.pack(code, regs, off, imm)


#: ``r0 = 0`` and ``exit``: the smallest program every type accepts.
MOV_R0_0 = insn(0xB7)
EXIT = insn(0x95)

# BPF_PROG_LOAD returns EAGAIN when a signal interrupted verification.
_EAGAIN_RETRIES = 5
# Verifier logs of the probes' few instructions are short; big enough that a
# successful load never fails with ENOSPC for a truncated log.
_LOG_SIZE = 64 * 1024


def owned(ret: int, command: str, context: str) -> FD:
    """Wrap a non-negative result in an [`FD`][ebpf.syscall.FD]; raise for ``-errno``.

    Raises:
        BpfSyscallError: (the subclass that fits, see `unexpected()`) when
            ``ret`` is negative.
    """
    if ret < 0:
        raise unexpected(-ret, command, context)
    return FD(ret)


def _buffer(data: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(data, len(data))


def map_create(
    map_type: int,
    key_size: int,
    value_size: int,
    max_entries: int,
    *,
    flags: int = 0,
    inner_map_fd: int = 0,
    btf_fd: int = 0,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
    btf_vmlinux_value_type_id: int = 0,
) -> int:
    """``BPF_MAP_CREATE``: a descriptor or ``-errno``."""
    attr = MapCreateAttr(
        map_type=map_type,
        key_size=key_size,
        value_size=value_size,
        max_entries=max_entries,
        map_flags=flags,
        inner_map_fd=inner_map_fd,
        btf_fd=btf_fd,
        btf_key_type_id=btf_key_type_id,
        btf_value_type_id=btf_value_type_id,
        btf_vmlinux_value_type_id=btf_vmlinux_value_type_id,
    )
    return bpf_errno(Cmd.MAP_CREATE, attr)


def map_freeze(map_fd: int) -> int:
    """``BPF_MAP_FREEZE``: 0 or ``-errno``."""
    return bpf_errno(Cmd.MAP_FREEZE, MapElemAttr(map_fd=map_fd))


def map_update_batch(map_fd: int, keys: bytes, values: bytes, count: int) -> int:
    """``BPF_MAP_UPDATE_BATCH``: 0 or ``-errno``."""
    k, v = _buffer(keys), _buffer(values)
    attr = MapBatchAttr(keys=ctypes.addressof(k), values=ctypes.addressof(v), count=count, map_fd=map_fd)
    return bpf_errno(Cmd.MAP_UPDATE_BATCH, attr)


class LoadAttrs(TypedDict, total=False):
    """The ``BPF_PROG_LOAD`` fields a program type needs besides its type (see `prog_load()`)."""

    expected_attach_type: int
    flags: int
    kern_version: int
    attach_btf_id: int


@dataclass(frozen=True)
class LoadResult:
    """What ``BPF_PROG_LOAD`` did: a descriptor or ``-errno``, the log, and ``log_true_size``."""

    ret: int
    log: str
    log_true_size: int

    @property
    def err(self) -> int:
        """The errno (0 on success)."""
        return -self.ret if self.ret < 0 else 0


def prog_load(
    prog_type: int,
    insns: bytes = MOV_R0_0 + EXIT,
    *,
    expected_attach_type: int = 0,
    flags: int = 0,
    kern_version: int = 0,
    attach_btf_id: int = 0,
    attach_prog_fd: int = 0,
    prog_btf_fd: int = 0,
    func_info: bytes = b"",
    core_relos: bytes = b"",
    log: bool = False,
    license: str = "GPL",
) -> LoadResult:
    """``BPF_PROG_LOAD`` with the fields the probes use.

    ``func_info`` and ``core_relos`` are packed ``bpf_func_info`` (8 bytes)
    and ``bpf_core_relo`` (16 bytes) records. With ``log``, the verifier's
    level-1 log is returned (whether or not the load succeeded). The caller
    owns the descriptor of a successful load.
    """
    code = _buffer(insns)
    lic = ctypes.create_string_buffer(license.encode())
    attr = ProgLoadAttr(
        prog_type=prog_type,
        insn_cnt=len(insns) // 8,
        insns=ctypes.addressof(code),
        license=ctypes.addressof(lic),
        kern_version=kern_version,
        prog_flags=flags,
        expected_attach_type=expected_attach_type,
        prog_btf_fd=prog_btf_fd,
        attach_btf_id=attach_btf_id,
    )
    attr.attach_prog_fd = attach_prog_fd
    fi = _buffer(func_info)
    if func_info:
        attr.func_info, attr.func_info_rec_size, attr.func_info_cnt = (
            ctypes.addressof(fi),
            8,
            len(func_info) // 8,
        )
    relos = _buffer(core_relos)
    if core_relos:
        attr.core_relos, attr.core_relo_rec_size = ctypes.addressof(relos), 16
        attr.core_relo_cnt = len(core_relos) // 16
    buf = ctypes.create_string_buffer(_LOG_SIZE if log else 1)
    if log:
        attr.log_level, attr.log_buf, attr.log_size = 1, ctypes.addressof(buf), _LOG_SIZE
    ret = -errno.EAGAIN
    for _ in range(_EAGAIN_RETRIES):
        ret = bpf_errno(Cmd.PROG_LOAD, attr)
        if ret != -errno.EAGAIN:
            break
    text = buf.value.decode("utf-8", "replace") if log else ""
    return LoadResult(ret, text, int(attr.log_true_size))


def btf_load(blob: bytes) -> int:
    """``BPF_BTF_LOAD`` without a log: a descriptor or ``-errno``."""
    data = _buffer(blob)
    return bpf_errno(Cmd.BTF_LOAD, BtfLoadAttr(btf=ctypes.addressof(data), btf_size=len(blob)))


def link_create(attr: LinkCreateAttr) -> int:
    """``BPF_LINK_CREATE``: a descriptor or ``-errno``."""
    return bpf_errno(Cmd.LINK_CREATE, attr)


def link_attr(prog_fd: int, target: int, attach_type: int, flags: int = 0) -> LinkCreateAttr:
    """A ``BPF_LINK_CREATE`` attr; ``prog_fd`` and ``target`` may be -1 (stored as ``~0``)."""
    attr = LinkCreateAttr(attach_type=attach_type, flags=flags)
    attr.prog_fd = prog_fd & 0xFFFFFFFF
    attr.target_fd = target & 0xFFFFFFFF
    return attr


def raw_tracepoint_open(name: str | None, prog_fd: int) -> int:
    """``BPF_RAW_TRACEPOINT_OPEN`` (``name=None`` for tracing programs): a descriptor or ``-errno``."""
    buf = ctypes.create_string_buffer(name.encode()) if name is not None else None
    attr = RawTracepointOpenAttr(name=ctypes.addressof(buf) if buf is not None else 0, prog_fd=prog_fd)
    return bpf_errno(Cmd.RAW_TRACEPOINT_OPEN, attr)


def prog_test_run(prog_fd: int, data: bytes) -> int:
    """``BPF_PROG_TEST_RUN`` once on ``data``: 0 or ``-errno``."""
    data_in = _buffer(data)
    data_out = ctypes.create_string_buffer(len(data) + 256)
    attr = ProgTestRunAttr(
        prog_fd=prog_fd,
        data_size_in=len(data),
        data_size_out=len(data_out),
        data_in=ctypes.addressof(data_in),
        data_out=ctypes.addressof(data_out),
        repeat=1,
    )
    return bpf_errno(Cmd.PROG_TEST_RUN, attr)


def token_create(bpffs_fd: int) -> int:
    """``BPF_TOKEN_CREATE``: a descriptor or ``-errno``."""
    return bpf_errno(Cmd.TOKEN_CREATE, TokenCreateAttr(bpffs_fd=bpffs_fd & 0xFFFFFFFF))


class _LinkInfoHead(ctypes.Structure):
    # The first fields of struct bpf_link_info, the same in every kernel; the
    # kernel fills min(info_len, its size) bytes, so a short buffer is fine.
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("prog_id", ctypes.c_uint32)]


def link_type_of(link_fd: int) -> int:
    """The ``bpf_link_type`` of a link descriptor, or ``-errno``.

    Kernels before 5.8 have no link info and answer ``EINVAL``.
    """
    info = _LinkInfoHead()
    attr = ObjGetInfoAttr(bpf_fd=link_fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    ret = bpf_errno(Cmd.OBJ_GET_INFO_BY_FD, attr)
    return ret if ret < 0 else int(info.type)


def unexpected(err: int, command: str, context: str) -> BpfSyscallError:
    """The exception for an errno a probe cannot interpret (an inconclusive answer)."""
    context = f"feature probe: {context}"
    if err in (errno.EPERM, errno.EACCES) and os.geteuid() == 0:
        # Root has every capability the command checks; what is left is a
        # security policy (an LSM, lockdown) refusing this particular use.
        context += " (refused to root: a security policy may forbid it)"
    return syscall_error(err, command, context)
