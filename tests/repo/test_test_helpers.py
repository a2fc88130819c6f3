"""The test suites' own helpers: fd leak detection and the kernel version marker."""

from __future__ import annotations

import os
import re

import pytest
from _kernel_markers import parse_version, requires_kernel, skip_reason

from tests._leakcheck import describe_fds, fd_leaks, leaked_since, open_fds


def test_open_fds_sees_a_new_descriptor_with_its_target() -> None:
    before = open_fds()
    fd = os.eventfd(0)
    try:
        assert leaked_since(before) == {fd: "anon_inode:[eventfd]"}
    finally:
        os.close(fd)
    assert leaked_since(before) == {}


def test_open_fds_leaves_out_the_listing_descriptor() -> None:
    fds = open_fds()
    assert 0 in fds or 1 in fds or 2 in fds
    listing = re.compile(r"/proc/(self|\d+)/fd")
    assert not [target for target in fds.values() if listing.fullmatch(target)]


def test_fd_leaks_counts_reused_numbers_and_ignores_deleted_files() -> None:
    before = {3: "/tmp/a", 4: "pipe:[1]"}
    after = {3: "/tmp/a (deleted)", 4: "anon_inode:bpf-map", 5: "anon_inode:bpf-prog"}
    assert fd_leaks(before, after) == {4: "anon_inode:bpf-map", 5: "anon_inode:bpf-prog"}
    assert describe_fds(fd_leaks(before, after)) == "fd 4 -> anon_inode:bpf-map, fd 5 -> anon_inode:bpf-prog"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6.18.44-fc-v782", (6, 18, 44)),
        ("6.1.0-13-amd64", (6, 1, 0)),
        ("5.15.0-91-generic", (5, 15, 0)),
        ("4.19", (4, 19, 0)),
        ("5.8", (5, 8, 0)),
        ("6.10.0-rc1+", (6, 10, 0)),
    ],
)
def test_parse_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


def test_parse_version_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a kernel version"):
        parse_version("linux")


def test_skip_reason() -> None:
    assert skip_reason("5.8", "ring buffer", release="5.4.0-150-generic") == (
        "needs Linux 5.8+ for ring buffer; running 5.4.0-150-generic"
    )
    assert skip_reason("5.8", "ring buffer", release="5.8.0") is None
    assert skip_reason("5.8", "ring buffer", release="5.10.1") is None  # 10 > 8 as numbers, not text
    assert skip_reason("3.18", "bpf(2)") is None  # the running kernel


def test_requires_kernel_is_the_marker() -> None:
    mark = requires_kernel("5.8", "ring buffer").mark
    assert (mark.name, mark.args) == ("requires_kernel", ("5.8", "ring buffer"))
    with pytest.raises(ValueError, match="not a kernel version"):
        requires_kernel("five", "ring buffer")
