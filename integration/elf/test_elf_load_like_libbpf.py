"""What libbpf loads, Collection.load loads: tool-style objects set up by user space before loading
(sizes, program types, autoload), long __kconfig strings, maps-only objects, trie keys, and
attach_all(). Each test proves an effect: an event that arrived, a counter that moved, a lookup
that matched."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import ipaddress
import logging
import os
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _kernel_markers import kernel_config, skip_reason

from ebpf.elf import Collection, CollectionSpec
from ebpf.events import PerfBuffer, RingBuffer
from ebpf.maps import KeyValueMap, LpmTrieMap, StackTraceMap
from ebpf.syscall import ProgType, features
from ebpf.syscall.errors import NotSupportedError
from ebpf.syscall.system import kernel_version
from tests.elf._elf_corpus import spec_of

XDP_DROP, XDP_PASS = 1, 2
#: Whether bpf_get_stackid() records kernel stacks at syscall tracepoints (6.1 answers EFAULT there).
KERNEL_STACKS = skip_reason("6.2", "kernel stacks at syscall tracepoints") is None
CLOCK_MONOTONIC = 1


def _kv(coll: Collection, name: str) -> KeyValueMap[Any, Any]:
    live = coll.maps[name]
    assert isinstance(live, KeyValueMap)
    return live


def _c_string(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode()


def _comm() -> str:
    """This thread's command name, as bpf_get_current_comm() and task->comm give it."""
    return Path("/proc/thread-self/comm").read_text().strip()


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


def _clock_nanosleep(seconds: float) -> None:
    """Sleep with the clock_nanosleep system call itself (time.sleep may use another one)."""
    libc = ctypes.CDLL(None, use_errno=True)
    wanted = _Timespec(int(seconds), int(seconds % 1 * 1e9))
    assert libc.clock_nanosleep(CLOCK_MONOTONIC, 0, ctypes.byref(wanted), None) == 0


# ------------------------------------------------------------ item 2: maps sized by user space


@pytest.mark.requires_feature(features.RINGBUF)
def test_a_profiler_sized_by_user_space_counts_stacks_and_sends_events() -> None:
    spec = spec_of("user_sized")
    with pytest.raises(ValueError, match=r"map 'start' .* spec\.resize_map\('start', n\)"):
        Collection.load(spec)  # nothing created: the fd-leak fixture checks
    # what bcc's offcputime does with --stack-storage-size and --perf-max-stack-depth
    for name in ("start", "counts", "stackmap"):
        spec.resize_map(name, 1024)
    spec.resize_map("events", 1 << 16)
    spec.set_value_size("stackmap", 32 * 8)
    spec.variables["target_tgid"].set(os.getpid())
    spec.variables["min_ns"].set(5_000_000)
    with Collection.load(spec) as coll, RingBuffer(coll.maps["events"]) as ring:
        assert (coll.maps["stackmap"].value_size, coll.maps["stackmap"].max_entries) == (256, 1024)
        assert coll.maps["events"].max_entries == 1 << 16
        with coll.attach_all():
            _clock_nanosleep(0.02)
            _clock_nanosleep(0.02)
            _clock_nanosleep(0.001)  # under min_ns: counted nowhere
        records = ring.poll(1.0)
        # struct event { __u32 tgid, pid; __u64 delta_ns; __s32 user_stack_id, kern_stack_id; char comm[16]; }
        events = [struct.unpack_from("<IIQii16s", bytes(r)) for r in records]
        counts = list(_kv(coll, "counts").items())  # struct keys decode to dicts
        stackmap = coll.maps["stackmap"]
        assert isinstance(stackmap, StackTraceMap)
        assert len(events) == 2, events
        for tgid, pid, delta_ns, user_stack_id, kern_stack_id, comm in events:
            assert (tgid, pid, _c_string(comm)) == (os.getpid(), threading.get_native_id(), _comm())
            assert 15_000_000 <= delta_ns < 10_000_000_000
            assert user_stack_id >= 0
            # Linux 6.1 records no kernel callchain at syscall tracepoints (EFAULT); no probe tells
            assert kern_stack_id >= 0 or (not KERNEL_STACKS and kern_stack_id == -errno.EFAULT)
        assert sum(count for _, count in counts) == 2
        for key, _ in counts:
            assert (key["tgid"], key["comm"]) == (os.getpid(), _comm())
            user_stack = stackmap.stack(key["user_stack_id"])
            assert 1 <= len(user_stack) <= 32
            assert all(0 < ip < 1 << 48 for ip in user_stack)  # user-space addresses
            if key["kern_stack_id"] >= 0:
                kernel_stack = stackmap.stack(key["kern_stack_id"])
                assert kernel_stack
                assert all(ip >= 1 << 63 for ip in kernel_stack)  # kernel addresses


