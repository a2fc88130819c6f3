"""The packet programs of the catalogue: XDP, TC, socket filters and cgroup programs."""

from __future__ import annotations

from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R9,
    R10,
    B,
    H,
    Item,
    TcAction,
    W,
    XdpAction,
    add,
    and_,
    atomic_add,
    be16,
    call,
    exit_,
    jeq,
    jge,
    jgt,
    jne,
    label,
    ld_abs,
    ld_map_fd,
    load,
    mov,
    mov32,
    store,
    sub,
)
from ebpf.maps import MapSpec, ipv4, lpm_ipv4, u8, u16, u64
from ebpf.syscall import MapType

from ._example import Example
from ._fragments import (
    _BPF_SOCK_TYPE,
    _ETH_P_IP,
    _ETH_P_IPV6,
    _IPPROTO_ICMP,
    _IPPROTO_TCP,
    _IPPROTO_UDP,
    _SKB_CTX,
    _SKB_LEN,
    _SKB_MARK,
    _SOCK_RAW,
    _XDP_CTX,
    _increment,
    _ipv4,
    _lookup,
    _need,
    _packet,
    _ret,
    _spec,
)

#: ``xdp_size_filter`` drops frames longer than this many bytes.
MAX_FRAME_SIZE = 1000

#: ``xdp_syn_flood`` lets this many SYNs per source through per window.
SYN_LIMIT = 5

#: ``xdp_icmp_rate_limit`` lets this many ICMP packets through per window.
ICMP_LIMIT = 3

#: The rate limiters' window: one second.
WINDOW_NS = 1_000_000_000


def _port_filter(ctx: tuple[int, int], proto: int, *, l2: bool, drop: int, keep: int) -> list[Item]:
    return [
        *_ipv4(ctx, "keep", "keep", l2=l2),
        jne(R6, proto, "keep"),
        *_need(R7, 4, "keep"),
        load(R5, R7, 2, H),
        be16(R5),
        store(R10, -2, R5, H),
        *_lookup("blocked_ports", -2),
        jeq(R0, 0, "keep"),
        *_ret(drop),
        label("keep"),
        *_ret(keep),
    ]


def _rate_limit(limit: int, pass_: int, drop: int) -> list[Item]:
    """With r0 = a ``{u64 window_start, u64 count}`` value and r9 = now: count, and drop over ``limit``."""
    return [
        load(R1, R0, 0, DW),
        mov(R2, R9),
        sub(R2, R1),
        jge(R2, WINDOW_NS, "new_window"),
        load(R1, R0, 8, DW),
        add(R1, 1),
        store(R0, 8, R1, DW),
        jgt(R1, limit, "over"),
        *_ret(pass_),
        label("over"),
        *_ret(drop),
        label("new_window"),
        store(R0, 0, R9, DW),
        store(R0, 8, 1, DW),
        *_ret(pass_),
    ]


def _xdp_size_filter() -> list[Item]:
    return [
        call("xdp_get_buff_len"),
        jgt(R0, MAX_FRAME_SIZE, "drop"),
        *_ret(XdpAction.PASS),
        label("drop"),
        *_ret(XdpAction.DROP),
    ]


def _xdp_ethertype(ethertype: int, match: int, other: int, short: int) -> list[Item]:
    return [
        *_packet(_XDP_CTX),
        *_need(R2, 14, "short"),
        load(R5, R2, 12, H),
        be16(R5),
        jne(R5, ethertype, "other"),
        *_ret(match),
        label("other"),
        *_ret(other),
        label("short"),
        *_ret(short),
    ]


def _xdp_protocol_counter() -> list[Item]:
    return [
        *_ipv4(_XDP_CTX, "out", "out"),
        store(R10, -4, R6, W),
        *_lookup("protocols", -4),
        jeq(R0, 0, "out"),
        mov(R1, 1),
        atomic_add(R0, 0, R1),
        label("out"),
        *_ret(XdpAction.PASS),
    ]


def _xdp_packet_counter() -> list[Item]:
    return [
        mov(R6, R1),
        *_increment("stats", 0),
        mov(R1, R6),
        call("xdp_get_buff_len"),
        mov(R7, R0),
        *_increment("stats", 1, R7),
        *_ret(XdpAction.PASS),
    ]


def _xdp_icmp_echo_drop() -> list[Item]:
    return [
        *_ipv4(_XDP_CTX, "pass", "pass"),
        jne(R6, _IPPROTO_ICMP, "pass"),
        *_need(R7, 1, "pass"),
        load(R5, R7, 0, B),
        jne(R5, 8, "pass"),  # ICMP_ECHO
        *_ret(XdpAction.DROP),
        label("pass"),
        *_ret(XdpAction.PASS),
    ]


