"""The libbpf example set (rewritten in this project's style) compiles with from_c, parses right and loads."""

from __future__ import annotations

import os

import pytest
from _kernel_markers import feature_skip_reason
from bpf_build import BUILD_DIR

from ebpf.elf import Collection, CollectionSpec, inspect
from ebpf.syscall import AttachType, MapType, ProgType, features
from tests.elf._elf_corpus import EXAMPLES, require_tool

CACHE = BUILD_DIR / "elf-cache"

EXPECTED = {
    "minimal": {"handle_tp": (ProgType.TRACEPOINT, None, "syscalls/sys_enter_write")},
    "bootstrap": {
        "handle_exec": (ProgType.TRACEPOINT, None, "sched/sched_process_exec"),
        "handle_exit": (ProgType.TRACEPOINT, None, "sched/sched_process_exit"),
    },
    "kprobe": {
        "do_unlinkat": (ProgType.KPROBE, None, "do_unlinkat"),
        "do_unlinkat_exit": (ProgType.KPROBE, None, "do_unlinkat"),
    },
    "fentry": {
        "do_unlinkat": (ProgType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat"),
        "do_unlinkat_exit": (ProgType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat"),
        "check_open": (ProgType.LSM, AttachType.LSM_MAC, "file_open"),
    },
    "uprobe": {"uprobe_add": (ProgType.KPROBE, None, ""), "uretprobe_add": (ProgType.KPROBE, None, "")},
    "tc": {"tc_ingress": (ProgType.SCHED_CLS, None, "")},
    "xdp": {"xdp_count": (ProgType.XDP, AttachType.XDP, "")},
    "profile": {"profile": (ProgType.PERF_EVENT, None, "")},
}


def _spec(name: str) -> CollectionSpec:
    require_tool("clang")
    return CollectionSpec.from_c(EXAMPLES / f"{name}.bpf.c", cache_dir=CACHE)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_parses_to_the_programs_libbpf_would_make_and_loads(name: str) -> None:
    spec = _spec(name)
    got = {p: (s.type, s.expected_attach_type, s.attach_to) for p, s in spec.programs.items()}
    assert got == EXPECTED[name]
    assert spec.license in ("GPL", "Dual BSD/GPL")
    assert "programs:" in inspect(spec)
    if name == "fentry":
        refused = feature_skip_reason(features.FENTRY)
        if refused is not None:
            pytest.skip(f"parsed; loading fentry/fexit/LSM is refused here: {refused}")
    with Collection.load(spec) as coll:
        assert all(program.info().id for program in coll.programs.values())


def test_minimal_counts_writes_of_the_pid_set_before_load() -> None:
    spec = _spec("minimal")
    spec.variables["my_pid"].set(os.getpid())
    with Collection.load(spec) as coll, coll.programs["handle_tp"].attach():
        for _ in range(3):
            os.write(2, b"")
        writes = coll.variables["writes"].get()
        assert isinstance(writes, int)
        assert writes >= 3


def test_bootstrap_maps_are_read_from_btf() -> None:
    spec = _spec("bootstrap")
    assert spec.maps["rb"].type == MapType.RINGBUF
    assert (spec.maps["exec_start"].key_size, spec.maps["exec_start"].value_size) == (4, 8)
    assert spec.core_relocations("handle_exit")  # BPF_CORE_READ of task_struct
