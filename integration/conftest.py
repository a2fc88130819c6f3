"""Fixtures for the integration tests: the public API against the real kernel, as root.

- Not root: the whole suite is skipped, with the reason.
- Once per session, bpffs is mounted at ``/sys/fs/bpf`` and tracefs at
  ``/sys/kernel/tracing`` unless they already are (they stay mounted).
- ``bpffs``: a fresh directory on bpffs for the test's pins, removed afterwards.
- ``without_tracefs``: tracefs unmounted for the test (a fresh machine), mounted again afterwards.
- Every test fails if it leaks a file descriptor or leaves a pinned object
  under ``/sys/fs/bpf`` outside its ``bpffs`` directory.
- ``@pytest.mark.requires_feature(features.RINGBUF)`` runs the test where the
  feature probe says yes, skips it where the kernel is too old, is built
  without the feature or refuses it even to root, and fails it where the probe
  says no on a kernel that should have it; ``requires_kernel("5.8", "...")``
  remains for what no probe can tell (see ``integration/_kernel_markers.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from _kernel_markers import FeatureProbeError, feature_skip_reason, skip_reason
from _resources import no_resource_leaks  # noqa: F401  (autouse: mmaps, threads, attachments, qdiscs, netns)

from ebpf.syscall.features import Feature
from tests._leakcheck import describe_fds, leaked_since, open_fds

BPFFS = Path("/sys/fs/bpf")
TRACEFS = Path("/sys/kernel/tracing")

_HERE = Path(__file__).resolve().parent
_BPFFS_DIR = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip before any fixture runs: not root, a kernel older than a marker asks for, a feature
    the kernel lacks or refuses (fail where its probe says absent on a kernel that has it)."""
    if os.geteuid() != 0:
        pytest.skip(
            f"integration tests need root (running as uid {os.geteuid()}): "
            "they load programs, pin objects and mount bpffs; run 'make integration' as root"
        )
    for marker in item.iter_markers("requires_kernel"):
        try:
            version, feature = _marker_args(marker)
            reason = skip_reason(version, feature)
        except (TypeError, ValueError) as exc:
            pytest.fail(f"{item.nodeid}: bad requires_kernel marker: {exc}", pytrace=False)
        if reason is not None:
            pytest.skip(reason)
    for marker in item.iter_markers("requires_feature"):
        if len(marker.args) != 1 or marker.kwargs or not isinstance(marker.args[0], Feature):
            pytest.fail(
                f"{item.nodeid}: bad requires_feature marker: expected requires_feature(feature: Feature), "
                f"got {marker.args} {marker.kwargs}",
                pytrace=False,
            )
        try:
            reason = feature_skip_reason(marker.args[0])
        except FeatureProbeError as exc:
            pytest.fail(f"{item.nodeid}: {exc}", pytrace=False)
        if reason is not None:
            pytest.skip(reason)


def _marker_args(marker: pytest.Mark) -> tuple[str, str]:
    args = dict(zip(("version", "feature"), marker.args, strict=False))
    args.update(marker.kwargs)
    version, feature = args.get("version"), args.get("feature")
    if len(marker.args) > 2 or len(args) != 2 or not isinstance(version, str) or not isinstance(feature, str):
        raise TypeError(
            f"expected requires_kernel(version: str, feature: str), got {marker.args} {marker.kwargs}"
        )
    return version, feature


def _is_mounted(mountpoint: Path, fstype: str) -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) >= 3 and fields[1] == str(mountpoint) and fields[2] == fstype:
                return True
    return False


def _mounted_types() -> set[str]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return {fields[2] for fields in (line.split() for line in mounts) if len(fields) >= 3}


def _mount(fstype: str, mountpoint: Path) -> None:
    if _is_mounted(mountpoint, fstype):
        return
    result = subprocess.run(
        ["mount", "-t", fstype, fstype, str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"cannot mount {fstype} at {mountpoint}: {result.stderr.strip() or result.returncode}",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def kernel_filesystems() -> None:
    """bpffs at /sys/fs/bpf and tracefs at /sys/kernel/tracing, mounted if they are not."""
    _mount("bpf", BPFFS)
    if TRACEFS.is_dir():
        _mount("tracefs", TRACEFS)
    else:
        # The kernel was built without tracing: tests that need it skip by probe.
        warnings.warn(f"{TRACEFS} does not exist: this kernel has no tracefs", stacklevel=1)


@pytest.fixture
def without_tracefs(kernel_filesystems: None) -> Iterator[None]:
    """tracefs unmounted for this test, as on a fresh machine; mounted again afterwards.

    Skips where tracefs cannot be taken away: a kernel without it, tracefs in
    use (``umount`` says busy), or debugfs mounted (it reaches tracefs at
    ``<debugfs>/tracing`` by itself).
    """
    if not TRACEFS.is_dir():
        pytest.skip(f"{TRACEFS} does not exist: this kernel has no tracefs")
    if _mounted_types() & {"debugfs"}:
        pytest.skip("debugfs is mounted, and reaches tracefs through <debugfs>/tracing by itself")
    try:
        while _is_mounted(TRACEFS, "tracefs"):
            result = subprocess.run(["umount", str(TRACEFS)], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                pytest.skip(f"cannot unmount tracefs to test without it: {result.stderr.strip()}")
        if "tracefs" in _mounted_types():
            pytest.skip("tracefs is mounted elsewhere too")
        yield
    finally:
        _mount("tracefs", TRACEFS)


@pytest.fixture
def bpffs(request: pytest.FixtureRequest, kernel_filesystems: None) -> Iterator[Path]:
    """A fresh, empty directory on bpffs for this test's pins; removed with its contents afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ebpf-test-", dir=BPFFS))
    request.node.stash[_BPFFS_DIR] = path
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _pinned(root: Path) -> set[Path]:
    """Every file and directory under ``root``."""
    found: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        found.update(base / name for name in dirnames)
        found.update(base / name for name in filenames)
    return found


@pytest.fixture(autouse=True)
def _no_pin_leaks(request: pytest.FixtureRequest, kernel_filesystems: None) -> Iterator[None]:
    """Fail a test that leaves new pinned objects under /sys/fs/bpf outside its ``bpffs`` directory."""
    before = _pinned(BPFFS)
    yield
    own = request.node.stash.get(_BPFFS_DIR, None)
    leaked = sorted(path for path in _pinned(BPFFS) - before if own is None or not path.is_relative_to(own))
    if leaked:
        listing = " ".join(str(path) for path in leaked)
        pytest.fail(
            f"test left {len(leaked)} pinned object(s) behind (pin under the bpffs fixture's directory): "
            f"{listing}; remove them with: rm -r {listing}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _no_fd_leaks() -> Iterator[None]:
    """Fail a test that leaves a file descriptor open."""
    before = open_fds()
    yield
    leaked = leaked_since(before)
    if leaked:
        pytest.fail(
            f"test leaked {len(leaked)} file descriptor(s): {describe_fds(leaked)}",
            pytrace=False,
        )
