"""FD owns one descriptor: closes it once, detaches, duplicates, and backstops leaks."""

from __future__ import annotations

import gc
import os

import pytest

from ebpf.syscall.fd import FD, fileno_of


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_close_is_idempotent() -> None:
    fd = FD(os.open(os.devnull, os.O_RDONLY))
    n = fd.fileno()
    fd.close()
    assert not _is_open(n)
    assert fd.closed
    fd.close()
    with pytest.raises(ValueError, match="closed"):
        fd.fileno()


def test_context_manager_closes() -> None:
    with FD(os.open(os.devnull, os.O_RDONLY)) as fd:
        n = fd.fileno()
        assert _is_open(n)
    assert not _is_open(n)


def test_garbage_collection_closes() -> None:
    fd = FD(os.open(os.devnull, os.O_RDONLY))
    n = fd.fileno()
    del fd
    gc.collect()
    assert not _is_open(n)


def test_detach_hands_over_ownership() -> None:
    fd = FD(os.open(os.devnull, os.O_RDONLY))
    n = fd.detach()
    del fd
    gc.collect()
    assert _is_open(n)
    os.close(n)


def test_dup_is_independent() -> None:
    with FD(os.open(os.devnull, os.O_RDONLY)) as fd, fd.dup() as other:
        assert other.fileno() != fd.fileno()
        fd.close()
        assert _is_open(other.fileno())
        assert not os.get_inheritable(other.fileno())


def test_negative_rejected() -> None:
    with pytest.raises(ValueError, match="invalid file descriptor"):
        FD(-1)


def test_fileno_of() -> None:
    with FD(os.open(os.devnull, os.O_RDONLY)) as fd:
        assert fileno_of(fd) == fd.fileno()
    assert fileno_of(3) == 3
    with pytest.raises(TypeError, match="not str"):
        fileno_of("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not bool"):
        fileno_of(True)
    with pytest.raises(ValueError, match="invalid"):
        fileno_of(-2)
