"""Hidden global functions are static in the loaded BTF (libbpf's mark_btf_static), so the verifier
checks them in their callers' context: objects using them, libbpf's usdt.bpf.h among them, load and run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from progs._progs_support import gcc_or_skip

from ebpf.elf import Collection, CollectionSpec, uprobe_target
from ebpf.maps import KeyValueMap
from ebpf.progs import attach_uprobe
from ebpf.syscall import ProgType, features
from tests.elf._elf_corpus import compiled, spec_of

XDP_PASS = 2
GET_ATTACH_COOKIE = 174  # BPF_FUNC_get_attach_cookie

# __TARGET_ARCH_<arch> for bpf_tracing.h, and where struct pt_regs keeps the first
# three argument registers (rdi, rsi, rdx on x86_64; x0, x1, x2 on arm64).
_ARCHES = {"x86_64": ("x86", (112, 104, 96)), "aarch64": ("arm64", (0, 8, 16))}
_USDT_ARG_REG = 1  # enum __bpf_usdt_arg_type: BPF_USDT_ARG_REG
_USDT_MAX_ARGS = 12

TARGET = r"""
/* A server's request loop; request_done() is where a USDT probe would sit. */
__attribute__((noinline)) long request_done(long client, long bytes, long status) {
    __asm__ volatile("" ::: "memory");
    return client + bytes + status;
}
int main(void) {
    long sum = 0;
    sum += request_done(7, 100, 200);
    sum += request_done(7, 50, -5);
    sum += request_done(9, 1, 0);
    return sum == 0;
}
"""


def _kv(coll: Collection, name: str) -> KeyValueMap[Any, Any]:
    live = coll.maps[name]
    assert isinstance(live, KeyValueMap)
    return live


def _usdt_spec() -> tuple[CollectionSpec, tuple[int, ...]]:
    arch = _ARCHES.get(os.uname().machine)
    if arch is None:
        pytest.skip(f"no pt_regs layout for {os.uname().machine} in this test")
    target_arch, registers = arch
    return CollectionSpec.from_file(compiled("usdt", cflags=(f"-D__TARGET_ARCH_{target_arch}",))), registers


def test_hidden_functions_are_verified_in_their_callers_context_and_run() -> None:
    spec = spec_of("hidden_func")
    with Collection.load(spec) as coll:
        assert coll.programs["count_flows"].test_run(bytes(200)).retval == XDP_PASS
        assert coll.programs["count_flows"].test_run(bytes(64)).retval == XDP_PASS
        assert coll.programs["count_doubled"].test_run(bytes(64)).retval == XDP_PASS
        flows = dict(_kv(coll, "flows").items())
        # account() updated the map values its callers looked up and checked
        assert flows[0] == {"packets": 1, "bytes": 64, "largest": 64}
        assert flows[1] == {"packets": 1, "bytes": 200, "largest": 200}
        # double_in_place() doubled the length in count_doubled's stack slot
        assert flows[3] == {"packets": 1, "bytes": 128, "largest": 128}
        # bucket_of() stayed a global function, verified on its own, and ran once per count_flows run
        assert coll.variables["visible_calls"].get() == 2


def test_programs_using_usdt_bpf_h_load() -> None:
    spec, _ = _usdt_spec()
    with Collection.load(spec) as coll:
        assert set(coll.programs) == {"request_done", "request_start"}
        assert all(p.info().id for p in coll.programs.values())
        assert {"__bpf_usdt_specs", "__bpf_usdt_ip_to_spec_id"} <= set(coll.maps)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = gcc_or_skip()
    workdir = tmp_path_factory.mktemp("usdt_server")
    (workdir / "server.c").write_text(TARGET)
    subprocess.run([gcc, "-O1", "-o", str(workdir / "server"), str(workdir / "server.c")], check=True)
    return workdir / "server"


@pytest.fixture
def usdt_collection() -> Iterator[tuple[Collection, tuple[int, ...]]]:
    spec, registers = _usdt_spec()
    with Collection.load(spec) as coll:
        yield coll, registers


@pytest.mark.requires_feature(features.helper_feature(ProgType.KPROBE, GET_ATTACH_COOKIE))
def test_bpf_usdt_arg_reads_the_arguments_its_spec_describes(
    usdt_collection: tuple[Collection, tuple[int, ...]], server: Path
) -> None:
    # What libbpf's USDT attach does, by hand: an argument spec in __bpf_usdt_specs
    # (each argument in a register) and its id as the probe's BPF cookie.
    coll, registers = usdt_collection
    spec_id, cookie = 5, 0xC0FFEE
    args = [
        {"val_off": 0, "arg_type": _USDT_ARG_REG, "reg_off": off, "arg_signed": True, "arg_bitshift": 0}
        for off in registers
    ]
    args += [{"val_off": 0, "arg_type": 0, "reg_off": 0, "arg_signed": False, "arg_bitshift": 0}] * (
        _USDT_MAX_ARGS - len(args)
    )
    _kv(coll, "__bpf_usdt_specs")[spec_id] = {"args": args, "usdt_cookie": cookie, "arg_cnt": len(registers)}
    path, offset = uprobe_target(server, "request_done")
    with attach_uprobe(coll.programs["request_done"], path, offset, cookie=spec_id):
        subprocess.run([str(server)], check=True)
    clients = dict(_kv(coll, "clients").items())
    common = {"cookie": cookie, "nargs": 3}
    assert clients == {
        7: {"requests": 2, "bytes": 150, "last_status": -5, **common},
        9: {"requests": 1, "bytes": 1, "last_status": 0, **common},
    }
    assert coll.variables["failed_requests"].get() == 1
