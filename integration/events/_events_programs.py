"""Programs that write events, for the ebpf.events integration tests and the bench.

Every event is ``struct { u32 seq; u64 value; u32 cpu; }`` (24 bytes; spec
``[u32, u64, u32]``) where ``seq`` counts the program's runs (slot 0 of a
two-slot u64 array map, the ``counters``), ``value = seq * 3`` and ``cpu``
is the CPU it ran on. A write that fails (ring buffer full) increments slot
1 of the counters instead. The programs are XDP programs (so that a test
run can repeat them thousands of times on one CPU) or tracepoint programs
(attached to ``syscalls:sys_enter_getpid`` and triggered by ``os.getpid()``).
"""

from __future__ import annotations

import enum
import importlib.util
import struct

import pytest

from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R10,
    W,
    XdpAction,
    add,
    and_,
    assemble,
    call,
    exit_,
    ja,
    jeq,
    jne,
    jsge,
    label,
    ld_map_fd,
    load,
    mod,
    mov,
    mov32,
    mul,
    store,
)
from ebpf.asm.assembler import Item
from ebpf.maps import ArrayMap, Map, MapSpec, u32, u64
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall.abi import MapType

#: For the ``read_array()`` cases: NumPy is the optional ``ebpf-events[numpy]`` extra.
NUMPY = pytest.param(
    "array",
    marks=pytest.mark.skipif(
        importlib.util.find_spec("numpy") is None,
        reason="NumPy (the ebpf-events[numpy] extra) is not installed",
    ),
)

EVENT = struct.Struct("=I4xQI4x")
EVENT_SPEC = [u32, u64, u32]


class Mode(enum.Enum):
    """How the program writes its event."""

    OUTPUT = "ringbuf_output"
    RESERVE = "reserve+submit"
    DISCARD_THIRD = "reserve, discard when seq % 3 == 0"
    PERF = "perf_event_output"
    VARIABLE = "ringbuf_output of 24 or 40 bytes (40 when seq is odd)"


def counters_map() -> ArrayMap[int]:
    """Slot 0: the next sequence number; slot 1: failed writes."""
    return Map.create(MapSpec(MapType.ARRAY, "ev_counters", key=u32, value=u64, max_entries=2))  # type: ignore[return-value]


def _bump_drops() -> list[Item]:
    return [
        store(R10, -4, 1, W),
        ld_map_fd(R1, "counters"),
        mov(R2, R10),
        add(R2, -4),
        call("map_lookup_elem"),
        jeq(R0, 0, "out"),
        mov(R1, 1),
        # Not atomic: test runs of one program do not overlap.
        load(R2, R0, 0, DW),
        add(R2, R1),
        store(R0, 0, R2, DW),
    ]


def _fill(base: int, ptr: object = R10) -> list[Item]:
    """Write the event at ``ptr + base`` from r7 (seq); clobbers r0-r5."""
    assert isinstance(ptr, type(R10))
    return [
        store(ptr, base + 0, R7, W),
        store(ptr, base + 4, 0, W),
        mov(R1, R7),
        mul(R1, 3),
        store(ptr, base + 8, R1, DW),
        call("get_smp_processor_id"),
        store(ptr, base + 16, R0, W),
        store(ptr, base + 20, 0, W),
    ]


def event_program(mode: Mode) -> list[Item]:
    """The instructions of a program writing one event per run (maps: ``counters``, ``events``)."""
    prologue: list[Item] = [
        mov(R6, R1),
        store(R10, -4, 0, W),
        ld_map_fd(R1, "counters"),
        mov(R2, R10),
        add(R2, -4),
        call("map_lookup_elem"),
        jeq(R0, 0, "out"),
        load(R7, R0, 0, DW),
        mov(R1, R7),
        add(R1, 1),
        store(R0, 0, R1, DW),
    ]
    body: list[Item]
    if mode in (Mode.OUTPUT, Mode.PERF, Mode.VARIABLE):
        body = [*_fill(-48)]
        if mode is Mode.VARIABLE:
            body += [store(R10, -24, 0, DW), store(R10, -16, 0, DW)]
        if mode is Mode.PERF:
            body += [
                mov(R1, R6),
                ld_map_fd(R2, "events"),
                mov32(R3, -1),  # BPF_F_CURRENT_CPU: 0xffffffff, no context bytes
                mov(R4, R10),
                add(R4, -48),
                mov(R5, 24),
                call("perf_event_output"),
            ]
        else:
            body += [ld_map_fd(R1, "events"), mov(R2, R10), add(R2, -48), mov(R3, 24)]
            if mode is Mode.VARIABLE:
                body += [mov(R4, R7), and_(R4, 1), mul(R4, 16), add(R3, R4)]
            body += [mov(R4, 0), call("ringbuf_output")]
        body += [jsge(R0, 0, "out"), *_bump_drops()]
    else:
        body = [
            ld_map_fd(R1, "events"),
            mov(R2, 24),
            mov(R3, 0),
            call("ringbuf_reserve"),
            jne(R0, 0, "reserved"),
            *_bump_drops(),
            ja("out"),
            label("reserved"),
            mov(R8, R0),
            *_fill(0, R8),
            mov(R1, R8),
            mov(R2, 0),
        ]
        if mode is Mode.DISCARD_THIRD:
            body += [
                mov(R3, R7),
                mod(R3, 3),
                jne(R3, 0, "submit"),
                call("ringbuf_discard"),
                ja("out"),
                label("submit"),
                mov(R1, R8),
                mov(R2, 0),
            ]
        body += [call("ringbuf_submit")]
    return [*prologue, *body, label("out"), mov(R0, XdpAction.PASS), exit_()]


def load_program(mode: Mode, counters: Map, events: Map, section: str = "xdp") -> Program:
    """Assemble and load the program of ``mode`` for ``section`` (``xdp`` or a tracepoint section)."""
    code = assemble(event_program(mode), maps={"counters": counters, "events": events})
    return Program.load(ProgramSpec.from_section(section, code, name="ev_writer"))


def expected(seqs: range) -> list[tuple[int, int]]:
    """``(seq, value)`` of the events of ``seqs``."""
    return [(seq, seq * 3) for seq in seqs]


class FailsOnFive:
    """A user decoder (decoded through the generic path) that refuses record 5."""

    size = 24

    def decode(self, data: memoryview) -> int:
        seq: int = EVENT.unpack(data)[0]
        if seq == 5:
            raise ValueError("five")
        return seq
