"""Instruction fragments the catalogue's programs share: packet bounds, IPv4, map lookups, counters."""

from __future__ import annotations

from ebpf.asm import (
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R10,
    B,
    H,
    Item,
    Reg,
    W,
    add,
    and_,
    atomic_add,
    be16,
    call,
    exit_,
    jeq,
    jgt,
    jlt,
    jne,
    label,
    ld_map_fd,
    load,
    lsh,
    mov,
    rsh,
    store,
)
from ebpf.maps import CodecSource, MapSpec
from ebpf.syscall import MapType

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


def _spec(
    kind: str, name: str, key: CodecSource | None = None, value: CodecSource | None = None, n: int = 1
) -> MapSpec:
    return MapSpec(MapType[kind], name=name, key=key, value=value, max_entries=n)
