"""Hidden global functions get static linkage in the BTF a spec loads with (libbpf's mark_btf_static)."""

from __future__ import annotations

import os

import pytest

from ebpf.btf import Func, Kind, TypeGraph, from_bytes
from ebpf.elf import CollectionSpec, ElfFile
from ebpf.syscall.abi import FuncLinkage
from tests.elf._elf_corpus import compiled

G, S = FuncLinkage.GLOBAL, FuncLinkage.STATIC
_TARGET_ARCH = {"x86_64": "x86", "aarch64": "arm64"}


def _linkages(graph: TypeGraph) -> dict[str, FuncLinkage]:
    return {t.name: t.linkage for t in graph.of_kind(Kind.FUNC) if isinstance(t, Func)}


def _object_btf(path: os.PathLike[str]) -> TypeGraph:
    with open(path, "rb") as f:
        elf = ElfFile(f.read(), name=os.fspath(path))
    section = next(s for s in elf.sections if s.name == ".BTF")
    return from_bytes(elf.section_data(section))


def test_hidden_subprograms_become_static_and_the_rest_keep_their_linkage() -> None:
    path = compiled("hidden_func")
    # clang's BTF: every non-static function is global
    assert _linkages(_object_btf(path)) == {
        "account": G,
        "double_in_place": G,
        "bucket_of": G,
        "count_flows": G,
        "count_doubled": G,
    }
    spec = CollectionSpec.from_file(path)
    assert spec.btf is not None
    assert _linkages(spec.btf) == {
        "account": S,  # __hidden
        "double_in_place": S,  # __hidden
        "bucket_of": G,  # default visibility: stays global, verified on its own
        "count_flows": G,  # programs keep theirs
        "count_doubled": G,
    }
    # the programs carry that BTF
    for program in spec.programs.values():
        assert program.btf is not None
        assert _linkages(from_bytes(program.btf))["account"] == S


def test_usdt_bpf_h_helpers_weak_and_hidden_become_static() -> None:
    arch = _TARGET_ARCH.get(os.uname().machine)
    if arch is None:
        pytest.skip(f"no __TARGET_ARCH_ for {os.uname().machine}")
    path = compiled("usdt", cflags=(f"-D__TARGET_ARCH_{arch}",))
    spec = CollectionSpec.from_file(path)
    assert spec.btf is not None
    linkages = _linkages(spec.btf)
    assert {name: linkages[name] for name in ("bpf_usdt_arg", "bpf_usdt_arg_cnt", "bpf_usdt_cookie")} == {
        "bpf_usdt_arg": S,
        "bpf_usdt_arg_cnt": S,
        "bpf_usdt_cookie": S,
    }
    assert linkages["request_done"] == linkages["request_start"] == G
    assert {"__bpf_usdt_specs", "__bpf_usdt_ip_to_spec_id", "clients"} <= set(spec.maps)
