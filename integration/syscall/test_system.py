"""System discovery against the running kernel (as root)."""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import ebpf.syscall.system as system_module
from ebpf.syscall import _kernel
from ebpf.syscall._generated import Cmd, MapCreateAttr, MapElemAttr, MapType
from ebpf.syscall.fd import FD
from ebpf.syscall.system import (
    KernelVersion,
    NotMountedError,
    bpf_jit_enabled,
    bpffs_path,
    cgroup2_path,
    effective_capabilities,
    ensure_bpffs,
    ensure_tracefs,
    find_mounts,
    has_capability,
    kernel_release,
    kernel_version,
    online_cpus,
    possible_cpus,
    remove_memlock_limit,
    tracefs_path,
    unprivileged_bpf_disabled,
)

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="integration tests run as root"),
]

# The directory that holds the `ebpf` namespace of ebpf-syscall, for child interpreters.
_SRC = Path(system_module.__file__).resolve().parents[2]


def test_kernel_version_matches_uname() -> None:
    release = os.uname().release
    assert kernel_release() == release
    version = kernel_version()
    assert isinstance(version, KernelVersion)
    major, minor = (int(part) for part in release.split(".")[:2])
    assert version[:2] == (major, minor)
    assert str(version).startswith(f"{major}.{minor}.")
    assert kernel_version() is version  # cached


def test_standard_mounts_are_found() -> None:
    assert Path("/proc") in find_mounts("proc")
    assert Path("/sys") in find_mounts("sysfs")
    assert find_mounts("no-such-filesystem") == []


@pytest.fixture(scope="module")
def mounted() -> None:
    """bpffs at /sys/fs/bpf and tracefs somewhere (the suite's conftest usually did it already)."""
    ensure_bpffs(mount=True)
    ensure_tracefs(mount=True)


@pytest.mark.usefixtures("mounted")
def test_bpffs_and_tracefs_are_found() -> None:
    assert bpffs_path() == Path("/sys/fs/bpf")
    assert ensure_bpffs() == Path("/sys/fs/bpf")
    tracefs = tracefs_path()
    assert tracefs is not None
    assert ensure_tracefs() == tracefs
    assert (tracefs / "events" / "syscalls").is_dir()


@pytest.mark.usefixtures("without_tracefs")
def test_without_tracefs_the_library_names_the_mount_and_mounts_only_when_asked() -> None:
    from ebpf.syscall.perf import tracepoint_id

    assert tracefs_path() is None
    with pytest.raises(NotMountedError) as info:
        ensure_tracefs()
    assert info.value.command == "mount -t tracefs tracefs /sys/kernel/tracing"
    with pytest.raises(NotMountedError):
        tracepoint_id("syscalls", "sys_enter_getpid")
    assert tracefs_path() is None  # nothing was mounted behind the caller's back
    assert ensure_tracefs(mount=True) == Path("/sys/kernel/tracing")
    assert (Path("/sys/kernel/tracing") / "events" / "syscalls").is_dir()


def test_cgroup2_is_found() -> None:
    path = cgroup2_path()
    if path is None:
        pytest.skip("no cgroup v2 hierarchy is mounted on this machine")
    assert path in find_mounts("cgroup2")
    # The root of a cgroup v2 hierarchy lists its controllers; v1 has no such file.
    assert (path / "cgroup.controllers").is_file()


