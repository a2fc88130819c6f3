"""kfunc calls from an object, resolved against the running kernel's BTF, loaded and run with real effects.

tests/bpf/elf/elf_kfuncs.c calls task kfuncs (bpf_task_from_pid, bpf_task_acquire/release)
inside an RCU read section (bpf_rcu_read_lock/unlock) from a syscall program, cpumask
kfuncs from another, dynptr kfuncs from a tc classifier, and guards a __weak kfunc no
kernel has with bpf_ksym_exists(). Errors name what is really missing.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from typing import Any

import pytest
from _kernel_markers import kfuncs_feature

from ebpf.elf import Collection
from ebpf.maps import KeyValueMap
from ebpf.progs import ProgramVerifierError
from ebpf.syscall import features
from ebpf.syscall.errors import NotSupportedError
from ebpf.syscall.system import possible_cpus
from tests.elf._elf_corpus import spec_of

# What tests/bpf/elf/elf_kfuncs.c calls (strong externs): the newest, the dynptr ones, came in 6.4.
OBJECT_KFUNCS = kfuncs_feature(
    "6.4",
    "bpf_task_from_pid",
    "bpf_task_acquire",
    "bpf_task_release",
    "bpf_rcu_read_lock",
    "bpf_rcu_read_unlock",
    "bpf_cpumask_create",
    "bpf_cpumask_release",
    "bpf_cpumask_set_cpu",
    "bpf_cpumask_test_cpu",
    "bpf_dynptr_from_skb",
    "bpf_dynptr_slice",
)

pytestmark = [pytest.mark.requires_feature(features.KFUNC_CALLS), pytest.mark.requires_feature(OBJECT_KFUNCS)]

_TASK_ARGS = struct.Struct("<iiii16s")  # struct task_args
TC_ACT_OK = 0


def _kv(coll: Collection, name: str) -> KeyValueMap[Any, Any]:
    live = coll.maps[name]
    assert isinstance(live, KeyValueMap)
    return live


def test_task_kfuncs_find_a_process_and_read_it_under_rcu() -> None:
    # a child with a name of its own: the program finds it by pid and reads its task_struct
    rename = (
        "import ctypes, sys; ctypes.CDLL(None).prctl(15, b'kfunc-child'); print(flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen([sys.executable, "-c", rename], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # renamed (PR_SET_NAME)
        with Collection.load(spec_of("kfuncs")) as coll:
            program = coll.programs["inspect_task"]
            out = program.test_run(ctx=_TASK_ARGS.pack(child.pid, 0, 0, 0, b""))
            assert out.retval == 0
            pid, found, tgid, parent_tgid, comm = _TASK_ARGS.unpack(out.ctx_out)
            assert (pid, found, tgid, parent_tgid) == (child.pid, 1, child.pid, os.getpid())
            assert comm.rstrip(b"\0") == b"kfunc-child"
            # a pid nobody has: bpf_task_from_pid returns NULL
            gone = program.test_run(ctx=_TASK_ARGS.pack(0x3FFFFFFF, 7, 0, 0, b""))
            assert _TASK_ARGS.unpack(gone.ctx_out)[1] == 0
    finally:
        child.communicate(b"")


@pytest.mark.parametrize("extra", [0, 3])
def test_cpumask_kfuncs_build_a_mask_of_the_possible_cpus(extra: int) -> None:
    spec = spec_of("kfuncs")
    cpus = possible_cpus()
    spec.variables["cpus_to_set"].set(cpus + extra)  # the kernel ignores CPUs past nr_cpu_ids
    with Collection.load(spec) as coll:
        assert coll.programs["build_cpumask"].test_run(ctx=bytes(8)).retval == 0
        values = {name: var.value for name, var in coll.variables.items()}
    assert values["mask_weight"] == cpus
    assert values["mask_has_cpu0"] == 1
    assert values["mask_has_last"] == (1 if extra == 0 else 0)


def test_a_weak_kfunc_the_kernel_lacks_is_dropped_where_bpf_ksym_exists_guards_it() -> None:
    with Collection.load(spec_of("kfuncs")) as coll:
        assert coll.variables["weak_missing"].value == 7  # before the run: the initial value
        coll.programs["probe_kfuncs"].test_run(ctx=_TASK_ARGS.pack(os.getpid(), 0, 0, 0, b""))
        values = {name: var.value for name, var in coll.variables.items()}
    assert (values["weak_present"], values["weak_missing"], values["missing_called"]) == (1, 0, 0)


def test_dynptr_kfuncs_read_packets_in_a_classifier() -> None:
    ipv4 = bytes(12) + b"\x08\x00" + bytes(50)
    ipv6 = bytes(12) + b"\x86\xdd" + bytes(70)
    with Collection.load(spec_of("kfuncs")) as coll:
        program = coll.programs["count_ethertypes"]
        for packet in (ipv4, ipv6, ipv4):
            assert program.test_run(packet).retval == TC_ACT_OK
        assert dict(_kv(coll, "ethertypes").items()) == {0x0800: 2, 0x86DD: 1}


def test_an_unguarded_call_of_a_missing_weak_kfunc_is_refused_by_the_verifier() -> None:
    spec = spec_of("kfunc_unguarded")
    with pytest.raises(ProgramVerifierError) as caught:
        Collection.load(spec)
    assert "unknown#2002000000" in str(caught.value)  # libbpf's poisoned call: 2002000000 + extern index
    del spec.programs["call_unguarded"]
    with Collection.load(spec) as coll:  # the object's other program calls kfuncs the kernel has
        assert coll.programs["call_present"].test_run(bytes(64)).retval == 2  # TC_ACT_SHOT


def test_a_strong_kfunc_the_kernel_lacks_is_named() -> None:
    with pytest.raises(NotSupportedError) as caught:
        Collection.load(spec_of("kfunc_missing"))
    message = str(caught.value)
    assert "kernel function (kfunc) 'bpf_kfunc_no_kernel_has'" in message
    assert "not in the BTF of vmlinux or of any loaded module" in message
    assert "requires Linux" not in message  # never "needs 5.13" on a kernel that has kfuncs
