"""The syscall numbers and syscall-function names the library uses match the running kernel's own tables.

The library calls ``bpf(2)`` and ``perf_event_open(2)`` by number, from a
per-architecture table (``ebpf.syscall._sysnum``), and names syscall entry
points for kprobes with a per-architecture prefix (``__x64_sys_``,
``__arm64_sys_``; ``ebpf.progs.syscall_function``). These tests check both
against the kernel that runs them, on whatever architecture that is (the
arm64 guests of ``make vm-test KERNEL=arm64`` run them on aarch64):

- **Numbers.** At boot the kernel walks its own ``sys_call_table`` and
  names each slot by the symbol of the function in it
  (``init_ftrace_syscalls()``: ``syscall_nr_to_meta``), so the tracepoint
  ``syscalls/sys_enter_<name>`` fires exactly when the syscall *number*
  entered is the kernel's ``<name>``. A test enables that tracepoint in a
  tracing instance of its own, filtered to its thread, makes the call with
  the library's number and harmless arguments (an unknown ``bpf`` command,
  a NULL ``perf_event_open`` attr: both fail before doing anything) that
  carry a marker, and finds the event with the marker in the instance's
  trace. A wrong number would run another syscall (or none), and the event
  would not appear. ``getpid`` is checked the same way through libc as a
  control: the mechanism itself works.
- **Prefixes.** The function the library names for a syscall is a text
  symbol of ``/proc/kallsyms``, with the architecture's expected prefix;
  the kprobe tests of ``integration/progs`` then attach to it and see it
  fire.
"""

from __future__ import annotations

import ctypes
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ebpf.progs import syscall_function, syscall_prefix
from ebpf.syscall._sysnum import syscall_numbers

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_EXPECTED_PREFIX = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}
_MARKER = 0x5EB9F
"""A value the calls below pass in a harmless argument, to find their events in the trace."""


def _tracefs() -> Path:
    for candidate in (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing")):
        if (candidate / "instances").is_dir():
            return candidate
    pytest.skip("tracefs (with instances) is not mounted")


@pytest.fixture
def syscall_trace(kernel_filesystems: None) -> Iterator[Callable[[str, Callable[[], object]], list[str]]]:
    """``trace(name, call)``: the ``sys_enter_<name>`` events of this thread while ``call()`` runs."""
    instance = _tracefs() / "instances" / f"ebpf-sysnum-{uuid.uuid4().hex[:8]}"
    instance.mkdir()
    enabled: list[Path] = []

    def trace(name: str, call: Callable[[], object]) -> list[str]:
        event = instance / "events" / "syscalls" / f"sys_enter_{name}"
        if not event.is_dir():
            pytest.skip(f"no syscalls/sys_enter_{name} tracepoint (a kernel without CONFIG_FTRACE_SYSCALLS)")
        (event / "filter").write_text(f"common_pid == {threading.get_native_id()}\n")
        (event / "enable").write_text("1\n")
        enabled.append(event)
        try:
            call()
        finally:
            (event / "enable").write_text("0\n")
        return [line for line in (instance / "trace").read_text().splitlines() if f"sys_{name}(" in line]

    try:
        yield trace
    finally:
        for event in enabled:
            (event / "enable").write_text("0\n")
        instance.rmdir()


def _syscall(number: int, *args: int) -> int:
    return int(_libc.syscall(ctypes.c_long(number), *(ctypes.c_long(arg) for arg in args)))


def _has_marker(line: str) -> bool:
    return f"{_MARKER:x}" in line.split("(", 1)[1]


def test_getpid_control(syscall_trace: Callable[[str, Callable[[], object]], list[str]]) -> None:
    events = syscall_trace("getpid", os.getpid)
    assert events, "the syscall tracepoint did not fire for libc's getpid(): the check itself is broken"


def test_bpf_number_is_the_kernels(syscall_trace: Callable[[str, Callable[[], object]], list[str]]) -> None:
    number = syscall_numbers().bpf
    # bpf(cmd=_MARKER, attr=NULL, size=0): an unknown command, refused before anything else.
    events = syscall_trace("bpf", lambda: _syscall(number, _MARKER, 0, 0))
    assert [line for line in events if _has_marker(line)], (
        f"syscall({number}) did not enter the kernel's bpf syscall on {os.uname().machine}: {events}"
    )


def test_perf_event_open_number_is_the_kernels(
    syscall_trace: Callable[[str, Callable[[], object]], list[str]],
) -> None:
    number = syscall_numbers().perf_event_open
    # perf_event_open(attr=NULL, pid=_MARKER, ...): copying the NULL attr fails (EFAULT) first.
    events = syscall_trace("perf_event_open", lambda: _syscall(number, 0, _MARKER, -1, -1, 0))
    assert [line for line in events if _has_marker(line)], (
        f"syscall({number}) did not enter the kernel's perf_event_open on {os.uname().machine}: {events}"
    )


def _text_symbols(names: set[str]) -> dict[str, str]:
    """``name -> type letter`` of those of ``names`` that ``/proc/kallsyms`` lists."""
    found: dict[str, str] = {}
    with open("/proc/kallsyms") as kallsyms:
        for line in kallsyms:
            fields = line.split()
            if len(fields) >= 3 and fields[2] in names:
                found[fields[2]] = fields[1]
    return found


@pytest.mark.parametrize("name", ["bpf", "perf_event_open", "getpid", "openat"])
def test_syscall_function_is_a_kernel_function(name: str) -> None:
    function = syscall_function(name)
    expected = _EXPECTED_PREFIX.get(os.uname().machine)
    if expected is not None:
        assert syscall_prefix() == expected
        assert function == expected + name
    symbols = _text_symbols({function})
    assert symbols.get(function, "").lower() == "t", f"{function} is not a text symbol in /proc/kallsyms"
