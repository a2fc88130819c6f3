"""Element buffers that threads take in turn: single-element operations with no lock.

A single-element operation (``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``)
needs a key buffer, a value buffer and the ``bpf_attr`` that points at them,
all allocated once so that the operation costs little more than its system
call. Threads sharing a map must not share those buffers (ctypes releases
the GIL during the call, so another thread could overwrite the key in
between), and taking a lock around each operation costs as much as a tenth
of it. Instead each map keeps a *pool* of buffer sets: an operation pops a
set (``list.pop()`` is atomic under the GIL), uses it, and appends it back.
One thread finds the one set every time; threads that meet get a set each,
created on demand, so they run their system calls in parallel.

``close()`` is safe against operations in flight without a lock on the fast
path, by this order of events (the GIL orders them):

1. the map is marked closed and every set is *disarmed* (its attrs name no
   descriptor): an operation that reaches the kernel from now on gets
   ``EBADF``, which the map turns into its "closed" error;
2. ``close`` waits until every set is back in the pool: an operation that
   entered the kernel before step 1, with the old descriptor number, has
   finished;
3. only then is the descriptor closed, so the kernel never hands the number
   to a new object while an operation could still use it.
"""

from __future__ import annotations

import ctypes
import logging
import time
from typing import TYPE_CHECKING, Generic, TypeVar

from ebpf.syscall import bpf_prepared
from ebpf.syscall.abi import Cmd, MapElemAttr

if TYPE_CHECKING:
    from ._codecs import Codec, Slot

__all__ = ["ElementBuffers", "ElementPool"]

K = TypeVar("K")
V = TypeVar("V")

_NO_FD = 0xFFFFFFFF  # (u32)-1: no descriptor; the kernel answers EBADF
#: How long close() waits for sets still out (seconds) before it decides a set was lost
#: (a KeyboardInterrupt between taking a set and the ``try`` that returns it).
_RETURN_DEADLINE = 10.0

log = logging.getLogger(__name__)


class ElementBuffers(Generic[K, V]):
    """One set of buffers for single-element commands: key and value buffers, attrs, prepared calls, slots.

    ``key``/``value`` are the codecs' slots over the buffers (``key[0] = k``
    encodes into the key buffer); ``lookup``/``update``/``delete`` are the
    prepared system calls (see `ebpf.syscall.bpf_prepared`).
    """

    __slots__ = ("attr", "delete", "delete_attr", "kbuf", "key", "lookup", "update", "value", "vbuf")

    def __init__(self, fd: int, key_codec: Codec[K], value_codec: Codec[V]) -> None:
        # One byte at least so that addressof() is valid for zero-size keys.
        self.kbuf = ctypes.create_string_buffer(max(key_codec.size, 1))
        self.vbuf = ctypes.create_string_buffer(max(value_codec.size, 1))
        self.attr = MapElemAttr(map_fd=fd, key=ctypes.addressof(self.kbuf) if key_codec.size else 0)
        self.attr.value = ctypes.addressof(self.vbuf)
        # BPF_MAP_DELETE_ELEM's last field is `key`: the kernel rejects a
        # non-zero `value` (CHECK_ATTR), so deletes get an attr of their own.
        self.delete_attr = MapElemAttr(map_fd=fd, key=self.attr.key)
        self.lookup = bpf_prepared(int(Cmd.MAP_LOOKUP_ELEM), self.attr)
        self.update = bpf_prepared(int(Cmd.MAP_UPDATE_ELEM), self.attr)
        self.delete = bpf_prepared(int(Cmd.MAP_DELETE_ELEM), self.delete_attr)
        self.key: Slot[K] = key_codec.slot(self.kbuf)
        self.value: Slot[V] = value_codec.slot(self.vbuf)

    def disarm(self) -> None:
        """Make every later call of this set name no descriptor (the kernel answers ``EBADF``)."""
        self.attr.map_fd = self.delete_attr.map_fd = _NO_FD


class ElementPool(Generic[K, V]):
    """The buffer sets of one map: `free` is the pool operations pop from and append to.

    The hot paths use ``free.pop``/``free.append`` directly (bound once) and
    call `more()` when the pool is
    empty; `drain()` is step 1 and 2
    of closing (see the module docstring).
    """

    def __init__(self, fd: int, key_codec: Codec[K], value_codec: Codec[V]) -> None:
        self._fd = fd
        self._key_codec = key_codec
        self._value_codec = value_codec
        self._closed = False
        first: ElementBuffers[K, V] = ElementBuffers(fd, key_codec, value_codec)
        self._all = [first]
        self.free = [first]

    def more(self) -> ElementBuffers[K, V]:
        """A new set for a thread that found the pool empty (another thread holds each set).

        The caller holds the map's lock. After `drain()` the new set is born
        disarmed, so its call fails as the closed map's calls do.
        """
        buffers: ElementBuffers[K, V] = ElementBuffers(self._fd, self._key_codec, self._value_codec)
        if self._closed:
            buffers.disarm()
        self._all.append(buffers)
        return buffers

    def drain(self) -> None:
        """Disarm every set and wait until every set is back: no operation still uses the descriptor."""
        self._closed = True
        for buffers in self._all:
            buffers.disarm()
        deadline = time.monotonic() + _RETURN_DEADLINE
        pause = 0.0
        # Operations in flight hold a set for one system call: yield the GIL until they are back.
        while len(self.free) < len(self._all):
            if time.monotonic() > deadline:
                log.warning(
                    "closing a map: %d element buffer set(s) not returned after %.0f s "
                    "(an interrupted operation); closing anyway",
                    len(self._all) - len(self.free),
                    _RETURN_DEADLINE,
                )
                return
            time.sleep(pause)
            pause = min(pause * 2 or 1e-5, 1e-3)