# ------------------------------------------------------------ item 3: sections with no type


def _packet(ethertype: int, size: int) -> bytes:
    ip = bytes([0x45, 0, 0, size - 14]) + bytes(16) if ethertype == 0x0800 else bytes(20)
    frame = b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", ethertype) + ip
    return frame.ljust(size, b"\0")


def test_untyped_sections_load_once_typed_and_their_tail_calls_run() -> None:
    spec = spec_of("unknown_sections")
    with pytest.raises(ValueError, match=r"section 'socket/tail'"):
        Collection.load(spec)
    spec.set_program_type("filter_tail", ProgType.SOCKET_FILTER)
    spec.set_program_type("classify", "socket")
    spec.set_program_type("steer", "sk_lookup", "sk_lookup")
    with Collection.load(spec) as coll:
        assert "filter_debug" not in coll.programs  # SEC("?socket")
        assert coll.programs["steer"].info().type == ProgType.SK_LOOKUP
        assert coll.programs["manual_raw_tp"].info().type == ProgType.RAW_TRACEPOINT
        stages = _kv(coll, "stages")
        assert stages[1] == coll.programs["filter_tail"].info().id
        entry = coll.programs["filter_entry"]
        # socket filters see the packet after its Ethernet header: skb->len is 14 bytes less
        assert entry.test_run(_packet(0x86DD, 200)).retval == 200 - 14  # the tail keeps it all
        assert entry.test_run(_packet(0x0800, 200)).retval == 64  # the classifier keeps the headers
        assert entry.test_run(_packet(0x0800, 100)).retval == 64
        assert dict(_kv(coll, "seen").items()) == {0: 3, 1: 1, 2: 2, 3: 0, 4: 0}


def test_a_program_turned_on_again_loads_and_one_turned_off_leaves_its_slot_empty() -> None:
    spec = spec_of("unknown_sections")
    spec.set_program_type("filter_tail", ProgType.SOCKET_FILTER)
    spec.set_autoload("classify", False)  # its program array slot stays empty
    spec.set_autoload("steer", False)
    spec.set_autoload("filter_debug", True)
    with Collection.load(spec) as coll:
        assert set(coll.programs) == {"filter_entry", "filter_tail", "manual_raw_tp", "filter_debug"}
        assert coll.programs["filter_entry"].test_run(_packet(0x0800, 100)).retval == 0  # no stage 2
        assert coll.programs["filter_debug"].test_run(_packet(0x0800, 100)).retval == 100 - 14
        assert dict(_kv(coll, "seen").items()) == {0: 1, 1: 0, 2: 0, 3: 0, 4: 1}


# ------------------------------------------------------------ item 6: long __kconfig strings


def _unquoted(value: str | None) -> bytes:
    return value[1:-1].encode() if value is not None and len(value) >= 2 else b""


def test_long_kconfig_strings_are_truncated_and_reported_through_a_perf_buffer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = kernel_config()
    if config is None:
        pytest.skip("no kernel configuration to read (/proc/config.gz, /boot/config-*)")
    cc, hostname = (
        _unquoted(config.get("CONFIG_CC_VERSION_TEXT")),
        _unquoted(config.get("CONFIG_DEFAULT_HOSTNAME")),
    )
    spec = spec_of("kconfig_strings")
    spec.variables["target_tgid"].set(os.getpid())
    with (
        caplog.at_level(logging.WARNING, logger="ebpf.elf"),
        Collection.load(spec) as coll,
        PerfBuffer(coll.maps["reports"]) as reports,
        coll.attach_all(),
    ):
        os.getppid()
        records = reports.poll(2.0)
    assert len(records) == 1
    version, hz, got_cc, got_hostname = struct.unpack_from("<Ii8s32s", bytes(records[0]))
    major, minor, patch = kernel_version()
    assert version == (major << 16) | (minor << 8) | min(patch, 255)
    assert hz == int(config.get("CONFIG_HZ", "0"))
    assert got_cc == cc[:7].ljust(8, b"\0")
    assert got_hostname == hostname[:31].ljust(32, b"\0")
    warned = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warned) == (len(cc) >= 8) + (len(hostname) >= 32)
    if len(cc) >= 8:
        assert warned[0].startswith("__kconfig extern 'CONFIG_CC_VERSION_TEXT': long string")


