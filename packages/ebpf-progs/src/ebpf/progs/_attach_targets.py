"""How the program types this package attaches go through [`attach()`][ebpf.progs.attach].

Each handler takes the target given to ``attach(program, target)`` or, when
it is ``None``, the section-style ``attach_to`` of the program's spec
([`Program.attach()`][ebpf.progs.Program.attach]): ``"syscalls/sys_enter_getpid"``
for a tracepoint, ``"do_unlinkat+0x10"`` for a kprobe. They are registered
with the dispatcher when ``ebpf.progs`` is imported; a new attach type of
this package gets its handler here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ebpf.syscall import AttachType, ProgType

from ._cgroup import CGROUP_ATTACH_TYPES, attach_cgroup
from ._dispatch import AttachTarget, register_attach
from ._iterator import attach_iter
from ._kprobe import attach_kprobe, attach_kprobe_multi, syscall_function
from ._link import Link
from ._program import Program
from ._tracepoint import attach_raw_tracepoint, attach_tracepoint
from ._tracing import attach_tracing

__all__ = ["register_own_types"]


def _kprobe_target(target: str) -> tuple[str, int]:
    symbol, plus, offset = target.partition("+")
    if not plus:
        return symbol, 0
    try:
        return symbol, int(offset, 0)
    except ValueError:
        raise ValueError(f"bad kprobe offset in {target!r}: expected symbol+<number>") from None


def _tracing(program: Program, target: AttachTarget | None, options: Mapping[str, Any]) -> Link | None:
    """fentry/fexit/fmod_ret, LSM, ``tp_btf`` and iterators: their target was fixed at load."""
    spec = program.spec
    if target is not None or spec is None:
        return None
    if spec.expected_attach_type == AttachType.TRACE_ITER:
        return attach_iter(program)
    if spec.expected_attach_type != AttachType.LSM_CGROUP:
        return attach_tracing(program)
    return None


def _tracepoint(program: Program, target: AttachTarget | None, options: Mapping[str, Any]) -> Link | None:
    """``"category:name"``, or the spec's ``"category/name"``."""
    if target is None:
        if program.spec is None or not program.spec.attach_to:
            return None
        category, slash, name = program.spec.attach_to.partition("/")
        if not slash:
            raise ValueError(f"a tracepoint target is 'category/name', not {program.spec.attach_to!r}")
        return attach_tracepoint(program, category, name)
    if isinstance(target, str) and ":" in target:
        category, _, name = target.partition(":")
        return attach_tracepoint(program, category, name, **options)
    return None


def _raw_tracepoint(program: Program, target: AttachTarget | None, options: Mapping[str, Any]) -> Link | None:
    """A tracepoint name (``"sys_enter"``)."""
    if target is None:
        if program.spec is None or not program.spec.attach_to:
            return None
        return attach_raw_tracepoint(program, program.spec.attach_to)
    if isinstance(target, str):
        return attach_raw_tracepoint(program, target, **options)
    return None


def _kprobe(program: Program, target: AttachTarget | None, options: Mapping[str, Any]) -> Link | None:
    """A kernel function; the spec may also say ``symbol+offset``, a syscall or a kprobe_multi pattern."""
    if target is not None:
        return attach_kprobe(program, target, **options) if isinstance(target, str) else None
    spec = program.spec
    if spec is None or not spec.attach_to:
        return None
    if spec.expected_attach_type == AttachType.TRACE_KPROBE_MULTI:
        return attach_kprobe_multi(program, pattern=spec.attach_to, retprobe=spec.retprobe)
    if spec.syscall:
        return attach_kprobe(program, syscall_function(spec.attach_to), retprobe=spec.retprobe)
    if spec.expected_attach_type is None and "/" not in spec.attach_to and ":" not in spec.attach_to:
        symbol, offset = _kprobe_target(spec.attach_to)
        return attach_kprobe(program, symbol, offset, retprobe=spec.retprobe)
    # a uprobe's "binary:function", a USDT's "binary:provider:name" (no kernel symbol has a ':'):
    # ebpf.elf attaches them (attach_uprobe_symbol, attach_usdt, Collection.attach_all)
    return None


def _cgroup(program: Program, target: AttachTarget | None, options: Mapping[str, Any]) -> Link | None:
    """A cgroup v2 directory, for a program that knows its attach type."""
    if target is None or isinstance(target, int) or program.expected_attach_type is None:
        return None
    return attach_cgroup(program, target, **options)


def register_own_types() -> None:
    """Register the handlers of this package's program types with the dispatcher (at import)."""
    register_attach((ProgType.TRACING, ProgType.LSM), _tracing)
    register_attach((ProgType.TRACEPOINT,), _tracepoint)
    register_attach((ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE), _raw_tracepoint)
    register_attach((ProgType.KPROBE,), _kprobe)
    register_attach(CGROUP_ATTACH_TYPES.keys() - {ProgType.LSM}, _cgroup)
