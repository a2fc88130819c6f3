"""Load a clang-compiled BPF object with global variables and CO-RE, the way libbpf does.

Shows: ``CollectionSpec.from_c`` (clang, with a ``vmlinux.h`` written from
the running kernel's BTF), setting a ``const volatile`` global before
loading, ``bpf.load_object`` (maps, CO-RE relocations of ``task_struct``
reads, programs), attaching by section name, and reading a ``.bss`` global
and a BTF-defined hash map afterwards. The source is
``examples/bpf/getpid_counter.bpf.c``.

Run (as root): ``python examples/clang_object.py --calls 20``
(needs clang and libbpf's headers: ``apt-get install clang libbpf-dev``)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import ebpf.core as bpf

SOURCE = Path(__file__).with_name("bpf") / "getpid_counter.bpf.c"


def main() -> None:
    """Compile, configure, load, trigger, read back."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="how many times to call getpid()")
    args = parser.parse_args()
    bpf.init(probe_features=False, mount_tracefs=True)  # tracepoints need tracefs: mounted if missing
    spec = bpf.CollectionSpec.from_c(SOURCE)
    spec.variables["target_tgid"].set(os.getpid())  # only this process
    print(bpf.inspect_object(spec))
    with bpf.load_object(spec) as coll, coll.programs["count_getpid"].attach():
        for _ in range(args.calls):
            os.getpid()
        hits = coll.variables["hits"].get()
        last = coll.variables["last_tgid"].get()
        calls_by_tid = coll.maps["calls_by_tid"]
        assert isinstance(calls_by_tid, bpf.KeyValueMap)  # a hash map: element access
        per_thread = calls_by_tid.lookup_batch()
    print(
        f"hits = {hits!r} (called getpid {args.calls} times); last_tgid = {last!r} (our pid is {os.getpid()})"
    )
    print(f"calls by thread id: {per_thread}")


if __name__ == "__main__":
    main()
