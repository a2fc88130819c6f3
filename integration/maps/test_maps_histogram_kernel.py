"""Histograms read from maps a real BPF program filled.

An XDP program, run by ``test_run`` on a packet ``struct { u64 value; u32
section; }``, computes bcc's ``bpf_log2l(value)`` (0 and 1 -> slot 1, 2..3
-> 2, 2**k..2**(k+1)-1 -> k+1) and counts it twice: in a u64 array indexed
by slot, and in a hash map keyed by ``struct { u32 section; u32 slot; }``
(bcc's per-key ``hist_key_t``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
    R6,
    R7,
    R8,
    R10,
    W,
    XdpAction,
    add,
    assemble,
    call,
    exit_,
    ja,
    jeq,
    jgt,
    label,
    ld_map_fd,
    load,
    mov,
    rsh,
    store,
)
from ebpf.asm.assembler import Item
from ebpf.maps import Bucket, Map, MapSpec, StructCodec, log2_histogram, log2_histograms, u32, u64
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall.abi import MapType

PACKET = struct.Struct("<QI4x")  # 16 bytes: test runs of XDP need at least an Ethernet header (14)


def _increment(map_name: str, key_offset: int, tag: str) -> list[Item]:
    """``map[key at r10+key_offset] += 1``, creating the element with 1 when missing."""
    return [
        ld_map_fd(R1, map_name),
        mov(R2, R10),
        add(R2, key_offset),
        call("map_lookup_elem"),
        jeq(R0, 0, f"{tag}_new"),
        mov(R1, 1),
        load(R2, R0, 0, DW),
        add(R2, R1),
        store(R0, 0, R2, DW),
        ja(f"{tag}_done"),
        label(f"{tag}_new"),
        store(R10, -24, 1, DW),
        ld_map_fd(R1, map_name),
        mov(R2, R10),
        add(R2, key_offset),
        mov(R3, R10),
        add(R3, -24),
        mov(R4, 0),
        call("map_update_elem"),
        label(f"{tag}_done"),
    ]


def _log2_program() -> list[Item]:
    """r7 = value, r8 = slot = bpf_log2l(value), then count the slot in ``hist`` and ``per_key``."""
    items: list[Item] = [
        load(R2, R1, 0, W),  # xdp_md.data
        load(R3, R1, 4, W),  # xdp_md.data_end
        mov(R6, R2),
        add(R6, PACKET.size),
        jgt(R6, R3, "out"),
        load(R7, R2, 0, DW),
        load(R6, R2, 8, W),  # the section
        mov(R8, 1),
    ]
    for shift in (32, 16, 8, 4, 2, 1):
        items += [
            mov(R1, R7),
            rsh(R1, shift),
            jeq(R1, 0, f"below_{shift}"),
            mov(R7, R1),
            add(R8, shift),
            label(f"below_{shift}"),
        ]
    items += [
        store(R10, -4, R8, W),  # array key: the slot
        store(R10, -16, R6, W),  # per-key key: {section, slot}
        store(R10, -12, R8, W),
        *_increment("hist", -4, "array"),
        *_increment("per_key", -16, "hash"),
        label("out"),
        mov(R0, XdpAction.PASS),
        exit_(),
    ]
    return items


@pytest.fixture
def maps() -> Iterator[tuple[Map, Map]]:
    hist = Map.create(MapSpec(MapType.ARRAY, "hist", key=u32, value=u64, max_entries=65))
    per_key = Map.create(
        MapSpec(MapType.HASH, "per_key", key=StructCodec("<II"), value=u64, max_entries=1024)
    )
    with hist, per_key:
        yield hist, per_key


VALUES = {7: [0, 1, 1, 2, 3, 5, 6, 7, 1000], 9: [4, 600, 1 << 20]}


def test_log2_histogram_of_values_a_program_counted(maps: tuple[Map, Map]) -> None:
    hist, per_key = maps
    code = assemble(_log2_program(), maps={"hist": hist, "per_key": per_key})
    with Program.load(ProgramSpec.from_section("xdp", code, name="log2_hist")) as prog:
        for section, values in VALUES.items():
            for value in values:
                assert prog.test_run(PACKET.pack(value, section)).retval == XdpAction.PASS

    whole = log2_histogram(hist, unit="us")  # type: ignore[arg-type]
    assert whole.total == sum(len(values) for values in VALUES.values())
    assert whole.buckets[:4] == (Bucket(0, 1, 3), Bucket(2, 3, 2), Bucket(4, 7, 4), Bucket(8, 15, 0))
    assert [(b.low, b.count) for b in whole.buckets if b.count][3:] == [(512, 2), (1 << 20, 1)]
    assert whole.buckets[-1] == Bucket(1 << 20, (1 << 21) - 1, 1)
    assert whole.format().splitlines()[:3] == [
        "     usecs               : count     distribution",
        "         0 -> 1          : 3        |******************************          |",
        "         2 -> 3          : 2        |********************                    |",
    ]

    sections = log2_histograms(per_key, unit="us")  # type: ignore[arg-type]
    assert set(sections) == {7, 9}
    assert sections[7].total == len(VALUES[7])
    assert [(b.low, b.count) for b in sections[7].buckets if b.count] == [(0, 3), (2, 2), (4, 3), (512, 1)]
    assert [(b.low, b.count) for b in sections[9].buckets if b.count] == [(4, 1), (512, 1), (1 << 20, 1)]
