"""Attaching programs built with libbpf's ``<bpf/usdt.bpf.h>`` to USDT probes (``bpf_program__attach_usdt``).

A USDT probe is a ``nop`` at one or more sites of a binary (inlined copies),
each with its own argument spec. Attaching means: one uprobe per site at
its file offset (with the probe's semaphore as the uprobe's
``ref_ctr_offset``, so the kernel counts it up while attached), and the
two maps ``usdt.bpf.h`` declares filled for ``bpf_usdt_arg()``:

- ``__bpf_usdt_specs`` (ARRAY): spec id -> ``struct __bpf_usdt_spec``
  (where each argument lives, and the attachment's USDT cookie);
- ``__bpf_usdt_ip_to_spec_id`` (HASH): the probe's address in the traced
  process -> spec id, read only when the kernel has no BPF cookies on
  uprobes; with them the uprobe's cookie *is* the spec id.

Spec ids are small integers allocated per object (per specs map, shared by
all the attachments of its programs), one per distinct argument spec of an
attachment, and given back when its link closes, as libbpf does. Without
cookies an address must be absolute in the process that runs it: known
for fixed-address executables, found in ``/proc/PID/maps`` for shared
libraries and PIE executables, so those need a ``pid`` then.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ebpf.maps import BytesCodec, KeyValueMap, Map, u32, u64
from ebpf.progs import Link, LinkInfo, Program, attach_uprobe
from ebpf.syscall import MapType, UpdateFlags, features
from ebpf.syscall.errors import BpfSyscallError, LibraryLimitError, NotSupportedError, ParseError

from ._procmaps import Mapping as ProcMapping
from ._procmaps import process_mappings
from ._symbols import find_library
from ._usdt import UsdtProbe, usdt_probes
from ._usdt_args import USDT_SPEC_SIZE

__all__ = ["IP_MAP", "SPECS_MAP", "UsdtLink", "attach_usdt"]

logger = logging.getLogger("ebpf.elf")

#: The map of ``struct __bpf_usdt_spec`` by spec id that ``usdt.bpf.h`` declares.
SPECS_MAP = "__bpf_usdt_specs"
#: The map of spec ids by probe address that ``usdt.bpf.h`` declares.
IP_MAP = "__bpf_usdt_ip_to_spec_id"
# the kernel keeps 15 bytes of a map's name
_KERNEL_NAMES = {SPECS_MAP[:15]: SPECS_MAP, IP_MAP[:15]: IP_MAP}
_LAYOUT = {SPECS_MAP: (MapType.ARRAY, 4, USDT_SPEC_SIZE), IP_MAP: (MapType.HASH, 8, 4)}


# ------------------------------------------------------------------ spec ids


class _SpecIds:
    """The spec ids of one specs map: the next never used, the ones given back, how many are out."""

    def __init__(self) -> None:
        self.next = 0
        self.free: list[int] = []
        self.out = 0


# by kernel id of the specs map: a map id is not reused while a link holds the map open
_SPEC_IDS: dict[int, _SpecIds] = {}
_SPEC_IDS_LOCK = threading.Lock()


def _take_spec_ids(map_id: int, capacity: int, count: int, what: str) -> list[int]:
    """``count`` free spec ids of the specs map ``map_id`` (``capacity`` entries).

    Raises:
        ValueError: the map has no room for them (the message says how to grow it).
    """
    with _SPEC_IDS_LOCK:
        ids = _SPEC_IDS.setdefault(map_id, _SpecIds())
        if len(ids.free) + capacity - ids.next < count:
            raise ValueError(
                f"{what}: {count} more USDT specs do not fit in {SPECS_MAP} ({capacity} entries, "
                f"{ids.out} in use): define BPF_USDT_MAX_SPEC_CNT larger before including <bpf/usdt.bpf.h>"
            )
        taken: list[int] = []
        while len(taken) < count and ids.free:
            taken.append(ids.free.pop())
        while len(taken) < count:
            taken.append(ids.next)
            ids.next += 1
        ids.out += count
        return taken


def _give_spec_ids(map_id: int, taken: Sequence[int]) -> None:
    """Give back ids of the specs map ``map_id``; forget the map once none is out."""
    with _SPEC_IDS_LOCK:
        ids = _SPEC_IDS.get(map_id)
        if ids is None:
            return
        ids.free.extend(taken)
        ids.out -= len(taken)
        if ids.out <= 0:
            del _SPEC_IDS[map_id]


# ------------------------------------------------------------------ the maps


@dataclass
class _UsdtMaps:
    """Our own descriptors of the two maps, opened for raw bytes."""

    specs: KeyValueMap[int, bytes]
    ips: KeyValueMap[int, int]
    specs_id: int

    def close(self) -> None:
        self.specs.close()
        self.ips.close()


def _specs_view(live: Map) -> KeyValueMap[int, bytes]:
    """``live``'s specs map on a duplicated descriptor: u32 spec id -> the raw ``struct __bpf_usdt_spec``."""
    view: KeyValueMap[int, bytes] = KeyValueMap.from_fd(
        os.dup(live.fileno()), key=u32, value=BytesCodec(USDT_SPEC_SIZE)
    )
    return view


