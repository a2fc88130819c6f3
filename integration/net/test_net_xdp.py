"""XDP through bpf_link and netlink, proven with real packets between two namespaces."""

from __future__ import annotations

import errno

import pytest
from net._net_support import ADDR_A, Counters, Pair, counting, ping, plain

from ebpf import net
from ebpf.asm import XdpAction
from ebpf.syscall import AttachType, BpfSyscallError, MapType, ProgType, commands

MODES = [net.XdpMode.GENERIC, net.XdpMode.NATIVE]
MECHANISMS = [pytest.param(True, id="bpf_link"), pytest.param(False, id="netlink")]


@pytest.mark.parametrize("link", MECHANISMS)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.label)
def test_drop_makes_ping_fail_and_counts(
    pair: Pair, counters: Counters, mode: net.XdpMode, link: bool
) -> None:
    assert ping(pair.b, ADDR_A) == 1
    with counting(ProgType.XDP, XdpAction.DROP, counters) as prog:
        with net.in_netns(pair.a), net.attach_xdp(prog, pair.va, mode, link=link) as attached:
            assert isinstance(attached, net.XdpLink if link else net.NetlinkXdpLink)
            assert attached.mode is mode
            assert net.xdp_status(pair.va).program_id(mode) == prog.id
            assert attached.info().program_id == prog.id
            assert ping(pair.b, ADDR_A, count=3, timeout=0.2) == 0
            assert counters[0] == 3
        assert ping(pair.b, ADDR_A) == 1
        assert counters[0] == 3
        with net.in_netns(pair.a):
            assert not net.xdp_status(pair.va).attached


@pytest.mark.parametrize("link", MECHANISMS)
def test_pass_lets_ping_through_and_counts(pair: Pair, counters: Counters, link: bool) -> None:
    with counting(ProgType.XDP, XdpAction.PASS, counters) as prog, net.in_netns(pair.a):
        with net.attach_xdp(prog, pair.va, link=link):
            assert ping(pair.b, ADDR_A, count=2) == 2
        assert counters[0] == 2


def test_with_xdp_and_attach_by_type(pair: Pair, counters: Counters) -> None:
    with counting(ProgType.XDP, XdpAction.DROP, counters) as prog:
        with net.in_netns(pair.a), net.with_xdp(prog, pair.va) as link:
            assert link.info().program_id == prog.id
            assert ping(pair.b, ADDR_A, timeout=0.2) == 0
        with net.in_netns(pair.a), net.attach(prog, pair.va, mode=net.XdpMode.GENERIC):
            assert ping(pair.b, ADDR_A, timeout=0.2) == 0
        assert ping(pair.b, ADDR_A) == 1
        assert counters[0] == 2


def test_netlink_flags_replace_and_expected(pair: Pair, counters: Counters) -> None:
    mode = net.XdpMode.GENERIC
    with (
        counting(ProgType.XDP, XdpAction.DROP, counters, 0, "drop") as drop,
        counting(ProgType.XDP, XdpAction.PASS, counters, 1, "pass") as pass_,
        net.in_netns(pair.a),
    ):
        first = net.attach_xdp(drop, pair.va, mode, link=False)
        try:
            # Update-if-no-existing is the default: a second program is refused.
            with pytest.raises(BpfSyscallError) as busy:
                net.attach_xdp(pass_, pair.va, mode, link=False)
            assert busy.value.errno == errno.EBUSY
            # and so is a link over a netlink attachment.
            with pytest.raises(BpfSyscallError):
                net.attach_xdp(pass_, pair.va, mode, link=True)
            assert net.xdp_status(pair.va).program_id(mode) == drop.id
            # Expected-program replacement: refused unless the expected program is attached.
            with pytest.raises(net.NetlinkError) as stale:
                net.attach_xdp(drop, pair.va, mode, expected=pass_)
            assert stale.value.errno == errno.EEXIST
            assert "expected" in stale.value.extack
            second = net.attach_xdp(pass_, pair.va, mode, expected=drop.id)
            assert net.xdp_status(pair.va).program_id(mode) == pass_.id
            assert ping(pair.b, ADDR_A) == 1
            # The first handle no longer owns the attachment: closing it leaves the new one.
            first.close()
            assert net.xdp_status(pair.va).program_id(mode) == pass_.id
            third = net.attach_xdp(drop, pair.va, mode, replace=True)
            assert ping(pair.b, ADDR_A, timeout=0.2) == 0
            second.close()
            assert net.xdp_status(pair.va).program_id(mode) == drop.id
            assert net.detach_xdp(pair.va) is True
            assert net.detach_xdp(pair.va) is False
            third.close()
        finally:
            first.close()
        assert not net.xdp_status(pair.va).attached


