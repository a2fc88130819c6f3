"""One-call helpers: attach by program type, TC ingress/egress setup, XDP for the length of a block.

Importing ``ebpf.net`` registers XDP and TC programs with the attach
dispatcher of ``ebpf.progs``, so [`ebpf.progs.attach()`][ebpf.progs.attach]
(and ``bpf.attach``) attaches them to an interface with [`attach()`][ebpf.net.attach].
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ebpf.progs import AttachTarget, Link, Program, register_attach
from ebpf.syscall import AttachType, ProgType

from ._tc import attach_tc
from ._types import Direction, XdpMode
from ._xdp import attach_xdp

__all__ = ["attach", "register_interface_types", "setup_tc_egress", "setup_tc_ingress", "with_tc", "with_xdp"]

_DIRECTION_OF = {AttachType.TCX_INGRESS: Direction.INGRESS, AttachType.TCX_EGRESS: Direction.EGRESS}


def setup_tc_ingress(program: Program, interface: str | int, *, tcx: bool | None = None) -> Link:
    """Run a ``SCHED_CLS`` program on the packets an interface receives (see
    [`attach_tc()`][ebpf.net.attach_tc]).

    Raises:
        TypeError: not a ``SCHED_CLS`` program.
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused.
    """
    return attach_tc(program, interface, Direction.INGRESS, tcx=tcx)


def setup_tc_egress(program: Program, interface: str | int, *, tcx: bool | None = None) -> Link:
    """Run a ``SCHED_CLS`` program on the packets an interface sends (see
    [`attach_tc()`][ebpf.net.attach_tc]).

    Raises:
        TypeError: not a ``SCHED_CLS`` program.
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused.
    """
    return attach_tc(program, interface, Direction.EGRESS, tcx=tcx)


@contextlib.contextmanager
def with_xdp(program: Program, interface: str | int, mode: XdpMode | None = None) -> Iterator[Link]:
    """Keep an XDP program attached for the length of the ``with`` block (see
    [`attach_xdp()`][ebpf.net.attach_xdp]).

    Raises whatever [`attach_xdp()`][ebpf.net.attach_xdp] raises, before the block runs.
    """
    with attach_xdp(program, interface, mode) as link:
        yield link


@contextlib.contextmanager
def with_tc(
    program: Program,
    interface: str | int,
    direction: Direction = Direction.INGRESS,
    *,
    tcx: bool | None = None,
) -> Iterator[Link]:
    """Keep a ``SCHED_CLS`` program attached for the length of the ``with`` block (see
    [`attach_tc()`][ebpf.net.attach_tc]).

    Raises whatever [`attach_tc()`][ebpf.net.attach_tc] raises, before the block runs.
    """
    with attach_tc(program, interface, direction, tcx=tcx) as link:
        yield link


def attach(
    program: Program,
    interface: str | int,
    *,
    direction: Direction | None = None,
    mode: XdpMode | None = None,
) -> Link:
    """Attach a program to an interface the way its type says: XDP, or TC (TCX or a ``cls_bpf`` filter).

    Meant for programs loaded from an object file (``ebpf.elf``), whose
    section name decides: ``xdp`` attaches with [`attach_xdp()`][ebpf.net.attach_xdp];
    ``tcx/ingress``, ``tc/egress``... give the direction of a ``SCHED_CLS``
    program, which [`attach_tc()`][ebpf.net.attach_tc] attaches; a plain ``tc``/``classifier``
    program needs ``direction``.

    Raises:
        TypeError: a program type that does not attach to interfaces.
        ValueError: a ``SCHED_CLS`` program without a direction, or ``mode``
            for a TC program.
        InterfaceNotFoundError: no such interface.
        BpfSyscallError: the kernel refused.
    """
    if not isinstance(program, Program):
        raise TypeError(f"attach needs a Program, not {type(program).__name__}")
    if program.type == ProgType.XDP:
        if direction is not None:
            raise ValueError("direction is for TC programs; XDP sees received packets only")
        return attach_xdp(program, interface, mode)
    if program.type == ProgType.SCHED_CLS:
        if mode is not None:
            raise ValueError("mode is for XDP programs")
        side = direction or _DIRECTION_OF.get(program.expected_attach_type or AttachType.XDP)
        if side is None:
            raise ValueError(
                f"{program.name or 'the program'!r} does not say its direction (section 'tc'): "
                "pass direction=Direction.INGRESS or Direction.EGRESS"
            )
        return attach_tc(program, interface, side)
    kind = program.type.name if isinstance(program.type, ProgType) else program.type
    raise TypeError(
        f"attach handles XDP and SCHED_CLS programs; {program.name or 'the program'!r} is {kind} "
        "(use ebpf.progs for the other types)"
    )


def _attach_to_interface(
    program: Program, target: AttachTarget | None, options: Mapping[str, Any]
) -> Link | None:
    """The dispatcher's handler for XDP and TC programs: [`attach()`][ebpf.net.attach] to an interface.

    Raises:
        TypeError: a path instead of an interface name or index.
    """
    if target is None:
        return None  # a section names no interface
    if isinstance(target, os.PathLike):
        raise TypeError(f"XDP and TC programs attach to an interface name or index, not {target!r}")
    return attach(program, target, **options)


def register_interface_types() -> None:
    """Register XDP and TC programs with the attach dispatcher of ``ebpf.progs`` (at import)."""
    register_attach((ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT), _attach_to_interface)
