"""USDT probes: the SystemTap ``.note.stapsdt`` notes of executables and shared libraries.

``<sys/sdt.h>`` (``STAP_PROBEn(provider, name, ...)``) compiles a probe into a
``nop`` and an ``NT_STAPSDT`` note (type 3, owner ``"stapsdt"``) whose
descriptor holds three addresses (the ``nop``, the link-time address of the
``.stapsdt.base`` section, the probe's semaphore or 0) and three
NUL-terminated strings: provider, name, argument spec (see `_usdt_args`).

The notes are not allocated, so prelink does not adjust them: the difference
between ``.stapsdt.base``'s ``sh_addr`` and the base the note recorded is
added to the probe's address and its semaphore (SystemTap's rule; libbpf
applies it to the address only, which is the same for every file that was
not prelinked). A uprobe is placed at a file offset: the address minus the
``p_vaddr`` of the executable ``PT_LOAD`` segment that holds it plus its
``p_offset``, the same for position-independent files (PIE executables,
shared libraries) and fixed-address executables. A semaphore (a 2-byte
counter in ``.probes``, in a writable segment) is given to the kernel as a
file offset too, the uprobe's ``ref_ctr_offset``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ebpf.syscall.errors import ParseError

from . import _schema as s
from ._elf import PT_LOAD, ElfFile, ElfSegment, SectionType
from ._notes import notes_of
from ._symbols import find_library
from ._usdt_args import UsdtArgument, encode_usdt_spec, parse_usdt_arguments

__all__ = ["NT_STAPSDT", "UsdtProbe", "usdt_probes"]

#: The note type of a SystemTap probe (version 3 of the format, the one sdt.h writes).
NT_STAPSDT = 3
_OWNER = b"stapsdt"
_NOTE_SECTION = ".note.stapsdt"
_BASE_SECTION = ".stapsdt.base"
_ADDRESSES_SIZE = 24
#: ``PF_X``: an executable segment.
_PF_X = 1
#: ``ET_DYN``: a shared library or a position-independent executable.
_ET_DYN = 3
_ET_EXEC = 2
_MACHINES = {62: "x86_64", 183: "aarch64"}


@dataclass(frozen=True)
class UsdtProbe:
    """One USDT probe site of a binary, read from its ``.note.stapsdt`` note.

    ``location``, ``base`` and ``semaphore`` are the note's addresses as
    written; ``address`` and ``semaphore_address`` the same after the
    ``.stapsdt.base`` adjustment (equal unless the file was prelinked).
    ``file_offset`` is where a uprobe goes, ``semaphore_offset`` the uprobe's
    ``ref_ctr_offset`` (both file offsets; ``semaphore_offset`` is 0 when the
    probe has no semaphore). ``arguments`` are parsed from ``argument_spec``
    for ``machine`` (``"x86_64"`` or ``"aarch64"``). ``path`` is the file
    read; ``position_independent`` is true for shared libraries and PIE
    executables (``ET_DYN``: the address is relative to where the file is
    mapped). One probe name may have several sites (inlined copies), each its
    own ``UsdtProbe``.
    """

    path: str
    provider: str
    name: str
    address: int
    file_offset: int
    semaphore_address: int
    semaphore_offset: int
    argument_spec: str
    arguments: tuple[UsdtArgument, ...]
    location: int
    base: int
    semaphore: int
    machine: str
    position_independent: bool

    @property
    def qualified_name(self) -> str:
        """``provider:name``, as tools name probes."""
        return f"{self.provider}:{self.name}"

    def spec(self, cookie: int = 0) -> bytes:
        """This site's arguments as libbpf's ``struct __bpf_usdt_spec`` (208 bytes, in native byte order).

        Raises:
            ValueError: ``cookie`` is not an unsigned 64-bit value.
            LibraryLimitError: an argument ``usdt.bpf.h`` cannot read (see
                [`UsdtArgument.encode()`][ebpf.elf.UsdtArgument.encode]).
        """
        return encode_usdt_spec(self.arguments, cookie, byteorder=sys.byteorder)

    def describe(self) -> list[str]:
        """The arguments in words, one line each: ``"arg0: i64 in %rdi"``."""
        return [f"arg{i}: {arg.describe(self.machine)}" for i, arg in enumerate(self.arguments)]


def usdt_probes(binary: str | os.PathLike[str] | ElfFile) -> list[UsdtProbe]:
    """Every USDT probe site of ``binary``, in the order of its notes (empty when it has none).

    ``binary`` is an [`ElfFile`][ebpf.elf.ElfFile], a path, or a library
    name found as the dynamic loader would (``"libc.so.6"``, see
    [`find_library()`][ebpf.elf.find_library]).

    Examples:
        >>> [p.qualified_name for p in usdt_probes("/usr/bin/python3.11")][:2]  # doctest: +SKIP
        ['python:audit', 'python:gc__done']

    Raises:
        FileNotFoundError: no such file or library.
        ParseError: not an ELF64 executable or shared library, a malformed
            note, an argument spec that cannot be parsed, or an address in no
            suitable loadable segment.
        LibraryLimitError: probes of an architecture other than x86_64 and aarch64.
    """
    elf = binary if isinstance(binary, ElfFile) else ElfFile.from_file(find_library(binary))
    notes = elf.section(_NOTE_SECTION)
    if notes is None:
        return []
    if notes.type != SectionType.NOTE:
        raise ParseError(f"{elf.name}: {notes} is not a SHT_NOTE section (type {notes.type})")
    if elf.header.type not in (_ET_EXEC, _ET_DYN):
        raise ParseError(
            f"{elf.name}: ELF type {elf.header.type} is not an executable (2) or shared object (3): "
            "USDT probes are read from linked files"
        )
    machine = _MACHINES.get(elf.header.machine, f"machine {elf.header.machine}")
    base_section = elf.section(_BASE_SECTION)
    base_addr = base_section.addr if base_section is not None else 0
    loads = [seg for seg in elf.segments if seg.type == PT_LOAD]
    probes = []
    for at, owner, note_type, desc in notes_of(elf, notes):
        if owner != _OWNER or note_type != NT_STAPSDT:
            continue
        where = f"{elf.name}: {notes} note at offset {at}"
        addresses, provider, name, spec = _stapsdt(elf, desc, where)
        where = f"{elf.name}: USDT probe {provider}:{name} (note at offset {at} of {notes.name})"
        delta = base_addr - addresses.base if base_addr and addresses.base else 0
        address = addresses.location + delta
        sema = addresses.semaphore + delta if addresses.semaphore else 0
        code = _segment(loads, address, executable=True, what=f"{where}: address {address:#x}")
        sema_offset = 0
        if sema:
            data = _segment(loads, sema, executable=False, what=f"{where}: semaphore {sema:#x}")
            sema_offset = sema - data.vaddr + data.offset
        probes.append(
            UsdtProbe(
                path=elf.name,
                provider=provider,
                name=name,
                address=address,
                file_offset=address - code.vaddr + code.offset,
                semaphore_address=sema,
                semaphore_offset=sema_offset,
                argument_spec=spec,
                arguments=parse_usdt_arguments(spec, machine, what=where),
                location=addresses.location,
                base=addresses.base,
                semaphore=addresses.semaphore,
                machine=machine,
                position_independent=elf.header.type == _ET_DYN,
            )
        )
    return probes


def _stapsdt(elf: ElfFile, desc: bytes, where: str) -> tuple[s.StapsdtAddresses, str, str, str]:
    """The addresses, provider, name and argument spec of an ``NT_STAPSDT`` descriptor.

    Raises:
        ParseError: the descriptor is too short, a string is not NUL-terminated,
            or the name is empty.
    """
    if len(desc) < _ADDRESSES_SIZE + 3:
        raise ParseError(
            f"{where}: descriptor of {len(desc)} bytes is shorter than 3 addresses and 3 strings "
            f"({_ADDRESSES_SIZE + 3} bytes)"
        )
    addresses: s.StapsdtAddresses = s.STAPSDT_ADDRESSES.parse(
        desc[:_ADDRESSES_SIZE], little=elf.little_endian
    )
    strings = desc[_ADDRESSES_SIZE:]
    fields = []
    at = 0
    for field in ("provider", "name", "argument spec"):
        end = strings.find(b"\0", at)
        if end < 0:
            raise ParseError(f"{where}: the {field} string is not NUL-terminated")
        fields.append(strings[at:end].decode("utf-8", "replace"))
        at = end + 1
    provider, name, spec = fields
    if not name:
        raise ParseError(f"{where}: the probe name is empty")
    return addresses, provider, name, spec


def _segment(loads: list[ElfSegment], address: int, *, executable: bool, what: str) -> ElfSegment:
    """The ``PT_LOAD`` segment holding ``address``, which must (or must not) be executable.

    Raises:
        ParseError: no loadable segment holds ``address``, or the one that
            does is (or is not) executable.
    """
    for seg in loads:
        if seg.vaddr <= address < seg.vaddr + seg.memsz:
            if bool(seg.flags & _PF_X) != executable:
                kind = "not executable" if executable else "executable"
                raise ParseError(
                    f"{what} is in the {kind} segment [{seg.vaddr:#x}, {seg.vaddr + seg.memsz:#x})"
                )
            return seg
    raise ParseError(f"{what} is in no loadable segment")
