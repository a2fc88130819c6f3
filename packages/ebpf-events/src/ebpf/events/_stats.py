"""Counters of readers and consumers, and their snapshots."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Counters", "Stats"]


@dataclass(frozen=True)
class Stats:
    """A snapshot of what a reader or consumer has seen.

    Attributes:
        events: records handed out (decoded or raw).
        bytes: bytes of records consumed, headers included.
        batches: reads that returned at least one record.
        lost: records the kernel could not store (perf buffers: from its
            lost records; ring buffers: from the ``lost_counter`` given).
        discarded: ring buffer records the program discarded (skipped).
        errors: records that failed to decode, and handler exceptions (consumers).
        elapsed: seconds since the reader or consumer started.
        events_per_second: the rate over the last second or so (consumers),
            or over ``elapsed`` (readers).
    """

    events: int = 0
    bytes: int = 0
    batches: int = 0
    lost: int = 0
    discarded: int = 0
    errors: int = 0
    elapsed: float = 0.0
    events_per_second: float = 0.0


class Counters:
    """The mutable counters behind [`Stats`][ebpf.events.Stats]; written by one thread, read by any."""

    __slots__ = ("batches", "bytes", "discarded", "errors", "events", "lost", "started")

    def __init__(self) -> None:
        self.events = 0
        self.bytes = 0
        self.batches = 0
        self.lost = 0
        self.discarded = 0
        self.errors = 0
        self.started = time.monotonic()

    def snapshot(self, lost: int | None = None, rate: float | None = None) -> Stats:
        """The counters now; ``lost``/``rate`` replace the counted ones when given."""
        elapsed = time.monotonic() - self.started
        if rate is None:
            rate = self.events / elapsed if elapsed > 0 else 0.0
        return Stats(
            events=self.events,
            bytes=self.bytes,
            batches=self.batches,
            lost=self.lost if lost is None else lost,
            discarded=self.discarded,
            errors=self.errors,
            elapsed=elapsed,
            events_per_second=rate,
        )
