"""Map operations per second, ebpf.maps beside libbpf in the same run (needs root, gcc, libbpf-dev).

Builds ``maps_bench.c`` with ``gcc -O2 ... -lbpf``, runs it, runs the same
operations through :mod:`ebpf.maps` on a u32 -> u64 hash map of ``--entries``
elements, and prints ops/s for both and the ratio Python / C, best of
``--repeats`` runs each. Batch figures count elements per second.

    python3 bench/maps/bench_maps.py [--entries 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import array
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ebpf.maps import KeyValueMap, MapSpec, PerCpuMap, u32, u64
from ebpf.syscall.abi import MapType

HERE = Path(__file__).resolve().parent

#: What the issue asks of each operation, as a fraction of C's speed.
TARGETS = {
    "update": 0.5,
    "lookup": 0.5,
    "iterate": 0.5,
    "delete": 0.5,
    "batch_update_64": 0.8,
    "batch_update_1024": 0.8,
    "batch_update_all": 0.8,
    "batch_update_views_64": 0.8,
    "batch_update_views_1024": 0.8,
    "batch_update_views_all": 0.8,
    "batch_lookup_64": 0.8,
    "batch_lookup_1024": 0.8,
    "batch_lookup_all": 0.8,
    "batch_lookup_lists_64": 0.8,
    "batch_lookup_lists_1024": 0.8,
    "batch_lookup_lists_all": 0.8,
    "batch_lookup_views_64": 0.8,
    "batch_lookup_views_1024": 0.8,
    "batch_lookup_views_all": 0.8,
    "percpu_lookup": 0.4,
}


def run_c(entries: int, repeats: int) -> dict[str, float]:
    """Build and run the libbpf program; its ops/s per operation."""
    if shutil.which("gcc") is None:
        sys.exit("bench/maps: gcc is missing (apt-get install gcc libbpf-dev)")
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "maps_bench"
        build = ["gcc", "-O2", "-Wall", str(HERE / "maps_bench.c"), "-o", str(exe), "-lbpf"]
        subprocess.run(build, check=True)
        out = subprocess.run(
            [str(exe), str(entries), str(repeats)], check=True, capture_output=True, text=True
        )
    results = {}
    for line in out.stdout.splitlines():
        name, value = line.split()
        results[name] = float(value)
    return results


def _rate(count: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def run_python(entries: int, repeats: int) -> dict[str, float]:
    """The same operations through ebpf.maps; ops/s per operation, best of ``repeats``."""
    best: dict[str, float] = {}

    def record(name: str, rate: float) -> None:
        best[name] = max(best.get(name, 0.0), rate)

    keys = list(range(entries))
    items = {k: k * 3 for k in keys}
    key_array, value_array = array.array("I", keys), array.array("Q", items.values())
    spec = MapSpec(MapType.HASH, name="bench", key=u32, value=u64, max_entries=entries)
    pspec = MapSpec(MapType.PERCPU_HASH, name="bench_pcpu", key=u32, value=u64, max_entries=entries)
    with KeyValueMap[int, int].create(spec) as m, PerCpuMap[int, int].create(pspec) as pm:
        for _ in range(repeats):

            def update() -> None:
                for k in keys:
                    m[k] = k

            def lookup() -> None:
                for k in keys:
                    m[k]

            def iterate() -> None:
                assert sum(1 for _ in m) == entries

            def delete() -> None:
                for k in keys:
                    del m[k]

            record("update", _rate(entries, update))
            record("lookup", _rate(entries, lookup))
            record("iterate", _rate(entries, iterate))
            record("delete", _rate(entries, delete))
            for label, chunk in (("64", 64), ("1024", 1024), ("all", None)):
                record(
                    f"batch_update_{label}", _rate(entries, partial(m.update_batch, items, chunk_size=chunk))
                )
                m.clear()
                packed = partial(m.update_batch_views, key_array, value_array, chunk_size=chunk)
                record(f"batch_update_views_{label}", _rate(entries, packed))
                record(f"batch_lookup_{label}", _rate(entries, partial(m.lookup_batch, chunk_size=chunk)))
                lists = partial(m.lookup_batch_lists, chunk_size=chunk)
                record(f"batch_lookup_lists_{label}", _rate(entries, lists))
                views = partial(m.lookup_batch_views, chunk_size=chunk)
                record(f"batch_lookup_views_{label}", _rate(entries, views))
                m.clear()
            pm.update_batch(dict.fromkeys(keys, 0))

            def percpu_lookup() -> None:
                for k in keys:
                    pm[k]

            record("percpu_lookup", _rate(entries, percpu_lookup))
    return best


def main() -> None:
    """Parse arguments, run both sides, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    c = run_c(args.entries, args.repeats)
    py = run_python(args.entries, args.repeats)
    print(
        f"u32 -> u64 hash map, {args.entries} entries, best of {args.repeats}; batch figures are elements/s"
    )
    print(f"{'operation':<24} {'Python ops/s':>14} {'C ops/s':>14} {'Py/C':>6} {'target':>7}")
    for name, target in TARGETS.items():
        c_rate = c[name.replace("_lists", "").replace("_views", "")]  # C reads and writes arrays
        ratio = py[name] / c_rate
        mark = "" if ratio >= target else "  below target"
        print(f"{name:<24} {py[name]:>14,.0f} {c_rate:>14,.0f} {ratio:>6.2f} {target:>6.1f}x{mark}")


if __name__ == "__main__":
    main()
