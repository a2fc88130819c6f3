"""Fixtures for the unprivileged unit tests under ``tests/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _resources import no_process_leaks  # noqa: F401  (autouse: kernel-object mmaps and threads)

from tests._leakcheck import describe_fds, leaked_since, open_fds


@pytest.fixture(autouse=True)
def _no_fd_leaks() -> Iterator[None]:
    """Fail a test that leaves a file descriptor open."""
    before = open_fds()
    yield
    leaked = leaked_since(before)
    if leaked:
        pytest.fail(
            f"test leaked {len(leaked)} file descriptor(s): {describe_fds(leaked)}",
            pytrace=False,
        )
