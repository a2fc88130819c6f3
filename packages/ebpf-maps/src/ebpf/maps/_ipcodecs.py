"""Codecs for IP addresses and for LPM trie keys (prefixes).

Addresses are stored in network byte order, as packets carry them. An LPM
trie key is ``struct bpf_lpm_trie_key { __u32 prefixlen; __u8 data[]; }``:
the prefix length in host byte order, then the data (the address) in
network byte order; the trie compares the first ``prefixlen`` bits of data.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any, TypeAlias, TypeVar

from ._codecs import Codec

__all__ = ["IPv4Codec", "IPv6Codec", "LpmKey", "LpmKeyCodec", "ipv4", "ipv6", "lpm_ipv4", "lpm_ipv6"]

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
#: What an LPM key codec decodes to: a network for IP tries, else ``(prefixlen, data)``.
LpmKey: TypeAlias = "IPNetwork | tuple[int, bytes]"

_PREFIXLEN = struct.Struct("=I")


_Address = TypeVar("_Address", ipaddress.IPv4Address, ipaddress.IPv6Address)


class _AddressCodec(Codec[_Address]):
    """An IP address packed in network byte order; subclasses name the address class and the size."""

    _address: type[_Address]
    _label: str

    def encode(self, value: _Address | str) -> bytes:
        """The packed address.

        Raises:
            TypeError: not an address of this family, or a string.
            ValueError: a string that is not an address of this family.
        """
        if isinstance(value, str):
            value = self._address(value)
        if not isinstance(value, self._address):
            raise TypeError(
                f"{self._label} takes {self._address.__name__} or str, not {type(value).__name__} ({value!r})"
            )
        return value.packed

    def decode(self, data: bytes) -> _Address:
        """The address."""
        return self._address(bytes(data[: self.size]))

    def describe(self) -> str:
        return self._label


class IPv4Codec(_AddressCodec[ipaddress.IPv4Address]):
    """An IPv4 address in 4 bytes, network byte order; encodes ``IPv4Address`` or ``"10.0.0.1"``."""

    size = 4
    _address = ipaddress.IPv4Address
    _label = "ipv4"


class IPv6Codec(_AddressCodec[ipaddress.IPv6Address]):
    """An IPv6 address in 16 bytes, network byte order; encodes ``IPv6Address`` or ``"::1"``."""

    size = 16
    _address = ipaddress.IPv6Address
    _label = "ipv6"


ipv4 = IPv4Codec()
ipv6 = IPv6Codec()


class LpmKeyCodec(Codec[Any]):
    """An LPM trie key: a prefix length and ``data_size`` bytes of data.

    Encodes, for tries over IP addresses (``data_size`` 4 or 16):
    ``IPv4Network``/``IPv6Network``, ``"10.0.0.0/8"``, or a single address
    (a full-length prefix, what a lookup uses); and for any trie
    ``(prefixlen, data)``. Decodes to a network for IP tries (host bits
    cleared) and to ``(prefixlen, data)`` otherwise or with ``ip=False``.
    """

    def __init__(self, data_size: int, *, ip: bool | None = None):
        """Raises ValueError for a data size below 1, or ``ip=True`` with a size other than 4 or 16."""
        if not isinstance(data_size, int) or data_size < 1:
            raise ValueError(f"an LPM key needs at least 1 byte of data, not {data_size!r}")
        if ip is None:
            ip = data_size in (4, 16)
        if ip and data_size not in (4, 16):
            raise ValueError(f"an IP LPM key has 4 (IPv4) or 16 (IPv6) bytes of data, not {data_size}")
        self.data_size = data_size
        self.size = 4 + data_size
        self.ip = ip
        self.max_prefixlen = data_size * 8

    def _prefix(self, value: Any) -> tuple[int, bytes]:
        if self.ip:
            if isinstance(value, str):
                try:
                    value = ipaddress.ip_network(value, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{self.describe()}: {exc}") from None
            if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
                value = ipaddress.ip_network(value)
            if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
                if value.max_prefixlen != self.max_prefixlen:
                    raise ValueError(f"{value} is IPv{value.version}; this trie holds {self.describe()} keys")
                return value.prefixlen, value.network_address.packed
        if isinstance(value, tuple) and len(value) == 2:
            prefixlen, data = value
            if not isinstance(prefixlen, int) or not isinstance(data, bytes | bytearray):
                raise TypeError(f"an LPM key tuple is (prefixlen: int, data: bytes), not {value!r}")
            if len(data) != self.data_size:
                raise ValueError(f"{self.describe()} needs {self.data_size} bytes of data, got {len(data)}")
            return prefixlen, bytes(data)
        accepted = "an IP network, address or 'a.b.c.d/n' string, or " if self.ip else ""
        raise TypeError(
            f"{self.describe()} takes {accepted}(prefixlen, data), not {type(value).__name__} ({value!r})"
        )

    def encode(self, value: Any) -> bytes:
        """The key's bytes.

        Raises:
            TypeError: an unsupported type.
            ValueError: a prefix longer than the data, data of the wrong size, the wrong IP version.
        """
        prefixlen, data = self._prefix(value)
        if not 0 <= prefixlen <= self.max_prefixlen:
            raise ValueError(
                f"prefix length {prefixlen} is outside 0..{self.max_prefixlen} for {self.describe()}"
            )
        return _PREFIXLEN.pack(prefixlen) + data

    def decode(self, data: bytes) -> Any:
        """A network (IP tries) or ``(prefixlen, data)``."""
        (prefixlen,) = _PREFIXLEN.unpack_from(data, 0)
        raw = bytes(data[4 : self.size])
        if not self.ip:
            return prefixlen, raw
        address = ipaddress.ip_address(raw)
        return ipaddress.ip_network((address, prefixlen), strict=False)

    def describe(self) -> str:
        if self.ip:
            return "lpm_ipv4" if self.data_size == 4 else "lpm_ipv6"
        return f"lpm[{self.data_size}]"


lpm_ipv4 = LpmKeyCodec(4)
lpm_ipv6 = LpmKeyCodec(16)
