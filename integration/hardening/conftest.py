"""Fixtures of the hardening integration tests.

Every test here also runs under :func:`_resources.no_resource_leaks`
(threads, mmaps, loaded and attached objects, qdiscs, XDP, netns), on top
of the suite-wide descriptor and pin checks of ``integration/conftest.py``.
"""

from __future__ import annotations

import errno
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _resources import no_resource_leaks
from progs._progs_support import Counter

from ebpf.syscall import system

__all__ = ["counter", "no_resource_leaks", "scratch_cgroup"]


@pytest.fixture
def counter() -> Iterator[Counter]:
    """A one-slot u64 counter map (``integration/progs``' helper), closed afterwards."""
    c = Counter()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def scratch_cgroup() -> Iterator[Path]:
    """A fresh cgroup v2 directory, removed afterwards."""
    root = system.cgroup2_path()
    if root is None:
        pytest.skip("cgroup v2 is not mounted")
    path = Path(tempfile.mkdtemp(prefix="ebpf-hardening-", dir=root))
    try:
        yield path
    finally:
        for _ in range(100):
            try:
                path.rmdir()
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                time.sleep(0.02)
