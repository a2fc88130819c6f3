"""Loading a whole object that fails half way, or without privileges, leaves nothing behind.

``ebpf.elf`` stages a collection (maps, BTF, programs, then map contents
such as program arrays) and hands ownership over only on success. Here a
program of ``tests/bpf/elf/elf_maps_calls.c`` (maps of maps, a program
array, a map pinned by name) is replaced by one the verifier rejects, so
the maps exist when the load fails; and the whole
object is loaded by a process without capabilities. Either way the error
is the documented one, and no map, program, link, pin or descriptor
survives (the autouse resource check and the explicit checks below).
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pytest
from _resources import Snapshot, leaks
from bpf_build import compile_bpf
from privileges import run_without_capabilities

from ebpf.elf import Collection, CollectionSpec
from ebpf.syscall import PermissionDeniedError, VerifierError
from tests._leakcheck import leaked_since, open_fds

SOURCE = Path(__file__).resolve().parents[2] / "tests" / "bpf" / "elf" / "elf_maps_calls.c"
EXIT_ONLY = bytes.fromhex("9500000000000000")  # exit with r0 unset: "R0 !read_ok"


@pytest.fixture
def spec() -> CollectionSpec:
    if not SOURCE.exists():
        pytest.skip(f"{SOURCE} is not there")
    return CollectionSpec.from_file(compile_bpf(SOURCE))


def test_a_load_failing_at_the_last_program_leaves_nothing(spec: CollectionSpec, bpffs: Path) -> None:
    # A program without map references can take other instructions (the relocation
    # step refuses changed instructions where references point).
    plain = [name for name in spec.programs if not spec.references_of(name)]
    if not plain:
        pytest.skip("every program of the object refers to a map")
    victim = plain[-1]
    spec.programs[victim] = dataclasses.replace(spec.programs[victim], instructions=EXIT_ONLY)
    before = Snapshot.take(network=False)
    fds = open_fds()
    with pytest.raises(VerifierError) as info:
        Collection.load(spec, pin_root=bpffs)
    assert "R0 !read_ok" in str(info.value)
    del info
    gc.collect()
    assert not leaked_since(fds), "the failed load leaked descriptors"
    assert list(bpffs.iterdir()) == [], "the failed load left a pin"
    assert leaks(before) == [], "the failed load left objects in the kernel"


def test_a_load_without_capabilities_leaves_nothing(spec: CollectionSpec, bpffs: Path) -> None:
    def attempt() -> tuple[str, dict[int, str]]:
        fds = open_fds()
        try:
            Collection.load(spec, pin_root=bpffs).close()
        except PermissionDeniedError as exc:
            gc.collect()
            return exc.capability, leaked_since(fds)
        return "", {}

    before = Snapshot.take(network=False)
    capability, leaked = run_without_capabilities(attempt)
    assert capability == "CAP_BPF"
    assert not leaked, f"the refused load leaked descriptors in the child: {leaked}"
    assert list(bpffs.iterdir()) == []
    assert leaks(before) == []


def test_the_object_loads_and_closes_cleanly(spec: CollectionSpec, bpffs: Path) -> None:
    """The control: the unmodified object loads (so the failures above are the ones intended)."""
    with Collection.load(spec, pin_root=bpffs) as collection:
        assert set(collection.programs) == set(spec.programs)
    for pin in bpffs.iterdir():
        pin.unlink()
