"""Turning Python buffers into the ``__aligned_u64`` pointers attr structures hold.

``union bpf_attr`` passes user memory as 64-bit addresses. The helpers here
return the address of a buffer together with the object that keeps the
memory alive; callers hold on to that object until the syscall returns.
"""

from __future__ import annotations

import ctypes
from typing import TypeAlias

#: Memory the kernel reads.
ReadableBuffer: TypeAlias = bytes | bytearray | memoryview
#: Memory the kernel writes.
WritableBuffer: TypeAlias = bytearray | memoryview

__all__ = ["ReadableBuffer", "WritableBuffer", "readable_address", "writable_address"]


def readable_address(buf: ReadableBuffer | None) -> tuple[int, object]:
    """Address of a buffer the kernel will only read, and its keep-alive object.

    ``None`` gives address 0 (the kernel's "no buffer"). Read-only memory
    (``bytes``, read-only views) is passed without copying where ctypes
    allows it, and copied otherwise.

    Raises:
        TypeError: ``buf`` does not support the buffer protocol.
    """
    if buf is None:
        return 0, None
    if isinstance(buf, bytes):
        keep = ctypes.c_char_p(buf)
        return ctypes.cast(keep, ctypes.c_void_p).value or 0, (keep, buf)
    view = memoryview(buf)
    if view.readonly:
        copy = ctypes.create_string_buffer(view.tobytes(), view.nbytes)
        return ctypes.addressof(copy), copy
    if view.nbytes == 0:
        return 0, None
    arr = (ctypes.c_char * view.nbytes).from_buffer(view)
    return ctypes.addressof(arr), (arr, view)


def writable_address(buf: WritableBuffer | None) -> tuple[int, object]:
    """Address of a buffer the kernel will write to, and its keep-alive object.

    Raises:
        TypeError: ``buf`` is read-only or not a buffer.
    """
    if buf is None:
        return 0, None
    view = memoryview(buf)
    if view.readonly:
        raise TypeError(f"the kernel writes into this buffer: pass a bytearray, not {type(buf).__name__}")
    if view.nbytes == 0:
        return 0, None
    arr = (ctypes.c_char * view.nbytes).from_buffer(view)
    return ctypes.addressof(arr), (arr, view)
