"""Watch the Python function calls of another running Python process, from the outside.

Shows: attaching BPF programs written with libbpf's ``usdt.bpf.h`` to
CPython's USDT probes ``python:function__entry`` and
``python:function__return`` (``bpf.attach_usdt`` with a pid: the probes are
found in the process's executable or its ``libpython``, their semaphores
switched on while attached), then reading per-function call counts and
latencies from a hash map keyed by (file, function, line it returned
from). Calls are counted at ``function__return``, which CPython fires for
every Python function; latency needs ``function__entry`` too, which
CPython 3.11 fires only while a trace or profile function is set
(``sys.settrace``/``sys.setprofile``, as debuggers and profilers do), so a
plain 3.11 process shows counts and ``-`` for times. The BPF side
ships compiled (``examples/bpf/python_calls.<arch>.bpf.o``, from
``python_calls.bpf.c`` beside it): no compiler on the machine, and nothing
to change in the traced program. Its Python must be built with the probes
(``--with-dtrace``: Debian's and Ubuntu's ``python3`` are).

Run (as root): ``python examples/python_calls.py -p PID`` (Ctrl-C to stop),
or ``--duration 10``; tracing also stops when the process exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ebpf.core as bpf

OBJECTS = Path(__file__).with_name("bpf")
ARCH = {"x86_64": "x86", "aarch64": "arm64"}


@dataclass(frozen=True)
class Calls:
    """One Python function's calls while traced."""

    file: str
    function: str
    line: int
    calls: int
    timed: int
    total_ns: int
    max_ns: int


def object_path() -> Path:
    """The compiled BPF object for this machine's architecture."""
    machine = os.uname().machine
    if machine not in ARCH:
        raise SystemExit(f"no compiled BPF object for {machine} (there are: {', '.join(ARCH)})")
    return OBJECTS / f"python_calls.{ARCH[machine]}.bpf.o"


def read_calls(functions: bpf.KeyValueMap[Any, Any]) -> list[Calls]:
    """Every function the map has seen, most called first (its BTF types decode the C strings)."""
    found = [
        Calls(key["file"], key["name"], key["line"], v["calls"], v["timed"], v["total_ns"], v["max_ns"])
        for key, v in functions.items()
    ]
    return sorted(found, key=lambda c: (-c.calls, c.file, c.line, c.function))


def table(calls: list[Calls], top: int) -> str:
    """The calls as a text table: calls, and over the timed ones total, average and longest time."""
    lines = [
        f"{'CALLS':>8} {'TIMED':>8} {'TOTAL ms':>10} {'AVG us':>10} {'MAX us':>10}  FUNCTION (FILE:LINE)"
    ]
    for c in calls[:top]:
        if c.timed:
            times = f"{c.total_ns / 1e6:>10.3f} {c.total_ns / c.timed / 1000:>10.1f} {c.max_ns / 1000:>10.1f}"
        else:
            times = f"{'-':>10} {'-':>10} {'-':>10}"
        lines.append(f"{c.calls:>8} {c.timed:>8} {times}  {c.function} ({c.file}:{c.line})")
    return "\n".join(lines)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) runs no more Python
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return False


def main() -> None:
    """Attach to the process, wait, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--pid", type=int, required=True, help="the Python process to trace")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="seconds to trace (default: until Ctrl-C)"
    )
    parser.add_argument("--top", type=int, default=20, help="how many functions to print")
    args = parser.parse_args()
    stop = False

    def interrupted(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    spec = bpf.CollectionSpec.from_file(object_path())
    with bpf.load_object(spec) as coll:
        entry = coll.attach_usdt("function_entry", args.pid, "python", "function__entry")
        with entry, coll.attach_usdt("function_return", args.pid, "python", "function__return"):
            where = sorted({path for path, _ in entry.probes})
            print(f"Tracing Python calls of pid {args.pid} ({', '.join(where)})...", flush=True)
            deadline = time.monotonic() + args.duration if args.duration else None
            while not stop and _alive(args.pid) and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.1)
        functions = coll.maps["functions"]
        assert isinstance(functions, bpf.KeyValueMap)  # a hash map: element access
        calls = read_calls(functions)
    print(table(calls, args.top))
    total, timed = sum(c.calls for c in calls), sum(c.timed for c in calls)
    print(f"{len(calls)} functions, {total} calls, {timed} timed (function__entry seen)")


if __name__ == "__main__":
    main()
