"""System discovery parsers: kernel versions and symbols, mounts, capabilities, CPU lists, memlock logic."""

from __future__ import annotations

import errno
import resource
from pathlib import Path

import pytest

from ebpf.syscall import system
from ebpf.syscall.errors import ParseError, PermissionDeniedError
from ebpf.syscall.system import (
    Capability,
    KernelSymbol,
    KernelVersion,
    MountEntry,
    NotMountedError,
    has_capability,
    kernel_symbol_addresses,
    kernel_symbols,
    parse_capabilities,
    parse_cpu_list,
    parse_mounts,
    upstream_kernel_version,
)

# --- kernel versions -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.15", (5, 15, 0)),
        ("6.1.0-18-amd64", (6, 1, 0)),
        ("6.18.44-fc-v782", (6, 18, 44)),
        ("4.19.0+", (4, 19, 0)),
        ("5.15.0-91-generic", (5, 15, 0)),
        ("6.7.4-200.fc39.x86_64", (6, 7, 4)),
        ("6.7.4-arch1-1", (6, 7, 4)),
        ("5.10.209-198.858.amzn2.x86_64", (5, 10, 209)),
        (" 6.8.0\n", (6, 8, 0)),
    ],
)
def test_kernel_version_parse(text: str, expected: tuple[int, int, int]) -> None:
    assert KernelVersion.parse(text) == expected


@pytest.mark.parametrize("text", ["", "6", "linux-6.1", "v6.1", "abc", "6."])
def test_kernel_version_parse_rejects(text: str) -> None:
    with pytest.raises(ParseError, match=r"MAJOR\.MINOR"):
        KernelVersion.parse(text)


def test_kernel_version_parse_exact() -> None:
    assert KernelVersion.parse("5.8", exact=True) == (5, 8, 0)
    assert KernelVersion.parse("4.14.1", exact=True) == (4, 14, 1)
    for text in ("5.8-rc1", " 5.8", "5.8.1.2", "6.1.0-18-amd64"):
        with pytest.raises(ParseError, match="not a kernel version"):
            KernelVersion.parse(text, exact=True)


def test_kernel_symbol_addresses_from_lines() -> None:
    lines = [
        "ffffffff81000000 T _stext",
        "ffffffff81001000 t helper",
        "ffffffff81002000 t helper",  # a static function of two files: the first wins, as in libbpf
        "ffffffffc0001000 t nft_do_chain\t[nf_tables]",
        "",
        "0000000000000000 D runqueues",  # kptr_restrict: the name is still found
    ]
    found = kernel_symbol_addresses(["helper", "nft_do_chain", "runqueues", "missing"], lines)
    assert found == {"helper": 0xFFFFFFFF81001000, "nft_do_chain": 0xFFFFFFFFC0001000, "runqueues": 0}
    assert kernel_symbol_addresses([], ["garbage"]) == {}
    code = list(kernel_symbols(kinds="tT", kallsyms=lines))
    assert [symbol.name for symbol in code] == ["_stext", "helper", "helper", "nft_do_chain"]
    assert code[-1] == KernelSymbol(0xFFFFFFFFC0001000, "t", "nft_do_chain", "nf_tables")
    assert code[0].module is None
    with pytest.raises(ParseError, match="hexadecimal"):
        kernel_symbol_addresses(["x"], ["zz T x"])


def test_kernel_version_parse_type() -> None:
    with pytest.raises(TypeError):
        KernelVersion.parse(6.1)  # type: ignore[arg-type]


def test_kernel_version_compare_and_str() -> None:
    v = KernelVersion(6, 1, 76)
    assert str(v) == "6.1.76"
    assert v > KernelVersion(6, 1, 0)
    assert v < KernelVersion(6, 2)
    assert v >= (5, 8)
    assert v < (6, 2)
    assert KernelVersion(5, 8) == KernelVersion.parse("5.8.0")
    assert sorted([KernelVersion(5, 10), KernelVersion(4, 19, 300), KernelVersion(5, 4)])[0] == (4, 19, 300)


def test_kernel_version_code_clamps_patch() -> None:
    assert KernelVersion(5, 4, 0).code == 0x050400
    assert KernelVersion(4, 9, 300).code == (4 << 16) + (9 << 8) + 255


