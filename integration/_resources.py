"""Resource accounting for the test suites: what a test leaves behind besides file descriptors.

``tests/_leakcheck.py`` catches leaked descriptors and ``integration/conftest.py``
leaked pins. This module adds everything else a BPF library can leave behind:

- **mmaps** of kernel objects (ring and perf buffers, mmap-able arrays):
  ``anon_inode:`` mappings in ``/proc/self/maps``;
- **threads** (consumer threads that were never stopped): ``threading.enumerate()``
  (optionally, ``leaks(tasks=True)``, the kernel's count of this process's
  tasks, for threads started outside ``threading``);
- **loaded objects**: programs, maps and links (ids walked with
  ``BPF_*_GET_NEXT_ID``) that appeared during the test and are still
  alive afterwards without any process holding a descriptor to them: kept
  alive by an attachment or a pin this test left behind (an object held by
  a descriptor of this process is the descriptor check's business);
- **network state**: clsact/ingress qdiscs, XDP programs on interfaces
  (``tc``/``ip`` from iproute2, in the test process's network namespace),
  and named network namespaces (``/run/netns``).

Kernel objects are freed after an RCU grace period, so loaded objects are
given ``grace`` seconds to disappear before they count as leaked. Other
processes (a second test run, a daemon) may create objects at the same time:
an object another process holds a descriptor to is theirs, not a leak (an
object another process attached and closed during the test can still be
blamed on this one: run the suite alone for a verdict that counts).

Use the autouse fixtures by importing them into a conftest::

    from _resources import no_resource_leaks  # noqa: F401  (integration: everything)
    from _resources import no_process_leaks  # noqa: F401  (unit tests: threads and mmaps)

or take snapshots by hand (the 10,000-iteration loops of
``integration/hardening`` do)::

    before = Snapshot.take()
    ...
    problems = leaks(before)      # [] when nothing leaked
"""

from __future__ import annotations

import errno
import gc
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = [
    "Snapshot",
    "attached_xdp",
    "bpf_mmaps",
    "clsact_qdiscs",
    "kernel_task_count",
    "leaks",
    "live_threads",
    "loaded_objects",
    "named_netns",
    "no_process_leaks",
    "no_resource_leaks",
    "object_holders",
    "rss_bytes",
]

BPFFS = Path("/sys/fs/bpf")
NETNS_DIR = Path("/run/netns")
#: seconds freed kernel objects and stopping threads get before they count as leaked.
GRACE = 3.0
_OBJECT_KINDS = ("prog", "map", "link")
_FDINFO_KEYS = {"prog": "prog_id:", "map": "map_id:", "link": "link_id:"}
_ANON_KINDS = {"prog": "anon_inode:bpf-prog", "map": "anon_inode:bpf-map", "link": "anon_inode:bpf_link"}


def bpf_mmaps() -> frozenset[str]:
    """This process's mappings of anonymous-inode files (BPF maps, perf buffers, io_uring...)."""
    found: set[str] = set()
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("anon_inode:"):
                found.add(f"{fields[0]} {fields[5].strip()}")
    return frozenset(found)


def live_threads() -> dict[int, str]:
    """``{ident: name}`` of every live ``threading`` thread."""
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None and t.is_alive()}


def kernel_task_count() -> int:
    """How many tasks (threads) the kernel counts in this process."""
    return len(os.listdir("/proc/self/task"))


