"""bpftool is the oracle: our ``format raw`` listing must be byte-for-byte what it prints.

The listing shows, for every type, its kind, name, size, members with bit
offsets and bitfield sizes, enum values and function prototypes, so equal
listings mean the parser read every fact the same way libbpf does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ebpf.btf import TypeGraph, dump_raw, load_file
from tests.btf._btf_support import BPF_DIR, VMLINUX, compile_c, need_tool

CORE_SOURCES = sorted((BPF_DIR / "core").glob("*.c"))


def _bpftool_raw(path: Path) -> str:
    bpftool = need_tool("bpftool")
    result = subprocess.run(
        [bpftool, "btf", "dump", "file", str(path), "format", "raw"],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def test_vmlinux_listing_matches_bpftool(vmlinux: TypeGraph) -> None:
    expected = _bpftool_raw(VMLINUX)
    ours = dump_raw(vmlinux)
    assert ours.count("\n[") + 1 == expected.count("\n[") + 1 == len(vmlinux)
    assert ours == expected


@pytest.mark.parametrize("source", CORE_SOURCES, ids=lambda p: p.stem)
def test_object_listing_matches_bpftool(source: Path) -> None:
    obj = compile_c(source, name=source.stem)
    graph = load_file(obj)
    assert dump_raw(graph) == _bpftool_raw(obj)


def _decoded_listing(graph: TypeGraph) -> str:
    """The listing from every type decoded (``format_type``), not read from the words."""
    from ebpf.btf._raw_dump import format_type

    return "".join(format_type(t, graph) + "\n" for t in graph)


def test_words_and_decoded_types_give_the_same_listing(vmlinux: TypeGraph) -> None:
    # dump_raw reads structs, unions, prototypes, functions, references and arrays from the
    # words of their records; format_type from decoded types: both on every kind of a kernel.
    assert dump_raw(vmlinux) == _decoded_listing(vmlinux)
    for source in CORE_SOURCES:
        graph = load_file(compile_c(source, name=source.stem))
        assert dump_raw(graph) == _decoded_listing(graph), source.name
