"""System checks: what this machine and process offer eBPF programs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ebpf.syscall import KernelVersion

__all__ = ["SystemInfo", "init"]

_USEFUL_CAPABILITIES = ("CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN")


@dataclass(frozen=True)
class SystemInfo:
    """What [`init()`][ebpf.core.init] found.

    Attributes:
        kernel: the running kernel's upstream version (``KernelVersion(6, 8, 0)``).
        release: ``uname -r``.
        bpffs: where bpffs is mounted (pins live there), or ``None``.
        tracefs: where tracefs is mounted (tracepoints, kprobe events), or ``None``.
        cgroup2: the cgroup v2 mount (cgroup programs), or ``None``.
        capabilities: the effective capabilities of this process, by name.
        possible_cpus: the kernel's possible CPUs (the size of per-CPU values).
        memlock_raised: whether [`init()`][ebpf.core.init] lifted ``RLIMIT_MEMLOCK`` (kernels before 5.11).
        features: every probed feature (``"map type RINGBUF"``...): ``True``,
            ``False``, or ``None`` when the probe could not tell (without
            privileges, or when a security policy refuses a program type).
    """

    kernel: KernelVersion
    release: str
    bpffs: Path | None
    tracefs: Path | None
    cgroup2: Path | None
    capabilities: frozenset[str]
    possible_cpus: int
    memlock_raised: bool
    features: Mapping[str, bool | None] = field(default_factory=dict)

    @property
    def missing_capabilities(self) -> tuple[str, ...]:
        """Which of ``CAP_BPF``, ``CAP_PERFMON``, ``CAP_NET_ADMIN``, ``CAP_SYS_ADMIN`` this process lacks."""
        return tuple(cap for cap in _USEFUL_CAPABILITIES if cap not in self.capabilities)

    def supports(self, feature: str) -> bool | None:
        """The probe's answer for ``feature`` (a name of ``features``).

        Raises:
            KeyError: no such feature was probed (the message lists near names).
        """
        try:
            return self.features[feature]
        except KeyError:
            words = feature.lower().split()
            near = [name for name in self.features if any(w in name.lower() for w in words)][:5]
            raise KeyError(f"no feature named {feature!r}; similar: {', '.join(near) or 'none'}") from None


def init(
    *,
    probe_features: bool = True,
    mount_bpffs: bool = False,
    mount_tracefs: bool = False,
    raise_memlock: bool = True,
) -> SystemInfo:
    """Prepare this process for eBPF and report what the machine offers.

    Lifts ``RLIMIT_MEMLOCK`` where the kernel still charges BPF memory to it
    (before 5.11; a no-op elsewhere), optionally mounts bpffs at
    ``/sys/fs/bpf`` and tracefs at ``/sys/kernel/tracing`` where they are not
    mounted (what tools and scripts run as root want: tracepoints and
    ``bpf_printk`` output need tracefs, pins need bpffs; the library itself
    never mounts anything, it raises ``NotMountedError`` with the command to
    run), and probes every feature of
    [`ebpf.syscall.features.all_features()`][ebpf.syscall.features.all_features] (cached: each probe runs once
    per process).

    Args:
        probe_features: probe the features (about 0.3 s the first time); when
            ``False``, ``features`` is empty.
        mount_bpffs: mount bpffs at ``/sys/fs/bpf`` if nothing is mounted there (root).
        mount_tracefs: mount tracefs at ``/sys/kernel/tracing`` if it cannot be
            reached anywhere (root).
        raise_memlock: lift the memlock rlimit when the kernel needs it.

    Raises:
        PermissionDeniedError: ``raise_memlock``/``mount_bpffs``/``mount_tracefs``
            without the privileges they need (``CAP_SYS_ADMIN`` to mount).
        NotSupportedError: the kernel has no bpffs or tracefs to mount.
        BpfSyscallError: mounting failed otherwise.
    """
    from ebpf.syscall import EbpfError, features, system

    raised = system.remove_memlock_limit() if raise_memlock else False
    if mount_bpffs:
        system.ensure_bpffs(mount=True)
    if mount_tracefs:
        system.ensure_tracefs(mount=True)
    found: dict[str, bool | None] = {}
    if probe_features:
        for feature in features.all_features():
            try:
                found[feature.name] = feature.supported()
            except (EbpfError, OSError):
                found[feature.name] = None
    return SystemInfo(
        kernel=system.kernel_version(),
        release=system.kernel_release(),
        bpffs=system.bpffs_path(),
        tracefs=system.tracefs_path(),
        cgroup2=system.cgroup2_path(),
        capabilities=system.effective_capabilities(),
        possible_cpus=system.possible_cpus(),
        memlock_raised=raised,
        features=found,
    )
