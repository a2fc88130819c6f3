"""Entry points run without the capabilities they need: a PermissionDeniedError naming the missing one,
and nothing left behind, neither descriptors in the process nor objects in the kernel.

Each case runs in a forked child: with no capability at all
(``integration/privileges.py``), or with only some (``_caps.py``: "CAP_BPF but
not CAP_PERFMON" must name CAP_PERFMON, not CAP_BPF). Objects a case needs
(a loaded program to attach, a map to open by id) are made by the parent
beforehand and inherited. The child reports the error's capability and
command and the descriptors it leaked; the parent compares the kernel's
objects before and after (``_resources.leaks``).

Operations the kernel allows to whoever holds the descriptor (map lookups,
pinning, test runs, and attaching an inherited program descriptor through
a raw tracepoint, a legacy cgroup attachment or an XDP/TCX/cgroup link once
the library's feature probes are cached) are not permission errors and are
not listed here. Netlink changes (XDP by netlink, TC filters, qdiscs) are
made in a scratch network namespace: the child inherits the namespace of
the thread that forks it.
"""

from __future__ import annotations

import gc
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _resources import Snapshot, leaks
from privileges import CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, run_with_capabilities, run_without_capabilities
from progs._progs_support import returns

from ebpf.maps import Map, MapSpec, PinType, u32
from ebpf.net import Direction, add_clsact, attach_tc, attach_xdp, in_netns, query
from ebpf.progs import Program, ProgramSpec, attach_tracepoint, run_statistics
from ebpf.syscall import MapType, PermissionDeniedError, ProgType, commands, objects, perf, system
from ebpf.syscall.abi import PerfSwId
from tests._leakcheck import leaked_since, open_fds

_BTF_INT = (
    struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 16, 16, 5)
    + struct.pack("<IIII", 1, 0x01000000, 4, 0x01000020)
    + b"\0int\0"
)


@dataclass(frozen=True)
class Outcome:
    """What the child saw: ``denied`` with the error's capability and command, and its leaked descriptors."""

    denied: bool
    capability: str
    command: str
    leaked_fds: dict[int, str]


def _attempt(action: Callable[[], object]) -> Outcome:
    """Run ``action`` (in the child); close whatever it returned; report the outcome."""
    before = open_fds()
    try:
        result = action()
    except PermissionDeniedError as exc:
        gc.collect()
        return Outcome(True, exc.capability, exc.command, leaked_since(before))
    close = getattr(result, "close", None)
    if callable(close):
        close()
    return Outcome(False, "", "", leaked_since(before))


@dataclass
class Parent:
    """Objects the parent makes for the cases, inherited by the children."""

    tracepoint_prog: Program
    xdp_prog: Program
    tc_prog: Program
    map: Map
    bpffs: Path


@pytest.fixture
def parent(bpffs: Path) -> Iterator[Parent]:
    prog = Program.load(ProgramSpec.from_section("tp/syscalls/sys_enter_getpid", returns(0)))
    xdp = Program.load(ProgramSpec.from_section("xdp", returns(2)))
    tc = Program.load(ProgramSpec.from_section("tc", returns(0)))
    m = Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1))
    with prog, xdp, tc, m:
        yield Parent(prog, xdp, tc, m, bpffs)


@pytest.fixture
def veth_netns() -> Iterator[Path]:
    """A named network namespace with a veth pair ``hv0``/``hv1``; deleted afterwards."""
    name = f"ebpf-priv-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "-n", name, "link", "add", "hv0", "type", "veth", "peer", "name", "hv1"], check=True
        )
        yield Path("/run/netns") / name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def _mount_somewhere() -> object:
    path = Path(tempfile.mkdtemp(prefix="ebpf-priv-"))
    try:
        return system.ensure_bpffs(path, mount=True)
    finally:
        path.rmdir()


def _stats() -> object:
    with run_statistics():
        return None


