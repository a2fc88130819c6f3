"""Our libbpf-tools-style CO-RE tools (tests/bpf/tools/, the objects bench/core times) load and work.

Each is compiled against the running kernel's vmlinux.h, loaded (CO-RE
relocated through the process-wide view of the kernel's types), attached
and shown something really happening: a block write timed per disk, a TCP
connection seen connecting, accepted and closed, a file open reported.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bpf_build import BUILD_DIR

from ebpf.elf import Collection, CollectionSpec
from ebpf.events import PerfBuffer, RingBuffer
from ebpf.maps import KeyValueMap
from ebpf.progs import Link, attach_raw_tracepoint, attach_tracepoint
from ebpf.syscall import ProgType, features
from tests.elf._elf_corpus import require_tool

TOOLS = Path(__file__).resolve().parents[2] / "tests" / "bpf" / "tools"
CACHE = BUILD_DIR / "elf-cache"


def _tool(name: str) -> CollectionSpec:
    require_tool("clang")
    return CollectionSpec.from_c(TOOLS / f"{name}.bpf.c", cache_dir=CACHE)


def _kv(coll: Collection, name: str) -> KeyValueMap[Any, Any]:
    live = coll.maps[name]
    assert isinstance(live, KeyValueMap)
    return live


@contextlib.contextmanager
def _attached(*links: Link) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for link in links:
            stack.enter_context(link)
        yield


def test_relocations_resolve_against_the_running_kernel() -> None:
    for name, least in (("iolat", 200), ("tcpconn", 80), ("opensnoop", 12)):
        spec = _tool(name)
        assert sum(len(spec.core_relocations(p)) for p in spec.programs) >= least, name


# --- iolat (biolatency-like) ---------------------------------------------------------------


def _block_dir(tmp_path: Path) -> Path:
    """A directory on a block device (not tmpfs), to write to."""
    for candidate in (tmp_path, Path("/var/tmp"), Path(__file__).resolve().parent):
        if os.major(os.stat(candidate).st_dev) != 0:
            return candidate
    pytest.skip("no directory on a block device to make block I/O in")


def _disk_of(path: Path) -> tuple[int, int, str] | None:
    """(major, minor, name) of the disk holding ``path``: a partition's disk; None for dm/md devices."""
    st_dev = os.stat(path).st_dev
    sysdir = Path(f"/sys/dev/block/{os.major(st_dev)}:{os.minor(st_dev)}").resolve()
    if (sysdir / "dm").exists() or (sysdir / "md").exists():
        return None  # requests go to the devices underneath
    if (sysdir / "partition").exists():
        sysdir = sysdir.parent
    major, minor = (sysdir / "dev").read_text().split(":")
    return int(major), int(minor), sysdir.name


def _direct_write(path: Path, size: int = 256 * 1024) -> None:
    """Write ``size`` bytes that bypass the page cache and wait for them to reach the disk."""
    buffer = mmap.mmap(-1, size)  # page-aligned, as O_DIRECT wants
    buffer.write(os.urandom(size))
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o600)
    except OSError as exc:
        pytest.skip(f"{path.parent} refuses O_DIRECT: {exc}")
    try:
        os.write(fd, buffer)
        os.fsync(fd)
    finally:
        os.close(fd)
        buffer.close()