def _ips_view(live: Map) -> KeyValueMap[int, int]:
    """``live``'s IP map on a duplicated descriptor: u64 address -> u32 spec id."""
    view: KeyValueMap[int, int] = KeyValueMap.from_fd(os.dup(live.fileno()), key=u64, value=u32)
    return view


def _check_layout(name: str, live: Map, program: str) -> None:
    map_type, key_size, value_size = _LAYOUT[name]
    have = (int(live.type), live.key_size, live.value_size)
    if have != (map_type, key_size, value_size):
        raise ValueError(
            f"program {program!r}: map {name!r} is not the one <bpf/usdt.bpf.h> declares "
            f"(type {live.type}, key {live.key_size}, value {live.value_size} bytes; "
            f"expected {map_type.name}, {key_size}, {value_size})"
        )


def _missing_maps(program: str, found: object) -> ValueError:
    return ValueError(
        f"program {program!r} has no {SPECS_MAP} and {IP_MAP} maps (it uses {found}): a USDT program "
        "reads its arguments through them; build it with #include <bpf/usdt.bpf.h> and BPF_USDT()"
    )


def _program_maps(program: Program) -> dict[str, Map]:
    """The USDT maps ``program`` uses, found by their kernel names among its map ids."""
    found: dict[str, Map] = {}
    names = []
    try:
        for map_id in program.info(instructions=False).map_ids:
            live = Map.from_id(map_id)
            names.append(live.name)
            full = _KERNEL_NAMES.get(live.name)
            if full is None or full in found:
                live.close()
                continue
            found[full] = live
    except BaseException:
        for live in found.values():
            live.close()
        raise
    if len(found) < 2:
        for live in found.values():
            live.close()
        raise _missing_maps(program.name, sorted(names) or "no maps")
    return found


def _open_maps(program: Program, maps: Mapping[str, Map] | None) -> _UsdtMaps:
    """Raw views of the program's USDT maps (from ``maps`` by name, else from the kernel).

    Raises:
        ValueError: a map is missing or is not laid out as ``usdt.bpf.h`` declares it.
    """
    owned = maps is None
    if maps is None:
        maps = _program_maps(program)
    elif SPECS_MAP not in maps or IP_MAP not in maps:
        raise _missing_maps(program.name, sorted(maps) or "no maps")
    try:
        for name in (SPECS_MAP, IP_MAP):
            _check_layout(name, maps[name], program.name)
        specs = _specs_view(maps[SPECS_MAP])
        try:
            ips = _ips_view(maps[IP_MAP])
        except BaseException:
            specs.close()
            raise
    finally:
        if owned:
            for live in maps.values():
                live.close()
    return _UsdtMaps(specs, ips, specs.info().id)


# ------------------------------------------------------------------ the probes


@dataclass(frozen=True)
class _Site:
    """Where one uprobe goes: a probe site, the file to put it in, and its absolute address (IP mode)."""

    probe: UsdtProbe
    path: str
    address: int


def _find_binary(binary: str | os.PathLike[str]) -> Path:
    """A path as given; else an executable on ``PATH`` or a library found as the loader would (libbpf's rule).

    Raises:
        FileNotFoundError: no such file.
    """
    text = os.fspath(binary)
    if "/" not in text and ".so" not in text:
        found = shutil.which(text)
        if found is not None:
            return Path(found)
    return find_library(text)


