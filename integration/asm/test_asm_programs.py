"""Programs written with the ebpf.asm DSL load on the running kernel and compute what they should.

Each program is assembled, loaded with ``ebpf.syscall`` and run with
``BPF_PROG_TEST_RUN``; the tests check the value it returned and what it
left in its maps. Needs root.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Iterator, Sequence

import pytest

from ebpf import asm
from ebpf.asm import DW, R0, R1, R2, R3, R4, R6, R10, B, H, Item, W, XdpAction, assemble, disassemble, label
from ebpf.syscall import commands, features
from ebpf.syscall.abi import MapType, ProgType
from ebpf.syscall.errors import VerifierError
from ebpf.syscall.fd import FD

PACKET = bytes(range(64))
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


def load(program: Sequence[Item], maps: dict[str, FD] | None = None, name: str = "asm_test") -> FD:
    return commands.prog_load(ProgType.XDP, assemble(program, maps=maps), name=name)


def run(program: Sequence[Item], maps: dict[str, FD] | None = None) -> int:
    """Load ``program`` as XDP, run it once on a 64-byte packet and return R0."""
    with load(program, maps) as prog:
        return commands.prog_test_run(prog, data_in=PACKET).retval


def returns(*body: Item) -> list[Item]:
    return [*body, asm.exit_()]


@pytest.fixture
def counters() -> Iterator[FD]:
    with commands.map_create(MapType.ARRAY, 4, 8, 4, name="asm_counters") as fd:
        yield fd


def read_u64(map_fd: FD, key: int) -> int:
    value = bytearray(8)
    commands.map_lookup_elem(map_fd, U32.pack(key), value)
    return int(U64.unpack(value)[0])


def test_arithmetic() -> None:
    program = returns(
        asm.mov(R0, 7),
        asm.mul(R0, 6),  # 42
        asm.add(R0, 3),  # 45
        asm.mov(R1, 4),
        asm.lsh(R0, R1),  # 720
        asm.sub(R0, 20),  # 700
        asm.div(R0, 3),  # 233
        asm.mod(R0, 100),  # 33
        asm.xor(R0, 0xF),  # 46
        asm.or_(R0, 0x100),  # 302
        asm.and_(R0, 0x1FE),  # 302
        asm.neg(R0),  # -302
        asm.arsh(R0, 1),  # -151
        asm.neg(R0),  # 151
    )
    assert run(program) == 151


def test_loop_sums_one_to_one_hundred() -> None:
    program = returns(
        asm.mov(R0, 0),
        asm.mov(R1, 1),
        label("loop"),
        asm.add(R0, R1),
        asm.add(R1, 1),
        asm.jle(R1, 100, "loop"),
    )
    assert run(program) == 5050


@pytest.mark.requires_feature(features.ISA_V4)
def test_stack_stores_and_sign_extending_loads() -> None:
    program = returns(
        asm.store(R10, -8, -2, DW),
        asm.store(R10, -12, 0x1234, W),
        asm.store(R10, -14, 0xBEEF, H),
        asm.mov(R1, 0x7F),
        asm.store(R10, -15, R1, B),
        asm.load(R0, R10, -8, B, signed=True),  # -2 as s8
        asm.load(R2, R10, -12, W),
        asm.add(R0, R2),  # 0x1232
        asm.load(R2, R10, -14, H),
        asm.add(R0, R2),  # 0x1232 + 0xbeef
        asm.load(R2, R10, -15, B),
        asm.add(R0, R2),
    )
    assert run(program) == 0x1232 + 0xBEEF + 0x7F


def test_map_lookup_and_atomics_move_the_counter(counters: FD) -> None:
    program = returns(
        asm.store(R10, -4, 1, W),  # key 1
        asm.ld_map_fd(R1, "counters"),
        asm.mov(R2, R10),
        asm.add(R2, -4),
        asm.call("map_lookup_elem"),
        asm.mov(R6, R0),
        asm.mov(R0, 999),
        asm.jeq(R6, 0, "out"),
        asm.mov(R1, 1),
        asm.atomic_add(R6, 0, R1, fetch=True),  # r1 = old value
        asm.mov(R2, 0x10),
        asm.atomic_or(R6, 0, R2),
        asm.mov(R2, ~0x10),
        asm.atomic_and(R6, 0, R2),
        asm.mov(R2, 0),
        asm.atomic_xor(R6, 0, R2, fetch=True),
        asm.mov(R0, R1),
        label("out"),
    )
    with load(program, {"counters": counters}) as prog:
        results = [commands.prog_test_run(prog, data_in=PACKET).retval for _ in range(3)]
    assert results == [0, 1, 2]
    assert read_u64(counters, 1) == 3
    assert read_u64(counters, 0) == 0


def test_xchg_and_cmpxchg(counters: FD) -> None:
    program = returns(
        asm.store(R10, -4, 2, W),
        asm.ld_map_fd(R1, "counters"),
        asm.mov(R2, R10),
        asm.add(R2, -4),
        asm.call("map_lookup_elem"),
        asm.jne(R0, 0, "found"),
        asm.exit_(),
        label("found"),
        asm.mov(R6, R0),
        asm.mov(R1, 40),
        asm.atomic_xchg(R6, 0, R1),  # value = 40, r1 = 0
        asm.mov(R3, R1),
        asm.mov(R0, 40),
        asm.mov(R2, 41),
        asm.atomic_cmpxchg(R6, 0, R2),  # value == r0: value = 41, r0 = 40
        asm.add(R0, R3),
    )
    assert run(program, {"counters": counters}) == 40
    assert read_u64(counters, 2) == 41


def test_helper_calls_by_name() -> None:
    program = returns(
        asm.call("ktime_get_ns"),
        asm.mov(R6, R0),
        asm.call("bpf_ktime_get_ns"),
        asm.sub(R0, R6),  # elapsed >= 0
        asm.mov(R1, R0),
        asm.mov(R0, XdpAction.DROP),
        asm.jsge(R1, 0, "ok"),
        asm.exit_(),
        label("ok"),
        asm.mov(R0, XdpAction.PASS),
    )
    assert run(program) == XdpAction.PASS


def test_jmp32_ignores_the_upper_half() -> None:
    program = returns(
        asm.lddw(R1, (1 << 32) | 5),
        asm.mov(R0, 0),
        asm.jeq(R1, 5, "wide_taken"),
        asm.add(R0, 1),
        label("wide_taken"),
        asm.jeq32(R1, 5, "narrow_taken"),
        asm.add(R0, 10),
        label("narrow_taken"),
        asm.mov32(R2, R1),  # zero-extends: r2 = 5
        asm.jne(R2, 5, "bad"),
        asm.jslt32(R1, -1, "bad"),
        asm.jset32(R1, 4, "done"),
        label("bad"),
        asm.mov(R0, 99),
        label("done"),
    )
    assert run(program) == 1


def test_bpf_to_bpf_call() -> None:
    program: list[Item] = [
        asm.mov(R1, 21),
        asm.call_func("double"),
        asm.exit_(),
        label("double"),
        asm.mov(R0, R1),
        asm.add(R0, R1),
        asm.exit_(),
    ]
    assert run(program) == 42


@pytest.mark.requires_feature(features.ISA_V4)
def test_cpu_v4_instructions() -> None:
    program = returns(
        asm.mov(R1, -100),
        asm.sdiv(R1, 7),  # -14
        asm.mov(R2, -100),
        asm.smod(R2, 7),  # -2
        asm.mov(R3, 0x1FF),
        asm.movsx(R3, R3, 8),  # -1
        asm.mov(R4, 0x1234),
        asm.bswap16(R4),  # 0x3412
        asm.jne(R1, -14, "fail"),
        asm.gotol("over"),
        label("fail"),
        asm.mov(R4, 0),
        label("over"),
        asm.mov32(R0, -7),
        asm.sdiv32(R0, 2),  # -3 (32-bit), zero-extended
        asm.movsx(R0, R0, 32),  # -3
        asm.add(R0, R1),  # -17
        asm.add(R0, R2),  # -19
        asm.add(R0, R3),  # -20
        asm.add(R0, R4),  # 0x3412 - 20
    )
    assert run(program) == 0x3412 - 20


def test_verifier_rejects_a_write_to_r10_built_by_hand() -> None:
    # The DSL refuses to build this; a raw Instruction still can, and the kernel says no.
    bad = [asm.Instruction(0xB7, 10, 0, 0, 1), asm.mov(R0, 0), asm.exit_()]
    with pytest.raises(VerifierError) as exc:
        load(bad)
    assert "frame pointer is read only" in "\n".join(exc.value.log)


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="needs bpftool (Debian: apt-get install bpftool)")
def test_verifier_style_matches_bpftool_xlated() -> None:
    program = returns(
        asm.call("get_prandom_u32"),  # a value the verifier cannot predict: no dead code to remove
        asm.mov(R6, R0),
        asm.mov(R0, 3),
        asm.mov32(R1, -1),
        asm.store(R10, -8, R6, DW),
        asm.load(R2, R10, -8, W),
        asm.jgt(R2, 5, "big"),
        asm.add(R0, 1),
        label("big"),
        asm.jne32(R2, R1, "big2"),
        asm.lsh(R0, 2),
        label("big2"),
        asm.be16(R0),
    )
    with load(program, name="asm_xlated") as prog:
        prog_id = commands.prog_info(prog).id
        out = subprocess.run(
            ["bpftool", "-j", "prog", "dump", "xlated", "id", str(prog_id)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    xlated = [entry["disasm"] for entry in json.loads(out)]
    ours = [line.split(": ", 1)[1] for line in disassemble(assemble(program), style="verifier").splitlines()]
    assert len(ours) == len(xlated) == 12
    # The kernel rewrites a helper call into a call of its implementation (bpf_user_rnd_u32#<address>).
    assert xlated[0].startswith("(85) call ")
    assert ours[0] == "(85) call bpf_get_prandom_u32#7"
    assert ours[1:] == xlated[1:]
