"""``PerfBuffer``: reading a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` through one perf ring per CPU.

``bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, size)`` writes
into the ``PERF_COUNT_SW_BPF_OUTPUT`` event stored at the current CPU's
index of the map. The reader opens one such event per CPU, stores it in the
map, and maps its ring: one metadata page (``struct perf_event_mmap_page``)
then ``2^n`` data pages.

In the metadata page (``include/uapi/linux/perf_event.h``) ``data_head``
(offset 1024) is where the kernel will write next and ``data_tail`` (1032)
what user space has consumed; since Linux 4.1 ``data_offset`` (1040) and
``data_size`` (1048) say where the data area is. Positions grow forever;
``position & (data_size - 1)`` is the offset. The kernel publishes
``data_head`` after writing the records before it (``smp_store_release``
in ``perf_output_put_handle``), so reading ``data_head`` first (an acquire,
see `_memory`) makes every record before it readable; storing
``data_tail`` after reading them (a release) hands their space back.

Records (8-byte aligned, ``struct perf_event_header``: u32 type, u16 misc,
u16 size including the header) are ``PERF_RECORD_SAMPLE`` (9), here with
``PERF_SAMPLE_RAW`` only: u32 raw size then the program's data padded so
that the record is a multiple of 8 bytes; and ``PERF_RECORD_LOST`` (2): u64
id, u64 count of samples dropped because the ring was full. The data area
is mapped once, so a record that wraps around its end is copied out.

Wake-ups: the kernel wakes a poller every ``wakeup_events`` samples or once
``wakeup_watermark`` bytes are pending. Waking on every sample costs a
wake-up per event and caps the stream far below what a reader drains, so
the default is a watermark of a quarter of each ring, and the reader looks
at the rings every ``flush_interval`` seconds anyway, so that a trickle of
events below the watermark is never held back for long.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import struct
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from ebpf.syscall import commands, perf
from ebpf.syscall.abi import MapType
from ebpf.syscall.fd import HasFileno
from ebpf.syscall.system import online_cpus

from ._decoders import DecoderSpec, EventDecoder, numpy_module
from ._errors import EventDecodeError
from ._memory import PAGE_SIZE, Fence, map_shared, needs_fence
from ._ringbuf import open_map_fd
from ._runs import equal_run
from ._source import EventSource, Records

__all__ = ["PERF_RECORD_LOST", "PERF_RECORD_SAMPLE", "PerfBuffer"]

#: ``PERF_RECORD_LOST``: the kernel dropped samples (u64 id, u64 lost).
PERF_RECORD_LOST = 2
#: ``PERF_RECORD_SAMPLE``: one ``bpf_perf_event_output`` (u32 size, raw data).
PERF_RECORD_SAMPLE = 9

# Indexes of the u64 fields of struct perf_event_mmap_page (byte offset / 8).
_DATA_HEAD, _DATA_TAIL, _DATA_OFFSET, _DATA_SIZE = 1024 // 8, 1032 // 8, 1040 // 8, 1048 // 8
_SAMPLE_HEADER = 12  # perf_event_header + u32 raw size
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")


class _Ring(NamedTuple):
    cpu: int
    meta: memoryview  # the metadata page as u64s
    data: memoryview  # the data area as bytes
    words: memoryview  # the data area as u32s
    quads: memoryview  # the data area as u64s
    mask: int


class PerfBuffer(EventSource):
    """Reads what programs send with ``bpf_perf_event_output`` into a perf event array.

    Args:
        perf_map: the ``PERF_EVENT_ARRAY`` map (an ``ebpf.maps.Map``, an
            ``FD`` or a descriptor number); the reader keeps a duplicate and
            fills the map's entry of each CPU with its own events (entries
            are removed again on close).
        decoder: as for [`RingBuffer`][ebpf.events.RingBuffer]. Samples carry
            padding: a decoder reads the first ``size`` bytes of each.
        pages: data pages per CPU, a power of two.
        wakeup_events: wake the reader every this many samples per CPU
            (``1``: lowest latency, slowest); default: by watermark.
        wakeup_bytes: wake the reader once this many bytes are pending in
            a CPU's ring; default (with no ``wakeup_events``) a quarter of it.
        flush_interval: look at the rings at least this often (seconds)
            while waiting, so that events below the wake-up threshold are
            not held back; ``None`` waits for wake-ups only.
        on_lost: called with ``(cpu, count)`` for every lost-records note
            (the kernel writes one before the next sample that fits, so a
            loss is reported once the ring has room again).
        cpus: the CPUs to read (default: every online CPU below the
            map's ``max_entries``).
        with_cpu: per-record reads give ``(cpu, event)`` pairs.

    Raises:
        TypeError: not a perf event array.
        ValueError: ``pages`` not a power of two, both wake-up policies
            given, a CPU outside the map.
        PermissionDeniedError: opening perf events needs ``CAP_PERFMON``.
        BpfSyscallError, OSError: the kernel refused an event or a mapping.
    """

    def __init__(
        self,
        perf_map: int | HasFileno,
        decoder: DecoderSpec | None = None,
        *,
        pages: int = 64,
        wakeup_events: int | None = None,
        wakeup_bytes: int | None = None,
        flush_interval: float | None = 0.1,
        on_lost: Callable[[int, int], None] | None = None,
        cpus: list[int] | None = None,
        with_cpu: bool = False,
    ) -> None:
        if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1 or pages & (pages - 1):
            raise ValueError(f"pages must be a power of two >= 1, not {pages!r}")
        if wakeup_events is not None and wakeup_bytes is not None:
            raise ValueError("give wakeup_events or wakeup_bytes, not both")
        super().__init__(decoder, flush_interval)
        self._on_lost = on_lost
        self._with_cpu = with_cpu
        self._fence = Fence() if needs_fence() else None
        self._rings: list[_Ring] = []
        self._pending: list[tuple[_Ring, int]] = []
        self._scratch = bytearray(pages * PAGE_SIZE)
        res = self._res
        try:
            map_fd, max_entries = open_map_fd(perf_map, (MapType.PERF_EVENT_ARRAY,), "PerfBuffer")
            res.fds.append(map_fd)
            chosen = [c for c in online_cpus() if c < max_entries] if cpus is None else list(cpus)
            for cpu in chosen:
                if not 0 <= cpu < max_entries:
                    raise ValueError(f"CPU {cpu} is outside the map's {max_entries} entries")
            if wakeup_events is None and wakeup_bytes is None:
                wakeup_bytes = pages * PAGE_SIZE // 4
            for cpu in chosen:
                self._open_ring(map_fd.fileno(), cpu, pages, wakeup_events, wakeup_bytes)
        except BaseException:
            self._finalizer()
            raise
        self.cpus = tuple(ring.cpu for ring in self._rings)

    def _open_ring(
        self, map_fd: int, cpu: int, pages: int, wakeup_events: int | None, wakeup_bytes: int | None
    ) -> None:
        res = self._res
        if wakeup_bytes is not None:
            event = perf.open_bpf_output(cpu, wakeup_watermark=wakeup_bytes)
        else:
            event = perf.open_bpf_output(cpu, wakeup_events if wakeup_events is not None else 1)
        res.fds.append(event)
        # Writable: user space must write data_tail, or the kernel would overwrite unread records.
        mapping = map_shared(event.fileno(), (pages + 1) * PAGE_SIZE, 0, writable=True)
        res.mmaps.append(mapping)
        whole = memoryview(mapping)
        res.views.append(whole)
        meta = whole[:PAGE_SIZE].cast("Q")
        res.views.append(meta)
        offset, size = meta[_DATA_OFFSET], meta[_DATA_SIZE]
        if size == 0:  # before Linux 4.1: the data follows the metadata page
            offset, size = PAGE_SIZE, pages * PAGE_SIZE
        data = whole[offset : offset + size]
        words, quads = data.cast("I"), data.cast("Q")
        res.views.extend((data, words, quads))
        key = cpu.to_bytes(4, sys.byteorder)
        commands.map_update_elem(map_fd, key, event.fileno().to_bytes(4, sys.byteorder))
        # Leave no dangling event in the map (the map would keep it alive).
        res.cleanups.append(lambda: self._forget(map_fd, key))
        res.epoll.register(event.fileno(), select.EPOLLIN)
        self._rings.append(_Ring(cpu, meta, data, words, quads, size - 1))

    @staticmethod
    def _forget(map_fd: int, key: bytes) -> None:
        with contextlib.suppress(OSError):  # already gone (someone cleared the map)
            commands.map_delete_elem(map_fd, key)

    def _available(self) -> bool:
        if self._closed:
            return False
        return any(ring.meta[_DATA_HEAD] != ring.meta[_DATA_TAIL] for ring in self._rings)

    def _free_pending(self) -> None:
        for ring, tail in self._pending:
            self._publish(ring, tail)
        self._pending.clear()

    def _publish(self, ring: _Ring, tail: int) -> None:
        # A release store: the records before ``tail`` were read before the
        # kernel may overwrite them (see _memory).
        if self._fence is not None:
            self._fence.full()
        ring.meta[_DATA_TAIL] = tail

    def _lost_note(self, ring: _Ring, data: memoryview | bytearray, base: int) -> None:
        lost = _U64.unpack_from(data, base + 16)[0]
        self._counters.lost += lost
        if self._on_lost is not None:
            self._on_lost(ring.cpu, lost)

    def _decode_error(self, decoder: EventDecoder | None, record: bytes, cause: str) -> EventDecodeError:
        self._counters.errors += 1
        described = decoder.describe() if decoder is not None else "raw"
        return EventDecodeError(
            f"perf buffer sample of {len(record)} bytes: {cause} ({described})", record, described
        )

    def _records(self, decoder: EventDecoder | None, limit: int | None, keep_views: bool) -> Records:
        counters = self._counters
        decode_from = decoder.decode_from if decoder is not None else None
        decode_run = decoder.decode_run if decoder is not None else None
        needed = decoder.size if decoder is not None else 0
        with_cpu, fence = self._with_cpu, self._fence
        count = 0
        for ring in self._rings:
            meta, data, words = ring.meta, ring.data, ring.words
            head = meta[_DATA_HEAD]  # acquire: the records before head are complete
            tail = start = meta[_DATA_TAIL]
            if head == tail:
                continue
            if fence is not None:
                fence.full()
            before = count
            try:
                while tail < head:
                    offset = tail & ring.mask
                    kind = words[offset >> 2]
                    size = words[(offset >> 2) + 1] >> 16
                    buf, base = self._locate(ring, offset, size)
                    tail += size
                    if kind == PERF_RECORD_LOST:
                        self._lost_note(ring, buf, base)
                        continue
                    if kind != PERF_RECORD_SAMPLE:
                        continue  # no other record type is enabled on these events
                    length = _U32.unpack_from(buf, base + 8)[0]
                    base += _SAMPLE_HEADER
                    if decode_from is None:
                        record: Any = buf[base : base + length]
                        if buf is not data:
                            record = memoryview(bytes(record))  # the scratch copy is reused
                    elif length < needed:
                        raise self._short(decoder, buf, base, length)
                    elif (
                        decode_run is not None
                        and buf is data
                        and (run := self._run(ring, offset, size, head - tail, limit, count)) > 1
                    ):
                        # Equal samples one after the other: decoded by one C
                        # iterator this generator delegates to (see RingBuffer).
                        tail -= size  # moved on below as the run's records are taken
                        decoded = decode_run(data, offset, run, size, _SAMPLE_HEADER)
                        records = decoded.records
                        if with_cpu:
                            records = zip(itertools.repeat(ring.cpu), records)
                        try:
                            yield from records
                        except Exception as exc:
                            done = run - decoded.remaining()  # the sample that failed included
                            tail += done * size
                            count += done - 1
                            counters.bytes += (done - 1) * size
                            failed = offset + (done - 1) * size + _SAMPLE_HEADER
                            length = _U32.unpack_from(data, failed - 4)[0]
                            raise self._failed(decoder, data, failed, length, exc) from exc
                        except BaseException:
                            # Closed (GeneratorExit) or interrupted in the middle
                            # of the run: the samples handed out are consumed.
                            done = run - decoded.remaining()
                            tail += done * size
                            count += done
                            counters.bytes += done * size
                            raise
                        tail += run * size
                        count += run
                        counters.bytes += run * size
                        if count == limit:
                            return
                        continue
                    else:
                        try:
                            record = decode_from(buf, base)
                        except Exception as exc:
                            raise self._failed(decoder, buf, base, length, exc) from exc
                    counters.bytes += size
                    count += 1
                    yield (ring.cpu, record) if with_cpu else record
                    if count == limit:
                        return
            finally:
                if tail != start:
                    if keep_views:
                        self._pending.append((ring, tail))
                    elif not self._closed:
                        self._publish(ring, tail)
                counters.events += count - before
                if count > before:
                    counters.batches += 1

    @staticmethod
    def _run(ring: _Ring, offset: int, size: int, after: int, limit: int | None, count: int) -> int:
        """How many samples like the one at ``offset`` follow one another, up to the end of the ring.

        ``after`` is how many bytes were written after it. Equal headers
        (type, misc and size in one u64) make a run.
        """
        most = min(after // size + 1, (len(ring.data) - offset) // size)
        if limit is not None:
            most = min(most, limit - count)
        return equal_run(ring.quads, offset >> 3, size >> 3, ring.quads[offset >> 3], most)

    def _locate(self, ring: _Ring, offset: int, size: int) -> tuple[memoryview | bytearray, int]:
        """Where the record at ``offset`` can be read in one piece: in place, or copied when it wraps."""
        data = ring.data
        if offset + size <= len(data):
            return data, offset
        first = len(data) - offset
        scratch = self._scratch
        scratch[:first] = data[offset:]
        scratch[first:size] = data[: size - first]
        return scratch, 0

    def _short(
        self, decoder: EventDecoder | None, buf: memoryview | bytearray, base: int, length: int
    ) -> EventDecodeError:
        needed = decoder.size if decoder is not None else 0
        return self._decode_error(
            decoder, bytes(buf[base : base + length]), f"shorter than the decoder's {needed}"
        )

    def _failed(
        self,
        decoder: EventDecoder | None,
        buf: memoryview | bytearray,
        base: int,
        length: int,
        exc: Exception,
    ) -> EventDecodeError:
        return self._decode_error(decoder, bytes(buf[base : base + length]), f"decoding failed: {exc!r}")

    def _batch(self, decoder: EventDecoder, limit: int | None, array: bool) -> Any:
        counters = self._counters
        needed, fence = decoder.size, self._fence
        parts: list[Any] = []  # lists of events, or arrays
        count = 0
        for ring in self._rings:
            if count == limit:
                break
            meta, data, words = ring.meta, ring.data, ring.words
            head = meta[_DATA_HEAD]
            tail = start = meta[_DATA_TAIL]
            if head == tail:
                continue
            if fence is not None:
                fence.full()
            try:
                while tail < head and count != limit:
                    offset = tail & ring.mask
                    kind = words[offset >> 2]
                    size = words[(offset >> 2) + 1] >> 16
                    run = 1
                    if kind == PERF_RECORD_SAMPLE and offset + size <= len(data):
                        run = self._run(ring, offset, size, head - tail - size, limit, count)
                    buf, base = self._locate(ring, offset, size)
                    tail += run * size
                    if kind == PERF_RECORD_LOST:
                        self._lost_note(ring, buf, base)
                        continue
                    if kind != PERF_RECORD_SAMPLE:
                        continue
                    if size - _SAMPLE_HEADER < needed:
                        length = _U32.unpack_from(buf, base + 8)[0]
                        raise self._short(decoder, buf, base + _SAMPLE_HEADER, length)
                    if array:
                        parts.append(decoder.decode_array(buf, base, run, size, _SAMPLE_HEADER))
                    else:
                        parts.append(decoder.decode_batch(buf, base, run, size, _SAMPLE_HEADER))
                    count += run
                    counters.events += run
                    counters.bytes += run * size
            finally:
                if tail != start:
                    counters.batches += 1
                    self._publish(ring, tail)
        if not array:
            return parts[0] if len(parts) == 1 else list(itertools.chain.from_iterable(parts))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return decoder.decode_array(memoryview(b""), 0, 0, 8, 0)
        return numpy_module().concatenate(parts)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"cpus={list(self.cpus)}"
        return f"PerfBuffer({state}, decoder={self._decoder!r})"
