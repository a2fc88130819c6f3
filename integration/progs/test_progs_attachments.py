"""``perf_attachments()``, ``cgroup_attachments()``: what is attached where, found without the link."""

from __future__ import annotations

from pathlib import Path

from progs._progs_support import returns

from ebpf.progs import (
    BpfLink,
    PerfEventLink,
    Program,
    ProgramSpec,
    attach_cgroup,
    attach_raw_tracepoint,
    attach_tracepoint,
    cgroup_attachments,
    perf_attachments,
)
from ebpf.syscall import AttachFlags, AttachType, ProgType
from ebpf.syscall.abi import TaskFdType


def _program(prog_type: ProgType, value: int, attach: AttachType | None = None) -> Program:
    spec = ProgramSpec(
        name="attachments", type=prog_type, instructions=returns(value), expected_attach_type=attach
    )
    return Program.load(spec)


def test_perf_attachments_find_this_process_tracepoints_by_descriptor() -> None:
    with (
        _program(ProgType.TRACEPOINT, 0) as tp,
        _program(ProgType.RAW_TRACEPOINT, 0) as raw,
        attach_tracepoint(tp, "syscalls", "sys_enter_getppid", legacy=True) as tp_link,
        attach_raw_tracepoint(raw, "sys_exit") as raw_link,
    ):
        found = {a.prog_id: a for a in perf_attachments(include_self=True)}
        assert not [a for a in perf_attachments() if a.prog_id in (tp.id, raw.id)]  # this process is left out
        tp_found, raw_found = found[tp.id], found[raw.id]
        assert (tp_found.fd_type, tp_found.name) == (TaskFdType.TRACEPOINT, "sys_enter_getppid")
        assert isinstance(tp_link, PerfEventLink)
        assert tp_found.fd == tp_link.fileno()  # the perf event this process holds
        assert (raw_found.fd_type, raw_found.name) == (TaskFdType.RAW_TRACEPOINT, "sys_exit")
        assert isinstance(raw_link, BpfLink)
        assert raw_found.fd == raw_link.fileno()


def test_cgroup_attachments_list_every_hook_in_order(test_cgroup: Path) -> None:
    assert cgroup_attachments(test_cgroup) == []
    with (
        _program(ProgType.CGROUP_SKB, 1, AttachType.CGROUP_INET_EGRESS) as egress,
        _program(ProgType.CGROUP_SKB, 1, AttachType.CGROUP_INET_INGRESS) as ingress,
        attach_cgroup(egress, test_cgroup, AttachType.CGROUP_INET_EGRESS) as egress_link,
        attach_cgroup(ingress, test_cgroup, AttachType.CGROUP_INET_INGRESS, legacy=True),
    ):
        found = cgroup_attachments(str(test_cgroup))
        # the kernel may not report which link holds a cgroup program (0 then)
        assert found[1].link_id in (0, egress_link.info().id)
        assert [(a.prog_id, a.attach_type, a.attach_flags) for a in found] == [
            (ingress.id, AttachType.CGROUP_INET_INGRESS, AttachFlags.ALLOW_MULTI),
            (egress.id, AttachType.CGROUP_INET_EGRESS, AttachFlags.ALLOW_MULTI),
        ]
        assert found[0].link_id == 0  # attached without a link
        assert [a.prog_id for a in cgroup_attachments(test_cgroup.parent)] == []
        inherited = cgroup_attachments(test_cgroup, effective=True)
        assert {a.prog_id for a in inherited} == {ingress.id, egress.id}
    assert cgroup_attachments(test_cgroup) == []