def _umount(path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(os.fsencode(path), 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(path))


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ebpf bpffs "))  # a space: the mount table escapes it as \040
    try:
        yield path
    finally:
        while path in find_mounts("bpf"):
            _umount(path)
        path.rmdir()


def test_ensure_bpffs_mounts_with_mount_syscall(scratch_dir: Path) -> None:
    with pytest.raises(NotMountedError) as info:
        ensure_bpffs(scratch_dir)
    assert info.value.command == f"mount -t bpf bpf {shlex.quote(str(scratch_dir))}"
    assert scratch_dir not in find_mounts("bpf")

    assert ensure_bpffs(scratch_dir, mount=True) == scratch_dir
    assert scratch_dir in find_mounts("bpf")
    assert os.path.ismount(scratch_dir)
    # Mounted once: asking again finds it and does not stack a second mount.
    assert ensure_bpffs(scratch_dir, mount=True) == scratch_dir
    assert find_mounts("bpf").count(scratch_dir) == 1
    sub = scratch_dir / "sub"
    sub.mkdir()
    assert ensure_bpffs(sub) == sub  # a directory inside bpffs counts
    sub.rmdir()


def test_root_capabilities() -> None:
    caps = effective_capabilities()
    assert {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"} <= caps
    if kernel_version() >= (5, 8):
        assert {"CAP_BPF", "CAP_PERFMON"} <= caps
        assert has_capability("CAP_BPF")
    assert has_capability("sys_admin")


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv is not installed")
def test_capabilities_of_a_process_without_any() -> None:
    script = "from ebpf.syscall.system import effective_capabilities as e, has_capability as h\n"
    script += "print(sorted(e()), h('CAP_BPF'))\n"
    out = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(_SRC)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.split() == ["[]", "False"]


def test_cpus() -> None:
    possible = possible_cpus()
    online = online_cpus()
    assert 1 <= len(online) <= possible
    assert all(0 <= cpu < possible for cpu in online)
    assert set(online) >= os.sched_getaffinity(0)


def test_possible_cpus_is_the_kernels_per_cpu_count() -> None:
    """A per-CPU array lookup writes exactly possible_cpus() 8-byte slots, not os.cpu_count()."""
    create = MapCreateAttr()
    create.map_type = MapType.PERCPU_ARRAY
    create.key_size = 4
    create.value_size = 8
    create.max_entries = 1
    with FD(_kernel.bpf(Cmd.MAP_CREATE, create, "creating a per-CPU array")) as map_fd:
        n = possible_cpus()
        key = ctypes.c_uint32(0)
        value = (ctypes.c_uint8 * (8 * (n + 1)))(*([0xFF] * (8 * (n + 1))))
        lookup = MapElemAttr()
        lookup.map_fd = map_fd.fileno()
        lookup.key = ctypes.addressof(key)
        lookup.value = ctypes.addressof(value)
        _kernel.bpf(Cmd.MAP_LOOKUP_ELEM, lookup, "looking up a per-CPU array")
    data = bytes(value)
    assert data[: 8 * n] == bytes(8 * n)  # every possible CPU's zero value
    assert data[8 * n :] == b"\xff" * 8  # and not one slot more


def test_remove_memlock_limit_on_this_kernel() -> None:
    before = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    changed = remove_memlock_limit()
    after = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if kernel_version() >= (5, 11):
        # memcg accounting: nothing to change, and the probe restored the limit.
        assert changed is False
        assert after == before
    else:
        assert changed is True
        assert after == (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    assert remove_memlock_limit() is changed  # cached answer, same result


def test_maps_ignore_a_zero_memlock_limit_on_this_kernel() -> None:
    """The effect remove_memlock_limit() relies on: since 5.11 a zero soft limit does not block maps."""
    if kernel_version() < (5, 11):
        pytest.skip("kernels before 5.11 charge maps to RLIMIT_MEMLOCK")
    original = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, original[1]))
    try:
        create = MapCreateAttr()
        create.map_type = MapType.ARRAY
        create.key_size = 4
        create.value_size = 4096
        create.max_entries = 64
        ret = _kernel.bpf_errno(Cmd.MAP_CREATE, create)
    finally:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, original)
    assert ret >= 0, errno.errorcode.get(-ret, ret)
    os.close(ret)


def test_sysctls() -> None:
    value = unprivileged_bpf_disabled()
    assert value == int(Path("/proc/sys/kernel/unprivileged_bpf_disabled").read_text())
    assert value in (0, 1, 2)
    jit = bpf_jit_enabled()
    jit_file = Path("/proc/sys/net/core/bpf_jit_enable")
    if jit_file.exists():
        assert jit is (int(jit_file.read_text()) != 0)
    else:
        assert jit is None
