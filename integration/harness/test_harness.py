"""The integration suite's own fixtures, checked against the real system."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from _kernel_markers import (
    FeatureProbeError,
    feature_skip_reason,
    kernel_config,
    kernel_release,
    requires_feature,
    requires_kernel,
    skip_reason,
)

from ebpf.syscall import BpfSyscallError, PermissionDeniedError, features
from ebpf.syscall.features import Feature


def _mounts() -> list[tuple[str, str]]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return [(fields[1], fields[2]) for fields in (line.split() for line in mounts) if len(fields) >= 3]


def test_bpffs_and_tracefs_are_mounted() -> None:
    mounts = _mounts()
    assert ("/sys/fs/bpf", "bpf") in mounts
    if Path("/sys/kernel/tracing").is_dir():
        assert ("/sys/kernel/tracing", "tracefs") in mounts
        assert Path("/sys/kernel/tracing/events").is_dir()


def test_bpffs_fixture_is_a_fresh_directory_on_bpffs(bpffs: Path) -> None:
    assert bpffs.parent == Path("/sys/fs/bpf")
    assert bpffs.is_dir()
    assert list(bpffs.iterdir()) == []
    (bpffs / "sub").mkdir()  # bpffs allows directories; the fixture removes them
    assert (bpffs / "sub").is_dir()


def test_runs_as_root() -> None:
    assert os.geteuid() == 0


@pytest.mark.requires_kernel("3.18", "the bpf(2) system call")
def test_requires_kernel_marker_lets_a_new_enough_kernel_run() -> None:
    assert kernel_release()


@requires_kernel("3.18", "the bpf(2) system call")
def test_requires_kernel_helper_lets_a_new_enough_kernel_run() -> None:
    assert kernel_release()


def test_requires_kernel_skips_on_an_older_kernel() -> None:
    # What the marker hook turns into pytest.skip() for a too-old kernel.
    reason = skip_reason("999.0", "a feature from the future")
    assert reason == f"needs Linux 999.0+ for a feature from the future; running {kernel_release()}"
    assert skip_reason("3.18", "the bpf(2) system call") is None


# --------------------------------------------------------------------------- requires_feature


def _feature(
    name: str, version: str | None, probe: Callable[[], bool], config: tuple[str, ...] = ()
) -> Feature:
    return Feature(name, version, probe, config=config)


def _refused() -> bool:
    raise PermissionDeniedError(errno.EPERM, "BPF_MAP_CREATE", "feature probe: creating a test map")


def _confused() -> bool:
    raise BpfSyscallError(errno.EIO, "BPF_MAP_CREATE", "feature probe: creating a test map")


@pytest.mark.requires_feature(features.BPF_LINK)
def test_requires_feature_marker_lets_a_present_feature_run() -> None:
    assert features.BPF_LINK.cached is True


@requires_feature(features.BPF_LINK)
def test_requires_feature_helper_lets_a_present_feature_run() -> None:
    assert features.BPF_LINK.cached is True


def test_requires_feature_skips_what_the_kernel_refuses_even_to_root() -> None:
    reason = feature_skip_reason(_feature("a refused feature", "3.18", _refused))
    assert reason is not None
    assert reason.startswith(f"Linux {kernel_release()} refuses a refused feature even to root")
    assert "EPERM" in reason


def test_requires_feature_skips_on_an_older_kernel_and_without_a_kernel_option() -> None:
    older = feature_skip_reason(_feature("a feature from the future", "999.0", lambda: False))
    assert older == f"needs Linux 999.0+ for a feature from the future; running {kernel_release()}"
    if kernel_config() is not None:
        off = feature_skip_reason(
            _feature("an optional feature", "3.18", lambda: False, ("CONFIG_EBPF_NOPE",))
        )
        assert off == (
            f"needs an optional feature; Linux {kernel_release()} is built without CONFIG_EBPF_NOPE"
        )


def test_requires_feature_fails_where_the_probe_says_absent_on_a_new_enough_kernel() -> None:
    # A probe that says "no" on a kernel at least the feature's first version, with its options,
    # is a bug in the probe or the kernel build: the test must fail, not skip.
    with pytest.raises(FeatureProbeError, match=r"at least its first version 3\.18"):
        feature_skip_reason(_feature("a feature every kernel has", "3.18", lambda: False))
    with pytest.raises(FeatureProbeError, match="cannot tell"):
        feature_skip_reason(_feature("a confused probe", "3.18", _confused))


def test_requires_feature_rejects_what_is_not_a_feature() -> None:
    with pytest.raises(TypeError, match="Feature"):
        requires_feature("ring buffer")  # type: ignore[arg-type]
