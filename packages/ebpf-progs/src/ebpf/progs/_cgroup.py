"""cgroup v2 programs: every cgroup hook, links with a ``BPF_PROG_ATTACH`` fallback, queries, helpers."""

from __future__ import annotations

import os
from pathlib import Path

from ebpf.syscall import (
    FD,
    AttachFlags,
    AttachType,
    HasFileno,
    LinkType,
    NotMountedError,
    ProgType,
    commands,
    fileno_of,
    system,
)
from ebpf.syscall.commands import ProgQueryResult
from ebpf.syscall.flags import QueryFlags

from ._checks import require_type
from ._link import BpfLink, Link, ProgAttachLink
from ._link_support import has_link_type
from ._program import Program
from ._section_names import parse_attach_type

__all__ = [
    "CGROUP_ATTACH_TYPES",
    "attach_cgroup",
    "cgroup_children",
    "cgroup_exists",
    "cgroup_of",
    "open_cgroup",
    "query_cgroup",
]

A = AttachType

#: The attach types of each cgroup program type.
CGROUP_ATTACH_TYPES: dict[ProgType, frozenset[AttachType]] = {
    ProgType.CGROUP_SKB: frozenset({A.CGROUP_INET_INGRESS, A.CGROUP_INET_EGRESS}),
    ProgType.CGROUP_SOCK: frozenset(
        {
            A.CGROUP_INET_SOCK_CREATE,
            A.CGROUP_INET_SOCK_RELEASE,
            A.CGROUP_INET4_POST_BIND,
            A.CGROUP_INET6_POST_BIND,
        }
    ),
    ProgType.CGROUP_SOCK_ADDR: frozenset(
        {
            A.CGROUP_INET4_BIND,
            A.CGROUP_INET6_BIND,
            A.CGROUP_INET4_CONNECT,
            A.CGROUP_INET6_CONNECT,
            A.CGROUP_UNIX_CONNECT,
            A.CGROUP_UDP4_SENDMSG,
            A.CGROUP_UDP6_SENDMSG,
            A.CGROUP_UNIX_SENDMSG,
            A.CGROUP_UDP4_RECVMSG,
            A.CGROUP_UDP6_RECVMSG,
            A.CGROUP_UNIX_RECVMSG,
            A.CGROUP_INET4_GETPEERNAME,
            A.CGROUP_INET6_GETPEERNAME,
            A.CGROUP_UNIX_GETPEERNAME,
            A.CGROUP_INET4_GETSOCKNAME,
            A.CGROUP_INET6_GETSOCKNAME,
            A.CGROUP_UNIX_GETSOCKNAME,
        }
    ),
    ProgType.SOCK_OPS: frozenset({A.CGROUP_SOCK_OPS}),
    ProgType.CGROUP_DEVICE: frozenset({A.CGROUP_DEVICE}),
    ProgType.CGROUP_SYSCTL: frozenset({A.CGROUP_SYSCTL}),
    ProgType.CGROUP_SOCKOPT: frozenset({A.CGROUP_GETSOCKOPT, A.CGROUP_SETSOCKOPT}),
    ProgType.LSM: frozenset({A.LSM_CGROUP}),
}
_ALL_CGROUP_TYPES = frozenset().union(*CGROUP_ATTACH_TYPES.values())

CgroupLike = str | os.PathLike[str] | HasFileno


def _cgroup2_root() -> Path:
    root = system.cgroup2_path()
    if root is None:
        raise NotMountedError("cgroup2", "/sys/fs/cgroup", "mount -t cgroup2 none /sys/fs/cgroup")
    return root


def cgroup_of(pid: int | None = None) -> Path:
    """The cgroup v2 directory of process ``pid`` (``None``: this process), from ``/proc/<pid>/cgroup``.

    Raises:
        ProcessLookupError: no such process.
        NotMountedError: cgroup v2 is not mounted.
        ValueError: the process is in no cgroup v2 (a v1-only system).
    """
    proc = f"/proc/{'self' if pid is None else int(pid)}/cgroup"
    try:
        text = Path(proc).read_text()
    except FileNotFoundError:
        raise ProcessLookupError(f"no process {pid}") from None
    for line in text.splitlines():
        # The v2 hierarchy is the line with id 0 and no controllers: "0::/path".
        if line.startswith("0::"):
            return _cgroup2_root() / line[3:].lstrip("/")
    raise ValueError(f"{proc} has no cgroup v2 entry (0::)")