def test_ubuntu_signature() -> None:
    v = upstream_kernel_version(
        "5.15.0-91-generic",
        "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023",
        "Ubuntu 5.15.0-91.101-generic 5.15.131\n",
    )
    assert v == (5, 15, 131)


def test_debian_version_string() -> None:
    v = upstream_kernel_version("6.1.0-18-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)")
    assert v == (6, 1, 76)


def test_debian_backports() -> None:
    v = upstream_kernel_version(
        "6.6.13+bpo-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.6.13-1~bpo12+1 (2024-02-15)"
    )
    assert v == (6, 6, 13)


def test_debian_proc_version_ignores_compiler() -> None:
    proc_version = (
        "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
        "GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
    )
    assert upstream_kernel_version("6.1.0-18-amd64", proc_version) == (6, 1, 76)


def test_inconsistent_claims_fall_back_to_release() -> None:
    assert upstream_kernel_version("6.1.0-18-amd64", "#1 SMP Debian 12.2.0-14", "Ubuntu x 5.4.0") == (6, 1, 0)
    assert upstream_kernel_version("6.1.0", "", "Ubuntu garbage") == (6, 1, 0)


@pytest.mark.parametrize(
    ("release", "expected"),
    [("6.7.4-200.fc39.x86_64", (6, 7, 4)), ("6.18.44-fc-v782", (6, 18, 44)), ("4.19.0+", (4, 19, 0))],
)
def test_plain_release(release: str, expected: tuple[int, int, int]) -> None:
    assert upstream_kernel_version(release, "#1 SMP PREEMPT_DYNAMIC Thu Feb  1 03:03:25 UTC 2024") == expected


# --- mounts ----------------------------------------------------------------

MOUNTS = r"""proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
bpf /sys/fs/bpf bpf rw,relatime,mode=700 0 0
tracefs /sys/kernel/tracing tracefs rw,relatime 0 0
debugfs /sys/kernel/debug debugfs rw,relatime 0 0
/dev/sda1 /mnt/my\040disk\011tab\134back ext4 rw 0 0

bpf /run/other\040bpf bpf rw 0 0
"""


def test_parse_mounts() -> None:
    entries = parse_mounts(MOUNTS)
    assert len(entries) == 8
    assert entries[0] == MountEntry("proc", Path("/proc"), "proc", ("rw", "relatime"))
    assert entries[3].options == ("rw", "relatime", "mode=700")
    assert entries[6].mountpoint == Path("/mnt/my disk\ttab\\back")
    assert entries[7].mountpoint == Path("/run/other bpf")


def test_parse_mounts_rejects_short_lines() -> None:
    with pytest.raises(ParseError, match="line 2"):
        parse_mounts("proc /proc proc rw 0 0\ngarbage here\n")


@pytest.fixture
def fake_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "_mounts", lambda: parse_mounts(MOUNTS))


@pytest.mark.usefixtures("fake_mounts")
def test_mount_lookups() -> None:
    assert system.find_mounts("bpf") == [Path("/sys/fs/bpf"), Path("/run/other bpf")]
    assert system.find_mounts("nfs") == []
    assert system.bpffs_path() == Path("/sys/fs/bpf")
    assert system.tracefs_path() == Path("/sys/kernel/tracing")
    assert system.debugfs_path() == Path("/sys/kernel/debug")
    assert system.cgroup2_path() == Path("/sys/fs/cgroup/unified")


