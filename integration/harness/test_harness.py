"""The integration suite's own fixtures, checked against the real system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _kernel_markers import kernel_release, requires_kernel, skip_reason


def _mounts() -> list[tuple[str, str]]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return [(fields[1], fields[2]) for fields in (line.split() for line in mounts) if len(fields) >= 3]


def test_bpffs_and_tracefs_are_mounted() -> None:
    mounts = _mounts()
    assert ("/sys/fs/bpf", "bpf") in mounts
    if Path("/sys/kernel/tracing").is_dir():
        assert ("/sys/kernel/tracing", "tracefs") in mounts
        assert Path("/sys/kernel/tracing/events").is_dir()


def test_bpffs_fixture_is_a_fresh_directory_on_bpffs(bpffs: Path) -> None:
    assert bpffs.parent == Path("/sys/fs/bpf")
    assert bpffs.is_dir()
    assert list(bpffs.iterdir()) == []
    (bpffs / "sub").mkdir()  # bpffs allows directories; the fixture removes them
    assert (bpffs / "sub").is_dir()


def test_runs_as_root() -> None:
    assert os.geteuid() == 0


@pytest.mark.requires_kernel("3.18", "the bpf(2) system call")
def test_requires_kernel_marker_lets_a_new_enough_kernel_run() -> None:
    assert kernel_release()


@requires_kernel("3.18", "the bpf(2) system call")
def test_requires_kernel_helper_lets_a_new_enough_kernel_run() -> None:
    assert kernel_release()


def test_requires_kernel_skips_on_an_older_kernel() -> None:
    # What the marker hook turns into pytest.skip() for a too-old kernel.
    reason = skip_reason("999.0", "a feature from the future")
    assert reason == f"needs Linux 999.0+ for a feature from the future; running {kernel_release()}"
    assert skip_reason("3.18", "the bpf(2) system call") is None
