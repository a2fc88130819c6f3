"""``netkit_programs()``: empty for devices that are not netkit, an error for a missing one."""

from __future__ import annotations

import pytest
from net._net_support import Pair

from ebpf import net


def test_netkit_programs_of_a_veth_are_none(pair: Pair) -> None:
    with net.in_netns(pair.a):
        assert net.netkit_programs(pair.va) == []
        assert net.netkit_programs(pair.va, peer=True) == []
        with pytest.raises(net.InterfaceNotFoundError):
            net.netkit_programs("nope0")
