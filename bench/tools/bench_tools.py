"""bench/tools: time from starting a ready tool to attached and reporting, beside libbpf.

Run as root from the repository root (needs gcc and libbpf-dev)::

    hatch run python bench/tools/bench_tools.py [--repeats 5]

``ours``: spawn ``python -m ebpf.core tool NAME`` and wait for its first line
of output (the header, printed once every program is attached): the whole
start of a tool, interpreter and imports included. ``libbpf``:
``tools_bench.c`` (built with ``gcc -O2 ... -lbpf``) opens the same
committed object, loads it, attaches every program and prints a line; also
timed from spawn to that line. The target is 0.5 s for ours; the ratio is
ours / libbpf's medians, measured in the same run. ``cpu`` is the CPU time
(user + system) the tool's process had used when its first line came: on a
shared machine the wall time also counts waiting for a CPU.

Python is timed as an installed wheel runs it, with its modules' bytecode
cached (pip compiles it when it installs): the children write and read their
cache under a temporary ``PYTHONPYCACHEPREFIX``, also where
``PYTHONDONTWRITEBYTECODE`` is set, after one untimed start of each tool.
``--no-bytecode`` times the other case (every module compiled at each start,
as from a source tree under ``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OBJECTS = ROOT / "packages" / "ebpf-core" / "src" / "ebpf" / "core" / "tools" / "bpf"
TARGET_S = 0.5


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by process ``pid`` (``/proc/PID/stat``, clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _first_line(argv: list[str], interrupt: bool, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds from spawning ``argv`` to its first line of output, and the CPU seconds it had used then;
    then it is ended (SIGINT)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds(child.pid)
    if interrupt:
        child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    if not line or child.returncode != 0:
        sys.exit(f"bench/tools: {' '.join(argv)} failed ({child.returncode}): {err.strip()}")
    return elapsed, cpu


def _python_env(tmp: str, bytecode: bool) -> dict[str, str]:
    """The environment of the tools: bytecode cached under ``tmp`` (or never written and never read)."""
    env = dict(os.environ)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="starts of each tool, each side")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="no cached bytecode: compile every module at each start"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/tools: loading programs needs root")
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("bench/tools: gcc is missing (make setup installs gcc and libbpf-dev)")
    from ebpf.core.tools import TOOL_NAMES

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        loader = Path(tmp) / "tools_bench"
        subprocess.run(
            [gcc, "-O2", "-Wall", str(HERE / "tools_bench.c"), "-o", str(loader), "-lbpf"], check=True
        )
        env = _python_env(tmp, bytecode=not args.no_bytecode)
        for name in TOOL_NAMES:
            tool = [sys.executable, "-m", "ebpf.core", "tool", name]
            _first_line(tool, interrupt=True, env=env)  # untimed: writes the bytecode cache
            theirs, ours, cpu = [], [], []
            for _ in range(args.repeats):
                theirs.append(_first_line([str(loader), str(OBJECTS / f"{name}.bpf.o")], interrupt=False)[0])
                wall, used = _first_line(tool, interrupt=True, env=env)
                ours.append(wall)
                cpu.append(used)
            rows.append((name, theirs, ours, cpu))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cached = "no bytecode cache" if args.no_bytecode else "bytecode cached"
    print(
        f"spawn -> attached and reporting, {args.repeats} starts each, median (best) ms; "
        f"{cached}; load average {load}"
    )
    print(f"{'tool':11} {'libbpf':>16} {'ebpf tool':>16} {'cpu':>6} {'ratio':>6} {'target':>8}")
    for name, theirs, ours, cpu in rows:
        c_med, py_med = statistics.median(theirs), statistics.median(ours)
        verdict = "ok" if py_med <= TARGET_S else "MISSED"
        print(
            f"{name:11} {c_med * 1e3:8.1f} ({min(theirs) * 1e3:5.1f}) "
            f"{py_med * 1e3:8.1f} ({min(ours) * 1e3:5.1f}) {statistics.median(cpu) * 1e3:6.0f} "
            f"{py_med / c_med:6.2f} {'<= 500':>8} {verdict}"
        )


if __name__ == "__main__":
    main()
