"""Watch the Python function calls of another running Python process, from the outside.

Shows: the ready tool ``pycalls`` (``ebpf tool pycalls``) used from Python:
its BPF programs, written with libbpf's ``usdt.bpf.h``, attached to
CPython's USDT probes ``python:function__entry`` and
``python:function__return`` of one process (found in its executable or its
``libpython``, their semaphores switched on while attached), then per
function and line it returned from: how many calls, and how long the timed
ones took. Calls are counted at ``function__return``, which CPython fires
for every Python function; latency needs ``function__entry`` too, which
CPython 3.11 fires only while a trace or profile function is set
(``sys.settrace``/``sys.setprofile``, as debuggers and profilers do), so a
plain 3.11 process shows counts and ``-`` for times. The BPF side ships
compiled with ebpf-core (``ebpf/core/tools/bpf/pycalls.<arch>.bpf.o``, from
``pycalls.bpf.c`` beside it): no compiler on the machine, and nothing to
change in the traced program. Its Python must be built with the probes
(``--with-dtrace``: Debian's and Ubuntu's ``python3`` are).

Run (as root): ``python examples/python_calls.py -p PID`` (Ctrl-C to stop),
or ``--duration 10``; tracing also stops when the process exits.
"""

from __future__ import annotations

import argparse
import signal

from ebpf.core.tools import pycalls


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Attach to the process, wait until it exits (or the duration ends, or Ctrl-C), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--pid", type=int, required=True, help="the Python process to trace")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="seconds to trace (default: until Ctrl-C)"
    )
    parser.add_argument("--top", type=int, default=20, help="how many functions to print")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    options = pycalls.Options(
        pid=args.pid, duration=args.duration or None, latency=True, lines=True, top=args.top
    )
    with pycalls.start(options) as tracer:
        print(f"Tracing Python calls of pid {args.pid} ({', '.join(tracer.files)})...", flush=True)
        try:
            reports = list(tracer)  # one, at the end: no interval
        except KeyboardInterrupt:
            reports = tracer.flush()
    print(pycalls.TOOL.format(reports[-1], options), end="")


if __name__ == "__main__":
    main()
