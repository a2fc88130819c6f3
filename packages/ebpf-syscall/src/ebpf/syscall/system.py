"""Discovery of the running system: kernel version, kernel symbols, mounts, capabilities, CPUs, rlimits.

Everything here reads ``/proc`` and ``/sys`` when called, never at import.
Each reader has a pure counterpart that takes the text (``parse_mounts``,
``parse_capabilities``, ``parse_cpu_list``, ``upstream_kernel_version``,
``kernel_symbols`` given the lines) so that the formats of every
distribution can be tested without the kernel.

Answers that cannot change while the process runs (the kernel version, the
number of possible CPUs, how the kernel accounts BPF memory) are cached;
the ones that can (mounts, online CPUs, capabilities) are read afresh.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import functools
import logging
import os
import re
import resource
import shlex
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from . import raw
from ._generated import MapCreateAttr, MapType
from .errors import EbpfError, NotSupportedError, ParseError, syscall_error

__all__ = [
    "KALLSYMS",
    "Capability",
    "KernelSymbol",
    "KernelVersion",
    "MountEntry",
    "NotMountedError",
    "bpf_jit_enabled",
    "bpffs_path",
    "cgroup2_path",
    "debugfs_path",
    "effective_capabilities",
    "ensure_bpffs",
    "ensure_tracefs",
    "find_mounts",
    "has_capability",
    "is_on_bpffs",
    "kernel_release",
    "kernel_symbol_addresses",
    "kernel_symbols",
    "kernel_version",
    "online_cpus",
    "parse_capabilities",
    "parse_cpu_list",
    "parse_mounts",
    "possible_cpus",
    "remove_memlock_limit",
    "tracefs_path",
    "unprivileged_bpf_disabled",
    "upstream_kernel_version",
]

logger = logging.getLogger("ebpf.syscall")


# --------------------------------------------------------------------------
# Kernel version
# --------------------------------------------------------------------------

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class KernelVersion(NamedTuple):
    """An upstream kernel version, ordered like a tuple.

    Being a tuple, it compares with plain tuples too:
    ``kernel_version() >= (5, 8)``.

    Examples:
        >>> KernelVersion.parse("6.1.0-18-amd64")
        KernelVersion(major=6, minor=1, patch=0)
        >>> str(KernelVersion(6, 1, 76))
        '6.1.76'
    """

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str, *, exact: bool = False) -> KernelVersion:
        """Parse the leading ``MAJOR.MINOR[.PATCH]`` of ``text``; any suffix is ignored.

        Accepts ``"5.15"``, ``"6.1.0-18-amd64"``, ``"6.18.44-fc-v782"``,
        ``"4.19.0+"``, ``"5.15.0-91-generic"``... With ``exact``, ``text``
        must be the version and nothing else (a feature's first version,
        ``"5.8"``): no suffix, no surrounding space.

        This is the one parser of kernel versions: release strings, first
        versions of features, the test suite's version markers.

        Raises:
            TypeError: ``text`` is not a ``str``.
            ParseError: ``text`` does not start with ``MAJOR.MINOR`` (or, with
                ``exact``, is not ``MAJOR.MINOR[.PATCH]``).
        """
        if not isinstance(text, str):
            raise TypeError(f"a kernel version must be a str, not {type(text).__name__}")
        match = _VERSION_RE.fullmatch(text) if exact else _VERSION_RE.match(text.strip())
        if match is None:
            suffix = "" if exact else "[-suffix]"
            raise ParseError(
                f"not a kernel version: {text!r} (expected MAJOR.MINOR[.PATCH]{suffix}, e.g. '6.1.76')"
            )
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    @property
    def code(self) -> int:
        """``LINUX_VERSION_CODE`` of this version (``KERNEL_VERSION(a, b, c)``).

        The kernel clamps the patch level to 255 since 4.9.256/4.14.218, so
        this does too; it is what a kprobe program's ``kern_version`` must be
        on kernels before 5.0.
        """
        return (self.major << 16) + (self.minor << 8) + min(self.patch, 255)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


# "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)": Debian's release
# string (6.1.0-18-amd64) names the ABI, not the patch level, which only
# the version string carries.
_DEBIAN_RE = re.compile(r"\bDebian (\d+\.\d+(?:\.\d+)?)")


def upstream_kernel_version(release: str, version: str = "", signature: str | None = None) -> KernelVersion:
    """The upstream version of a kernel, from what the kernel and the distribution say.

    Args:
        release: ``uname -r`` (``os.uname().release``), e.g. ``"6.1.0-18-amd64"``.
        version: ``uname -v`` (``os.uname().version``) or ``/proc/version``,
            e.g. ``"#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"``.
        signature: Ubuntu's ``/proc/version_signature``, e.g.
            ``"Ubuntu 5.15.0-91.101-generic 5.15.131"``, or ``None``.

    Ubuntu's signature ends with the upstream version; Debian's version string
    holds the patch level its release string hides; everyone else's release
    string starts with the upstream version.  A distribution's claim is only
    used when its ``MAJOR.MINOR`` matches the release string's, so a compiler
    version in ``/proc/version`` ("gcc (Debian 12.2.0-14)") is never taken.

    Raises:
        ParseError: ``release`` has no version.
    """
    base = KernelVersion.parse(release)
    candidates: list[str] = []
    if signature:
        fields = signature.split()
        if fields:
            candidates.append(fields[-1])
    candidates.extend(match.group(1) for match in _DEBIAN_RE.finditer(version))
    for text in candidates:
        try:
            found = KernelVersion.parse(text)
        except ParseError:
            continue
        if found[:2] == base[:2]:
            return found
    return base


def kernel_release() -> str:
    """The running kernel's release string, as ``uname -r`` prints it."""
    return os.uname().release


