"""ebpf.maps against the running kernel: semantics of each map type, proven by effects."""

from __future__ import annotations

import array
import errno
import ipaddress
import os
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ebpf.maps import (
    ArrayMap,
    BloomFilterMap,
    DescriptorMap,
    KeyValueMap,
    LocalStorageMap,
    LpmTrieMap,
    Map,
    MapOfMaps,
    MapSpec,
    PerCpuArrayMap,
    PerCpuMap,
    PinType,
    ProgramArray,
    QueueMap,
    StackMap,
    StackTraceMap,
    StructCodec,
    lpm_ipv4,
    percpu_sum,
    u32,
    u64,
)
from ebpf.syscall import commands, features, flags
from ebpf.syscall.abi import MapType, ProgType
from ebpf.syscall.errors import BpfSyscallError, KeyNotFoundError, NotSupportedError
from ebpf.syscall.flags import MapFlags, UpdateFlags
from ebpf.syscall.system import online_cpus, possible_cpus

HASH = MapSpec(MapType.HASH, name="test_hash", key=u32, value=u64, max_entries=64)


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One raw eBPF instruction (ebpf.asm builds these for users)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def ld_map(reg: int, map_fd: int) -> bytes:
    return insn(0x18, reg, 1, 0, map_fd) + insn(0)


EXIT = insn(0x95)
CALL_LOOKUP = insn(0x85, imm=1)
CALL_SMP_PROCESSOR_ID = insn(0x85, imm=8)
CALL_GET_STACKID = insn(0x85, imm=27)


def lookup_key_zero(map_fd: int) -> bytes:
    """r0 = bpf_map_lookup_elem(map, &(u32){0}); return 0 if NULL."""
    return b"".join(
        [
            insn(0x62, 10, 0, -4, 0),  # *(u32 *)(r10 - 4) = 0
            ld_map(1, map_fd),
            insn(0xBF, 2, 10),  # r2 = r10
            insn(0x07, 2, imm=-4),  # r2 += -4
            CALL_LOOKUP,
            insn(0x55, 0, off=2, imm=0),  # if r0 != 0 skip the exit
            insn(0xB7, 0, imm=0),
            EXIT,
        ]
    )


def write_cpu_plus_one(map_fd: int) -> bytes:
    """A raw tracepoint program: per_cpu_array[0] = smp_processor_id() + 1 on the CPU it runs on."""
    return (
        CALL_SMP_PROCESSOR_ID
        + insn(0xBF, 6, 0)  # r6 = r0
        + lookup_key_zero(map_fd)
        + insn(0x07, 6, imm=1)  # r6 += 1
        + insn(0x7B, 0, 6, 0)  # *(u64 *)(r0 + 0) = r6
        + insn(0xB7, 0, imm=0)
        + EXIT
    )


def count_into(map_fd: int) -> bytes:
    """A socket filter: array[0] += 1 (atomically)."""
    return (
        lookup_key_zero(map_fd)
        + insn(0xB7, 1, imm=1)
        + insn(0xDB, 0, 1, 0, 0)  # lock *(u64 *)(r0 + 0) += r1
        + insn(0xB7, 0, imm=0)
        + EXIT
    )


def return_zero() -> bytes:
    return insn(0xB7, 0, imm=0) + EXIT


def minimal_btf() -> bytes:
    """BTF with [1] int (4 bytes, signed) and [2] u64, for maps that need BTF key/value types."""
    strings = b"\0int\0u64\0"
    kind_int = 1 << 24
    types = struct.pack("<IIII", 1, kind_int, 4, (1 << 24) | 32) + struct.pack("<IIII", 5, kind_int, 8, 64)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


# ------------------------------------------------------------------ hash maps


