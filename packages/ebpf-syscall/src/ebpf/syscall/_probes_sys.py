"""What the feature probes share for talking to the kernel: tiny programs, loads that keep the log.

A probe decides by the exact errno (and sometimes the verifier log) of a
command made to fail on purpose, so the probes call the generated raw
functions of [`ebpf.syscall.raw`][ebpf.syscall.raw] (attr in, result or
``-errno`` out) instead of the typed functions of
[`commands`][ebpf.syscall.commands], which turn failures into exceptions and
retry loads with a log. This module adds what raw calls need around them for
probes: instructions, a program load that returns its log with the errno
(`load_program()`), a BTF load from bytes (`load_btf()`), and turning results
into an owned [`FD`][ebpf.syscall.FD] or the exception for an answer a probe
cannot interpret (`owned()`, `unexpected()`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass
from typing import TypedDict

from . import raw
from ._generated import BtfLoadAttr, LinkCreateAttr, ObjGetInfoAttr, ProgLoadAttr
from .errors import BpfSyscallError, syscall_error
from .fd import FD

__all__ = [
    "EXIT",
    "MOV_R0_0",
    "LoadAttrs",
    "LoadResult",
    "buffer",
    "insn",
    "link_attr",
    "link_type_of",
    "load_btf",
    "load_program",
    "owned",
    "unexpected",
]

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


def buffer(data: bytes) -> ctypes.Array[ctypes.c_char]:
    """A ctypes copy of ``data`` with an address to hand the kernel (keep it alive during the call)."""
    return ctypes.create_string_buffer(data, len(data))


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


def load_program(
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
    """``BPF_PROG_LOAD`` with the fields the probes use, through
    [`raw.prog_load()`][ebpf.syscall.raw.prog_load].

    ``func_info`` and ``core_relos`` are packed ``bpf_func_info`` (8 bytes)
    and ``bpf_core_relo`` (16 bytes) records. With ``log``, the verifier's
    level-1 log is returned (whether or not the load succeeded). The caller
    owns the descriptor of a successful load.
    """
    code = buffer(insns)
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
    fi = buffer(func_info)
    if func_info:
        attr.func_info, attr.func_info_rec_size, attr.func_info_cnt = (
            ctypes.addressof(fi),
            8,
            len(func_info) // 8,
        )
    relos = buffer(core_relos)
    if core_relos:
        attr.core_relos, attr.core_relo_rec_size = ctypes.addressof(relos), 16
        attr.core_relo_cnt = len(core_relos) // 16
    buf = ctypes.create_string_buffer(_LOG_SIZE if log else 1)
    if log:
        attr.log_level, attr.log_buf, attr.log_size = 1, ctypes.addressof(buf), _LOG_SIZE
    ret = raw.prog_load(attr)
    text = buf.value.decode("utf-8", "replace") if log else ""
    return LoadResult(ret, text, int(attr.log_true_size))


def load_btf(blob: bytes) -> int:
    """``BPF_BTF_LOAD`` of ``blob`` without a log: a descriptor or ``-errno``."""
    data = buffer(blob)
    return raw.btf_load(BtfLoadAttr(btf=ctypes.addressof(data), btf_size=len(blob)))


def link_attr(prog_fd: int, target: int, attach_type: int, flags: int = 0) -> LinkCreateAttr:
    """A ``BPF_LINK_CREATE`` attr; ``prog_fd`` and ``target`` may be -1 (stored as ``~0``)."""
    attr = LinkCreateAttr(attach_type=attach_type, flags=flags)
    attr.prog_fd = prog_fd & 0xFFFFFFFF
    attr.target_fd = target & 0xFFFFFFFF
    return attr


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
    ret = raw.obj_get_info_by_fd(attr)
    return ret if ret < 0 else int(info.type)


def unexpected(err: int, command: str, context: str) -> BpfSyscallError:
    """The exception for an errno a probe cannot interpret (an inconclusive answer)."""
    context = f"feature probe: {context}"
    if err in (errno.EPERM, errno.EACCES) and os.geteuid() == 0:
        # Root has every capability the command checks; what is left is a
        # security policy (an LSM, lockdown) refusing this particular use.
        context += " (refused to root: a security policy may forbid it)"
    return syscall_error(err, command, context)