@functools.cache
def kernel_version() -> KernelVersion:
    """The running kernel's upstream version (cached).

    See [`upstream_kernel_version()`][ebpf.syscall.system.upstream_kernel_version] for how distribution
    kernels are read.

    Raises:
        ParseError: the release string has no version (never on Linux).
    """
    uname = os.uname()
    try:
        signature: str | None = Path("/proc/version_signature").read_text()
    except OSError:
        signature = None
    result = upstream_kernel_version(uname.release, uname.version, signature)
    logger.debug("kernel version %s (release %r)", result, uname.release)
    return result


# --------------------------------------------------------------------------
# Kernel symbols
# --------------------------------------------------------------------------

#: The kernel's symbol table: ``address type name [module]`` per line.
KALLSYMS = Path("/proc/kallsyms")


class KernelSymbol(NamedTuple):
    """One symbol of ``/proc/kallsyms``.

    Without ``CAP_SYSLOG`` the kernel shows every address as 0
    (``kernel.kptr_restrict``); the names are still there.
    """

    address: int
    #: nm's type letter: ``T``/``t`` code, ``D``/``d`` data, ``B``/``b`` bss...
    kind: str
    name: str
    #: the module that has it (``"nf_tables"``), ``None`` for vmlinux.
    module: str | None = None


def kernel_symbols(
    names: Iterable[str] | None = None,
    *,
    kinds: str | None = None,
    kallsyms: Iterable[str] | None = None,
) -> Iterator[KernelSymbol]:
    """The kernel's symbols in its order, from ``/proc/kallsyms`` (or the lines ``kallsyms``: same format).

    Only those called one of ``names`` and whose type letter is in ``kinds``
    (``"tT"``: code) when given; the others are skipped before they are
    parsed. The file is read while the iterator runs. This is the one
    reader of ``/proc/kallsyms`` in the library.

    Raises:
        OSError: ``/proc/kallsyms`` cannot be read.
        ParseError: a line whose address is not hexadecimal.
    """
    if kallsyms is None:
        with open(KALLSYMS, encoding="utf-8", errors="replace") as lines:
            yield from kernel_symbols(names, kinds=kinds, kallsyms=lines)
        return
    wanted = None if names is None else set(names)
    for line in kallsyms:
        fields = line.split()
        if len(fields) < 3:
            continue
        if (wanted is not None and fields[2] not in wanted) or (kinds is not None and fields[1] not in kinds):
            continue
        try:
            address = int(fields[0], 16)
        except ValueError:
            raise ParseError(f"kallsyms: {line.strip()!r} has no hexadecimal address") from None
        module = fields[3].strip("[]") if len(fields) > 3 else None
        yield KernelSymbol(address, fields[1], fields[2], module)