def test_hash_dict_behaviour_and_flags() -> None:
    with KeyValueMap[int, int].create(HASH) as m:
        assert len(m) == 0
        m[1] = 10
        m.update(2, 20, flags=UpdateFlags.NOEXIST)
        assert (m[1], m[2], m.get(3), 3 in m, 1 in m) == (10, 20, None, False, True)
        with pytest.raises(BpfSyscallError) as exists:
            m.update(1, 11, flags=UpdateFlags.NOEXIST)
        assert exists.value.errno == errno.EEXIST
        with pytest.raises(KeyNotFoundError):
            m.update(3, 30, flags=UpdateFlags.EXIST)
        m.update(1, 12, flags=UpdateFlags.EXIST)
        assert dict(m.items()) == {1: 12, 2: 20}
        assert sorted(m) == [1, 2]
        assert sorted(m.values()) == [12, 20]
        assert m.lookup_and_delete(2) == 20
        with pytest.raises(KeyError):
            m[2]
        with pytest.raises(KeyNotFoundError):
            del m[2]
        m.update({5: 50, 6: 60})
        assert m.pop(5) == 50
        assert "test_hash" in m.dump()
        m.clear()
        assert len(m) == 0


def test_hash_full_map_raises_e2big() -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=2)
    with KeyValueMap[int, int].create(spec) as m:
        m[1] = m[2] = 0
        with pytest.raises(BpfSyscallError, match="full") as full:
            m[3] = 0
        assert full.value.errno == errno.E2BIG


def test_batches_chunked_whole_and_with_delete() -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=5000)
    items = {k: k * 7 for k in range(3000)}
    with KeyValueMap[int, int].create(spec) as m:
        assert m.update_batch(items, chunk_size=100) == 3000
        assert m.lookup_batch() == items
        assert m.lookup_batch(chunk_size=64) == items
        chunks = list(m.batches(1000))
        assert sum(len(c) for c in chunks) == 3000
        assert max(len(c) for c in chunks) <= 1000 + 64  # a hash bucket is never split
        assert m.delete_batch(range(1000), chunk_size=300) == 1000
        assert m.lookup_and_delete_batch(chunk_size=128) == {k: v for k, v in items.items() if k >= 1000}
        assert len(m) == 0
        with pytest.raises(KeyNotFoundError):
            m.delete_batch([1])


def test_batch_views_read_the_map_undecoded() -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=5000)
    items = {k: k * 7 + (1 << 40) for k in range(3000)}
    with KeyValueMap[int, int].create(spec) as m:
        m.update_batch(items)
        for chunk_size in (None, 64):
            keys, values = m.lookup_batch_views(chunk_size=chunk_size)
            assert (keys.format, values.format, len(keys), len(values)) == ("I", "Q", 3000, 3000)
            assert dict(zip(keys, values, strict=True)) == items
        keys, values = m.lookup_batch_views(chunk_size=100, delete=True)
        assert dict(zip(keys.tolist(), values.tolist(), strict=True)) == items
        assert len(m) == 0
        assert [len(v) for v in m.lookup_batch_views()] == [0, 0]


def test_batch_views_of_other_codecs_and_without_batches_are_bytes() -> None:
    pair = StructCodec("=IH")
    spec = MapSpec(MapType.HASH, key=u32, value=pair, max_entries=64)
    with KeyValueMap[int, tuple[int, int]].create(spec) as m:
        m.update_batch({1: (10, 11), 2: (20, 21)})
        keys, values = m.lookup_batch_views()
        assert values.format == "B"
        assert len(values) == 2 * pair.size
        assert dict(zip(keys, pair.decode_many(values, 2), strict=True)) == {1: (10, 11), 2: (20, 21)}
    # LPM tries have no batch commands: the views come from element reads.
    trie = MapSpec(MapType.LPM_TRIE, key=lpm_ipv4, value=u32, max_entries=16)
    with LpmTrieMap[int].create(trie) as t:
        t[ipaddress.IPv4Network("10.0.0.0/8")] = 5
        keys, values = t.lookup_batch_views()
        assert values.tolist() == [5]
        assert lpm_ipv4.decode_many(keys, 1) == [ipaddress.IPv4Network("10.0.0.0/8")]
        assert t.update_batch_views(lpm_ipv4.encode("192.168.0.0/16"), array.array("I", [7])) == 1
        assert t.longest_match("192.168.1.1") == 7


