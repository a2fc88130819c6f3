"""A report of what this machine offers eBPF programs: kernel, mounts, capabilities, CPUs, features.

[`collect()`][ebpf.syscall.report.collect] gathers it as plain data (JSON-ready),
[`render()`][ebpf.syscall.report.render] prints it for people. ``python -m ebpf.syscall``
and ``ebpf check`` / ``ebpf features`` (in ``ebpf-core``) show it.

Each probed feature is supported, missing (with the kernel version that
introduced it) or unknown (the probe could not tell, for example without
privileges).
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from typing import TextIO

from . import features, system
from .errors import EbpfError

__all__ = ["FeatureRow", "collect", "render"]

_CAPABILITIES = ("CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE")


@dataclass(frozen=True)
class FeatureRow:
    """One line of the feature table."""

    name: str
    since: str
    status: str  # "yes", "no" or "unknown"
    detail: str


def _probe(feature: features.Feature) -> FeatureRow:
    since = feature.version or "?"
    try:
        supported = feature.supported()
    except (EbpfError, OSError) as exc:
        return FeatureRow(feature.name, since, "unknown", str(exc).splitlines()[0])
    if supported:
        return FeatureRow(feature.name, since, "yes", "")
    missing = feature.missing_config()
    detail = f"kernel built without {', '.join(missing)}" if missing else ""
    return FeatureRow(feature.name, since, "no", detail)


def _mount(path: object) -> str:
    return str(path) if path is not None else "not mounted"


def collect() -> dict[str, object]:
    """Gather the report as plain data: what ``python -m ebpf.syscall --json`` and ``ebpf check --json`` show.

    Nothing here raises for a missing privilege or mount: a probe that cannot
    tell is a row with status ``"unknown"``, a missing mount reads ``"not mounted"``.
    """
    caps = system.effective_capabilities()
    return {
        "kernel": {
            "release": system.kernel_release(),
            "version": str(system.kernel_version()),
            "machine": platform.machine(),
        },
        "mounts": {
            "bpffs": _mount(system.bpffs_path()),
            "tracefs": _mount(system.tracefs_path()),
            "debugfs": _mount(system.debugfs_path()),
            "cgroup2": _mount(system.cgroup2_path()),
        },
        "process": {
            "uid": os.geteuid(),
            "capabilities": {name: name in caps for name in _CAPABILITIES},
            "unprivileged_bpf_disabled": system.unprivileged_bpf_disabled(),
            "bpf_jit_enabled": system.bpf_jit_enabled(),
        },
        "cpus": {"possible": system.possible_cpus(), "online": len(system.online_cpus())},
        "features": [asdict(_probe(f)) for f in features.all_features()],
    }


def render(report: dict[str, object], out: TextIO) -> None:
    """Print a report from [`collect()`][ebpf.syscall.report.collect] for people, as a table, to ``out``."""
    kernel = report["kernel"]
    mounts = report["mounts"]
    process = report["process"]
    cpus = report["cpus"]
    rows = report["features"]
    assert isinstance(kernel, dict)
    assert isinstance(mounts, dict)
    assert isinstance(process, dict)
    assert isinstance(cpus, dict)
    assert isinstance(rows, list)
    print(f"Kernel      Linux {kernel['version']} ({kernel['release']}, {kernel['machine']})", file=out)
    for name, where in mounts.items():
        print(f"{name:<11} {where}", file=out)
    caps = process["capabilities"]
    assert isinstance(caps, dict)
    have = " ".join(f"{name}{'' if ok else ' (missing)'}" for name, ok in caps.items())
    print(f"uid         {process['uid']}  {have}", file=out)
    print(f"unprivileged_bpf_disabled  {process['unprivileged_bpf_disabled']}", file=out)
    print(f"CPUs        {cpus['possible']} possible, {cpus['online']} online", file=out)
    print(file=out)
    width = max(len(str(row["name"])) for row in rows)
    counts = {"yes": 0, "no": 0, "unknown": 0}
    print(f"{'feature':<{width}}  {'since':>6}  supported", file=out)
    for row in rows:
        counts[row["status"]] += 1
        detail = f"  ({row['detail']})" if row["detail"] else ""
        print(f"{row['name']:<{width}}  {row['since']:>6}  {row['status']}{detail}", file=out)
    print(file=out)
    print(
        f"{counts['yes']} supported, {counts['no']} not supported, {counts['unknown']} unknown",
        file=out,
    )
    if counts["unknown"] and process["uid"] != 0:
        print("(run as root to probe everything)", file=out)
