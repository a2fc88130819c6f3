"""Key/value maps (hash, LRU, devmap, cpumap, ...): element operations at syscall speed, iteration, dump.

Single-element operations reuse buffers allocated once per map: a lookup
takes a set of element buffers from the map's pool (see
`ebpf.maps._elements`), puts the key into its key buffer through the key
codec's [`slot()`][ebpf.maps.Codec.slot], makes the call prepared once with
``bpf_prepared`` and reads the value buffer through the value codec's slot.
For integer keys and values all of these are C callables, so that the only
Python code a lookup runs is ``__getitem__`` itself. Threads sharing a map
take sets of their own from the pool, with no lock, and run their system
calls in parallel; the other operations (batches, iteration, flagged
element commands) hold the map's lock (see `ebpf.maps._map`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ebpf.syscall import bpf_errno, bpf_failed
from ebpf.syscall.abi import Cmd, MapElemAttr, MapType

from ._batch import BatchOps, check_chunk_size, packed_elements, split_items
from ._codecs import ReadableBuffer
from ._elements import ElementBuffers, ElementPool
from ._map import Map

if TYPE_CHECKING:
    from _typeshed import SupportsKeysAndGetItem

__all__ = ["KeyValueMap"]

K = TypeVar("K")
V = TypeVar("V")

_LOOKUP = int(Cmd.MAP_LOOKUP_ELEM)
_UPDATE = int(Cmd.MAP_UPDATE_ELEM)
_NEXT_KEY = int(Cmd.MAP_GET_NEXT_KEY)
_LOOKUP_AND_DELETE = int(Cmd.MAP_LOOKUP_AND_DELETE_ELEM)
_ENOENT = errno.ENOENT
_MISSING: Any = object()


class KeyValueMap(
    Map,
    MutableMapping[K, V],
    map_types=(
        MapType.HASH,
        MapType.LRU_HASH,
        MapType.DEVMAP,
        MapType.DEVMAP_HASH,
        MapType.CPUMAP,
        MapType.CGROUP_STORAGE,
    ),
):
    """A map from keys to values that behaves like a ``dict``.

    ``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``, ``len(m)`` (counted by
    walking the keys), iteration, ``keys()/values()/items()``, ``get``,
    ``pop``, ``clear()``; the explicit [`lookup()`][ebpf.maps.KeyValueMap.lookup],
    [`update()`][ebpf.maps.KeyValueMap.update], [`delete()`][ebpf.maps.KeyValueMap.delete] and
    [`lookup_and_delete()`][ebpf.maps.KeyValueMap.lookup_and_delete] take the kernel's flags
    (``UpdateFlags.NOEXIST``, ``EXIST``, ``ANY``, ``F_LOCK``); the batch methods
    ([`lookup_batch()`][ebpf.maps.KeyValueMap.lookup_batch],
    [`update_batch()`][ebpf.maps.KeyValueMap.update_batch],
    [`delete_batch()`][ebpf.maps.KeyValueMap.delete_batch],
    [`lookup_and_delete_batch()`][ebpf.maps.KeyValueMap.lookup_and_delete_batch],
    [`batches()`][ebpf.maps.KeyValueMap.batches]) fall back to element operations where the kernel or the map
    type has no batch commands.

    Missing keys raise [`KeyNotFoundError`][ebpf.syscall.KeyNotFoundError] (a
    ``KeyError``). Keys and values of the wrong type or size raise
    ``TypeError``/``ValueError`` before any system call.
    """

    def _setup(self) -> None:
        super()._setup()
        self._elements: ElementPool[K, V] = ElementPool(self._fd.fileno(), self.key_codec, self.value_codec)
        # The pool's own methods, bound once: the hot paths call them directly.
        self._take = self._elements.free.pop
        self._give = self._elements.free.append
        self._encode_key = self.key_codec.encode_into
        self._encode_value = self.value_codec.encode_into
        self._decode_key = self.key_codec.decode_from
        self._decode_value = self.value_codec.decode_from
        self._batch: BatchOps[K, V] = BatchOps(self)

    def _more(self) -> ElementBuffers[K, V]:
        """A set of element buffers when every set is in use by another thread (see `ebpf.maps._elements`).

        Raises:
            ValueError: the map is closed.
        """
        with self._lock:
            self._fd_checked()
            return self._elements.more()

    @contextlib.contextmanager
    def _buffers(self) -> Iterator[ElementBuffers[K, V]]:
        """A set of element buffers for the ``with`` block (the paths that are not hot)."""
        try:
            buffers = self._take()
        except IndexError:
            buffers = self._more()
        try:
            yield buffers
        finally:
            self._give(buffers)

    def _release(self) -> None:
        # The hot paths do not test `_closed`: after this their calls name no descriptor,
        # fail with EBADF, and `_error()` turns that into the "closed" error.
        self._elements.drain()
        super()._release()

    def _put_key_checked(self, buffers: ElementBuffers[K, V], key: object) -> None:
        """Encode ``key`` with the codec after the slot refused it: the codec's clear error, or the key."""
        try:
            self._encode_key(buffers.kbuf, 0, key)
        except Exception as exc:
            raise exc from None  # not "during handling of" the slot's terse error

    def _put_value_checked(self, buffers: ElementBuffers[K, V], value: object) -> None:
        """Encode ``value`` with the codec after the slot refused it (see `_put_key_checked()`)."""
        try:
            self._encode_value(buffers.vbuf, 0, value)
        except Exception as exc:
            raise exc from None

    def _flagged_attr(self, buffers: ElementBuffers[K, V], flags: int) -> MapElemAttr:
        attr = MapElemAttr(map_fd=self._fd.fileno(), key=buffers.attr.key, flags=int(flags))
        attr.value = buffers.attr.value
        return attr

    # ------------------------------------------------------------ single elements

    def __getitem__(self, key: K) -> V:
        # The hot path: C calls only besides this method (see the module docstring).
        try:
            buffers = self._take()
        except IndexError:
            buffers = self._more()
        try:
            try:
                buffers.key[0] = key
            except Exception:
                self._put_key_checked(buffers, key)
            if buffers.lookup() < 0 and (ret := bpf_failed(buffers.lookup)) < 0:
                raise self._error(-ret, "BPF_MAP_LOOKUP_ELEM", "looking up", key)
            return buffers.value[0]
        finally:
            self._give(buffers)

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, /, default: V) -> V: ...
    @overload
    def get(self, key: K, /, default: Any) -> Any: ...

    def get(self, key: K, /, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when the map has no such key."""
        try:
            buffers = self._take()
        except IndexError:
            buffers = self._more()
        try:
            try:
                buffers.key[0] = key
            except Exception:
                self._put_key_checked(buffers, key)
            if buffers.lookup() < 0 and (ret := bpf_failed(buffers.lookup)) < 0:
                if ret == -_ENOENT:
                    return default
                raise self._error(-ret, "BPF_MAP_LOOKUP_ELEM", "looking up", key)
            return buffers.value[0]
        finally:
            self._give(buffers)

    def lookup(self, key: K, *, flags: int = 0) -> V:
        """The value of ``key``; ``flags=UpdateFlags.F_LOCK`` reads it under the value's ``bpf_spin_lock``.

        Raises:
            KeyNotFoundError: no such key.
            ValueError: the map is closed, or a bad key.
            TypeError: a key of the wrong type.
        """
        if not flags:
            return self[key]
        with self._lock, self._buffers() as buffers:
            self._fd_checked()
            self._encode_key(buffers.kbuf, 0, key)
            ret = bpf_errno(_LOOKUP, self._flagged_attr(buffers, flags))
            if ret < 0:
                raise self._error(-ret, "BPF_MAP_LOOKUP_ELEM", "looking up", key)
            value: V = self._decode_value(buffers.vbuf, 0)
            return value

    def __setitem__(self, key: K, value: V) -> None:
        try:
            buffers = self._take()
        except IndexError:
            buffers = self._more()
        try:
            try:
                buffers.key[0] = key
            except Exception:
                self._put_key_checked(buffers, key)
            try:
                buffers.value[0] = value
            except Exception:
                self._put_value_checked(buffers, value)
            if buffers.update() < 0 and (ret := bpf_failed(buffers.update)) < 0:
                raise self._error(-ret, "BPF_MAP_UPDATE_ELEM", "updating", key)
        finally:
            self._give(buffers)

    @overload
    def update(self, key: K, value: V, /, *, flags: int = ...) -> None: ...
    @overload
    def update(self, other: SupportsKeysAndGetItem[K, V] | Iterable[tuple[K, V]], /) -> None: ...

    def update(self, *args: Any, flags: int = 0) -> None:
        """``update(key, value, flags=...)`` writes one element; ``update(mapping)`` many, as ``dict.update``.

        ``flags``: ``UpdateFlags.ANY`` (create or replace), ``NOEXIST``
        (create only), ``EXIST`` (replace only), ``F_LOCK`` (under the
        value's ``bpf_spin_lock``).

        Raises:
            BpfSyscallError: ``EEXIST`` for ``NOEXIST`` on an existing key;
                ``E2BIG`` when the map is full; ``EPERM`` when frozen.
            KeyNotFoundError: ``EXIST`` on a missing key.
            TypeError, ValueError: bad keys, values or arguments.
        """
        if len(args) == 2:
            key, value = args
            if not flags:
                self[key] = value
                return
            with self._lock, self._buffers() as buffers:
                self._fd_checked()
                self._encode_key(buffers.kbuf, 0, key)
                self._encode_value(buffers.vbuf, 0, value)
                ret = bpf_errno(_UPDATE, self._flagged_attr(buffers, flags))
                if ret < 0:
                    raise self._error(-ret, "BPF_MAP_UPDATE_ELEM", "updating", key)
            return
        if len(args) != 1:
            raise TypeError(
                f"update() takes (key, value) or one mapping, not {len(args)} positional arguments"
            )
        if flags:
            raise TypeError(
                "flags apply to update(key, value, flags=...); use update_batch(items, flags=...)"
            )
        super().update(args[0])

    def __delitem__(self, key: K) -> None:
        try:
            buffers = self._take()
        except IndexError:
            buffers = self._more()
        try:
            try:
                buffers.key[0] = key
            except Exception:
                self._put_key_checked(buffers, key)
            if buffers.delete() < 0 and (ret := bpf_failed(buffers.delete)) < 0:
                raise self._error(-ret, "BPF_MAP_DELETE_ELEM", "deleting", key)
        finally:
            self._give(buffers)

    def delete(self, key: K) -> None:
        """Remove ``key``.

        Raises:
            KeyNotFoundError: no such key.
            BpfSyscallError: ``EINVAL`` for types whose elements cannot be deleted (arrays).
        """
        del self[key]

    def lookup_and_delete(self, key: K, *, flags: int = 0) -> V:
        """Remove ``key`` and return its value in one step (hash maps need Linux 5.14).

        Raises:
            KeyNotFoundError: no such key.
            BpfSyscallError: ``EINVAL``/``ENOTSUPP`` where the kernel or the map type lacks it.
        """
        with self._lock, self._buffers() as buffers:
            self._fd_checked()
            self._encode_key(buffers.kbuf, 0, key)
            attr = self._flagged_attr(buffers, flags) if flags else buffers.attr
            ret = bpf_errno(_LOOKUP_AND_DELETE, attr)
            if ret < 0:
                raise self._error(-ret, "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "looking up and deleting", key)
            value: V = self._decode_value(buffers.vbuf, 0)
            return value

    def __contains__(self, key: object) -> bool:
        try:
            buffers = self._take()
        except IndexError:
            buffers = self._more()
        try:
            try:
                buffers.key[0] = key  # type: ignore[assignment]  # the codec refuses keys of another type
            except Exception:
                self._put_key_checked(buffers, key)
            if buffers.lookup() < 0 and (ret := bpf_failed(buffers.lookup)) < 0:
                if ret == -_ENOENT:
                    return False
                raise self._error(-ret, "BPF_MAP_LOOKUP_ELEM", "looking up", key)
            return True
        finally:
            self._give(buffers)

    # ------------------------------------------------------------ iteration

    def _iter_raw_keys(self) -> Iterator[bytes]:
        """Every key once, as bytes, walking ``BPF_MAP_GET_NEXT_KEY``.

        The walk has its own buffers, so the loop body may use the map. When
        the current key is deleted under us, a hash map's ``get_next_key``
        restarts from the first key (``htab_map_get_next_key``: "lookup the
        key; if not found, return the first key"), as does an LPM trie. Keys
        already seen are skipped, so a walk that restarts still yields every
        remaining key exactly once.
        """
        size = self.key_codec.size
        cur = ctypes.create_string_buffer(max(size, 1))
        nxt = ctypes.create_string_buffer(max(size, 1))
        with self._lock:
            attr = MapElemAttr(map_fd=self._fd_checked().fileno(), key=0)
        attr.next_key = ctypes.addressof(nxt)
        seen: set[bytes] = set()
        while True:
            with self._lock:  # not across the yield: a step at a time
                self._fd_checked()
                ret = bpf_errno(_NEXT_KEY, attr)
            if ret < 0:
                if ret == -_ENOENT:
                    return
                raise self._error(-ret, "BPF_MAP_GET_NEXT_KEY", "iterating")
            raw = nxt.raw[:size]
            ctypes.memmove(cur, nxt, size)
            attr.key = ctypes.addressof(cur)
            if raw in seen:
                continue
            seen.add(raw)
            yield raw

    def _iter_items_by_key(self) -> Iterator[tuple[K, V]]:
        decode_key = self.key_codec.decode
        for raw in self._iter_raw_keys():
            # Look the key up from its bytes: the key buffer is shared with the walk.
            key = decode_key(raw)
            with self._lock, self._buffers() as buffers:
                self._fd_checked()
                ctypes.memmove(buffers.kbuf, raw, len(raw))
                if buffers.lookup() < 0 and (ret := bpf_failed(buffers.lookup)) < 0:
                    if ret == -_ENOENT:
                        continue  # deleted since the walk saw it
                    raise self._error(-ret, "BPF_MAP_LOOKUP_ELEM", "looking up", key)
                value = buffers.value[0]
            yield key, value

    def __iter__(self) -> Iterator[K]:
        """The keys, each once, even while keys are being deleted.

        Every key present for the whole iteration is yielded exactly once.
        Keys are read a chunk at a time (batches where the kernel has them),
        so a key deleted after its chunk was read may still be yielded:
        delete with ``pop(key, None)`` when the loop deletes other keys.
        """
        for chunk_keys, _ in self._chunks_or_none():
            yield from chunk_keys

    def _iteration_chunk(self) -> int:
        # About 1 MiB of buffers per call, at most 4096 elements.
        per_element = max(self.key_codec.size + self.value_codec.size, 1)
        return max(1, min(self.max_entries or 1, 4096, (1 << 20) // per_element))

    def _chunks_or_none(
        self, chunk: int | None = None, *, delete: bool = False
    ) -> Iterator[tuple[list[K], list[V]]]:
        chunks = self._batch.lookup(chunk or self._iteration_chunk(), delete=delete)
        if chunks is not None:
            yield from chunks
            return
        for key, value in self._iter_items_by_key():
            if delete:
                self._delete_if_present(key)
            yield [key], [value]

    def _delete_if_present(self, key: K) -> None:
        with self._lock, self._buffers() as buffers:
            self._fd_checked()
            self._encode_key(buffers.kbuf, 0, key)
            if buffers.delete() < 0 and (ret := bpf_failed(buffers.delete)) < 0 and ret != -_ENOENT:
                raise self._error(-ret, "BPF_MAP_DELETE_ELEM", "deleting", key)

    def iter_items(self) -> Iterator[tuple[K, V]]:
        """``(key, value)`` pairs, each key once, read a chunk at a time."""
        for keys, values in self._chunks_or_none():
            yield from zip(keys, values, strict=True)

    def items(self) -> _ItemsView[K, V]:  # type: ignore[override]
        """A view whose iteration reads keys and values together (not one lookup per key)."""
        return _ItemsView(self)

    def values(self) -> _ValuesView[V]:  # type: ignore[override]
        """A view whose iteration reads values in chunks."""
        return _ValuesView(self)

    def __len__(self) -> int:
        """The number of keys, counted by walking the map (the kernel keeps no count user space can read)."""
        return sum(len(keys) for keys, _ in self._chunks_or_none())

    def clear(self) -> None:
        """Delete every element (in batches where the kernel can)."""
        for _ in self._chunks_or_none(delete=True):
            pass

    # ------------------------------------------------------------ batches

    def lookup_batch(self, *, chunk_size: int | None = None) -> dict[K, V]:
        """Every element, read ``chunk_size`` per system call (None: the whole map in one).

        Raises:
            ValueError: a bad ``chunk_size``, or the map is closed.
        """
        keys, values = self.lookup_batch_lists(chunk_size=chunk_size)
        return dict(zip(keys, values, strict=True))

    def lookup_batch_lists(
        self, *, chunk_size: int | None = None, delete: bool = False
    ) -> tuple[list[K], list[V]]:
        """Every key and every value as two lists in map order:
        [`lookup_batch()`][ebpf.maps.KeyValueMap.lookup_batch] without building a dict.

        With ``delete`` the elements are deleted as they are read.
        """
        found = self._read_all(chunk_size, delete)
        if found is None:
            return self._read_all_by_chunks(delete)
        raw_keys, raw_values, count = found
        return self.key_codec.decode_many(raw_keys, count), self.value_codec.decode_many(raw_values, count)

    def lookup_batch_views(
        self, *, chunk_size: int | None = None, delete: bool = False
    ) -> tuple[memoryview, memoryview]:
        """Every key and value undecoded, as two ``memoryview`` arrays in map order: the fastest bulk read.

        No Python object is made per element, so a whole map comes out at the
        speed of the system call. Views of native-order integers (``u32``,
        ``u64``, ``i64``...) have the integer's format: ``len()``, indexing,
        iteration and ``tolist()`` give ints, and ``numpy.frombuffer(view)``
        wraps them without a copy. Other codecs give flat byte views of
        ``len(map) * codec.size`` bytes that ``codec.decode_many(view, n)``
        decodes. With ``delete`` the elements are deleted as they are read.

        Raises:
            ValueError: a bad ``chunk_size``, or the map is closed.
        """
        kc, vc = self.key_codec, self.value_codec
        found = self._read_all(chunk_size, delete)
        if found is None:
            keys, values = self._read_all_by_chunks(delete)
            found = kc.encode_many(keys), vc.encode_many(values), len(keys)
        raw_keys, raw_values, count = found
        return kc.view_many(raw_keys, count), vc.view_many(raw_values, count)

    def _read_all(
        self, chunk_size: int | None, delete: bool
    ) -> tuple[ReadableBuffer, ReadableBuffer, int] | None:
        """The whole map packed by batch lookups, ``(keys, values, count)``; None without batches.

        Raises:
            ValueError: a bad ``chunk_size``, or the map is closed.
        """
        with self._lock:
            check_chunk_size(chunk_size)
            self._fd_checked()
            return self._batch.lookup_all(chunk_size or max(self.max_entries, 1), delete=delete)

    def _read_all_by_chunks(self, delete: bool) -> tuple[list[K], list[V]]:
        """The whole map as lists, read with element operations (no batch commands)."""
        keys: list[K] = []
        values: list[V] = []
        for chunk_keys, chunk_values in self._chunks_or_none(delete=delete):
            keys += chunk_keys
            values += chunk_values
        return keys, values

    def lookup_and_delete_batch(self, *, chunk_size: int | None = None) -> dict[K, V]:
        """Every element, deleted as it is read (atomically per chunk where the kernel has batches)."""
        keys, values = self.lookup_batch_lists(chunk_size=chunk_size, delete=True)
        return dict(zip(keys, values, strict=True))

    def batches(self, chunk_size: int = 1024, *, delete: bool = False) -> Iterator[dict[K, V]]:
        """The map a chunk at a time, each chunk one system call, resuming from the kernel's cursor.

        With ``delete`` the elements read are deleted (``BPF_MAP_LOOKUP_AND_DELETE_BATCH``).
        """
        check_chunk_size(chunk_size)
        for keys, values in self._chunks_or_none(chunk_size, delete=delete):
            yield dict(zip(keys, values, strict=True))

    def update_batch(
        self,
        items: Mapping[K, V] | Iterable[tuple[K, V]],
        *,
        flags: int = 0,
        chunk_size: int | None = None,
    ) -> int:
        """Write many elements, ``chunk_size`` per system call (None: all in one); returns how many.

        Every key and value is encoded before the first call, so bad input
        changes nothing. ``flags`` as for [`update()`][ebpf.maps.KeyValueMap.update]: the kernel's batch
        command takes ``ANY`` and ``F_LOCK``; with ``NOEXIST`` or ``EXIST``
        the elements are written one by one (the first refused raises, and
        those before it stay written).

        Raises:
            TypeError, ValueError: bad items, keys, values or ``chunk_size``.
            BpfSyscallError: the kernel stopped part way (the message says after how many).
        """
        return self._update_batch(items, flags, chunk_size)

    def update_batch_views(
        self, keys: object, values: object, *, flags: int = 0, chunk_size: int | None = None
    ) -> int:
        """Write elements given as packed arrays, with no encoding:
        [`lookup_batch_views()`][ebpf.maps.KeyValueMap.lookup_batch_views] in reverse.

        ``keys`` and ``values`` are contiguous buffers (``memoryview``,
        ``array.array``, NumPy arrays, ``bytes``) of the same number of
        elements laid out as the codecs encode them (integers in native
        order: ``array.array("I", ...)`` for ``u32``); they are copied once
        and handed to the kernel as they are. Returns how many were written.
        ``flags`` and ``chunk_size`` as for [`update_batch()`][ebpf.maps.KeyValueMap.update_batch].

        Raises:
            TypeError: ``keys`` or ``values`` is not a buffer.
            ValueError: a buffer holds a partial element or items of another
                width, the counts differ, or a bad ``chunk_size``.
            BpfSyscallError: the kernel stopped part way (the message says after how many).
        """
        with self._lock:
            check_chunk_size(chunk_size)
            self._fd_checked()
            kc, vc = self.key_codec, self.value_codec
            key_view, total = packed_elements(keys, kc, "keys")
            value_view, value_count = packed_elements(values, vc, "values")
            if value_count != total:
                raise ValueError(f"{total} keys but {value_count} values: give one value per key")
            done = self._batch.write(key_view, value_view, total, flags=flags, chunk=chunk_size)
            if done is not None:
                return done
            return self._update_each(
                kc.decode_many(key_view, total), vc.decode_many(value_view, total), flags
            )

    def _update_batch(self, items: object, flags: int, chunk_size: int | None) -> int:
        with self._lock:
            check_chunk_size(chunk_size)
            self._fd_checked()
            keys, values = split_items(items)
            # Encode everything first: a bad key or value raises before any call.
            raw_keys, raw_values = self.key_codec.encode_many(keys), self.value_codec.encode_many(values)
            done = self._batch.write(raw_keys, raw_values, len(keys), flags=flags, chunk=chunk_size)
            if done is not None:
                return done
            return self._update_each(keys, values, flags)

    def _update_each(self, keys: list[K], values: list[V], flags: int) -> int:
        """Element updates where the kernel or the map type has no batch commands."""
        for key, value in zip(keys, values, strict=True):
            self.update(key, value, flags=flags)
        return len(keys)

    def delete_batch(self, keys: Iterable[K], *, chunk_size: int | None = None) -> int:
        """Delete ``keys``, ``chunk_size`` per system call; returns how many.

        Raises:
            KeyNotFoundError: a key is missing (the keys before it are deleted).
        """
        with self._lock:
            check_chunk_size(chunk_size)
            self._fd_checked()
            key_list = list(keys)
            raw_keys = self.key_codec.encode_many(key_list)
            done = self._batch.write(raw_keys, None, len(key_list), flags=0, chunk=chunk_size)
            if done is not None:
                return done
            for key in key_list:
                del self[key]
            return len(key_list)

    def dump(self, *, limit: int | None = None) -> str:
        """A readable listing, one ``key: value`` per line, sorted when the keys sort.

        ``limit`` caps the number of lines (a last line tells how many were left out).
        """
        pairs = list(self.iter_items())
        # Keys without an order (ctypes structures...) stay in map order.
        with contextlib.suppress(TypeError):
            pairs.sort(key=_first)
        shown = pairs if limit is None else pairs[:limit]
        header = (
            f"{type(self).__name__} {self.name or '(unnamed)'}: {len(pairs)} of {self.max_entries} entries"
        )
        lines = [header] + [f"  {k!r}: {v!r}" for k, v in shown]
        if len(shown) < len(pairs):
            lines.append(f"  ... {len(pairs) - len(shown)} more")
        return "\n".join(lines)

    def _write_contents(self, contents: tuple[tuple[Any, Any], ...]) -> None:
        self.update_batch(contents)


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


class _ItemsView(Iterable[tuple[K, V]]):
    """``m.items()``: iterates pairs a chunk at a time; ``len`` and ``in`` ask the map."""

    def __init__(self, mapping: KeyValueMap[K, V]) -> None:
        self._mapping = mapping

    def __iter__(self) -> Iterator[tuple[K, V]]:
        return self._mapping.iter_items()

    def __len__(self) -> int:
        return len(self._mapping)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        value = self._mapping.get(item[0], _MISSING)
        return value is not _MISSING and bool(value == item[1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class _ValuesView(Iterable[V]):
    """``m.values()``: iterates values a chunk at a time."""

    def __init__(self, mapping: KeyValueMap[Any, V]) -> None:
        self._mapping = mapping

    def __iter__(self) -> Iterator[V]:
        for _, value in self._mapping.iter_items():
            yield value

    def __len__(self) -> int:
        return len(self._mapping)

    def __contains__(self, item: object) -> bool:
        return any(value == item for value in self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"
