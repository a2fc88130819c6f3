"""Descriptors and pins of the wrong kind are refused with what they are, before their info is read.

The kernel's ``BPF_OBJ_GET_INFO_BY_FD`` answers for whatever a descriptor
is, so a program's info read as a map's gave made-up sizes (and gigabytes of
buffers); a pinned map opened as a program became a ``Program``. Each case
here names the object and what was expected, leaks no descriptor (the
suite's fixtures check) and, where ownership was handed over, closes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebpf.maps import Map, MapSpec, u32
from ebpf.progs import BpfLink, Link, Program, ProgramSpec, attach_raw_tracepoint, attach_socket_filter
from ebpf.syscall import BpfSyscallError, MapType, PermissionDeniedError, ProgType, objects

RETURN_0 = bytes.fromhex("b7000000000000009500000000000000")  # mov r0, 0; exit


@pytest.fixture
def program() -> Iterator[Program]:
    with Program.load(
        ProgramSpec(name="nothing", type=ProgType.SOCKET_FILTER, instructions=RETURN_0)
    ) as prog:
        yield prog


@pytest.fixture
def array() -> Iterator[Map]:
    with Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1)) as m:
        yield m


def test_every_kind_is_told_apart(program: Program, array: Map) -> None:
    raw_tp = Program.load(ProgramSpec(name="tp", type=ProgType.RAW_TRACEPOINT, instructions=RETURN_0))
    with raw_tp, attach_raw_tracepoint(raw_tp, "sys_enter") as link:
        assert objects.object_kind(array) == "map"
        assert objects.object_kind(program) == "program"
        assert isinstance(link, BpfLink)
        assert objects.object_kind(link) == "link"  # as created
        assert link.info().id
        with Link.from_id(link.info().id) as opened:
            assert objects.object_kind(opened) == "link"  # as opened by id
        r, w = os.pipe()
        try:
            assert objects.object_kind(r) is None
            assert objects.describe_fd(r) == "a pipe"
        finally:
            os.close(r)
            os.close(w)
        with pytest.raises(ValueError, match="is not open"):
            objects.object_kind(r)


def test_a_program_descriptor_is_not_taken_for_a_map(program: Program, array: Map) -> None:
    number = os.dup(program.fileno())
    with pytest.raises(TypeError, match=rf"descriptor {number} is a BPF program, not a BPF map"):
        Map.from_fd(number)
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(number)  # ownership was handed over: closed, as from_fd promises
    with pytest.raises(TypeError, match="is a BPF map, not a BPF program"):
        objects.get_program_info(array)


def test_a_number_that_is_not_open_is_refused_without_taking_it() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(ValueError, match=rf"descriptor {r} is not open"):
        Map.from_fd(r)


def test_pins_of_the_wrong_kind_say_what_they_are(program: Program, array: Map, bpffs: Path) -> None:
    program.pin(bpffs / "prog")
    array.pin(bpffs / "map")
    with pytest.raises(TypeError, match=r"/prog' is a BPF program, not a pinned map"):
        Map.from_pin(bpffs / "prog")
    with pytest.raises(TypeError, match=r"/map' is a BPF map, not a pinned program"):
        Program.from_pin(bpffs / "map")
    with pytest.raises(TypeError, match=r"/map' is a BPF map, not a pinned bpf_link"):
        Link.from_pin(bpffs / "map")
    with Map.from_pin(bpffs / "map") as same:  # the right kind still opens
        assert same.info().id == array.info().id


def test_a_path_off_bpffs_is_named_as_such_not_blamed_on_privileges() -> None:
    with pytest.raises(BpfSyscallError, match="/etc/passwd is not on a BPF filesystem") as info:
        Map.from_pin("/etc/passwd")
    assert not isinstance(info.value, PermissionDeniedError)


def test_a_socket_filter_on_something_that_is_not_a_socket_leaks_nothing(program: Program) -> None:
    r, w = os.pipe()
    try:
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(100):
            with pytest.raises(TypeError, match=rf"descriptor {r} is a pipe, not a socket"):
                attach_socket_filter(program, r)
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(r)
        os.close(w)
