"""Running workers in threads that start together, for the concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["run_threads"]


def run_threads(workers: list[Callable[[], None]], timeout: float = 120) -> None:
    """Start every worker at once (behind a barrier), wait for all; re-raise the first failure.

    Raises:
        AssertionError: a worker was still running after ``timeout`` seconds.
        BaseException: the first exception a worker raised.
    """
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait()
                work()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(w), name=f"hardening-{i}") for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    if errors:
        raise errors[0]
