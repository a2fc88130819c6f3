"""``TracePipe`` reads back what a program printed with ``bpf_trace_printk()``.

An XDP program, run by ``test_run`` in this thread, prints
``"pipe <token>: n=%d\\n"`` with 42 from a format string on its stack.
``trace_pipe`` is one consuming stream for the whole machine: the test keeps
only its thread's ``bpf_trace_printk`` lines and looks for its own token
among whatever else comes.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
import threading

import pytest

from ebpf.asm import DW, R0, R1, R2, R3, R10, XdpAction, add, assemble, call, exit_, lddw, mov, store
from ebpf.asm.assembler import Item
from ebpf.events import BPF_TRACE_PRINTK, TraceLine, TracePipe
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import features
from ebpf.syscall.abi import ProgType

TRACE_PRINTK = 6  # BPF_FUNC_trace_printk

pytestmark = pytest.mark.requires_feature(features.helper_feature(ProgType.XDP, TRACE_PRINTK))


def printk_program(fmt: str, arg: int) -> Program:
    """An XDP program that prints ``fmt`` (one ``%d``: ``arg``) and passes the packet."""
    data = fmt.encode() + b"\0"
    data += bytes(-len(data) % 8)
    base = -len(data)
    items: list[Item] = []
    for offset in range(0, len(data), 8):
        (word,) = struct.unpack_from("<q", data, offset)
        items += [lddw(R1, word), store(R10, base + offset, R1, DW)]
    items += [
        mov(R1, R10),
        add(R1, base),
        mov(R2, len(data)),
        mov(R3, arg),
        call("trace_printk"),
        mov(R0, XdpAction.PASS),
        exit_(),
    ]
    return Program.load(ProgramSpec.from_section("xdp", assemble(items), name="printk"))


def _mine(lines: list[TraceLine], token: str) -> list[TraceLine]:
    return [line for line in lines if token in line.message]


def test_printk_message_read_back() -> None:
    token = secrets.token_hex(4)
    with (
        TracePipe(pid=threading.get_native_id()) as pipe,
        printk_program(f"pipe {token}: n=%d\n", 42) as prog,
    ):
        prog.test_run(bytes(16))
        found: list[TraceLine] = []
        for _ in range(50):  # other tracers' lines may come first; each poll waits at most 0.1 s
            found += _mine(pipe.poll(0.1), token)
            if found:
                break
    assert len(found) == 1
    line = found[0]
    assert line.message == f"pipe {token}: n=42"
    assert line.function == BPF_TRACE_PRINTK
    assert line.pid == threading.get_native_id()
    assert line.timestamp > 0


def test_printk_message_async() -> None:
    token = secrets.token_hex(4)

    async def first_line(pipe: TracePipe, prog: Program) -> TraceLine:
        asyncio.get_running_loop().call_soon(prog.test_run, bytes(16))
        async for line in pipe:
            if token in line.message:
                return line
        raise AssertionError("the pipe ended")

    with TracePipe() as pipe, printk_program(f"async {token} %d\n", 7) as prog:
        line = asyncio.run(asyncio.wait_for(first_line(pipe, prog), 5))
    assert line.message == f"async {token} 7"
