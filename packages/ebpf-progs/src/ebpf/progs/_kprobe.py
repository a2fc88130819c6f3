"""Kprobes and kretprobes: the kprobe PMU, tracefs ``kprobe_events``, and kprobe_multi links."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable, Mapping, Sequence

from ebpf.syscall import AttachType, LinkType, NotSupportedError, ProgType, commands, perf, system
from ebpf.syscall.commands import KprobeMultiOptions
from ebpf.syscall.flags import LinkFlags

from ._checks import require_attach_type, require_type
from ._link import BpfLink, Link
from ._link_support import require_link_type
from ._perf_event import attach_to_event
from ._probe_events import open_probe_event
from ._program import Program

__all__ = ["attach_kprobe", "attach_kprobe_multi", "syscall_function", "syscall_prefix"]

# The prefix of the syscall entry points of each architecture since 4.17
# (CONFIG_ARCH_HAS_SYSCALL_WRAPPER); older kernels and other architectures
# call them sys_<name>.
_SYSCALL_PREFIXES = (
    "__x64_sys_",
    "__arm64_sys_",
    "__s390x_sys_",
    "__s390_sys_",
    "__riscv_sys_",
    "__powerpc_sys_",
    "__loongarch_sys_",
    "__ia32_sys_",
    "sys_",
)
# The bpf syscall's entry point under each prefix: what is looked up in kallsyms.
_BPF_ENTRIES = tuple(f"{prefix}bpf" for prefix in _SYSCALL_PREFIXES)


def syscall_prefix(kallsyms: Iterable[str] | None = None) -> str:
    """The prefix of the running architecture's syscall functions (``"__x64_sys_"``, ``"__arm64_sys_"``...).

    Found by which ``<prefix>bpf`` is a symbol in ``kallsyms`` (the lines of
    ``/proc/kallsyms`` when ``None``); ``"sys_"`` on kernels without syscall
    wrappers.

    Raises:
        NotSupportedError: no known prefix matches (a kernel without the bpf syscall?).
    """
    if kallsyms is None:
        return _running_syscall_prefix()
    return _prefix_of(system.kernel_symbol_addresses(_BPF_ENTRIES, kallsyms))


@functools.cache
def _running_syscall_prefix() -> str:
    return _prefix_of(system.kernel_symbol_addresses(_BPF_ENTRIES))


def _prefix_of(symbols: Mapping[str, int]) -> str:
    """The first prefix of `_SYSCALL_PREFIXES` whose ``bpf`` entry point is among ``symbols``.

    Raises:
        NotSupportedError: none is.
    """
    for prefix, name in zip(_SYSCALL_PREFIXES, _BPF_ENTRIES, strict=True):
        if name in symbols:
            return prefix
    raise NotSupportedError(
        "syscall wrapper detection", None, f"no {'/'.join(_BPF_ENTRIES)} symbol in kallsyms"
    )


def syscall_function(name: str) -> str:
    """The kernel function of syscall ``name``: ``"openat"`` -> ``"__x64_sys_openat"`` on x86_64.

    Raises:
        ValueError: an empty name.
        NotSupportedError: see [`syscall_prefix()`][ebpf.progs.syscall_prefix].
    """
    if not name or not name.replace("_", "a").isalnum():
        raise ValueError(f"invalid syscall name {name!r}")
    return syscall_prefix() + name


def _check_symbol(symbol: str) -> None:
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, not {type(symbol).__name__}")
    if not symbol or any(c.isspace() or c == "\0" for c in symbol):
        raise ValueError(f"invalid kernel symbol {symbol!r}")


def attach_kprobe(
    program: Program,
    symbol: str,
    offset: int = 0,
    *,
    retprobe: bool = False,
    cookie: int = 0,
    legacy: bool = False,
) -> Link:
    """Attach a kprobe (or, with ``retprobe``, a kretprobe) program to kernel function ``symbol``.

    Uses the kprobe perf PMU (4.17), falling back to a tracefs
    ``kprobe_events`` probe (removed again when the link closes). For a
    syscall use [`syscall_function()`][ebpf.progs.syscall_function] (``"__x64_sys_openat"``).

    Args:
        program: a ``KPROBE`` program (not one loaded for kprobe_multi).
        symbol: the kernel function, as in ``/proc/kallsyms`` (``"module:symbol"`` for tracefs probes).
        offset: bytes into the function (0 for return probes).
        retprobe: probe the function's return.
        cookie: a value ``bpf_get_attach_cookie()`` returns (5.15+).
        legacy: use ``PERF_EVENT_IOC_SET_BPF`` even where perf bpf_links exist.

    Raises:
        TypeError: not a ``KPROBE`` program.
        ValueError: a bad symbol or offset (a return probe with an offset).
        NotSupportedError: the kernel has no kprobes (``CONFIG_KPROBES`` off).
        BpfSyscallError: the kernel refused (``ENOENT``/``EINVAL`` for an unknown symbol).
    """
    require_type(program, (ProgType.KPROBE,), "attach_kprobe")
    if program.expected_attach_type in (AttachType.TRACE_KPROBE_MULTI, AttachType.TRACE_UPROBE_MULTI):
        raise TypeError(
            "this program was loaded for a multi link: use attach_kprobe_multi or attach_uprobe_multi"
        )
    _check_symbol(symbol)
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    if retprobe and offset:
        raise ValueError("a return probe must be at offset 0 of the function")
    kind = "kretprobe" if retprobe else "kprobe"
    target = f"{kind} {symbol}+{offset:#x}"
    try:
        event = perf.open_kprobe(symbol, offset, retprobe=retprobe)
    except NotSupportedError:
        event, cleanup = open_probe_event("kprobe", f"{symbol}+{offset}", retprobe=retprobe, pid=-1)
        return attach_to_event(program, event, cookie=cookie, legacy=legacy, target=target, cleanup=cleanup)
    return attach_to_event(program, event, cookie=cookie, legacy=legacy, target=target)


def _functions(pattern: str) -> list[str]:
    """Kernel functions matching the glob ``pattern``: those ftrace can probe, else every text symbol."""
    root = system.tracefs_path()
    names: Iterable[str] = ()
    if root is not None:
        try:
            names = (
                line.split()[0]
                for line in (root / "available_filter_functions").read_text().splitlines()
                if line
            )
            names = list(names)
        except OSError:
            names = ()
    if not names:
        names = [symbol.name for symbol in system.kernel_symbols(kinds="tT")]
    return sorted({name for name in names if fnmatch.fnmatchcase(name, pattern)})


def attach_kprobe_multi(
    program: Program,
    symbols: Sequence[str] = (),
    *,
    pattern: str = "",
    addresses: Sequence[int] = (),
    cookies: Sequence[int] = (),
    retprobe: bool = False,
) -> Link:
    """Attach one program to many kernel functions at once with a kprobe_multi link (5.18).

    Give exactly one of ``symbols``, a glob ``pattern`` (``"vfs_*"``, matched
    against ``available_filter_functions``) or ``addresses``.

    Args:
        program: a ``KPROBE`` program loaded with ``expected_attach_type=TRACE_KPROBE_MULTI``.
        cookies: one per symbol or address, for ``bpf_get_attach_cookie()``.
        retprobe: probe the functions' returns.

    Raises:
        TypeError: the program was not loaded for kprobe_multi.
        ValueError: not exactly one of the three, a pattern matching
            nothing, or a cookie count that differs.
        NotSupportedError: the kernel has no kprobe_multi links.
        BpfSyscallError: the kernel refused (an unknown symbol).
    """
    require_type(program, (ProgType.KPROBE,), "attach_kprobe_multi")
    require_attach_type(program, (AttachType.TRACE_KPROBE_MULTI,), "attach_kprobe_multi")
    if sum(map(bool, (symbols, pattern, addresses))) != 1:
        raise ValueError("give exactly one of symbols, pattern and addresses")
    require_link_type(LinkType.KPROBE_MULTI)
    names = list(symbols) or (_functions(pattern) if pattern else [])
    if pattern and not names:
        raise ValueError(f"no kernel function matches {pattern!r}")
    count = len(names) or len(addresses)
    if cookies and len(cookies) != count:
        raise ValueError(f"{len(cookies)} cookies for {count} functions")
    options = KprobeMultiOptions(
        symbols=names,
        addresses=addresses,
        cookies=cookies,
        flags=LinkFlags.KPROBE_MULTI_RETURN if retprobe else 0,
    )
    fd = commands.link_create(program, 0, AttachType.TRACE_KPROBE_MULTI, kprobe_multi=options)
    what = pattern or (names[0] if len(names) == 1 else f"{count} functions")
    return BpfLink(fd, f"{'kretprobe' if retprobe else 'kprobe'}.multi {what}")
