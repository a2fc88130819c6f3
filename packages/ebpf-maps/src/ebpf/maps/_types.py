"""Map types whose semantics differ from a dict: queues, stacks, bloom filters, LPM tries, stack traces.

Queues, stacks and bloom filters have values but no keys: element commands
pass ``key = NULL`` (``BPF_MAP_UPDATE_ELEM`` pushes, ``LOOKUP`` peeks or,
for a bloom filter, tests membership, ``LOOKUP_AND_DELETE`` pops).
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from ebpf.syscall import bpf_errno
from ebpf.syscall.abi import Cmd, MapElemAttr, MapType
from ebpf.syscall.flags import MapFlags

from ._ipcodecs import LpmKeyCodec
from ._keyvalue import KeyValueMap
from ._map import Map

__all__ = ["BloomFilterMap", "LpmTrieMap", "QueueMap", "StackMap", "StackTraceMap"]

V = TypeVar("V")

_LOOKUP = int(Cmd.MAP_LOOKUP_ELEM)
_UPDATE = int(Cmd.MAP_UPDATE_ELEM)
_LOOKUP_AND_DELETE = int(Cmd.MAP_LOOKUP_AND_DELETE_ELEM)


class _ValueOnlyMap(Map, Generic[V]):
    """Element commands with ``key = NULL`` on one reused value buffer."""

    def _setup(self) -> None:
        super()._setup()
        self._vbuf = ctypes.create_string_buffer(max(self.value_codec.size, 1))
        self._attr = MapElemAttr(map_fd=self._fd.fileno(), key=0)
        self._attr.value = ctypes.addressof(self._vbuf)

    def _call(self, cmd: int, flags: int) -> int:
        if flags:
            attr = MapElemAttr(map_fd=self._attr.map_fd, key=0, flags=int(flags))
            attr.value = self._attr.value
            return bpf_errno(cmd, attr)
        return bpf_errno(cmd, self._attr)

    def push(self, value: V, *, flags: int = 0) -> None:
        """Add ``value``.

        For queues and stacks, ``flags=UpdateFlags.EXIST`` makes room in a
        full map by dropping the oldest value; without it a full map raises.

        Raises:
            BpfSyscallError: ``E2BIG`` when full, ``EPERM`` when frozen.
            TypeError, ValueError: a value the codec refuses.
        """
        with self._lock:
            if self._closed:
                raise self._closed_error()
            self.value_codec.encode_into(self._vbuf, 0, value)
            ret = self._call(_UPDATE, flags)
            if ret < 0:
                raise self._error(-ret, "BPF_MAP_UPDATE_ELEM", "pushing onto")

    def _write_contents(self, contents: tuple[tuple[Any, Any], ...]) -> None:
        for key, value in contents:
            if key is not None:
                raise ValueError(f"{type(self).__name__} contents are (None, value) pairs; got key {key!r}")
            self.push(value)


class _PushPopMap(_ValueOnlyMap[V]):
    def _take(self, cmd: int, doing: str) -> V | None:
        with self._lock:
            if self._closed:
                raise self._closed_error()
            ret = bpf_errno(cmd, self._attr)
            if ret < 0:
                if ret == -errno.ENOENT:  # empty
                    return None
                raise self._error(
                    -ret,
                    "BPF_MAP_LOOKUP_AND_DELETE_ELEM" if cmd == _LOOKUP_AND_DELETE else "BPF_MAP_LOOKUP_ELEM",
                    doing,
                )
            value: V = self.value_codec.decode_from(self._vbuf, 0)
            return value

    def pop(self) -> V | None:
        """Remove and return the next value, or ``None`` when empty."""
        return self._take(_LOOKUP_AND_DELETE, "popping from")

    def peek(self) -> V | None:
        """The next value without removing it, or ``None`` when empty."""
        return self._take(_LOOKUP, "peeking into")

    def drain(self) -> Iterator[V]:
        """Pop values until the map is empty."""
        while (value := self.pop()) is not None:
            yield value


class QueueMap(_PushPopMap[V], map_types=(MapType.QUEUE,)):
    """A FIFO queue: `pop()` returns the oldest value pushed."""


class StackMap(_PushPopMap[V], map_types=(MapType.STACK,)):
    """A LIFO stack: `pop()` returns the newest value pushed."""


class BloomFilterMap(_ValueOnlyMap[V], map_types=(MapType.BLOOM_FILTER,)):
    """A bloom filter: `push()` adds, ``in`` answers "maybe present" (True) or "certainly absent" (False).

    ``MapSpec.map_extra`` sets the number of hash functions (1..15, default 5).
    Values cannot be removed or listed.
    """

    def __contains__(self, value: object) -> bool:
        with self._lock:
            if self._closed:
                raise self._closed_error()
            self.value_codec.encode_into(self._vbuf, 0, value)
            # Lookup with the value as input: 0 when every hash bit is set, ENOENT otherwise.
            ret = bpf_errno(_LOOKUP, self._attr)
            if ret < 0:
                if ret == -errno.ENOENT:
                    return False
                raise self._error(-ret, "BPF_MAP_LOOKUP_ELEM", "testing membership in")
            return True


class LpmTrieMap(KeyValueMap[Any, V], map_types=(MapType.LPM_TRIE,)):
    """A longest-prefix-match trie: keys are prefixes, [`longest_match()`][ebpf.maps.LpmTrieMap.longest_match]
    finds an address's value.

    Keys: ``IPv4Network``/``IPv6Network`` (or ``"10.0.0.0/8"``) for tries
    over IP addresses, ``(prefixlen, data)`` for any trie. Lookups with
    ``m[key]`` are exact (that prefix, that length).
    """

    def longest_match(self, address: Any, default: Any = None) -> V | Any:
        """The value of the longest prefix containing ``address``, or ``default`` if none does.

        ``address``: an ``IPv4Address``/``IPv6Address`` or string for IP
        tries, the data ``bytes`` for others.

        Raises:
            TypeError, ValueError: an address of the wrong family or size.
        """
        codec = self.key_codec
        if isinstance(codec, LpmKeyCodec):
            if isinstance(address, bytes | bytearray):
                address = (codec.max_prefixlen, bytes(address))
            elif codec.ip and isinstance(address, str):
                address = ipaddress.ip_address(address)
        return self.get(address, default)


class StackTraceMap(KeyValueMap[int, Any], map_types=(MapType.STACK_TRACE,)):
    """Stacks recorded by ``bpf_get_stackid``: stack id -> instruction pointers.

    Values decode to a tuple of ``value_size / 8`` addresses, zero-padded;
    [`stack()`][ebpf.maps.StackTraceMap.stack] trims the padding. User space can read and delete stacks,
    not write them.
    """

    def stack(self, stack_id: int) -> list[int]:
        """The instruction pointers of ``stack_id``, innermost first.

        Raises:
            KeyNotFoundError: no such stack id.
            TypeError: the map records build ids (``MapFlags.STACK_BUILD_ID``), not addresses.
        """
        if self.flags & MapFlags.STACK_BUILD_ID:
            raise TypeError(
                f"stack trace map {self.name!r} records build ids; read raw values with m[stack_id]"
            )
        frames = self[stack_id]
        ips = list(frames)
        while ips and ips[-1] == 0:
            ips.pop()
        return ips
