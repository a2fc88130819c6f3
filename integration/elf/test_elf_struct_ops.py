"""struct_ops from an object file: a BPF TCP congestion control that real TCP connections select and use.

``tests/bpf/elf/elf_struct_ops_cc.c`` implements NewReno with a window cap
(``max_cwnd``) as ``ebpf_reno`` (``.struct_ops.link``) and ``ebpf_reno_map``
(``.struct_ops``). Each test registers one, then a child process in a
network namespace of its own connects over loopback with
``setsockopt(TCP_CONGESTION)``, sends a few megabytes and reports what the
kernel says about its sockets; the programs' counters say they ran.
"""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _kernel_markers import requires_feature

from ebpf.elf import Collection, CollectionSpec
from ebpf.progs import BpfLink, StructOpsLink
from ebpf.syscall import LinkType, MapType, ProgType, features
from tests.elf._elf_corpus import spec_of

AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")
MAX_CWND = 37  # the window cap the test gives the congestion control
PAYLOAD = 8 << 20
TCP_INIT_CWND = 10

pytestmark = [
    requires_feature(features.map_type_feature(MapType.STRUCT_OPS)),
    requires_feature(features.prog_type_feature(ProgType.STRUCT_OPS)),
]

# Runs in a child: a network namespace of its own (it dies with the child),
# loopback up, one connection whose both ends use congestion control argv[1].
CLIENT = r"""
import ctypes, fcntl, json, socket, struct, sys, threading

CLONE_NEWNET, SIOCSIFFLAGS = 0x40000000, 0x8914
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40
TCP_INFO_SIZE, TCPI_SND_CWND = 104, 80

libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(CLONE_NEWNET) != 0:
    raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ctl:
    fcntl.ioctl(ctl, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))

cc, size = sys.argv[1].encode(), int(sys.argv[2])
listener = socket.socket()
listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
listener.bind(("127.0.0.1", 0))
listener.listen(1)
client = socket.socket()
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
client.connect(listener.getsockname())
server, _ = listener.accept()
received = 0

def drain():
    global received
    while chunk := server.recv(1 << 20):
        received += len(chunk)

reader = threading.Thread(target=drain)
reader.start()
client.sendall(bytes(size))
info = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
names = [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16) for s in (client, server)]
names = [name.rstrip(b"\0").decode() for name in names]
client.close()
reader.join()
server.close()
listener.close()
snd_cwnd = struct.unpack_from("=I", info, TCPI_SND_CWND)[0]
print(json.dumps({"names": names, "snd_cwnd": snd_cwnd, "received": received}))
"""


def _available() -> list[str]:
    return AVAILABLE.read_text().split()


def _connect_with(cc: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, cc, str(PAYLOAD)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _only(spec: CollectionSpec, keep: str) -> CollectionSpec:
    """``spec`` without the other struct_ops map, as a user leaves out what a kernel cannot load."""
    for name in list(spec.struct_ops):
        if name != keep:
            del spec.maps[name]
    return spec


def _below(value: object, limit: object) -> bool:
    assert isinstance(value, int)
    assert isinstance(limit, int)
    return value < limit


def _counters(coll: Collection) -> dict[str, object]:
    return {name: var.get() for name, var in coll.variables.items() if name != "max_cwnd"}


@pytest.mark.parametrize(
    ("ops", "link_type"),
    [
        pytest.param(
            "ebpf_reno",
            BpfLink,
            marks=requires_feature(features.link_type_feature(LinkType.STRUCT_OPS)),
            id="struct_ops.link",
        ),
        pytest.param("ebpf_reno_map", StructOpsLink, id="struct_ops"),
    ],
)
def test_a_bpf_congestion_control_runs_real_connections(ops: str, link_type: type) -> None:
    spec = _only(spec_of("struct_ops_cc"), ops)
    spec.variables["max_cwnd"].set(MAX_CWND)
    assert ops not in _available()
    with Collection.load(spec) as coll:
        # the program no struct_ops member points at is not loaded, as libbpf does
        assert "reno_unused" not in coll.programs
        assert coll.maps[ops].type == MapType.STRUCT_OPS
        with coll.attach_struct_ops(ops) as link:
            assert isinstance(link, link_type)
            assert ops in _available()  # registered under the name copied from the object's data
            seen = _connect_with(ops)
            counters = _counters(coll)
            deadline = time.monotonic() + 5  # the sockets are gone: each released our state
            while _below(counters["releases"], counters["inits"]) and time.monotonic() < deadline:
                time.sleep(0.05)
                counters = _counters(coll)
        assert ops not in _available()  # closing the link unregistered it
    assert seen["names"] == [ops, ops]
    assert seen["received"] == PAYLOAD
    # our cong_avoid grew the window from the initial 10 segments, and never past its cap
    snd_cwnd = seen["snd_cwnd"]
    assert isinstance(snd_cwnd, int)
    assert TCP_INIT_CWND < snd_cwnd <= MAX_CWND
    assert counters["largest_cwnd"] == MAX_CWND
    assert counters["inits"] == 2  # the client and the accepted socket
    # each was released when it went away (6.12 also releases the listener, which it never initialised)
    assert not _below(counters["releases"], 2)
    assert isinstance(counters["acks"], int)
    assert counters["acks"] > 0
    assert isinstance(counters["acked_packets"], int)
    assert counters["acked_packets"] >= counters["acks"]


def test_a_name_set_in_the_spec_is_the_registered_name() -> None:
    spec = _only(spec_of("struct_ops_cc"), "ebpf_reno_map")
    spec.struct_ops["ebpf_reno_map"].set("name", b"ebpf_renamed")
    assert spec.struct_ops["ebpf_reno_map"].get("name") == b"ebpf_renamed".ljust(16, b"\0")
    with Collection.load(spec) as coll, coll.attach_struct_ops("ebpf_reno_map"):
        assert "ebpf_renamed" in _available()
        assert "ebpf_reno_map" not in _available()
    assert "ebpf_renamed" not in _available()


def test_unregistered_congestion_control_cannot_be_selected() -> None:
    spec = _only(spec_of("struct_ops_cc"), "ebpf_reno_map")
    with Collection.load(spec) as coll:
        with coll.attach_struct_ops("ebpf_reno_map"), socket.socket() as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"ebpf_reno_map")
        with socket.socket() as sock, pytest.raises(FileNotFoundError) as refused:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"ebpf_reno_map")
        assert refused.value.errno == errno.ENOENT
        # a .struct_ops map registers once
        with pytest.raises(ValueError, match="registers once"):
            coll.attach_struct_ops("ebpf_reno_map")


@requires_feature(features.link_type_feature(LinkType.STRUCT_OPS))
def test_a_struct_ops_link_map_links_again_after_its_link_closed() -> None:
    spec = _only(spec_of("struct_ops_cc"), "ebpf_reno")
    with Collection.load(spec) as coll:
        for _ in range(2):
            with coll.attach_struct_ops("ebpf_reno") as link:
                assert link.info().type == LinkType.STRUCT_OPS
                assert "ebpf_reno" in _available()
            deadline = time.monotonic() + 5
            while "ebpf_reno" in _available() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "ebpf_reno" not in _available()
