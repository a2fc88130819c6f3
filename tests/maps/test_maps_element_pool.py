"""The pool of element buffers that lets threads share a map without a lock (no system calls here)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from ebpf.maps import _elements, u32, u64
from ebpf.maps._elements import ElementPool

_NO_FD = 0xFFFFFFFF


def test_one_thread_takes_the_same_set_every_time() -> None:
    pool = ElementPool(5, u32, u64)
    first = pool.free.pop()
    pool.free.append(first)
    assert pool.free.pop() is first
    assert first.attr.map_fd == 5
    assert first.delete_attr.map_fd == 5


def test_the_slots_write_into_the_buffers_the_attr_points_at() -> None:
    pool = ElementPool(5, u32, u64)
    buffers = pool.free.pop()
    buffers.key[0] = 0x01020304
    buffers.value[0] = 7
    assert int.from_bytes(buffers.kbuf.raw, "little") == 0x01020304
    assert buffers.value[0] == 7
    assert buffers.delete_attr.key == buffers.attr.key != 0


def test_a_thread_that_finds_the_pool_empty_gets_a_set_of_its_own() -> None:
    pool = ElementPool(5, u32, u64)
    held = pool.free.pop()
    extra = pool.more()
    assert extra is not held
    assert extra.attr.key != held.attr.key
    pool.free.extend([held, extra])
    assert len(pool.free) == 2


def test_drain_disarms_every_set_and_waits_for_sets_in_use() -> None:
    pool = ElementPool(5, u32, u64)
    held = pool.free.pop()
    pool.free.append(pool.more())

    def give_back_later() -> None:
        time.sleep(0.2)
        pool.free.append(held)

    giver = threading.Thread(target=give_back_later)
    giver.start()
    start = time.monotonic()
    pool.drain()
    assert time.monotonic() - start >= 0.15, "drain() returned while a set was still in use"
    giver.join()
    assert all(b.attr.map_fd == _NO_FD and b.delete_attr.map_fd == _NO_FD for b in pool.free)
    assert pool.more().attr.map_fd == _NO_FD, "a set made after close must not name the descriptor"


def test_drain_gives_up_on_a_lost_set_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_elements, "_RETURN_DEADLINE", 0.05)
    pool = ElementPool(5, u32, u64)
    pool.free.pop()  # taken and never returned (an interrupted operation)
    with caplog.at_level(logging.WARNING, logger="ebpf.maps._elements"):
        pool.drain()
    assert "not returned" in caplog.text
