"""``python -m ebpf.syscall``: a report of what this machine offers eBPF programs.

Prints the kernel, the file systems BPF tools need, the capabilities of this
process, the CPUs, and a table of every probed feature: supported, missing
(with the kernel version that introduced it) or unknown (the probe could not
tell, for example without privileges). ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

# The report itself is ebpf.syscall.report (also what `ebpf check` prints).
from .report import collect, render


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m ebpf.syscall``."""
    parser = argparse.ArgumentParser(prog="python -m ebpf.syscall", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    report = collect()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        render(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
