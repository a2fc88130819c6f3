"""``ebpf map dump`` of a large map prints as it reads: the first entry comes out before the map
was read whole, and the memory of the command stays flat (its peak, not a timer, is the proof).
"""

from __future__ import annotations

import subprocess
import sys
from array import array
from typing import IO

from core._cli import CHILD_TIMEOUT, child_env

import ebpf.core as bpf

ENTRIES = 200_000
#: How much more than dumping a one-entry map the command may hold at its peak. Reading the
#: whole 200k-entry map before printing holds every entry as Python objects (hundreds of MB).
BOUND_KB = 40 * 1024


def _peak_kb(pid: int) -> int:
    """The peak resident memory (VmHWM) of a running process so far, in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1])


def _dump(map_id: int, *extra: str) -> tuple[int, int, int, str, str]:
    """Run ``ebpf map dump`` and read its output as it comes.

    Returns the child's peak memory (VmHWM, kB) when its first entry arrived and the
    largest seen while it printed (sampled every 4096 entries), the number of entries, and
    the first and last lines. (``wait4``'s ``ru_maxrss`` would not do: a child starts with
    the peak of the process that forked it.)
    """
    child = subprocess.Popen(
        [sys.executable, "-m", "ebpf.core", "map", "dump", str(map_id), *extra],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    out: IO[bytes] | None = child.stdout
    assert out is not None
    first = last = ""
    entries = peak_at_first = peak = 0
    for raw in out:
        line = raw.decode()
        first = first or line
        if line.strip() == '"key": [' or line.startswith("key: "):  # JSON or text
            entries += 1
            if entries % 4096 == 1:
                peak = max(peak, _peak_kb(child.pid))
                peak_at_first = peak_at_first or peak
        last = line
    assert child.wait(CHILD_TIMEOUT) == 0
    return peak_at_first, peak, entries, first, last


def test_a_large_dump_streams_with_flat_memory() -> None:
    with (
        bpf.hash_map("u32", "u64", max_entries=ENTRIES, name="cli_stream") as big,
        bpf.hash_map("u32", "u64", max_entries=4, name="cli_stream_1") as small,
    ):
        small[1] = 1
        keys = array("I", range(ENTRIES))
        big.update_batch_views(memoryview(keys), memoryview(array("Q", range(ENTRIES))))
        baseline, _, entries, _, _ = _dump(small.id, "--json")
        assert entries == 1
        at_first, peak, entries, first, last = _dump(big.id, "--json")
        assert (first, last) == ("[\n", "]\n")
        assert entries == ENTRIES
        assert at_first - baseline < BOUND_KB, "the first entry came after the whole map was read"
        assert peak - baseline < BOUND_KB, "the command held the whole map"
        text_first, text_peak, entries, _, last = _dump(big.id)
        print(f"peak kB: one entry {baseline}; JSON {at_first} first, {peak} at most; text {text_peak}")
        assert entries == ENTRIES
        assert last == f"Found {ENTRIES} elements\n"
        assert text_peak - baseline < BOUND_KB
        assert text_first - baseline < BOUND_KB
