"""Listing objects by id: ids that vanish or are not settled yet are left out, other errors raise."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import pytest

from ebpf.syscall import objects
from ebpf.syscall.errors import BpfSyscallError, syscall_error
from ebpf.syscall.fd import FD


def _opener(failures: dict[int, int]) -> tuple[list[int], Callable[[int], FD]]:
    opened: list[int] = []

    def open_by_id(obj_id: int) -> FD:
        if obj_id in failures:
            raise syscall_error(failures[obj_id], "BPF_LINK_GET_FD_BY_ID", f"opening link id {obj_id}")
        opened.append(obj_id)
        return FD(os.open("/dev/null", os.O_RDONLY))

    return opened, open_by_id


def test_ids_gone_or_not_settled_are_skipped() -> None:
    opened, open_by_id = _opener({2: errno.ENOENT, 3: errno.EAGAIN})
    fds = list(objects._open_each(iter([1, 2, 3, 4]), open_by_id))
    for fd in fds:
        fd.close()
    assert opened == [1, 4]
    assert len(fds) == 2


def test_other_errors_raise() -> None:
    _, open_by_id = _opener({2: errno.EPERM})
    with pytest.raises(BpfSyscallError, match="opening link id 2"):
        next(objects._open_each(iter([2]), open_by_id))
