"""``RingBuffer``: reading a ``BPF_MAP_TYPE_RINGBUF`` map through shared memory.

The kernel's layout (``kernel/bpf/ringbuf.c``, Documentation/bpf/ringbuf.rst)
as user space maps it:

- offset 0, one page, read-write: the consumer position (u64 at offset 0),
  which only user space writes;
- offset ``PAGE_SIZE``, read-only: one page holding the producer position
  (u64 at offset 0), then the data area of ``max_entries`` bytes (a power
  of two number of pages) mapped *twice* back to back, so that a record
  that wraps around the end of the area is still contiguous in memory.

Positions grow forever (no wrapping); ``position & (size - 1)`` is the
offset in the data area. Each record starts with an 8-byte header: a u32
length whose bit 31 (``BUSY``) says the producer has reserved but not yet
committed it and bit 30 (``DISCARD``) says the program discarded it, then a
u32 page offset (for the kernel). Records are 8-byte aligned: the next
header is at ``round_up(position + 8 + length, 8)``.

The producer reserves a record (writes its header with ``BUSY``), then
publishes the new producer position with a store-release; it commits by
clearing ``BUSY`` with an atomic exchange. A reserved record may therefore
be followed by committed ones: the consumer stops at the first busy record
and comes back for it. The kernel wakes the epoll waiter when it commits
the record the consumer position points at, so a reader that has consumed
everything and published its position never misses a wake-up. See
`_memory` for how the loads and stores below are ordered.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Generator
from typing import Any

from ebpf.syscall.abi import MapType
from ebpf.syscall.fd import FD, HasFileno, fileno_of
from ebpf.syscall.objects import get_map_info

from ._decoders import DecoderSpec, EventDecoder, numpy_module
from ._errors import EventDecodeError
from ._memory import PAGE_SIZE, Fence, map_shared, needs_fence
from ._runs import equal_run
from ._source import EventSource, Records

__all__ = ["RINGBUF_BUSY_BIT", "RINGBUF_DISCARD_BIT", "RINGBUF_HEADER_SIZE", "RingBuffer"]

#: ``BPF_RINGBUF_BUSY_BIT``: the record is reserved, not committed yet.
RINGBUF_BUSY_BIT = 1 << 31
#: ``BPF_RINGBUF_DISCARD_BIT``: the program discarded the record.
RINGBUF_DISCARD_BIT = 1 << 30
#: ``BPF_RINGBUF_HDR_SZ``.
RINGBUF_HEADER_SIZE = 8

_FLAGS = RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT
_LENGTH = ~_FLAGS & 0xFFFFFFFF


def open_map_fd(source: int | HasFileno, expected: tuple[MapType, ...], what: str) -> tuple[FD, int]:
    """A duplicate of the map descriptor of ``source`` and the map's ``max_entries``.

    Raises:
        TypeError: ``source`` is not a descriptor, or the map is of another type.
        BpfSyscallError: ``source`` is not a map.
    """
    fd = FD(os.dup(fileno_of(source)))
    try:
        info = get_map_info(fd)
        if info.type not in expected:
            try:
                kind = MapType(info.type).name
            except ValueError:
                kind = str(info.type)
            names = " or ".join(t.name for t in expected)
            raise TypeError(f"{what} reads {names} maps; map {info.name!r} is a {kind} map")
    except BaseException:
        fd.close()
        raise
    return fd, info.max_entries


class RingBuffer(EventSource):
    """Reads the records BPF programs write into a ring buffer map (``bpf_ringbuf_output``/``reserve``).

    Examples:
        >>> with RingBuffer(events_map, decoder=[u32, u64, "char[16]"]) as rb:  # doctest: +SKIP
        ...     for pid, ts, comm in rb:  # blocks; ends on close() or interrupt()
        ...         print(pid, ts, comm)

    Args:
        ringbuf: the ring buffer map (an ``ebpf.maps.Map``, an ``FD`` or a
            descriptor number); the reader keeps its own duplicate.
        decoder: how to decode records (see [`as_decoder()`][ebpf.events.as_decoder]);
            ``None`` hands out ``memoryview`` s of the records in place.
        lost_counter: where [`lost`][ebpf.events.EventSource.lost] comes from: ring buffers do not
            count what they could not store, so programs usually count
            failed ``bpf_ringbuf_output``/``reserve`` calls in a map; give
            a function returning that count (e.g. ``lambda: sum(drops[0])``).
        flush_interval: look at the buffer at least this often (seconds)
            while waiting, even without a wake-up (for programs that pass
            ``BPF_RB_NO_WAKEUP``); ``None`` trusts the kernel's wake-ups.

    Discarded records are skipped and counted (`Stats.discarded`).

    Raises:
        TypeError: not a ring buffer map (``USER_RINGBUF`` maps are written
            with [`UserRingBuffer`][ebpf.events.UserRingBuffer]).
        ValueError: ``flush_interval`` is not positive.
        BpfSyscallError, OSError: the map cannot be inspected or mapped.
    """

    def __init__(
        self,
        ringbuf: int | HasFileno,
        decoder: DecoderSpec | None = None,
        *,
        lost_counter: Callable[[], int] | None = None,
        flush_interval: float | None = None,
    ) -> None:
        super().__init__(decoder, flush_interval)
        res = self._res
        try:
            fd, size = open_map_fd(ringbuf, (MapType.RINGBUF,), "RingBuffer")
            res.fds.append(fd)
            self.size = size
            consumer = map_shared(fd.fileno(), PAGE_SIZE, 0, writable=True)
            res.mmaps.append(consumer)
            producer = map_shared(fd.fileno(), PAGE_SIZE + 2 * size, PAGE_SIZE, writable=False)
            res.mmaps.append(producer)
            self._consumer_pos = memoryview(consumer).cast("Q")
            res.views.append(self._consumer_pos)
            whole = memoryview(producer)
            res.views.append(whole)
            self._producer_pos = whole[:8].cast("Q")
            res.views.append(self._producer_pos)
            self._data = whole[PAGE_SIZE:]
            res.views.append(self._data)
            self._words = self._data.cast("I")
            res.views.append(self._words)
            res.epoll.register(fd.fileno(), select.EPOLLIN)
        except BaseException:
            self._finalizer()
            raise
        self._mask = size - 1
        self._lost_counter = lost_counter
        self._fence = Fence() if needs_fence() else None
        # Consumed up to here, not yet published (the views handed out stay valid until then).
        self._pending: int | None = None
        # Publish progress at least every quarter of the ring while draining.
        self._publish_every = max(size // 4, 8)

    def _lost(self) -> int:
        return self._lost_counter() if self._lost_counter is not None else 0

    def _available(self) -> bool:
        return not self._closed and bool(self._producer_pos[0] > self._consumer_pos[0])

    @property
    def pending_bytes(self) -> int:
        """Bytes between the consumer and producer positions (records, headers, busy ones included)."""
        self._check_open()
        return int(self._producer_pos[0] - self._consumer_pos[0])

    def _free_pending(self) -> None:
        if self._pending is not None:
            self._publish(self._pending)
            self._pending = None

    def _publish(self, position: int) -> None:
        # A release store: every read of the records before ``position`` is
        # done before the kernel sees their space as free (see _memory).
        if self._fence is not None:
            self._fence.full()
        self._consumer_pos[0] = position

    def _decode_error(
        self, decoder: EventDecoder | None, offset: int, length: int, cause: str
    ) -> EventDecodeError:
        record = bytes(self._data[offset : offset + length])
        self._counters.errors += 1
        described = decoder.describe() if decoder is not None else "raw"
        return EventDecodeError(
            f"ring buffer record of {length} bytes: {cause} ({described})", record, described
        )

    def _records(self, decoder: EventDecoder | None, limit: int | None, keep_views: bool) -> Records:
        if decoder is None:
            return self._views(limit, keep_views)
        return self._decoded(decoder, limit)

    def _views(self, limit: int | None, keep_views: bool) -> Generator[memoryview, None, None]:
        # The hot loop of raw reads: locals only, one test of the header's
        # flag bits for both rare cases, bytes counted at the end.
        counters = self._counters
        consumer_pos, producer_pos = self._consumer_pos, self._producer_pos
        words, data, mask, fence = self._words, self._data, self._mask, self._fence
        flags, busy, length_bits = _FLAGS, RINGBUF_BUSY_BIT, _LENGTH
        position = start = published = consumer_pos[0]
        next_publish = position + self._publish_every
        count = 0
        try:
            while True:
                producer = producer_pos[0]  # acquire: headers below are read after it
                if position >= producer:
                    return
                if fence is not None:
                    fence.full()
                while position < producer:
                    offset = (position & mask) + 8
                    header = words[(offset >> 2) - 2]
                    if header & flags:
                        if header & busy:
                            return  # reserved, not committed yet: come back for it later
                        counters.discarded += 1
                        position += ((header & length_bits) + 15) & ~7
                        continue
                    if fence is not None:
                        fence.full()  # acquire: the data below is read after the header
                    # No flag bits: the header is the length.
                    position += (header + 15) & ~7
                    count += 1
                    yield data[offset : offset + header]
                    if count == limit:
                        return
                    if position >= next_publish and not keep_views:
                        self._publish(position)
                        published = position
                        next_publish = position + self._publish_every
        finally:
            self._count_read(count, position - start)
            if position != published:
                if keep_views:
                    self._pending = position
                elif not self._closed:
                    self._publish(position)

    def _decoded(self, decoder: EventDecoder, limit: int | None) -> Records:
        # Records are decoded a run at a time (records of equal length one
        # after the other, the usual case) by one C iterator that this
        # generator delegates to with ``yield from``: no Python code runs
        # per record. Progress is published after each run, and runs are
        # at most a quarter of the ring so that the kernel gets space back
        # while a long backlog is read.
        words, data, mask, fence = self._words, self._data, self._mask, self._fence
        producer_pos, needed = self._producer_pos, decoder.size
        decode_from = decoder.decode_from
        position = start = self._consumer_pos[0]
        count = 0
        try:
            while count != limit:
                producer = producer_pos[0]  # acquire: headers below are read after it
                if position >= producer:
                    return
                if fence is not None:
                    fence.full()
                offset = position & mask
                header = words[offset >> 2]
                if header & _FLAGS:
                    if header & RINGBUF_BUSY_BIT:
                        return  # reserved, not committed yet: come back for it later
                    self._counters.discarded += 1
                    position += ((header & _LENGTH) + 15) & ~7
                    continue
                stride = (header + 15) & ~7
                if header < needed:
                    position += stride
                    short = f"shorter than the decoder's {needed}"
                    raise self._decode_error(decoder, offset + 8, header, short)
                most = min((producer - position) // stride, max(self._publish_every // stride, 1))
                if limit is not None:
                    most = min(most, limit - count)
                run = equal_run(words, offset >> 2, stride >> 2, header, most)
                if fence is not None:
                    fence.full()  # acquire: the data is read after every header of the run
                if run == 1:
                    position += stride
                    try:
                        record = decode_from(data, offset + 8)
                    except Exception as exc:
                        cause = f"decoding failed: {exc!r}"
                        raise self._decode_error(decoder, offset + 8, header, cause) from exc
                    count += 1
                    yield record
                    continue
                decoded = decoder.decode_run(data, offset, run, stride, RINGBUF_HEADER_SIZE)
                try:
                    yield from decoded.records
                except Exception as exc:
                    done = run - decoded.remaining()  # the record that failed included
                    position += done * stride
                    count += done - 1
                    failed = offset + (done - 1) * stride + 8
                    raise self._decode_error(decoder, failed, header, f"decoding failed: {exc!r}") from exc
                except BaseException:
                    # Closed (GeneratorExit) or interrupted in the middle of the
                    # run: the records handed out so far are consumed.
                    done = run - decoded.remaining()
                    position += done * stride
                    count += done
                    raise
                position += run * stride
                count += run
                self._publish(position)
        finally:
            self._count_read(count, position - start)
            if not self._closed and position != self._consumer_pos[0]:
                self._publish(position)

    def _count_read(self, count: int, nbytes: int) -> None:
        counters = self._counters
        counters.events += count
        counters.bytes += nbytes
        if count:
            counters.batches += 1

    def _batch(self, decoder: EventDecoder, limit: int | None, array: bool) -> Any:
        counters = self._counters
        words, data, mask, fence = self._words, self._data, self._mask, self._fence
        needed = decoder.size
        position = start = self._consumer_pos[0]
        producer = self._producer_pos[0]
        if fence is not None:
            fence.full()
        chunks: list[Any] = []
        results: list[Any] = []
        count = 0
        try:
            while position < producer and count != limit:
                offset = position & mask
                header = words[offset >> 2]
                if header & RINGBUF_BUSY_BIT:
                    break
                length = header & _LENGTH
                stride = (length + 15) & ~7
                if header & RINGBUF_DISCARD_BIT:
                    counters.discarded += 1
                    position += stride
                    continue
                if length < needed:
                    position += stride
                    raise self._decode_error(
                        decoder, offset + 8, length, f"shorter than the decoder's {needed}"
                    )
                run = (producer - position) // stride
                if limit is not None:
                    run = min(run, limit - count)
                run = equal_run(words, offset >> 2, stride >> 2, header, run)
                if fence is not None:
                    fence.full()  # acquire: the data is read after every header of the run
                if array:
                    chunks.append(decoder.decode_array(data, offset, run, stride, 8))
                elif results:
                    results.extend(decoder.decode_batch(data, offset, run, stride, 8))
                else:
                    results = decoder.decode_batch(data, offset, run, stride, 8)
                position += run * stride
                count += run
        finally:
            if position != start:
                self._count_read(count, position - start)
                self._publish(position)
        if not array:
            return results
        if len(chunks) == 1:
            return chunks[0]
        if not chunks:
            return decoder.decode_array(data, 0, 0, 8, 8)
        return numpy_module().concatenate(chunks)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"size={self.size}"
        return f"RingBuffer({state}, decoder={self._decoder!r})"
