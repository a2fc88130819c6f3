"""Run one fuzz target under atheris (coverage-guided libFuzzer): ``python -m fuzz._driver TARGET ...``.

Usage::

    python -m fuzz._driver fuzz_btf --seed-dir build/fuzz/seeds/fuzz_btf [--known-log FILE] \\
        [--cpu-timeout 1] -- -max_total_time=60 -timeout=10 -rss_limit_mb=2048 CORPUS SEEDS

The ``ebpf`` packages are imported inside ``atheris.instrument_imports`` so
that their code is coverage-instrumented; the target's seeds are written to
``--seed-dir`` (for libFuzzer to read as a corpus directory) before fuzzing
starts. Each input may use ``--cpu-timeout`` seconds of CPU time (an
``InputTimeout`` crash past it). A known open bug is not a crash: its first
hit is appended to ``--known-log``. Everything after ``--`` goes to libFuzzer. ``tools/fuzz/run.py``
runs every target this way; atheris has no type stubs, so it is only ever
imported here, through ``importlib``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from pathlib import Path

from fuzz import _targets
from fuzz._guard import cpu_time_limit, guarded, memory_limit

__all__ = ["main", "write_seeds"]


def write_seeds(seeds: list[bytes], directory: Path) -> int:
    """Write each seed to ``directory`` under its content hash; return how many there are."""
    directory.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        path = directory / hashlib.sha1(seed).hexdigest()
        if not path.exists():
            path.write_bytes(seed)
    return len(seeds)


def main(argv: list[str]) -> int:
    """Fuzz the target named in ``argv`` until libFuzzer stops (time limit or crash)."""
    parser = argparse.ArgumentParser(prog="python -m fuzz._driver")
    parser.add_argument("target", choices=_targets.names())
    parser.add_argument("--seed-dir", type=Path, required=True)
    parser.add_argument("--known-log", type=Path)
    parser.add_argument("--cpu-timeout", type=float, default=1.0, help="CPU seconds per input")
    ours, libfuzzer = argv[1:], []
    if "--" in ours:
        at = ours.index("--")
        ours, libfuzzer = ours[:at], ours[at + 1 :]
    args = parser.parse_args(ours)

    atheris = importlib.import_module("atheris")
    with atheris.instrument_imports(include=["ebpf"]):
        target = _targets.load(args.target)
    write_seeds(target.seeds(), args.seed_dir)
    seen: set[str] = set()
    known_log: Path | None = args.known_log
    cpu_timeout: float = args.cpu_timeout

    def test_one_input(data: bytes) -> None:
        # CPU time, not libFuzzer's wall-clock -timeout (kept as a backstop for
        # hangs inside C code): a loaded machine must not turn into findings.
        with cpu_time_limit(cpu_timeout):
            bug = guarded(target.one_input, data)
        if bug is not None and bug.ident not in seen:
            seen.add(bug.ident)
            if known_log is not None:
                with known_log.open("a") as out:
                    out.write(f"{bug.ident}\n")

    atheris.Setup([argv[0], *libfuzzer], test_one_input)
    # Bound the address space too, so that a runaway allocation is a
    # MemoryError with a traceback (possibly a known bug) rather than a
    # machine swapping until libFuzzer's RSS check fires.
    rss_mb = next((int(a.split("=", 1)[1]) for a in libfuzzer if a.startswith("-rss_limit_mb=")), 2048)
    with memory_limit(rss_mb << 20):
        atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
