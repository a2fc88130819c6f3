"""The example catalogue: small eBPF programs written with the ``ebpf.asm`` DSL, each with its maps.

Every [`Example`][ebpf.core.catalogue.Example] says what it does (``summary``) and what a test can
observe (``behaviour``); the test suite loads each one and checks exactly
that, on crafted packets (test runs) or on the live kernel. Use them as
starting points::

    from ebpf.core.catalogue import example

    with example("xdp_udp_port_filter").load() as loaded:
        loaded.maps["blocked_ports"][53] = 1  # drop UDP to port 53
        verdict = loaded.program.test_run(packet).retval

``ebpf catalogue list`` prints them and ``ebpf catalogue show NAME`` one
with its disassembly. Conventions of the packet programs: ports and
protocols are in host order in maps (the programs convert), IPv4 addresses
are ``ipaddress`` objects (the codecs keep network order), and the
arithmetic programs read little-endian ``u32`` operands from the start of
the packet and return the result.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType

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
    R8,
    R9,
    R10,
    B,
    H,
    Item,
    Reg,
    TcAction,
    W,
    XdpAction,
    add,
    and_,
    assemble,
    atomic_add,
    be16,
    call,
    disassemble,
    exit_,
    ja,
    jeq,
    jge,
    jgt,
    jlt,
    jne,
    label,
    ld_abs,
    ld_map_fd,
    load,
    lsh,
    mod,
    mov,
    mov32,
    rsh,
    store,
    sub,
)
from ebpf.maps import CodecSource, Map, MapSpec, ipv4, lpm_ipv4, u8, u16, u32, u64
from ebpf.progs import Program
from ebpf.syscall import MapType

from ._progs import load_program

__all__ = [
    "EXAMPLES",
    "ICMP_LIMIT",
    "MAX_FRAME_SIZE",
    "SYN_LIMIT",
    "WINDOW_NS",
    "Example",
    "LoadedExample",
    "ProcessEvent",
    "example",
]

#: ``xdp_size_filter`` drops frames longer than this many bytes.
MAX_FRAME_SIZE = 1000
#: ``xdp_syn_flood`` lets this many SYNs per source through per window.
SYN_LIMIT = 5
#: ``xdp_icmp_rate_limit`` lets this many ICMP packets through per window.
ICMP_LIMIT = 3
#: The rate limiters' window: one second.
WINDOW_NS = 1_000_000_000

_FILENAME_LEN = 64
_ETH_P_IP = 0x0800
_ETH_P_IPV6 = 0x86DD
_IPPROTO_ICMP, _IPPROTO_TCP, _IPPROTO_UDP = 1, 6, 17
_SOCK_RAW = 3
_BPF_EXIST = 2
_BPF_F_CURRENT_CPU = 0xFFFFFFFF
# Offsets of data and data_end in the contexts of XDP (xdp_md) and skb (__sk_buff) programs.
_XDP_CTX = (0, 4)
_SKB_CTX = (76, 80)
_SKB_MARK = 8
_SKB_LEN = 0
_BPF_SOCK_TYPE = 8
# Offsets of the first syscall argument in the syscalls:sys_enter_* tracepoint records.
_TP_ARG0 = 16


class ProcessEvent(ctypes.Structure):
    """What ``exec_logger`` and ``open_logger`` push: who ran or opened which file."""

    _fields_ = (
        ("pid", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
        ("filename", ctypes.c_char * _FILENAME_LEN),
    )


@dataclass(frozen=True)
class Example:
    """One catalogue program: how to build it, the maps it uses, and what it does.

    Attributes:
        name: the catalogue name (also the kernel program name, cut to 15 bytes).
        section: the libbpf-style section name: program type and attach target.
        summary: one line for listings.
        behaviour: what a test observes, in words.
        build: returns the program as ``ebpf.asm`` items (maps referenced by name).
        maps: the map specs by the names ``build`` refers to.
    """

    name: str
    section: str
    summary: str
    behaviour: str
    build: Callable[[], list[Item]]
    maps: Mapping[str, MapSpec] = field(default_factory=dict)

    def disassemble(self) -> str:
        """The program as ``llvm-objdump`` prints it (map references shown as ``ld_pseudo``)."""
        unresolved = dict.fromkeys(self.maps, 0)  # map references show as ld_pseudo with fd 0
        return disassemble(assemble(self.build(), maps=unresolved), show_bytes=False)

    def load(self, maps: Mapping[str, Map] | None = None) -> LoadedExample:
        """Create the maps (or use those given by name), then load the program.

        Raises:
            ProgramVerifierError, PermissionDeniedError, BpfSyscallError: as ``Program.load``.
        """
        with ExitStack() as stack:
            live: dict[str, Map] = dict(maps or {})
            for name, spec in self.maps.items():
                if name not in live:
                    live[name] = stack.enter_context(Map.create(spec))
            program = load_program(self.build(), self.section, maps=live, name=self.name[:15])
            stack.pop_all()
        owned = [m for name, m in live.items() if maps is None or name not in maps]
        return LoadedExample(self, program, live, owned)


class LoadedExample:
    """A loaded catalogue program and its maps; closing it closes what
    [`Example.load()`][ebpf.core.catalogue.Example.load] created."""

    def __init__(self, example: Example, program: Program, maps: dict[str, Map], owned: list[Map]) -> None:
        """Hold ``program`` and ``maps``; ``owned`` are the maps to close with it."""
        self.example = example
        self.program = program
        self.maps = maps
        self._owned = owned

    def close(self) -> None:
        """Close the program and the maps created for it."""
        self.program.close()
        for m in self._owned:
            m.close()

    def __enter__(self) -> LoadedExample:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ----------------------------------------------------------------------------- fragments


def _ret(value: int) -> list[Item]:
    return [mov(R0, value), exit_()]


def _packet(ctx: tuple[int, int]) -> list[Item]:
    """r2 = data, r3 = data_end."""
    return [load(R2, R1, ctx[0], W), load(R3, R1, ctx[1], W)]


def _need(base: Reg, size: int, short: str) -> list[Item]:
    """Jump to ``short`` unless ``size`` bytes from ``base`` (a packet pointer register) are in the packet."""
    return [mov(R4, base), add(R4, size), jgt(R4, R3, short)]


def _ipv4(ctx: tuple[int, int], short: str, other: str, *, l2: bool = True) -> list[Item]:
    """Parse to L4: r6 = IP protocol, r7 = L4 header; ``other`` for non-IPv4, ``short`` for truncated."""
    eth = 14 if l2 else 0
    items: list[Item] = [*_packet(ctx), *_need(R2, eth + 20, short)]
    if l2:
        items += [load(R5, R2, 12, H), be16(R5), jne(R5, _ETH_P_IP, other)]
    else:
        items += [load(R5, R2, 0, B), rsh(R5, 4), jne(R5, 4, other)]
    return [
        *items,
        load(R6, R2, eth, B),
        and_(R6, 0x0F),
        lsh(R6, 2),  # header length in bytes
        jlt(R6, 20, short),
        mov(R7, R2),
        add(R7, R6),
        add(R7, eth),
        load(R6, R2, eth + 9, B),
    ]


def _lookup(map_name: str, key_offset: int) -> list[Item]:
    """r0 = bpf_map_lookup_elem(map, r10 + key_offset)."""
    return [ld_map_fd(R1, map_name), mov(R2, R10), add(R2, key_offset), call("map_lookup_elem")]


def _increment(map_name: str, index: int, by: Reg | int = 1) -> list[Item]:
    """``map[index] += by`` for an array of u64 (``by`` an int or a register other than r0-r2)."""
    done = f"inc_{map_name}_{index}"
    return [
        store(R10, -4, index, W),
        *_lookup(map_name, -4),
        jeq(R0, 0, done),
        mov(R1, by),
        atomic_add(R0, 0, R1),
        label(done),
    ]


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


def _process_event(arg_offset: int) -> list[Item]:
    """Push a [`ProcessEvent`][ebpf.core.catalogue.ProcessEvent] for the current task and the user string at
    ``ctx + arg_offset``."""
    size = ctypes.sizeof(ProcessEvent)
    return [
        mov(R6, R1),
        *[store(R10, -size + off, 0, DW) for off in range(0, size, 8)],
        call("get_current_pid_tgid"),
        rsh(R0, 32),
        store(R10, -size, R0, W),
        call("get_current_uid_gid"),
        store(R10, -size + 4, R0, W),
        mov(R1, R10),
        add(R1, -size + 8),
        mov(R2, 16),
        call("get_current_comm"),
        mov(R1, R10),
        add(R1, -size + 24),
        mov(R2, _FILENAME_LEN),
        load(R3, R6, arg_offset, DW),
        call("probe_read_user_str"),
        ld_map_fd(R1, "events"),
        mov(R2, R10),
        add(R2, -size),
        mov(R3, _BPF_EXIST),  # a full queue drops its oldest event
        call("map_push_elem"),
        *_ret(0),
    ]


def _operands(count: int) -> list[Item]:
    """r4 (and r5) = little-endian u32 operands at the start of an XDP packet; return 0 if too short."""
    items: list[Item] = [*_packet(_XDP_CTX), mov(R0, 0), mov(R8, R2), add(R8, 4 * count), jgt(R8, R3, "out")]
    items.append(load(R4, R2, 0, W))
    if count == 2:
        items.append(load(R5, R2, 4, W))
    return items


# ----------------------------------------------------------------------------- programs


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


def _syscall_counter() -> list[Item]:
    return [
        call("get_current_pid_tgid"),
        rsh(R0, 32),  # the process (thread group) id
        store(R10, -4, R0, W),
        *_lookup("counts", -4),
        jeq(R0, 0, "new"),
        mov(R1, 1),
        atomic_add(R0, 0, R1),
        *_ret(0),
        label("new"),
        store(R10, -16, 1, DW),
        ld_map_fd(R1, "counts"),
        mov(R2, R10),
        add(R2, -4),
        mov(R3, R10),
        add(R3, -16),
        mov(R4, 1),  # BPF_NOEXIST: another CPU may have added it meanwhile
        call("map_update_elem"),
        *_ret(0),
    ]


def _cpu_id() -> list[Item]:
    return [
        call("get_smp_processor_id"),
        mov(R6, R0),
        store(R10, -4, 0, W),
        *_lookup("last_cpu", -4),
        jeq(R0, 0, "out"),
        store(R0, 0, R6, W),
        label("out"),
        mov(R0, R6),
        exit_(),
    ]


def _event_output(helper: str) -> list[Item]:
    """Write ``{u32 pid, u32 cpu}`` with ``helper``; keep its return value in ``status[0]``."""
    if helper == "perf_event_output":
        args: list[Item] = [
            mov(R1, R6),
            ld_map_fd(R2, "events"),
            mov32(R3, _BPF_F_CURRENT_CPU - (1 << 32)),
            mov(R4, R10),
            add(R4, -8),
            mov(R5, 8),
        ]
    else:
        args = [ld_map_fd(R1, "events"), mov(R2, R10), add(R2, -8), mov(R3, 8), mov(R4, 0)]
    return [
        mov(R6, R1),
        call("get_current_pid_tgid"),
        rsh(R0, 32),
        store(R10, -8, R0, W),
        call("get_smp_processor_id"),
        store(R10, -4, R0, W),
        *args,
        call(helper),
        mov(R7, R0),
        store(R10, -12, 0, W),
        *_lookup("status", -12),
        jeq(R0, 0, "out"),
        store(R0, 0, R7, DW),
        label("out"),
        *_ret(0),
    ]


def _arith_gcd() -> list[Item]:
    loop: list[Item] = []
    for _ in range(48):  # enough steps for any pair of u32 (Fibonacci worst case)
        loop += [jeq(R5, 0, "done"), mov(R6, R4), mod(R6, R5), mov(R4, R5), mov(R5, R6)]
    return [*_operands(2), *loop, label("done"), mov(R0, R4), label("out"), exit_()]


def _arith_sum() -> list[Item]:
    return [
        *_operands(1),
        jgt(R4, 1000, "out"),  # n is capped so the verifier sees a bounded loop
        mov(R5, 1),
        label("loop"),
        jgt(R5, R4, "out"),
        add(R0, R5),
        add(R5, 1),
        ja("loop"),
        label("out"),
        exit_(),
    ]


def _arith_fib() -> list[Item]:
    # The loop counts i up to n rather than n down to 0. The verifier proves
    # that a loop ends by following it with each register's bounds; only
    # since 6.8 ("bpf: make the verifier trace the 'not equal' for regs")
    # does the fall-through of "n == 0" raise n's lower bound to 1, so before
    # that n -= 1 wraps below 0 and the verifier never sees the loop end (6.1
    # gives up with EFAULT: "The sequence of 8193 jumps is too complex").
    # "i < n" with i a known constant raises n's lower bound on every kernel,
    # until n is known and the comparison is decided.
    return [
        *_operands(1),
        jgt(R4, 47, "out"),  # fib(47) is the last that fits in 32 bits
        mov(R5, 1),  # fib(i + 1); r0 = fib(i)
        mov(R7, 0),  # i
        label("loop"),
        jge(R7, R4, "out"),
        mov(R6, R0),
        add(R6, R5),
        mov(R0, R5),
        mov(R5, R6),
        add(R7, 1),
        ja("loop"),
        label("out"),
        exit_(),
    ]


def _spec(
    kind: str, name: str, key: CodecSource | None = None, value: CodecSource | None = None, n: int = 1
) -> MapSpec:
    return MapSpec(MapType[kind], name=name, key=key, value=value, max_entries=n)


def _window(name: str) -> MapSpec:
    return _spec("ARRAY", name, value="<QQ")


def _blocked_ports() -> dict[str, MapSpec]:
    return {"blocked_ports": _spec("HASH", "blocked_ports", u16, u8, 64)}


_CATALOGUE: list[Example] = [
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
    Example(
        "syscall_counter",
        "raw_tracepoint/sys_enter",
        "Tracing: count system calls per process (raw tracepoint sys_enter)",
        "counts[pid] grows by one for each system call the process makes",
        _syscall_counter,
        {"counts": _spec("HASH", "counts", u32, u64, 10240)},
    ),
    Example(
        "getpid_counter",
        "tracepoint/syscalls/sys_enter_getpid",
        "Tracing: count getpid() calls (tracepoint syscalls:sys_enter_getpid)",
        "calls[0] grows by at least n when this process calls getpid() n times",
        lambda: [*_increment("calls", 0), *_ret(0)],
        {"calls": _spec("ARRAY", "calls", value=u64)},
    ),
    Example(
        "exec_logger",
        "tracepoint/syscalls/sys_enter_execve",
        "Tracing: log each execve (pid, uid, comm, file) into a queue map",
        "after a process runs /bin/true, events holds a ProcessEvent with filename /bin/true",
        lambda: _process_event(_TP_ARG0),
        {"events": MapSpec(MapType.QUEUE, name="events", value=ProcessEvent, max_entries=1024)},
    ),
    Example(
        "open_logger",
        "tracepoint/syscalls/sys_enter_openat",
        "Tracing: log each openat (pid, uid, comm, file) with bpf_probe_read_user_str",
        "after this process opens a file, events holds a ProcessEvent with its pid and the path",
        lambda: _process_event(_TP_ARG0 + 8),
        {"events": MapSpec(MapType.QUEUE, name="events", value=ProcessEvent, max_entries=4096)},
    ),
    Example(
        "cpu_id",
        "raw_tracepoint/sys_enter",
        "Tracing: which CPU runs the program (bpf_get_smp_processor_id)",
        "returns the CPU number and stores it in last_cpu[0]; a test run pinned to CPU n returns n",
        _cpu_id,
        {"last_cpu": _spec("ARRAY", "last_cpu", value=u32)},
    ),
    Example(
        "perf_output",
        "raw_tracepoint/sys_enter",
        "Tracing: send {pid, cpu} to user space with bpf_perf_event_output",
        "a perf buffer reader receives {pid, cpu} and status[0] is 0; without a reader status[0] is "
        "-2 (ENOENT), with an event but no buffer mapped -28 (ENOSPC)",
        lambda: _event_output("perf_event_output"),
        {
            "events": MapSpec(MapType.PERF_EVENT_ARRAY, name="events"),
            "status": _spec("ARRAY", "status", value="<q"),
        },
    ),
    Example(
        "ringbuf_output",
        "raw_tracepoint/sys_enter",
        "Tracing: send {pid, cpu} to user space with bpf_ringbuf_output",
        "status[0] is 0 and a ring buffer reader receives one record {pid, cpu}",
        lambda: _event_output("ringbuf_output"),
        {
            "events": MapSpec(MapType.RINGBUF, name="events", max_entries=4096),
            "status": _spec("ARRAY", "status", value="<q"),
        },
    ),
    Example(
        "arith_gcd",
        "xdp",
        "Arithmetic: greatest common divisor of two u32 (unrolled Euclid)",
        "for a packet starting with little-endian u32 a and b, returns gcd(a, b)",
        _arith_gcd,
    ),
    Example(
        "arith_sum",
        "xdp",
        "Arithmetic: 1 + 2 + ... + n with a bounded loop (n <= 1000)",
        "for a packet starting with little-endian u32 n <= 1000, returns n(n+1)/2; 0 for larger n",
        _arith_sum,
    ),
    Example(
        "arith_fib",
        "xdp",
        "Arithmetic: the n-th Fibonacci number with a bounded loop (n <= 47)",
        "for a packet starting with little-endian u32 n <= 47, returns fib(n); 0 for larger n",
        _arith_fib,
    ),
]

#: Every catalogue example by name, in catalogue order.
EXAMPLES: dict[str, Example] = {e.name: e for e in _CATALOGUE}


def example(name: str) -> Example:
    """The catalogue example called ``name``.

    Raises:
        KeyError: no such example (the message lists them).
    """
    try:
        return EXAMPLES[name]
    except KeyError:
        raise KeyError(f"no catalogue example {name!r}; examples: {', '.join(EXAMPLES)}") from None