# ------------------------------------------------------------ item 7: maps carrying BTF, no programs


def test_a_maps_only_object_loads_with_btf_and_its_pinned_table_serves_a_firewall(bpffs: Path) -> None:
    with Collection.load(spec_of("maps_only"), pin_root=bpffs) as daemon:
        assert daemon.programs == {}
        btf_ids = {name: live.info().btf_id for name, live in daemon.maps.items()}
        assert all(btf_ids.values()), btf_ids  # created with the object's BTF
        assert len(set(btf_ids.values())) == 1
        settings = _kv(daemon, "settings")
        settings[0] = {"sample_rate": 10, "verbose": 1, "tag": "edge"}
        assert settings[0] == {"sample_rate": 10, "verbose": 1, "tag": "edge"}
        assert (bpffs / "conn_stats").exists()

        firewall = spec_of("lpm_firewall")
        with Collection.load(firewall, pin_root=bpffs) as tool:
            assert tool.maps["conn_stats"].info().id == daemon.maps["conn_stats"].info().id
            _kv(tool, "rules_v4")[ipaddress.ip_network("10.1.0.0/16")] = {"action": XDP_DROP, "id": 3}
            program = tool.programs["xdp_firewall"]
            assert program.test_run(_udp4("10.1.2.3", "10.9.9.9", 5353, 53)).retval == XDP_DROP
            assert program.test_run(_udp4("10.2.0.1", "10.9.9.9", 4000, 53)).retval == XDP_PASS
        # the daemon's map saw both packets, keyed and valued by its C structs
        table = {(k["saddr"], k["sport"]): v for k, v in _kv(daemon, "conn_stats").items()}
        blocked = table[(_be32("10.1.2.3"), 5353)]
        passed = table[(_be32("10.2.0.1"), 4000)]
        assert (blocked["packets"], blocked["last_rule"]) == (1, 3)
        assert (passed["packets"], passed["last_rule"]) == (1, 0)
        assert blocked["bytes"] == len(_udp4("10.1.2.3", "10.9.9.9", 5353, 53))


def test_an_object_whose_programs_are_all_turned_off_loads_its_maps_with_btf(bpffs: Path) -> None:
    spec = spec_of("lpm_firewall")
    spec.set_autoload("xdp_firewall", False)
    with Collection.load(spec, pin_root=bpffs) as coll:
        assert coll.programs == {}
        assert all(live.info().btf_id for live in coll.maps.values())
        trie = _kv(coll, "rules_v4")
        trie["192.168.0.0/16"] = {"action": XDP_PASS, "id": 1}
        assert trie["192.168.0.0/16"] == {"action": XDP_PASS, "id": 1}


# ------------------------------------------------------------ item 10: trie keys from objects


def _be32(address: str) -> int:
    """An IPv4 address as the __u32 the C struct holds it in (network byte order in memory)."""
    return int.from_bytes(ipaddress.IPv4Address(address).packed, "little")


def _udp4(src: str, dst: str, sport: int, dport: int) -> bytes:
    payload = b"query"
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", 0x0800) + ip + udp


def _udp6(src: str) -> bytes:
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, 8, 17, 64, ipaddress.IPv6Address(src).packed, bytes(16))
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", 0x86DD) + ip6 + bytes(8)


