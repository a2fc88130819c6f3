"""The fuzzing machinery itself: it must catch what it is for (tests that can fail).

A harness that swallowed every exception, never timed out or could not
parse libFuzzer's report would make every "0 findings" meaningless, so a
planted bug, a planted hang and canned crash reports go through each piece.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from fuzz import _known_bugs, _mutate, _targets
from fuzz._guard import InputTimeout, cpu_time_limit, guarded, memory_limit

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "fuzz" / "run.py"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ebpf_fuzz_runner", RUNNER)
    assert spec is not None
    assert spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


def _planted(data: bytes) -> None:
    if data.startswith(b"\x7fELF") and len(data) > 100 and data[100] == 0x42:
        raise IndexError("planted")


def test_mutation_engine_reports_a_planted_bug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seeds = [b"\x7fELF" + bytes(200)]
    fake = _targets.Target("planted", "planted", _planted, lambda: seeds, ())
    monkeypatch.setattr(_targets, "load", lambda name: fake)
    result = _mutate.fuzz("planted", 5.0, timeout=1.0, findings_dir=tmp_path, seed=3, max_findings=1)
    assert [(f["kind"], f["message"]) for f in result["findings"]] == [("IndexError", "planted")]
    saved = Path(result["findings"][0]["input"]).read_bytes()
    with pytest.raises(IndexError):
        _planted(saved)


def _spin() -> None:
    while True:
        pass


def test_cpu_time_limit_stops_a_hang() -> None:
    start = time.monotonic()
    with pytest.raises(InputTimeout), cpu_time_limit(0.2):
        _spin()
    assert time.monotonic() - start < 30


def test_guarded_tolerates_only_known_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every bug found so far is fixed: register a made-up one.
    planted = _known_bugs.KnownBug("planted", "builtins.TypeError", r"is not a function$", "a test")
    monkeypatch.setattr(_known_bugs, "KNOWN_BUGS", (planted,))

    def known(data: bytes) -> None:
        raise TypeError("BTF: type 5 (STRUCT) is not a function")

    def unknown(data: bytes) -> None:
        raise TypeError("something else")

    bug = guarded(known, b"")
    assert bug is not None
    assert bug.ident == "planted"
    with pytest.raises(TypeError):
        guarded(unknown, b"")
    monkeypatch.setenv("FUZZ_STRICT", "1")
    assert _known_bugs.strict()
    with pytest.raises(TypeError):
        guarded(known, b"")


def test_crash_reports_are_classified() -> None:
    classify = _runner()._classify_crash
    python_crash = (
        "INFO: Seed: 1\n#2 INITED cov: 10\n\n === Uncaught Python exception: ===\n"
        "IndexError: list index out of range\n"
        "Traceback (most recent call last):\n"
        '  File "/x/fuzz/fuzz_btf.py", line 73, in one_input\n'
        "    exercise_graph(...)\n"
        '  File "/x/ebpf/btf/_decode.py", line 245, in decode\n'
        "    name = self.string(name_off, where)\n"
        "IndexError: list index out of range\n\n"
        "#5573\tNEW    cov: 1019 ft: 3084 corp: 110/923Kb\n"
        "==1234== ERROR: libFuzzer: fuzz target exited\n"
    )
    assert classify(python_crash) == ("IndexError", "_decode.py:245", "list index out of range")
    timeout = (
        "ALARM: working on the last Unit for 2 seconds\n==1== ERROR: libFuzzer: timeout after 2 seconds\n"
    )
    assert classify(timeout)[0] == "timeout"
    oom = "==1== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)\n"
    assert classify(oom)[0] == "out-of-memory"


def _env() -> dict[str, str]:
    paths = [str(p) for p in sorted(ROOT.glob("packages/*/src"))] + [str(ROOT / "tools"), str(ROOT)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


@pytest.mark.parametrize(
    "engine",
    [
        "mutate",
        pytest.param(
            "atheris",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("atheris") is None, reason="atheris is not installed"
            ),
        ),
    ],
)
def test_runner_runs_a_target_and_reports_iterations(engine: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "--engine",
            engine,
            "--seconds",
            "2",
            "--targets",
            "fuzz_insns",
            "--work",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["target"], summary["engine"]) == ("fuzz_insns", engine)
    assert summary["iterations"] > 0
    assert summary["findings"] == []
    assert "fuzz_insns" in proc.stdout


def test_memory_limit_turns_a_runaway_allocation_into_memory_error() -> None:
    with pytest.raises(MemoryError), memory_limit(64 << 20):
        bytearray(1 << 30)
    assert len(bytearray(256 << 20)) == 256 << 20  # the limit is gone again


def test_replay_confirms_findings_and_clears_non_reproducible_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fuzz._replay import replay

    fine = tmp_path / "fine"
    fine.write_bytes(bytes(16))
    assert replay("fuzz_insns", fine) == "ok"
    fixed = tmp_path / "fixed"  # once the btf-func-proto-typeerror finding, now a ParseError
    fixed.write_bytes(bytes([0]) + bytes.fromhex(_FUNC_ON_STRUCT))
    assert replay("fuzz_btf", fixed) == "ok"

    def planted(data: bytes) -> None:
        raise IndexError("planted")

    monkeypatch.setattr(_targets, "load", lambda name: SimpleNamespace(one_input=planted))
    assert replay("fuzz_insns", fine).startswith("IndexError: planted at ")


# BTF: INT "int"; STRUCT s { int a; }; FUNC f of type 2 (the STRUCT) -- see test_hardening_known_bugs.py.
_FUNC_ON_STRUCT = (
    "9feb0100180000000000000034000000340000000b000000010000000000000104000000200000010500000001"
    "00000404000000070000000100000000000000090000000000000c0200000000696e7400730061006600"
)
