"""cgroup v2 programs fire for processes in a test cgroup, then stop; links fall back to PROG_ATTACH."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from progs._progs_support import Counter, returns, run_in_cgroup

from ebpf.progs import (
    BpfLink,
    ProgAttachLink,
    Program,
    ProgramSpec,
    attach_cgroup,
    cgroup_children,
    cgroup_exists,
    cgroup_of,
    open_cgroup,
    query_cgroup,
)
from ebpf.syscall import AttachFlags, AttachType, LinkType, system


def _send_udp() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", 9))


def _create_socket() -> None:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()


def _connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", 9))


def _read_sysctl() -> None:
    Path("/proc/sys/kernel/ostype").read_text()


HOOKS: list[tuple[str, Callable[[], None]]] = [
    ("cgroup_skb/egress", _send_udp),
    ("cgroup/sock_create", _create_socket),
    ("cgroup/connect4", _connect),
    ("cgroup/sysctl", _read_sysctl),
]


@pytest.mark.parametrize(("section", "trigger"), HOOKS, ids=[h[0] for h in HOOKS])
@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "prog_attach"])
def test_cgroup_hook_fires_then_stops(
    counter: Counter, test_cgroup: Path, section: str, trigger: Callable[[], None], legacy: bool
) -> None:
    with Program.load(counter.spec(section, ret=1)) as prog:
        at = prog.expected_attach_type
        assert at is not None
        with attach_cgroup(prog, test_cgroup, legacy=legacy) as link:
            assert isinstance(link, ProgAttachLink if legacy else BpfLink)
            assert query_cgroup(test_cgroup, at).prog_ids == (prog.id,)
            info = link.info()
            assert info.program_id == prog.id
            assert info.type == (None if legacy else LinkType.CGROUP)
            run_in_cgroup(test_cgroup, trigger)
            assert counter.value >= 1
        assert query_cgroup(test_cgroup, at).prog_ids == ()
        settled = counter.value
        run_in_cgroup(test_cgroup, trigger)
        assert counter.value == settled


def test_processes_outside_the_cgroup_are_not_seen(counter: Counter, test_cgroup: Path) -> None:
    with Program.load(counter.spec("cgroup/sysctl", ret=1)) as prog, attach_cgroup(prog, test_cgroup):
        _read_sysctl()  # this process is not in the test cgroup
        assert counter.value == 0


@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "prog_attach"])
def test_update_replaces_the_program(counter: Counter, test_cgroup: Path, legacy: bool) -> None:
    quiet = ProgramSpec.from_section("cgroup/sysctl", returns(1), name="quiet")
    with Program.load(counter.spec("cgroup/sysctl", ret=1)) as prog, Program.load(quiet) as other:
        with attach_cgroup(prog, test_cgroup, legacy=legacy) as link:
            link.update(other)
            assert query_cgroup(test_cgroup, "cgroup/sysctl").prog_ids == (other.id,)
            assert link.info().program_id == other.id
            run_in_cgroup(test_cgroup, _read_sysctl)
            assert counter.value == 0
        assert query_cgroup(test_cgroup, "cgroup/sysctl").prog_ids == ()


def test_override_flag_uses_prog_attach(counter: Counter, test_cgroup: Path) -> None:
    with (
        Program.load(counter.spec("cgroup_skb/ingress", ret=1)) as prog,
        attach_cgroup(prog, test_cgroup, flags=AttachFlags.ALLOW_OVERRIDE) as link,
    ):
        assert isinstance(link, ProgAttachLink)
        result = query_cgroup(test_cgroup, AttachType.CGROUP_INET_INGRESS)
        assert result.attach_flags == AttachFlags.ALLOW_OVERRIDE
        assert result.prog_ids == (prog.id,)


def test_effective_query_sees_the_parent(counter: Counter, test_cgroup: Path) -> None:
    child = test_cgroup / "child"
    child.mkdir()
    try:
        with Program.load(counter.spec("cgroup/sysctl", ret=1)) as prog, attach_cgroup(prog, test_cgroup):
            assert query_cgroup(child, "cgroup/sysctl").prog_ids == ()
            assert query_cgroup(child, "cgroup/sysctl", effective=True).prog_ids == (prog.id,)
            run_in_cgroup(child, _read_sysctl)
            assert counter.value >= 1
            assert cgroup_children(test_cgroup) == [child]
    finally:
        child.rmdir()


def test_detach_a_pinned_cgroup_link(counter: Counter, test_cgroup: Path, bpffs: Path) -> None:
    with Program.load(counter.spec("cgroup/sysctl", ret=1)) as prog:
        link = attach_cgroup(prog, test_cgroup)
        link.pin(bpffs / "link")
        link.close()
        assert query_cgroup(test_cgroup, "cgroup/sysctl").prog_ids == (prog.id,)  # held by the pin
        link.detach()  # closed already: nothing to do
        again = BpfLink.from_pin(bpffs / "link")
        again.detach()
        assert query_cgroup(test_cgroup, "cgroup/sysctl").prog_ids == ()
        (bpffs / "link").unlink()


def test_cgroup_bad_input(counter: Counter, test_cgroup: Path) -> None:
    with Program.load(counter.spec("cgroup_skb/egress", ret=1)) as prog:
        with pytest.raises(FileNotFoundError, match="not a cgroup v2 directory"):
            attach_cgroup(prog, test_cgroup / "does-not-exist")
        with pytest.raises(TypeError, match="CGROUP_SYSCTL is not an attach type of CGROUP_SKB"):
            attach_cgroup(prog, test_cgroup, "cgroup/sysctl")
        assert query_cgroup(test_cgroup, "cgroup_skb/egress").prog_ids == ()
    with Program.load(counter.spec("socket")) as other, pytest.raises(TypeError, match="CGROUP_SKB"):
        attach_cgroup(other, test_cgroup, "cgroup_skb/egress")
    with (
        Program.load(counter.spec("cgroup/skb", ret=1)) as untyped,
        pytest.raises(ValueError, match="attach type"),
    ):
        attach_cgroup(untyped, test_cgroup)


def test_cgroup_helpers(test_cgroup: Path) -> None:
    root = system.cgroup2_path()
    assert root is not None
    assert cgroup_of().is_relative_to(root)
    assert cgroup_exists(cgroup_of())
    assert cgroup_exists(test_cgroup)
    assert not cgroup_exists(test_cgroup / "nope")
    assert cgroup_children(test_cgroup) == []
    with open_cgroup(test_cgroup) as fd:
        assert os.path.samestat(os.fstat(fd.fileno()), os.stat(test_cgroup))
    pid = os.fork()
    if pid == 0:
        (test_cgroup / "cgroup.procs").write_text(str(os.getpid()))
        os._exit(0 if cgroup_of() == test_cgroup else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with pytest.raises(ProcessLookupError):
        cgroup_of(2**22 + 12345)
