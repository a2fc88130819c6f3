"""pytest plugin for integration runs inside kernel VMs (``-p integration._vm``; ``tools/vm`` loads it).

It does two things, and nothing at all unless ``EBPF_VM_JOB`` names a
directory (the runner's job directory, shared with the host):

- Tests listed in :data:`VM_SKIPS` are skipped with the reason: they prove
  nothing about the kernel that the host run does not already prove, and
  under QEMU's CPU emulation (Python runs about 18 times slower) they would
  cost minutes. Tests whose host-side stress can be cut down (the hardening
  loops) ask :func:`reduced` and run fewer rounds. Set ``EBPF_VM_FULL=1`` to
  run everything in full anyway (e.g. under KVM).
- At the end of the session the answer of every feature probe of
  ``ebpf.syscall.features`` on this kernel is written to
  ``$EBPF_VM_JOB/features.json``, with the kernel release; ``tools/vm``
  turns it and the junit report into ``docs/kernels.md``.

The same plugin is loaded for the host's run of the kernel table
(``make vm-test KERNEL=host``), where nothing is skipped.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest

__all__ = ["VM_SKIPS", "feature_report", "job_dir", "reduced"]

VM_SKIPS: dict[str, str] = {
    # nodeid prefix -> reason
    "integration/maps/test_maps_kernel.py::test_no_fd_leak_over_10000_create_close_cycles": (
        "10000 create/close cycles are a host-side fd leak check, not a kernel feature "
        "(2 s on the host, minutes under CPU emulation)"
    ),
    "integration/core/test_core_cli_streaming.py::test_a_large_dump_streams_with_flat_memory": (
        "streaming a 200k-entry map dump with flat memory is a property of the ebpf command's "
        "Python side, not of the kernel (seconds on the host, minutes under CPU emulation)"
    ),
}
"""Tests that the VM runs skip (by node id prefix), with the reason shown in the report."""


def job_dir() -> Path | None:
    """The runner's job directory, or ``None`` when not running under ``tools/vm``."""
    value = os.environ.get("EBPF_VM_JOB")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


def reduced() -> bool:
    """Whether this kernel VM run leaves host-side stress to the host (not with ``EBPF_VM_FULL=1``)."""
    in_vm = job_dir() is not None and os.environ.get("EBPF_VM_KERNEL", "host") != "host"
    return in_vm and os.environ.get("EBPF_VM_FULL") != "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the :data:`VM_SKIPS` tests in a :func:`reduced` run."""
    if not reduced():
        return
    for item in items:
        for prefix, reason in VM_SKIPS.items():
            if item.nodeid.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=f"skipped in the kernel VM: {reason}"))
                break


def feature_report() -> dict[str, object]:
    """The kernel's release and every feature probe's answer (``None`` where the probe could not tell)."""
    report: dict[str, object] = {
        "release": platform.release(),
        "kernel": os.environ.get("EBPF_VM_KERNEL", "host"),
        "machine": platform.machine(),
    }
    try:
        from ebpf.syscall.features import all_features
    except ImportError as exc:  # the library is broken: the tests say how
        report["error"] = f"cannot import ebpf.syscall.features: {exc}"
        return report
    features: list[dict[str, object]] = []
    for feature in all_features():
        entry: dict[str, object] = {"name": feature.name, "version": feature.version}
        try:
            entry["supported"] = feature.supported()
        except Exception as exc:  # a probe that cannot tell is reported, not fatal
            entry["supported"] = None
            entry["error"] = f"{type(exc).__name__}: {exc}"
        features.append(entry)
    report["features"] = features
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write ``features.json`` into the job directory (as root only: probes need it)."""
    job = job_dir()
    if job is None or os.geteuid() != 0:
        return
    report = feature_report()
    report["exitstatus"] = int(exitstatus)
    (job / "features.json").write_text(json.dumps(report, indent=2) + "\n")
