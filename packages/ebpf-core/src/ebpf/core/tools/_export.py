"""What a ready tool serves with ``--prometheus HOST:PORT``: its counts and histograms as metrics.

As Cloudflare's ebpf_exporter does, the metrics are read when Prometheus
scrapes, through [`ebpf.core.prometheus`][ebpf.core.prometheus]. Two
sources, one per kind of tool:

* Interval tools (syscount, runqlat, biolatency) count in maps that each
  report reads and clears. A [`CumulativeCounts`][ebpf.core.tools.CumulativeCounts]
  stands between the tool and its map: a report drains the map through it
  (each key read and deleted in one step), and with ``keep`` it adds what was
  drained to totals kept in Python, so a scrape (totals plus the map as it is
  now) never sees a counter go down.
* Event tools (execsnoop, opensnoop...) count their records in Python as
  they are read: a [`RecordCounter`][ebpf.core.tools.RecordCounter] per
  metric, with the labels taken from each record.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ._options import CommonOptions
from ._tracer import EventTracer, Tracer

if TYPE_CHECKING:
    from ebpf.core.prometheus import CounterMetric, HistogramMetric

__all__ = [
    "CumulativeCounts",
    "RecordCounter",
    "Rekeyed",
    "counting",
    "drain",
    "errno_name",
    "event_tracer",
    "serve_metrics",
]

_log = logging.getLogger("ebpf.core")

R = TypeVar("R")
T = TypeVar("T", bound="Tracer[Any]")


def _hashable(key: Any) -> Hashable:
    """A map key as a dict key: a struct key decoded as a dict becomes the tuple of its members."""
    if isinstance(key, Mapping):
        return tuple(key.values())
    return key  # type: ignore[no-any-return]


def _added(total: Any, more: Any) -> Any:
    """``total + more`` member by member: numbers add up, anything else (a comm) takes the newer value."""
    if isinstance(total, Mapping) and isinstance(more, Mapping):
        return {name: _added(total.get(name), value) for name, value in more.items()}
    if isinstance(total, (int, float)) and isinstance(more, (int, float)) and not isinstance(more, bool):
        return total + more
    return more


def _take(counts: Any, key: Any) -> Any:
    """Delete ``key`` and return its value, in one step where the map has it (no count lost in between).

    Returns ``None`` when the key is gone already.
    """
    from ebpf.syscall import BpfSyscallError, KeyNotFoundError

    lookup_and_delete = getattr(counts, "lookup_and_delete", None)
    try:
        if lookup_and_delete is not None:
            try:
                return lookup_and_delete(key)
            except KeyNotFoundError:
                raise
            except BpfSyscallError:  # a kernel before 5.14 for hash maps: read, then delete
                pass
        return counts.pop(key)
    except KeyError:  # KeyNotFoundError is a KeyError too
        return None


def drain(counts: Any) -> list[tuple[Any, Any]]:
    """Every entry of ``counts`` (a hash map, a dict or a `CumulativeCounts`), deleted as it is read.

    Raises:
        BpfSyscallError: reading or deleting failed.
    """
    if isinstance(counts, CumulativeCounts):
        return counts.drain()
    pairs = []
    for key in list(counts.keys()):
        value = _take(counts, key)
        if value is not None:
            pairs.append((key, value))
    return pairs


class CumulativeCounts(Mapping[Hashable, Any]):
    """A counting map that interval reports clear, seen by scrapes as counts that only grow.

    Reading it (``items()``, what a metric does at scrape time) gives the
    totals drained so far plus the map as it is now, keys that were structs
    as tuples of their members. Values add up member by member (a struct's
    numbers), other members keep the newest value. Draining and reading take
    one lock, so a scrape never sees an entry between the map and the totals.

    Without ``keep`` nothing is kept: it only drains (a tool run without
    ``--prometheus`` holds no totals).
    """

    def __init__(self, counts: Any, *, keep: bool = True) -> None:
        self.counts = counts
        self.keep = keep
        self._totals: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def drain(self) -> list[tuple[Any, Any]]:
        """The map's entries, deleted as read (and added to the totals with ``keep``).

        Raises:
            BpfSyscallError: reading or deleting failed.
        """
        with self._lock:
            pairs = drain(self.counts)
            if self.keep:
                for key, value in pairs:
                    hashable = _hashable(key)
                    old = self._totals.get(hashable)
                    self._totals[hashable] = value if old is None else _added(old, value)
            return pairs

    def _snapshot(self) -> dict[Hashable, Any]:
        with self._lock:
            result = dict(self._totals)
            for key, value in self.counts.items():
                hashable = _hashable(key)
                old = result.get(hashable)
                result[hashable] = value if old is None else _added(old, value)
        return result

    def items(self) -> list[tuple[Hashable, Any]]:  # type: ignore[override]
        """Totals plus the map now, read once.

        Raises:
            BpfSyscallError: reading the map failed.
        """
        return list(self._snapshot().items())

    def __getitem__(self, key: Hashable) -> Any:
        return self._snapshot()[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._snapshot()))

    def __len__(self) -> int:
        return len(self._snapshot())


class Rekeyed(Mapping[Hashable, Any]):
    """A view of ``source`` whose entries are keyed by ``rekey(key, value)``, read anew each time.

    Entries given one key add up (as `CumulativeCounts` adds values). Metrics
    use it where a label comes from the value (a process's comm) or where
    keys are to be merged (every disk into one histogram).
    """

    def __init__(self, source: Mapping[Any, Any], rekey: Callable[[Any, Any], Hashable]) -> None:
        self.source = source
        self.rekey = rekey

    def items(self) -> list[tuple[Hashable, Any]]:  # type: ignore[override]
        """The entries of ``source`` as it is now, rekeyed."""
        result: dict[Hashable, Any] = {}
        for key, value in self.source.items():
            new = self.rekey(key, value)
            old = result.get(new)
            result[new] = value if old is None else _added(old, value)
        return list(result.items())

    def __getitem__(self, key: Hashable) -> Any:
        return dict(self.items())[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter([key for key, _ in self.items()])

    def __len__(self) -> int:
        return len(self.items())


class _Counts(Mapping[tuple[str, ...], float]):
    """Counts by label values, added to by one thread and read by the scraping one."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def add(self, labels: tuple[str, ...], amount: float) -> None:
        with self._lock:
            self._counts[labels] = self._counts.get(labels, 0.0) + amount

    def items(self) -> list[tuple[tuple[str, ...], float]]:  # type: ignore[override]
        with self._lock:
            return list(self._counts.items())

    def __getitem__(self, key: tuple[str, ...]) -> float:
        with self._lock:
            return self._counts[key]

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return iter([key for key, _ in self.items()])

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)


