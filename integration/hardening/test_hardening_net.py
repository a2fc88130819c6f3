"""XDP and TC attachments of a process killed by SIGKILL.

A child process enters a scratch network namespace (a veth pair, named
``/run/netns/ebpf-hard-*``), attaches, reports what it attached and waits;
the parent kills it with ``SIGKILL`` and looks at the interface:

- with kernel bpf_links (``XdpLink``, ``TcxLink``) nothing remains
  attached and the programs are freed;
- with netlink attachments (``NetlinkXdpLink``, ``TcFilterLink``: the only
  option before Linux 5.9/6.6, and what ``link=False``/``tcx=False`` force)
  the programs stay attached, as ``ebpf.net``'s documentation says, and
  ``ebpf.net`` finds them (``query``) and removes them (``detach_xdp``,
  ``delete_tc_filter``, ``remove_clsact``).
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from progs._progs_support import returns, wait_until

from ebpf.net import (
    Direction,
    delete_tc_filter,
    detach_xdp,
    in_netns,
    query,
    remove_clsact,
)
from ebpf.net import (
    attach_tc as attach_tc_program,
)
from ebpf.net import (
    attach_xdp as attach_xdp_program,
)
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import features, objects

XDP_PASS, TC_ACT_OK = 2, 0


@pytest.fixture
def netns() -> Iterator[Path]:
    """A named network namespace holding an up veth pair ``hv0``/``hv1``; deleted afterwards."""
    name = f"ebpf-hard-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for command in (
            "ip link add hv0 type veth peer name hv1",
            "ip link set hv0 up",
            "ip link set hv1 up",
        ):
            subprocess.run(["ip", "-n", name, *command.split()[1:]], check=True)
        yield Path("/run/netns") / name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def _child_attaches(netns: Path, attach: Callable[[], list[object]]) -> tuple[int, ...]:
    """Fork a child that enters ``netns`` and attaches; SIGKILL it; return the program ids it reported."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            with in_netns(netns):
                keep = attach()
                ids = [p.id for p in keep if isinstance(p, Program)]
                os.write(write_end, struct.pack(f"<{len(ids) + 1}i", len(ids), *ids))
                signal.pause()
        except BaseException:
            os.write(write_end, struct.pack("<i", -1) + traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        head = pipe.read(4)
        assert len(head) == 4, "the child died before attaching"
        (count,) = struct.unpack("<i", head)
        if count < 0:
            os.waitpid(pid, 0)
            pytest.fail(f"the child failed to attach:\n{pipe.read().decode()}", pytrace=False)
        reported: tuple[int, ...] = struct.unpack(f"<{count}i", pipe.read(4 * count))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return reported


def _programs() -> tuple[Program, Program]:
    xdp = Program.load(ProgramSpec.from_section("xdp", returns(XDP_PASS)))
    tc = Program.load(ProgramSpec.from_section("tc", returns(TC_ACT_OK)))
    return xdp, tc


@pytest.mark.parametrize(
    "tcx",
    [
        pytest.param(False, id="xdp_link"),
        pytest.param(True, id="tcx_link", marks=pytest.mark.requires_feature(features.TCX)),
    ],
)
def test_sigkill_with_xdp_and_tcx_links_leaves_nothing_attached(netns: Path, tcx: bool) -> None:
    def attach() -> list[object]:
        xdp, tc = _programs()
        if tcx:
            link: object = attach_tc_program(tc, "hv0", Direction.INGRESS, tcx=True)
        else:
            link = attach_xdp_program(xdp, "hv0", link=True)
        return [xdp, tc, link]

    prog_ids = set(_child_attaches(netns, attach))
    assert len(prog_ids) == 2

    def detached() -> bool:
        with in_netns(netns):
            found = query("hv0")
        return not found.interface.xdp.modes and not found.tcx_ingress and not found.tc_filters

    assert wait_until(detached, 5.0), "an XDP or TCX link outlived its process"
    assert wait_until(lambda: not prog_ids & set(objects.prog_ids()), 5.0), "programs outlived the process"


def test_sigkill_with_netlink_attachments_leaves_them_and_ebpf_removes_them(netns: Path) -> None:
    def attach() -> list[object]:
        xdp, tc = _programs()
        xdp_link = attach_xdp_program(xdp, "hv0", link=False)
        tc_link = attach_tc_program(tc, "hv0", Direction.INGRESS, tcx=False)
        return [xdp, tc, xdp_link, tc_link]

    xdp_id, tc_id = _child_attaches(netns, attach)
    with in_netns(netns):
        found = query("hv0")
        assert xdp_id in {found.interface.xdp.program_id(mode) for mode in found.interface.xdp.modes}, (
            "the netlink XDP attachment did not survive its process (the documentation would be wrong)"
        )
        leftovers = [f for f in found.tc_filters if f.program_id == tc_id]
        assert leftovers, "the cls_bpf filter did not survive its process"
        assert detach_xdp("hv0")
        for leftover in leftovers:
            delete_tc_filter(leftover)
        remove_clsact("hv0")
        after = query("hv0")
        assert not after.interface.xdp.modes
        assert not after.tc_filters
        assert not after.clsact
    assert wait_until(lambda: not {xdp_id, tc_id} & set(objects.prog_ids()), 5.0)
