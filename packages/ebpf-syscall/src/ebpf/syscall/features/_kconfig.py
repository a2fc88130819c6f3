"""The kernel's build configuration: which ``CONFIG_*`` options are on.

Features name the options they depend on (``CONFIG_FPROBE`` for
kprobe_multi links...); when a probe says no,
[`Feature.require()`][ebpf.syscall.features.Feature.require] names the options
the configuration says are off.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from pathlib import Path

__all__ = ["kernel_config", "parse_kernel_config"]

_CONFIG_SET = re.compile(r"(CONFIG_\w+)=(.*)")
_CONFIG_UNSET = re.compile(r"# (CONFIG_\w+) is not set")


def parse_kernel_config(text: str) -> dict[str, str]:
    """Parse a kernel ``.config``: ``{"CONFIG_BPF": "y", "CONFIG_KPROBES": "n", ...}``.

    Values are as written (``y``, ``m``, numbers), string values without
    their quotes, and ``n`` for ``# CONFIG_X is not set``. Other lines
    (comments, blanks) are ignored.
    """
    table: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if match := _CONFIG_SET.fullmatch(line):
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            table[match.group(1)] = value
        elif match := _CONFIG_UNSET.fullmatch(line):
            table[match.group(1)] = "n"
    return table


@functools.cache
def _config_table() -> dict[str, str] | None:
    # /proc/config.gz exists with CONFIG_IKCONFIG_PROC; distributions ship
    # the build configuration as /boot/config-$(uname -r) instead.
    try:
        with gzip.open("/proc/config.gz", "rt", encoding="utf-8", errors="replace") as f:
            return parse_kernel_config(f.read())
    except OSError:
        pass
    try:
        text = Path(f"/boot/config-{os.uname().release}").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return parse_kernel_config(text)


def kernel_config(option: str) -> str | None:
    """The value of a kernel build option, from ``/proc/config.gz`` or ``/boot/config-$(uname -r)``.

    ``option`` may be given with or without its ``CONFIG_`` prefix. Returns
    ``"y"``, ``"m"``, a number or string, or ``"n"`` for an option that is off
    (written as "is not set", or absent: Kconfig leaves out options whose
    dependencies are off); ``None`` when neither file can be read. The file
    is read once.
    """
    table = _config_table()
    if table is None:
        return None
    name = option if option.startswith("CONFIG_") else f"CONFIG_{option}"
    return table.get(name, "n")
