"""Socket filters, sockmap programs, netns programs (sk_lookup, flow dissector), and a SIGKILLed attacher."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import subprocess
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from progs._progs_support import U32, Counter, wait_until

from ebpf.progs import (
    BpfLink,
    ProgAttachLink,
    Program,
    SocketFilterLink,
    attach_cgroup,
    attach_netns,
    attach_raw_tracepoint,
    attach_socket_filter,
    attach_sockmap,
    attach_tracepoint,
    query_cgroup,
)
from ebpf.syscall import AttachType, LinkType, MapType, commands, features, objects

CLONE_NEWNET = 0x40000000


def _udp_pair() -> tuple[socket.socket, socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.2)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(server.getsockname())
    return server, client


def _received(server: socket.socket) -> bool:
    try:
        server.recv(64)
    except TimeoutError:
        return False
    return True


def test_socket_filter_counts_and_drops_then_detaches(counter: Counter) -> None:
    server, client = _udp_pair()
    with server, client, Program.load(counter.spec("socket", ret=0)) as drop:
        link = attach_socket_filter(drop, server)
        assert isinstance(link, SocketFilterLink)
        assert link.info().program_id == drop.id
        client.send(b"dropped")
        assert not _received(server)
        assert counter.value == 1
        link.close()
        client.send(b"passes")
        assert _received(server)
        assert counter.value == 1


def test_socket_filter_update_and_type_check(counter: Counter) -> None:
    server, client = _udp_pair()
    with server, client, Program.load(counter.spec("socket", ret=0)) as drop:
        with (
            Program.load(counter.spec("socket", ret=0xFFFF)) as keep,
            attach_socket_filter(drop, server) as link,
        ):
            link.update(keep)
            client.send(b"kept")
            assert _received(server)
            assert link.info().program_id == keep.id
        with Program.load(counter.spec("xdp")) as xdp, pytest.raises(TypeError, match="SOCKET_FILTER"):
            attach_socket_filter(xdp, server)


def _tcp_pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    return listener, client, server


@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "prog_attach"])
def test_sk_msg_on_a_sockmap(counter: Counter, legacy: bool) -> None:
    with (
        commands.map_create(MapType.SOCKMAP, 4, 4, 2, name="socks") as sockmap,
        Program.load(counter.spec("sk_msg", ret=1)) as prog,
    ):
        link = attach_sockmap(prog, sockmap, legacy=legacy)
        # Without sockmap links (6.10) the library falls back to BPF_PROG_ATTACH.
        with_link = not legacy and features.link_type_supported(LinkType.SOCKMAP)
        assert isinstance(link, BpfLink if with_link else ProgAttachLink)
        if with_link:
            assert link.info().type == LinkType.SOCKMAP
        listener, client, server = _tcp_pair()
        with listener, client, server:
            # The kernel gives a socket the map's programs when it is inserted.
            commands.map_update_elem(sockmap, U32.pack(0), U32.pack(client.fileno()))
            client.sendall(b"hello")
            assert server.recv(16) == b"hello"
            assert counter.value == 1
            commands.map_delete_elem(sockmap, U32.pack(0))
            result = commands.prog_query(sockmap, AttachType.SK_MSG_VERDICT)
            assert result.prog_ids == (prog.id,)
            link.close()
            assert commands.prog_query(sockmap, AttachType.SK_MSG_VERDICT).prog_ids == ()
            commands.map_update_elem(sockmap, U32.pack(1), U32.pack(client.fileno()))
            client.sendall(b"again")
            assert server.recv(16) == b"again"
            assert counter.value == 1


def _in_new_netns(body: Callable[[], None]) -> None:
    """Run ``body`` in a forked child inside a fresh network namespace with ``lo`` up."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            body()
            code = 0
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        failure = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, failure


def _sk_lookup_body() -> None:
    counter = Counter()
    with Program.load(counter.spec("sk_lookup", ret=1)) as prog:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with listener:
            with attach_netns(prog) as link:
                assert link.info().type == LinkType.NETNS
                socket.create_connection(listener.getsockname()).close()
                assert counter.value >= 1
            settled = counter.value
            socket.create_connection(listener.getsockname()).close()
            assert counter.value == settled
    counter.close()


def test_sk_lookup_fires_then_stops() -> None:
    _in_new_netns(_sk_lookup_body)


def _flow_dissector_body(legacy: bool) -> None:
    counter = Counter()
    netns = "/proc/self/ns/net"
    with Program.load(counter.spec("flow_dissector", ret=0)) as prog:
        with attach_netns(prog, netns, legacy=legacy) as link:
            assert isinstance(link, ProgAttachLink if legacy else BpfLink)
            with open(netns, "rb") as ns:
                assert commands.prog_query(ns.fileno(), AttachType.FLOW_DISSECTOR).prog_ids == (prog.id,)
        with open(netns, "rb") as ns:
            assert commands.prog_query(ns.fileno(), AttachType.FLOW_DISSECTOR).prog_ids == ()
        ipv4 = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19)
        assert prog.test_run(ipv4).retval == 0
        assert counter.value == 1
    counter.close()


@pytest.mark.parametrize("legacy", [False, True], ids=["bpf_link", "prog_attach"])
def test_flow_dissector_attaches_to_a_netns(legacy: bool) -> None:
    _in_new_netns(lambda: _flow_dissector_body(legacy))


def test_netns_bad_input(counter: Counter, tmp_path: Path) -> None:
    with Program.load(counter.spec("sk_lookup", ret=1)) as prog, pytest.raises(FileNotFoundError):
        attach_netns(prog, tmp_path / "no-such-netns")
    with Program.load(counter.spec("socket")) as other, pytest.raises(TypeError, match="FLOW_DISSECTOR"):
        attach_netns(other)


def test_sigkill_leaves_nothing_attached(test_cgroup: Path) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            counter = Counter()
            progs = [
                Program.load(counter.spec(s, ret=1)) for s in ("raw_tp/sys_enter", "tp/sched/sched_switch")
            ]
            cgroup_prog = Program.load(counter.spec("cgroup/sysctl", ret=1))
            links = [
                attach_raw_tracepoint(progs[0], "sys_enter"),
                attach_tracepoint(progs[1], "sched", "sched_switch"),
                attach_cgroup(cgroup_prog, test_cgroup),
            ]
            attached = [p.id for p in [*progs, cgroup_prog]] + [link.info().id for link in links]
            os.write(write_end, struct.pack("<6I", *attached))
            signal.pause()
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read(24)
    assert len(data) == 24, "the child failed to attach"
    ids = struct.unpack("<6I", data)
    prog_ids, link_ids = set(ids[:3]), set(ids[3:])
    assert prog_ids <= set(objects.prog_ids())
    assert query_cgroup(test_cgroup, "cgroup/sysctl").prog_ids == (ids[2],)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    # Links and programs are freed after an RCU grace period.
    assert wait_until(lambda: not prog_ids & set(objects.prog_ids()))
    assert wait_until(lambda: not link_ids & set(objects.link_ids()))
    assert query_cgroup(test_cgroup, "cgroup/sysctl").prog_ids == ()
