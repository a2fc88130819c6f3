"""Fixtures for the ebpf.progs integration tests (helpers live in ``_progs_support.py``)."""

from __future__ import annotations

import errno
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from progs._progs_support import Counter

from ebpf.syscall import system


@pytest.fixture
def counter() -> Iterator[Counter]:
    """A one-slot counter map, closed afterwards."""
    c = Counter()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def test_cgroup() -> Iterator[Path]:
    """A fresh cgroup v2 directory, removed afterwards (its processes must have exited)."""
    root = system.cgroup2_path()
    if root is None:
        pytest.skip("cgroup v2 is not mounted")
    path = Path(tempfile.mkdtemp(prefix="ebpf-progs-", dir=root))
    try:
        yield path
    finally:
        for _ in range(50):
            try:
                path.rmdir()
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                time.sleep(0.02)
