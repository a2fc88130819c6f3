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

from ._arithmetic import ARITHMETIC
from ._example import Example, LoadedExample, ProcessEvent
from ._packet import ICMP_LIMIT, MAX_FRAME_SIZE, SOCKET, SYN_LIMIT, TC, WINDOW_NS, XDP
from ._tracing import TRACING

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

# The public classes are ebpf.core.catalogue's, wherever they are defined (reprs, pickles, listings).
for _cls in (Example, LoadedExample, ProcessEvent):
    _cls.__module__ = __name__

#: Every catalogue example by name, in catalogue order.
EXAMPLES: dict[str, Example] = {e.name: e for e in (*XDP, *TC, *SOCKET, *TRACING, *ARITHMETIC)}


def example(name: str) -> Example:
    """The catalogue example called ``name``.

    Raises:
        KeyError: no such example (the message lists them).
    """
    try:
        return EXAMPLES[name]
    except KeyError:
        raise KeyError(f"no catalogue example {name!r}; examples: {', '.join(EXAMPLES)}") from None
