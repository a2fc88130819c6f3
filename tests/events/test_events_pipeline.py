"""The consumer pipeline without a kernel: stages, error accounting, batches."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ebpf.events._pipeline import Pipeline


def test_stages_run_in_order_and_errors_are_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    got: list[Any] = []

    def handler(event: int) -> None:
        if event == 40:
            raise RuntimeError("boom")
        got.append(event)

    def parse(text: str) -> int:
        return int(text)

    pipeline = Pipeline(handler, parser=parse, filter=lambda e: e % 2 == 0, transform=lambda e: e * 10)
    with caplog.at_level(logging.ERROR, "ebpf.events"):
        for raw in ["1", "2", "3", "x", "4", "6"]:
            pipeline.event(raw)
    assert got == [20, 60]
    assert pipeline.counters.events == 3
    assert pipeline.counters.errors == 2  # the parser on "x", the handler on 40
    assert len(caplog.records) == 2


def test_on_error_receives_the_exception_and_the_event() -> None:
    seen: list[tuple[str, Any]] = []
    pipeline = Pipeline(lambda e: 1 / e, on_error=lambda exc, ev: seen.append((type(exc).__name__, ev)))
    pipeline.event(0)
    pipeline.event(1)
    assert seen == [("ZeroDivisionError", 0)]


def test_a_transform_returning_none_drops_the_event() -> None:
    got: list[Any] = []
    pipeline = Pipeline(got.append, transform=lambda e: None if e < 0 else e)
    for event in (1, -1, 2):
        pipeline.event(event)
    assert got == [1, 2]


def test_batches_are_prepared_then_handled_once() -> None:
    batches: list[list[int]] = []
    pipeline = Pipeline(batches.append, filter=lambda e: e != 2, transform=lambda e: e + 100)
    pipeline.handle_batch(pipeline.prepare_batch([1, 2, 3]))
    pipeline.handle_batch([])
    assert batches == [[101, 103]]
    assert (pipeline.counters.events, pipeline.counters.batches) == (2, 1)


def test_stages_must_be_callable() -> None:
    with pytest.raises(TypeError, match="filter must be callable"):
        Pipeline(print, filter=3)  # type: ignore[arg-type]