def cgroup_exists(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a cgroup v2 directory."""
    return os.path.isfile(os.path.join(path, "cgroup.controllers"))


def cgroup_children(path: str | os.PathLike[str]) -> list[Path]:
    """The child cgroups of cgroup ``path``, sorted.

    Raises:
        FileNotFoundError: ``path`` is not a cgroup v2 directory.
    """
    if not cgroup_exists(path):
        raise FileNotFoundError(f"{os.fspath(path)!r} is not a cgroup v2 directory")
    return sorted(p for p in Path(path).iterdir() if p.is_dir() and cgroup_exists(p))


def open_cgroup(path: str | os.PathLike[str]) -> FD:
    """Open cgroup v2 directory ``path`` for attaching and querying.

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a cgroup v2 directory
            (the message says where cgroup v2 is mounted).
    """
    if not cgroup_exists(path):
        root = system.cgroup2_path()
        where = f"cgroup v2 is mounted at {root}" if root is not None else "cgroup v2 is not mounted"
        raise FileNotFoundError(f"{os.fspath(path)!r} is not a cgroup v2 directory ({where})")
    return FD(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))


def _open(cgroup: CgroupLike) -> tuple[FD, str]:
    if isinstance(cgroup, (str, os.PathLike)):
        return open_cgroup(cgroup), f"cgroup {os.fspath(cgroup)}"
    fd = fileno_of(cgroup)
    return FD(os.dup(fd)), f"cgroup fd {fd}"


def attach_cgroup(
    program: Program,
    cgroup: CgroupLike,
    attach_type: AttachType | str | None = None,
    *,
    flags: AttachFlags | None = None,
    legacy: bool = False,
) -> Link:
    """Attach a cgroup program to a cgroup v2 directory (and its descendants).

    A cgroup bpf_link (5.7) is used where the kernel has one: it behaves like
    ``ALLOW_MULTI`` and goes away with its last reference. Otherwise, or with
    ``legacy=True``, or when ``flags`` ask for what links cannot express
    (``ALLOW_OVERRIDE``, exclusive attachment with ``AttachFlags.NONE``),
    the program is attached with ``BPF_PROG_ATTACH`` and detached when the
    link is closed.

    Args:
        program: a cgroup program (skb, sock, sock_addr, sock_ops, device,
            sysctl, sockopt, or an ``lsm_cgroup`` LSM program).
        cgroup: a cgroup v2 directory or an open descriptor of one.
        attach_type: the hook, as an enum or a name (``"cgroup_skb/egress"``,
            ``"cgroup_inet_egress"``); default: the program's expected attach type.
        flags: ``BPF_PROG_ATTACH`` flags; ``None`` means ``ALLOW_MULTI``.
        legacy: use ``BPF_PROG_ATTACH`` even where cgroup links exist.

    Raises:
        TypeError: not a cgroup program, or an attach type of another program type.
        ValueError: no attach type given or known.
        FileNotFoundError: ``cgroup`` is not a cgroup v2 directory.
        BpfSyscallError: the kernel refused (``EPERM`` when a parent's
            exclusive program forbids it, ``EINVAL`` for a mismatched expected attach type).
    """
    require_type(program, CGROUP_ATTACH_TYPES.keys(), "attach_cgroup")
    at = parse_attach_type(attach_type) if attach_type is not None else program.expected_attach_type
    if at is None:
        raise ValueError(
            f"attach_cgroup needs an attach type for {program.name or 'the program'!r} "
            f"(one of {sorted(t.name for t in CGROUP_ATTACH_TYPES[ProgType(program.type)])})"
        )
    allowed = CGROUP_ATTACH_TYPES[ProgType(program.type)]
    if at not in allowed:
        raise TypeError(
            f"{at.name} is not an attach type of {ProgType(program.type).name} programs; "
            f"those are {sorted(t.name for t in allowed)}"
        )
    attach_flags = AttachFlags.ALLOW_MULTI if flags is None else AttachFlags(flags)
    use_link = not legacy and attach_flags == AttachFlags.ALLOW_MULTI
    if at == AttachType.LSM_CGROUP and not use_link:
        raise ValueError("lsm_cgroup programs attach only through links (no legacy flags)")
    cgroup_fd, where = _open(cgroup)
    with cgroup_fd:
        if use_link and has_link_type(LinkType.CGROUP):
            link_fd = commands.link_create(program, cgroup_fd, at)
            return BpfLink(link_fd, f"{where} {at.name}")
        program_fd = FD(os.dup(program.fileno()))
        try:
            program_id = program.id
            commands.prog_attach(cgroup_fd, program_fd, at, flags=attach_flags)
        except BaseException:
            program_fd.close()
            raise
        return ProgAttachLink(cgroup_fd.dup(), program_fd, at, attach_flags, f"{where} {at.name}", program_id)


def query_cgroup(
    cgroup: CgroupLike, attach_type: AttachType | str, *, effective: bool = False
) -> ProgQueryResult:
    """What is attached to a cgroup at one hook: program ids, link ids, flags and revision.

    Args:
        cgroup: a cgroup v2 directory or an open descriptor of one.
        attach_type: the hook.
        effective: include what the cgroup inherits from its ancestors.

    Raises:
        ValueError: not a cgroup attach type.
        FileNotFoundError: ``cgroup`` is not a cgroup v2 directory.
        BpfSyscallError: the kernel refused.
    """
    at = parse_attach_type(attach_type)
    if at not in _ALL_CGROUP_TYPES:
        raise ValueError(f"{at.name} is not a cgroup attach type")
    cgroup_fd, _ = _open(cgroup)
    with cgroup_fd:
        flags = QueryFlags.QUERY_EFFECTIVE if effective else QueryFlags.NONE
        return commands.prog_query(cgroup_fd, at, query_flags=flags)