def test_batch_views_write_packed_arrays_and_copy_a_map() -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=5000)
    with KeyValueMap[int, int].create(spec) as m, KeyValueMap[int, int].create(spec) as copy:
        keys, values = array.array("I", range(3000)), array.array("Q", (k << 33 for k in range(3000)))
        assert m.update_batch_views(keys, values, chunk_size=500) == 3000
        assert m.lookup_batch() == {k: k << 33 for k in range(3000)}
        assert copy.update_batch_views(*m.lookup_batch_views()) == 3000
        assert copy.lookup_batch() == m.lookup_batch()
        # The batch command takes no NOEXIST/EXIST: those are applied element by element.
        with pytest.raises(BpfSyscallError) as exists:
            m.update_batch_views(array.array("I", [5000, 7]), values[:2], flags=UpdateFlags.NOEXIST)
        assert exists.value.errno == errno.EEXIST
        assert (m[5000], m[7]) == (0, 7 << 33)
        with pytest.raises(KeyNotFoundError):
            m.update_batch({7: 1, 5001: 2}, flags=UpdateFlags.EXIST)
        assert (m[7], 5001 in m) == (1, False)
        assert m.update_batch({5001: 2}, flags=UpdateFlags.NOEXIST) == 1


@pytest.mark.parametrize(
    ("keys", "values", "error", "message"),
    [
        ([1, 2], b"\0" * 16, TypeError, "keys must be a buffer"),
        (b"\0" * 6, b"\0" * 16, ValueError, "not a whole number of 4-byte u32"),
        (array.array("Q", [1, 2]), b"\0" * 16, ValueError, "8-byte items"),
        (array.array("I", [1, 2]), array.array("Q", [1]), ValueError, "2 keys but 1 values"),
        (memoryview(array.array("I", [1, 2, 3, 4]))[::2], b"\0" * 16, ValueError, "contiguous"),
    ],
)
def test_batch_views_refuse_bad_buffers_before_writing(
    keys: object, values: object, error: type[Exception], message: str
) -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=16)
    with KeyValueMap[int, int].create(spec) as m:
        with pytest.raises(error, match=message):
            m.update_batch_views(keys, values)
        assert len(m) == 0


def test_iteration_while_deleting_visits_each_remaining_key_once() -> None:
    spec = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=2048)
    with KeyValueMap[int, int].create(spec) as m:
        m.update_batch({k: k for k in range(1000)})
        seen = []
        for key in m:
            seen.append(key)
            if key % 2 == 0:
                m.pop(key, None)  # the current key (gone already if it was doomed below)
            if key % 4 == 1:
                m.pop((key + 500) % 1000, None)  # a key not yet visited, or already visited
        assert len(seen) == len(set(seen))
        remaining = set(m)
        assert remaining
        assert remaining.issubset(seen)


def test_iteration_without_batches_restarts_but_visits_once() -> None:
    # LPM tries have no batch commands: iteration walks get_next_key, which
    # restarts from the first key when the current one is deleted.
    spec = MapSpec(MapType.LPM_TRIE, key=lpm_ipv4, value=u32, max_entries=512)
    with LpmTrieMap[int].create(spec) as m:
        nets = [ipaddress.IPv4Network(f"10.{i}.0.0/16") for i in range(200)]
        for i, net in enumerate(nets):
            m[net] = i
        seen = []
        for net in m:
            seen.append(net)
            del m[net]
        assert sorted(seen) == sorted(nets)
        assert len(m) == 0


