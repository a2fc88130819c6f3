"""Uprobes and uretprobes on a function of a test binary fire for each call, then stop."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from progs._progs_support import Counter, gcc_or_skip

from ebpf.progs import Program, ProgramSpec, attach_uprobe, attach_uprobe_multi
from ebpf.syscall import AttachType, LinkType, features

SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int ebpf_probe_target(int x) {
    __asm__ volatile("" ::: "memory");
    return x + 1;
}

int main(int argc, char **argv) {
    char line[8];
    int n = argc > 1 ? atoi(argv[1]) : 1, sum = 0;
    if (argc > 2 && !fgets(line, sizeof line, stdin))  /* wait until told to go */
        return 2;
    for (int i = 0; i < n; i++)
        sum += ebpf_probe_target(i);
    return sum < 0;
}
"""


def _file_offset(binary: Path, symbol: str) -> int:
    """The file offset of ``symbol``: its address mapped through the executable PT_LOAD segment."""
    data = binary.read_bytes()
    out = subprocess.run(["nm", "--defined-only", str(binary)], capture_output=True, text=True, check=True)
    address = next(
        int(f[0], 16) for f in (line.split() for line in out.stdout.splitlines()) if f[-1] == symbol
    )
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == 1 and p_flags & 1 and p_vaddr <= address < p_vaddr + p_filesz:
            return int(address - p_vaddr + p_offset)
    raise AssertionError(f"{symbol} is in no executable segment of {binary}")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    gcc = gcc_or_skip()
    workdir = tmp_path_factory.mktemp("uprobe")
    (workdir / "target.c").write_text(SOURCE)
    binary = workdir / "target"
    subprocess.run([gcc, "-O1", "-o", str(binary), str(workdir / "target.c")], check=True)
    return binary, _file_offset(binary, "ebpf_probe_target")


def _run(binary: Path, calls: int) -> None:
    subprocess.run([str(binary), str(calls)], check=True)


@pytest.mark.parametrize("retprobe", [False, True], ids=["uprobe", "uretprobe"])
@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "perf_ioctl"])
def test_uprobe_counts_calls_then_stops(
    counter: Counter, target: tuple[Path, int], retprobe: bool, legacy: bool
) -> None:
    binary, offset = target
    with Program.load(counter.spec("uprobe")) as prog:
        link = attach_uprobe(prog, binary, offset, retprobe=retprobe, legacy=legacy)
        assert link.info().mechanism == ("perf_event" if legacy else "bpf_link")
        _run(binary, 7)
        assert counter.value == 7
        link.close()
        _run(binary, 7)
        assert counter.value == 7


def test_uprobe_pid_filter(counter: Counter, target: tuple[Path, int]) -> None:
    binary, offset = target
    with (
        Program.load(counter.spec("uprobe")) as prog,
        subprocess.Popen([str(binary), "4", "wait"], stdin=subprocess.PIPE) as watched,
        attach_uprobe(prog, binary, offset, pid=watched.pid),
    ):
        _run(binary, 3)  # another process: not counted
        assert watched.stdin is not None
        watched.stdin.write(b"go\n")
        watched.stdin.close()
        assert watched.wait() == 0
        assert counter.value == 4


@pytest.mark.requires_feature(features.UPROBE_MULTI)
def test_uprobe_multi_counts_calls(counter: Counter, target: tuple[Path, int]) -> None:
    binary, offset = target
    spec = ProgramSpec.from_section("uprobe.multi", counter.program(), name="multi")
    assert spec.expected_attach_type == AttachType.TRACE_UPROBE_MULTI
    with Program.load(spec) as prog:
        link = attach_uprobe_multi(prog, binary, [offset], cookies=[1])
        assert link.info().type == LinkType.UPROBE_MULTI
        _run(binary, 5)
        assert counter.value == 5
        link.close()
        _run(binary, 5)
        assert counter.value == 5


def test_uprobe_bad_input(counter: Counter, target: tuple[Path, int], tmp_path: Path) -> None:
    binary, offset = target
    with Program.load(counter.spec("uprobe")) as prog:
        with pytest.raises(FileNotFoundError):
            attach_uprobe(prog, tmp_path / "missing", offset)
        with pytest.raises(ValueError, match="negative"):
            attach_uprobe(prog, binary, -1)
        with pytest.raises(TypeError, match="TRACE_UPROBE_MULTI"):
            attach_uprobe_multi(prog, binary, [offset])
    with Program.load(counter.spec("socket")) as other, pytest.raises(TypeError, match="KPROBE"):
        attach_uprobe(other, binary, offset)
