"""Helpers of the ebpf.progs integration tests: a counter map and programs that count into it.

The programs are raw instruction bytes (``ebpf.asm`` is not used here so
that these tests depend only on ebpf.syscall and ebpf.progs).
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ebpf.progs import ProgramSpec
from ebpf.syscall import FD, MapType, commands

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One raw eBPF instruction."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


MOV64_IMM, EXIT, CALL, LD_IMM64, ST_MEM_W = 0xB7, 0x95, 0x85, 0x18, 0x62
ATOMIC_DW, MOV64_REG, ADD64_IMM, JNE_IMM, JEQ_IMM = 0xDB, 0xBF, 0x07, 0x55, 0x15
LDX_DW, ST_MEM_H = 0x79, 0x6A


def returns(value: int) -> bytes:
    """``r0 = value; exit``."""
    return insn(MOV64_IMM, 0, imm=value) + insn(EXIT)


class Counter:
    """A one-slot u64 array map and programs that increment it."""

    def __init__(self) -> None:
        self.fd: FD = commands.map_create(MapType.ARRAY, 4, 8, 1, name="progs_counter")

    def program(self, ret: int = 0) -> bytes:
        """``counters[0] += 1; return ret`` (r1, the context, is not touched)."""
        return b"".join(
            [
                insn(ST_MEM_W, 10, 0, -4, 0),
                insn(LD_IMM64, 1, 1, 0, self.fd.fileno()),
                insn(0),
                insn(MOV64_REG, 2, 10),
                insn(ADD64_IMM, 2, imm=-4),
                insn(CALL, imm=1),  # bpf_map_lookup_elem
                insn(JNE_IMM, 0, off=2, imm=0),
                insn(MOV64_IMM, 0, imm=ret),
                insn(EXIT),
                insn(MOV64_IMM, 1, imm=1),
                insn(ATOMIC_DW, 0, 1, 0, 0),
                insn(MOV64_IMM, 0, imm=ret),
                insn(EXIT),
            ]
        )

    def spec(self, section: str, ret: int = 0, name: str = "counter") -> ProgramSpec:
        """A spec of :meth:`program` for a section name."""
        return ProgramSpec.from_section(section, self.program(ret), name=name)

    @property
    def value(self) -> int:
        out = bytearray(8)
        commands.map_lookup_elem(self.fd, U32.pack(0), out)
        return int(U64.unpack(out)[0])

    def reset(self) -> None:
        commands.map_update_elem(self.fd, U32.pack(0), bytes(8))

    def close(self) -> None:
        self.fd.close()


def run_in_cgroup(cgroup: Path, fn: Callable[[], None]) -> None:
    """Run ``fn`` in a forked child that first moves itself into ``cgroup``; fail if it fails."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            fn()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child in the test cgroup failed"


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def gcc_or_skip() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to build the uprobe target")
    return gcc


#: gcc flags for a target whose user stacks the kernel can walk: it follows frame pointers, so
#: -O0, no inlining, frame pointers kept, in leaf functions too (arm64's GCC leaves them out of
#: leaves by default, and the walk, which reads only frame records, then skips the leaf's caller:
#: its return address is only in the link register)
FRAME_POINTER_FLAGS = ("-O0", "-fno-inline", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer")