def lookup_keys(map_fd: int, keys: range) -> bytes:
    """A socket filter that calls ``bpf_map_lookup_elem(map, &key)`` for each of ``keys`` and returns 0."""
    one = [
        b"".join(
            [
                insn(0x62, 10, 0, -4, k),  # *(u32 *)(r10 - 4) = k
                ld_map(1, map_fd),
                insn(0xBF, 2, 10),  # r2 = r10
                insn(0x07, 2, imm=-4),  # r2 += -4
                CALL_LOOKUP,
            ]
        )
        for k in keys
    ]
    return b"".join(one) + return_zero()


def test_lru_evicts_the_least_recently_used_key() -> None:
    # Only a program's lookup marks an LRU element as used (it sets the
    # element's reference bit); a lookup by the bpf() syscall deliberately
    # does not (map_lookup_elem_sys_only, 5.1), so `k in m` below observes
    # without disturbing. When a full map needs room, the kernel moves the
    # referenced elements of its inactive list to the active list and evicts
    # unreferenced ones from the inactive list's tail, the oldest first. How
    # many it evicts at once differs: up to 128 in older kernels, at most
    # max_entries / possible CPUs / 2 since "bpf: Adjust free target to avoid
    # global starvation of LRU map" (6.16, also in some stable kernels); a
    # 6.1 kernel thus evicts every unreferenced element of this map at once.
    # So the test touches the *oldest* half of the keys, which an
    # insertion-order (FIFO) eviction would evict first, and checks that
    # every touched key survives and the room comes from the untouched ones.
    # New elements come from the inserting CPU's free list (common LRU), so
    # the test stays on one CPU and so does the program's test run.
    spec = MapSpec(MapType.LRU_HASH, key=u32, value=u64, max_entries=64)
    with KeyValueMap[int, int].create(spec) as m:
        cpu = online_cpus()[0]
        os.sched_setaffinity(0, {cpu})
        try:
            for k in range(64):
                m[k] = k
            with commands.prog_load(ProgType.SOCKET_FILTER, lookup_keys(m.fileno(), range(32))) as prog:
                commands.prog_test_run(prog, data_in=bytes(64))
            for k in range(100, 108):
                m[k] = k
        finally:
            os.sched_setaffinity(0, set(online_cpus()))
        assert [k for k in range(32) if k not in m] == []  # used by the program: kept
        assert [k for k in range(100, 108) if k not in m] == []
        assert sum(k in m for k in range(32, 64)) <= 32 - 8  # room made from the unused keys
        assert len(m) <= 64


# ------------------------------------------------------------------ arrays, per-CPU, mmap


def test_array_semantics() -> None:
    spec = MapSpec(MapType.ARRAY, value=u64, max_entries=4, contents=((1, 5),))
    with ArrayMap[int].create(spec) as a:
        assert (len(a), list(a), a[1], a[0]) == (4, [0, 1, 2, 3], 5, 0)
        with pytest.raises(TypeError, match="cannot be deleted"):
            del a[0]
        with pytest.raises(KeyNotFoundError):
            a[4]
        a.update_batch({0: 1, 2: 3, 3: 4})
        assert a.lookup_batch() == {0: 1, 1: 5, 2: 3, 3: 4}
        a.clear()
        assert list(a.values()) == [0, 0, 0, 0]


def test_percpu_values_written_on_each_cpu_are_read_per_cpu() -> None:
    spec = MapSpec(MapType.PERCPU_ARRAY, name="per_cpu", value=u64, max_entries=1)
    with PerCpuArrayMap[int].create(spec) as m:
        assert m.cpus == possible_cpus()
        with commands.prog_load(ProgType.RAW_TRACEPOINT, write_cpu_plus_one(m.fileno())) as prog:
            for cpu in online_cpus():  # raw tracepoint test runs take no repeat
                commands.prog_test_run(prog, flags=flags.TestRunFlags.RUN_ON_CPU, cpu=cpu, repeat=0)
        values = m[0]
        assert len(values) == possible_cpus()
        for cpu in online_cpus():
            assert values[cpu] == cpu + 1
        assert percpu_sum(values) == sum(cpu + 1 for cpu in online_cpus())
        m[0] = 9  # one value: every CPU
        assert m[0] == [9] * m.cpus
        m[0] = list(range(m.cpus))
        assert m.lookup_batch() == {0: list(range(m.cpus))}


