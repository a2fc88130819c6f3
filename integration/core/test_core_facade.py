"""The facade against the kernel: the map constructors and create_map, loading, attaching, pinning."""

from __future__ import annotations

import ctypes
import ipaddress
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from bpf_build import compile_bpf

import ebpf.core as bpf
from ebpf.asm import R0, R1, R2, R10, Item, W, add, atomic_add, call, exit_, jeq, label, ld_map_fd, mov, store
from ebpf.maps import (
    ArrayMap,
    BloomFilterMap,
    DescriptorMap,
    KeyValueMap,
    LpmTrieMap,
    Map,
    MapOfMaps,
    PerCpuArrayMap,
    PerCpuMap,
    ProgramArray,
    QueueMap,
    StackMap,
    StackTraceMap,
)
from ebpf.progs import BpfLink, Program
from ebpf.syscall import MapType, possible_cpus

ROOT = Path(__file__).resolve().parents[2]

CONSTRUCTORS: list[tuple[Callable[[], Map], type[Map], MapType]] = [
    (lambda: bpf.hash_map("u32", "u64"), KeyValueMap, MapType.HASH),
    (lambda: bpf.create_map("lru_hash", "u32", "u64", 10240), KeyValueMap, MapType.LRU_HASH),
    (lambda: bpf.create_map("percpu_hash", "u32", "u64", 10240), PerCpuMap, MapType.PERCPU_HASH),
    (lambda: bpf.create_map("lru_percpu_hash", "u32", "u64", 10240), PerCpuMap, MapType.LRU_PERCPU_HASH),
    (lambda: bpf.array_map("u64", 4), ArrayMap, MapType.ARRAY),
    (lambda: bpf.percpu_array_map("u64", 4), PerCpuArrayMap, MapType.PERCPU_ARRAY),
    (lambda: bpf.create_map("lpm_trie", "lpm_ipv4", "u8", 16), LpmTrieMap, MapType.LPM_TRIE),
    (lambda: bpf.queue_map("u32", 4), QueueMap, MapType.QUEUE),
    (lambda: bpf.create_map("stack", value="u32", max_entries=4), StackMap, MapType.STACK),
    (
        lambda: bpf.create_map("bloom_filter", value="u32", max_entries=64),
        BloomFilterMap,
        MapType.BLOOM_FILTER,
    ),
    (lambda: bpf.create_map("stack_trace", max_entries=16), StackTraceMap, MapType.STACK_TRACE),
    (lambda: bpf.ringbuf_map(4096), Map, MapType.RINGBUF),
    (bpf.perf_event_array, DescriptorMap, MapType.PERF_EVENT_ARRAY),
    (lambda: bpf.create_map("prog_array", max_entries=4), ProgramArray, MapType.PROG_ARRAY),
    (
        lambda: bpf.create_map(
            "array_of_maps", max_entries=2, inner_map=bpf.map_spec("array", value="u32", max_entries=1)
        ),
        MapOfMaps,
        MapType.ARRAY_OF_MAPS,
    ),
    (
        lambda: bpf.create_map(
            "hash_of_maps", "u32", max_entries=2, inner_map=bpf.map_spec("array", value="u32", max_entries=1)
        ),
        MapOfMaps,
        MapType.HASH_OF_MAPS,
    ),
    (lambda: bpf.create_map("devmap", max_entries=4), KeyValueMap, MapType.DEVMAP),
    (lambda: bpf.create_map("devmap_hash", max_entries=4), KeyValueMap, MapType.DEVMAP_HASH),
    (lambda: bpf.create_map("cpumap", max_entries=1), KeyValueMap, MapType.CPUMAP),
    (lambda: bpf.create_map("sockmap", max_entries=4), DescriptorMap, MapType.SOCKMAP),
    (lambda: bpf.create_map("sockhash", "u32", max_entries=4), DescriptorMap, MapType.SOCKHASH),
    (lambda: bpf.create_map("cgroup_array", max_entries=4), DescriptorMap, MapType.CGROUP_ARRAY),
    (lambda: bpf.create_map("hash", "u64", "u8", 8), KeyValueMap, MapType.HASH),
]


@pytest.mark.parametrize(
    ("make", "cls", "map_type"), CONSTRUCTORS, ids=[c[2].name + str(i) for i, c in enumerate(CONSTRUCTORS)]
)
def test_each_constructor_creates_its_map_type(
    make: Callable[[], Map], cls: type[Map], map_type: MapType
) -> None:
    with make() as m:
        assert isinstance(m, cls)
        assert m.info().type == map_type
    assert m.closed


