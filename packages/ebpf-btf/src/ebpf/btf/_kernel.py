"""One process-wide view of the running kernel's types: vmlinux plus module BTF.

The kernel publishes its BTF as files: ``/sys/kernel/btf/vmlinux`` (5.4+)
and one file per loaded module with BTF (5.11+), the latter *split* BTF
whose ids and string offsets continue after vmlinux's. Everything that needs
the kernel's types (CO-RE relocation, ``__ksym`` externs and kfunc calls,
attach targets of BTF-based programs, the facade's type queries) asks
[`kernel_types()`][ebpf.btf.kernel_types] for them, so a process reads and
indexes each file once.

The view is a snapshot of the directory listing. [`kernel_types()`][ebpf.btf.kernel_types]
lists the directory again on every call (names and inode numbers only, no
file is read) and returns the same snapshot while nothing changed; when a
module was loaded, unloaded or reloaded, it returns a new snapshot that
keeps the graphs of the files that did not change. A snapshot never changes
under its user: one collection load sees one consistent set of types.

Graphs are loaded on first use (vmlinux when first asked for, each module
when first searched) under a lock, so threads sharing a snapshot load each
file once.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ebpf.syscall import FD, commands, objects
from ebpf.syscall.errors import BpfSyscallError, NotSupportedError

from ._graph import TypeGraph
from ._types import Kind, Type

__all__ = ["KERNEL_BTF_DIR", "KernelType", "KernelTypes", "kernel_types"]

#: Where the running kernel publishes its BTF.
KERNEL_BTF_DIR = Path("/sys/kernel/btf")
_VMLINUX = "vmlinux"


@dataclass(frozen=True)
class KernelType:
    """A type of the running kernel and where it lives.

    Attributes:
        type: the decoded type.
        module: the kernel module whose BTF holds it, ``None`` for vmlinux.
        graph: the graph it belongs to (a module's graph is split BTF on top
            of vmlinux's).
    """

    type: Type
    module: str | None
    graph: TypeGraph

    @property
    def type_id(self) -> int:
        """The type's id in its BTF (a module's ids continue after vmlinux's)."""
        return self.type.id

    @property
    def name(self) -> str:
        """The type's name."""
        return self.type.name

    def __repr__(self) -> str:
        return f"KernelType({self.type} [id {self.type_id}] in {self.module or 'vmlinux'})"


def _mmap_function() -> Callable[..., int | None]:
    """libc's ``mmap``, typed for ctypes."""
    libc = ctypes.CDLL(None, use_errno=True)
    function: Callable[..., int | None] = libc.mmap
    function.restype = ctypes.c_void_p  # type: ignore[attr-defined]
    function.argtypes = (  # type: ignore[attr-defined]
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    )
    return function


def _mapped(path: Path) -> memoryview | None:
    """The kernel's vmlinux BTF mapped read-only, or None where the kernel does not map it (before 6.16).

    Since 6.16 ``/sys/kernel/btf/vmlinux`` can be mapped (libbpf maps it too):
    the pages are the kernel's own, so nothing is copied and only what is
    looked at is touched, where reading takes a system call per page (over
    a thousand for a 5 MB file). The mapping is made with libc's ``mmap``
    rather than the ``mmap`` module, which would keep a duplicate of the
    descriptor open for as long as the mapping lives; it is never unmapped
    (the one vmlinux graph of the process reads it in place for as long as
    the process runs).

    Raises:
        OSError: the file cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if not size:
            return None
        address = _mmap_function()(None, size, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
    finally:
        os.close(fd)
    if not address or address == ctypes.c_void_p(-1).value:  # MAP_FAILED: EACCES, ENODEV, EINVAL
        return None
    return memoryview((ctypes.c_ubyte * size).from_address(address)).cast("B")


def _listing(directory: Path) -> dict[str, int]:
    """File name -> inode number of every entry of ``directory`` (empty when it does not exist).

    sysfs gives each file a new inode when it is created, so a module that
    is unloaded and loaded again shows a new number; reading the numbers
    from the directory entries costs no ``stat`` per file.
    """
    try:
        with os.scandir(directory) as entries:
            return {entry.name: entry.inode() for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return {}


class KernelTypes:
    """The types of the running kernel (vmlinux and the modules with BTF), loaded on first use.

    Get the current one from [`kernel_types()`][ebpf.btf.kernel_types]
    rather than building one: that one is shared by the whole process.

    Examples:
        >>> kernel = kernel_types()                                   # doctest: +SKIP
        >>> kernel.find("task_struct", Kind.STRUCT).module is None    # doctest: +SKIP
        True
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] = KERNEL_BTF_DIR,
        *,
        listing: Mapping[str, int] | None = None,
        previous: KernelTypes | None = None,
    ) -> None:
        """A view of the BTF files in ``directory`` as listed now (or as ``listing`` says).

        Graphs of ``previous`` whose files have the same inode are reused.
        Nothing is read until a graph is asked for.
        """
        self.directory = Path(directory)
        self._listing: dict[str, int] = dict(listing) if listing is not None else _listing(self.directory)
        self._lock = threading.RLock()
        self._graphs: dict[str, TypeGraph | None] = {}
        if previous is not None:
            with previous._lock:
                for name, graph in previous._graphs.items():
                    if graph is not None and self._listing.get(name) == previous._listing.get(name):
                        self._graphs[name] = graph

    # ----------------------------------------------------------- graphs

    @property
    def vmlinux(self) -> TypeGraph:
        """vmlinux's types, read and indexed on first use.

        Raises:
            NotSupportedError: the kernel exposes no BTF (``CONFIG_DEBUG_INFO_BTF``, 5.4+).
            ParseError: the file is malformed.
        """
        graph = self._graphs.get(_VMLINUX)
        if graph is not None:
            return graph
        with self._lock:
            graph = self._graphs.get(_VMLINUX)
            if graph is None:
                path = self.directory / _VMLINUX
                try:
                    mapped = _mapped(path) if self.directory == KERNEL_BTF_DIR else None
                    data = mapped if mapped is not None else path.read_bytes()
                except FileNotFoundError as exc:
                    raise NotSupportedError(
                        f"kernel BTF ({path})", "5.4", "the kernel is built without CONFIG_DEBUG_INFO_BTF"
                    ) from exc
                graph = TypeGraph(data, name=str(path))
                graph._table.unique_strings = True  # deduplicated when the kernel was built
                self._graphs[_VMLINUX] = graph
            return graph

    @property
    def module_names(self) -> list[str]:
        """The modules that had BTF when this view was taken, sorted."""
        return sorted(name for name in self._listing if name != _VMLINUX)

    def module(self, name: str) -> TypeGraph | None:
        """A module's types (split BTF on top of vmlinux's), read on first use; ``None`` without it.

        Raises:
            NotSupportedError: the kernel exposes no vmlinux BTF.
            ParseError: the module's BTF is malformed.
        """
        if name == _VMLINUX or name not in self._listing:
            return None
        if name in self._graphs:
            return self._graphs[name]
        vmlinux = self.vmlinux
        with self._lock:
            if name not in self._graphs:
                path = self.directory / name
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    self._graphs[name] = None  # unloaded since it was listed
                else:
                    graph = TypeGraph(data, vmlinux, name=str(path))
                    graph._table.unique_strings = True  # deduplicated, also against vmlinux's
                    self._graphs[name] = graph
            return self._graphs[name]

    def modules(self) -> Iterator[tuple[str, TypeGraph]]:
        """``(name, graph)`` of every module with BTF, in name order, each read on first use.

        Raises:
            NotSupportedError: the kernel exposes no vmlinux BTF.
            ParseError: a module's BTF is malformed.
        """
        for name in self.module_names:
            graph = self.module(name)
            if graph is not None:
                yield name, graph

    def graphs(self) -> Iterator[tuple[str | None, TypeGraph]]:
        """vmlinux (as ``None``), then every module, as ``(module, graph)`` pairs.

        Raises:
            NotSupportedError: the kernel exposes no vmlinux BTF.
            ParseError: a BTF file is malformed.
        """
        yield None, self.vmlinux
        yield from self.modules()

    # ---------------------------------------------------------- lookups

    def find_all(self, name: str, kind: Kind | None = None) -> list[KernelType]:
        """Every kernel type named ``name`` (of ``kind`` if given): vmlinux's first, then each module's.

        Raises:
            ValueError: ``name`` is empty.
            NotSupportedError: the kernel exposes no BTF.
            ParseError: a BTF file is malformed.
        """
        if not name:
            raise ValueError("a kernel type is found by a non-empty name")
        return [
            KernelType(graph[type_id], module, graph)
            for module, graph in self.graphs()
            for type_id in graph.own_ids(name, kind)
        ]

    def find(self, name: str, kind: Kind | None = None, *, module: str | None = None) -> KernelType | None:
        """The first kernel type named ``name`` (of ``kind``): in vmlinux, else in the modules.

        Like libbpf, modules are searched only when vmlinux has no such type;
        ``module`` restricts that search to one module. Returns ``None`` when
        no BTF has it.

        Raises:
            ValueError: ``name`` is empty.
            NotSupportedError: the kernel exposes no BTF.
            ParseError: a BTF file is malformed.
        """
        if not name:
            raise ValueError("a kernel type is found by a non-empty name")
        vmlinux = self.vmlinux
        ids = vmlinux.own_ids(name, kind)
        if ids:
            return KernelType(vmlinux[ids[0]], None, vmlinux)
        candidates: Iterator[tuple[str, TypeGraph]]
        if module is None:
            candidates = self.modules()
        else:
            graph = self.module(module)
            candidates = iter([(module, graph)] if graph is not None else [])
        for mod, graph in candidates:
            ids = graph.own_ids(name, kind)
            if ids:
                return KernelType(graph[ids[0]], mod, graph)
        return None

    # ------------------------------------------------------ BTF objects

    def open_btf(self, module: str) -> FD:
        """A descriptor of module ``module``'s BTF object in the kernel (for ``fd_array``,
        ``attach_btf_obj_fd``, ``BPF_PSEUDO_BTF_ID``); the caller closes it.

        Walks the kernel's BTF objects (``BPF_BTF_GET_NEXT_ID``) for the
        kernel BTF of that name. Needs ``CAP_SYS_ADMIN``.

        Raises:
            NotSupportedError: no such module BTF is loaded (anymore).
            BpfSyscallError: the kernel refused (``EPERM`` without privileges).
        """
        for btf_id in objects.btf_ids():
            try:
                fd = commands.btf_get_fd_by_id(btf_id)
            except BpfSyscallError as exc:
                if exc.errno == errno.ENOENT:
                    continue  # freed since it was listed
                raise
            try:
                info = objects.get_btf_info(fd)
            except BaseException:
                fd.close()
                raise
            if info.kernel_btf and info.name == module:
                return fd
            fd.close()
        raise NotSupportedError(f"BTF of kernel module {module!r}", None, "the module is not loaded")

    def __repr__(self) -> str:
        loaded = sorted(name for name, graph in self._graphs.items() if graph is not None)
        return f"KernelTypes({str(self.directory)!r}, {len(self._listing)} files, loaded={loaded})"


_views_lock = threading.Lock()
_views: dict[Path, KernelTypes] = {}


def kernel_types(directory: str | os.PathLike[str] = KERNEL_BTF_DIR) -> KernelTypes:
    """The process-wide view of the running kernel's types (vmlinux and module BTF).

    Lists ``directory`` (names and inode numbers, no file read) and returns
    the view taken before when nothing changed, so every caller in the
    process shares the graphs it has read and indexed; when a module came,
    went or was reloaded, a new view (reusing the unchanged graphs) replaces
    it. Safe to call from several threads.

    ``directory`` stands in for ``/sys/kernel/btf`` (tests, another root).
    """
    path = Path(directory)
    listing = _listing(path)
    with _views_lock:
        current = _views.get(path)
        if current is None or current._listing != listing:
            current = _views[path] = KernelTypes(path, listing=listing, previous=current)
        return current
