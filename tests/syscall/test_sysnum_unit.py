"""Syscall numbers come from a per-architecture table."""

from __future__ import annotations

import platform

import pytest

from ebpf.syscall._sysnum import syscall_numbers


def test_known_architectures() -> None:
    assert syscall_numbers("x86_64").bpf == 321
    assert syscall_numbers("x86_64").perf_event_open == 298
    assert syscall_numbers("aarch64").bpf == 280
    assert syscall_numbers("aarch64").perf_event_open == 241


def test_running_architecture_is_known() -> None:
    assert syscall_numbers().bpf == syscall_numbers(platform.machine()).bpf


def test_unknown_architecture() -> None:
    with pytest.raises(NotImplementedError, match="pdp11"):
        syscall_numbers("pdp11")
