"""System call numbers per architecture.

``bpf(2)`` and ``perf_event_open(2)`` have no libc wrappers, so they are
called through ``syscall(2)`` with the number of the running architecture.
The numbers come from each architecture's syscall table
(``arch/x86/entry/syscalls/syscall_64.tbl``, and the generic table
``include/uapi/asm-generic/unistd.h`` used by arm64, riscv64 and loongarch64).
"""

from __future__ import annotations

import os

__all__ = ["SyscallNumbers", "syscall_numbers"]


class SyscallNumbers:
    """The numbers of the system calls the library makes."""

    __slots__ = ("bpf", "perf_event_open")

    def __init__(self, bpf: int, perf_event_open: int) -> None:
        self.bpf = bpf
        self.perf_event_open = perf_event_open


_GENERIC = SyscallNumbers(bpf=280, perf_event_open=241)

_TABLE: dict[str, SyscallNumbers] = {
    "x86_64": SyscallNumbers(bpf=321, perf_event_open=298),
    "aarch64": _GENERIC,
    "arm64": _GENERIC,
    "riscv64": _GENERIC,
    "loongarch64": _GENERIC,
    "i386": SyscallNumbers(bpf=357, perf_event_open=336),
    "i686": SyscallNumbers(bpf=357, perf_event_open=336),
    "armv7l": SyscallNumbers(bpf=386, perf_event_open=364),
    "ppc64le": SyscallNumbers(bpf=361, perf_event_open=319),
    "s390x": SyscallNumbers(bpf=351, perf_event_open=331),
}


def syscall_numbers(machine: str | None = None) -> SyscallNumbers:
    """The syscall numbers for ``machine`` (default: the running one, ``uname -m``).

    Raises:
        NotImplementedError: the architecture is not in the table.
    """
    machine = machine or os.uname().machine  # platform.machine(), without importing platform
    try:
        return _TABLE[machine]
    except KeyError:
        known = ", ".join(sorted(_TABLE))
        raise NotImplementedError(f"no syscall table for architecture {machine!r} (known: {known})") from None