def test_percpu_hash_with_batches() -> None:
    spec = MapSpec(MapType.PERCPU_HASH, key=u32, value=u32, max_entries=128)
    with PerCpuMap[int, int].create(spec) as m:
        m.update_batch({k: k for k in range(100)})
        got = m.lookup_batch(chunk_size=16)
        assert got == {k: [k] * m.cpus for k in range(100)}


def test_mmapable_array_reads_program_counters_without_syscalls() -> None:
    spec = MapSpec(MapType.ARRAY, value=u64, max_entries=2, flags=MapFlags.MMAPABLE)
    with ArrayMap[int].create(spec) as a:
        view = a.memory()
        counters = view.cast("Q")
        with commands.prog_load(ProgType.SOCKET_FILTER, count_into(a.fileno())) as prog:
            commands.prog_test_run(prog, data_in=bytes(64), repeat=5)
        assert counters[0] == 5
        counters[1] = 42  # writes through the mapping are seen by lookups
        assert a[1] == 42
        counters.release()


# ------------------------------------------------------------------ other types


def test_lpm_trie_longest_prefix_match() -> None:
    spec = MapSpec(MapType.LPM_TRIE, key=lpm_ipv4, value=u32, max_entries=16)
    with LpmTrieMap[int].create(spec) as t:
        t[ipaddress.IPv4Network("10.0.0.0/8")] = 8
        t["10.1.0.0/16"] = 16
        t[(24, bytes([10, 1, 2, 0]))] = 24
        assert t.longest_match("10.1.2.3") == 24
        assert t.longest_match(ipaddress.IPv4Address("10.1.3.1")) == 16
        assert t.longest_match("10.200.0.1") == 8
        assert t.longest_match("11.0.0.1") is None
        assert t[ipaddress.IPv4Network("10.1.0.0/16")] == 16
        assert sorted(t, key=str) == [
            ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24")
        ]


def test_queue_is_fifo_and_stack_is_lifo() -> None:
    with QueueMap[int].create(MapSpec(MapType.QUEUE, value=u64, max_entries=3)) as q:
        assert q.pop() is None
        for v in (1, 2, 3):
            q.push(v)
        with pytest.raises(BpfSyscallError):
            q.push(4)  # full
        q.push(4, flags=UpdateFlags.EXIST)  # drops the oldest
        assert q.peek() == 2
        assert list(q.drain()) == [2, 3, 4]
        assert q.pop() is None
    with StackMap[int].create(MapSpec(MapType.STACK, value=u64, max_entries=3)) as s:
        for v in (1, 2, 3):
            s.push(v)
        assert [s.pop(), s.pop(), s.peek(), s.pop(), s.pop()] == [3, 2, 1, 1, None]


def test_bloom_filter_membership() -> None:
    with BloomFilterMap[int].create(
        MapSpec(MapType.BLOOM_FILTER, value=u32, max_entries=100, map_extra=3)
    ) as b:
        for v in range(0, 100, 2):
            b.push(v)
        assert all(v in b for v in range(0, 100, 2))
        assert sum(v in b for v in range(1, 100, 2)) < 10  # false positives are rare


def test_stack_trace_map_reads_kernel_stacks() -> None:
    with StackTraceMap.create(MapSpec(MapType.STACK_TRACE, max_entries=16)) as stacks:
        program = ld_map(2, stacks.fileno()) + insn(0xB7, 3, imm=0) + CALL_GET_STACKID + return_zero()
        with commands.prog_load(ProgType.RAW_TRACEPOINT, program) as prog:
            commands.prog_test_run(prog, repeat=0)  # raw tracepoint test runs take no repeat
        ids = list(stacks)
        assert len(ids) == 1
        ips = stacks.stack(ids[0])
        assert ips
        assert all(ip >= 0xFFFF800000000000 for ip in ips)  # kernel addresses