def kernel_symbol_addresses(names: Iterable[str], kallsyms: Iterable[str] | None = None) -> dict[str, int]:
    """The address of each of ``names`` that is a kernel symbol; names not found are left out.

    A name listed more than once (static functions of several files) gets
    its first address, as libbpf takes it. See
    [`kernel_symbols()`][ebpf.syscall.system.kernel_symbols] for ``kallsyms``.

    Raises:
        OSError: ``/proc/kallsyms`` cannot be read.
        ParseError: a line whose address is not hexadecimal.
    """
    wanted = set(names)
    found: dict[str, int] = {}
    if wanted:
        for symbol in kernel_symbols(wanted, kallsyms=kallsyms):
            found.setdefault(symbol.name, symbol.address)
    return found


# --------------------------------------------------------------------------
# Mounts
# --------------------------------------------------------------------------


class MountEntry(NamedTuple):
    """One line of ``/proc/self/mounts``."""

    source: str
    mountpoint: Path
    fstype: str
    options: tuple[str, ...]


class NotMountedError(EbpfError):
    """A filesystem the library needs (bpffs, tracefs) is not mounted.

    Attributes:
        fstype: the filesystem type (``"bpf"``, ``"tracefs"``).
        path: where it was expected.
        command: the shell command that mounts it.
    """

    def __init__(self, fstype: str, path: str, command: str, detail: str = "") -> None:
        self.fstype = fstype
        self.path = path
        self.command = command
        message = f"no {fstype} filesystem is mounted at {path}"
        if detail:
            message += f" ({detail})"
        message += f"; mount it with `{command}` (as root)"
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.fstype, self.path, self.command))


# The kernel writes mount points and sources with seq_escape(), which turns
# space, tab, newline and backslash into three-digit octal escapes (\040...).
_OCTAL_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mounts(text: str) -> list[MountEntry]:
    """Parse the text of ``/proc/self/mounts`` (the ``fstab`` format).

    Octal escapes (``\\040`` for a space) in the source and the mount point
    are decoded; blank lines are skipped.

    Raises:
        ParseError: a line has fewer than four fields.
    """
    entries: list[MountEntry] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 4:
            raise ParseError(f"mount table line {lineno}: expected at least 4 fields, got {line!r}")
        source, mountpoint, fstype, options = fields[:4]
        entries.append(
            MountEntry(_unescape(source), Path(_unescape(mountpoint)), fstype, tuple(options.split(",")))
        )
    return entries


def _mounts() -> list[MountEntry]:
    # Mount points may hold any bytes but '/' and NUL: decode like os.fsdecode
    # so that odd names round-trip to the same bytes when used as paths.
    return parse_mounts(os.fsdecode(Path("/proc/self/mounts").read_bytes()))


def find_mounts(fstype: str) -> list[Path]:
    """The mount points of every filesystem of type ``fstype``, in mount order, without repeats.

    Raises:
        OSError: ``/proc/self/mounts`` cannot be read (``/proc`` not mounted).
    """
    found: list[Path] = []
    for entry in _mounts():
        if entry.fstype == fstype and entry.mountpoint not in found:
            found.append(entry.mountpoint)
    return found


def _preferred_mount(fstype: str, preferred: tuple[str, ...]) -> Path | None:
    mounts = find_mounts(fstype)
    for candidate in preferred:
        if Path(candidate) in mounts:
            return Path(candidate)
    return mounts[0] if mounts else None


def bpffs_path() -> Path | None:
    """Where the BPF filesystem is mounted (``/sys/fs/bpf`` preferred), or ``None``."""
    return _preferred_mount("bpf", ("/sys/fs/bpf",))


def debugfs_path() -> Path | None:
    """Where debugfs is mounted (``/sys/kernel/debug`` preferred), or ``None``."""
    return _preferred_mount("debugfs", ("/sys/kernel/debug",))


