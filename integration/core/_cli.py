"""Run the ``ebpf`` command (``python -m ebpf.core``) and bpftool as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

#: Seconds before a child interpreter counts as hung. Only a hang should hit it: in the kernel VMs,
#: under CPU emulation, a command or example that compiles C with clang takes minutes.
CHILD_TIMEOUT = 600.0


def child_env() -> dict[str, str]:
    """This environment with the suite's import path (pytest's pythonpath setting) for a child interpreter."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def ebpf(*args: str, check: bool = True, timeout: float = CHILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``ebpf ARGS...``; with ``check``, fail the test on a non-zero exit status."""
    result = subprocess.run(
        [sys.executable, "-m", "ebpf.core", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"ebpf {' '.join(args)} exited {result.returncode}: {result.stderr}", pytrace=False)
    return result


def ebpf_json(*args: str) -> Any:
    """The JSON that ``ebpf ARGS... --json`` prints."""
    return json.loads(ebpf(*args, "--json").stdout)


def bpftool_text(*args: str) -> str:
    """What ``bpftool ARGS...`` prints (the test is skipped without bpftool)."""
    tool = shutil.which("bpftool")
    if tool is None:
        pytest.skip("needs bpftool (Debian: apt-get install bpftool)")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True, timeout=120).stdout


def bpftool_json(*args: str) -> Any:
    """The JSON of ``bpftool -j ARGS...``."""
    return json.loads(bpftool_text("-j", *args))