def _reachable(pid: int, mapping: ProcMapping) -> str:
    """A path to ``mapping``'s file from here: as the process names it, else through its root (containers)."""
    try:
        if os.stat(mapping.path).st_ino == mapping.inode:
            return mapping.path
    except OSError:
        pass
    return f"/proc/{pid}/root{mapping.path}"


def _process_files(pid: int) -> dict[str, list[ProcMapping]]:
    """The executable file mappings of process ``pid``, by file (its executable first)."""
    files: dict[str, list[ProcMapping]] = {}
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    if exe:
        files[exe] = []
    for mapping in process_mappings(pid):
        if mapping.file_backed and mapping.executable and not mapping.deleted:
            files.setdefault(mapping.path, []).append(mapping)
    return {_reachable(pid, found[0]): found for found in files.values() if found}


def _listing(probes: Sequence[UsdtProbe]) -> str:
    names = sorted({probe.qualified_name for probe in probes})
    return ", ".join(names) if names else "no USDT probes"


def _matching(path: str | Path, provider: str, name: str) -> tuple[list[UsdtProbe], list[UsdtProbe]]:
    """The sites of ``provider:name`` in ``path``, and every probe of the file."""
    probes = usdt_probes(path)
    return [p for p in probes if p.provider == provider and p.name == name], probes


def _check_arguments(probe: UsdtProbe) -> None:
    """Raise before any attachment for arguments ``usdt.bpf.h`` cannot read (``LibraryLimitError``)."""
    probe.spec()


def _absolute(probe: UsdtProbe, mappings: Sequence[ProcMapping]) -> int | None:
    """The address of ``probe`` in a process that maps its file as ``mappings`` (None: not mapped there)."""
    if not probe.position_independent:
        return probe.address
    for mapping in mappings:
        if mapping.offset <= probe.file_offset < mapping.offset + (mapping.end - mapping.start):
            return mapping.start - mapping.offset + probe.file_offset
    return None


def _sites_in_binary(
    binary: str | os.PathLike[str],
    provider: str,
    name: str,
    pid: int | None,
    need_address: bool,
    forced: bool,
) -> list[_Site]:
    path = _find_binary(binary)
    sites, probes = _matching(path, provider, name)
    if not sites:
        raise ValueError(f"{path} has no USDT probe {provider}:{name}; it has {_listing(probes)}")
    mappings: list[ProcMapping] = []
    if need_address and any(site.position_independent for site in sites):
        if pid is None:
            raise _needs_pid(path, forced)
        inode = path.stat().st_ino
        mappings = [m for m in process_mappings(pid) if m.executable and m.inode == inode]
    return [_site(site, str(path), mappings, pid, need_address) for site in sites]


def _site(probe: UsdtProbe, path: str, mappings: Sequence[ProcMapping], pid: int | None, need: bool) -> _Site:
    address = _absolute(probe, mappings) if need else 0
    if address is None:
        raise ValueError(
            f"process {pid} does not map the code of {path} that holds USDT probe {probe.qualified_name} "
            f"(file offset {probe.file_offset:#x})"
        )
    return _Site(probe, path, address)


def _sites_in_process(pid: int, provider: str, name: str, need_address: bool) -> list[_Site]:
    sites: list[_Site] = []
    seen: list[UsdtProbe] = []
    skipped: list[str] = []
    for path, mappings in _process_files(pid).items():
        try:
            found, probes = _matching(path, provider, name)
        except (OSError, ParseError, LibraryLimitError) as exc:
            logger.debug("attach_usdt: pid %d: skipping %s: %s", pid, path, exc)
            skipped.append(f"{path} ({exc})")
            continue
        seen += probes
        sites += [_site(probe, path, mappings, pid, need_address) for probe in found]
    if not sites:
        also = f"; unreadable: {', '.join(skipped)}" if skipped else ""
        raise ValueError(
            f"process {pid} maps no file with USDT probe {provider}:{name}; "
            f"its files have {_listing(seen)}{also}"
        )
    return sites


def _needs_pid(path: Path, forced: bool) -> Exception:
    """The error for a position-independent file attached by address without a pid."""
    why = (
        f"{path} is position-independent: without BPF cookies its USDT probes are found by their "
        "address in one process; pass pid= (or a pid as the target)"
    )
    if forced:
        return ValueError(why)
    return NotSupportedError("attaching USDT probes of shared libraries for every process", "5.15", why)