def errno_name(ret: int) -> str:
    """A system call's result as a label: ``ok`` for 0 or more, the errno's name (``ENOENT``) for -errno."""
    if ret >= 0:
        return "ok"
    return errno.errorcode.get(-ret, str(-ret))


def _one(record: Any) -> float:
    del record
    return 1.0


@dataclass(frozen=True)
class RecordCounter:
    """A Prometheus counter of a tool's records, counted in Python as they are read.

    Attributes:
        name: the metric's name (without ``_total``, which the exposition adds).
        help: what it counts.
        labels: the label names.
        of: a record's label values, in the order of ``labels``.
        amount: what a record adds (default 1: the counter counts records).
    """

    name: str
    help: str
    labels: tuple[str, ...]
    of: Callable[[Any], Sequence[Any]]
    amount: Callable[[Any], float] = _one
    counts: _Counts = field(default_factory=_Counts, repr=False, compare=False)

    def observe(self, record: Any) -> None:
        """Count ``record`` under its label values."""
        self.counts.add(tuple(str(value) for value in self.of(record)), float(self.amount(record)))

    def metric(self) -> CounterMetric:
        """The counter as `ebpf.core.prometheus` serves it (read at scrape time)."""
        from ebpf.core.prometheus import CounterMetric

        return CounterMetric(self.name, self.counts, self.help, labels=self.labels)


def counting(
    convert: Callable[[Any], R | None], counters: Sequence[RecordCounter]
) -> Callable[[Any], R | None]:
    """``convert`` (a raw event to a record, ``None`` to drop it) that also counts each record kept."""
    if not counters:
        return convert

    def convert_and_count(raw: Any) -> R | None:
        record = convert(raw)
        if record is not None:
            for counter in counters:
                counter.observe(record)
        return record

    return convert_and_count


def serve_metrics(
    stack: ExitStack,
    options: CommonOptions,
    tracer: T,
    metrics: Callable[[], Sequence[CounterMetric | HistogramMetric | RecordCounter]],
) -> T:
    """``tracer``, serving ``metrics()`` at ``options.prometheus`` (when set) until it is closed.

    The server is closed with the tracer (it is put on ``stack``);
    ``tracer.metrics_server`` is it, or ``None`` without ``--prometheus``.

    Raises:
        ImportError: prometheus-client is not installed.
        OSError: the address cannot be listened on.
    """
    if options.prometheus is None:
        return tracer
    from ebpf.core.prometheus import parse_address, serve

    host, port = parse_address(options.prometheus)
    served = [item.metric() if isinstance(item, RecordCounter) else item for item in metrics()]
    server = stack.enter_context(serve(served, host, port))
    _log.info("serving Prometheus metrics at %s", server.url)
    tracer.metrics_server = server
    return tracer


def event_tracer(
    stack: ExitStack,
    options: CommonOptions,
    collection: Any,
    layout: Any,
    convert: Callable[[Any], R | None],
    counters: Callable[[], list[RecordCounter]],
) -> EventTracer[R]:
    """An event tool's tracer: its ``events`` ring buffer read as ``layout``, records made by
    ``convert``, counted by ``counters()`` and served with ``--prometheus`` (counted only then).

    Raises:
        ImportError: ``--prometheus`` without prometheus-client.
        OSError: the metrics address cannot be listened on.
    """
    counted = counters() if options.prometheus is not None else []
    tracer = EventTracer(
        stack, options.duration, collection.maps["events"], layout, counting(convert, counted)
    )
    return serve_metrics(stack, options, tracer, lambda: counted)
