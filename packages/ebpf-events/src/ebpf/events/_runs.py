"""Runs of equal records: what lets readers decode many records with one C call."""

from __future__ import annotations

import itertools

__all__ = ["equal_run"]


def equal_run(headers: memoryview, first: int, step: int, header: int, most: int) -> int:
    """How many records from ``first`` on, up to ``most``, carry the same ``header``.

    ``headers`` is the buffer cast to the header's width; record ``i`` of the
    run has its header at ``headers[first + i * step]``, and the first one is
    ``header`` itself. A run ends at the first header that differs: another
    length, a busy or discarded record, another kind of perf record.
    """
    if most <= 1 or headers[first + step] != header:
        return min(most, 1)
    found = headers[first : first + most * step : step].tolist()
    if found.count(header) == most:
        return most
    return next(itertools.compress(itertools.count(), map(header.__ne__, found)))
