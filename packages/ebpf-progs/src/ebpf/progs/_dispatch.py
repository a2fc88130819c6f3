"""The attach dispatcher: one table from program type to how a program of that type attaches.

[`attach()`][ebpf.progs.attach] and [`Program.attach()`][ebpf.progs.Program.attach]
look the program's type up here and call the handler registered for it.
This package registers the types it attaches itself (tracepoints, kprobes,
BTF-based tracing, cgroups: ``_attach_targets.py``); packages above it
extend the table with [`register_attach()`][ebpf.progs.register_attach]
(``ebpf.net`` registers XDP and TC when it is imported). The table lives
below [`Program`][ebpf.progs.Program], so a program finds its handler
without importing the modules that attach it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ebpf.syscall import ProgType

if TYPE_CHECKING:
    from ._link import Link
    from ._program import Program

__all__ = ["AttachHandler", "AttachTarget", "attach", "attach_from_spec", "register_attach"]

#: Where [`attach()`][ebpf.progs.attach] attaches: a tracepoint, function or
#: interface name, a cgroup directory, an interface index...; which ones a
#: program takes depends on its type.
AttachTarget = str | os.PathLike[str] | int


class AttachHandler(Protocol):
    """How programs of some types attach; see [`register_attach()`][ebpf.progs.register_attach]."""

    def __call__(
        self, program: Program, target: AttachTarget | None, options: Mapping[str, Any], /
    ) -> Link | None:
        """Attach ``program`` to ``target`` (``None``: where its spec points) with ``options``.

        Returns ``None`` when this type cannot attach to ``target`` (or
        cannot attach without one); the dispatcher then raises a
        ``ValueError`` that names what to call instead.
        """
        ...


_HANDLERS: dict[int, AttachHandler] = {}
_LOCK = threading.Lock()


def register_attach(prog_types: Iterable[ProgType], handler: AttachHandler) -> None:
    """Make ``handler`` the way programs of ``prog_types`` attach (the last registration wins).

    Packages register at import time: ``ebpf.progs`` its own types, ``ebpf.net``
    XDP and TC.
    """
    with _LOCK:
        for prog_type in prog_types:
            _HANDLERS[ProgType(prog_type)] = handler


def _type_name(prog_type: int) -> str:
    return prog_type.name if isinstance(prog_type, ProgType) else str(prog_type)


def attach(program: Program, target: AttachTarget | None = None, **options: Any) -> Link:
    """Attach ``program`` where its type goes; the [`Link`][ebpf.progs.Link] detaches when closed.

    Without ``target``: the spec's target ([`Program.attach()`][ebpf.progs.Program.attach]).
    With one, by program type: a cgroup directory for cgroup programs,
    ``"category:name"`` for tracepoints, a tracepoint name for raw
    tracepoints, a function for kprobes, an interface (name or index) for
    XDP and TC programs (once ``ebpf.net`` is imported). ``options`` go to
    the attach function (``direction="egress"`` for TC, ``mode=`` for XDP,
    ``cookie=``...).

    Raises:
        ValueError: a target this program type cannot take (the message says what to call instead).
        TypeError: a target of the wrong kind (a path for an interface).
    """
    if target is None:
        return program.attach()
    handler = _HANDLERS.get(program.type)
    link = handler(program, target, options) if handler is not None else None
    if link is None:
        raise ValueError(
            f"attach() does not know where to attach a {_type_name(program.type)} program to {target!r}: "
            "use the attach_* function of its type (attach_uprobe, attach_cgroup, ebpf.net.attach_xdp, ...)"
        )
    return link


def attach_from_spec(program: Program) -> Link:
    """Attach ``program`` where its spec points; see [`Program.attach()`][ebpf.progs.Program.attach].

    Raises:
        ValueError: the program has no spec or no target, or its type needs arguments.
    """
    spec = program.spec
    if spec is None:
        raise ValueError("Program.attach() needs a program loaded from a spec; call an attach_* function")
    handler = _HANDLERS.get(spec.type)
    link = handler(program, None, {}) if handler is not None else None
    if link is not None:
        return link
    if not spec.attach_to:
        raise ValueError(
            f"the spec of {spec.name!r} has no attach_to; call the attach_* function for its type"
        )
    raise ValueError(
        f"Program.attach() cannot attach {_type_name(spec.type)} program {spec.name!r} to {spec.attach_to!r} "
        "by itself; call the attach_* function for its type (attach_uprobe, attach_cgroup, attach_netns...)"
    )
