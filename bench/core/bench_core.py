"""bench/core: loading real CO-RE objects with ebpf.elf, beside libbpf in the same run.

Run as root from the repository root (needs clang, gcc, libbpf-dev, bpftool)::

    hatch run python bench/core/bench_core.py [--repeats 7]

The objects are this project's tools written in the style of bcc's
libbpf-tools (``tests/bpf/tools/``): ``iolat`` (biolatency-like: six
programs, tp_btf and raw_tp, a few hundred CO-RE relocations), ``tcpconn``
(tcptracer-like: kprobes, kretprobes and a tracepoint, a perf buffer) and
``opensnoop`` (opensnoop-like: syscall tracepoints, a ring buffer). They are
compiled once with clang against a ``vmlinux.h`` that ``bpftool btf dump ...
format c`` writes, as libbpf-tools builds them.

Each load runs in a fresh process, as a tool starting up does, so every
figure includes reading and indexing the kernel's BTF:

- ``libbpf``: ``core_bench.c`` (built by the script with ``gcc -O2 ...
  -lbpf``) times ``bpf_object__open_file`` + ``bpf_object__load``;
- ``ebpf.elf``: a Python process imports ``ebpf.elf``, then times
  ``CollectionSpec.from_file`` + ``Collection.load``.

The two alternate, ``--repeats`` times each; the figures are medians (and
the best run), the ratio is ours / libbpf's medians. The target is 5x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOOLS = ROOT / "tests" / "bpf" / "tools"
OBJECTS = ("iolat", "tcpconn", "opensnoop")
TARGET = 5.0

# What the Python side runs in each fresh process: imports first (not timed), then one load.
_CHILD = """
import sys, time
from ebpf.elf import Collection, CollectionSpec

start = time.perf_counter()
spec = CollectionSpec.from_file(sys.argv[1])
coll = Collection.load(spec)
elapsed = (time.perf_counter() - start) * 1e3
print(f"{elapsed:.3f} {len(coll.programs)}")
coll.close()
"""


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"bench/core: {tool} is missing (make setup installs clang, gcc, libbpf-dev and bpftool)")
    return path


def build(workdir: Path) -> tuple[Path, dict[str, Path]]:
    """The libbpf loader and the three objects, compiled into ``workdir``."""
    loader = workdir / "core_bench"
    subprocess.run(
        [_need("gcc"), "-O2", "-Wall", str(HERE / "core_bench.c"), "-o", str(loader), "-lbpf"], check=True
    )
    header = subprocess.run(
        [_need("bpftool"), "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
        check=True,
        capture_output=True,
    ).stdout
    (workdir / "vmlinux.h").write_bytes(header)
    arch = {"x86_64": "x86", "aarch64": "arm64", "s390x": "s390", "ppc64le": "powerpc"}.get(
        os.uname().machine
    )
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{os.uname().machine}-linux-gnu"
    flags = ["-O2", "-g", "-target", "bpf", f"-I{workdir}", f"-I/usr/include/{multiarch}"]
    if arch:
        flags.append(f"-D__TARGET_ARCH_{arch}")
    objects = {}
    for name in OBJECTS:
        obj = workdir / f"{name}.bpf.o"
        subprocess.run(
            [_need("clang"), *flags, "-c", str(TOOLS / f"{name}.bpf.c"), "-o", str(obj)], check=True
        )
        objects[name] = obj
    return loader, objects


def _run(argv: list[str]) -> tuple[float, int]:
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def describe(obj: Path) -> tuple[int, int]:
    """Programs and CO-RE relocations (after linking subprograms) of ``obj``."""
    from ebpf.elf import CollectionSpec

    spec = CollectionSpec.from_file(obj)
    return len(spec.programs), sum(len(spec.core_relocations(name)) for name in spec.programs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="fresh-process loads of each object, each side"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/core: loading programs needs root")

    with tempfile.TemporaryDirectory() as tmp:
        loader, objects = build(Path(tmp))
        rows = []
        for name, obj in objects.items():
            programs, relocations = describe(obj)
            theirs, ours = [], []
            for _ in range(args.repeats):
                c_ms, c_loaded = _run([str(loader), str(obj)])
                py_ms, py_loaded = _run([sys.executable, "-c", _CHILD, str(obj)])
                if (c_loaded, py_loaded) != (programs, programs):
                    sys.exit(
                        f"bench/core: {name}: libbpf loaded {c_loaded}, ebpf.elf {py_loaded} of {programs}"
                    )
                theirs.append(c_ms)
                ours.append(py_ms)
            rows.append((name, programs, relocations, theirs, ours))

    print(f"fresh process per load, {args.repeats} loads each, median (best) ms")
    print(
        f"{'object':10} {'progs':>5} {'relos':>5} {'libbpf':>16} {'ebpf.elf':>16} {'ratio':>6} {'target':>6}"
    )
    for name, programs, relocations, theirs, ours in rows:
        c_med, py_med = statistics.median(theirs), statistics.median(ours)
        ratio = py_med / c_med
        print(
            f"{name:10} {programs:5} {relocations:5} {c_med:8.1f} ({min(theirs):5.1f}) "
            f"{py_med:8.1f} ({min(ours):5.1f}) {ratio:6.2f} {'<= ' + str(TARGET):>6}"
        )


if __name__ == "__main__":
    main()
