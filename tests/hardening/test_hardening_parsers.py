"""Hostile input for every parser of outside data: only the documented error may come out.

Each fuzz target under ``fuzz/`` (BTF, ``.BTF.ext``, ELF objects read for
their BTF, instruction streams, verifier logs) is run here on its real
seeds and on hypothesis-mutated versions of them, with a bounded number of
examples. Every input gets one second of CPU time (a hang fails the test as
``InputTimeout``) and 512 MiB of address space beyond what the process
has (past it, allocations fail with ``MemoryError``, a finding); a
``RecursionError`` or any exception other than the target's allowed one
fails the test, and the peak RSS may not grow by more than that bound while
a target runs. Known open library bugs
(``fuzz/_known_bugs.py``) are tolerated here and pinned by the strict xfail
tests of ``test_hardening_known_bugs.py``.
"""

from __future__ import annotations

import functools
import resource

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import _targets
from fuzz._guard import cpu_time_limit, guarded, memory_limit
from fuzz._mutate import INTERESTING

#: CPU seconds one input may take.
PER_INPUT_SECONDS = 1.0
#: How much the process's peak RSS may grow while one target is fuzzed.
MEMORY_BOUND_MB = 512

TARGETS = _targets.names()


@functools.cache
def _target(name: str) -> _targets.Target:
    return _targets.load(name)


@functools.cache
def _seeds(name: str) -> tuple[bytes, ...]:
    seeds = tuple(_target(name).seeds())
    if not seeds:
        pytest.skip(f"{name} has no seeds on this machine (no clang, no kernel BTF?)")
    return seeds


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(name: str, data: bytes) -> None:
    with memory_limit(MEMORY_BOUND_MB << 20), cpu_time_limit(PER_INPUT_SECONDS):
        guarded(_target(name).one_input, data)


def test_every_target_is_registered() -> None:
    """Every parser of outside input the hardening issue names has a target."""
    wanted = {"fuzz_btf", "fuzz_btf_ext", "fuzz_btf_elf", "fuzz_elf", "fuzz_insns", "fuzz_verifier_log"}
    assert wanted | {"fuzz_event_records", "fuzz_usdt"} <= set(TARGETS)


@pytest.mark.parametrize("name", TARGETS)
def test_real_seeds_parse_cleanly(name: str) -> None:
    """Every seed (real objects, vmlinux BTF, real logs) goes through its target without a finding."""
    before = _peak_rss_mb()
    for seed in _seeds(name):
        _run(name, seed)
    assert _peak_rss_mb() - before < MEMORY_BOUND_MB


@st.composite
def _mutations(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    """A seed with up to six edits: bytes, aligned "interesting" u32s, cuts, inserts, splices."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(("byte", "u32", "cut", "delete", "insert", "splice")))
        if edit == "byte":
            data[at] = draw(st.integers(0, 255))
        elif edit == "u32":
            at -= at % 4
            value = draw(st.sampled_from(INTERESTING) | st.integers(0, 0xFFFFFFFF))
            data[at : at + 4] = value.to_bytes(4, "little")
        elif edit == "cut":
            del data[at:]
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            other = draw(st.sampled_from(seeds))
            data[at:] = other[draw(st.integers(0, len(other))) :]
    return bytes(data)


@pytest.mark.parametrize("name", TARGETS)
def test_mutated_seeds_raise_only_the_documented_error(name: str) -> None:
    """Mutated real inputs: no exception but the target's allowed one, no hang, bounded memory."""
    seeds = _seeds(name)
    before = _peak_rss_mb()

    @settings(
        max_examples=120,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_mutations(seeds))
    def check(data: bytes) -> None:
        _run(name, data)

    check()
    assert _peak_rss_mb() - before < MEMORY_BOUND_MB


@pytest.mark.parametrize("name", TARGETS)
@settings(max_examples=40, deadline=None, database=None)
@given(blob=st.binary(max_size=512))
def test_random_bytes_raise_only_the_documented_error(name: str, blob: bytes) -> None:
    """Inputs with no structure at all."""
    _seeds(name)  # skip where the target has no seeds (its context graph is missing)
    _run(name, blob)
