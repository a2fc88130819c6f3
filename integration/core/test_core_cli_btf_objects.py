"""``ebpf`` beside bpftool on objects compiled from C with BTF: the same JSON and listings, field by field.

tests/bpf/cli_objects.c has a program whose name is longer than the kernel keeps, a
subprogram, helper calls, BTF line info, a hash map with BTF and .rodata/.data/.bss;
tests/bpf/elf/elf_kfuncs.c calls kfuncs. `ebpf prog dump xlated` must print what bpftool
prints, byte for byte (plain, ``--linum``, ``--opcodes``, and ``--json`` of each), and
`map dump --json` the same entries (``formatted`` with BTF, data sections as variables).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _kernel_markers import kfuncs_feature
from bpf_build import compile_bpf
from core._cli import bpftool_json, bpftool_text, ebpf, ebpf_json

from ebpf.elf import Collection, CollectionSpec
from ebpf.maps import KeyValueMap
from ebpf.syscall import features
from tests.elf._elf_corpus import spec_of

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "count_packets_by_protocol"


@pytest.fixture(scope="module")
def objects() -> Iterator[Collection]:
    """tests/bpf/cli_objects.c loaded, with three elements in its hash map."""
    spec = CollectionSpec.from_file(compile_bpf(ROOT / "tests" / "bpf" / "cli_objects.c"))
    with Collection.load(spec) as coll:
        stats = coll.maps["stats_by_proto"]
        assert isinstance(stats, KeyValueMap)
        for proto in range(3):
            stats[proto] = {"packets": proto, "bytes": 64 * proto, "last_seen_ns": 5, "label": "ab"[:proto]}
        yield coll


def _prog_id(coll: Collection) -> str:
    return str(coll.programs[PROGRAM].id)


def test_full_program_name_from_btf_func_info(objects: Collection) -> None:
    prog_id = objects.programs[PROGRAM].id
    ours = ebpf_json("prog", "show", str(prog_id))
    theirs = bpftool_json("prog", "show", "id", str(prog_id))
    assert ours["name"] == theirs["name"] == PROGRAM  # the kernel keeps "count_packets_b"
    listing = ebpf("prog", "list").stdout.splitlines()
    assert any(line.split()[:3] == [str(prog_id), "xdp", PROGRAM] for line in listing)
    assert ebpf_json("prog", "show", PROGRAM[:15])["id"] == prog_id  # named as the kernel has it
    for field, value in theirs.items():
        if field not in ("pinned", "pids", "loaded_at"):
            assert ours[field] == value, field


@pytest.mark.parametrize("option", [None, "linum", "opcodes"])
def test_xlated_dump_is_bpftools(objects: Collection, option: str | None) -> None:
    prog_id = _prog_id(objects)
    ours = ebpf("prog", "dump", "xlated", prog_id, *([f"--{option}"] if option else [])).stdout
    theirs = bpftool_text("prog", "dump", "xlated", "id", prog_id, *([option] if option else []))
    assert ours == theirs
    ours_json = ebpf_json("prog", "dump", "xlated", prog_id, *([f"--{option}"] if option else []))
    assert ours_json == bpftool_json("prog", "dump", "xlated", "id", prog_id, *([option] if option else []))


def test_xlated_dump_names_helpers_functions_and_source(objects: Collection) -> None:
    listing = ebpf("prog", "dump", "xlated", _prog_id(objects), "--linum").stdout
    assert listing.startswith(f"int {PROGRAM}(struct xdp_md * ctx):\n")
    assert "\n__u32 packet_length(struct xdp_md * ctx):\n" in listing
    assert "; packets_seen++; [file:" in listing
    assert "call bpf_ktime_get_ns#" in listing
    assert re.search(r"call pc[+-]\d+#bpf_prog_[0-9a-f]{16}_packet_length\n", listing)  # between functions
    assert "unknown#" not in listing


@pytest.mark.requires_feature(features.KFUNC_CALLS)
@pytest.mark.requires_feature(kfuncs_feature("6.4", "bpf_task_from_pid", "bpf_task_acquire"))
def test_xlated_dump_names_kfuncs() -> None:
    with Collection.load(spec_of("kfuncs")) as coll:
        prog_id = str(coll.programs["inspect_task"].id)
        ours = ebpf("prog", "dump", "xlated", prog_id).stdout
        assert ours == bpftool_text("prog", "dump", "xlated", "id", prog_id)
    assert "call bpf_task_from_pid#" in ours
    assert "kernel-function" not in ours


def test_map_with_btf_dumps_like_bpftool(objects: Collection) -> None:
    map_id = str(objects.maps["stats_by_proto"].id)
    ours = ebpf_json("map", "dump", map_id)
    assert ours == bpftool_json("map", "dump", "id", map_id)
    assert sorted(entry["formatted"]["key"] for entry in ours) == [0, 1, 2]
    one = next(entry for entry in ours if entry["formatted"]["key"] == 1)
    assert one["formatted"]["value"] == {"packets": 1, "bytes": 64, "last_seen_ns": 5, "label": "a"}
    assert ebpf_json("map", "lookup", map_id, "--key", "1") == one
    assert ebpf_json("map", "show", map_id) | {"pinned": None} == bpftool_json(
        "map", "show", "id", map_id
    ) | {"pinned": None}


@pytest.mark.parametrize(
    ("section", "formatted"),
    [
        (".rodata", [{"sample_every": 4}, {"min_length": 60}]),
        (".data", [{"packets_seen": 3}]),
        (".bss", [{"packets_sampled": 0}]),
    ],
)
def test_data_sections_dump_like_bpftool(objects: Collection, section: str, formatted: list[Any]) -> None:
    map_id = str(objects.maps[section].id)
    ours = ebpf_json("map", "dump", map_id)
    assert ours == bpftool_json("map", "dump", "id", map_id)
    assert ours[0]["formatted"] == {"value": {section: formatted}}
    text = ebpf("map", "dump", map_id).stdout
    assert text.splitlines()[0].startswith(f'value: {{"{section}": [')
    show = ebpf_json("map", "show", map_id)
    assert show["frozen"] == (1 if section == ".rodata" else 0)
