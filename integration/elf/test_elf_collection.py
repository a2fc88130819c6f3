"""Collection.load of the C corpus on the running kernel: each program loads and does what its source says."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
from _kernel_markers import feature_skip_reason, skip_reason

from ebpf.elf import Collection
from ebpf.events import RingBuffer
from ebpf.maps import ArrayMap, KeyValueMap, Map, MapSpec
from ebpf.progs import ProgramSpec
from ebpf.syscall import MapType, ProgType, features
from ebpf.syscall.errors import BpfSyscallError, VerifierError
from ebpf.syscall.system import kernel_version
from tests.elf._elf_corpus import spec_of

PACKET = bytes(64)
XDP_PASS, XDP_TX = 2, 3


def _kv(coll: Collection, name: str) -> KeyValueMap[Any, Any]:
    """Map ``name`` of ``coll``, checked to have element access."""
    live = coll.maps[name]
    assert isinstance(live, KeyValueMap)
    return live


def test_globals_set_before_load_are_seen_and_variables_read_and_write_live_memory() -> None:
    spec = spec_of("globals")
    spec.variables["target_pid"].set(1000)
    with Collection.load(spec) as coll:
        assert coll.programs["use_globals"].test_run(PACKET).retval == XDP_PASS
        values = {name: var.value for name, var in coll.variables.items()}
        assert values["last_result"] == 1000 * 3 + 5
        assert (values["hits"], values["custom_data"], values["static_counter"]) == (101, 12, 2)
        coll.variables["hits"].value = 5000
        coll.programs["use_globals"].test_run(PACKET)
        assert coll.variables["hits"].get() == 5001
        assert _kv(coll, ".data")[0][:8] == struct.pack("<Q", 5001)  # the same bytes, seen through the map
        with pytest.raises(PermissionError, match=r"frozen \.rodata"):
            coll.variables["target_pid"].set(1)


def test_maps_are_shared_subprograms_called_and_callbacks_run(bpffs: Path) -> None:
    with Collection.load(spec_of("maps_calls"), pin_root=bpffs) as coll:
        for name in ("count_a", "count_b", "count_a"):
            assert coll.programs[name].test_run(PACKET).retval == XDP_PASS
        # both programs update the one "counters" map; the second hit goes through add_twice(key)
        assert dict(_kv(coll, "counters").items()) == {1: 1 + 2, 2: 1}
        assert _kv(coll, "pinned_stats")[0] == 0 + 1 + 2 + 3 + 4  # the bpf_loop callback's sum
        assert (bpffs / "pinned_stats").exists()
        # the map-in-map was filled from `.values = { &inner_a, &inner_b }`
        assert _kv(coll, "inner_a")[0] == 42


def test_tail_calls_go_through_the_program_array_filled_from_values(bpffs: Path) -> None:
    spec = spec_of("maps_calls")
    with Collection.load(spec, pin_root=bpffs) as coll:
        assert _kv(coll, "jump_table")[2] == coll.programs["tail_target"].info().id
        assert coll.programs["tail_caller"].test_run(PACKET).retval == XDP_TX
    del spec.programs["tail_target"]
    with Collection.load(spec, pin_root=bpffs) as coll:
        assert coll.programs["tail_caller"].test_run(PACKET).retval == 1  # XDP_DROP: the slot stayed empty


def test_a_pinned_map_is_reused_by_a_second_load(bpffs: Path) -> None:
    spec = spec_of("maps_calls")
    with Collection.load(spec, pin_root=bpffs) as first:
        first.programs["count_b"].test_run(PACKET)
        with Collection.load(spec, pin_root=bpffs) as second:
            assert _kv(second, "pinned_stats")[0] == 10
            assert second.maps["pinned_stats"].info().id == first.maps["pinned_stats"].info().id


def test_a_map_can_be_replaced_by_an_existing_one(bpffs: Path) -> None:
    spec = spec_of("maps_calls")
    mine: KeyValueMap[bytes, bytes] = KeyValueMap.create(
        MapSpec(MapType.HASH, "mine", key_size=4, value_size=8, max_entries=16)
    )
    with mine:
        with Collection.load(spec, replace_maps={"counters": mine}, pin_root=bpffs) as coll:
            coll.programs["count_a"].test_run(PACKET)
        assert mine[struct.pack("<I", 1)] == struct.pack("<Q", 1)
        wrong = MapSpec(MapType.HASH, "wrong", key_size=4, value_size=4, max_entries=16)
        with Map.create(wrong) as other, pytest.raises(ValueError, match="value_size is 4, spec says 8"):
            Collection.load(spec, replace_maps={"counters": other}, pin_root=bpffs)


def test_resized_maps_are_created_with_the_new_size(bpffs: Path) -> None:
    spec = spec_of("maps_calls")
    spec.resize_map("counters", 1024)
    with Collection.load(spec, pin_root=bpffs) as coll:
        assert coll.maps["counters"].max_entries == 1024


def test_legacy_maps_load_and_work() -> None:
    with Collection.load(spec_of("legacy_maps")) as coll:
        coll.programs["legacy_prog"].test_run(PACKET)
        legacy = coll.maps["legacy_counts"]
        assert isinstance(legacy, ArrayMap)
        assert legacy[1] == struct.pack("<Q", 5)


@pytest.mark.requires_feature(features.RINGBUF)
def test_ring_buffer_output_reaches_the_map() -> None:
    with Collection.load(spec_of("ringbuf")) as coll:
        ring = coll.maps["events"]
        assert coll.programs["emit"].test_run(PACKET).retval == XDP_PASS
        with RingBuffer(ring) as reader:
            records = reader.poll(1.0)
        assert len(records) == 1
        assert struct.unpack_from("<II", bytes(records[0])) == (0xFEEDBEEF, len(PACKET))


def test_kconfig_and_untyped_ksym_externs_are_resolved_from_the_running_kernel() -> None:
    with Collection.load(spec_of("externs")) as coll:
        coll.programs["read_externs"].test_run(PACKET)
        seen = {name: var.get() for name, var in coll.variables.items()}
    major, minor, patch = kernel_version()
    assert seen["kernel_version_seen"] == (major << 16) | (minor << 8) | min(patch, 255)
    assert seen["bpf_syscall_seen"] == 1
    assert seen["missing_seen"] == 0  # a __weak option the kernel does not have
    with open("/proc/kallsyms", encoding="utf-8") as f:
        address = next(int(line.split()[0], 16) for line in f if line.split()[2] == "bpf_prog_put")
    assert seen["put_address"] == address


def test_typed_ksyms_become_btf_id_loads() -> None:
    spec = spec_of("ksym_typed")
    try:
        with Collection.load(spec) as coll:
            coll.programs["read_active"].test_run(PACKET)
            active = coll.variables["active_seen"].get()
            assert isinstance(active, int)
            assert active >= 0
    except VerifierError as exc:
        if "failed to find the address for kernel symbol" in str(exc):
            pytest.skip("this kernel's kallsyms lists no data symbols (CONFIG_KALLSYMS_ALL off)")
        raise


def test_co_re_reads_of_task_struct_match_the_caller() -> None:
    with Collection.load(spec_of("core_task")) as coll:
        coll.programs["read_task"].test_run(ctx=bytes(16))
        seen = {name: var.get() for name, var in coll.variables.items()}
    assert seen == {"seen_tgid": os.getpid(), "seen_parent_tgid": os.getppid(), "has_tgid": 1}


def _sleepable_fentry_refused() -> str | None:
    """Why no fentry program can be sleepable on this kernel, or None.

    The verifier lets a sleepable fentry program attach only to a function
    marked for it: since 6.2 one in a registered fmod_ret set with
    KF_SLEEPABLE (bpf_fentry_test1, the corpus' target, is); before, only one
    on the error-injection list, which exists only with
    CONFIG_FUNCTION_ERROR_INJECTION, and so does its lookup function
    within_error_injection_list (an inline ``false`` otherwise).
    """
    if skip_reason("6.2", "the fmod_ret set") is None:
        return None
    with open("/proc/kallsyms", encoding="utf-8") as kallsyms:
        if any(line.rstrip().endswith(" within_error_injection_list") for line in kallsyms):
            return None
    return "sleepable fentry needs Linux 6.2+ or CONFIG_FUNCTION_ERROR_INJECTION (off in this kernel)"


def test_every_section_kind_loads_where_the_kernel_allows() -> None:
    spec = spec_of("sections")
    refused = feature_skip_reason(features.FENTRY)
    btf_based = [name for name, p in spec.programs.items() if p.type.name in ("TRACING", "LSM", "EXT")]
    skipped: list[str] = []
    if refused is not None:
        for name in btf_based:
            del spec.programs[name]
        skipped.append(f"{len(btf_based)} BTF-based programs: {refused}")
    elif (no_sleepable := _sleepable_fentry_refused()) is not None:
        del spec.programs["fentry_sleepable"]
        skipped.append(f"fentry_sleepable: {no_sleepable}")
    del spec.programs["uprobe_malloc"]  # same type as kprobes; covered by them
    with Collection.load(spec) as coll:
        assert set(coll.programs) == set(spec.programs)
        assert all(p.info().id for p in coll.programs.values())
    if skipped:
        pytest.skip(f"loaded all but {'; '.join(skipped)}")


def test_a_failed_load_leaves_no_descriptor_and_no_pin(bpffs: Path) -> None:
    spec = spec_of("maps_calls")
    # a program the verifier rejects (it returns an uninitialised r0), loaded after every map was
    # created and "pinned_stats" pinned: the load fails, and the new pin must go with the maps
    spec.programs["zz_broken"] = ProgramSpec("broken", ProgType.XDP, bytes.fromhex("9500000000000000"))
    with pytest.raises(VerifierError):
        Collection.load(spec, pin_root=bpffs)
    assert not list(bpffs.iterdir())  # the leak fixtures check the descriptors


def test_a_map_the_kernel_refuses_stops_the_load_cleanly(bpffs: Path) -> None:
    spec = spec_of("maps_calls")
    spec.maps["zz_huge"] = MapSpec(MapType.ARRAY, "huge", key_size=4, value_size=1 << 30, max_entries=1 << 20)
    with pytest.raises(BpfSyscallError):
        Collection.load(spec, pin_root=bpffs)
    assert not list(bpffs.iterdir())
