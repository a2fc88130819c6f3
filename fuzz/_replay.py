"""Run one fuzz target on saved inputs: ``python -m fuzz._replay TARGET FILE... [--timeout 1]``.

The check that a finding is real: each file is run the way the engines run
inputs (known bugs tolerated, one ``--timeout`` of CPU time, a bounded
address space). Prints one line per file (``ok``, ``known <id>``,
``timeout``, or the exception) and exits 1 if any file reproduced a
finding. ``tools/fuzz/run.py`` replays every libFuzzer artifact this way,
so that a wall-clock timeout caused by a loaded machine is reported as not
reproduced instead of as a hang.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from fuzz import _targets
from fuzz._guard import InputTimeout, cpu_time_limit, guarded, memory_limit

__all__ = ["main", "replay"]


def replay(module: str, path: Path, *, timeout: float = 1.0, memory_mb: int = 2048) -> str:
    """The verdict on one input.

    ``"ok"``, ``"known <id>"``, ``"timeout"`` or ``"<Exception>: <message> at <file:line>"``.
    """
    target = _targets.load(module)
    data = path.read_bytes()
    try:
        with memory_limit(memory_mb << 20), cpu_time_limit(timeout):
            bug = guarded(target.one_input, data)
    except InputTimeout:
        return "timeout"
    except (Exception, RecursionError, MemoryError) as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        return f"{type(exc).__name__}: {str(exc)[:200]} at {where}"
    return f"known {bug.ident}" if bug is not None else "ok"


def main(argv: list[str]) -> int:
    """Command line: replay the files; exit 1 when one reproduces a finding."""
    parser = argparse.ArgumentParser(prog="python -m fuzz._replay")
    parser.add_argument("target", choices=_targets.names())
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--timeout", type=float, default=1.0, help="CPU seconds per input")
    parser.add_argument("--memory-mb", type=int, default=2048)
    args = parser.parse_args(argv[1:])
    reproduced = False
    for path in args.files:
        verdict = replay(args.target, path, timeout=args.timeout, memory_mb=args.memory_mb)
        reproduced = reproduced or not (verdict == "ok" or verdict.startswith("known "))
        print(f"{path}: {verdict}")
    return 1 if reproduced else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
