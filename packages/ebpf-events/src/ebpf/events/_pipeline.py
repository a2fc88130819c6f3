"""The parser -> filter -> transform -> handler pipeline that consumers run, with its error accounting."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from ._decoders import DecoderSpec, as_decoder
from ._errors import EventDecodeError
from ._source import EventSource
from ._stats import Counters, Stats

__all__ = ["Pipeline"]

log = logging.getLogger("ebpf.events")

#: Called with the exception and the event (or the undecodable record's bytes) it happened on.
ErrorHandler = Callable[[BaseException, Any], None]

#: The most records a consumer takes from one reader before it looks at its stop and pause flags
#: again. A reader drains "what is there, and what arrives meanwhile" (as libbpf's
#: ring_buffer__consume does), so a producer at least as fast as the pipeline keeps one drain going
#: for ever: a tracer of system calls is its own producer, every read it makes is an event. The
#: poller looks at the readers' positions before it sleeps, so what a round leaves is read next.
ROUND = 65536


class Pipeline:
    """One consumer's pipeline and counters (used by one thread or one task).

    ``parser`` is either a decoder spec (records are decoded with it instead
    of the reader's decoder) or a function applied to what the reader gives.
    ``filter`` drops events for which it returns false; ``transform``
    replaces each event (returning ``None`` drops it); ``handler`` receives
    each event, or each batch (a list) in batch mode.
    """

    def __init__(
        self,
        handler: Callable[[Any], Any],
        *,
        parser: DecoderSpec | Callable[[Any], Any] | None = None,
        filter: Callable[[Any], Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        on_error: ErrorHandler | None = None,
    ) -> None:
        """Raises TypeError when a stage is not callable or ``parser`` is neither a spec nor callable."""
        for name, stage in (("handler", handler), ("filter", filter), ("transform", transform)):
            if stage is not None and not callable(stage):
                raise TypeError(f"{name} must be callable, not {type(stage).__name__}")
        self.decoder = None
        self.parse: Callable[[Any], Any] | None = None
        if parser is not None:
            if callable(parser) and not isinstance(parser, type) and not hasattr(parser, "size"):
                self.parse = parser
            else:
                self.decoder = as_decoder(cast(DecoderSpec, parser))
        self.handler = handler
        self.filter = filter
        self.transform = transform
        self.on_error = on_error
        self.counters = Counters()
        self._window = (time.monotonic(), 0)
        self.rate = 0.0

    def error(self, exc: BaseException, event: Any) -> None:
        """Count an error and report it: to ``on_error``, else to the log (the 1st, 10th, 100th...)."""
        self.counters.errors += 1
        if self.on_error is not None:
            try:
                self.on_error(exc, event)
            except Exception:
                log.exception("the on_error callback of an event consumer raised")
            return
        errors = self.counters.errors
        if errors & (errors - 1) == 0 or errors % 1000 == 0:
            log.error(
                "event consumer: error %d (events so far: %d)", errors, self.counters.events, exc_info=exc
            )

    def event(self, event: Any) -> None:
        """Run one event through parse, filter, transform and handler; errors are counted, not raised."""
        try:
            if self.parse is not None:
                event = self.parse(event)
            if self.filter is not None and not self.filter(event):
                return
            if self.transform is not None:
                event = self.transform(event)
                if event is None:
                    return
            self.counters.events += 1
            self.handler(event)
        except Exception as exc:
            self.error(exc, event)

    def prepare_batch(self, events: list[Any]) -> list[Any]:
        """Parse, filter and transform a batch for the handler (failing events are counted and dropped)."""
        if self.parse is None and self.filter is None and self.transform is None:
            return events
        out = []
        for record in events:
            event = record
            try:
                if self.parse is not None:
                    event = self.parse(event)
                if self.filter is not None and not self.filter(event):
                    continue
                if self.transform is not None:
                    event = self.transform(event)
                    if event is None:
                        continue
            except Exception as exc:
                self.error(exc, event)
                continue
            out.append(event)
        return out

    def read_events(self, source: EventSource) -> None:
        """Run the records available in ``source``, at most ``ROUND`` of them, through the pipeline.

        An undecodable record is counted and reported, and ends the round:
        the reader has moved past it, and the next round goes on after it.
        """
        try:
            for record in source.drain(ROUND, decoder=self.decoder):
                self.event(record)
        except EventDecodeError as exc:
            self.error(exc, exc.record)

    def read_batch(self, source: EventSource) -> list[Any]:
        """The records available in ``source`` (at most ``ROUND``), decoded in batches and prepared
        (not handled yet); an undecodable record is reported and ends the round, as in ``read_events``."""
        try:
            events = source.read_batch(ROUND, decoder=self.decoder)
        except EventDecodeError as exc:
            self.error(exc, exc.record)
            return []
        return self.prepare_batch(events) if events else events

    def handle_batch(self, batch: list[Any]) -> None:
        """Give a prepared batch to the handler; an exception is counted and reported."""
        if not batch:
            return
        self.counters.events += len(batch)
        self.counters.batches += 1
        try:
            self.handler(batch)
        except Exception as exc:
            self.error(exc, batch)

    def tick(self) -> None:
        """Update the events/s rate once a second has passed."""
        now = time.monotonic()
        since, events = self._window
        if now - since >= 1.0:
            self.rate = (self.counters.events - events) / (now - since)
            self._window = (now, self.counters.events)

    def stats(self, sources: list[EventSource]) -> Stats:
        """The consumer's counters, with bytes, lost and discarded from its readers."""
        own = self.counters.snapshot(
            rate=self.rate if self.counters.started + 1.0 < time.monotonic() else None
        )
        readers = [s.stats() for s in sources if not s.closed]
        return Stats(
            events=own.events,
            bytes=sum(r.bytes for r in readers),
            batches=own.batches or sum(r.batches for r in readers),
            lost=sum(r.lost for r in readers),
            discarded=sum(r.discarded for r in readers),
            errors=own.errors,
            elapsed=own.elapsed,
            events_per_second=own.events_per_second,
        )
