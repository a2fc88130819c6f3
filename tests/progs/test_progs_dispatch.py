"""The attach dispatcher without a kernel: which handler a program type reaches, and the errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest

import ebpf.net
from ebpf.progs import AttachTarget, Link, Program, ProgramSpec, attach, register_attach
from ebpf.progs import _dispatch as dispatch
from ebpf.syscall import ProgType

RET0 = bytes.fromhex("b7000000000000009500000000000000")
A_LINK, SPEC_LINK = cast(Link, object()), cast(Link, object())


class FakeProgram:
    """What the dispatcher reads of a program: its type, its spec, and ``attach()``."""

    def __init__(self, spec: ProgramSpec | None, prog_type: ProgType | None = None) -> None:
        self.spec = spec
        self.type = prog_type if prog_type is not None else cast(ProgramSpec, spec).type
        self.expected_attach_type = spec.expected_attach_type if spec is not None else None
        self.name = spec.name if spec is not None else ""
        self.attached_by_spec = False

    def attach(self) -> Link:
        self.attached_by_spec = True
        return SPEC_LINK


def _program(spec: ProgramSpec | None, prog_type: ProgType | None = None) -> Program:
    return cast(Program, FakeProgram(spec, prog_type))


@pytest.fixture
def registered() -> Iterator[list[tuple[object, AttachTarget | None, dict[str, Any]]]]:
    """A handler for SK_LOOKUP programs that records its calls; the table is restored after."""
    calls: list[tuple[object, AttachTarget | None, dict[str, Any]]] = []
    saved = dict(dispatch._HANDLERS)

    def handler(program: Program, target: AttachTarget | None, options: Mapping[str, Any]) -> Link | None:
        calls.append((program, target, dict(options)))
        return A_LINK if target != "nowhere" else None

    register_attach([ProgType.SK_LOOKUP], handler)
    yield calls
    dispatch._HANDLERS.clear()
    dispatch._HANDLERS.update(saved)


def test_a_target_goes_to_the_handler_of_the_program_type(
    registered: list[tuple[object, AttachTarget | None, dict[str, Any]]],
) -> None:
    program = _program(None, ProgType.SK_LOOKUP)
    assert attach(program, "somewhere", cookie=3) is A_LINK
    assert registered == [(program, "somewhere", {"cookie": 3})]
    with pytest.raises(ValueError, match=r"does not know where to attach a SK_LOOKUP program to 'nowhere'"):
        attach(program, "nowhere")


def test_no_target_attaches_where_the_spec_points() -> None:
    fake = FakeProgram(ProgramSpec.from_section("raw_tracepoint/sys_enter", RET0))
    assert attach(cast(Program, fake)) is SPEC_LINK
    assert fake.attached_by_spec


def test_a_type_without_a_handler_names_the_attach_functions() -> None:
    program = _program(ProgramSpec.from_section("socket", RET0))
    with pytest.raises(ValueError, match=r"attach_\* function"):
        attach(program, "eth0")


def test_attach_from_spec_says_what_the_spec_lacks() -> None:
    with pytest.raises(ValueError, match="needs a program loaded from a spec"):
        dispatch.attach_from_spec(_program(None, ProgType.KPROBE))
    with pytest.raises(ValueError, match="has no attach_to"):
        dispatch.attach_from_spec(_program(ProgramSpec.from_section("tracepoint", RET0)))
    with pytest.raises(ValueError, match=r"cannot attach KPROBE program .* by itself"):
        dispatch.attach_from_spec(_program(ProgramSpec.from_section("uprobe//bin/true:main", RET0)))
    for section in ("uprobe/libc.so.6:malloc", "usdt/python3.11:python:function__entry"):
        with pytest.raises(ValueError, match=r"cannot attach KPROBE program .* by itself"):
            dispatch.attach_from_spec(_program(ProgramSpec.from_section(section, RET0)))  # not a kprobe
    spec = ProgramSpec.from_section("tracepoint/sys_enter_getpid", RET0)
    with pytest.raises(ValueError, match="a tracepoint target is 'category/name'"):
        dispatch.attach_from_spec(_program(spec))


def test_ebpf_net_registers_xdp_and_tc() -> None:
    assert ebpf.net.attach is not None  # imported: registered
    for prog_type in (ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT):
        assert dispatch._HANDLERS[prog_type].__module__ == "ebpf.net._helpers"
    xdp = _program(ProgramSpec.from_section("xdp", RET0))
    with pytest.raises(TypeError, match="interface name or index"):
        attach(xdp, Path("/sys/fs/cgroup"))
    with pytest.raises(ValueError, match="has no attach_to"):
        dispatch.attach_from_spec(xdp)
