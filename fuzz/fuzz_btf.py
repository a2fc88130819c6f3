"""Fuzz target: raw BTF blobs (``ebpf.btf.from_bytes`` and everything a user does with the graph).

The first input byte picks how the rest is read: bit 0 set parses it as
split BTF on top of a small base graph (module BTF on top of vmlinux), else
as standalone BTF. The graph is then walked the way users walk it: every
type printed and resolved, sizes and alignments of composites, function
prototypes, lookups by name, the raw and C dumps, and re-encoding through
``sanitize_btf`` for a kernel without any optional BTF kind (standalone BTF).

Only ``ParseError`` may come out.
"""

from __future__ import annotations

import contextlib
import functools

from ebpf.btf import (
    BtfFeatures,
    Composite,
    Func,
    FuncProto,
    TypeGraph,
    dump_c,
    dump_raw,
    from_bytes,
    sanitize_btf,
)
from ebpf.syscall import ParseError
from fuzz import _seeds

NAME = "btf"
#: Exceptions a malformed input may raise (anything else is a finding).
ALLOWED: tuple[type[BaseException], ...] = (ParseError,)


@functools.cache
def _base() -> TypeGraph:
    """A small base graph for split BTF: the first vmlinux closure, or the first object's BTF."""
    blobs = _seeds.vmlinux_blobs() or _seeds.btf_blobs()
    return from_bytes(blobs[0], name="fuzz base")


def exercise_graph(graph: TypeGraph) -> None:
    """Do with ``graph`` everything a user of ``ebpf.btf`` might."""
    for t in graph:
        str(t)
        graph.resolve(t)
        if isinstance(t, Composite):
            graph.size_of(t)
            graph.align_of(t)
        if isinstance(t, (Func, FuncProto)):
            graph.func_proto(t)
        if t.name:
            graph.find_all(t.name)
    dump_raw(graph)
    dump_c(graph)
    # Re-encoding what was decoded must give BTF this library reads back (standalone BTF:
    # sanitize_btf refuses split BTF, whose strings and types are partly its base's).
    if graph.base is None:
        exercise_types_only(from_bytes(sanitize_btf(graph, BtfFeatures.none())))


def exercise_types_only(graph: TypeGraph) -> None:
    """Decode and print every type of ``graph``."""
    for t in graph:
        str(t)


def one_input(data: bytes) -> None:
    """Parse ``data[1:]`` as (split, with ``data[0] & 1``) BTF and walk it; only ParseError may escape."""
    if not data:
        return
    base = _base() if data[0] & 1 else None
    with contextlib.suppress(*ALLOWED):
        exercise_graph(from_bytes(data[1:], base, name="fuzz input"))


def seeds() -> list[bytes]:
    """Every test object's ``.BTF`` and the vmlinux closures, standalone and as split BTF."""
    return [bytes([mode]) + blob for blob in _seeds.btf_blobs() for mode in (0, 1)]
