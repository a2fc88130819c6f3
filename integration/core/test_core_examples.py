"""Each script under examples/ runs as documented in its header and shows the effect it claims."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _kernel_markers import feature_skip_reason
from core._cli import CHILD_TIMEOUT, child_env

from ebpf.syscall import features

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str, timeout: float = CHILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env.pop("PYTHONUNBUFFERED", None)  # stdout a buffered pipe, as for a user piping the output
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{name} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_every_example_has_a_header_saying_what_it_shows_and_how_to_run_it() -> None:
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert len(scripts) >= 3
    for script in scripts:
        text = script.read_text()
        assert text.startswith('"""'), script.name
        header = text.split('"""')[1]
        assert "Shows:" in header, script.name
        assert f"examples/{script.name}" in header, script.name


def test_syscall_counter_prints_the_busiest_processes() -> None:
    out = run_example("syscall_counter.py", "--seconds", "1", "--top", "50").stdout.splitlines()
    assert out[0].startswith("counting system calls")
    assert out[1].split() == ["PID", "COMM", "SYSCALLS"]
    rows = [line.split() for line in out[2:]]
    assert rows
    assert all(int(row[-1]) > 0 for row in rows)


def test_file_open_monitor_sees_our_own_open_with_the_fallback() -> None:
    out = run_example("file_open_monitor.py", "--seconds", "1", "--self-test").stdout
    assert "self-test: saw our own open" in out
    if feature_skip_reason(features.FENTRY) is not None:
        assert "falling back to the tracepoint syscalls:sys_enter_openat" in out
    else:
        assert "using fentry/do_sys_openat2" in out


@pytest.mark.requires_feature(features.FENTRY)
def test_file_open_monitor_uses_fentry_where_allowed() -> None:
    assert "using fentry" in run_example("file_open_monitor.py", "--seconds", "1").stdout


def test_cgroup_socket_policy_refuses_inside_and_allows_outside() -> None:
    out = run_example("cgroup_socket_policy.py", "--port", "9999").stdout
    refused = "refused (Operation not permitted)"
    rows = [re.split(r"\s{2,}", line) for line in out.splitlines()[1:]]
    assert {(where.split()[0], what): outcome for where, what, outcome in rows} == {
        ("inside", "raw socket"): refused,
        ("inside", "UDP to port 9999"): refused,
        ("inside", "UDP to port 53"): "allowed",
        ("outside", "raw socket"): "allowed",
        ("outside", "UDP to port 9999"): "allowed",
        ("outside", "UDP to port 53"): "allowed",
    }


@pytest.mark.parametrize("fresh", [False, True], ids=["tracefs_mounted", "fresh_machine"])
def test_execve_tracer_sees_a_program_it_starts(fresh: bool, request: pytest.FixtureRequest) -> None:
    if fresh:  # tracefs not mounted: the example mounts it (it runs as root)
        request.getfixturevalue("without_tracefs")
    out = run_example("execve_tracer.py", "--seconds", "1", "--self-test").stdout
    assert out.splitlines()[0].split() == ["PID", "UID", "COMM", "FILE"]
    assert "self-test: saw /bin/true" in out


def test_xdp_veth_counts_then_drops_real_packets() -> None:
    out = run_example("xdp_veth.py", "--packets", "4").stdout.splitlines()
    assert out == [
        "counter on vb: sent 4 UDP datagrams, received 4, counted 4",
        "dropper on vb (port 7777 blocked): sent 4, received 0",
        "detached; namespaces removed",
    ]


def test_tc_egress_filter_stops_only_the_blocked_port() -> None:
    out = run_example("tc_egress_filter.py", "--port", "7777", "--packets", "3").stdout.splitlines()
    assert out[0].startswith("filter on va egress (")
    assert out[1:] == [
        "UDP to port 7777: sent 3, received 0",
        "UDP to port 7778: sent 3, received 3",
        "detached; namespaces removed",
    ]


def test_uprobe_function_counts_each_call() -> None:
    if shutil.which("cc") is None and shutil.which("clang") is None:
        pytest.skip("needs a C compiler")
    out = run_example("uprobe_function.py", "--calls", "7").stdout
    assert out.strip() == "uprobe_target printed 21; ebpf_example_add was called 7 times"


def test_clang_object_reads_globals_and_core_relocated_fields() -> None:
    if shutil.which("clang") is None:
        pytest.skip("needs clang (apt-get install clang libbpf-dev)")
    out = run_example("clang_object.py", "--calls", "12").stdout
    lines = out.splitlines()
    assert "  count_getpid  tracepoint" in out
    hits = next(line for line in lines if line.startswith("hits = "))
    assert hits.startswith("hits = 12 (called getpid 12 times); last_tgid = ")
    pid, own = hits.split("last_tgid = ")[1].split(" (our pid is ")
    assert pid == own.rstrip(")")  # the CO-RE read of task->tgid gave the right pid
    assert lines[-1].startswith("calls by thread id: {")
    assert lines[-1].endswith(": 12}")