def test_tries_from_objects_take_networks_and_pairs_and_find_the_longest_match(bpffs: Path) -> None:
    with Collection.load(spec_of("lpm_firewall"), pin_root=bpffs) as coll:
        v4, v6, hits = coll.maps["rules_v4"], coll.maps["rules_v6"], _kv(coll, "rule_hits")
        assert isinstance(v4, LpmTrieMap)
        assert isinstance(v6, LpmTrieMap)
        v4[ipaddress.ip_network("10.0.0.0/8")] = {"action": XDP_PASS, "id": 1}
        v4[(24, bytes([10, 1, 2, 0]))] = {"action": XDP_DROP, "id": 2}  # a (prefixlen, bytes) pair
        v6["2001:db8::/32"] = {"action": XDP_DROP, "id": 5}
        assert v4.longest_match("10.1.2.3") == {"action": XDP_DROP, "id": 2}
        assert v4.longest_match(ipaddress.IPv4Address("10.7.0.1")) == {"action": XDP_PASS, "id": 1}
        assert v4.longest_match("11.0.0.1") is None
        assert v6.longest_match("2001:db8::1") == {"action": XDP_DROP, "id": 5}
        assert set(v4.keys()) == {ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("10.1.2.0/24")}

        program = coll.programs["xdp_firewall"]
        assert program.test_run(_udp4("10.1.2.3", "10.0.0.1", 1, 2)).retval == XDP_DROP
        assert program.test_run(_udp4("10.7.0.1", "10.0.0.1", 1, 2)).retval == XDP_PASS
        assert program.test_run(_udp4("11.0.0.1", "10.0.0.1", 1, 2)).retval == XDP_PASS
        assert program.test_run(_udp6("2001:db8::1")).retval == XDP_DROP
        assert program.test_run(_udp6("2001:db9::1")).retval == XDP_PASS
        assert {i: n for i, n in hits.items() if n} == {1: 1, 2: 1, 5: 1}
        del v4["10.1.2.0/24"]
        assert program.test_run(_udp4("10.1.2.3", "10.0.0.1", 1, 2)).retval == XDP_PASS


# ------------------------------------------------------------ item 9: autoload and attach_all

HIT_TP, HIT_RAW_TP, HIT_UPROBE, HIT_URETPROBE, HIT_OPTIONAL, HIT_MANUAL = range(6)


def _attach_all_spec() -> CollectionSpec:
    spec = spec_of("attach_all")
    spec.variables["target_tgid"].set(os.getpid())
    return spec


@pytest.mark.requires_feature(features.RINGBUF)
@pytest.mark.requires_feature(features.UPROBE_PMU)
def test_attach_all_attaches_every_program_its_section_places_and_the_links_close_together() -> None:
    spec = _attach_all_spec()
    assert not spec.autoload("optional_getppid")  # SEC("?ksyscall/getppid")
    with Collection.load(spec) as coll, RingBuffer(coll.maps["events"]) as ring:
        assert "optional_getppid" not in coll.programs
        hits = _kv(coll, "hits")
        with coll.attach_all() as links:
            assert set(links) == {"on_getppid", "on_sys_enter", "on_getpid", "on_getpid_return"}
            assert set(links.skipped) == {"manual_tp", "manual_uprobe", "xdp_pass"}
            os.getppid()
            os.getpid()
        assert links.closed
        counts = dict(hits.items())
        assert all(link.closed for link in links.values())
        assert counts[HIT_TP] == 1
        assert counts[HIT_RAW_TP] >= 2  # getppid and getpid at least
        assert counts[HIT_UPROBE] >= 1
        assert counts[HIT_URETPROBE] >= 1
        assert counts[HIT_OPTIONAL] == counts[HIT_MANUAL] == 0
        (record,) = ring.poll(1.0)
        tgid, ppid, comm = struct.unpack_from("<II16s", bytes(record))  # struct event
        assert (tgid, ppid, _c_string(comm)) == (os.getpid(), os.getppid(), _comm())
        # detached: nothing moves any more
        os.getppid()
        os.getpid()
        time.sleep(0.01)
        assert dict(hits.items()) == counts


@pytest.mark.requires_feature(features.UPROBE_PMU)
def test_a_failure_half_way_through_attach_all_leaves_nothing_attached() -> None:
    spec = _attach_all_spec()
    broken = dataclasses.replace(spec.programs["on_getppid"], attach_to="syscalls/sys_enter_no_such_call")
    del spec.programs["on_getppid"]
    spec.programs["on_getppid"] = broken  # attached last, after the raw tracepoint and the uprobes
    with Collection.load(spec) as coll:
        with pytest.raises(NotSupportedError, match="sys_enter_no_such_call"):
            coll.attach_all()
        hits = _kv(coll, "hits")
        before = dict(hits.items())
        assert before[HIT_RAW_TP] > 0  # attached first, it ran until the failure detached it
        os.getppid()
        os.getpid()
        assert dict(hits.items()) == before  # nothing attached any more; the leak fixture checks too
