"""``ebpf net list``, ``cgroup tree``, ``perf list``, ``struct_ops list`` beside bpftool, on live objects."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _kernel_markers import requires_feature
from bpf_build import compile_bpf
from core._cli import CHILD_TIMEOUT, bpftool_json, bpftool_text, child_env, ebpf, ebpf_json
from net._net_support import Pair, delete_pair, make_pair, plain

from ebpf import net
from ebpf.asm import R0, assemble, exit_, mov
from ebpf.net import Direction, XdpMode
from ebpf.progs import Program, ProgramSpec, attach_cgroup
from ebpf.syscall import AttachType, LinkType, MapType, ProgType, features, system

ROOT = Path(__file__).resolve().parents[2]
AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")


def _in_netns(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ip netns exec NS ebpf ARGS...`` (fails the test on a non-zero status)."""
    result = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "ebpf.core", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"ebpf {' '.join(args)} in {ns} exited {result.returncode}: {result.stderr}", pytrace=False
        )
    return result


def _bpftool_in_netns(ns: str, *args: str) -> str:
    tool = shutil.which("bpftool")
    if tool is None:
        pytest.skip("needs bpftool (Debian: apt-get install bpftool)")
    return subprocess.run(
        ["ip", "netns", "exec", ns, tool, *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


@pytest.fixture
def pair() -> Iterator[Pair]:
    """Two namespaces joined by a veth pair (``va`` in ``a``); deleted afterwards, checked gone."""
    p = make_pair()
    try:
        yield p
    finally:
        delete_pair(p)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert p.a not in left
    assert p.b not in left


def test_net_list_shows_xdp_tc_and_tcx_like_bpftool(pair: Pair) -> None:
    has_tcx = features.TCX.supported()  # 6.6+: before it, XDP and clsact only
    xdp = plain(ProgType.XDP, 2, name="cli_xdp")
    cls = plain(ProgType.SCHED_CLS, 0, name="cli_cls")
    with contextlib.ExitStack() as stack:
        stack.enter_context(xdp)
        stack.enter_context(cls)
        tcx = (
            stack.enter_context(plain(ProgType.SCHED_CLS, 0, name="cli_tcx", attach=AttachType.TCX_EGRESS))
            if has_tcx
            else None
        )
        stack.enter_context(net.in_netns(pair.a))
        index = net.interface_index(pair.va)
        stack.enter_context(net.attach_xdp(xdp, pair.va, XdpMode.GENERIC))
        stack.enter_context(net.attach_tc_filter(cls, pair.va, Direction.INGRESS, name="cli_cls"))
        tcx_link = (
            stack.enter_context(net.attach_tcx(tcx, pair.va, Direction.EGRESS)) if tcx is not None else None
        )
        ours = json.loads(_in_netns(pair.a, "net", "list", "--json").stdout)
        text = _in_netns(pair.a, "net", "list").stdout
        only = json.loads(_in_netns(pair.a, "net", "list", "dev", pair.va, "--json").stdout)
        theirs = json.loads(_bpftool_in_netns(pair.a, "-j", "net", "list"))
        their_text = _bpftool_in_netns(pair.a, "net", "list")
        xdp_id, cls_id = xdp.id, cls.id
        tcx_ids = (tcx.id, tcx_link.info().id) if tcx is not None and tcx_link is not None else None
    [ours_obj], [their_obj] = ours, theirs
    assert only == ours  # va is the only interface with programs
    assert ours_obj["xdp"] == [{"devname": pair.va, "ifindex": index, "mode": "generic", "id": xdp_id}]
    assert ours_obj["xdp"] == their_obj["xdp"]
    classic = [e for e in ours_obj["tc"] if e["kind"].startswith("clsact/")]
    assert classic == [
        {"devname": pair.va, "ifindex": index, "kind": "clsact/ingress", "name": "cli_cls", "id": cls_id}
    ]
    # bpftool before 7.3 lists no TCX programs: compare what it knows, check TCX against the kernel
    their_classic = [e for e in their_obj["tc"] if e["kind"].startswith("clsact/")]
    assert classic == their_classic
    tcx_rows = [e for e in ours_obj["tc"] if e["kind"] == "tcx/egress"]
    lines = text.splitlines()
    if tcx_ids is None:
        assert tcx_rows == []
    else:
        tcx_id, tcx_link_id = tcx_ids
        assert tcx_rows == [
            {
                "devname": pair.va,
                "ifindex": index,
                "kind": "tcx/egress",
                "name": "cli_tcx",
                "prog_id": tcx_id,
                "link_id": tcx_link_id,
            }
        ]
        assert f"{pair.va}({index}) tcx/egress cli_tcx prog_id {tcx_id} link_id {tcx_link_id}" in lines
    assert ours_obj["flow_dissector"] == their_obj["flow_dissector"] == []
    assert lines[:2] == ["xdp:", f"{pair.va}({index}) generic id {xdp_id}"]
    for line in their_text.splitlines():  # every line bpftool prints, ebpf prints the same
        assert line.rstrip() in lines


@pytest.fixture
def cgroup() -> Iterator[Path]:
    """A fresh cgroup v2 directory, removed afterwards."""
    root = system.cgroup2_path()
    if root is None:
        pytest.skip("cgroup v2 is not mounted")
    path = Path(tempfile.mkdtemp(prefix="ebpf-cli-", dir=root))
    try:
        yield path
    finally:
        os.rmdir(path)


def test_cgroup_tree_and_show_list_an_attachment_like_bpftool(cgroup: Path) -> None:
    spec = ProgramSpec(
        name="cli_cgskb",
        type=ProgType.CGROUP_SKB,
        expected_attach_type=AttachType.CGROUP_INET_EGRESS,
        instructions=assemble([mov(R0, 1), exit_()]),
    )
    with Program.load(spec) as prog, attach_cgroup(prog, cgroup, AttachType.CGROUP_INET_EGRESS):
        tree = ebpf_json("cgroup", "tree", str(cgroup.parent))
        their_tree = bpftool_json("cgroup", "tree", str(cgroup.parent))
        shown = ebpf_json("cgroup", "show", str(cgroup))
        their_shown = bpftool_json("cgroup", "show", str(cgroup))
        text = ebpf("cgroup", "tree", str(cgroup.parent)).stdout
        their_text = bpftool_text("cgroup", "tree", str(cgroup.parent))
        prog_id = prog.id
    ours = next(entry for entry in tree if entry["cgroup"] == str(cgroup))
    theirs = next(entry for entry in their_tree if entry["cgroup"] == str(cgroup))
    assert ours["programs"] == [
        {
            "id": prog_id,
            "attach_type": "cgroup_inet_egress",
            "attach_flags": "multi",
            "name": "cli_cgskb",
            "attach_btf_name": "",
            "attach_btf_obj_id": 0,
            "attach_btf_id": 0,
        }
    ]
    assert ours == theirs
    assert shown == their_shown == ours["programs"]
    assert [ln.rstrip() for ln in text.splitlines()] == [ln.rstrip() for ln in their_text.splitlines()]
    assert ebpf_json("cgroup", "show", str(cgroup)) == []  # detached when the link closed


def test_perf_list_shows_tracepoints_held_by_another_process() -> None:
    # A child holds a tracepoint attached through a perf event (legacy: the child holds the event's
    # descriptor) and a raw tracepoint; ebpf perf list (and bpftool's) find both by pid and descriptor.
    code = (
        "import sys\n"
        "from ebpf.asm import R0, assemble, exit_, mov\n"
        "from ebpf.progs import Program, ProgramSpec, attach_raw_tracepoint, attach_tracepoint\n"
        "from ebpf.syscall import ProgType\n"
        "insns = [mov(R0, 0), exit_()]\n"
        "tp = Program.load(ProgramSpec(name='cli_tp', type=ProgType.TRACEPOINT, instructions=insns))\n"
        "raw = Program.load(ProgramSpec(name='cli_raw', type=ProgType.RAW_TRACEPOINT, instructions=insns))\n"
        "links = [attach_tracepoint(tp, 'syscalls', 'sys_enter_getpid', legacy=True),"
        " attach_raw_tracepoint(raw, 'sys_enter')]\n"
        "print(tp.id, raw.id, flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert child.stdout is not None
        tp_id, raw_id = map(int, child.stdout.readline().split())
        ours = [e for e in ebpf_json("perf", "list") if e["pid"] == child.pid]
        theirs = [e for e in bpftool_json("perf", "list") if e["pid"] == child.pid]
        text = ebpf("perf", "list").stdout.splitlines()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
        assert child.stdout is not None
        child.stdout.close()
    by_prog = {e["prog_id"]: e for e in ours}
    assert set(by_prog) == {tp_id, raw_id}
    assert by_prog[tp_id]["fd_type"] == "tracepoint"
    assert by_prog[tp_id]["tracepoint"] == "sys_enter_getpid"
    assert by_prog[raw_id]["fd_type"] == "raw_tracepoint"
    assert by_prog[raw_id]["tracepoint"] == "sys_enter"
    assert ours == theirs
    for e in ours:
        assert (
            f"pid {child.pid}  fd {e['fd']}: prog_id {e['prog_id']}  {e['fd_type']}  {e['tracepoint']}"
            in text
        )


@requires_feature(features.map_type_feature(MapType.STRUCT_OPS))
@requires_feature(features.link_type_feature(LinkType.STRUCT_OPS))
def test_struct_ops_register_list_dump_unregister_like_bpftool(bpffs: Path) -> None:
    obj = compile_bpf(ROOT / "tests" / "bpf" / "elf" / "elf_struct_ops_cc.c")
    refused = ebpf(
        "struct_ops", "register", str(obj), check=False
    )  # its .struct_ops.link map needs a LINK_DIR
    assert refused.returncode == 1
    assert "give a LINK_DIR" in refused.stderr
    assert not [e for e in ebpf_json("struct_ops", "list") if e["name"].startswith("ebpf_reno")]
    out = ebpf("struct_ops", "register", str(obj), str(bpffs)).stdout
    try:
        assert "Registered tcp_congestion_ops ebpf_reno map id" in out
        assert "Registered tcp_congestion_ops ebpf_reno_map id" in out
        assert (bpffs / "ebpf_reno").exists()  # the link's pin
        ours = sorted(ebpf_json("struct_ops", "list"), key=lambda e: e["id"])
        theirs = sorted(bpftool_json("struct_ops", "list"), key=lambda e: e["id"])
        assert ours == theirs
        names = {e["name"]: e for e in ours}
        assert names["ebpf_reno_map"]["kernel_struct_ops"] == "tcp_congestion_ops"
        assert "ebpf_reno" in AVAILABLE.read_text().split()
        [dumped] = ebpf_json("struct_ops", "dump", "name", "ebpf_reno_map")
        value = dumped["bpf_struct_ops_tcp_congestion_ops"]["data"]
        assert value["name"] == "ebpf_reno_map"
        assert value["init"] != 0  # the program's id, as the kernel shows it
        listed = ebpf("struct_ops", "list").stdout.splitlines()
        assert f"{names['ebpf_reno']['id']}: ebpf_reno       tcp_congestion_ops" in listed
    finally:
        ebpf("struct_ops", "unregister", "name", "ebpf_reno_map")
        (bpffs / "ebpf_reno").unlink()
    gone = time.monotonic() + 10  # the kernel frees unregistered ops after an RCU grace period
    while [e for e in ebpf_json("struct_ops", "list") if e["name"].startswith("ebpf_reno")]:
        assert time.monotonic() < gone, "the struct_ops are still registered"
        time.sleep(0.1)