def cgroup2_path() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted, or ``None``.

    Pure v2 systems mount it at ``/sys/fs/cgroup``; hybrid ones (systemd with
    v1 controllers) at ``/sys/fs/cgroup/unified``; both are preferred, in that
    order, to any other mount point.
    """
    return _preferred_mount("cgroup2", ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"))


def tracefs_path() -> Path | None:
    """Where tracefs can be reached, or ``None``.

    tracefs is mounted on its own at ``/sys/kernel/tracing`` since Linux 4.1;
    older setups reach it through debugfs, which mounts it automatically at
    ``<debugfs>/tracing`` on first access.
    """
    path = _preferred_mount("tracefs", ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))
    if path is not None:
        return path
    debugfs = debugfs_path()
    if debugfs is not None and (debugfs / "tracing").is_dir():  # triggers the automount
        return debugfs / "tracing"
    return None


def _mount_of(path: Path, entries: list[MountEntry]) -> MountEntry | None:
    """The mount whose filesystem ``path`` lies on: the longest mount point above it, latest wins."""
    best: MountEntry | None = None
    for entry in entries:
        if (entry.mountpoint == path or entry.mountpoint in path.parents) and (
            best is None or len(entry.mountpoint.parts) >= len(best.mountpoint.parts)
        ):
            best = entry
    return best


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.mount.restype = ctypes.c_int
    return libc


# The first kernel version of each filesystem, for NotSupportedError (ENODEV
# from mount(2) means the kernel does not know the filesystem type).
_FS_VERSIONS = {"bpf": "4.4", "tracefs": "4.1"}


# MS_NOSUID | MS_NODEV | MS_NOEXEC, as systemd mounts bpffs and tracefs.
_MOUNT_FLAGS = 0x2 | 0x4 | 0x8


def _mount(source: str, target: Path, fstype: str, data: str | None) -> None:
    """``mount(source, target, fstype, nosuid|nodev|noexec, data)``, creating ``target`` when missing.

    Raises:
        PermissionDeniedError: without ``CAP_SYS_ADMIN``.
        NotSupportedError: the kernel lacks the filesystem.
        BpfSyscallError: any other failure.
    """
    context = f"mounting {fstype} at {target}"
    if not target.is_dir():
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise syscall_error(exc.errno or errno.EIO, "mkdir", context, capability="CAP_SYS_ADMIN") from exc
    ret = _libc().mount(
        source.encode(),
        os.fsencode(target),
        fstype.encode(),
        _MOUNT_FLAGS,
        data.encode() if data is not None else None,
    )
    if ret != 0:
        err = ctypes.get_errno()
        if err == errno.ENODEV:
            raise NotSupportedError(f"{fstype} filesystem", _FS_VERSIONS.get(fstype), context)
        raise syscall_error(err, "mount", context, capability="CAP_SYS_ADMIN")
    logger.info("mounted %s at %s", fstype, target)


def is_on_bpffs(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (or, when it does not exist yet, the directory it would be created in) lies on a
    BPF filesystem, where objects can be pinned.

    Raises:
        OSError: ``/proc/self/mounts`` cannot be read.
    """
    target = Path(os.path.realpath(os.fspath(path)))
    entry = _mount_of(target, _mounts())
    return entry is not None and entry.fstype == "bpf"


def ensure_bpffs(path: str | os.PathLike[str] = "/sys/fs/bpf", *, mount: bool = False) -> Path:
    """Make sure ``path`` lies on a BPF filesystem (where objects can be pinned) and return it.

    Args:
        path: the directory; it may be a bpffs mount point or a directory
            inside one.
        mount: mount bpffs at ``path`` when it is not on one (needs
            ``CAP_SYS_ADMIN``), instead of raising.

    Raises:
        NotMountedError: ``path`` is not on bpffs and ``mount`` is false; the
            message gives the ``mount -t bpf ...`` command.
        PermissionDeniedError: mounting needs ``CAP_SYS_ADMIN``.
        NotSupportedError: the kernel has no bpffs.
        BpfSyscallError: mounting failed otherwise.
    """
    target = Path(os.path.realpath(os.fspath(path)))
    entries = _mounts()
    entry = _mount_of(target, entries)
    if entry is not None and entry.fstype == "bpf":
        return target
    if not mount:
        elsewhere = [str(e.mountpoint) for e in entries if e.fstype == "bpf"]
        detail = f"bpffs is mounted at {', '.join(elsewhere)}" if elsewhere else ""
        raise NotMountedError("bpf", str(target), f"mount -t bpf bpf {shlex.quote(str(target))}", detail)
    _mount("bpf", target, "bpf", "mode=0700")
    return target


