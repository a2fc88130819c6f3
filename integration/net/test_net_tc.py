"""TC: cls_bpf filters on clsact through netlink, TCX links and their order, with real packets."""

from __future__ import annotations

import errno

import pytest
from net._net_support import (
    ADDR_A,
    ADDR_B,
    MARK_OFFSET,
    Counters,
    Pair,
    counting,
    digit,
    drain,
    marking,
    ping,
    plain,
    udp_receiver,
    udp_sender,
)

from ebpf import net
from ebpf.asm import TcAction, TcxAction
from ebpf.syscall import AttachType, BpfSyscallError, ProgType, features

IN, OUT = net.Direction.INGRESS, net.Direction.EGRESS
MECHANISMS = [
    pytest.param(True, id="tcx", marks=pytest.mark.requires_feature(features.TCX)),
    pytest.param(False, id="cls_bpf"),
]


@pytest.mark.parametrize("tcx", MECHANISMS)
def test_egress_drop_makes_ping_fail(pair: Pair, counters: Counters, tcx: bool) -> None:
    with counting(ProgType.SCHED_CLS, TcAction.SHOT, counters) as prog:
        with net.in_netns(pair.a), net.setup_tc_egress(prog, pair.va, tcx=tcx) as link:
            assert isinstance(link, net.TcxLink if tcx else net.TcFilterLink)
            assert net.has_clsact(pair.va) is not tcx
            # The echo requests arrive; the replies leaving va are dropped and counted.
            assert ping(pair.b, ADDR_A, count=2, timeout=0.2) == 0
            assert counters[0] == 2
        assert ping(pair.b, ADDR_A) == 1
        assert counters[0] == 2


@pytest.mark.parametrize("tcx", MECHANISMS)
def test_ingress_pass_counts(pair: Pair, counters: Counters, tcx: bool) -> None:
    with counting(ProgType.SCHED_CLS, TcAction.OK, counters) as prog:
        with net.in_netns(pair.a), net.with_tc(prog, pair.va, IN, tcx=tcx):
            assert ping(pair.b, ADDR_A, count=3) == 3
        assert counters[0] == 3


@pytest.mark.parametrize("tcx", MECHANISMS)
def test_egress_program_marks_the_traffic(pair: Pair, tcx: bool) -> None:
    with (
        marking(ord("X")) as prog,
        udp_receiver(pair.b, ADDR_B) as (rx, port),
        udp_sender(pair.a, no_checksum=True) as tx,
    ):
        tx.sendto(b"hello", (ADDR_B, port))
        assert drain(rx) == [b"hello"]
        with net.in_netns(pair.a), net.attach_tc(prog, pair.va, OUT, tcx=tcx):
            tx.sendto(b"hello", (ADDR_B, port))
            assert drain(rx) == [b"Xello"]
        tx.sendto(b"hello", (ADDR_B, port))
        assert drain(rx) == [b"hello"]
    assert MARK_OFFSET == 42


def test_filter_priority_handle_name_and_listing(pair: Pair, counters: Counters) -> None:
    with (
        counting(ProgType.SCHED_CLS, TcAction.OK, counters, 0, "first") as first,
        counting(ProgType.SCHED_CLS, TcAction.SHOT, counters, 1, "second") as second,
        net.in_netns(pair.a),
    ):
        with (
            net.attach_tc_filter(first, pair.va, IN, priority=10, handle=7, name="my-filter") as a,
            net.attach_tc_filter(second, pair.va, IN, priority=20, handle=1) as b,
        ):
            assert (a.priority, a.handle, b.priority, b.handle) == (10, 7, 20, 1)
            listed = net.tc_filters(pair.va, IN)
            assert [
                (f.priority, f.handle, f.name, f.program_id, f.direct_action, f.kind) for f in listed
            ] == [
                (10, 7, "my-filter", first.id, True, "bpf"),
                (20, 1, "second", second.id, True, "bpf"),
            ]
            assert net.tc_filters(pair.va, OUT) == []
            # Priority 10 passes every packet, so 20 never sees one.
            assert ping(pair.b, ADDR_A) == 1
            assert (counters[0], counters[1]) == (1, 0)
            with pytest.raises(BpfSyscallError) as taken:
                net.attach_tc_filter(second, pair.va, IN, priority=10, handle=7)
            assert taken.value.errno == errno.EEXIST
            # Replacing in place: the filter at 10:7 now drops.
            a.update(second)
            assert net.tc_filters(pair.va, IN)[0].program_id == second.id
            assert ping(pair.b, ADDR_A, timeout=0.2) == 0
            assert counters[1] == 1
            net.delete_tc_filter(net.tc_filters(pair.va, IN)[1])
            assert [f.priority for f in net.tc_filters(pair.va, IN)] == [10]
        assert not net.has_clsact(pair.va)


