"""Symbol lookup in executables and shared libraries, for uprobes.

A uprobe is placed at a *file offset*: the symbol's address minus the
``p_vaddr`` of the loadable segment that contains it, plus that segment's
``p_offset`` (what libbpf's ``elf_sym_offset`` computes). Libraries named
without a path (``"libc.so.6"``) are found as the dynamic loader would:
through ``/etc/ld.so.cache``, then ``LD_LIBRARY_PATH`` and the standard
directories. Versioned names (``"memcpy@@GLIBC_2.14"``, ``"memcpy@GLIBC_2.2.5"``)
pick one version; a plain name prefers the default version.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ebpf.syscall.errors import ParseError

from ._elf import PT_LOAD, ElfFile, ElfSymbol, SymbolType

__all__ = ["find_library", "symbol_offset", "uprobe_target"]

LD_SO_CACHE = Path("/etc/ld.so.cache")
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
# after the 20-byte magic: nlibs, len_strings, flags (u8 + 3 pad), extension_offset, 3 unused u32
_NEW_HEADER = struct.Struct("<II4xI12x")
_NEW_ENTRY = struct.Struct("<iIIIQ")  # flags, key, value, osversion, hwcap
_CODE_TYPES = (SymbolType.FUNC, SymbolType.GNU_IFUNC, SymbolType.OBJECT, SymbolType.NOTYPE)


def _ld_so_cache(path: Path = LD_SO_CACHE) -> dict[str, str]:
    """``{soname: path}`` from glibc's loader cache (empty when there is none or it is not glibc's)."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    start = data.find(_NEW_MAGIC)
    if start < 0 or start + len(_NEW_MAGIC) + _NEW_HEADER.size > len(data):
        return {}
    nlibs, _len_strings, _ext = _NEW_HEADER.unpack_from(data, start + len(_NEW_MAGIC))
    entries = start + len(_NEW_MAGIC) + _NEW_HEADER.size
    found: dict[str, str] = {}

    def string(offset: int) -> str:
        # string offsets count from the start of the new-format header
        at = start + offset
        end = data.find(b"\0", at)
        return data[at:end].decode("utf-8", "replace") if 0 <= at < len(data) and end > 0 else ""

    for i in range(nlibs):
        at = entries + i * _NEW_ENTRY.size
        if at + _NEW_ENTRY.size > len(data):
            break
        _flags, key, value, _osv, _hwcap = _NEW_ENTRY.unpack_from(data, at)
        found.setdefault(string(key), string(value))
    return found


def find_library(name: str | os.PathLike[str]) -> Path:
    """The file of a shared library or executable: a path as given, else found like ``ld.so`` would.

    Raises:
        FileNotFoundError: no such file, in the loader cache or the library directories.
    """
    text = os.fspath(name)
    if "/" in text:
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f"no file at {path}")
        return path
    cached = _ld_so_cache().get(text)
    if cached and Path(cached).is_file():
        return Path(cached)
    machine = os.uname().machine
    directories = [*filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(":"))]
    directories += [
        f"/lib/{machine}-linux-gnu",
        f"/usr/lib/{machine}-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ]
    for directory in directories:
        candidate = Path(directory) / text
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"library {text!r} is not in {LD_SO_CACHE} nor in {', '.join(directories)}")


def _pick(symbols: list[ElfSymbol], name: str) -> ElfSymbol | None:
    wanted, at, version = name.partition("@")
    hidden_ok = not version.startswith("@")
    version = version.lstrip("@")
    matches = [
        sym
        for sym in symbols
        if sym.name == wanted and not sym.undefined and sym.type in _CODE_TYPES and sym.value
    ]
    if at:
        matches = [sym for sym in matches if sym.version == version and (hidden_ok or sym.default_version)]
    matches.sort(key=lambda sym: not sym.default_version)
    return matches[0] if matches else None


def symbol_offset(elf: ElfFile, symbol: str) -> int:
    """The file offset of ``symbol`` (``name``, ``name@VERSION`` or ``name@@VERSION``) in ``elf``.

    Raises:
        KeyError: no defined function or object of that name.
        ParseError: the address is in no loadable segment.
    """
    found = _pick(elf.symbols, symbol) or _pick(elf.dynamic_symbols, symbol)
    if found is None:
        raise KeyError(f"{elf.name}: no defined symbol {symbol!r}")
    for segment in elf.segments:
        if segment.type == PT_LOAD and segment.vaddr <= found.value < segment.vaddr + segment.filesz:
            return found.value - segment.vaddr + segment.offset
    if not elf.segments and 0 < found.shndx < len(elf.sections):  # a relocatable object: section offsets
        return found.value + elf.sections[found.shndx].offset
    raise ParseError(f"{elf.name}: symbol {symbol!r} at {found.value:#x} is in no loadable segment")


def uprobe_target(binary: str | os.PathLike[str], symbol: str) -> tuple[Path, int]:
    """``(path, file offset)`` of ``symbol`` in ``binary``, ready for ``ebpf.progs.attach_uprobe``.

    Examples:
        >>> path, offset = uprobe_target("libc.so.6", "malloc")  # doctest: +SKIP
        >>> link = attach_uprobe(program, path, offset)          # doctest: +SKIP

    Raises:
        FileNotFoundError: the binary or library cannot be found.
        KeyError: no such symbol.
        ParseError: the file is not a valid ELF64 file.
    """
    path = find_library(binary)
    return path, symbol_offset(ElfFile.from_file(path), symbol)
