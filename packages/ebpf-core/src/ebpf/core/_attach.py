"""``bpf.attach``: the attach dispatcher of ``ebpf.progs``, with ``ebpf.net``'s XDP and TC registered.

The dispatcher (one handler per program type) is
[`ebpf.progs.attach()`][ebpf.progs.attach]; importing ``ebpf.net`` registers
the interface attachments, so ``bpf.attach(xdp_program, "eth0")`` works
whichever package the caller imported first.
"""

from __future__ import annotations

import ebpf.net  # noqa: F401  (registers XDP and TC programs with the dispatcher)
from ebpf.progs import attach

__all__ = ["attach"]
