"""The kernel's build configuration, read once: which ``CONFIG_*`` options are on, and their values.

The one reader of ``/proc/config.gz`` (or ``/boot/config-$(uname -r)``).
[`kernel_config_values()`][ebpf.syscall.features.kernel_config_values] gives the
raw values as the file writes them (strings keep their quotes, which ``__kconfig``
externs of ``ebpf.elf`` need to tell a string from a number);
[`kernel_config()`][ebpf.syscall.features.kernel_config] answers for one option
with strings unquoted by [`unquote_config_value()`][ebpf.syscall.features.unquote_config_value].
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
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["kernel_config", "kernel_config_values", "parse_kernel_config", "unquote_config_value"]

_CONFIG_SET = re.compile(r"(CONFIG_\w+)=(.*)")
_CONFIG_UNSET = re.compile(r"# (CONFIG_\w+) is not set")


def unquote_config_value(value: str) -> str:
    """A configuration value without the quotes of a string (``'"bpf"'`` -> ``'bpf'``); others as they are."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_kernel_config(text: str, *, raw: bool = False) -> dict[str, str]:
    """Parse a kernel ``.config``: ``{"CONFIG_BPF": "y", "CONFIG_KPROBES": "n", ...}``.

    Values are as written (``y``, ``m``, numbers), string values without
    their quotes (with them when ``raw``), and ``n`` for
    ``# CONFIG_X is not set``. Other lines (comments, blanks) are ignored.
    """
    table: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if match := _CONFIG_SET.fullmatch(line):
            value = match.group(2)
            table[match.group(1)] = value if raw else unquote_config_value(value)
        elif match := _CONFIG_UNSET.fullmatch(line):
            table[match.group(1)] = "n"
    return table


@functools.cache
def kernel_config_values() -> Mapping[str, str] | None:
    """The running kernel's configuration, raw: ``{"CONFIG_HZ": "250", "CONFIG_LSM": '"bpf"', ...}``.

    Read once, from ``/proc/config.gz`` (``CONFIG_IKCONFIG_PROC``) or, as
    distributions ship it, ``/boot/config-$(uname -r)``; values as
    [`parse_kernel_config(raw=True)`][ebpf.syscall.features.parse_kernel_config]
    gives them (strings keep their quotes: unquote with
    [`unquote_config_value()`][ebpf.syscall.features.unquote_config_value]).
    Options the file leaves out are not in the mapping. ``None`` when neither
    file can be read.
    """
    try:
        with gzip.open("/proc/config.gz", "rt", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        try:
            text = Path(f"/boot/config-{os.uname().release}").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    return MappingProxyType(parse_kernel_config(text, raw=True))


def kernel_config(option: str) -> str | None:
    """The value of a kernel build option, from ``/proc/config.gz`` or ``/boot/config-$(uname -r)``.

    ``option`` may be given with or without its ``CONFIG_`` prefix. Returns
    ``"y"``, ``"m"``, a number or an unquoted string, or ``"n"`` for an option
    that is off (written as "is not set", or absent: Kconfig leaves out
    options whose dependencies are off); ``None`` when neither file can be
    read. The file is read once (`kernel_config_values()`).
    """
    table = kernel_config_values()
    if table is None:
        return None
    name = option if option.startswith("CONFIG_") else f"CONFIG_{option}"
    return unquote_config_value(table.get(name, "n"))
