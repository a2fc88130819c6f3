"""Uprobes by symbol name: a function of a test binary and one of libc, counted then stopped."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from progs._progs_support import gcc_or_skip

from ebpf.asm import (
    R0,
    R1,
    R2,
    R10,
    W,
    add,
    assemble,
    atomic_add,
    call,
    exit_,
    jeq,
    label,
    ld_map_fd,
    mov,
    store,
)
from ebpf.elf import attach_uprobe_symbol
from ebpf.maps import ArrayMap, MapSpec, u64
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import MapType

TARGET = r"""
__attribute__((noinline)) int ebpf_symbol_target(int x) {
    __asm__ volatile("" ::: "memory");
    return x + 1;
}
int main(int argc, char **argv) {
    int sum = 0;
    for (int i = 0; i < 5; i++)
        sum += ebpf_symbol_target(i);
    return sum < 0;
}
"""


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = gcc_or_skip()
    workdir = tmp_path_factory.mktemp("uprobe_symbol")
    (workdir / "target.c").write_text(TARGET)
    subprocess.run([gcc, "-O1", "-o", str(workdir / "target"), str(workdir / "target.c")], check=True)
    return workdir / "target"


@pytest.fixture
def counted() -> Iterator[tuple[ArrayMap[int], Program]]:
    """A one-slot counter and a uprobe program that increments it."""
    with ArrayMap[int].create(MapSpec(MapType.ARRAY, name="uprobe_calls", value=u64, max_entries=1)) as calls:
        code = assemble(
            [
                store(R10, -4, 0, W),
                ld_map_fd(R1, "calls"),
                mov(R2, R10),
                add(R2, -4),
                call("map_lookup_elem"),
                jeq(R0, 0, "out"),
                mov(R1, 1),
                atomic_add(R0, 0, R1),
                label("out"),
                mov(R0, 0),
                exit_(),
            ],
            maps={"calls": calls},
        )
        with Program.load(ProgramSpec.from_section("uprobe", code, name="symbol_probe")) as prog:
            yield calls, prog


def test_uprobe_on_a_function_of_an_executable(counted: tuple[ArrayMap[int], Program], binary: Path) -> None:
    calls, prog = counted
    with attach_uprobe_symbol(prog, binary, "ebpf_symbol_target"):
        subprocess.run([str(binary)], check=True)
        assert calls[0] == 5
    subprocess.run([str(binary)], check=True)
    assert calls[0] == 5  # detached: no more counts


def test_uprobe_on_a_libc_function_for_this_process(counted: tuple[ArrayMap[int], Program]) -> None:
    calls, prog = counted
    # os.getpid() calls libc's getpid(); the pid filter ignores every other process.
    with attach_uprobe_symbol(prog, "libc.so.6", "getpid", pid=os.getpid()):
        for _ in range(10):
            os.getpid()
        assert calls[0] >= 10
    before = calls[0]
    os.getpid()
    assert calls[0] == before


def test_unknown_symbol_attaches_nothing(counted: tuple[ArrayMap[int], Program], binary: Path) -> None:
    _calls, prog = counted
    with pytest.raises(KeyError, match="no_such_function"):
        attach_uprobe_symbol(prog, binary, "no_such_function")
    with pytest.raises(FileNotFoundError):
        attach_uprobe_symbol(prog, "libdoesnotexist.so.9", "f")
    with pytest.raises(ValueError, match="offset"):
        attach_uprobe_symbol(prog, binary, "ebpf_symbol_target", offset=-1)
