"""The resource accounting of ``integration/_resources.py`` catches each kind of leak it claims to.

Each test makes one real leak on purpose, checks that :func:`leaks` names
it, then cleans it up and checks that :func:`leaks` is quiet again (so the
autouse check of ``conftest.py`` passes).
"""

from __future__ import annotations

import mmap
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _resources import Snapshot, leaks
from progs._progs_support import returns

from ebpf.maps import Map, MapSpec, u32, u64
from ebpf.net import in_netns
from ebpf.progs import Program, ProgramSpec, open_cgroup
from ebpf.syscall import AttachType, MapFlags, MapType, commands

GRACE = 0.3


def test_a_thread_left_running() -> None:
    before = Snapshot.take(kernel=False, network=False)
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="forgotten-consumer")
    thread.start()
    try:
        (problem,) = leaks(before, grace=GRACE)
        assert "thread(s) still running: forgotten-consumer" in problem
    finally:
        release.set()
        thread.join()
    assert leaks(before, grace=GRACE) == []


def test_a_kernel_object_left_mapped() -> None:
    with Map.create(
        MapSpec(MapType.ARRAY, key=u32, value=u64, max_entries=512, flags=MapFlags.MMAPABLE)
    ) as m:
        before = Snapshot.take(kernel=False, network=False)
        mapping = mmap.mmap(m.fileno(), 4096)
        try:
            (problem,) = leaks(before, grace=GRACE)
            assert "kernel-object mapping(s) still mapped" in problem
            assert "anon_inode:bpf-map" in problem
        finally:
            mapping.close()
        assert leaks(before, grace=GRACE) == []


def test_an_object_left_pinned(bpffs: Path) -> None:
    before = Snapshot.take(network=False)
    with Map.create(MapSpec(MapType.ARRAY, name="forgotten", key=u32, value=u32, max_entries=1)) as m:
        m.pin(bpffs / "forgotten")
    (problem,) = leaks(before, grace=GRACE)
    assert "map(s) still loaded that no process holds" in problem
    assert "'forgotten'" in problem
    (bpffs / "forgotten").unlink()
    assert leaks(before) == []


def test_a_program_left_attached(scratch_cgroup: Path) -> None:
    before = Snapshot.take(network=False)
    with (
        Program.load(ProgramSpec.from_section("cgroup/sysctl", returns(1), name="forgotten")) as prog,
        open_cgroup(scratch_cgroup) as cgroup,
    ):
        prog_id = prog.id
        commands.prog_attach(cgroup, prog, AttachType.CGROUP_SYSCTL)
    (problem,) = leaks(before, grace=GRACE)
    assert "prog(s) still loaded that no process holds" in problem
    assert f"id {prog_id} CGROUP_SYSCTL 'forgotten'" in problem
    with Program.from_id(prog_id) as prog, open_cgroup(scratch_cgroup) as cgroup:
        commands.prog_detach(cgroup, AttachType.CGROUP_SYSCTL, prog)
    assert leaks(before) == []


@pytest.fixture
def scratch_netns() -> Iterator[Path]:
    name = f"ebpf-res-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "-n", name, "link", "add", "hd0", "type", "veth", "peer", "name", "hd1"], check=True
        )
        subprocess.run(["ip", "-n", name, "link", "set", "hd0", "up"], check=True)
        yield Path("/run/netns") / name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_a_qdisc_and_an_xdp_program_left_on_an_interface(scratch_netns: Path, bpffs: Path) -> None:
    with (
        Program.load(ProgramSpec.from_section("xdp", returns(2), name="forgotten")) as prog,
        in_netns(scratch_netns),  # `tc` and `ip` run in this thread's namespace
    ):
        before = Snapshot.take()
        subprocess.run(["tc", "qdisc", "add", "dev", "hd0", "clsact"], check=True)
        pinned = bpffs / "xdp"  # `ip link set ... xdp pinned` attaches by netlink
        prog.pin(pinned)
        try:
            subprocess.run(
                ["ip", "link", "set", "dev", "hd0", "xdpgeneric", "pinned", str(pinned)], check=True
            )
        finally:
            prog.unpin()
        problems = leaks(before, grace=GRACE)
        assert any("clsact/ingress qdisc(s) left: hd0 clsact" in p for p in problems), problems
        assert any(f"XDP attachment(s) left: hd0 prog {prog.id}" in p for p in problems), problems
        subprocess.run(["ip", "link", "set", "dev", "hd0", "xdpgeneric", "off"], check=True)
        subprocess.run(["tc", "qdisc", "del", "dev", "hd0", "clsact"], check=True)
        assert leaks(before) == []


def test_a_network_namespace_left() -> None:
    before = Snapshot.take()
    name = f"ebpf-res-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        (problem,) = leaks(before, grace=GRACE)
        assert f"named network namespace(s) left: {name}" in problem
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
    assert leaks(before) == []
