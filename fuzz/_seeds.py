"""Seed inputs for the fuzz targets: real objects, this machine's kernel BTF, real verifier logs.

Everything here is trusted input read once per process (cached):

- the BPF C programs under ``tests/bpf/`` compiled with ``tools/bpf_build``
  (skipped, with a log message, when clang is missing);
- closures of a few types of ``/sys/kernel/btf/vmlinux`` re-encoded as small
  standalone BTF blobs (the whole 5 MB blob would make every fuzz input slow);
- the verifier logs under ``fuzz/seeds/verifier/`` (captured from this
  kernel rejecting small programs).
"""

from __future__ import annotations

import functools
import logging
import struct
from pathlib import Path

from ebpf.btf import BtfBuilder, TypeGraph, from_bytes, load_vmlinux
from ebpf.syscall import NotSupportedError, ParseError

__all__ = [
    "ROOT",
    "SEED_DIR",
    "bpf_objects",
    "btf_blobs",
    "btf_ext_pairs",
    "elf_sections",
    "instruction_streams",
    "verifier_logs",
    "vmlinux_blobs",
]

log = logging.getLogger("ebpf.fuzz")

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = Path(__file__).resolve().parent / "seeds"
BPF_SOURCES = ROOT / "tests" / "bpf"

# Types whose closures stay small (a few to a few hundred types) but cover
# structs, unions, bitfields, enums, pointers, arrays, typedefs and functions.
VMLINUX_TYPES = (
    "xdp_md",
    "__sk_buff",
    "pt_regs",
    "trace_event_raw_sys_enter",
    "bpf_sock",
    "iphdr",
    "ipv6hdr",
    "tcphdr",
    "ethhdr",
    "bpf_perf_event_data",
    "bpf_attr",
    "bpf_func_id",
    "bpf_map_type",
    "timespec64",
    "bpf_dynptr",
)
_VMLINUX_FUNCS = ("bpf_check", "tcp_v4_connect", "do_sys_openat2")
_MAX_VMLINUX_BLOB = 64 * 1024

_SHDR = struct.Struct("<IIQQQQIIQQ")
_SHF_EXECINSTR = 0x4


@functools.cache
def bpf_objects() -> tuple[Path, ...]:
    """Every ``tests/bpf/**/*.c`` compiled to an object (those clang refuses are left out)."""
    try:
        from bpf_build import BpfBuildError, compile_bpf
    except ImportError:  # run from somewhere without tools/ on the path
        log.warning("tools/bpf_build.py is not importable: no object-file seeds")
        return ()
    objects: list[Path] = []
    for source in sorted(BPF_SOURCES.rglob("*.c")):
        try:
            objects.append(compile_bpf(source))
        except (BpfBuildError, OSError) as exc:  # e.g. sources that need a generated vmlinux.h
            log.info("no seed from %s: %s", source, str(exc).splitlines()[0])
    return tuple(objects)


def elf_sections(data: bytes) -> dict[str, tuple[int, bytes]]:
    """``{name: (sh_flags, contents)}`` of a trusted little-endian ELF64 object."""
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    str_off, str_size = headers[shstrndx][4], headers[shstrndx][5]
    names = data[str_off : str_off + str_size]
    out: dict[str, tuple[int, bytes]] = {}
    for name_off, sh_type, flags, _addr, offset, size, *_ in headers:
        name = names[name_off : names.index(b"\0", name_off)].decode()
        out[name] = (flags, b"" if sh_type == 8 else data[offset : offset + size])
    return out


@functools.cache
def _object_sections() -> tuple[dict[str, tuple[int, bytes]], ...]:
    return tuple(elf_sections(path.read_bytes()) for path in bpf_objects())


@functools.cache
def vmlinux_graph() -> TypeGraph | None:
    """This machine's kernel BTF, or None without it."""
    try:
        return load_vmlinux()
    except (NotSupportedError, ParseError, OSError) as exc:
        log.warning("no vmlinux BTF seeds: %s", exc)
        return None


@functools.cache
def vmlinux_blobs() -> tuple[bytes, ...]:
    """Small standalone BTF blobs, each the closure of one vmlinux type (those under 64 KiB)."""
    graph = vmlinux_graph()
    if graph is None:
        return ()
    blobs: list[bytes] = []
    for name in (*VMLINUX_TYPES, *_VMLINUX_FUNCS):
        try:
            root = graph.find(name)
        except (KeyError, LookupError, ParseError):
            continue
        builder = BtfBuilder()
        builder.copy_from(graph, root.id)
        blob = builder.build()
        if len(blob) <= _MAX_VMLINUX_BLOB:
            blobs.append(blob)
    return tuple(blobs)


@functools.cache
def btf_blobs() -> tuple[bytes, ...]:
    """The ``.BTF`` of every test object, then the vmlinux closures."""
    own = [sections[".BTF"][1] for sections in _object_sections() if ".BTF" in sections]
    return (*own, *vmlinux_blobs())


@functools.cache
def btf_ext_pairs() -> tuple[tuple[TypeGraph, bytes], ...]:
    """``(graph of the object's .BTF, its .BTF.ext)`` for every test object that has both."""
    pairs: list[tuple[TypeGraph, bytes]] = []
    for sections in _object_sections():
        if ".BTF" in sections and ".BTF.ext" in sections:
            pairs.append((from_bytes(sections[".BTF"][1]), sections[".BTF.ext"][1]))
    return tuple(pairs)


@functools.cache
def instruction_streams() -> tuple[bytes, ...]:
    """The executable sections of every test object (clang's instruction streams)."""
    return tuple(
        contents
        for sections in _object_sections()
        for flags, contents in sections.values()
        if flags & _SHF_EXECINSTR and contents
    )


@functools.cache
def verifier_logs() -> tuple[str, ...]:
    """Verifier logs this kernel wrote (``fuzz/seeds/verifier/*.log``)."""
    return tuple(path.read_text() for path in sorted((SEED_DIR / "verifier").glob("*.log")))