def test_program_array_and_map_of_maps_hold_objects_by_descriptor() -> None:
    with ProgramArray.create(MapSpec(MapType.PROG_ARRAY, max_entries=4)) as progs:
        with commands.prog_load(ProgType.SOCKET_FILTER, return_zero()) as prog:
            progs[1] = prog
            assert progs[1] == commands.prog_info(prog).id
            assert list(progs) == [1]
        del progs[1]
        assert 1 not in progs
    inner = MapSpec(MapType.HASH, key=u32, value=u64, max_entries=4)
    outer = MapSpec(MapType.HASH_OF_MAPS, key=u32, max_entries=4, inner_map=inner)
    with MapOfMaps[int].create(outer) as maps, KeyValueMap[int, int].create(inner) as member:
        member[7] = 70
        maps[3] = member
        assert maps[3] == member.id
        with maps.open_map(3) as reopened:
            assert isinstance(reopened, KeyValueMap)
            assert reopened[7] == 70


def test_sockmap_returns_socket_cookies() -> None:
    spec = MapSpec(MapType.SOCKMAP, max_entries=2)
    with DescriptorMap[int].create(spec) as sockmap, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sockmap[0] = listener
        so_cookie = 57  # SO_COOKIE
        assert sockmap[0] == struct.unpack("=Q", listener.getsockopt(socket.SOL_SOCKET, so_cookie, 8))[0]


def test_perf_event_array_defaults_to_possible_cpus_and_has_no_user_lookup() -> None:
    with DescriptorMap[int].create(MapSpec(MapType.PERF_EVENT_ARRAY)) as perf:
        assert perf.max_entries == possible_cpus()
        with pytest.raises((NotSupportedError, KeyNotFoundError)):
            perf[0]


def test_devmap_and_cpumap_store_plain_values() -> None:
    with KeyValueMap[int, int].create(MapSpec(MapType.DEVMAP_HASH, max_entries=4)) as dev:
        dev[10] = socket.if_nametoindex("lo")
        assert dev[10] == socket.if_nametoindex("lo")
    with KeyValueMap[int, int].create(MapSpec(MapType.CPUMAP, max_entries=possible_cpus())) as cpus:
        cpus[0] = 192  # queue size
        assert cpus[0] == 192


def test_task_storage_is_keyed_by_pidfd() -> None:
    with commands.btf_load(minimal_btf()) as btf:
        spec = MapSpec(MapType.TASK_STORAGE, value=u64, btf_key_type_id=1, btf_value_type_id=2)
        with LocalStorageMap[int].create(spec, btf=btf) as storage:
            pidfd = os.pidfd_open(os.getpid())
            try:
                storage[pidfd] = 1234
                assert storage[pidfd] == 1234
                del storage[pidfd]
                assert pidfd not in storage
            finally:
                os.close(pidfd)
            with pytest.raises(TypeError, match="cannot be iterated"):
                list(storage)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(MapSpec(MapType.RINGBUF, max_entries=4096 * 4), id="ringbuf"),
        pytest.param(
            MapSpec(MapType.USER_RINGBUF, max_entries=4096),
            id="user_ringbuf",
            marks=pytest.mark.requires_feature(features.map_type_feature(MapType.USER_RINGBUF)),
        ),
        pytest.param(
            MapSpec(MapType.ARENA, max_entries=4),
            id="arena",
            marks=pytest.mark.requires_feature(features.ARENA),
        ),
    ],
)
def test_types_without_element_access_are_created(spec: MapSpec) -> None:
    with Map.create(spec) as m:
        assert m.info().type == spec.type


