"""Attaching every program of a collection by its section, as a libbpf skeleton's ``attach()`` does.

libbpf's ``bpf_object__attach_skeleton`` walks the loaded programs and
calls the auto-attach function of each one's section definition:
kprobes, uprobes (``uprobe/<binary>:<function>[+<offset>]``), USDT probes
(``usdt/<binary>:<provider>:<name>``), ksyscalls,
tracepoints, raw tracepoints, fentry/fexit/fmod_ret, tp_btf, LSM and
iterators. A section whose definition has no such function (``xdp``,
``tc``, ``cgroup/...``, ``socket``...), or a name that gives no target
(``SEC("tp")``, ``SEC("uprobe")``), is skipped: those are attached by hand.
One difference: where libbpf leaves the links it made when one fails (the
skeleton's destroy closes them), [`Collection.attach_all()`][ebpf.elf.Collection.attach_all] detaches
them before raising, so a failure leaves nothing attached.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType

from ebpf.maps import Map
from ebpf.progs import Link, Program
from ebpf.syscall.errors import LibraryLimitError

__all__ = ["Links", "attach_all"]

logger = logging.getLogger("ebpf.elf")

_KPROBES = frozenset({"kprobe", "kretprobe", "ksyscall", "kretsyscall", "kprobe.multi", "kretprobe.multi"})
_UPROBES = frozenset({"uprobe", "uretprobe", "uprobe.s", "uretprobe.s"})
_USDT = "usdt"
_TRACEPOINTS = frozenset({"tracepoint", "tp", "raw_tracepoint", "raw_tp", "raw_tracepoint.w", "raw_tp.w"})
#: Sections whose target is checked when the program is loaded (BTF-based): attached as they are.
_BTF_BASED = frozenset(
    {
        "tp_btf",
        "fentry",
        "fexit",
        "fmod_ret",
        "fentry.s",
        "fexit.s",
        "fmod_ret.s",
        "freplace",
        "lsm",
        "lsm.s",
        "iter",
        "iter.s",
    }
)
#: Auto-attached by libbpf, not by this library yet.
_NOT_YET = frozenset({"uprobe.multi", "uretprobe.multi"})


class Links(Mapping[str, Link]):
    """The links [`Collection.attach_all()`][ebpf.elf.Collection.attach_all] made, by program name;
    closing it closes them all.

    A context manager: ``with coll.attach_all() as links: ...`` detaches
    every program at the end of the block. Safe to close from several
    threads, and more than once.

    Attributes:
        skipped: the loaded programs that were not attached, each with the
            reason (a section that names no attach point, or one that is
            attached by hand: XDP, TC, cgroups...).
    """

    def __init__(self, links: Mapping[str, Link], skipped: Mapping[str, str]) -> None:
        """Take ownership of ``links``; see [`Collection.attach_all()`][ebpf.elf.Collection.attach_all]."""
        self._links = dict(links)
        self.skipped = dict(skipped)
        self._lock = threading.Lock()
        self._closed = False

    def __getitem__(self, program: str) -> Link:
        return self._links[program]

    def __iter__(self) -> Iterator[str]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)

    @property
    def closed(self) -> bool:
        """Whether [`close()`][ebpf.elf.Links.close] was called."""
        return self._closed

    def close(self) -> None:
        """Close every link, last attached first (the programs are detached unless a link is pinned).

        Raises:
            Exception: the first error a link raised while closing; the
                other links are closed all the same.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            links = list(self._links.values())
        _close_all(links)

    def __enter__(self) -> Links:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Links {sorted(self._links)} skipped={sorted(self.skipped)}{state}>"


def _close_all(links: list[Link]) -> None:
    """Close ``links`` in reverse order, raising the first error once all were tried."""
    first: BaseException | None = None
    for link in reversed(links):
        try:
            link.close()
        except Exception as exc:  # keep closing the others
            first = first or exc
    if first is not None:
        raise first