def ensure_tracefs(*, mount: bool = False, path: str | os.PathLike[str] = "/sys/kernel/tracing") -> Path:
    """Return where tracefs can be reached, mounting it at ``path`` if asked.

    Args:
        mount: mount tracefs at ``path`` when it is nowhere to be found
            (needs ``CAP_SYS_ADMIN``), instead of raising.
        path: where to mount it.

    Raises:
        NotMountedError: tracefs is not reachable and ``mount`` is false; the
            message gives the ``mount -t tracefs ...`` command.
        PermissionDeniedError: mounting needs ``CAP_SYS_ADMIN``.
        NotSupportedError: the kernel has no tracefs.
        BpfSyscallError: mounting failed otherwise.
    """
    found = tracefs_path()
    if found is not None:
        return found
    target = Path(os.path.realpath(os.fspath(path)))
    if not mount:
        raise NotMountedError("tracefs", str(target), f"mount -t tracefs tracefs {shlex.quote(str(target))}")
    _mount("tracefs", target, "tracefs", None)
    return target


# --------------------------------------------------------------------------
# Capabilities
# --------------------------------------------------------------------------


class Capability(enum.IntEnum):
    """Linux capabilities (``linux/capability.h``), by bit number, without the ``CAP_`` prefix."""

    CHOWN = 0
    DAC_OVERRIDE = 1
    DAC_READ_SEARCH = 2
    FOWNER = 3
    FSETID = 4
    KILL = 5
    SETGID = 6
    SETUID = 7
    SETPCAP = 8
    LINUX_IMMUTABLE = 9
    NET_BIND_SERVICE = 10
    NET_BROADCAST = 11
    NET_ADMIN = 12
    NET_RAW = 13
    IPC_LOCK = 14
    IPC_OWNER = 15
    SYS_MODULE = 16
    SYS_RAWIO = 17
    SYS_CHROOT = 18
    SYS_PTRACE = 19
    SYS_PACCT = 20
    SYS_ADMIN = 21
    SYS_BOOT = 22
    SYS_NICE = 23
    SYS_RESOURCE = 24
    SYS_TIME = 25
    SYS_TTY_CONFIG = 26
    MKNOD = 27
    LEASE = 28
    AUDIT_WRITE = 29
    AUDIT_CONTROL = 30
    SETFCAP = 31
    MAC_OVERRIDE = 32
    MAC_ADMIN = 33
    SYSLOG = 34
    WAKE_ALARM = 35
    BLOCK_SUSPEND = 36
    AUDIT_READ = 37
    PERFMON = 38
    BPF = 39
    CHECKPOINT_RESTORE = 40

    @property
    def cap_name(self) -> str:
        """The name with its prefix, ``"CAP_BPF"``."""
        return f"CAP_{self.name}"


def _capability_name(bit: int) -> str:
    try:
        return Capability(bit).cap_name
    except ValueError:
        return f"CAP_{bit}"  # a capability newer than this table


def parse_capabilities(status: str, field: str = "CapEff") -> frozenset[str]:
    """The capability names set in ``field`` of a ``/proc/<pid>/status`` text.

    Bits this table does not know are named ``CAP_<bit>``.

    Raises:
        ValueError: ``field`` is not one of CapInh, CapPrm, CapEff, CapBnd, CapAmb.
        ParseError: the field is missing or not hexadecimal.
    """
    fields = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
    if field not in fields:
        raise ValueError(f"unknown capability set {field!r}; expected one of {', '.join(fields)}")
    prefix = f"{field}:"
    for line in status.splitlines():
        if line.startswith(prefix):
            value = line[len(prefix) :].strip()
            try:
                mask = int(value, 16)
            except ValueError:
                raise ParseError(f"{field} in /proc status: {value!r} is not a hexadecimal mask") from None
            if mask < 0:
                raise ParseError(f"{field} in /proc status: {value!r} is negative")
            return frozenset(_capability_name(bit) for bit in range(mask.bit_length()) if mask >> bit & 1)
    raise ParseError(f"no {field} line in /proc status")


def effective_capabilities() -> frozenset[str]:
    """The names of this thread's effective capabilities (``{"CAP_BPF", ...}``).

    Raises:
        OSError: ``/proc/thread-self/status`` cannot be read.
        ParseError: it has no readable ``CapEff`` line.
    """
    # Capabilities are per thread; thread-self (Linux 3.17) names the caller.
    status = Path("/proc/thread-self/status")
    if not status.exists():
        status = Path("/proc/self/status")
    return parse_capabilities(status.read_text())


