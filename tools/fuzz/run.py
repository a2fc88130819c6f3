#!/usr/bin/env python3
"""Run every fuzz target for a set time and report iterations and findings (``make fuzz``).

Usage::

    python3 tools/fuzz/run.py --seconds 60                 # every target, 60 s each
    python3 tools/fuzz/run.py --seconds 10 --targets fuzz_btf,fuzz_insns
    python3 tools/fuzz/run.py --engine mutate --seconds 5  # without atheris

Each target (a ``fuzz/fuzz_*.py`` module) runs in its own process:

- ``atheris`` engine (the default when atheris imports): coverage-guided
  libFuzzer through ``python -m fuzz._driver``: an input may use
  ``--timeout`` seconds of CPU time (checked in the driver; libFuzzer's own
  wall-clock ``-timeout``, ten times longer, is the backstop for a hang in C
  code) and the process ``--rss-limit-mb`` of memory (``-rss_limit_mb`` and
  an address-space limit). The corpus it grows is kept in
  ``<work>/corpus/<target>`` and reused by the next run; the seeds (real
  objects under ``tests/bpf/``, this machine's vmlinux BTF, real verifier
  logs) are written to ``<work>/seeds/<target>``. A crash stops libFuzzer, so
  the target is restarted for the rest of its time (at most
  ``--max-restarts`` times), each distinct finding reported once.
- ``mutate`` engine: ``python -m fuzz._mutate``, a dependency-free mutation
  fuzzer with the same per-input CPU limit and an address-space bound.

Findings (inputs that raised anything but the target's allowed exceptions,
used more than ``--timeout`` seconds of CPU, or blew the memory bound) are
written to ``<work>/findings/<target>/``, replayed alone to confirm them
(``python -m fuzz._replay``; one that does not fail again, such as a
wall-clock timeout on a loaded machine, is counted as "flaky", not as a
finding) and listed; known open library bugs (``fuzz/_known_bugs.py``) are counted
apart unless ``--strict``. The summary is also written as JSON to
``<work>/summary.json``. Exit status: 0 without new findings, 1 with, 2
when a target could not run at all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WORK = ROOT / "build" / "fuzz"

_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_COV = re.compile(r"cov: (\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_PY_MARKER = "=== Uncaught Python exception: ==="
_FRAME = re.compile(r'\s*File "([^"]+)", line (\d+)')


@dataclass
class Finding:
    """One distinct problem found in a target."""

    kind: str
    where: str
    message: str
    input: str


@dataclass
class Result:
    """What running one target produced."""

    target: str
    engine: str
    seconds: float = 0.0
    iterations: int = 0
    coverage: int | None = None
    corpus: int | None = None
    findings: list[Finding] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)
    #: crashes whose input did not fail again when replayed alone (not findings).
    flaky: int = 0
    error: str = ""


def _python_env() -> dict[str, str]:
    """The environment for a target process: the repository's packages, tools and root on the path."""
    paths = [str(p) for p in sorted(ROOT.glob("packages/*/src"))] + [str(ROOT / "tools"), str(ROOT)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _targets() -> list[str]:
    return sorted(path.stem for path in (ROOT / "fuzz").glob("fuzz_*.py"))


def _classify_crash(output: str) -> tuple[str, str, str]:
    """``(kind, where, message)`` of a libFuzzer crash report."""
    if "ERROR: libFuzzer: timeout" in output:
        return "timeout", "-", "an input ran over the time limit"
    if "ERROR: libFuzzer: out-of-memory" in output:
        line = next((ln for ln in output.splitlines() if "out-of-memory" in ln), "")
        return "out-of-memory", "-", line.strip()
    at = output.find(_PY_MARKER)
    if at >= 0:
        # atheris prints "Kind: message", then the traceback, then a blank line.
        lines = output[at:].splitlines()[1:]
        kind, _, message = (lines[0] if lines else "?").partition(": ")
        where = "?"
        for line in lines[1:]:
            if not line.strip():
                break
            frame = _FRAME.match(line)
            if frame:
                where = f"{Path(frame.group(1)).name}:{frame.group(2)}"
        return kind.strip(), where, message.strip()[:300]
    tail = output.strip().splitlines()[-1:] or ["?"]
    return "crash", "-", tail[0][:300]


def run_atheris(target: str, seconds: float, args: argparse.Namespace) -> Result:
    """Fuzz ``target`` with atheris for ``seconds``, restarting after each crash."""
    work: Path = args.work
    corpus, seeds = work / "corpus" / target, work / "seeds" / target
    findings_dir = work / "findings" / target
    for directory in (corpus, seeds, findings_dir):
        directory.mkdir(parents=True, exist_ok=True)
    known_log = work / f"known-{target}.log"
    known_log.unlink(missing_ok=True)
    result = Result(target, "atheris")
    seen: set[tuple[str, str]] = set()
    start = time.monotonic()
    restarts = 0
    while True:
        left = int(seconds - (time.monotonic() - start))
        if left < 1 or restarts > args.max_restarts:
            break
        command = [
            sys.executable,
            "-m",
            "fuzz._driver",
            target,
            "--seed-dir",
            str(seeds),
            "--known-log",
            str(known_log),
            f"--cpu-timeout={args.timeout}",
            "--",
            f"-max_total_time={left}",
            # The per-input limit is CPU time, enforced in the driver; libFuzzer's
            # wall-clock timeout is only the backstop for a hang inside C code.
            f"-timeout={max(10, round(10 * args.timeout))}",
            f"-rss_limit_mb={args.rss_limit_mb}",
            f"-artifact_prefix={findings_dir}/",
            "-print_final_stats=1",
            str(corpus),
            str(seeds),
        ]
        proc = subprocess.run(
            command,
            cwd=ROOT,
            env=_python_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream: the report's lines stay in order
            text=True,
            check=False,
            timeout=left + 120,
        )
        output = proc.stdout
        done = _DONE.search(output)
        if done:
            result.iterations += int(done.group(1))
        else:
            statuses = [int(m.group(1)) for m in re.finditer(r"^#(\d+)", output, re.MULTILINE)]
            result.iterations += statuses[-1] if statuses else 0
        coverage = [int(m) for m in _COV.findall(output)]
        if coverage:
            result.coverage = max(result.coverage or 0, coverage[-1])
        if proc.returncode == 0 and done:
            break
        if "INFO: Seed:" not in output:  # libFuzzer never started: the driver itself failed
            result.error = output.strip().splitlines()[-1][:300]
            break
        kind, where, message = _classify_crash(output)
        artifact = _ARTIFACT.search(output)
        restarts += 1
        if artifact and not _reproduces(target, Path(artifact.group(1)), args):
            result.flaky += 1  # e.g. a wall-clock timeout on a loaded machine
            continue
        if (kind, where) not in seen:
            seen.add((kind, where))
            result.findings.append(Finding(kind, where, message, artifact.group(1) if artifact else "-"))
    result.seconds = round(time.monotonic() - start, 1)
    result.corpus = sum(1 for _ in corpus.iterdir())
    if known_log.exists():
        for ident in known_log.read_text().split():
            result.known[ident] = result.known.get(ident, 0) + 1
    return result


def _reproduces(target: str, artifact: Path, args: argparse.Namespace) -> bool:
    """Whether ``artifact`` still fails when replayed alone (``python -m fuzz._replay``)."""
    command = [
        sys.executable,
        "-m",
        "fuzz._replay",
        target,
        str(artifact),
        f"--timeout={args.timeout}",
        f"--memory-mb={args.rss_limit_mb}",
    ]
    proc = subprocess.run(command, cwd=ROOT, env=_python_env(), capture_output=True, text=True, check=False)
    return proc.returncode != 0


def run_mutate(target: str, seconds: float, args: argparse.Namespace) -> Result:
    """Fuzz ``target`` with the dependency-free mutation engine."""
    command = [
        sys.executable,
        "-m",
        "fuzz._mutate",
        target,
        f"--seconds={seconds}",
        f"--timeout={args.timeout}",
        f"--memory-mb={args.rss_limit_mb}",
        f"--findings={args.work / 'findings'}",
    ]
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env=_python_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 300,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        data: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        data = {}
    if not data:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Result(target, "mutate", error=tail[:300])
    return Result(
        target,
        "mutate",
        seconds=float(data["seconds"]),
        iterations=int(data["iterations"]),
        corpus=int(data["seeds"]),
        findings=[Finding(f["kind"], f["where"], f["message"], f["input"]) for f in data["findings"]],
        known={str(k): int(v) for k, v in data["known"].items()},
    )


def _table(results: list[Result]) -> str:
    rows = [
        ("target", "engine", "seconds", "iterations", "coverage", "corpus", "findings", "flaky", "known bugs")
    ]
    for r in results:
        rows.append(
            (
                r.target,
                r.engine,
                f"{r.seconds:.0f}",
                str(r.iterations),
                "-" if r.coverage is None else str(r.coverage),
                "-" if r.corpus is None else str(r.corpus),
                "ERROR" if r.error else str(len(r.findings)),
                str(r.flaky),
                ",".join(sorted(r.known)) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    """Run the targets, print the table and the findings; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="time per target (default 60)")
    parser.add_argument("--targets", default="", help="comma-separated fuzz_* module names (default: all)")
    parser.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds one input may take (default 1)")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="memory bound (default 2048)")
    parser.add_argument("--max-restarts", type=int, default=10, help="crash restarts per target")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="corpus/seeds/findings directory")
    parser.add_argument("--strict", action="store_true", help="count known open bugs as findings")
    args = parser.parse_args(argv)
    if args.strict:
        os.environ["FUZZ_STRICT"] = "1"
    available = _targets()
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()] or available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        parser.error(f"unknown targets {unknown}; available: {available}")
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") is not None else "mutate"
        if engine == "mutate":
            print(
                "atheris is not installed: using the mutation engine (pip install atheris)", file=sys.stderr
            )
    args.work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    for target in wanted:
        print(f"fuzzing {target} with {engine} for {args.seconds:g} s ...", file=sys.stderr, flush=True)
        runner = run_atheris if engine == "atheris" else run_mutate
        results.append(runner(target, args.seconds, args))
    print(_table(results))
    for r in results:
        if r.error:
            print(f"\n{r.target}: could not run: {r.error}")
        for f in r.findings:
            print(f"\n{r.target}: {f.kind} at {f.where}: {f.message}\n  input: {f.input}")
    summary = args.work / "summary.json"
    summary.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    total = sum(r.iterations for r in results)
    found = sum(len(r.findings) for r in results)
    print(f"\n{len(results)} targets, {total} inputs, {found} findings; summary in {summary}")
    if any(r.error for r in results):
        return 2
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