def _xdp_source_lookup(map_name: str, *, lpm: bool, found: int, missing: int) -> list[Item]:
    key = -8 if lpm else -4
    prefix: list[Item] = [store(R10, -8, 32, W)] if lpm else []
    return [
        *_ipv4(_XDP_CTX, "short", "pass"),
        load(R5, R2, 26, W),  # saddr, network order kept by a 4-byte copy
        store(R10, -4, R5, W),
        *prefix,
        *_lookup(map_name, key),
        jeq(R0, 0, "missing"),
        *_ret(found),
        label("missing"),
        *_ret(missing),
        label("short"),
        *_ret(XdpAction.DROP),
        label("pass"),
        *_ret(XdpAction.PASS),
    ]


def _xdp_syn_flood() -> list[Item]:
    return [
        *_ipv4(_XDP_CTX, "pass", "pass"),
        jne(R6, _IPPROTO_TCP, "pass"),
        *_need(R7, 14, "pass"),
        load(R5, R7, 13, B),
        and_(R5, 0x12),  # SYN | ACK
        jne(R5, 0x02, "pass"),  # only SYN without ACK opens a connection
        load(R5, R2, 26, W),
        store(R10, -4, R5, W),
        call("ktime_get_ns"),
        mov(R9, R0),
        *_lookup("syn_counts", -4),
        jne(R0, 0, "seen"),
        store(R10, -24, R9, DW),
        store(R10, -16, 1, DW),
        ld_map_fd(R1, "syn_counts"),
        mov(R2, R10),
        add(R2, -4),
        mov(R3, R10),
        add(R3, -24),
        mov(R4, 0),
        call("map_update_elem"),
        label("pass"),
        *_ret(XdpAction.PASS),
        label("seen"),
        *_rate_limit(SYN_LIMIT, XdpAction.PASS, XdpAction.DROP),
    ]


def _xdp_icmp_rate_limit() -> list[Item]:
    return [
        *_ipv4(_XDP_CTX, "pass", "pass"),
        jne(R6, _IPPROTO_ICMP, "pass"),
        call("ktime_get_ns"),
        mov(R9, R0),
        store(R10, -4, 0, W),
        *_lookup("icmp_window", -4),
        jne(R0, 0, "limit"),
        label("pass"),
        *_ret(XdpAction.PASS),
        label("limit"),
        *_rate_limit(ICMP_LIMIT, XdpAction.PASS, XdpAction.DROP),
    ]


def _xdp_mac_swap() -> list[Item]:
    return [
        *_packet(_XDP_CTX),
        *_need(R2, 14, "pass"),
        load(R4, R2, 0, W),
        load(R5, R2, 4, H),
        load(R6, R2, 6, W),
        load(R7, R2, 10, H),
        store(R2, 0, R6, W),
        store(R2, 4, R7, H),
        store(R2, 6, R4, W),
        store(R2, 10, R5, H),
        *_ret(XdpAction.TX),
        label("pass"),
        *_ret(XdpAction.PASS),
    ]


def _xdp_drop_fragments() -> list[Item]:
    return [
        *_ipv4(_XDP_CTX, "pass", "pass"),
        load(R5, R2, 20, H),
        be16(R5),
        and_(R5, 0x3FFF),  # more-fragments flag and fragment offset
        jeq(R5, 0, "pass"),
        *_ret(XdpAction.DROP),
        label("pass"),
        *_ret(XdpAction.PASS),
    ]


def _tc_mark_ipv4() -> list[Item]:
    return [
        *_packet(_SKB_CTX),
        *_need(R2, 14, "out"),
        load(R5, R2, 12, H),
        be16(R5),
        jne(R5, _ETH_P_IP, "out"),
        mov(R4, 0x2A),
        store(R1, _SKB_MARK, R4, W),
        label("out"),
        *_ret(TcAction.OK),
    ]


def _tc_traffic_counter() -> list[Item]:
    return [
        load(R7, R1, _SKB_LEN, W),
        *_increment("stats", 0),
        *_increment("stats", 1, R7),
        *_ret(TcAction.OK),
    ]


def _socket_filter_udp() -> list[Item]:
    return [
        mov(R6, R1),  # ld_abs reads the packet of the skb in r6
        ld_abs(B, 9),  # IPv4 protocol
        jne(R0, _IPPROTO_UDP, "drop"),
        mov32(R0, -1),  # keep the whole packet
        exit_(),
        label("drop"),
        *_ret(0),
    ]