def test_unknown_map_type_is_not_supported() -> None:
    with pytest.raises(NotSupportedError, match="map type 250"):
        Map.create(MapSpec(250, key_size=4, value_size=4, max_entries=1))


# ------------------------------------------------------------------ lifecycle


def test_frozen_map_rejects_user_space_updates() -> None:
    with KeyValueMap[int, int].create(HASH) as m:
        m[1] = 1
        m.freeze()
        with pytest.raises(BpfSyscallError, match="frozen") as frozen:
            m[1] = 2
        assert frozen.value.errno == errno.EPERM
        assert m[1] == 1


def test_pinned_map_keeps_contents_for_another_process(bpffs: Path) -> None:
    path = bpffs / "shared"
    with KeyValueMap[int, int].create(HASH) as m:
        m.update_batch({1: 100, 2: 200})
        m.pin(path)
    script = textwrap.dedent(
        f"""
        from ebpf.maps import Map, u32, u64
        with Map.from_pin({str(path)!r}, key=u32, value=u64) as m:
            print(sorted(m.items()))
            m[3] = 300
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, env=os.environ
    )
    assert out.stdout.strip() == "[(1, 100), (2, 200)]"
    with KeyValueMap[int, int].from_pin(path, key=u32, value=u64) as again:
        assert again[3] == 300
        with KeyValueMap[int, int].from_id(again.id, key=u32, value=u64) as by_id:
            assert by_id[1] == 100
        with KeyValueMap[bytes, bytes].from_fd(commands.obj_get(path)) as raw:
            assert raw[struct.pack("=I", 2)] == struct.pack("=Q", 200)
    path.unlink()


def test_pin_by_name_reuses_a_compatible_pin(bpffs: Path) -> None:
    spec = MapSpec(MapType.HASH, name="by_name", key=u32, value=u64, max_entries=8, pinning=PinType.BY_NAME)
    with KeyValueMap[int, int].create(spec, pin_root=bpffs) as first:
        first[1] = 11
        with KeyValueMap[int, int].create(spec, pin_root=bpffs) as second:
            assert second.id == first.id
            assert second[1] == 11
        bigger = MapSpec(
            MapType.HASH, name="by_name", key=u32, value=u64, max_entries=9, pinning=PinType.BY_NAME
        )
        with pytest.raises(ValueError, match="max_entries is 8"):
            KeyValueMap.create(bigger, pin_root=bpffs)
        first.unpin()
    assert not (bpffs / "by_name").exists()


def test_bad_input_raises_before_any_syscall_and_leaves_map_untouched() -> None:
    m = KeyValueMap[int, int].create(HASH)
    m[1] = 1
    with pytest.raises(TypeError, match="takes an int"):
        m["1"] = 2  # type: ignore[index]
    with pytest.raises(ValueError, match="does not fit u64"):
        m[1] = -5
    with pytest.raises(ValueError, match="does not fit u32"):
        m[1 << 40] = 1
    with pytest.raises(TypeError):
        m.update_batch({2: 2, 3: "x"})  # type: ignore[arg-type]
    assert dict(m.items()) == {1: 1}
    with pytest.raises(TypeError, match="HASH maps are KeyValueMap objects, not ArrayMap"):
        ArrayMap.create(HASH)
    with pytest.raises(ValueError, match="disagrees"):
        KeyValueMap.from_id(m.id, key=u64)
    m.close()
    with pytest.raises(ValueError, match="is closed"):
        m[1]
    with pytest.raises(ValueError, match="is closed"):
        m.fileno()
    m.close()  # idempotent


def test_no_fd_leak_over_10000_create_close_cycles() -> None:
    before = len(os.listdir("/proc/self/fd"))
    spec = MapSpec(MapType.ARRAY, value=u32, max_entries=1)
    for _ in range(10_000):
        with ArrayMap[int].create(spec) as a:
            a[0] = 1
    assert len(os.listdir("/proc/self/fd")) == before
