"""Fuzz target: whole ELF object files read by ``ebpf.btf.load_file`` (its ELF section lookup).

The input is written to an anonymous memory file and loaded by path, as a
user loads an object or a ``vmlinux`` image; the types are then printed.
This fuzzes ``ebpf.btf``'s own minimal ELF reader; ``ebpf.elf``'s full
object parser has its own target (``fuzz_elf``).

Only ``ParseError`` may come out.
"""

from __future__ import annotations

import os

from ebpf.btf import load_file
from ebpf.syscall import ParseError
from fuzz import _seeds

NAME = "btf_elf"
ALLOWED: tuple[type[BaseException], ...] = (ParseError,)


def one_input(data: bytes) -> None:
    """Load ``data`` as an ELF object's BTF; only ParseError may escape."""
    fd = os.memfd_create("fuzz-object", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        try:
            graph = load_file(f"/proc/self/fd/{fd}")
            for t in graph:
                str(t)
        except ALLOWED:
            pass
    finally:
        os.close(fd)


def seeds() -> list[bytes]:
    """Every compiled test object."""
    return [path.read_bytes() for path in _seeds.bpf_objects()]