def _cgroup_sock_no_raw() -> list[Item]:
    return [
        load(R2, R1, _BPF_SOCK_TYPE, W),
        jeq(R2, _SOCK_RAW, "deny"),
        *_ret(1),
        label("deny"),
        *_ret(0),
    ]


def _window(name: str) -> MapSpec:
    return _spec("ARRAY", name, value="<QQ")


def _blocked_ports() -> dict[str, MapSpec]:
    return {"blocked_ports": _spec("HASH", "blocked_ports", u16, u8, 64)}


#: XDP programs, in catalogue order.
XDP: list[Example] = [
    Example(
        "xdp_pass",
        "xdp",
        "XDP: let every packet through",
        "returns XDP_PASS for any frame",
        lambda: _ret(XdpAction.PASS),
    ),
    Example(
        "xdp_drop",
        "xdp",
        "XDP: drop every packet",
        "returns XDP_DROP for any frame",
        lambda: _ret(XdpAction.DROP),
    ),
    Example(
        "xdp_size_filter",
        "xdp",
        f"XDP: drop frames longer than {MAX_FRAME_SIZE} bytes (bpf_xdp_get_buff_len)",
        f"XDP_DROP for frames over {MAX_FRAME_SIZE} bytes, XDP_PASS for shorter ones",
        _xdp_size_filter,
    ),
    Example(
        "xdp_ipv4_only",
        "xdp",
        "XDP: Ethernet parser that lets only IPv4 through",
        "XDP_PASS for EtherType 0x0800; XDP_DROP for other EtherTypes and frames shorter than 14 bytes",
        lambda: _xdp_ethertype(_ETH_P_IP, XdpAction.PASS, XdpAction.DROP, XdpAction.DROP),
    ),
    Example(
        "xdp_drop_ipv6",
        "xdp",
        "XDP: drop IPv6",
        "XDP_DROP for EtherType 0x86DD; XDP_PASS for everything else",
        lambda: _xdp_ethertype(_ETH_P_IPV6, XdpAction.DROP, XdpAction.PASS, XdpAction.PASS),
    ),
    Example(
        "xdp_protocol_counter",
        "xdp",
        "XDP: count IPv4 packets per IP protocol in an array map",
        "protocols[p] counts IPv4 packets of protocol p (6 TCP, 17 UDP...); every packet passes",
        _xdp_protocol_counter,
        {"protocols": _spec("ARRAY", "protocols", value=u64, n=256)},
    ),
    Example(
        "xdp_packet_counter",
        "xdp",
        "XDP: count packets and bytes in a per-CPU array",
        "stats[0] sums to the packets seen and stats[1] to their bytes (percpu_sum); every packet passes",
        _xdp_packet_counter,
        {"stats": _spec("PERCPU_ARRAY", "stats", value=u64, n=2)},
    ),
    Example(
        "xdp_udp_port_filter",
        "xdp",
        "XDP: drop UDP datagrams to the ports in blocked_ports",
        "XDP_DROP for IPv4 UDP whose destination port is a key of blocked_ports; XDP_PASS otherwise",
        lambda: _port_filter(_XDP_CTX, _IPPROTO_UDP, l2=True, drop=XdpAction.DROP, keep=XdpAction.PASS),
        _blocked_ports(),
    ),
    Example(
        "xdp_tcp_port_filter",
        "xdp",
        "XDP: drop TCP segments to the ports in blocked_ports",
        "XDP_DROP for IPv4 TCP whose destination port is a key of blocked_ports; XDP_PASS otherwise",
        lambda: _port_filter(_XDP_CTX, _IPPROTO_TCP, l2=True, drop=XdpAction.DROP, keep=XdpAction.PASS),
        _blocked_ports(),
    ),
    Example(
        "xdp_icmp_echo_drop",
        "xdp",
        "XDP: drop ping requests (ICMP echo), keep other ICMP",
        "XDP_DROP for ICMP type 8; XDP_PASS for echo replies and other traffic",
        _xdp_icmp_echo_drop,
    ),
    Example(
        "xdp_ip_allowlist",
        "xdp",
        "XDP: let IPv4 through only from networks in an LPM trie",
        "XDP_PASS for IPv4 sources inside a prefix of allowed (and for non-IPv4); XDP_DROP otherwise",
        lambda: _xdp_source_lookup("allowed", lpm=True, found=XdpAction.PASS, missing=XdpAction.DROP),
        {"allowed": MapSpec(MapType.LPM_TRIE, name="allowed", key=lpm_ipv4, value=u8, max_entries=64)},
    ),
    Example(
        "xdp_ip_blocklist",
        "xdp",
        "XDP: drop IPv4 from addresses in a hash map",
        "XDP_DROP for IPv4 sources that are keys of blocked; XDP_PASS otherwise",
        lambda: _xdp_source_lookup("blocked", lpm=False, found=XdpAction.DROP, missing=XdpAction.PASS),
        {"blocked": _spec("HASH", "blocked", ipv4, u8, 1024)},
    ),
    Example(
        "xdp_syn_flood",
        "xdp",
        f"XDP: SYN flood protection, at most {SYN_LIMIT} SYNs per second per source",
        f"the first {SYN_LIMIT} TCP SYNs of a source in a second pass, the next are dropped; "
        "other segments and other sources pass",
        _xdp_syn_flood,
        {"syn_counts": _spec("LRU_HASH", "syn_counts", ipv4, "<QQ", 4096)},
    ),
    Example(
        "xdp_icmp_rate_limit",
        "xdp",
        f"XDP: ICMP rate limiter, at most {ICMP_LIMIT} ICMP packets per second",
        f"the first {ICMP_LIMIT} ICMP packets in a second pass, the next are dropped; other traffic passes",
        _xdp_icmp_rate_limit,
        {"icmp_window": _window("icmp_window")},
    ),
    Example(
        "xdp_mac_swap",
        "xdp",
        "XDP: reflect frames back out with the MAC addresses swapped",
        "returns XDP_TX with destination and source MAC exchanged",
        _xdp_mac_swap,
    ),
    Example(
        "xdp_drop_fragments",
        "xdp",
        "XDP: drop IPv4 fragments",
        "XDP_DROP for IPv4 with the more-fragments flag or a fragment offset; XDP_PASS otherwise",
        _xdp_drop_fragments,
    ),
]

