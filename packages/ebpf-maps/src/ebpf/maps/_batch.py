"""The ``BPF_MAP_*_BATCH`` commands for one map, and how their absence is detected.

Batch commands exist since Linux 5.6 for the hash and array families (not
for LPM tries, devmaps, ...). The kernel answers ``ENOTSUPP`` for a map type
without them and ``EINVAL`` for an unknown command (older kernels); either
answer on a first call makes the map fall back to element operations, and
the answer is remembered for that map object.

Lookups walk the map with the kernel's cursor: ``in_batch`` is where to
resume (``NULL`` for the start) and the kernel writes the next position to
``out_batch``. For hash maps the cursor is a bucket number, so elements
deleted between two calls do not disturb the walk; a bucket holding more
elements than ``count`` makes the kernel answer ``ENOSPC`` without
progress, and the chunk is grown.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ebpf.syscall import bpf_failed, bpf_prepared, raw
from ebpf.syscall.abi import Cmd, MapBatchAttr
from ebpf.syscall.errors import ENOTSUPP
from ebpf.syscall.flags import UpdateFlags

if TYPE_CHECKING:
    from ._codecs import Codec, ReadableBuffer
    from ._map import Map

__all__ = ["BatchOps", "check_chunk_size", "packed_elements", "split_items"]

K = TypeVar("K")
V = TypeVar("V")

# EINVAL: a kernel without the command; ENOTSUPP: a map type without it.
_UNSUPPORTED = (errno.EINVAL, ENOTSUPP, errno.EOPNOTSUPP)


def check_chunk_size(chunk_size: int | None) -> None:
    """Raises ValueError unless ``chunk_size`` is None or an int >= 1."""
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be an int >= 1 (elements per system call) or None, not {chunk_size!r}"
        )


class BatchOps(Generic[K, V]):
    """Runs batch commands against one map; ``None`` results mean "no batch support, fall back"."""

    def __init__(self, owner: Map) -> None:
        self._owner = owner
        #: None until a first call told whether the kernel has batches for this map.
        self.supported: bool | None = None

    def _cursor_size(self) -> int:
        # Hash maps use a u32 bucket number, arrays a key: room for either.
        return max(self._owner.key_codec.size, 8)

    def lookup(self, chunk: int, *, delete: bool) -> Iterator[tuple[list[K], list[V]]] | None:
        """Chunks of ``(keys, values)`` covering the map, or None without batch support.

        The first call is made before returning, so that lack of support is
        known at once; the rest run as the iterator is consumed.
        """
        if self.supported is False:
            return None
        owner = self._owner
        cmd = Cmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else Cmd.MAP_LOOKUP_BATCH
        call = raw.map_lookup_and_delete_batch if delete else raw.map_lookup_batch
        kc, vc = owner.key_codec, owner.value_codec
        cursor_in = ctypes.create_string_buffer(self._cursor_size())
        cursor_out = ctypes.create_string_buffer(self._cursor_size())
        keys = ctypes.create_string_buffer(max(kc.size, 1) * chunk)
        values = ctypes.create_string_buffer(max(vc.size, 1) * chunk)
        attr = MapBatchAttr(
            in_batch=0,
            out_batch=ctypes.addressof(cursor_out),
            keys=ctypes.addressof(keys),
            values=ctypes.addressof(values),
            count=chunk,
        )
        with owner._lock:  # the descriptor stays open during the call (see `ebpf.maps._map`)
            attr.map_fd = owner.fileno()
            ret = call(attr)
        if ret < 0 and ret != -errno.ENOENT and -ret in _UNSUPPORTED and self.supported is None:
            self.supported = False
            return None
        self.supported = True

        def chunks(
            ret: int, keys: ctypes.Array[ctypes.c_char], values: ctypes.Array[ctypes.c_char]
        ) -> Iterator[tuple[list[K], list[V]]]:
            size = chunk
            while True:
                if ret == -errno.ENOSPC and attr.count == 0:
                    # A hash bucket holds more than `size` elements: grow and retry from the same cursor.
                    size *= 2
                    keys = ctypes.create_string_buffer(max(kc.size, 1) * size)
                    values = ctypes.create_string_buffer(max(vc.size, 1) * size)
                    attr.keys, attr.values = ctypes.addressof(keys), ctypes.addressof(values)
                elif ret < 0 and ret != -errno.ENOENT:
                    raise owner._error(-ret, f"BPF_{cmd.name}", "reading a batch from")
                else:
                    count = int(attr.count)
                    if count:
                        yield kc.decode_many(keys, count), vc.decode_many(values, count)
                    if ret == -errno.ENOENT:  # the kernel's "no more elements"
                        return
                    ctypes.memmove(cursor_in, cursor_out, len(cursor_in))
                    attr.in_batch = ctypes.addressof(cursor_in)
                attr.count = size
                with owner._lock:
                    owner._fd_checked()
                    ret = call(attr)

        return chunks(ret, keys, values)

    def lookup_all(
        self, chunk: int, *, delete: bool
    ) -> tuple[ctypes.Array[ctypes.c_char], ctypes.Array[ctypes.c_char], int] | None:
        """Every element, ``chunk`` per call: ``(keys, values, count)`` packed, or None without batch support.

        Each call writes behind the previous one into buffers that grow
        geometrically, so a whole-map read creates no Python object per
        chunk or per element; the caller decodes (or views) the result.
        """
        with self._owner._lock:
            if self.supported is False:
                return None
            owner = self._owner
            cmd = Cmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else Cmd.MAP_LOOKUP_BATCH
            ksize, vsize = max(owner.key_codec.size, 1), max(owner.value_codec.size, 1)
            capacity = max(chunk, min(owner.max_entries, 4096), 1)
            keys = ctypes.create_string_buffer(ksize * capacity)
            values = ctypes.create_string_buffer(vsize * capacity)
            cursor_in = ctypes.create_string_buffer(self._cursor_size())
            cursor_out = ctypes.create_string_buffer(self._cursor_size())
            attr = MapBatchAttr(in_batch=0, out_batch=ctypes.addressof(cursor_out), map_fd=owner.fileno())
            call = bpf_prepared(cmd, attr)
            done = 0
            while True:
                if capacity - done < chunk:
                    capacity = max(capacity * 2, done + chunk)
                    keys, old_keys = ctypes.create_string_buffer(ksize * capacity), keys
                    values, old_values = ctypes.create_string_buffer(vsize * capacity), values
                    ctypes.memmove(keys, old_keys, ksize * done)
                    ctypes.memmove(values, old_values, vsize * done)
                attr.keys = ctypes.addressof(keys) + ksize * done
                attr.values = ctypes.addressof(values) + vsize * done
                attr.count = chunk
                ret = call()
                if ret < 0:
                    ret = bpf_failed(call)
                if ret < 0 and ret != -errno.ENOENT:
                    if self.supported is None and -ret in _UNSUPPORTED:
                        self.supported = False
                        return None
                    if ret == -errno.ENOSPC and attr.count == 0:
                        chunk *= 2  # a hash bucket holds more than `chunk` elements
                        continue
                    raise owner._error(-ret, f"BPF_{cmd.name}", "reading a batch from")
                self.supported = True
                done += int(attr.count)
                if ret == -errno.ENOENT:  # the kernel's "no more elements"
                    return keys, values, done
                ctypes.memmove(cursor_in, cursor_out, len(cursor_in))
                attr.in_batch = ctypes.addressof(cursor_in)

    def write(
        self,
        keys: ReadableBuffer,
        values: ReadableBuffer | None,
        total: int,
        *,
        flags: int,
        chunk: int | None,
    ) -> int | None:
        """``BPF_MAP_UPDATE_BATCH`` (with ``values``) or ``BPF_MAP_DELETE_BATCH``; the count done, or None.

        ``keys`` and ``values`` hold ``total`` encoded elements back to back
        (checked by the caller); they are copied once before the first call.
        None means "write element by element": the kernel or the map type has
        no batch commands, or ``flags`` has ``NOEXIST``/``EXIST``, which
        ``BPF_MAP_UPDATE_BATCH`` refuses (it takes ``BPF_F_LOCK`` alone).

        Raises:
            BpfSyscallError: the kernel stopped part way (the message says after how many).
        """
        with self._owner._lock:
            if self.supported is False or flags & ~UpdateFlags.F_LOCK:
                return None
            if total == 0:
                return 0
            owner = self._owner
            cmd = Cmd.MAP_UPDATE_BATCH if values is not None else Cmd.MAP_DELETE_BATCH
            raw_keys = _copy(keys)
            raw_values = _copy(values) if values is not None else None
            step = chunk or total
            attr = MapBatchAttr(map_fd=owner.fileno(), elem_flags=int(flags))
            call = bpf_prepared(cmd, attr)
            keys_at, key_size = ctypes.addressof(raw_keys), owner.key_codec.size
            values_at, value_size = (
                (ctypes.addressof(raw_values), owner.value_codec.size) if raw_values is not None else (0, 0)
            )
            done = 0
            while done < total:
                count = min(step, total - done)
                attr.keys = keys_at + done * key_size
                attr.values = values_at + done * value_size
                attr.count = count
                ret = call()
                if ret < 0:
                    ret = bpf_failed(call)
                if ret < 0:
                    # The kernel writes back how many it wrote when it stops in the
                    # loop; an error before the loop leaves `count` as it was.
                    written = int(attr.count) if attr.count != count else 0
                    if done == 0 and written == 0 and -ret in _UNSUPPORTED and self.supported is None:
                        self.supported = False
                        return None
                    done += written
                    raise owner._error(
                        -ret, f"BPF_{cmd.name}", f"after {done} of {total} elements, writing a batch to"
                    )
                self.supported = True
                done += count
            return done


def _copy(data: ReadableBuffer) -> ctypes.Array[ctypes.c_char]:
    """A ctypes copy of ``data`` (not empty): memory of our own with an address to hand the kernel."""
    view = memoryview(data).cast("B")
    return (ctypes.c_char * view.nbytes).from_buffer_copy(view)


def packed_elements(data: object, codec: Codec[Any], what: str) -> tuple[memoryview, int]:
    """``data`` as a flat byte view of whole ``codec.size``-byte elements, and how many it holds.

    Raises:
        TypeError: ``data`` is not a buffer (bytes, memoryview, array.array, NumPy array...).
        ValueError: it is not contiguous, its items are neither bytes nor
            ``codec.size`` wide, or its length is not a whole number of elements.
    """
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        kinds = "bytes, memoryview, array.array, NumPy array"
        raise TypeError(f"{what} must be a buffer ({kinds}), not {type(data).__name__}") from None
    size = codec.size
    if not view.c_contiguous:
        raise ValueError(f"{what} must be a contiguous buffer (copy a strided view first)")
    if view.itemsize not in (1, size):
        raise ValueError(
            f"{what} have {view.itemsize}-byte items (format {view.format!r}), "
            f"but {codec.describe()} elements are {size} bytes"
        )
    if size == 0 or view.nbytes % size:
        raise ValueError(
            f"{what} hold {view.nbytes} bytes: not a whole number of {size}-byte {codec.describe()} elements"
        )
    return view.cast("B"), view.nbytes // size


def split_items(items: Any) -> tuple[list[Any], list[Any]]:
    """Split a mapping or an iterable of pairs into a key list and a value list.

    Raises:
        TypeError: an item is not a ``(key, value)`` pair.
    """
    if hasattr(items, "keys") and hasattr(items, "values"):
        return list(items.keys()), list(items.values())
    keys: list[Any] = []
    values: list[Any] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"update_batch() takes a mapping or (key, value) pairs, got item {item!r}")
        keys.append(item[0])
        values.append(item[1])
    return keys, values