def has_capability(name: str | Capability) -> bool:
    """Whether this thread has the effective capability ``name``.

    ``name`` is a [`Capability`][ebpf.syscall.system.Capability] or its name, with or without the
    ``CAP_`` prefix, in any case (``"CAP_BPF"``, ``"bpf"``).

    Raises:
        ValueError: ``name`` is not a known capability.
    """
    if isinstance(name, Capability):
        cap = name
    elif isinstance(name, str):
        key = name.upper().removeprefix("CAP_")
        try:
            cap = Capability[key]
        except KeyError:
            known = ", ".join(c.cap_name for c in Capability)
            raise ValueError(f"unknown capability {name!r}; expected one of {known}") from None
    else:
        raise TypeError(f"a capability must be a str or Capability, not {type(name).__name__}")
    return cap.cap_name in effective_capabilities()


# --------------------------------------------------------------------------
# CPUs
# --------------------------------------------------------------------------


_CPU_RANGE_RE = re.compile(r"([0-9]+)(?:-([0-9]+))?")
# No kernel configuration allows more CPUs (x86 MAXSMP is 8192); the bound
# keeps a corrupt list from expanding into an unbounded Python list.
_MAX_CPUS = 1 << 16


def parse_cpu_list(text: str) -> list[int]:
    """Parse a kernel CPU list (``"0-3,5,7-8"``) into sorted, distinct CPU numbers.

    An empty list (``""``, as in ``/sys/devices/system/cpu/offline``) is valid.

    Raises:
        ParseError: ``text`` is not a comma-separated list of ``N`` and ``N-M`` (``N <= M``).
    """
    text = text.strip()
    if not text:
        return []
    cpus: set[int] = set()
    for item in text.split(","):
        match = _CPU_RANGE_RE.fullmatch(item)
        if match is None:
            raise ParseError(f"CPU list {text!r}: {item!r} is not N or N-M")
        start = int(match.group(1))
        end = int(match.group(2) or start)
        if end < start:
            raise ParseError(f"CPU list {text!r}: range {item!r} ends before it starts")
        if end >= _MAX_CPUS:
            raise ParseError(f"CPU list {text!r}: CPU {end} is beyond any kernel's NR_CPUS ({_MAX_CPUS})")
        cpus.update(range(start, end + 1))
    return sorted(cpus)


@functools.cache
def possible_cpus() -> int:
    """How many CPUs the kernel may ever bring up: the element count of per-CPU map values (cached).

    This is ``num_possible_cpus()``, read from ``/sys/devices/system/cpu/possible``;
    it may exceed the online and even the present CPUs, and it is what the
    kernel uses for per-CPU values, unlike ``os.cpu_count()``.

    Raises:
        OSError: the file cannot be read.
        ParseError: its content is malformed.
    """
    return len(parse_cpu_list(Path("/sys/devices/system/cpu/possible").read_text()))


def online_cpus() -> list[int]:
    """The numbers of the CPUs online now (``/sys/devices/system/cpu/online``).

    Raises:
        OSError: the file cannot be read.
        ParseError: its content is malformed.
    """
    return parse_cpu_list(Path("/sys/devices/system/cpu/online").read_text())


# --------------------------------------------------------------------------
# Memlock rlimit
# --------------------------------------------------------------------------

_memlock_lock = threading.Lock()


class _MemlockState:
    # Whether the kernel uses memcg accounting; None until a detection was conclusive.
    memcg_accounting: bool | None = None


def _create_probe_map() -> int:
    """Create a one-element array map, close it, and return 0 or ``-errno``."""
    ret = raw.map_create(MapCreateAttr(map_type=MapType.ARRAY, key_size=4, value_size=4, max_entries=1))
    if ret >= 0:
        os.close(ret)
        return 0
    return ret


