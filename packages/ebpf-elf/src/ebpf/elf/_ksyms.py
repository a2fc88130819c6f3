"""``__ksym`` externs resolved against the running kernel at load: addresses, variables, kfuncs.

Three kinds of ``.ksyms`` externs, as libbpf's ``bpf_object__resolve_externs``
handles them:

- ``extern const void sym __ksym;`` (untyped): the symbol's address from
  ``/proc/kallsyms``, loaded by ``ld_imm64``;
- ``extern const struct rq runqueues __ksym;`` (typed): the variable's
  BTF id in vmlinux or module BTF, a ``BPF_PSEUDO_BTF_ID`` load whose
  second half names the module's BTF object by descriptor (0: vmlinux);
- ``extern struct task_struct *bpf_task_acquire(...) __ksym;`` (a kernel
  function, *kfunc*): calls become ``BPF_PSEUDO_KFUNC_CALL`` with the
  function's BTF id; a module's function is named by the call's ``off``,
  an index into the load's ``fd_array`` where that module's BTF object
  descriptor sits (index 0 stays empty: 0 means vmlinux). An ``ld_imm64``
  of the function (``bpf_ksym_exists()``) becomes a ``BPF_PSEUDO_BTF_ID``
  load of it.

Names are looked up without a ``___flavour`` suffix, vmlinux first, then
the modules. Kernel variables and functions must have a type compatible
with the one declared (libbpf's ``bpf_core_types_are_compat``). A ``__weak``
extern the kernel lacks is 0: an address or variable load gives NULL, and
a call of a missing kfunc is *poisoned* like libbpf does, turned into a
call of the invalid helper ``2002000000 + extern index``, so the verifier
drops it when a ``bpf_ksym_exists()`` check makes it dead code and names it
(``invalid func unknown#2002000001``) when it is reachable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from ebpf.btf import KernelTypes, Kind, TypeGraph, Var, essential_name, kernel_types, types_are_compatible
from ebpf.syscall.errors import NotSupportedError, ParseError
from ebpf.syscall.fd import FD
from ebpf.syscall.system import kernel_symbol_addresses

from ._externs import Extern
from ._relocate import ResolvedKsym

__all__ = ["POISON_KFUNC_BASE", "KernelSymbols", "resolve_ksyms"]

#: libbpf's ``POISON_CALL_KFUNC_BASE``: a call of a missing weak kfunc becomes
#: a call of the helper numbered ``base + extern index``.
POISON_KFUNC_BASE = 2002000000


@dataclass
class KernelSymbols(Mapping[str, ResolvedKsym]):
    """The ``.ksyms`` externs of one load, resolved; owns the module BTF descriptors they need.

    A mapping from extern name to `ResolvedKsym`.
    ``fd_array`` is what each program load passes so that kfunc calls into
    modules find their BTF (empty when every kfunc is in vmlinux). Close it
    (or use ``with``) once the programs are loaded: the kernel holds its own
    references from then on.
    """

    resolved: dict[str, ResolvedKsym] = field(default_factory=dict)
    fd_array: list[int] = field(default_factory=list)
    _fds: dict[str, FD] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> ResolvedKsym:
        return self.resolved[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.resolved)

    def __len__(self) -> int:
        return len(self.resolved)

    def module_fd(self, kernel: KernelTypes, module: str) -> FD:
        """The descriptor of ``module``'s BTF object, opened once and kept in ``fd_array``.

        Raises:
            NotSupportedError: the module is gone.
            BpfSyscallError: the kernel refused.
        """
        fd = self._fds.get(module)
        if fd is None:
            fd = self._fds[module] = kernel.open_btf(module)
            if not self.fd_array:
                self.fd_array.append(0)  # index 0 means vmlinux in a call's off: never used
            self.fd_array.append(fd.fileno())
        return fd

    def fd_index(self, fd: FD) -> int:
        """The index of ``fd`` in ``fd_array``."""
        return self.fd_array.index(fd.fileno(), 1)

    def close(self) -> None:
        """Close the module BTF descriptors."""
        for fd in self._fds.values():
            fd.close()
        self._fds.clear()

    def __enter__(self) -> KernelSymbols:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _missing(ext: Extern, what: str, where: str) -> NotSupportedError:
    hint = (
        "; declare it __weak and guard its use with bpf_ksym_exists() to make it optional"
        if not ext.weak
        else ""
    )
    return NotSupportedError(f"{what} {ext.name!r}", None, f"not in {where}{hint}")


def _resolve_typed(
    symbols: KernelSymbols, kernel: KernelTypes, local: TypeGraph, ext: Extern
) -> ResolvedKsym | None:
    """A typed variable or a kfunc, by BTF; None when a weak one is missing.

    Raises:
        NotSupportedError: a strong one is missing, or its kernel type is
            incompatible with the declared one.
        ParseError: malformed BTF.
    """
    kind = Kind.FUNC if ext.function else Kind.VAR
    what = "kernel function (kfunc)" if ext.function else "kernel variable"
    found = kernel.find(essential_name(ext.name), kind)
    if found is None:
        if ext.weak:
            return None
        raise _missing(ext, what, "the BTF of vmlinux or of any loaded module")
    graph = found.graph
    if isinstance(found.type, Var):
        # like libbpf, a variable's types are compared without modifiers and typedefs
        kernel_type = graph.resolve(found.type.type_id).id
        declared = local.resolve(ext.declared_type).id if ext.declared_type else 0
    else:
        kernel_type, declared = graph.func_proto(found.type).id, ext.declared_type
    if declared and not types_are_compatible(local, declared, graph, kernel_type):
        raise NotSupportedError(
            f"{what} {ext.name!r} as the object declares it",
            None,
            f"the kernel's ({found.module or 'vmlinux'}) is {graph[found.type_id]}, "
            f"incompatible with the declared {local[ext.declared_type]}",
        )
    btf_fd = fd_index = 0
    if found.module is not None:
        fd = symbols.module_fd(kernel, found.module)
        btf_fd, fd_index = fd.fileno(), symbols.fd_index(fd)
    return ResolvedKsym(btf_id=found.type_id, btf_fd=btf_fd, fd_index=fd_index)


def resolve_ksyms(
    externs: Iterable[Extern], local: TypeGraph | None, kernel: KernelTypes | None = None
) -> KernelSymbols:
    """Addresses (untyped externs), BTF ids (typed variables, kfuncs) of ``.ksyms`` externs.

    ``local`` is the object's BTF (the declared types the kernel's are
    checked against); ``kernel`` defaults to the process-wide
    [`kernel_types()`][ebpf.btf.kernel_types], read only when a typed
    extern or kfunc needs it. The result owns the module BTF descriptors
    that kfunc calls and variables of modules need: close it after loading.

    Raises:
        NotSupportedError: a strong extern that the kernel does not have
            (or whose address ``kptr_restrict`` hides), or whose kernel type
            is incompatible with the declared one; the kernel has no BTF
            when a typed extern needs it.
        ParseError: typed externs without ``local``, or malformed BTF.
        BpfSyscallError: a module's BTF object could not be opened.
    """
    symbols = KernelSymbols()
    try:
        untyped: list[Extern] = []
        typed: list[tuple[int, Extern]] = []
        for index, ext in enumerate(externs):
            if ext.untyped:
                untyped.append(ext)
            else:
                typed.append((index, ext))
        if untyped:
            addresses = kernel_symbol_addresses({essential_name(ext.name) for ext in untyped})
            for ext in untyped:
                address = addresses.get(essential_name(ext.name), 0)
                if not address and not ext.weak:
                    raise _missing(ext, "kernel symbol", "/proc/kallsyms (or hidden by kptr_restrict)")
                symbols.resolved[ext.name] = ResolvedKsym(address=address)
        if typed:
            if local is None:
                raise ParseError(f"typed __ksym extern {typed[0][1].name!r} without the object's BTF")
            if kernel is None:
                kernel = kernel_types()
            for index, ext in typed:
                found = _resolve_typed(symbols, kernel, local, ext)
                if found is None:
                    # a weak extern the kernel lacks: 0 for loads, a poisoned call for kfuncs
                    found = ResolvedKsym(poison=POISON_KFUNC_BASE + index if ext.function else 0)
                symbols.resolved[ext.name] = found
    except BaseException:
        symbols.close()
        raise
    return symbols
