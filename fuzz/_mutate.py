"""A dependency-free mutation fuzzer: ``python -m fuzz._mutate TARGET --seconds N``.

The fallback engine of ``tools/fuzz/run.py`` where atheris is not installed
(it has wheels for CPython 3.11 on x86_64/aarch64 Linux only), and the one
the test suite uses for a quick smoke run. Not coverage-guided: it mutates
the target's seeds (byte flips, "interesting" 32-bit values at aligned
offsets, truncation, insertion, deletion, splicing with another seed) and
keeps nothing. Each input gets a CPU-time limit (a hang is a finding) and
the process an address-space limit (a runaway allocation is a
``MemoryError`` finding, not a dead machine).

The result is one JSON object on the last line of stdout::

    {"target": "fuzz_btf", "iterations": 12345, "seconds": 60.0, "seeds": 50,
     "findings": [{"kind": "TypeError", "where": "_graph.py:272", "message": "...",
                   "input": "build/fuzz/findings/fuzz_btf/crash-<sha1>"}],
     "known": {"btf-func-proto-typeerror": 12}}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from fuzz import _targets
from fuzz._guard import InputTimeout, cpu_time_limit, guarded

__all__ = ["INTERESTING", "fuzz", "main", "mutate"]

#: 32-bit values that tend to break length and offset checks.
INTERESTING = (0, 1, 2, 4, 7, 8, 16, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """One to eight random edits of ``data`` (``pool`` supplies splice partners)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not out:
            out = bytearray(rng.randbytes(rng.randint(1, 16)))
            continue
        at = rng.randrange(len(out))
        choice = rng.randrange(7)
        if choice == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out[at] = rng.randrange(256)
        elif choice == 2:
            at -= at % 4
            value = rng.choice(INTERESTING) if rng.random() < 0.8 else len(out) + rng.randint(-8, 8)
            out[at : at + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
        elif choice == 3:
            del out[at:]
        elif choice == 4:
            del out[at : at + rng.randint(1, 32)]
        elif choice == 5:
            source = rng.randrange(len(out))
            out[at:at] = out[source : source + rng.randint(1, 32)]
        else:
            other = rng.choice(pool) if pool else b""
            cut = rng.randrange(len(other) + 1)
            out[at:] = other[cut:]
    return bytes(out)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno}"


def fuzz(
    module: str, seconds: float, *, timeout: float, findings_dir: Path, seed: int, max_findings: int = 20
) -> dict[str, Any]:
    """Fuzz ``fuzz.<module>`` for ``seconds``; return the result described in the module docstring."""
    target = _targets.load(module)
    pool = target.seeds() or [b""]
    rng = random.Random(seed)
    findings: dict[tuple[str, str], dict[str, str]] = {}
    known: dict[str, int] = {}
    iterations = 0
    start = time.monotonic()
    # Replay the seeds themselves first: a seed that fails is a finding too.
    pending = list(pool)
    while time.monotonic() - start < seconds and len(findings) < max_findings:
        data = pending.pop() if pending else mutate(rng, rng.choice(pool), pool)
        iterations += 1
        try:
            with cpu_time_limit(timeout):
                bug = guarded(target.one_input, data)
        except (Exception, RecursionError, MemoryError, InputTimeout) as exc:
            key = (type(exc).__name__, _where(exc))
            if key not in findings:
                findings_dir.mkdir(parents=True, exist_ok=True)
                path = findings_dir / f"crash-{hashlib.sha1(data).hexdigest()}"
                path.write_bytes(data)
                findings[key] = {
                    "kind": key[0],
                    "where": key[1],
                    "message": str(exc)[:300],
                    "input": str(path),
                    "traceback": "".join(traceback.format_exception(exc))[-3000:],
                }
            continue
        if bug is not None:
            known[bug.ident] = known.get(bug.ident, 0) + 1
    return {
        "target": module,
        "engine": "mutate",
        "iterations": iterations,
        "seconds": round(time.monotonic() - start, 1),
        "seeds": len(pool),
        "findings": list(findings.values()),
        "known": known,
    }


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    with open("/proc/self/status", encoding="ascii") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = (vm_kb << 10) + (megabytes << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    """Command line: fuzz one target, print the JSON result; exit 1 when there are findings."""
    parser = argparse.ArgumentParser(prog="python -m fuzz._mutate")
    parser.add_argument("target", choices=_targets.names())
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=1.0, help="CPU seconds per input")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address space beyond the start")
    parser.add_argument("--findings", type=Path, default=Path("build/fuzz/findings"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv[1:])
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    _targets.load(args.target).seeds()  # build the seed cache before limiting memory
    _limit_memory(args.memory_mb)
    result = fuzz(
        args.target,
        args.seconds,
        timeout=args.timeout,
        findings_dir=args.findings / args.target,
        seed=args.seed,
    )
    print(json.dumps(result))
    return 1 if result["findings"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