# ------------------------------------------------------------------ the link


def _release(links: list[Link], maps: _UsdtMaps, addresses: list[int], spec_ids: list[int]) -> None:
    """Detach every uprobe, remove the addresses from the IP map, give the spec ids back, close the maps."""
    first: BaseException | None = None
    for link in reversed(links):
        try:
            link.close()
        except Exception as exc:  # keep releasing the rest
            first = first or exc
    for address in addresses:
        try:
            maps.ips.delete(address)
        except (BpfSyscallError, ValueError) as exc:
            logger.debug("attach_usdt: removing address %#x from %s: %s", address, IP_MAP, exc)
    _give_spec_ids(maps.specs_id, spec_ids)
    maps.close()
    if first is not None:
        raise first


class UsdtLink(Link):
    """A program attached to every site of a USDT probe: one uprobe per site, closed together.

    Closing it (from any thread, more than once, or at garbage collection)
    detaches every uprobe, which lets the kernel count the probes'
    semaphores back down, removes the attachment's addresses from the IP
    map and gives its spec ids back to the object.

    Attributes:
        probes: the probe sites attached, with the file each is in.
        links: the uprobe link of each site.
        cookies: whether the spec ids travel as BPF cookies (else by the IP map).
    """

    def __init__(
        self,
        target: str,
        program_id: int,
        sites: Sequence[_Site],
        links: list[Link],
        maps: _UsdtMaps,
        addresses: list[int],
        spec_ids: list[int],
        cookies: bool,
    ) -> None:
        """Take ownership of ``links``, ``maps``, the IP map entries at ``addresses`` and ``spec_ids``."""
        super().__init__(target)
        self.probes = tuple((site.path, site.probe) for site in sites)
        self.links = tuple(links)
        self.cookies = cookies
        self._program_id = program_id
        self._finalizer = weakref.finalize(self, _release, links, maps, addresses, spec_ids)

    @property
    def mechanism(self) -> str:
        return self.links[0].mechanism if self.links else "bpf_link"

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Detach every site and release what the attachment holds in the maps.

        Raises:
            Exception: the first error a uprobe link raised while closing;
                everything else is released all the same.
        """
        self._finalizer()

    def info(self) -> LinkInfo:
        if self.closed:
            raise ValueError(f"the USDT link {self.target} is closed")
        return LinkInfo(mechanism=self.mechanism, program_id=self._program_id, target=self.target)


# ------------------------------------------------------------------ attaching


def _use_cookies(use_cookies: bool | None) -> bool:
    if use_cookies is None:
        return features.UPROBE_COOKIES.supported()
    if use_cookies:
        features.UPROBE_COOKIES.require()
    return bool(use_cookies)


def attach_usdt(
    program: Program,
    target: str | os.PathLike[str] | int,
    provider: str,
    name: str,
    *,
    pid: int | None = None,
    cookie: int = 0,
    maps: Mapping[str, Map] | None = None,
    use_cookies: bool | None = None,
) -> UsdtLink:
    """Attach ``program`` (built with ``<bpf/usdt.bpf.h>``) to USDT probe ``provider:name``.

    libbpf's ``bpf_program__attach_usdt(prog, pid, binary, provider, name,
    opts)``: one uprobe at every site of the probe, the specs of its
    arguments written where ``bpf_usdt_arg()`` reads them, guarded probes
    enabled (their semaphore counted up while attached).

    Args:
        program: a ``KPROBE`` program that reads its arguments with
            ``BPF_USDT()`` / ``bpf_usdt_arg()``.
        target: the executable or shared library that holds the probe (a
            path, a program found on ``PATH``, or a library name found as the
            loader would: ``"libc.so.6"``); or a process id, whose executable
            and mapped shared libraries are searched (and only that process
            is traced).
        provider, name: the probe (``"python"``, ``"function__entry"``).
        pid: trace only this process (``None``: every process running the binary).
        cookie: the value ``bpf_usdt_cookie()`` returns (an unsigned 64-bit value).
        maps: the maps of the program's object by name (``collection.maps``);
            without them they are found among the maps the program uses.
        use_cookies: how the program finds the spec of the site that fired:
            ``None`` as ``usdt.bpf.h``'s ``LINUX_HAS_BPF_COOKIE`` says (BPF
            cookies where the kernel has them, 5.15); ``False`` the
            IP-to-spec-id map, for a program loaded with that extern false.

    Returns:
        A [`UsdtLink`][ebpf.elf.UsdtLink]; closing it detaches everything.

    Raises:
        ValueError: no such probe (the message lists the file's probes),
            the program lacks the ``usdt.bpf.h`` maps, its specs map is full,
            a bad pid or cookie, an address another attachment of the object
            already holds (IP map), or with ``use_cookies=False`` a
            position-independent file (shared library, PIE) without a ``pid``.
        FileNotFoundError: no such binary.
        ProcessLookupError: no such process.
        ParseError: malformed notes or arguments (more than 12 of them...).
        LibraryLimitError: an argument ``usdt.bpf.h`` cannot read.
        NotSupportedError: a semaphore on a kernel without uprobe
            ``ref_ctr_offset`` (4.20); ``use_cookies=True`` without BPF
            cookies; without them (before 5.15), a position-independent file
            without a ``pid``.
        TypeError, BpfSyscallError: what [`attach_uprobe()`][ebpf.progs.attach_uprobe] raises.
    """
    if isinstance(target, bool) or not isinstance(target, str | os.PathLike | int):
        raise TypeError(f"target must be a path, a library name or a pid, not {target!r}")
    if isinstance(target, int):
        if target <= 0 or (pid is not None and pid != target):
            raise ValueError(f"the pid target {target} must be positive and agree with pid={pid}")
        pid = target
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0):
        raise ValueError(f"pid must be a positive process id or None, not {pid!r}")
    if not 0 <= cookie < 1 << 64:
        raise ValueError(f"the USDT cookie {cookie} is not an unsigned 64-bit value")
    cookies = _use_cookies(use_cookies)
    if isinstance(target, int):
        sites = _sites_in_process(target, provider, name, not cookies)
    else:
        sites = _sites_in_binary(target, provider, name, pid, not cookies, use_cookies is False)
    for site in sites:
        _check_arguments(site.probe)
    if any(site.probe.semaphore_offset for site in sites):
        features.UPROBE_REF_CTR.require()
    where = f"pid {target}" if isinstance(target, int) else sites[0].path
    description = f"usdt {provider}:{name} in {where}" + (f" pid {pid}" if pid and target != pid else "")
    usdt_maps = _open_maps(program, maps)
    links: list[Link] = []
    addresses: list[int] = []
    specs: dict[str, int] = {}
    try:
        distinct = list(dict.fromkeys(site.probe.argument_spec for site in sites))
        ids = _take_spec_ids(usdt_maps.specs_id, usdt_maps.specs.max_entries, len(distinct), description)
        specs = dict(zip(distinct, ids, strict=True))
        for site in sites:
            spec_id = specs[site.probe.argument_spec]
            usdt_maps.specs[spec_id] = site.probe.spec(cookie)
            if not cookies:
                _map_address(usdt_maps, site, spec_id, description)
                addresses.append(site.address)
            links.append(
                attach_uprobe(
                    program,
                    site.path,
                    site.probe.file_offset,
                    pid=pid,
                    ref_ctr_offset=site.probe.semaphore_offset,
                    cookie=spec_id if cookies else 0,
                )
            )
    except BaseException:
        _release(links, usdt_maps, addresses, list(specs.values()))
        raise
    logger.debug("attach_usdt: %s: %d sites, spec ids %s", description, len(sites), sorted(specs.values()))
    return UsdtLink(
        description, program.id, sites, links, usdt_maps, addresses, list(specs.values()), cookies
    )


def _map_address(maps: _UsdtMaps, site: _Site, spec_id: int, what: str) -> None:
    """``__bpf_usdt_ip_to_spec_id[address] = spec_id``, refusing an address in use."""
    try:
        maps.ips.update(site.address, spec_id, flags=UpdateFlags.NOEXIST)
    except BpfSyscallError as exc:
        if exc.errno == errno.EEXIST:
            raise ValueError(
                f"{what}: address {site.address:#x} is attached already by another USDT attachment of this "
                f"object ({IP_MAP} maps each address to one spec)"
            ) from None
        raise
