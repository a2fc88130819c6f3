"""10,000 create/load/attach/close cycles of each object kind: descriptors and memory stay flat.

Each loop samples this process's open descriptors every 1,000 iterations
(they must equal the count before the loop, every time) and its resident
memory after a warm-up and at the end (growth must stay under
``RSS_BOUND``). The autouse resource check then proves that no program,
map or link outlived the loop in the kernel.

Attaching to (raw) tracepoints costs the kernel an RCU-tasks grace period
per detach (7 ms for a raw tracepoint, 90 ms for a perf tracepoint here), and
XDP/TCX links a synchronize_rcu (about 35 ms), so those loops run 300, 40
and 50 times, and consumer threads (1 ms to start and join) 1,000 times in
the normal suite; ``HARDENING_ITERATIONS=10000`` runs every loop in full.
In the kernel VMs (CPU emulation: Python runs about 18 times slower) each loop
runs at most ``VM_ITERATIONS`` times: enough to prove the kernel's side of the
cycle there, while the host's run proves that nothing leaks.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _resources import bpf_mmaps, rss_bytes
from _vm import reduced
from progs._progs_support import returns

from ebpf.events import Consumer, RingBuffer
from ebpf.maps import KeyValueMap, Map, MapSpec, u32, u64
from ebpf.net import Direction, attach_tc, attach_xdp, in_netns, query
from ebpf.progs import (
    Program,
    ProgramSpec,
    attach_cgroup,
    attach_iter,
    attach_netns,
    attach_perf_event,
    attach_raw_tracepoint,
    attach_socket_filter,
    attach_tracepoint,
)
from ebpf.syscall import MapType, ProgType, commands, features, perf
from ebpf.syscall.abi import PerfSwId

VM_ITERATIONS = 100


def _iterations(normal: int) -> int:
    """``$HARDENING_ITERATIONS`` if set, else ``normal``, capped at ``VM_ITERATIONS`` in a reduced VM run."""
    if "HARDENING_ITERATIONS" in os.environ:
        return int(os.environ["HARDENING_ITERATIONS"])
    return min(normal, VM_ITERATIONS) if reduced() else normal


ITERATIONS = _iterations(10000)
RAW_TP_ITERATIONS = _iterations(300)
TRACEPOINT_ITERATIONS = _iterations(40)
NET_LINK_ITERATIONS = _iterations(50)
CONSUMER_ITERATIONS = _iterations(1000)
SAMPLE_EVERY = 1000
WARMUP = 500
#: resident memory a loop may gain after its warm-up.
RSS_BOUND = 8 << 20

# An INT "int" (4 bytes, signed, 32 bits): the smallest BTF blob the kernel loads.
_BTF_INT = (
    struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 16, 16, 5)
    + struct.pack("<IIII", 1, 0x01000000, 4, 0x01000020)
    + b"\0int\0"
)


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _loop(iterations: int, body: Callable[[], None]) -> None:
    """Run ``body`` ``iterations`` times; fail if descriptors, mappings or threads change, or memory grows."""
    baseline = (_fd_count(), len(bpf_mmaps()), threading.active_count())
    warm = rss_bytes()
    every = min(SAMPLE_EVERY, max(1, iterations // 10))
    for i in range(1, iterations + 1):
        body()
        if i == min(WARMUP, iterations):
            warm = rss_bytes()
        if i % every == 0 or i == iterations:
            now = (_fd_count(), len(bpf_mmaps()), threading.active_count())
            assert now == baseline, (
                f"(descriptors, kernel mappings, threads) went from {baseline} to {now} after {i} rounds"
            )
    grown = rss_bytes() - warm
    assert grown < RSS_BOUND, f"resident memory grew by {grown >> 10} KiB over {iterations} rounds"


def test_map_create_update_close() -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=16)

    def body() -> None:
        with Map.create(spec) as m:
            assert isinstance(m, KeyValueMap)
            m[1] = 2
            assert m[1] == 2

    _loop(ITERATIONS, body)


def test_program_load_close() -> None:
    spec = ProgramSpec(name="loop", type=ProgType.SOCKET_FILTER, instructions=returns(0))
    _loop(ITERATIONS, lambda: Program.load(spec).close())


def test_btf_load_close() -> None:
    _loop(ITERATIONS, lambda: commands.btf_load(_BTF_INT).close())


def test_pin_unpin(bpffs: Path) -> None:
    path = bpffs / "pinned"

    def body() -> None:
        with Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1)) as m:
            m.pin(path)
            assert path.exists()
            m.unpin()

    _loop(ITERATIONS, body)
    assert not path.exists()


def test_socket_filter_attach_detach() -> None:
    with (
        Program.load(ProgramSpec(name="sf", type=ProgType.SOCKET_FILTER, instructions=returns(0))) as prog,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        _loop(ITERATIONS, lambda: attach_socket_filter(prog, sock).close())


def test_cgroup_link_attach_detach(scratch_cgroup: Path) -> None:
    with Program.load(ProgramSpec.from_section("cgroup/sysctl", returns(1))) as prog:
        _loop(ITERATIONS, lambda: attach_cgroup(prog, scratch_cgroup).close())


def test_netns_link_attach_detach() -> None:
    with Program.load(ProgramSpec.from_section("sk_lookup", returns(1))) as prog:
        _loop(ITERATIONS, lambda: attach_netns(prog).close())


def test_iterator_link_attach_detach() -> None:
    with Program.load(ProgramSpec.from_section("iter/bpf_map", returns(0))) as prog:
        _loop(ITERATIONS, lambda: attach_iter(prog).close())


def test_perf_event_link_attach_detach() -> None:
    with Program.load(ProgramSpec.from_section("perf_event", returns(0))) as prog:

        def body() -> None:
            with perf.open_software(PerfSwId.CPU_CLOCK, cpu=0, sample_period=10**9) as event:
                attach_perf_event(prog, event).close()

        _loop(ITERATIONS, body)


@pytest.mark.parametrize("kind", ["raw_tracepoint", "tracepoint"])
def test_tracepoint_links_attach_detach(kind: str) -> None:
    if kind == "raw_tracepoint":
        spec = ProgramSpec.from_section("raw_tp/sys_enter", returns(0))
        with Program.load(spec) as prog:
            _loop(RAW_TP_ITERATIONS, lambda: attach_raw_tracepoint(prog, "sys_enter").close())
    else:
        spec = ProgramSpec.from_section("tp/syscalls/sys_enter_getpid", returns(0))
        with Program.load(spec) as prog:
            _loop(
                TRACEPOINT_ITERATIONS, lambda: attach_tracepoint(prog, "syscalls", "sys_enter_getpid").close()
            )


def test_ring_buffer_reader_open_close() -> None:
    """Each reader maps the ring and opens an epoll descriptor: both must go with ``close()``."""
    with Map.create(MapSpec(MapType.RINGBUF, max_entries=4096)) as ring:
        _loop(ITERATIONS, lambda: RingBuffer(ring).close())


def test_consumer_start_stop() -> None:
    """Each consumer runs a thread: it must be joined by ``close()``."""
    with Map.create(MapSpec(MapType.RINGBUF, max_entries=4096)) as ring, RingBuffer(ring) as reader:
        _loop(CONSUMER_ITERATIONS, lambda: Consumer(reader, handler=print).close())


@pytest.fixture
def veth_netns() -> Iterator[Path]:
    """A named network namespace with an up veth pair ``hv0``/``hv1``; deleted afterwards."""
    name = f"ebpf-loop-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "-n", name, "link", "add", "hv0", "type", "veth", "peer", "name", "hv1"], check=True
        )
        subprocess.run(["ip", "-n", name, "link", "set", "hv0", "up"], check=True)
        yield Path("/run/netns") / name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


@pytest.mark.parametrize(
    "tcx",
    [
        pytest.param(False, id="xdp_link"),
        pytest.param(True, id="tcx_link", marks=pytest.mark.requires_feature(features.TCX)),
    ],
)
def test_xdp_and_tcx_links_attach_detach(veth_netns: Path, tcx: bool) -> None:
    xdp = Program.load(ProgramSpec.from_section("xdp", returns(2)))
    tc = Program.load(ProgramSpec.from_section("tc", returns(0)))
    with xdp, tc, in_netns(veth_netns):

        def body() -> None:
            if tcx:
                attach_tc(tc, "hv0", Direction.INGRESS, tcx=True).close()
            else:
                attach_xdp(xdp, "hv0", link=True).close()

        _loop(NET_LINK_ITERATIONS, body)
        assert query("hv0").empty
