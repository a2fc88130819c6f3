"""Separate debug files: where distributions put the full symbol table of a stripped binary.

A stripped executable or library keeps only ``.dynsym``; its ``.symtab``
(static functions included) may be installed apart (Debian's ``-dbg``/
``-dbgsym`` packages, Fedora's ``debuginfo``), found as gdb finds it:

- by build id (the ``NT_GNU_BUILD_ID`` note): ``/usr/lib/debug/.build-id/ab/cdef....debug``;
- by ``.gnu_debuglink`` (a file name and the CRC-32 of that file), looked
  for beside the binary, in its ``.debug/`` directory and under
  ``/usr/lib/debug`` plus the binary's directory.
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from ebpf.syscall.errors import ParseError

from ._elf import ElfFile, SectionType
from ._notes import notes_of

__all__ = ["DEBUG_ROOT", "build_id", "debug_file", "debuglink"]

logger = logging.getLogger("ebpf.elf")

#: Where separate debug files are installed.
DEBUG_ROOT = Path("/usr/lib/debug")
#: ``NT_GNU_BUILD_ID``: the note whose descriptor is the build id.
NT_GNU_BUILD_ID = 3
_PROC_ROOT = re.compile(r"^/proc/\d+/root/")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def build_id(elf: ElfFile) -> bytes | None:
    """The build id of ``elf`` (the ``NT_GNU_BUILD_ID`` note of its ``SHT_NOTE`` sections), or ``None``.

    A malformed note is treated as absent: a build id only finds a debug
    file, it is never required.
    """
    for section in elf.sections:
        if section.type != SectionType.NOTE:
            continue
        try:
            notes = notes_of(elf, section)
        except ParseError:
            continue
        for note in notes:
            if note.type == NT_GNU_BUILD_ID and note.owner == b"GNU":
                return note.descriptor or None
    return None


def debuglink(elf: ElfFile) -> tuple[str, int] | None:
    """``(file name, CRC-32)`` from the ``.gnu_debuglink`` section of ``elf``, or ``None``."""
    section = elf.section(".gnu_debuglink")
    if section is None:
        return None
    try:
        data = elf.section_data(section)
    except ParseError:
        return None
    end = data.find(b"\0")
    crc_at = _align4(end + 1)
    if end <= 0 or crc_at + 4 > len(data):
        return None
    (crc,) = struct.unpack_from("<I" if elf.little_endian else ">I", data, crc_at)
    return data[:end].decode("utf-8", "replace"), crc


def _crc32(path: Path) -> int | None:
    crc = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
    except OSError:
        return None
    return crc


def debug_file(path: Path, elf: ElfFile, roots: Sequence[Path] = (DEBUG_ROOT,)) -> Path | None:
    """The separate debug file of ``elf`` (read from ``path``), or ``None`` when none is installed.

    Looked up by build id first, then by ``.gnu_debuglink`` (whose CRC must
    match), under each of ``roots``.
    """
    identity = build_id(elf)
    if identity is not None and len(identity) >= 2:
        text = identity.hex()
        for root in roots:
            candidate = root / ".build-id" / text[:2] / f"{text[2:]}.debug"
            if candidate.is_file():
                return candidate
    link = debuglink(elf)
    if link is None:
        return None
    name, crc = link
    directory = path.parent
    candidates = [directory / name, directory / ".debug" / name]
    # under a debug root, the directory as the binary's own system names it (not /proc/PID/root/...)
    inside = _PROC_ROOT.sub("/", directory.as_posix())
    candidates += [root / inside.lstrip("/") / name for root in roots]
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != path.resolve():
            if _crc32(candidate) == crc:
                return candidate
            logger.debug("%s: debug link %s has another CRC-32; ignored", path, candidate)
    return None
