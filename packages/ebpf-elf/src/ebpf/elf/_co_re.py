"""CO-RE: relocating a program's field offsets, sizes and type facts against the running kernel.

The engine is ebpf-btf's ``CoreRelocator``; this is the one place that
calls it. One `CoreRelocations` serves a
whole collection load: one relocator, so candidate types found for one
program are reused by the next and every relocation of a local type
settles on the same kernel type, and one view of the kernel's types
([`ebpf.btf.kernel_types()`][ebpf.btf.kernel_types]), read once per process.
"""

from __future__ import annotations

from collections.abc import Sequence

from ebpf.btf import CoreRelo, CoreRelocator, KernelTypes, TypeGraph
from ebpf.syscall.errors import ParseError

__all__ = ["CoreRelocations"]


class CoreRelocations:
    """The CO-RE relocations of one collection load, resolved by one relocator made on first use."""

    def __init__(self, local: TypeGraph | None, kernel: KernelTypes | None = None) -> None:
        """Relocate programs whose local types are ``local`` (the object's BTF) against ``kernel``.

        ``kernel`` defaults to the process-wide view, taken when the first
        program with relocations needs it.
        """
        self._local = local
        self._kernel = kernel
        self._relocator: CoreRelocator | None = None

    def apply(self, code: bytes, relos: Sequence[CoreRelo], program: str) -> bytes:
        """``code`` with its CO-RE relocations applied against the running kernel's BTF.

        ``relos`` have ``insn_off`` in bytes of ``code``.

        Raises:
            ParseError: the program has CO-RE relocations but the object no
                BTF to read them against, or the records are malformed.
            ebpf.btf.CoreError: a relocation cannot be satisfied by the kernel's types.
            NotSupportedError: the kernel exposes no BTF.
        """
        if not relos:
            return code
        if self._relocator is None:
            if self._local is None:
                raise ParseError(f"program {program!r} has CO-RE relocations, but the object has no BTF")
            self._relocator = CoreRelocator(self._local, kernel=self._kernel)
        patched, _report = self._relocator.relocate(code, list(relos))
        return bytes(patched)
