"""examples/python_calls.py: the Python calls of another Python process, from CPython's USDT probes.

A script run by Debian's ``/usr/bin/python3.11`` (built with the probes)
calls known functions a known number of times, some of them under a
profile function (CPython 3.11 fires ``function__entry`` only then, so only
those are timed); the example, attached by pid, must report each with its
name, file, line and exact count. Its BPF objects are committed: a second
test checks they are what their source compiles to.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bpf_build import clang_version, compile_bpf
from core._cli import CHILD_TIMEOUT, child_env

from ebpf.elf import CollectionSpec, usdt_probes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PYTHON = Path("/usr/bin/python3.11")
OBJECTS = {
    "x86": EXAMPLES / "bpf" / "python_calls.x86.bpf.o",
    "arm64": EXAMPLES / "bpf" / "python_calls.arm64.bpf.o",
}
SOURCE = EXAMPLES / "bpf" / "python_calls.bpf.c"

WORKLOAD = """\
import sys


def alpha(n):
    return n + 1


def gamma(x):
    return x * 2


def beta(n):
    return gamma(n) + gamma(n + 1)


sys.stdin.readline()
for i in range(7):
    alpha(i)
sys.setprofile(slice)  # a profile function written in C: CPython 3.11 fires function__entry now
for i in range(3):
    beta(i)
sys.setprofile(None)
"""
# (function, line it returns from): calls, timed calls
EXPECTED = {("alpha", 5): (7, 0), ("gamma", 9): (6, 6), ("beta", 13): (3, 3)}
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+) \((.+):(\d+)\)$")


def _python_with_probes() -> Path:
    if not PYTHON.is_file():
        pytest.skip(f"{PYTHON} is not installed (apt-get install python3.11)")
    names = {probe.qualified_name for probe in usdt_probes(PYTHON)}
    if not {"python:function__entry", "python:function__return"} <= names:
        pytest.skip(f"{PYTHON} was built without USDT probes (--with-dtrace)")
    return PYTHON


def test_python_calls_counts_each_function_of_another_process(tmp_path: Path) -> None:
    python = _python_with_probes()
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    env = child_env()
    workload = subprocess.Popen([str(python), str(script)], stdin=subprocess.PIPE, text=True)
    try:
        example = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "python_calls.py"), "-p", str(workload.pid)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert example.stdout is not None
        first = example.stdout.readline()
        assert first.startswith(f"Tracing Python calls of pid {workload.pid} ({python})"), (
            first + example.communicate(timeout=CHILD_TIMEOUT)[1]
        )
        assert workload.stdin is not None
        workload.stdin.write("go\n")
        workload.stdin.close()
        assert workload.wait(timeout=CHILD_TIMEOUT) == 0
        out, err = example.communicate(timeout=CHILD_TIMEOUT)  # it stops when the process exits
    finally:
        if workload.poll() is None:
            workload.kill()
            workload.wait()
    assert example.returncode == 0, err
    seen = {}
    for line in out.splitlines():
        row = ROW.match(line)
        if row is not None and row[7] == str(script):
            calls, timed, total, _average, longest, function, _file, lineno = row.groups()
            seen[function, int(lineno)] = (int(calls), int(timed))
            if int(timed):
                assert float(total) > 0
                assert float(longest) > 0
            else:
                assert (total, longest) == ("-", "-")
    assert seen == {**EXPECTED, ("<module>", 22): (1, 0)}  # the module returns from its last line
    assert re.search(r"\d+ functions, \d+ calls, 9 timed", out)


@pytest.mark.parametrize("arch", sorted(OBJECTS))
def test_committed_objects_match_their_source(arch: str) -> None:
    """The shipped objects are what python_calls.bpf.c compiles to (with the clang it names)."""
    built_with = re.search(r"Built with: (.+)", SOURCE.read_text())
    assert built_with is not None
    if built_with[1].strip() not in clang_version():
        pytest.skip(f"the objects were built with {built_with[1].strip()}, this host has {clang_version()}")
    extra = ("-I/usr/include/x86_64-linux-gnu",) if arch == "arm64" and os.uname().machine == "x86_64" else ()
    if arch == "x86" and not Path("/usr/include/x86_64-linux-gnu/asm/ptrace.h").exists():
        pytest.skip("rebuilding the x86 object needs x86's UAPI headers (linux-libc-dev:amd64)")
    fresh = CollectionSpec.from_file(compile_bpf(SOURCE, cflags=(f"-D__TARGET_ARCH_{arch}", *extra)))
    shipped = CollectionSpec.from_file(OBJECTS[arch])
    assert {name: p.instructions for name, p in shipped.programs.items()} == {
        name: p.instructions for name, p in fresh.programs.items()
    }, f"rebuild {OBJECTS[arch].name} as python_calls.bpf.c says"

    def layout(spec: CollectionSpec) -> dict[str, tuple[int | None, ...]]:
        return {
            name: (m.type, m.key_size, m.value_size, m.max_entries, m.flags) for name, m in spec.maps.items()
        }

    assert layout(shipped) == layout(fresh)
