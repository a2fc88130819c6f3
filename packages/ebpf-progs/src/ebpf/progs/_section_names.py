"""Section-style program names (``"xdp"``, ``"kprobe/do_unlinkat"``, ``"cgroup_skb/egress"``).

C programs name their type in the ELF section (``SEC("...")``), and users
know those names; this module maps them to a program type, an expected
attach type, an attach target and load flags, following the names libbpf
accepts. Program and attach types are also accepted as enum members or as
enum names (``"sched_cls"``, ``"CGROUP_INET_EGRESS"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ebpf.syscall import AttachType, ProgLoadFlags, ProgType

__all__ = ["Section", "parse_attach_type", "parse_prog_type", "parse_section"]

A = AttachType
P = ProgType


@dataclass(frozen=True)
class Section:
    """What a section name says about a program.

    Attributes:
        prog_type: the program type.
        attach_type: the expected attach type, ``None`` when the type has none.
        target: what follows the prefix (``"do_unlinkat"`` in ``"kprobe/do_unlinkat"``,
            ``"syscalls/sys_enter_getpid"`` in ``"tp/syscalls/sys_enter_getpid"``), or ``""``.
        flags: load flags the name implies (``SLEEPABLE`` for ``fentry.s/``...).
        retprobe: a return probe (``kretprobe/``, ``uretprobe/``...).
        syscall: the target is a system call name (``ksyscall/``): the kprobe
            goes on the architecture's syscall wrapper (``__x64_sys_<name>``).
    """

    prog_type: ProgType
    attach_type: AttachType | None = None
    target: str = ""
    flags: ProgLoadFlags = ProgLoadFlags.NONE
    retprobe: bool = False
    syscall: bool = False


@dataclass(frozen=True)
class _Rule:
    prog_type: ProgType
    attach_type: AttachType | None = None
    takes_target: bool = False
    flags: ProgLoadFlags = ProgLoadFlags.NONE
    retprobe: bool = False
    syscall: bool = False


_S = ProgLoadFlags.SLEEPABLE
_FRAGS = ProgLoadFlags.XDP_HAS_FRAGS

# Exact names first; then prefixes ending in "/" that take a target.
_EXACT: dict[str, _Rule] = {
    "socket": _Rule(P.SOCKET_FILTER),
    "sk_reuseport": _Rule(P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT),
    "sk_reuseport/migrate": _Rule(P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE),
    "tc": _Rule(P.SCHED_CLS),
    "classifier": _Rule(P.SCHED_CLS),
    "tcx/ingress": _Rule(P.SCHED_CLS, A.TCX_INGRESS),
    "tcx/egress": _Rule(P.SCHED_CLS, A.TCX_EGRESS),
    "tc/ingress": _Rule(P.SCHED_CLS, A.TCX_INGRESS),
    "tc/egress": _Rule(P.SCHED_CLS, A.TCX_EGRESS),
    "netkit/primary": _Rule(P.SCHED_CLS, A.NETKIT_PRIMARY),
    "netkit/peer": _Rule(P.SCHED_CLS, A.NETKIT_PEER),
    "action": _Rule(P.SCHED_ACT),
    "syscall": _Rule(P.SYSCALL, flags=_S),
    "xdp": _Rule(P.XDP, A.XDP),
    "xdp.frags": _Rule(P.XDP, A.XDP, flags=_FRAGS),
    "xdp/devmap": _Rule(P.XDP, A.XDP_DEVMAP),
    "xdp.frags/devmap": _Rule(P.XDP, A.XDP_DEVMAP, flags=_FRAGS),
    "xdp/cpumap": _Rule(P.XDP, A.XDP_CPUMAP),
    "xdp.frags/cpumap": _Rule(P.XDP, A.XDP_CPUMAP, flags=_FRAGS),
    "perf_event": _Rule(P.PERF_EVENT),
    "lwt_in": _Rule(P.LWT_IN),
    "lwt_out": _Rule(P.LWT_OUT),
    "lwt_xmit": _Rule(P.LWT_XMIT),
    "lwt_seg6local": _Rule(P.LWT_SEG6LOCAL),
    "sockops": _Rule(P.SOCK_OPS, A.CGROUP_SOCK_OPS),
    "sk_skb": _Rule(P.SK_SKB),
    "sk_skb/stream_parser": _Rule(P.SK_SKB, A.SK_SKB_STREAM_PARSER),
    "sk_skb/stream_verdict": _Rule(P.SK_SKB, A.SK_SKB_STREAM_VERDICT),
    "sk_skb/verdict": _Rule(P.SK_SKB, A.SK_SKB_VERDICT),
    "sk_msg": _Rule(P.SK_MSG, A.SK_MSG_VERDICT),
    "lirc_mode2": _Rule(P.LIRC_MODE2, A.LIRC_MODE2),
    "flow_dissector": _Rule(P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
    "cgroup_skb/ingress": _Rule(P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
    "cgroup_skb/egress": _Rule(P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
    "cgroup/skb": _Rule(P.CGROUP_SKB),
    "cgroup/sock": _Rule(P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
    "cgroup/sock_create": _Rule(P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
    "cgroup/sock_release": _Rule(P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE),
    "cgroup/post_bind4": _Rule(P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND),
    "cgroup/post_bind6": _Rule(P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND),
    "cgroup/bind4": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND),
    "cgroup/bind6": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND),
    "cgroup/connect4": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
    "cgroup/connect6": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT),
    "cgroup/connect_unix": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT),
    "cgroup/sendmsg4": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG),
    "cgroup/sendmsg6": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG),
    "cgroup/sendmsg_unix": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG),
    "cgroup/recvmsg4": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG),
    "cgroup/recvmsg6": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG),
    "cgroup/recvmsg_unix": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG),
    "cgroup/getpeername4": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME),
    "cgroup/getpeername6": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME),
    "cgroup/getpeername_unix": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME),
    "cgroup/getsockname4": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME),
    "cgroup/getsockname6": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME),
    "cgroup/getsockname_unix": _Rule(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME),
    "cgroup/sysctl": _Rule(P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
    "cgroup/getsockopt": _Rule(P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT),
    "cgroup/setsockopt": _Rule(P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT),
    "cgroup/dev": _Rule(P.CGROUP_DEVICE, A.CGROUP_DEVICE),
    "sk_lookup": _Rule(P.SK_LOOKUP, A.SK_LOOKUP),
    "netfilter": _Rule(P.NETFILTER, A.NETFILTER),
    "struct_ops": _Rule(P.STRUCT_OPS),
    "struct_ops.s": _Rule(P.STRUCT_OPS, flags=_S),
    "kprobe.multi": _Rule(P.KPROBE, A.TRACE_KPROBE_MULTI),
    "kretprobe.multi": _Rule(P.KPROBE, A.TRACE_KPROBE_MULTI, retprobe=True),
    "uprobe.multi": _Rule(P.KPROBE, A.TRACE_UPROBE_MULTI),
    "uretprobe.multi": _Rule(P.KPROBE, A.TRACE_UPROBE_MULTI, retprobe=True),
    "kprobe": _Rule(P.KPROBE),
    "uprobe": _Rule(P.KPROBE),
    "kretprobe": _Rule(P.KPROBE, retprobe=True),
    "uretprobe": _Rule(P.KPROBE, retprobe=True),
    "usdt": _Rule(P.KPROBE),
    # libbpf accepts tracepoint names without a target (attached by hand).
    "tracepoint": _Rule(P.TRACEPOINT),
    "tp": _Rule(P.TRACEPOINT),
    "raw_tracepoint": _Rule(P.RAW_TRACEPOINT),
    "raw_tp": _Rule(P.RAW_TRACEPOINT),
}

_PREFIX: dict[str, _Rule] = {
    "kprobe": _Rule(P.KPROBE, takes_target=True),
    "kretprobe": _Rule(P.KPROBE, takes_target=True, retprobe=True),
    "uprobe": _Rule(P.KPROBE, takes_target=True),
    "uretprobe": _Rule(P.KPROBE, takes_target=True, retprobe=True),
    "uprobe.s": _Rule(P.KPROBE, takes_target=True, flags=_S),
    "uretprobe.s": _Rule(P.KPROBE, takes_target=True, flags=_S, retprobe=True),
    "ksyscall": _Rule(P.KPROBE, takes_target=True, syscall=True),
    "kretsyscall": _Rule(P.KPROBE, takes_target=True, retprobe=True, syscall=True),
    "usdt": _Rule(P.KPROBE, takes_target=True),
    "kprobe.multi": _Rule(P.KPROBE, A.TRACE_KPROBE_MULTI, takes_target=True),
    "kretprobe.multi": _Rule(P.KPROBE, A.TRACE_KPROBE_MULTI, takes_target=True, retprobe=True),
    "uprobe.multi": _Rule(P.KPROBE, A.TRACE_UPROBE_MULTI, takes_target=True),
    "uretprobe.multi": _Rule(P.KPROBE, A.TRACE_UPROBE_MULTI, takes_target=True, retprobe=True),
    "tracepoint": _Rule(P.TRACEPOINT, takes_target=True),
    "tp": _Rule(P.TRACEPOINT, takes_target=True),
    "raw_tracepoint": _Rule(P.RAW_TRACEPOINT, takes_target=True),
    "raw_tp": _Rule(P.RAW_TRACEPOINT, takes_target=True),
    "raw_tracepoint.w": _Rule(P.RAW_TRACEPOINT_WRITABLE, takes_target=True),
    "raw_tp.w": _Rule(P.RAW_TRACEPOINT_WRITABLE, takes_target=True),
    "tp_btf": _Rule(P.TRACING, A.TRACE_RAW_TP, takes_target=True),
    "fentry": _Rule(P.TRACING, A.TRACE_FENTRY, takes_target=True),
    "fexit": _Rule(P.TRACING, A.TRACE_FEXIT, takes_target=True),
    "fmod_ret": _Rule(P.TRACING, A.MODIFY_RETURN, takes_target=True),
    "fentry.s": _Rule(P.TRACING, A.TRACE_FENTRY, takes_target=True, flags=_S),
    "fexit.s": _Rule(P.TRACING, A.TRACE_FEXIT, takes_target=True, flags=_S),
    "fmod_ret.s": _Rule(P.TRACING, A.MODIFY_RETURN, takes_target=True, flags=_S),
    "freplace": _Rule(P.EXT, takes_target=True),
    "lsm": _Rule(P.LSM, A.LSM_MAC, takes_target=True),
    "lsm.s": _Rule(P.LSM, A.LSM_MAC, takes_target=True, flags=_S),
    "lsm_cgroup": _Rule(P.LSM, A.LSM_CGROUP, takes_target=True),
    "iter": _Rule(P.TRACING, A.TRACE_ITER, takes_target=True),
    "iter.s": _Rule(P.TRACING, A.TRACE_ITER, takes_target=True, flags=_S),
    "struct_ops": _Rule(P.STRUCT_OPS, takes_target=True),
    "struct_ops.s": _Rule(P.STRUCT_OPS, takes_target=True, flags=_S),
}


def _known() -> str:
    return ", ".join(sorted({*_EXACT, *(f"{p}/<target>" for p in _PREFIX)}))


def parse_section(section: str) -> Section:
    """Parse a section-style name into what it says about a program.

    Examples:
        >>> parse_section("kprobe/do_unlinkat").target
        'do_unlinkat'

    Raises:
        TypeError: ``section`` is not a str.
        ValueError: an unknown name (the message lists the known ones), or a
            prefix that needs a target without one.
    """
    if not isinstance(section, str):
        raise TypeError(f"a section name must be a str, not {type(section).__name__}")
    rule = _EXACT.get(section)
    if rule is not None:
        return Section(rule.prog_type, rule.attach_type, "", rule.flags, rule.retprobe, rule.syscall)
    prefix, slash, target = section.partition("/")
    rule = _PREFIX.get(prefix)
    if rule is None or not slash:
        raise ValueError(f"unknown section name {section!r}; known names: {_known()}")
    if not target:
        raise ValueError(f"section name {section!r} needs a target after {prefix + '/'!r}")
    return Section(rule.prog_type, rule.attach_type, target, rule.flags, rule.retprobe, rule.syscall)


def _enum_member(enum_type: type[ProgType] | type[AttachType], text: str) -> int | None:
    member = enum_type.__members__.get(text.upper().replace("-", "_"))
    return None if member is None else int(member)


def parse_prog_type(value: ProgType | str | int) -> ProgType:
    """A [`ProgType`][ebpf.syscall.ProgType] from an enum member, its value, its name (``"sched_cls"``) or a
    section name.

    Raises:
        TypeError: not a ProgType, int or str.
        ValueError: an unknown name or number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"a program type must be a ProgType, int or str, not {type(value).__name__}")
    if isinstance(value, int):
        try:
            return ProgType(value)
        except ValueError:
            raise ValueError(f"unknown program type {value}; known: {[t.name for t in ProgType]}") from None
    member = _enum_member(ProgType, value)
    if member is not None:
        return ProgType(member)
    try:
        return parse_section(value).prog_type
    except ValueError:
        raise ValueError(
            f"unknown program type {value!r}: not a ProgType name "
            f"({', '.join(t.name.lower() for t in ProgType)}) "
            f"nor a section name ({_known()})"
        ) from None


def parse_attach_type(value: AttachType | str | int) -> AttachType:
    """An [`AttachType`][ebpf.syscall.AttachType] from an enum member, value, name or section name
    (``"cgroup_skb/egress"``).

    Raises:
        TypeError: not an AttachType, int or str.
        ValueError: an unknown name or number, or a section name without an attach type.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"an attach type must be an AttachType, int or str, not {type(value).__name__}")
    if isinstance(value, int):
        try:
            return AttachType(value)
        except ValueError:
            raise ValueError(f"unknown attach type {value}; known: {[t.name for t in AttachType]}") from None
    member = _enum_member(AttachType, value)
    if member is not None:
        return AttachType(member)
    try:
        section = parse_section(value)
    except ValueError:
        raise ValueError(
            f"unknown attach type {value!r}: not an AttachType name "
            f"({', '.join(t.name.lower() for t in AttachType)}) nor a section name ({_known()})"
        ) from None
    if section.attach_type is None:
        raise ValueError(f"section name {value!r} does not name an attach type")
    return section.attach_type