def test_detach_xdp_refuses_a_link_and_an_unexpected_program(pair: Pair) -> None:
    mode = net.XdpMode.GENERIC
    with (
        plain(ProgType.XDP, XdpAction.PASS) as prog,
        plain(ProgType.XDP, XdpAction.PASS) as other,
        net.in_netns(pair.a),
    ):
        with net.attach_xdp(prog, pair.va, mode, link=True):
            with pytest.raises(BpfSyscallError) as held:
                net.detach_xdp(pair.va)
            assert held.value.errno == errno.EBUSY
            assert net.xdp_status(pair.va).generic_program_id == prog.id
        with net.attach_xdp(prog, pair.va, mode, link=False):
            with pytest.raises(BpfSyscallError) as wrong:
                net.detach_xdp(pair.va, expected=other)
            assert wrong.value.errno == errno.EEXIST
            assert net.xdp_status(pair.va).generic_program_id == prog.id
            assert net.detach_xdp(pair.va, mode, expected=prog) is True


def test_xdp_link_pin_and_update(pair: Pair, counters: Counters, bpffs: object) -> None:
    from pathlib import Path

    assert isinstance(bpffs, Path)
    with (
        counting(ProgType.XDP, XdpAction.DROP, counters, 0, "drop") as drop,
        counting(ProgType.XDP, XdpAction.PASS, counters, 1, "pass") as pass_,
        net.in_netns(pair.a),
    ):
        link = net.attach_xdp(drop, pair.va, net.XdpMode.GENERIC)
        assert isinstance(link, net.XdpLink)
        with link:
            link.pin(bpffs / "xdp")
            link.close()
            assert net.xdp_status(pair.va).generic_program_id == drop.id  # the pin holds it
            with net.XdpLink.from_pin(bpffs / "xdp") as pinned:
                pinned.update(pass_)
                assert net.xdp_status(pair.va).generic_program_id == pass_.id
                assert ping(pair.b, ADDR_A) == 1
                pinned.unpin()
        assert not net.xdp_status(pair.va).attached


def test_program_in_devmap_and_cpumap_entries(pair: Pair) -> None:
    with (
        plain(ProgType.XDP, XdpAction.PASS, "devmap_prog", AttachType.XDP_DEVMAP) as devprog,
        plain(ProgType.XDP, XdpAction.PASS, "cpumap_prog", AttachType.XDP_CPUMAP) as cpuprog,
        plain(ProgType.XDP, XdpAction.PASS) as plain_xdp,
        commands.map_create(MapType.DEVMAP, 4, 8, 4) as devmap,
        commands.map_create(MapType.CPUMAP, 4, 8, 1) as cpumap,
        net.in_netns(pair.a),
    ):
        commands.map_update_elem(devmap, bytes(4), net.devmap_value(pair.va, devprog))
        out = bytearray(8)
        commands.map_lookup_elem(devmap, bytes(4), out)
        assert net.DevmapEntry.decode(out) == net.DevmapEntry(net.interface_index(pair.va), devprog.id)
        commands.map_update_elem(cpumap, bytes(4), net.cpumap_value(64, cpuprog))
        commands.map_lookup_elem(cpumap, bytes(4), out)
        assert net.CpumapEntry.decode(out) == net.CpumapEntry(64, cpuprog.id)
        with pytest.raises(TypeError, match="XDP_DEVMAP"):
            net.devmap_value(pair.va, plain_xdp)
        with pytest.raises(TypeError, match="map entries"):
            net.attach_xdp(devprog, pair.va)
