"""Replacing without a gap, SIGKILL leaving nothing attached, bad input changing nothing."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import pytest
from net._net_support import ADDR_A, Counters, Pair, counting, plain, udp_receiver, udp_sender

from ebpf import net
from ebpf.asm import TcAction, XdpAction
from ebpf.progs import Link, Program
from ebpf.syscall import ProgType, features

IN = net.Direction.INGRESS
PACKETS = 300
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>

Attach = Callable[[Program, str], Link]
ATTACHES: list[tuple[str, ProgType, int, int, Attach]] = [
    ("xdp_link", ProgType.XDP, XdpAction.DROP, XdpAction.PASS, lambda p, i: net.attach_xdp(p, i, link=True)),
    (
        "xdp_netlink",
        ProgType.XDP,
        XdpAction.DROP,
        XdpAction.PASS,
        lambda p, i: net.attach_xdp(p, i, link=False),
    ),
    ("tcx", ProgType.SCHED_CLS, TcAction.SHOT, TcAction.OK, net.attach_tcx),
    ("cls_bpf", ProgType.SCHED_CLS, TcAction.SHOT, TcAction.OK, net.attach_tc_filter),
]


TCX = pytest.mark.requires_feature(features.TCX)


@pytest.mark.parametrize(
    ("prog_type", "drop", "pass_", "attach"),
    [pytest.param(*a[1:], id=a[0], marks=[TCX] if a[0] == "tcx" else []) for a in ATTACHES],
)
def test_update_swaps_behaviour_without_a_gap(
    pair: Pair, counters: Counters, prog_type: ProgType, drop: int, pass_: int, attach: Attach
) -> None:
    """A stream of UDP packets while the program is replaced: every packet meets one of the two."""
    with (
        counting(prog_type, drop, counters, 0, "dropper") as dropper,
        counting(prog_type, pass_, counters, 1, "passer") as passer,
        udp_receiver(pair.a, ADDR_A) as (rx, port),
        udp_sender(pair.b) as tx,
    ):
        with net.in_netns(pair.a):
            link = attach(dropper, pair.va)
        # Room for every packet: the receiver reads only once the stream is over.
        rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 23)
        with link:

            def send() -> None:
                for n in range(PACKETS):
                    tx.sendto(n.to_bytes(4, "big"), (ADDR_A, port))
                    time.sleep(0.0002)

            sender = threading.Thread(target=send)
            sender.start()
            deadline = time.monotonic() + 5
            while counters[0] < PACKETS // 4 and time.monotonic() < deadline:
                time.sleep(0.001)
            link.update(passer)
            assert link.info().program_id == passer.id
            sender.join()
            received: list[bytes] = []
            rx.settimeout(0.5)
            while len(received) < counters[1]:
                received.append(rx.recv(16))
        dropped, passed = counters[0], counters[1]
        assert dropped + passed == PACKETS, "some packets met no program"
        assert 0 < dropped < PACKETS
        assert len(received) == passed
        # The packets that passed are the last ones: one switch, no interleaving.
        assert [int.from_bytes(r, "big") for r in received] == list(range(dropped, PACKETS))


def _hold_links(ns: str, dev: str, ready: int, tcx: bool) -> None:
    """In a forked child: attach an XDP link (or TCX links), say so, and wait to be killed."""
    with plain(ProgType.XDP, XdpAction.PASS) as xdp, plain(ProgType.SCHED_CLS, TcAction.OK) as tc:
        links: list[Link]
        with net.in_netns(ns):
            if tcx:
                links = [net.attach_tcx(tc, dev, IN), net.attach_tcx(tc, dev, net.Direction.EGRESS)]
            else:
                links = [net.attach_xdp(xdp, dev, net.XdpMode.GENERIC, link=True)]
        os.write(ready, b"ready")
        time.sleep(60)
        for link in links:
            link.close()


@pytest.mark.parametrize("tcx", [pytest.param(False, id="xdp_link"), pytest.param(True, id="tcx", marks=TCX)])
def test_sigkill_leaves_nothing_attached(pair: Pair, tcx: bool) -> None:
    # A link lives as long as a descriptor or pin refers to it: when the
    # kernel closes a killed process' descriptors, the last reference goes
    # and the link detaches its program (no pins here).
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns into pytest
        try:
            os.close(read_end)
            _hold_links(pair.a, pair.va, write_end, tcx)
        finally:
            os._exit(1)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as ready:
            assert ready.read(5) == b"ready"
        with net.in_netns(pair.a):
            state = net.query(pair.va)
        if tcx:
            assert len(state.tcx_ingress) == len(state.tcx_egress) == 1
        else:
            assert state.interface.xdp.generic_program_id
        assert not state.empty
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    deadline = time.monotonic() + 2
    with net.in_netns(pair.a):
        while not net.query(pair.va).empty and time.monotonic() < deadline:
            time.sleep(0.01)
        assert net.query(pair.va).empty


def _race_updates_with_close(link: Link, programs: tuple[Program, ...]) -> list[BaseException]:
    """Threads swapping ``programs`` into ``link`` while another thread closes it; their unexpected errors."""
    start = threading.Barrier(len(programs) + 1)
    errors: list[BaseException] = []

    def swap(program: Program) -> None:
        start.wait()
        try:
            for _ in range(20):
                link.update(program)
        except ValueError as error:  # closed under our feet: the one error allowed
            if "closed" not in str(error):
                errors.append(error)
        except BaseException as error:
            errors.append(error)

    def close() -> None:
        start.wait()
        time.sleep(0.001)
        link.close()

    threads = [threading.Thread(target=swap, args=(p,)) for p in programs]
    threads.append(threading.Thread(target=close))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize(
    ("prog_type", "drop", "pass_", "attach"),
    [pytest.param(*a[1:], id=a[0], marks=[TCX] if a[0] == "tcx" else []) for a in ATTACHES],
)
def test_update_racing_close_from_other_threads_leaves_nothing_attached(
    pair: Pair, prog_type: ProgType, drop: int, pass_: int, attach: Attach
) -> None:
    """Threads swap the program while another closes the link: closed means detached, every round."""
    with plain(prog_type, drop) as first, plain(prog_type, pass_) as second, net.in_netns(pair.a):
        for _ in range(10):
            link = attach(first, pair.va)
            assert _race_updates_with_close(link, (first, second, first)) == []
            assert link.closed
            assert net.query(pair.va).empty, "a closed link left a program attached"


def test_bad_input_raises_and_changes_nothing(pair: Pair) -> None:
    with (
        plain(ProgType.XDP, XdpAction.DROP) as xdp,
        plain(ProgType.SCHED_CLS, TcAction.SHOT) as tc,
        net.in_netns(pair.a),
    ):
        before = net.query(pair.va)
        with pytest.raises(net.InterfaceNotFoundError, match=r"no network interface 'nope0'.*va"):
            net.attach_xdp(xdp, "nope0")
        with pytest.raises(net.InterfaceNotFoundError):
            net.attach_tc(tc, 9999)
        with pytest.raises(TypeError, match="XDP program; 'plain' is SCHED_CLS"):
            net.attach_xdp(tc, pair.va)
        with pytest.raises(TypeError, match="SCHED_CLS program"):
            net.attach_tc(xdp, pair.va)
        with pytest.raises(ValueError, match="offload mode needs a program loaded for 'va'"):
            net.attach_xdp(xdp, pair.va, net.XdpMode.OFFLOAD)
        for link in (True, False):
            # The namespace's own loopback has no driver XDP.
            with pytest.raises(net.ModeNotSupportedError, match="'lo' does not support XDP native mode"):
                net.attach_xdp(xdp, "lo", net.XdpMode.NATIVE, link=link)
            assert not net.xdp_status("lo").attached
        with pytest.raises(TypeError, match="direction"):
            net.attach_tc(tc, pair.va, "ingress")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at most one"):
            net.attach_tcx(tc, pair.va, before=xdp, after=xdp)
        with pytest.raises(ValueError, match="priority"):
            net.attach_tc_filter(tc, pair.va, priority=70000)
        with pytest.raises(ValueError, match="replace=True needs"):
            net.attach_tc_filter(tc, pair.va, replace=True)
        assert net.query(pair.va) == before
        assert before.empty
    with pytest.raises(FileNotFoundError, match="no network namespace"), net.in_netns("ebpfnet-missing"):
        pass
