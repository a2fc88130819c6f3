"""examples/python_calls.py: the Python calls of another Python process, from CPython's USDT probes.

A script run by Debian's ``/usr/bin/python3.11`` (built with the probes)
calls known functions a known number of times, some of them under a
profile function (CPython 3.11 fires ``function__entry`` only then, so only
those are timed); the example, attached by pid, must report each with its
name, file, line and exact count. Its BPF side is the ``pycalls`` tool's
(``tests/core/test_core_tool_objects.py`` checks the committed objects).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from core._cli import CHILD_TIMEOUT, child_env

from ebpf.elf import usdt_probes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PYTHON = Path("/usr/bin/python3.11")

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