def test_the_map_methods_on_a_facade_hash_map() -> None:
    with bpf.hash_map("u32", "u64", 64, name="facade") as m:
        m.update(1, 10)
        assert m.update_batch({2: 20, 3: 30}) == 2
        assert m.lookup(1) == 10
        assert m.get(9, None) is None
        with pytest.raises(bpf.KeyNotFoundError):
            m.lookup(9)
        assert sorted(m) == [1, 2, 3]
        assert sorted(m.values()) == [10, 20, 30]
        assert sorted(m.lookup_batch().items()) == [(1, 10), (2, 20), (3, 30)]
        assert len(m) == 3
        assert m.dump().splitlines() == [
            "KeyValueMap facade: 3 of 64 entries",
            "  1: 10",
            "  2: 20",
            "  3: 30",
        ]
        m.delete(1)
        assert m.delete_batch([2]) == 1
        assert m.lookup_and_delete_batch() == {3: 30}
        assert len(m) == 0
        m.update(4, 40, flags=bpf.UpdateFlags.NOEXIST)
        m.clear()
        assert len(m) == 0


def test_queue_stack_percpu_and_lpm_maps() -> None:
    with bpf.queue_map("u32", 4) as q, bpf.create_map("stack", value="u32", max_entries=4) as s:
        assert isinstance(s, StackMap)
        for value in (1, 2):
            q.push(value)
            s.push(value)
        assert (q.peek(), q.pop(), q.pop(), q.pop()) == (1, 1, 2, None)
        assert (s.pop(), s.pop()) == (2, 1)
    with bpf.percpu_array_map("u64", 1) as pc:
        pc.update(0, [3] * possible_cpus())  # one value per CPU
        assert bpf.percpu_sum(pc.lookup(0)) == 3 * possible_cpus()
    with bpf.create_map("lpm_trie", "lpm_ipv4", "u8", 8) as routes:
        assert isinstance(routes, LpmTrieMap)
        routes.update(ipaddress.ip_network("10.0.0.0/8"), 1)
        assert routes.longest_match("10.9.9.9") == 1


def test_load_program_from_dsl_bytes_and_spec() -> None:
    dsl = [mov(R0, bpf.XdpAction.DROP), exit_()]
    with bpf.load_program(dsl, "xdp", name="f_dsl") as a:
        assert a.test_run(bytes(64)).retval == bpf.XdpAction.DROP
        assert a.info().name == "f_dsl"
        raw = bpf.assemble(dsl)
    with bpf.load_program(raw, bpf.ProgType.XDP) as b:
        assert b.test_run(bytes(64)).retval == 1
    spec = bpf.ProgramSpec.from_section("xdp", raw, name="f_spec")
    with bpf.load_program(spec) as c:
        assert c.name == "f_spec"


def test_verifier_errors_carry_the_log() -> None:
    with pytest.raises(bpf.VerifierError) as info:
        bpf.load_program([exit_()], "xdp")
    assert any("R0 !read_ok" in line for line in info.value.log)


def test_attach_by_target_kind() -> None:
    raw = bpf.load_program([mov(R0, 0), exit_()], bpf.ProgType.RAW_TRACEPOINT)
    with raw, bpf.attach(raw, "sys_enter") as link:
        assert isinstance(link, BpfLink)
        assert link.info().program_id == raw.id
    with (
        bpf.load_program([mov(R0, 0), exit_()], bpf.ProgType.TRACEPOINT) as tp,
        bpf.attach(tp, "syscalls:sys_enter_getpid") as link,
    ):
        assert link.info().program_id == tp.id
    with (
        bpf.load_program([mov(R0, 0), exit_()], "socket") as sock,
        pytest.raises(ValueError, match="attach_\\* function"),
    ):
        bpf.attach(sock, "eth0")


def test_pin_and_open_pinned_maps_programs_and_links(bpffs: Path) -> None:
    with bpf.hash_map("u32", "u32", 4, name="pinned") as m:
        bpf.pin(m, bpffs / "map")
        m[1] = 2
        with bpf.open_pinned(bpffs / "map") as again:
            assert isinstance(again, KeyValueMap)
            assert again.id == m.id
        with bpf.open_map(m.id) as by_id, bpf.open_map(bpffs / "map") as by_path:
            assert by_id.id == by_path.id == m.id
        bpf.unpin(m)
    assert not (bpffs / "map").exists()
    with bpf.load_program([mov(R0, 0), exit_()], "raw_tracepoint/sys_enter") as prog, prog.attach() as link:
        bpf.pin(prog, bpffs / "prog")
        bpf.pin(link, bpffs / "link")
        with bpf.open_pinned(bpffs / "prog") as p, bpf.open_program(prog.id) as q:
            assert isinstance(p, Program)
            assert p.info().id == q.info().id == prog.id
        opened = bpf.open_pinned(bpffs / "link")
        with opened:
            assert isinstance(opened, BpfLink)
            assert opened.info().program_id == prog.id
        os.unlink(bpffs / "prog")
        bpf.unpin(link)


def test_pin_root_pins_by_name_and_reuses(bpffs: Path) -> None:
    with bpf.hash_map("u32", "u32", 4, name="by_name", pin_root=bpffs) as first:
        first[7] = 7
        with bpf.hash_map("u32", "u32", 4, name="by_name", pin_root=bpffs) as second:
            assert second.id == first.id
            assert second[7] == 7
    os.unlink(bpffs / "by_name")


