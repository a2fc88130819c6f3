"""bench/btf: parsing the kernel's BTF with ebpf.btf, beside libbpf and bpftool in the same run.

Run from the repository root (needs gcc, libbpf-dev, bpftool)::

    hatch run python bench/btf/bench_btf.py [--repeats 5]    # or make bench

Figures (milliseconds, best of ``--repeats``; memory in MB):

- ``index``: ``load_vmlinux(path)``: read the file, check it, index every record
  (every type id reachable, none decoded yet). With a path, each call reads
  the file anew; without one it returns the process-wide graph.
- ``cold find``: a fresh graph, then ``find("task_struct", Kind.STRUCT)``
  (which builds the graph's name index).
- ``decode all``: index, then decode every type into dataclasses.
- ``raw listing``: ``dump_raw`` of the whole graph, beside ``bpftool ... format raw``.
- ``C header``: ``dump_c``, beside ``bpftool ... format c``.
- ``peak RSS``: of fresh processes: after the import, after index + find,
  and with every type decoded and kept.
- ``ebpf btf dump`` (raw and ``--format c``) as a whole command, beside ``bpftool btf
  dump file ... format raw|c``: the two run in turn ``--repeats`` times; the median CPU
  seconds (user + system) of each process, and the median and worst of the ratios
  ours / bpftool's taken pair by pair (wall times on a shared machine vary 2-3x). The
  issue's targets are these ratios: the raw listing within 3x, the C header within 5x.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
VMLINUX = "/sys/kernel/btf/vmlinux"


def best_ms(action: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, (time.perf_counter() - start) * 1e3)
    return best


def external_ms(argv: list[str], repeats: int) -> float:
    def run() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

    return best_ms(run, repeats)


def cpu_s(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds (user + system), wall seconds) of one run of the process ``argv``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def command_pairs(ours: list[str], theirs: list[str], repeats: int) -> tuple[float, float, float, float]:
    """Ours and theirs run in turn ``repeats`` times: median CPU s of each, median and worst CPU ratio.

    Pairs run in turn so that both see the same load; the ratio is taken pair by pair.
    """
    import statistics

    pairs = [(cpu_s(ours)[0], cpu_s(theirs)[0]) for _ in range(repeats)]
    ratios = [a / b for a, b in pairs]
    return (
        statistics.median(a for a, _ in pairs),
        statistics.median(b for _, b in pairs),
        statistics.median(ratios),
        max(ratios),
    )


def build_c(workdir: Path) -> Path:
    binary = workdir / "btf_bench"
    subprocess.run(
        ["gcc", "-O2", "-o", str(binary), str(HERE / "btf_bench.c"), "-lbpf"],
        check=True,
    )
    return binary


def peak_memory_mb(work: str) -> tuple[float, float]:
    """Peak RSS (VmHWM, MB) of a fresh interpreter after importing ebpf.btf, and after ``work``.

    VmHWM belongs to the address space, which exec replaces, so the child's
    figure is its own (``ru_maxrss`` would inherit the parent's).
    """
    code = (
        "from ebpf.btf import Kind, load_vmlinux\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1])\n"
        "before = hwm()\n"
        f"{work}\n"
        "print(before, hwm())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    before, after = (int(x) / 1024 for x in out.split())
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from ebpf.btf import Kind, TypeGraph, dump_c, dump_raw, load_vmlinux

    with tempfile.TemporaryDirectory() as tmp:
        binary = build_c(Path(tmp))
        c_ms, c_types, _ = subprocess.run(
            [str(binary), VMLINUX, str(args.repeats)], check=True, capture_output=True, text=True
        ).stdout.split()
    libbpf_ms = float(c_ms)
    bpftool = shutil.which("bpftool") or "bpftool"
    raw_tool_ms = external_ms([bpftool, "btf", "dump", "file", VMLINUX, "format", "raw"], args.repeats)
    c_tool_ms = external_ms([bpftool, "btf", "dump", "file", VMLINUX, "format", "c"], args.repeats)

    # load_vmlinux() is the process-wide graph, read once: each figure reads the file into a new graph
    def fresh() -> TypeGraph:
        return load_vmlinux(VMLINUX)

    graph = fresh()
    assert len(graph) == int(c_types), (len(graph), c_types)
    index_ms = best_ms(fresh, args.repeats)
    find_ms = best_ms(lambda: fresh().find("task_struct", Kind.STRUCT), args.repeats)
    decode_ms = best_ms(lambda: list(fresh()), max(1, args.repeats // 2))
    raw_ms = best_ms(lambda: dump_raw(fresh()), 1)
    header_ms = best_ms(lambda: dump_c(fresh()), 1)
    base_mb, index_mb = peak_memory_mb("g = load_vmlinux(); g.find('task_struct', Kind.STRUCT)")
    _, decoded_mb = peak_memory_mb("g = load_vmlinux(); all_types = list(g)")

    rows = [
        ("index (every type reachable)", index_ms, "libbpf parse+walk", libbpf_ms),
        ("cold find task_struct", find_ms, "libbpf parse+walk", libbpf_ms),
        ("decode every type", decode_ms, "libbpf parse+walk", libbpf_ms),
        ("raw listing", raw_ms, "bpftool format raw", raw_tool_ms),
        ("C header", header_ms, "bpftool format c", c_tool_ms),
    ]
    print(f"{VMLINUX}: {len(graph)} types, {len(graph.data) / 1e6:.1f} MB")
    print(f"{'operation':32} {'ebpf.btf ms':>12} {'baseline':>22} {'ms':>9} {'ratio':>7}")
    for name, ours, baseline, theirs in rows:
        print(f"{name:32} {ours:12.1f} {baseline:>22} {theirs:9.1f} {ours / theirs:7.1f}")
    ebpf_cmd = [sys.executable, "-m", "ebpf.core", "btf", "dump", VMLINUX]
    print(f"{'command (CPU s, median of pairs)':34} {'ebpf':>6} {'bpftool':>8} {'ratio':>6} {'worst':>6}")
    for label, ours_argv, theirs_argv in (
        ("btf dump (raw)", ebpf_cmd, [bpftool, "btf", "dump", "file", VMLINUX, "format", "raw"]),
        (
            "btf dump --format c",
            [*ebpf_cmd, "--format", "c"],
            [bpftool, "btf", "dump", "file", VMLINUX, "format", "c"],
        ),
    ):
        ours_cpu, theirs_cpu, ratio, worst = command_pairs(ours_argv, theirs_argv, args.repeats)
        print(f"{label:34} {ours_cpu:6.2f} {theirs_cpu:8.3f} {ratio:5.1f}x {worst:5.1f}x")
    print(f"peak RSS: {base_mb:.0f} MB after import,")
    print(f"          {index_mb:.0f} MB after index + find (+{index_mb - base_mb:.0f}),")
    print(f"          {decoded_mb:.0f} MB with every type decoded (+{decoded_mb - base_mb:.0f})")


if __name__ == "__main__":
    main()