def test_preferred_cgroup2(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "cgroup2 /custom cgroup2 rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
    monkeypatch.setattr(system, "_mounts", lambda: parse_mounts(text))
    assert system.cgroup2_path() == Path("/sys/fs/cgroup")
    monkeypatch.setattr(system, "_mounts", lambda: parse_mounts("cgroup2 /custom cgroup2 rw 0 0\n"))
    assert system.cgroup2_path() == Path("/custom")
    monkeypatch.setattr(system, "_mounts", lambda: parse_mounts("proc /proc proc rw 0 0\n"))
    assert system.cgroup2_path() is None
    assert system.bpffs_path() is None


@pytest.mark.usefixtures("fake_mounts")
def test_ensure_bpffs_accepts_mount_and_subdirectory() -> None:
    assert system.ensure_bpffs("/sys/fs/bpf") == Path("/sys/fs/bpf")
    assert system.ensure_bpffs("/sys/fs/bpf/myapp/maps") == Path("/sys/fs/bpf/myapp/maps")


@pytest.mark.usefixtures("fake_mounts")
def test_ensure_bpffs_not_mounted_names_the_command() -> None:
    with pytest.raises(NotMountedError) as info:
        system.ensure_bpffs("/sys/fs/other")
    assert info.value.command == "mount -t bpf bpf /sys/fs/other"
    assert "mount -t bpf bpf /sys/fs/other" in str(info.value)
    assert "/sys/fs/bpf" in str(info.value)  # says where bpffs is mounted instead


def test_ensure_tracefs_not_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "_mounts", lambda: parse_mounts("proc /proc proc rw 0 0\n"))
    with pytest.raises(NotMountedError, match=r"mount -t tracefs tracefs /sys/kernel/tracing"):
        system.ensure_tracefs()


def test_tracefs_through_debugfs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tracing").mkdir()
    monkeypatch.setattr(system, "_mounts", lambda: parse_mounts(f"debugfs {tmp_path} debugfs rw 0 0\n"))
    assert system.tracefs_path() == tmp_path / "tracing"


# --- capabilities ----------------------------------------------------------

STATUS = """Name:\tpython3
CapInh:\t0000000000000000
CapPrm:\t000001ffffffffff
CapEff:\t000001fffeffffff
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
"""


def test_capability_numbers() -> None:
    numbers = {cap.cap_name: int(cap) for cap in Capability}
    assert numbers["CAP_BPF"] == 39
    assert numbers["CAP_PERFMON"] == 38
    assert numbers["CAP_NET_ADMIN"] == 12
    assert numbers["CAP_SYS_ADMIN"] == 21
    assert numbers["CAP_SYS_RESOURCE"] == 24
    assert numbers["CAP_CHECKPOINT_RESTORE"] == 40
    assert Capability.BPF.cap_name == "CAP_BPF"
    assert [c.value for c in Capability] == list(range(41))


def test_parse_capabilities() -> None:
    eff = parse_capabilities(STATUS)
    assert {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"} <= eff
    assert "CAP_SYS_RESOURCE" not in eff
    assert len(eff) == 40
    assert "CAP_SYS_RESOURCE" in parse_capabilities(STATUS, "CapPrm")
    assert parse_capabilities(STATUS, "CapAmb") == frozenset()


def test_parse_capabilities_unknown_bits() -> None:
    assert parse_capabilities("CapEff:\t0000080000000001\n") == {"CAP_CHOWN", "CAP_43"}


def test_parse_capabilities_errors() -> None:
    with pytest.raises(ParseError, match="no CapEff"):
        parse_capabilities("Name: x\n")
    with pytest.raises(ParseError, match="hexadecimal"):
        parse_capabilities("CapEff:\tzz\n")
    with pytest.raises(ValueError, match="CapInh, CapPrm"):
        parse_capabilities(STATUS, "CapFoo")


def test_has_capability_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "effective_capabilities", lambda: parse_capabilities(STATUS))
    assert has_capability("CAP_BPF")
    assert has_capability("bpf")
    assert has_capability(Capability.PERFMON)
    assert not has_capability("CAP_SYS_RESOURCE")
    with pytest.raises(ValueError, match="CAP_BPF"):
        has_capability("CAP_FLY")
    with pytest.raises(TypeError):
        has_capability(39)  # type: ignore[arg-type]


# --- CPUs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-3\n", [0, 1, 2, 3]),
        ("0-3,5-7", [0, 1, 2, 3, 5, 6, 7]),
        ("0", [0]),
        ("0,2,4", [0, 2, 4]),
        ("1-1", [1]),
        ("", []),
        ("\n", []),
        ("4-5,0-1", [0, 1, 4, 5]),
    ],
)
def test_parse_cpu_list(text: str, expected: list[int]) -> None:
    assert parse_cpu_list(text) == expected


