"""``Program.attach()``: attach by what the spec's section-style name says."""

from __future__ import annotations

from ebpf.syscall import AttachType, ProgType

from ._iterator import attach_iter
from ._kprobe import attach_kprobe, attach_kprobe_multi, syscall_function
from ._link import Link
from ._program import Program
from ._tracepoint import attach_raw_tracepoint, attach_tracepoint
from ._tracing import attach_tracing

__all__ = ["attach_from_spec"]


def _kprobe_target(target: str) -> tuple[str, int]:
    symbol, plus, offset = target.partition("+")
    if not plus:
        return symbol, 0
    try:
        return symbol, int(offset, 0)
    except ValueError:
        raise ValueError(f"bad kprobe offset in {target!r}: expected symbol+<number>") from None


def attach_from_spec(program: Program) -> Link:
    """Attach ``program`` where its spec points; see [`Program.attach()`][ebpf.progs.Program.attach].

    Raises:
        ValueError: the program has no spec or no target, or its type needs arguments.
    """
    spec = program.spec
    if spec is None:
        raise ValueError("Program.attach() needs a program loaded from a spec; call an attach_* function")
    target, at = spec.attach_to, spec.expected_attach_type
    if spec.type in (ProgType.TRACING, ProgType.LSM) and at == AttachType.TRACE_ITER:
        return attach_iter(program)
    if spec.type in (ProgType.TRACING, ProgType.LSM) and at != AttachType.LSM_CGROUP:
        return attach_tracing(program)
    if not target:
        raise ValueError(
            f"the spec of {spec.name!r} has no attach_to; call the attach_* function for its type"
        )
    if spec.type == ProgType.TRACEPOINT:
        category, slash, name = target.partition("/")
        if not slash:
            raise ValueError(f"a tracepoint target is 'category/name', not {target!r}")
        return attach_tracepoint(program, category, name)
    if spec.type in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        return attach_raw_tracepoint(program, target)
    if spec.type == ProgType.KPROBE and at == AttachType.TRACE_KPROBE_MULTI:
        return attach_kprobe_multi(program, pattern=target, retprobe=spec.retprobe)
    if spec.type == ProgType.KPROBE and spec.syscall:
        return attach_kprobe(program, syscall_function(target), retprobe=spec.retprobe)
    if spec.type == ProgType.KPROBE and at is None and "/" not in target:
        symbol, offset = _kprobe_target(target)
        return attach_kprobe(program, symbol, offset, retprobe=spec.retprobe)
    raise ValueError(
        f"Program.attach() cannot attach {spec.type.name} program {spec.name!r} to {target!r} by itself; "
        "call the attach_* function for its type (attach_uprobe, attach_cgroup, attach_netns...)"
    )
