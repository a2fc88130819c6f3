"""Crafted Ethernet/IPv4/IPv6 frames for test runs of the catalogue's packet programs."""

from __future__ import annotations

import ipaddress
import struct

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ARP = 0x0806
DST_MAC = bytes.fromhex("020000000001")
SRC_MAC = bytes.fromhex("020000000002")


def ethernet(ethertype: int, payload: bytes) -> bytes:
    """An Ethernet frame, padded to the 60-byte minimum."""
    frame = DST_MAC + SRC_MAC + struct.pack("!H", ethertype) + payload
    return frame.ljust(60, b"\0")


def ipv4(proto: int, payload: bytes, src: str = "10.0.0.1", dst: str = "10.0.0.2", *, frag: int = 0) -> bytes:
    """An IPv4 header (no options, checksum left 0: programs do not check it) and its payload."""
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        1,
        frag,
        64,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


def udp(dport: int, sport: int = 40000, payload: bytes = b"hello") -> bytes:
    """A UDP header and payload."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(dport: int, flags: int, sport: int = 40000) -> bytes:
    """A 20-byte TCP header with ``flags`` (0x02 SYN, 0x10 ACK)."""
    return struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, flags, 65535, 0, 0)


def icmp(kind: int) -> bytes:
    """An ICMP header of type ``kind`` (8 echo request, 0 echo reply)."""
    return struct.pack("!BBHHH", kind, 0, 0, 1, 1) + b"ping"


def udp_frame(dport: int, src: str = "10.0.0.1") -> bytes:
    """Ethernet + IPv4 + UDP to ``dport``."""
    return ethernet(ETH_P_IP, ipv4(17, udp(dport), src))


def tcp_frame(dport: int, flags: int = 0x02, src: str = "10.0.0.1") -> bytes:
    """Ethernet + IPv4 + TCP to ``dport``."""
    return ethernet(ETH_P_IP, ipv4(6, tcp(dport, flags), src))


def icmp_frame(kind: int, src: str = "10.0.0.1") -> bytes:
    """Ethernet + IPv4 + ICMP."""
    return ethernet(ETH_P_IP, ipv4(1, icmp(kind), src))


def ipv6_frame() -> bytes:
    """Ethernet + a minimal IPv6 header carrying nothing."""
    return ethernet(ETH_P_IPV6, struct.pack("!IHBB16s16s", 6 << 28, 0, 59, 64, bytes(16), bytes(16)))