def test_replace_option_takes_over_a_filter(pair: Pair) -> None:
    with (
        plain(ProgType.SCHED_CLS, TcAction.OK, "old") as old,
        plain(ProgType.SCHED_CLS, TcAction.SHOT, "new") as new,
        net.in_netns(pair.a),
        net.attach_tc_filter(old, pair.va, IN, priority=5, handle=1),
    ):
        with net.attach_tc_filter(new, pair.va, IN, priority=5, handle=1, replace=True):
            assert [f.program_id for f in net.tc_filters(pair.va)] == [new.id]
            assert ping(pair.b, ADDR_A, timeout=0.2) == 0
        # Closing the replaced link does not delete the filter of the new one, and vice versa.
        assert net.tc_filters(pair.va) == []


def test_qdisc_removed_only_with_the_last_filter_it_was_added_for(pair: Pair) -> None:
    with plain(ProgType.SCHED_CLS, TcAction.OK) as prog, net.in_netns(pair.a):
        assert not net.has_clsact(pair.va)
        ingress = net.attach_tc_filter(prog, pair.va, IN)
        egress = net.attach_tc_filter(prog, pair.va, OUT)
        ingress.close()
        assert net.has_clsact(pair.va)
        assert [f.direction for f in net.tc_filters(pair.va)] == [OUT]
        egress.close()
        assert not net.has_clsact(pair.va)


def test_a_users_qdisc_and_filters_are_left_alone(pair: Pair) -> None:
    pair.tc(pair.a, "qdisc", "add", "dev", pair.va, "clsact")
    # A classic BPF filter of the user's, made with tc(8): no program id.
    pair.tc(pair.a, "filter", "add", "dev", pair.va, "ingress", "prio", "1", "bpf", "bytecode", "1,6 0 0 0,")
    with plain(ProgType.SCHED_CLS, TcAction.OK) as prog, net.in_netns(pair.a):
        assert net.add_clsact(pair.va) is False
        with net.setup_tc_ingress(prog, pair.va, tcx=False):
            assert [f.program_id == prog.id for f in net.tc_filters(pair.va, IN)] == [False, True]
        assert net.has_clsact(pair.va)
        (theirs,) = net.tc_filters(pair.va)
        assert (theirs.kind, theirs.priority, theirs.program_id) == ("bpf", 1, 0)
        net.delete_tc_filter(theirs)
        assert net.remove_clsact(pair.va) is True
        assert net.remove_clsact(pair.va) is False


@pytest.mark.requires_feature(features.TCX)
def test_tcx_order_before_after_first(pair: Pair, counters: Counters) -> None:
    next_ = TcxAction.NEXT
    with (
        digit(counters, 1, next_, "one") as one,
        digit(counters, 2, next_, "two") as two,
        digit(counters, 3, next_, "three") as three,
        digit(counters, 4, next_, "four") as four,
        net.in_netns(pair.a),
        net.attach_tcx(one, pair.va) as link_one,
    ):
        with (
            net.attach_tcx(two, pair.va, before=one),
            net.attach_tcx(three, pair.va, after=link_one),
            net.attach_tcx(four, pair.va, first=True),
        ):
            order = [p.program_id for p in net.tcx_programs(pair.va, IN)]
            assert order == [four.id, two.id, one.id, three.id]
            assert all(p.link_id for p in net.tcx_programs(pair.va, IN))
            assert ping(pair.b, ADDR_A) == 1
            assert counters[0] == 4213
            revision = net.tcx_revision(pair.va, IN)
            with pytest.raises(BpfSyscallError) as stale:
                net.attach_tcx(one, pair.va, OUT, expected_revision=revision + 100)
            assert stale.value.errno == errno.ESTALE
            with pytest.raises(BpfSyscallError) as missing:
                net.attach_tcx(one, pair.va, OUT, before=two.id)
            assert missing.value.errno == errno.ENOENT
        assert [p.program_id for p in net.tcx_programs(pair.va, IN)] == [one.id]


@pytest.mark.requires_feature(features.TCX)
def test_attach_by_section_direction(pair: Pair) -> None:
    from ebpf.asm import R0, assemble, exit_, mov
    from ebpf.progs import Program, ProgramSpec

    spec = ProgramSpec.from_section("tcx/egress", assemble([mov(R0, TcAction.SHOT), exit_()]), name="egress")
    assert spec.expected_attach_type == AttachType.TCX_EGRESS
    with Program.load(spec) as prog, net.in_netns(pair.a):
        with net.attach(prog, pair.va) as link:
            assert isinstance(link, net.TcxLink)
            assert link.direction is OUT
            assert ping(pair.b, ADDR_A, timeout=0.2) == 0
        with plain(ProgType.SCHED_CLS, 0) as undirected, pytest.raises(ValueError, match="direction"):
            net.attach(undirected, pair.va)
