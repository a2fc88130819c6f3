"""USDT attachment without a kernel: spec ids per object, and where a probe is in a process."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from ebpf.elf import Mapping, UsdtProbe
from ebpf.elf._usdt_attach import _absolute, _give_spec_ids, _reachable, _take_spec_ids

PROBE = UsdtProbe(
    path="/usr/lib/libx.so",
    provider="p",
    name="n",
    address=0x1234,
    file_offset=0x1234,
    semaphore_address=0,
    semaphore_offset=0,
    argument_spec="",
    arguments=(),
    location=0x1234,
    base=0,
    semaphore=0,
    machine="x86_64",
    position_independent=True,
)


def test_spec_ids_are_allocated_per_map_and_reused_once_given_back() -> None:
    assert _take_spec_ids(901, 4, 2, "a") == [0, 1]
    assert _take_spec_ids(902, 4, 1, "other map") == [0]
    assert _take_spec_ids(901, 4, 1, "b") == [2]
    _give_spec_ids(901, [0, 1])
    assert sorted(_take_spec_ids(901, 4, 3, "c")) == [0, 1, 3]
    with pytest.raises(
        ValueError, match=r"do not fit in __bpf_usdt_specs \(4 entries, 4 in use\).*BPF_USDT_MAX"
    ):
        _take_spec_ids(901, 4, 1, "d")
    _give_spec_ids(901, [0, 1, 2, 3])
    _give_spec_ids(902, [0])
    assert _take_spec_ids(901, 4, 1, "after all were given back") == [0]  # a fresh start
    _give_spec_ids(901, [0])


def test_addresses_in_a_process_follow_its_mappings() -> None:
    text = Mapping(0x7F0000001000, 0x7F0000003000, 0x1000, PROBE.path, "r-xp", 7)
    assert _absolute(PROBE, [text]) == 0x7F0000001000 - 0x1000 + 0x1234
    assert _absolute(PROBE, [replace(text, offset=0x2000)]) is None  # another part of the file
    fixed = replace(PROBE, position_independent=False, address=0x401234)
    assert _absolute(fixed, []) == 0x401234  # a fixed-address executable: the link-time address


def test_files_of_another_mount_namespace_are_reached_through_the_process_root(tmp_path: Path) -> None:
    here = tmp_path / "python3"
    here.write_bytes(b"")
    mapping = Mapping(0x1000, 0x2000, 0, str(here), "r-xp", here.stat().st_ino)
    assert _reachable(4242, mapping) == str(here)  # the same file here
    elsewhere = replace(mapping, inode=here.stat().st_ino + 1)  # same name, another file: a container's
    assert _reachable(4242, elsewhere) == f"/proc/4242/root{here}"
    assert (
        _reachable(os.getpid(), replace(mapping, path="/no/such/file"))
        == f"/proc/{os.getpid()}/root/no/such/file"
    )