NO_CAPS: dict[str, tuple[Callable[[Parent], object], str]] = {
    "map create": (
        lambda p: Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1)),
        "CAP_BPF",
    ),
    "map create pinned by name": (
        lambda p: Map.create(
            MapSpec(MapType.ARRAY, name="priv", key=u32, value=u32, max_entries=1, pinning=PinType.BY_NAME),
            pin_root=p.bpffs,
        ),
        "CAP_BPF",
    ),
    "program load": (
        lambda p: Program.load(ProgramSpec(name="p", type=ProgType.SOCKET_FILTER, instructions=returns(0))),
        "CAP_BPF",
    ),
    "BTF load": (lambda p: commands.btf_load(_BTF_INT), "CAP_BPF"),
    "perf_event_open": (
        lambda p: perf.open_software(PerfSwId.CPU_CLOCK, cpu=0, sample_period=10**6),
        "CAP_PERFMON",
    ),
    "attach a tracepoint": (
        lambda p: attach_tracepoint(p.tracepoint_prog, "syscalls", "sys_enter_getpid"),
        "CAP_PERFMON",
    ),
    "list programs": (lambda p: objects.list_programs(), "CAP_SYS_ADMIN"),
    "open a map by id": (lambda p: Map.from_id(p.map.id), "CAP_SYS_ADMIN"),
    "open a program by id": (lambda p: Program.from_id(p.tracepoint_prog.id), "CAP_SYS_ADMIN"),
    "enable run statistics": (lambda p: _stats(), "CAP_SYS_ADMIN"),
    "mount bpffs": (lambda p: _mount_somewhere(), "CAP_SYS_ADMIN"),
}


NETWORK: dict[str, Callable[[Parent], object]] = {
    "XDP by netlink": lambda p: attach_xdp(p.xdp_prog, "hv0", link=False),
    "TC filter": lambda p: attach_tc(p.tc_prog, "hv0", Direction.INGRESS, tcx=False),
    "clsact qdisc": lambda p: add_clsact("hv0"),
}


def _check(outcome: Outcome, capability: str, before: Snapshot) -> None:
    assert outcome.denied, "the call succeeded without the capability"
    assert outcome.capability == capability, (
        f"{outcome.command} named {outcome.capability}, but {capability} is what is missing"
    )
    assert not outcome.leaked_fds, f"the failed call leaked descriptors in the child: {outcome.leaked_fds}"
    assert leaks(before) == [], "the failed call left objects in the kernel"


@pytest.mark.parametrize("case", sorted(NO_CAPS))
def test_without_any_capability(case: str, parent: Parent) -> None:
    action, capability = NO_CAPS[case]
    before = Snapshot.take(network=False)
    outcome = run_without_capabilities(lambda: _attempt(lambda: action(parent)))
    _check(outcome, capability, before)
    assert list(parent.bpffs.iterdir()) == [], "a refused create left a pin"


PARTIAL: dict[str, tuple[tuple[int, ...], Callable[[Parent], object], str]] = {
    "socket filter with CAP_BPF": (
        (CAP_BPF,),
        lambda p: Program.load(ProgramSpec(name="p", type=ProgType.SOCKET_FILTER, instructions=returns(0))),
        "",
    ),
    "tracepoint program without CAP_PERFMON": (
        (CAP_BPF, CAP_NET_ADMIN),
        lambda p: Program.load(ProgramSpec.from_section("tp/syscalls/sys_enter_getpid", returns(0))),
        "CAP_PERFMON",
    ),
    "XDP program without CAP_NET_ADMIN": (
        (CAP_BPF, CAP_PERFMON),
        lambda p: Program.load(ProgramSpec.from_section("xdp", returns(2))),
        "CAP_NET_ADMIN",
    ),
    "tracepoint attach without CAP_PERFMON": (
        (CAP_BPF, CAP_NET_ADMIN),
        lambda p: attach_tracepoint(p.tracepoint_prog, "syscalls", "sys_enter_getpid"),
        "CAP_PERFMON",
    ),
}


@pytest.mark.parametrize(
    "case",
    sorted(PARTIAL),
)
def test_with_some_capabilities(case: str, parent: Parent) -> None:
    keep, action, capability = PARTIAL[case]
    before = Snapshot.take(network=False)
    outcome = run_with_capabilities(keep, lambda: _attempt(lambda: action(parent)))
    if not capability:
        assert not outcome.denied, f"refused with {keep}: {outcome}"
        assert not outcome.leaked_fds
        return
    _check(outcome, capability, before)


@pytest.mark.parametrize("case", sorted(NETWORK))
def test_netlink_attachments_without_any_capability(case: str, parent: Parent, veth_netns: Path) -> None:
    """Netlink changes need CAP_NET_ADMIN; the child inherits the namespace of the thread that forks it."""
    before = Snapshot.take(network=False)
    with in_netns(veth_netns):
        outcome = run_without_capabilities(lambda: _attempt(lambda: NETWORK[case](parent)))
        assert query("hv0").empty, "a refused attachment changed the interface"
    _check(outcome, "CAP_NET_ADMIN", before)
