"""CO-RE: relocating a program's field offsets, sizes and type facts against the running kernel.

The engine is ebpf-btf's ``CoreRelocator``; this is the one place that
calls it, so an ebpf-btf without it makes only objects with CO-RE
relocations fail to load.
"""

from __future__ import annotations

from collections.abc import Sequence

import ebpf.btf
from ebpf.btf import CoreRelo, TypeGraph
from ebpf.syscall.errors import NotSupportedError

__all__ = ["relocate_core"]


def relocate_core(local: TypeGraph, code: bytes, relos: Sequence[CoreRelo], program: str) -> bytes:
    """``code`` with its CO-RE relocations applied against the running kernel's BTF.

    ``relos`` have ``insn_off`` in bytes of ``code``.

    Raises:
        NotSupportedError: this ebpf-btf has no CO-RE engine.
        ebpf.btf.CoreError: a relocation cannot be satisfied by the kernel's types.
    """
    if not relos:
        return code
    relocator_class = getattr(ebpf.btf, "CoreRelocator", None)
    if relocator_class is None:
        raise NotSupportedError(
            "CO-RE relocations", None, f"program {program!r} needs them and ebpf.btf has no CoreRelocator yet"
        )
    patched, _report = relocator_class(local).relocate(code, list(relos))
    return bytes(patched)