#: TC (sched_cls) programs, in catalogue order.
TC: list[Example] = [
    Example(
        "tc_pass",
        "tc",
        "TC classifier: accept everything",
        "returns TC_ACT_OK",
        lambda: _ret(TcAction.OK),
    ),
    Example(
        "tc_drop",
        "tc",
        "TC classifier: drop everything",
        "returns TC_ACT_SHOT",
        lambda: _ret(TcAction.SHOT),
    ),
    Example(
        "tc_udp_port_filter",
        "tc",
        "TC classifier: drop UDP to the ports in blocked_ports (egress or ingress)",
        "TC_ACT_SHOT for IPv4 UDP to a port in blocked_ports; TC_ACT_OK otherwise",
        lambda: _port_filter(_SKB_CTX, _IPPROTO_UDP, l2=True, drop=TcAction.SHOT, keep=TcAction.OK),
        _blocked_ports(),
    ),
    Example(
        "tc_mark_ipv4",
        "tc",
        "TC classifier: set skb->mark to 42 on IPv4 packets",
        "the context comes back with mark 42 for IPv4 and unchanged otherwise; TC_ACT_OK",
        _tc_mark_ipv4,
    ),
    Example(
        "tc_traffic_counter",
        "tc",
        "TC classifier: count packets and bytes in a per-CPU array",
        "stats[0] sums to the packets and stats[1] to skb->len of each; TC_ACT_OK",
        _tc_traffic_counter,
        {"stats": _spec("PERCPU_ARRAY", "stats", value=u64, n=2)},
    ),
]

#: Socket filters and cgroup programs, in catalogue order.
SOCKET: list[Example] = [
    Example(
        "socket_filter_udp",
        "socket",
        "Socket filter: keep only UDP (sockets that see the IP header first)",
        "keeps the whole packet (-1) for UDP, drops (0) anything else",
        _socket_filter_udp,
    ),
    Example(
        "cgroup_udp_port_block",
        "cgroup_skb/egress",
        "cgroup egress policy: processes of the cgroup cannot send UDP to blocked_ports",
        "returns 0 (drop: sendto fails with EPERM) for UDP to a port in blocked_ports, 1 otherwise",
        lambda: _port_filter(_SKB_CTX, _IPPROTO_UDP, l2=False, drop=0, keep=1),
        _blocked_ports(),
    ),
    Example(
        "cgroup_sock_no_raw",
        "cgroup/sock_create",
        "cgroup socket policy: no raw sockets",
        "processes in the cgroup get EPERM from socket(..., SOCK_RAW, ...); other sockets are allowed",
        _cgroup_sock_no_raw,
    ),
]