def _detect_memcg_accounting() -> bool:
    """Whether the kernel charges BPF memory to the memory cgroup (5.11+) rather than RLIMIT_MEMLOCK.

    Raises:
        BpfSyscallError: a map cannot be created even with the original limit.
    """
    # Before 5.11 every map and program is charged to RLIMIT_MEMLOCK and the
    # kernel fails with EPERM when the charge exceeds it; since 5.11 (commit
    # "bpf: eliminate rlimit-based memory accounting") memory is charged to
    # the memory cgroup and the rlimit is ignored. So: with a soft limit of 0,
    # creating a tiny map succeeds only under memcg accounting. Only the soft
    # limit is lowered: lowering the hard limit cannot be undone without
    # CAP_SYS_RESOURCE. Other threads creating maps meanwhile on an old kernel
    # would fail, hence the lock (which only covers this library's callers).
    original = resource.prlimit(0, resource.RLIMIT_MEMLOCK)
    try:
        resource.prlimit(0, resource.RLIMIT_MEMLOCK, (0, original[1]))
    except OSError as exc:
        raise syscall_error(exc.errno or errno.EPERM, "setrlimit", "lowering RLIMIT_MEMLOCK") from exc
    try:
        ret = _create_probe_map()
    finally:
        resource.prlimit(0, resource.RLIMIT_MEMLOCK, original)
    if ret == 0:
        return True
    # EPERM may also mean "no CAP_BPF": retry with the limit restored to tell
    # the two apart, and give no answer (nothing cached) if that fails too.
    again = _create_probe_map()
    if again < 0:
        raise syscall_error(-again, "BPF_MAP_CREATE", "detecting how the kernel accounts BPF memory")
    if ret != -errno.EPERM:
        logger.debug("memlock probe failed with errno %d under a zero rlimit", -ret)
    return False


def remove_memlock_limit() -> bool:
    """Lift ``RLIMIT_MEMLOCK`` if (and only if) the kernel charges BPF memory to it.

    Kernels before 5.11 charge maps and programs to the locked-memory rlimit
    (often 64 KiB or 8 MiB), so loading anything sizeable fails with
    ``EPERM``; newer kernels use memory cgroup accounting and ignore it. The
    answer is detected once (like cilium/ebpf's ``rlimit.RemoveMemlock``) by
    creating a tiny map under a zero soft limit, then cached.

    Returns:
        ``True`` if the kernel uses the rlimit and it is now unlimited;
        ``False`` if memcg accounting makes it irrelevant (nothing changed).

    Raises:
        PermissionDeniedError: raising the hard limit needs ``CAP_SYS_RESOURCE``,
            or creating a map needs ``CAP_BPF``.
        BpfSyscallError: another failure.
    """
    with _memlock_lock:
        if _MemlockState.memcg_accounting is None:
            _MemlockState.memcg_accounting = _detect_memcg_accounting()
            logger.debug(
                "BPF memory accounting: %s", "memcg" if _MemlockState.memcg_accounting else "RLIMIT_MEMLOCK"
            )
        if _MemlockState.memcg_accounting:
            return False
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        if resource.prlimit(0, resource.RLIMIT_MEMLOCK) != unlimited:
            try:
                resource.prlimit(0, resource.RLIMIT_MEMLOCK, unlimited)
            except OSError as exc:
                raise syscall_error(
                    exc.errno or errno.EPERM,
                    "setrlimit",
                    "raising RLIMIT_MEMLOCK to unlimited",
                    capability="CAP_SYS_RESOURCE",
                ) from exc
            logger.info("raised RLIMIT_MEMLOCK to unlimited (kernel charges BPF memory to it)")
        return True


# --------------------------------------------------------------------------
# Sysctls
# --------------------------------------------------------------------------


def _read_sysctl_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def unprivileged_bpf_disabled() -> int | None:
    """``kernel.unprivileged_bpf_disabled``: 0 allowed, 1 disabled for good, 2 disabled (changeable).

    ``None`` when the sysctl does not exist (kernels before 4.4) or cannot be read.
    """
    return _read_sysctl_int("/proc/sys/kernel/unprivileged_bpf_disabled")


def bpf_jit_enabled() -> bool | None:
    """Whether the BPF JIT compiler is on (``net.core.bpf_jit_enable`` is 1 or 2).

    ``None`` when the sysctl cannot be read: the kernel was built without a
    JIT, or this process is in a network namespace other than the initial
    one, where the sysctl is not visible.
    """
    value = _read_sysctl_int("/proc/sys/net/core/bpf_jit_enable")
    return None if value is None else value != 0