def rss_bytes() -> int:
    """This process's resident set size now (not the peak)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def loaded_objects() -> dict[str, frozenset[int]]:
    """``{"prog": ids, "map": ids, "link": ids}`` of every BPF object in the kernel (needs CAP_SYS_ADMIN)."""
    from ebpf.syscall import objects

    return {
        "prog": frozenset(objects.prog_ids()),
        "map": frozenset(objects.map_ids()),
        "link": frozenset(objects.link_ids()),
    }


def object_holders(kind: str, ids: frozenset[int], *, include_self: bool = False) -> dict[int, set[int]]:
    """``{object id: pids}`` of the processes holding a descriptor to one of ``ids`` (of ``kind``).

    Reads ``/proc/<pid>/fdinfo`` of the descriptors that are BPF objects of
    that kind (their fdinfo carries ``prog_id:``/``map_id:``/``link_id:``).
    """
    holders: dict[int, set[int]] = {}
    if not ids:
        return holders
    me = os.getpid()
    key, anon = _FDINFO_KEYS[kind], _ANON_KINDS[kind]
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or (int(entry.name) == me and not include_self):
            continue
        pid = int(entry.name)
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or a kernel thread
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != anon:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as info:
                    text = info.read()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith(key):
                    object_id = int(line.split()[1])
                    if object_id in ids:
                        holders.setdefault(object_id, set()).add(pid)
    return holders


def _run_json(command: list[str]) -> list[dict[str, object]]:
    if shutil.which(command[0]) is None:
        return []
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=20).stdout
        data = json.loads(out or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def clsact_qdiscs() -> frozenset[str]:
    """``"dev kind"`` of every clsact and ingress qdisc in this network namespace (``tc qdisc show``)."""
    return frozenset(
        f"{q.get('dev')} {q.get('kind')}"
        for q in _run_json(["tc", "-j", "qdisc", "show"])
        if q.get("kind") in ("clsact", "ingress")
    )


def attached_xdp() -> frozenset[str]:
    """``"dev prog-id mode"`` of every XDP attachment in this network namespace (``ip -d link show``)."""
    found: set[str] = set()
    for link in _run_json(["ip", "-j", "-d", "link", "show"]):
        xdp = link.get("xdp")
        if not isinstance(xdp, dict):
            continue
        programs = [xdp.get("prog")] if "prog" in xdp else list(xdp.get("attached", []) or [])
        for prog in programs:
            if isinstance(prog, dict):
                found.add(f"{link.get('ifname')} prog {prog.get('id')} mode {xdp.get('mode')}")
    return frozenset(found)


def named_netns() -> frozenset[str]:
    """The named network namespaces (``ip netns``): the files of ``/run/netns``."""
    try:
        return frozenset(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return frozenset()


def _pins() -> frozenset[Path]:
    found: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(BPFFS):
        base = Path(dirpath)
        found.update(base / name for name in [*dirnames, *filenames])
    return frozenset(found)


def _fds() -> dict[int, str]:
    from tests._leakcheck import open_fds

    return open_fds()


@dataclass(frozen=True)
class Snapshot:
    """Everything :func:`leaks` compares, taken at one moment."""

    fds: dict[int, str]
    mmaps: frozenset[str]
    threads: dict[int, str]
    tasks: int
    pins: frozenset[Path] = frozenset()
    objects: dict[str, frozenset[int]] = field(default_factory=dict)
    qdiscs: frozenset[str] = frozenset()
    xdp: frozenset[str] = frozenset()
    netns: frozenset[str] = frozenset()
    #: whether qdiscs, XDP attachments and netns were taken (``network=True``).
    network: bool = False

    @classmethod
    def take(cls, *, kernel: bool = True, network: bool = True) -> Snapshot:
        """Snapshot this process; ``kernel`` adds loaded objects and pins, ``network`` qdiscs/XDP/netns.

        ``kernel`` needs ``CAP_SYS_ADMIN`` (walking object ids) and is skipped
        silently without it.
        """
        objects: dict[str, frozenset[int]] = {}
        pins: frozenset[Path] = frozenset()
        if kernel and os.geteuid() == 0:
            objects = loaded_objects()
            pins = _pins()
        return cls(
            fds=_fds(),
            mmaps=bpf_mmaps(),
            threads=live_threads(),
            tasks=kernel_task_count(),
            pins=pins,
            objects=objects,
            qdiscs=clsact_qdiscs() if network else frozenset(),
            xdp=attached_xdp() if network else frozenset(),
            netns=named_netns() if network else frozenset(),
            network=network,
        )


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _object_leaks(before: dict[str, frozenset[int]], grace: float) -> list[str]:
    from ebpf.syscall import objects

    suspects: dict[str, frozenset[int]] = {}

    def gone() -> bool:
        # An object some process (this one included: that is the descriptor
        # check's business) holds a descriptor to is not leaked by attachment.
        now = loaded_objects()
        for kind in _OBJECT_KINDS:
            new = now[kind] - before.get(kind, frozenset())
            held = object_holders(kind, new, include_self=True)
            suspects[kind] = frozenset(i for i in new if i not in held)
        return not any(suspects.values())

    if gone():
        return []
    gc.collect()  # an object nothing refers to any more closes its descriptor in a finalizer
    if _wait(gone, grace):
        return []
    listers: dict[str, Callable[[], list[object]]] = {
        "prog": lambda: list(objects.list_programs()),
        "map": lambda: list(objects.list_maps()),
        "link": lambda: list(objects.list_links()),
    }
    problems = []
    for kind, ids in suspects.items():
        if not ids:
            continue
        listing = ", ".join(_describe(listers[kind], i) for i in sorted(ids))
        problems.append(
            f"{len(ids)} {kind}(s) still loaded that no process holds (attached or pinned): {listing}"
        )
    return problems


def _describe(lister: Callable[[], list[object]], object_id: int) -> str:
    try:
        for info in lister():
            if getattr(info, "id", None) == object_id:
                name = getattr(info, "name", "")
                kind = getattr(info, "type", "")
                return f"id {object_id} {getattr(kind, 'name', kind)} {name!r}".rstrip()
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOENT):
            raise
    return f"id {object_id}"


def _settle(current: Callable[[], frozenset[str]], old: frozenset[str], grace: float) -> frozenset[str]:
    """What ``current()`` has beyond ``old`` once it stops shrinking or ``grace`` seconds pass."""
    deadline = time.monotonic() + grace
    while True:
        extra = current() - old
        if not extra or time.monotonic() >= deadline:
            return extra
        time.sleep(0.05)


def leaks(
    before: Snapshot,
    *,
    grace: float = GRACE,
    fds: bool = False,
    pins: bool = False,
    tasks: bool = False,
) -> list[str]:
    """What exists now that did not in ``before``, one message per kind of leak ([] when nothing leaked).

    ``fds``/``pins`` add those checks (the conftests already make them);
    ``tasks`` counts the kernel's threads of this process too, which also
    catches thread pools that libraries start once and keep (NumPy's BLAS).
    Threads, loaded objects and network state get ``grace`` seconds to go.
    Garbage is collected only when something looks leaked (objects that
    nothing refers to any more release their resources through finalizers).
    """
    problems: list[str] = []
    if fds:
        from tests._leakcheck import describe_fds, fd_leaks

        leaked_fds = fd_leaks(before.fds, _fds())
        if leaked_fds:
            gc.collect()
            leaked_fds = fd_leaks(before.fds, _fds())
        if leaked_fds:
            problems.append(f"{len(leaked_fds)} file descriptor(s): {describe_fds(leaked_fds)}")
    new_mmaps = bpf_mmaps() - before.mmaps
    if new_mmaps:
        gc.collect()
        new_mmaps = bpf_mmaps() - before.mmaps
    if new_mmaps:
        problems.append(
            f"{len(new_mmaps)} kernel-object mapping(s) still mapped: {', '.join(sorted(new_mmaps))}"
        )

    def new_threads() -> dict[int, str]:
        return {i: n for i, n in live_threads().items() if i not in before.threads}

    if not _wait(lambda: not new_threads(), grace):
        names = ", ".join(sorted(new_threads().values()))
        problems.append(f"{len(new_threads())} thread(s) still running: {names}")
    elif tasks and not _wait(lambda: kernel_task_count() <= before.tasks, grace):
        problems.append(
            f"{kernel_task_count() - before.tasks} thread(s) started outside `threading` still running"
        )
    if pins and before.objects:
        new_pins = _pins() - before.pins
        if new_pins:
            problems.append(f"{len(new_pins)} pin(s) left: {' '.join(sorted(map(str, new_pins)))}")
    if before.objects:
        problems += _object_leaks(before.objects, grace)
    if before.network:
        network = [
            ("clsact/ingress qdisc(s)", clsact_qdiscs, before.qdiscs),
            ("XDP attachment(s)", attached_xdp, before.xdp),
            ("named network namespace(s)", named_netns, before.netns),
        ]
        for what, current, old in network:
            extra = _settle(current, old, grace)
            if extra:
                problems.append(f"{len(extra)} {what} left: {', '.join(sorted(extra))}")
    return problems


@pytest.fixture(autouse=True)
def no_resource_leaks() -> Iterator[None]:
    """Fail a test that leaves mmaps, threads, loaded or attached objects, qdiscs, XDP or netns behind."""
    before = Snapshot.take()
    yield
    problems = leaks(before)
    if problems:
        pytest.fail("test leaked resources:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def no_process_leaks() -> Iterator[None]:
    """Fail a test that leaves threads running or kernel objects mapped (no root needed)."""
    before = Snapshot.take(kernel=False, network=False)
    yield
    problems = leaks(before)
    if problems:
        pytest.fail("test leaked resources:\n  " + "\n  ".join(problems), pytrace=False)