def _uprobe(name: str, program: Program, section: str, target: str) -> Callable[[], Link]:
    """The attachment of ``uprobe/<binary>:<function>[+<offset>]``, parsed as libbpf parses it.

    Raises:
        ValueError: no ``:function``, or an offset on a return probe.
    """
    binary, colon, function = target.partition(":")
    if not colon or not binary or not function:
        raise ValueError(
            f"section {section!r} of program {name!r} misses ':function[+offset]' "
            "(uprobe/<binary>:<function>[+<offset>])"
        )
    offset = 0
    symbol, plus, number = function.rpartition("+")
    if plus:
        try:
            offset = int(number, 0)
            function = symbol
        except ValueError:
            offset = 0  # libbpf: a '+' not followed by a whole number is part of the name
    retprobe = section.startswith("uret")
    if retprobe and offset:
        raise ValueError(f"section {section!r} of program {name!r}: uretprobes take no offset")
    from ._uprobes import attach_uprobe_symbol  # here: an object without uprobes needs no ELF symbol lookup

    return lambda: attach_uprobe_symbol(program, binary, function, offset=offset, retprobe=retprobe)


def _usdt(
    name: str, program: Program, section: str, target: str, maps: Mapping[str, Map] | None
) -> Callable[[], Link]:
    """The attachment of ``usdt/<binary>:<provider>:<name>`` (every process), parsed as libbpf parses it.

    Raises:
        ValueError: not three non-empty parts separated by ``:``.
    """
    parts = target.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"section {section!r} of program {name!r} is not usdt/<binary>:<provider>:<name>")
    binary, provider, probe = parts
    from ._usdt_attach import attach_usdt  # here: an object without USDT probes needs no note parsing

    return lambda: attach_usdt(program, binary, provider, probe, maps=maps)


def _plan(
    name: str, program: Program, section: str | None, maps: Mapping[str, Map] | None
) -> Callable[[], Link] | str:
    """How to attach ``program`` by its section, or why it is skipped.

    Raises:
        ValueError: a uprobe section without ``:function``, a USDT section
            without ``:<provider>:<name>``.
        LibraryLimitError: a section libbpf attaches and this library cannot yet (uprobe.multi).
    """
    if section is None:
        return "not from the object's sections"
    kind, _, target = section.partition("/")
    if kind in _BTF_BASED:
        return program.attach
    if kind in _KPROBES | _UPROBES | _TRACEPOINTS | _NOT_YET | {_USDT}:
        if not target:
            return f"SEC({section!r}) names no attach point: attach it by hand"
        if kind in _NOT_YET:
            raise LibraryLimitError(
                f"attach_all: program {name!r} (SEC({section!r})): attaching {kind} sections "
                "is a limit of this library for now; turn the program off before loading with "
                f"spec.set_autoload({name!r}, False) and attach the rest"
            )
        if kind in _UPROBES:
            return _uprobe(name, program, section, target)
        if kind == _USDT:
            return _usdt(name, program, section, target, maps)
        return program.attach
    return f"SEC({section!r}) programs are not attached by their section: attach it by hand"


def attach_all(
    programs: Mapping[str, Program], sections: Mapping[str, str], maps: Mapping[str, Map] | None = None
) -> Links:
    """Attach each of ``programs`` as its section says (``maps``: their object's, for USDT programs).

    See [`Collection.attach_all()`][ebpf.elf.Collection.attach_all].

    Raises:
        ValueError, LibraryLimitError: a section that cannot be attached (before anything is attached).
        BpfSyscallError, ...: what attaching a program raised, after the
            programs attached before it were detached.
    """
    plans: dict[str, Callable[[], Link]] = {}
    skipped: dict[str, str] = {}
    for name, program in programs.items():
        plan = _plan(name, program, sections.get(name), maps)
        if isinstance(plan, str):
            skipped[name] = plan
        else:
            plans[name] = plan
    links: dict[str, Link] = {}
    try:
        for name, plan in plans.items():
            links[name] = plan()
            logger.debug("attach_all: %s -> %s", name, links[name].target)
    except Exception as exc:
        if sys.version_info >= (3, 11):
            exc.add_note(f"while attaching program {name!r} (SEC({sections.get(name)!r})); detached the rest")
        try:
            _close_all(list(links.values()))
        except Exception:  # the attach error is the one to report
            logger.exception("attach_all: detaching after the failure of %r", name)
        raise
    for name, why in skipped.items():
        logger.debug("attach_all: %s skipped: %s", name, why)
    return Links(links, skipped)
