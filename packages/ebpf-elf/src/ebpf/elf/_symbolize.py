"""Instruction pointers of kernel and user stacks to function names: [`Symbolizer`][ebpf.elf.Symbolizer].

Kernel addresses go through [`KernelSymbols`][ebpf.elf.KernelSymbols] (``/proc/kallsyms``);
user addresses through the process's mappings ([`process_mappings()`][ebpf.elf.process_mappings])
and the symbol tables of the mapped files ([`FileSymbols`][ebpf.elf.FileSymbols]).

What is cached, and when it is dropped:

- the kernel's table: read once, at the first kernel address
  ([`clear()`][ebpf.elf.Symbolizer.clear] drops it, to see BPF programs and modules loaded since);
- each file's table: read once per file (device, inode, modification time), shared
  by every process that maps it;
- each process's mappings and resolved addresses: kept while the process
  lives; dropped when it has exited or its pid names another process
  (start time), and read again when an address lies in no known mapping
  (a library loaded since). A process that has exited can no longer be
  symbolized, so resolve the stacks of short-lived processes while they run.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ebpf.syscall.errors import ParseError

from ._debuginfo import DEBUG_ROOT
from ._kernel_symbols import KernelSymbols
from ._procmaps import Mapping, process_mappings
from ._symtab import FileSymbols

__all__ = ["Frame", "Symbolizer"]

logger = logging.getLogger("ebpf.elf")


class Frame(NamedTuple):
    """One resolved instruction pointer.

    ``symbol`` is the function (``None`` when unknown) and ``offset`` the
    distance from its start; without a symbol, ``offset`` is the offset in
    ``module`` (the file offset for user code) or 0. ``module`` is the
    kernel module (``None`` for vmlinux), or for user code the path of the
    mapped file (``"[vdso]"``, ``""`` for anonymous memory, ``None`` when
    the address is in no mapping).
    """

    address: int
    symbol: str | None
    offset: int = 0
    module: str | None = None

    @property
    def name(self) -> str:
        """The symbol, or ``"[unknown]"`` (what flame graphs show for a frame without a name)."""
        return self.symbol if self.symbol is not None else "[unknown]"

    def __str__(self) -> str:
        where = f" [{self.module}]" if self.module else ""
        if self.symbol is None:
            return f"{self.address:#x}{where}"
        return f"{self.symbol}+{self.offset:#x}{where}"


@dataclass
class _Process:
    start_time: str
    mappings: list[Mapping]
    starts: list[int] = field(init=False)
    files: dict[int, FileSymbols | None] = field(default_factory=dict)  # mapping start -> table
    frames: dict[int, Frame] = field(default_factory=dict)  # address -> resolved frame

    def __post_init__(self) -> None:
        self.starts = [mapping.start for mapping in self.mappings]

    def mapping(self, address: int) -> Mapping | None:
        index = bisect.bisect_right(self.starts, address) - 1
        if index >= 0 and address < self.mappings[index].end:
            return self.mappings[index]
        return None


def _start_time(pid: int) -> str | None:
    """Field 22 of ``/proc/PID/stat`` (when the process started), or ``None`` if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces and ')'
    fields = text[text.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


class Symbolizer:
    """Resolves kernel and user instruction pointers to [`Frame`][ebpf.elf.Frame]s, with caches.

    Examples:
        >>> symbolizer = Symbolizer()                                   # doctest: +SKIP
        >>> ips = stacks.stack(stack_id)      # a StackTraceMap's stack  # doctest: +SKIP
        >>> [str(frame) for frame in symbolizer.stack(pid, ips)]        # doctest: +SKIP
        ['compute+0x1c [/usr/bin/app]', 'main+0x2f [/usr/bin/app]', ...]

    Safe to share between threads.
    """

    def __init__(
        self,
        *,
        kallsyms: Iterable[str] | None = None,
        debug_roots: Sequence[str | os.PathLike[str]] = (DEBUG_ROOT,),
        demangle: Callable[[str], str] | None = None,
    ) -> None:
        """Make a symbolizer; nothing is read until the first address.

        Args:
            kallsyms: lines in the format of ``/proc/kallsyms`` to use instead of it.
            debug_roots: where separate debug files are installed.
            demangle: applied to every user-space name (C++/Rust names stay
                mangled without it), e.g. ``itanium_demangler``'s
                ``lambda name: str(parse(name) or name)``; a name it
                raises on is left as it is.
        """
        self._kallsyms = None if kallsyms is None else list(kallsyms)
        self._debug_roots = tuple(Path(root) for root in debug_roots)
        self._demangle = demangle
        self._lock = threading.RLock()
        self._kernel: KernelSymbols | None = None
        self._kernel_frames: dict[int, Frame] = {}
        self._files: dict[tuple[int, int, int], FileSymbols | None] = {}
        self._processes: dict[int, _Process] = {}
        self._names: dict[str, str] = {}

    # ------------------------------------------------------------ kernel

    def kernel(self, address: int) -> Frame:
        """The kernel function at ``address`` (module ``None`` for vmlinux).

        Raises:
            OSError: ``/proc/kallsyms`` cannot be read (the first time).
        """
        return self.stack(None, [address], kernel=True)[0]

    def _kernel_stack(self, addresses: Iterable[int]) -> list[Frame]:
        with self._lock:
            if self._kernel is None:
                self._kernel = KernelSymbols(self._kallsyms)
            table, cache = self._kernel, self._kernel_frames
            frames = []
            for address in addresses:
                frame = cache.get(address)
                if frame is None:
                    found = table.lookup(address)
                    frame = Frame(address, None) if found is None else Frame(address, *found)
                    cache[address] = frame
                frames.append(frame)
            return frames

    # ------------------------------------------------------------ user

    def user(self, pid: int, address: int) -> Frame:
        """The function at ``address`` in process ``pid``.

        An address in no mapping (or of a process that has exited) gives a
        frame with ``module=None``; one in anonymous memory, a special
        mapping (``[vdso]``) or a file without symbols a frame with
        ``symbol=None``.

        Raises:
            PermissionError: the caller may not read the process's map.
        """
        return self.stack(pid, [address])[0]

    def stack(self, pid: int | None, addresses: Iterable[int], *, kernel: bool = False) -> list[Frame]:
        """A frame per address, in the same order (a StackTraceMap's stack: innermost first).

        ``kernel`` says the addresses are kernel ones (``pid`` is then unused).

        Raises:
            OSError: ``/proc/kallsyms`` cannot be read (kernel stacks).
            PermissionError: the caller may not read the process's map (user stacks).
            ValueError: a user stack (``kernel=False``) without a ``pid``.
        """
        if kernel:
            return self._kernel_stack(addresses)
        if pid is None:
            raise ValueError("a user stack needs the pid of its process")
        with self._lock:
            process = self._process(pid)
            frames = []
            for address in addresses:
                if process is None:
                    frames.append(Frame(address, None))
                    continue
                frame = process.frames.get(address)
                if frame is None:
                    if process.mapping(address) is None:
                        process = self._process(pid, reload=True) or process
                    frame = self._resolve(pid, process, address)
                    process.frames[address] = frame
                frames.append(frame)
            return frames

    def _process(self, pid: int, *, reload: bool = False) -> _Process | None:
        """The cached state of ``pid``, read again when it is new, gone, another process, or ``reload``."""
        started = _start_time(pid)
        cached = self._processes.get(pid)
        if started is None:
            self._processes.pop(pid, None)
            return None
        if cached is not None and cached.start_time == started and not reload:
            return cached
        try:
            mappings = process_mappings(pid)
        except ProcessLookupError:
            self._processes.pop(pid, None)
            return None
        process = _Process(started, mappings)
        if cached is not None and cached.start_time == started:
            # same process, new mappings: keep the tables of mappings that did not change
            process.files = {
                mapping.start: cached.files[mapping.start]
                for mapping in mappings
                if mapping.start in cached.files and cached.mapping(mapping.start) == mapping
            }
        self._processes[pid] = process
        return process

    def _resolve(self, pid: int, process: _Process, address: int) -> Frame:
        mapping = process.mapping(address)
        if mapping is None:
            return Frame(address, None)
        if not mapping.file_backed:
            return Frame(address, None, address - mapping.start, mapping.path)
        if mapping.start not in process.files:
            process.files[mapping.start] = self._file(pid, mapping)
        table = process.files[mapping.start]
        file_offset = mapping.file_offset(address)
        path = mapping.path.removesuffix(" (deleted)")
        if table is None:
            return Frame(address, None, file_offset, path)
        linked = table.address(file_offset)
        found = None if linked is None else table.lookup(linked)
        if found is None:
            return Frame(address, None, file_offset, path)
        name, offset = found
        return Frame(address, self._demangled(name), offset, path)

    def _file(self, pid: int, mapping: Mapping) -> FileSymbols | None:
        """The symbol table of the file of ``mapping`` as the process sees it.

        In order: the path in the process's root (containers) or as it is,
        when it is still the mapped inode; the mapping itself
        (``map_files``: the file even if deleted or replaced, readable with
        ``CAP_SYS_ADMIN``); the path whatever its inode (overlayfs shows
        another inode in the maps than ``stat`` does).
        """
        path = mapping.path.removesuffix(" (deleted)")
        named = [f"/proc/{pid}/root{path}", path]
        candidates = [(name, True) for name in named]
        candidates.append((f"/proc/{pid}/map_files/{mapping.start:x}-{mapping.end:x}", False))
        candidates += [(name, False) for name in named]
        for candidate, same_inode in candidates:
            try:
                stat = os.stat(candidate)
            except OSError:
                continue
            if same_inode and stat.st_ino != mapping.inode:
                continue
            key = (stat.st_dev, stat.st_ino, stat.st_mtime_ns)
            if key not in self._files:
                try:
                    self._files[key] = FileSymbols.from_file(candidate, debug_roots=self._debug_roots)
                except (OSError, ParseError) as exc:
                    logger.debug("no symbols for %s: %s", path, exc)
                    self._files[key] = None
            return self._files[key]
        return None

    def _demangled(self, name: str) -> str:
        if self._demangle is None:
            return name
        cached = self._names.get(name)
        if cached is None:
            try:
                cached = self._demangle(name) or name
            except Exception:  # a demangler's failure must not lose the frame
                cached = name
            self._names[name] = cached
        return cached

    # ------------------------------------------------------------ caches

    def forget(self, pid: int) -> None:
        """Drop what is cached about process ``pid`` (its files' tables stay)."""
        with self._lock:
            self._processes.pop(pid, None)

    def clear(self) -> None:
        """Drop every cache: the kernel's table, the files' tables, the processes."""
        with self._lock:
            self._kernel = None
            self._kernel_frames.clear()
            self._files.clear()
            self._processes.clear()
            self._names.clear()
