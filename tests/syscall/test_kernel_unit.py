"""The prepared-call path of ebpf.syscall._kernel: errors and EINTR retries of bpf_failed."""

from __future__ import annotations

import errno

import pytest

from ebpf.syscall import _kernel, bpf_failed


def test_bpf_failed_returns_minus_errno(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kernel, "_get_errno", lambda: errno.ENOENT)
    assert bpf_failed(pytest.fail) == -errno.ENOENT  # nothing to retry


@pytest.mark.parametrize(("retry_result", "expected"), [(-1, -errno.E2BIG), (7, 7)])
def test_bpf_failed_retries_eintr(monkeypatch: pytest.MonkeyPatch, retry_result: int, expected: int) -> None:
    errnos = iter([errno.EINTR, errno.EINTR, errno.E2BIG])
    monkeypatch.setattr(_kernel, "_get_errno", lambda: next(errnos))
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        return retry_result if len(calls) == 2 else -1

    assert bpf_failed(call) == expected
    assert len(calls) == 2