@pytest.mark.requires_feature(features.prog_type_feature(ProgType.RAW_TRACEPOINT))
def test_iolat_times_a_direct_write_on_its_disk(tmp_path: Path) -> None:
    target = _block_dir(tmp_path) / f"iolat-{uuid.uuid4().hex}"
    disk = _disk_of(target.parent)
    spec = _tool("iolat")
    with Collection.load(spec) as coll:
        # the raw tracepoint half of the tool (its tp_btf twins do the same on BTF-typed tracepoints)
        links = [
            attach_raw_tracepoint(coll.programs[n], n)
            for n in ("block_rq_insert", "block_rq_issue", "block_rq_complete")
        ]
        with _attached(*links):
            try:
                _direct_write(target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
            deadline = time.monotonic() + 5
            while coll.variables["completions"].value == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        hists = list(_kv(coll, "hists").items())  # keys are struct iolat_key, decoded to dicts
        disks = dict(_kv(coll, "disks").items())
        queues = dict(_kv(coll, "queues").items())
        completions = coll.variables["completions"].value
    assert completions > 0
    writes = [(key, value) for key, value in hists if key["op"] == 1]  # REQ_OP_WRITE
    assert writes, hists
    if disk is not None:
        dev = disk[0] << 20 | disk[1]  # the tool's MKDEV
        assert any(key["dev"] == dev for key, _ in writes), (disk, [key for key, _ in hists])
        hist = next(value for key, value in writes if key["dev"] == dev)
        assert hist["count"] == sum(hist["slots"]) >= 1
        assert hist["bytes"] >= 4096
        assert hist["disk"] == disk[2]  # the disk's name, read through CO-RE from its gendisk
        assert disks[dev]["writes"] >= 1
        assert queues[dev]["nr_hw_queues"] >= 1


# --- tcpconn (tcptracer-like) --------------------------------------------------------------

_TCP_EVENT = struct.Struct("<16s16s16sQQIIIIIHHHHI")
CONNECT, ACCEPT, CLOSE = 1, 2, 3


def test_tcpconn_sees_a_connection_connect_be_accepted_and_close() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    spec = _tool("tcpconn")
    spec.variables["filter_port"].set(port)
    events: list[tuple[Any, ...]] = []
    with (
        server,
        Collection.load(spec) as coll,  # the kprobe programs load too; the tracepoint is attached
        attach_tracepoint(coll.programs["inet_sock_set_state"], "sock", "inet_sock_set_state"),
        PerfBuffer(coll.maps["events"]) as reader,
    ):
        client = socket.create_connection(("127.0.0.1", port))
        client_port = client.getsockname()[1]
        accepted, _ = server.accept()
        client.close()
        accepted.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len({e[9] for e in events}) < 3:
            events.extend(_TCP_EVENT.unpack(bytes(r)[: _TCP_EVENT.size]) for r in reader.poll(0.2))
        sent = coll.variables["events_sent"].value
    netns = os.stat("/proc/self/ns/net").st_ino
    loopback = socket.inet_aton("127.0.0.1")
    by_kind = {kind: [e for e in events if e[9] == kind] for kind in (CONNECT, ACCEPT, CLOSE)}
    assert sent >= len(events) >= 3
    (connect,) = by_kind[CONNECT]
    assert (connect[5], connect[8], connect[10], connect[11]) == (socket.AF_INET, netns, client_port, port)
    assert connect[0][:4] == connect[1][:4] == loopback
    assert [(e[10], e[11]) for e in by_kind[ACCEPT]] == [(port, client_port)]
    assert {(e[10], e[11]) for e in by_kind[CLOSE]} <= {(client_port, port), (port, client_port)}
    assert by_kind[CLOSE]


# --- opensnoop -----------------------------------------------------------------------------

_OPEN_EVENT = struct.Struct("<QQIIIIiIiI16s256s")


@pytest.mark.requires_feature(features.RINGBUF)
def test_opensnoop_reports_the_files_this_process_opens(tmp_path: Path) -> None:
    spec = _tool("opensnoop")
    spec.variables["targ_tgid"].set(os.getpid())
    present = tmp_path / f"opensnoop-{uuid.uuid4().hex}"
    missing = tmp_path / f"opensnoop-missing-{uuid.uuid4().hex}"
    with Collection.load(spec) as coll:
        enter = coll.programs["tracepoint__syscalls__sys_enter_openat"]
        leave = coll.programs["tracepoint__syscalls__sys_exit_openat"]
        with (
            attach_tracepoint(enter, "syscalls", "sys_enter_openat"),
            attach_tracepoint(leave, "syscalls", "sys_exit_openat"),
            RingBuffer(coll.maps["events"]) as reader,
        ):
            fd = os.open(present, os.O_CREAT | os.O_WRONLY, 0o640)
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.open(missing, os.O_RDONLY)
            records = [_OPEN_EVENT.unpack(bytes(r)) for r in reader.poll(1.0)]
    seen = {r[11].rstrip(b"\0").decode(): r for r in records}
    opened, failed = seen[str(present)], seen[str(missing)]
    # (ts, flags, pid, tid, uid, ppid, ret, mode, dfd, syscall, comm, fname)
    assert opened[2:6] == (
        os.getpid(),
        os.getpid(),
        os.getuid(),
        os.getppid(),
    )  # ppid: CO-RE read of real_parent
    assert opened[6] == fd
    assert opened[1] & os.O_CREAT
    assert opened[7] == 0o640
    assert opened[9] == 257  # openat
    assert failed[6] == -2  # -ENOENT