def test_init_reports_this_machine() -> None:
    info = bpf.init()
    assert info.kernel == bpf.kernel_version()
    assert info.release == os.uname().release
    assert info.bpffs == Path("/sys/fs/bpf")
    assert "CAP_BPF" in info.capabilities
    assert info.supports("map type HASH") is True
    assert info.possible_cpus == possible_cpus()


def test_btf_queries_on_the_kernel() -> None:
    task = bpf.find_type("task_struct", "struct")
    assert task.name == "task_struct"
    assert bpf.type_size("task_struct") == bpf.kernel_btf().size_of(task)
    assert bpf.field_offset("task_struct", "pid") > 0
    sched = bpf.field_offset("task_struct", "sched_info")
    assert bpf.field_offset("task_struct", "sched_info.pcount") == sched + bpf.field_offset(
        "sched_info", "pcount"
    )
    with pytest.raises(KeyError):
        bpf.field_offset("task_struct", "no_such_member")


def test_load_object_and_inspect_object() -> None:
    obj = compile_bpf(ROOT / "tests" / "bpf" / "maps_helpers.c")
    summary = bpf.inspect_object(obj)
    assert summary.startswith("programs:")
    assert "  count  xdp" in summary
    with bpf.load_object(obj) as coll:
        assert set(coll.programs) == {"count", "legacy"}
        assert {"counters", "seen", "jumps"} <= set(coll.maps)
        assert coll.variables["threshold"].get() == 1000
        assert coll.programs["count"].test_run(bytes(64)).retval in (0, 1, 2, 3)


def _count_hits() -> list[Item]:
    """A program that adds one to element 0 of the map named ``hits`` each time it runs."""
    return [
        store(R10, -4, 0, W),
        ld_map_fd(R1, "hits"),
        mov(R2, R10),
        add(R2, -4),
        call("map_lookup_elem"),
        jeq(R0, 0, "out"),
        mov(R1, 1),
        atomic_add(R0, 0, R1),
        label("out"),
        mov(R0, 0),
        exit_(),
    ]


def test_attach_uprobe_symbol_counts_libc_calls() -> None:
    with bpf.array_map("u64", 1, name="uprobe_hits") as hits:
        insns = _count_hits()
        prog = bpf.load_program(insns, "uprobe", maps={"hits": hits})
        with prog, bpf.attach_uprobe_symbol(prog, "libc.so.6", "getpid", pid=os.getpid()):
            for _ in range(10):
                os.getpid()
        assert hits[0] >= 10
    with pytest.raises(KeyError):
        bpf.attach_uprobe_symbol(prog, "libc.so.6", "no_such_function_here")


def _second_instruction(binary: str, symbol: str) -> int:
    """The offset of the second instruction of ``symbol``: a uprobe there must not split an instruction."""
    if os.uname().machine == "aarch64":
        return 4  # fixed-size instructions
    path, offset = bpf.uprobe_target(binary, symbol)
    with open(path, "rb") as file:
        file.seek(offset)
        head = file.read(4)
    if head == bytes.fromhex("f30f1efa"):  # endbr64
        return 4
    if 0x50 <= head[0] <= 0x57:  # push %rax..%rdi
        return 1
    if head[0] == 0x41 and 0x50 <= head[1] <= 0x57:  # push %r8..%r15
        return 2
    pytest.skip(f"{symbol} of {path} starts with {head.hex()}: no instruction boundary known to this test")


def test_attach_uprobe_symbol_with_an_offset_is_ebpf_elfs() -> None:
    # The facade once wrapped ebpf.elf's function and passed offset twice (TypeError).
    offset = _second_instruction("libc.so.6", "malloc")
    with bpf.array_map("u64", 1, name="malloc_hits") as hits:
        insns = _count_hits()
        with (
            bpf.load_program(insns, "uprobe", maps={"hits": hits}) as prog,
            bpf.attach_uprobe_symbol(prog, "libc.so.6", "malloc", offset=offset, pid=os.getpid()),
        ):
            libc = ctypes.CDLL("libc.so.6")
            libc.malloc.restype = ctypes.c_void_p
            libc.free.argtypes = [ctypes.c_void_p]
            for _ in range(5):
                libc.free(libc.malloc(64))
        assert hits[0] >= 5


def test_process_events_stops_at_the_deadline_or_when_told() -> None:
    with bpf.ringbuf_map(4096) as ring, bpf.ring_buffer(ring) as reader:
        started = time.monotonic()
        assert bpf.process_events(reader, handler=print, duration=0.2) == 0
        assert time.monotonic() - started >= 0.2
        assert bpf.process_events(reader, handler=print, stop=lambda: True) == 0
    with pytest.raises(ValueError, match="at least one reader"):
        bpf.process_events(handler=print)
