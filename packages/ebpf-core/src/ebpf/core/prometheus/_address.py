"""``HOST:PORT`` as the ``--prometheus`` option of a tool spells it."""

from __future__ import annotations

__all__ = ["ANY_HOST", "DEFAULT_PORT", "parse_address"]

#: The port Cloudflare's ebpf_exporter listens on; a fleet's scrape configuration may already name it.
DEFAULT_PORT = 9435
#: What an empty host (``:9435``) means: every IPv4 interface.
ANY_HOST = "0.0.0.0"


def parse_address(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT``, ``:PORT`` (every interface) or ``[IPV6]:PORT``.

    Port 0 asks the system for a free port (the server says which).

    Raises:
        ValueError: no ``:PORT``, a port that is not a number from 0 to 65535,
            or an IPv6 address without its brackets.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"a listening address is HOST:PORT, :PORT or [IPV6]:PORT, not {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, as [{host}]:{port_text}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port is a number from 0 to 65535, not {port_text!r}")
    return host or ANY_HOST, int(port_text)