@pytest.mark.parametrize(
    "text", ["a", "3-1", "-1", "0-", ",", "0,,1", "0-3:2/4", "1 2", "0x1", "0-3,", "\u0663", "0-99999999999"]
)
def test_parse_cpu_list_garbage(text: str) -> None:
    with pytest.raises(ParseError, match="CPU list"):
        parse_cpu_list(text)


# --- memlock ---------------------------------------------------------------


def _as_number(limit: int) -> float:
    # Python spells RLIM_INFINITY as -1.
    return float("inf") if limit == resource.RLIM_INFINITY else limit


class FakeRlimit:
    """A fake RLIMIT_MEMLOCK and a fake map creation for the detection logic."""

    def __init__(self, soft: int, hard: int, *, memcg: bool, allow_raise: bool = True) -> None:
        self.limit = (soft, hard)
        self.memcg = memcg
        self.allow_raise = allow_raise
        self.probes: list[tuple[int, int]] = []

    def prlimit(self, pid: int, res: int, new: tuple[int, int] | None = None) -> tuple[int, int]:
        assert pid == 0
        assert res == resource.RLIMIT_MEMLOCK
        old = self.limit
        if new is not None:
            soft, hard = (_as_number(v) for v in new)
            if hard > _as_number(old[1]) and not self.allow_raise:
                raise PermissionError(errno.EPERM, "Operation not permitted")
            assert soft <= hard
            self.limit = new
        return old

    def create(self) -> int:
        self.probes.append(self.limit)
        return 0 if self.memcg or self.limit[0] > 0 else -errno.EPERM


@pytest.fixture
def fresh_memlock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system._MemlockState, "memcg_accounting", None)


def _install(monkeypatch: pytest.MonkeyPatch, fake: FakeRlimit) -> None:
    monkeypatch.setattr(resource, "prlimit", fake.prlimit)
    monkeypatch.setattr(system, "_create_probe_map", fake.create)


@pytest.mark.usefixtures("fresh_memlock")
def test_memcg_kernel_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRlimit(8 << 20, 8 << 20, memcg=True)
    _install(monkeypatch, fake)
    assert system.remove_memlock_limit() is False
    assert fake.limit == (8 << 20, 8 << 20)
    assert fake.probes == [(0, 8 << 20)]  # only the soft limit was lowered
    assert system.remove_memlock_limit() is False
    assert len(fake.probes) == 1  # cached


@pytest.mark.usefixtures("fresh_memlock")
def test_rlimit_kernel_raises_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRlimit(64 << 10, 64 << 10, memcg=False)
    _install(monkeypatch, fake)
    assert system.remove_memlock_limit() is True
    assert fake.limit == (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    assert fake.probes == [(0, 64 << 10), (64 << 10, 64 << 10)]


@pytest.mark.usefixtures("fresh_memlock")
def test_rlimit_kernel_without_cap_sys_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRlimit(64 << 10, 64 << 10, memcg=False, allow_raise=False)
    _install(monkeypatch, fake)
    with pytest.raises(PermissionDeniedError, match="CAP_SYS_RESOURCE"):
        system.remove_memlock_limit()
    assert fake.limit == (64 << 10, 64 << 10)


@pytest.mark.usefixtures("fresh_memlock")
def test_no_cap_bpf_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRlimit(64 << 10, 64 << 10, memcg=True)
    _install(monkeypatch, fake)
    monkeypatch.setattr(system, "_create_probe_map", lambda: -errno.EPERM)
    with pytest.raises(PermissionDeniedError, match="BPF_MAP_CREATE"):
        system.remove_memlock_limit()
    assert fake.limit == (64 << 10, 64 << 10)
    assert system._MemlockState.memcg_accounting is None  # nothing cached


@pytest.mark.usefixtures("fresh_memlock")
def test_limit_restored_when_probe_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRlimit(8 << 20, 8 << 20, memcg=True)
    _install(monkeypatch, fake)

    def boom() -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(system, "_create_probe_map", boom)
    with pytest.raises(RuntimeError):
        system.remove_memlock_limit()
    assert fake.limit == (8 << 20, 8 << 20)
