"""Faults the library must survive: missing bpffs, taken pin paths, maps vanishing under iterators,
signals during loads, and processes killed while holding attachments.

Every test here also runs under the resource check of ``conftest.py``:
whatever the fault, nothing may stay loaded, attached, mapped or running.
"""

from __future__ import annotations

import errno
import os
import signal
import struct
import subprocess
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
from progs._progs_support import Counter, insn, returns, wait_until

from ebpf.maps import KeyValueMap, Map, MapSpec, PinType, u32, u64
from ebpf.progs import (
    Program,
    ProgramSpec,
    attach_cgroup,
    attach_iter,
    attach_kprobe,
    attach_netns,
    attach_perf_event,
    open_cgroup,
    query_cgroup,
    syscall_function,
)
from ebpf.syscall import (
    AttachType,
    BpfSyscallError,
    MapType,
    NotMountedError,
    NotSupportedError,
    ProgType,
    commands,
    objects,
    perf,
    system,
)
from ebpf.syscall.abi import PerfSwId

ADD64_IMM = 0x07


def _map_ids() -> set[int]:
    return set(objects.map_ids())


# ---------------------------------------------------------------- bpffs not mounted


@pytest.fixture
def plain_dir() -> Iterator[Path]:
    """An empty directory on an ordinary filesystem (not bpffs); unmounted and removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ebpf-no-bpffs-"))
    try:
        yield path
    finally:
        while any(m == path for m in system.find_mounts("bpf")):
            subprocess.run(["umount", str(path)], check=True)
        path.rmdir()


def test_bpffs_not_mounted_is_named_and_can_be_mounted(plain_dir: Path) -> None:
    with pytest.raises(NotMountedError) as info:
        system.ensure_bpffs(plain_dir)
    assert info.value.fstype == "bpf"
    assert f"mount -t bpf bpf {plain_dir}" in str(info.value)
    assert system.ensure_bpffs(plain_dir, mount=True) == plain_dir
    assert system.ensure_bpffs(plain_dir) == plain_dir  # now it is one
    with Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1)) as m:
        m.pin(plain_dir / "works")
        m.unpin()


def test_pinning_off_bpffs_fails_cleanly(plain_dir: Path) -> None:
    before = _map_ids()
    with Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1)) as m:
        with pytest.raises(BpfSyscallError) as info:
            m.pin(plain_dir / "nope")
        assert info.value.errno == errno.EPERM
        assert "bpffs" in str(info.value)
        assert m.pinned_path is None
    spec = MapSpec(MapType.ARRAY, name="byname", key=u32, value=u32, max_entries=1, pinning=PinType.BY_NAME)
    with pytest.raises(BpfSyscallError):
        Map.create(spec, pin_root=plain_dir)
    with pytest.raises(BpfSyscallError):
        Map.create(spec, pin_root=plain_dir / "missing")
    assert list(plain_dir.iterdir()) == []
    assert wait_until(lambda: _map_ids() <= before), "a failed pinned create left its map loaded"


# ---------------------------------------------------------------- pinned path exists


def test_pin_onto_an_existing_path(bpffs: Path) -> None:
    path = bpffs / "taken"
    first = Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=1))
    second = Map.create(MapSpec(MapType.ARRAY, key=u32, value=u32, max_entries=2))
    with first, second:
        first.pin(path)
        with pytest.raises(BpfSyscallError) as info:
            second.pin(path)
        assert info.value.errno == errno.EEXIST
        assert second.pinned_path is None
        with Map.from_pin(path) as opened:
            assert opened.id == first.id, "the existing pin was replaced"
        (bpffs / "dir").mkdir()
        with pytest.raises(BpfSyscallError) as info:
            second.pin(bpffs / "dir")
        assert info.value.errno == errno.EEXIST
        with Program.load(
            ProgramSpec(name="p", type=ProgType.SOCKET_FILTER, instructions=returns(0))
        ) as prog:
            with pytest.raises(BpfSyscallError) as info:
                prog.pin(path)
            assert info.value.errno == errno.EEXIST
        first.unpin()


def test_by_name_pin_reuses_a_match_and_refuses_a_mismatch(bpffs: Path) -> None:
    spec = MapSpec(MapType.HASH, name="shared", key=u32, value=u64, max_entries=8, pinning=PinType.BY_NAME)
    with Map.create(spec, pin_root=bpffs) as original:
        before = _map_ids()
        with Map.create(spec, pin_root=bpffs) as again:
            assert again.id == original.id
        bigger = MapSpec(
            MapType.HASH, name="shared", key=u32, value=u64, max_entries=9, pinning=PinType.BY_NAME
        )
        with pytest.raises(ValueError, match="does not match"):
            Map.create(bigger, pin_root=bpffs)
        assert wait_until(lambda: _map_ids() <= before), "a refused BY_NAME create left a map loaded"
        original.unpin()


# ---------------------------------------------------------------- maps changing under iterators


def _hash_map(entries: int) -> KeyValueMap[int, int]:
    m = Map.create(MapSpec(MapType.HASH, key=u32, value=u64, max_entries=entries))
    assert isinstance(m, KeyValueMap)
    m.update_batch({i: i * 10 for i in range(entries)})
    return m


@pytest.mark.parametrize("view", ["keys", "items"])
def test_elements_deleted_under_an_iterator(view: str) -> None:
    """Another handle deletes elements mid-walk: survivors are seen exactly once, nothing raises."""
    with _hash_map(2048) as m, m.dup() as other:
        deleted: set[int] = set()
        seen: list[int] = []
        walk: Iterator[int] = iter(m) if view == "keys" else (k for k, _ in m.items())
        for key in walk:
            seen.append(key)
            victim = (key * 7 + 3) % 2048
            if victim not in seen:
                other.pop(victim, None)
                deleted.add(victim)
        survivors = set(range(2048)) - deleted
        assert len(seen) == len(set(seen)), "a key was yielded twice"
        assert survivors <= set(seen), f"{len(survivors - set(seen))} surviving keys were never yielded"
        assert set(m) == survivors


def _drain_never_seeing(walk: Iterator[int], stranger_key: int) -> None:
    for key in walk:
        assert key != stranger_key, "the closed map's iterator read another map"


def test_map_closed_under_an_iterator_never_reads_another_map() -> None:
    """Closing the map mid-walk ends the walk with ValueError, even when its fd number is reused.

    The map is several iteration chunks (4,096 elements) long, so the walk
    must go back to the kernel after the close.
    """
    m = _hash_map(20_000)
    walk = iter(m)
    next(walk)
    number = m.fileno()
    m.close()
    with _hash_map(8) as stranger:
        stranger.clear()
        stranger[123456] = 1
        if stranger.fileno() != number:
            pytest.skip("the kernel did not reuse the descriptor number")
        with pytest.raises(ValueError, match="closed"):
            _drain_never_seeing(walk, 123456)


def test_pin_and_creator_gone_under_an_iterator(bpffs: Path) -> None:
    """The creator closes and the pin is removed mid-walk: the iterating handle keeps the map alive."""
    creator = _hash_map(1024)
    creator.pin(bpffs / "m")
    with Map.from_pin(bpffs / "m", key=u32, value=u64) as reader:
        assert isinstance(reader, KeyValueMap)
        map_id = reader.id
        walk = iter(reader)
        first = next(walk)
        creator.unpin()
        creator.close()
        rest = list(walk)
        assert sorted([first, *rest]) == list(range(1024))
    assert wait_until(lambda: map_id not in _map_ids()), "the map outlived its last reference"


# ---------------------------------------------------------------- signals during syscalls


class _SignalStorm:
    """Send SIGUSR1 to this process every ``interval`` seconds from a thread, counting deliveries."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.sent = 0
        self.handled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="signal-storm", daemon=True)
        self._previous: Callable[[int, FrameType | None], object] | int | None = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.handled += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            os.kill(os.getpid(), signal.SIGUSR1)
            self.sent += 1

    def __enter__(self) -> _SignalStorm:
        self._previous = signal.signal(signal.SIGUSR1, self._handler)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        signal.signal(signal.SIGUSR1, self._previous)


def _long_program(instructions: int = 120_000) -> ProgramSpec:
    body = insn(0xB7, 0, imm=0) + insn(ADD64_IMM, 0, imm=1) * instructions + insn(0x95)
    return ProgramSpec(name="long", type=ProgType.SOCKET_FILTER, instructions=body)


def test_long_program_load_survives_a_signal_storm() -> None:
    spec = _long_program()
    with _SignalStorm() as storm:
        with Program.load(spec) as prog:
            assert prog.info(instructions=False).verified_insns >= 120_000
        assert storm.sent > 10
    assert storm.handled > 0, "the Python signal handler never ran"


def test_map_operations_survive_a_signal_storm() -> None:
    with (
        Map.create(MapSpec(MapType.HASH, key=u32, value=u64, max_entries=4096)) as m,
        _SignalStorm() as storm,
    ):
        assert isinstance(m, KeyValueMap)
        round_ = 0
        # At least three rounds, and as many more as it takes the storm's thread to get its
        # signals out on a loaded machine.
        while round_ < 3 or (storm.sent <= 10 and round_ < 300):
            for i in range(4096):
                m[i] = i + round_
            assert sum(m.values()) == sum(range(4096)) + 4096 * round_
            round_ += 1
        assert storm.sent > 10


# ---------------------------------------------------------------- SIGKILL while attached


def _run_child_then_kill(attach: Callable[[], tuple[list[int], list[object]]]) -> tuple[set[int], set[int]]:
    """Fork a child that attaches, then SIGKILL it; return the program and link ids it reported.

    ``attach`` returns the ids (program ids, ``-1``, link ids) and the objects
    that must stay alive (the child holds them until it is killed: letting
    them be collected would detach them, which is not what is tested).
    A child that fails sends its traceback instead.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            ids, keep = attach()
            os.write(write_end, struct.pack(f"<{len(ids) + 1}i", len(ids), *ids))
            signal.pause()
            del keep
        except BaseException:
            os.write(write_end, struct.pack("<i", -1) + traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        head = pipe.read(4)
        assert len(head) == 4, "the child died before attaching"
        (count,) = struct.unpack("<i", head)
        if count < 0:
            os.waitpid(pid, 0)
            pytest.fail(f"the child failed to attach:\n{pipe.read().decode()}", pytrace=False)
        reported: tuple[int, ...] = struct.unpack(f"<{count}i", pipe.read(4 * count))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    split = reported.index(-1)
    return set(reported[:split]), set(reported[split + 1 :])


def _links_child(counter: Counter) -> tuple[list[int], list[object]]:
    """Attach through the link types the SIGKILL test of ``integration/progs`` does not cover.

    (That one covers raw tracepoints, perf-event tracepoints and cgroup links.)
    Kprobes are left out on kernels built without them.
    """
    perf_prog = Program.load(counter.spec("perf_event"))
    sk_lookup = Program.load(counter.spec("sk_lookup", ret=1))
    iterator = Program.load(ProgramSpec.from_section("iter/bpf_map", returns(0)))
    event = perf.open_software(PerfSwId.CPU_CLOCK, cpu=0, sample_period=10**6)
    progs = [perf_prog, sk_lookup, iterator]
    links = [attach_perf_event(perf_prog, event), attach_netns(sk_lookup), attach_iter(iterator)]
    kprobe = Program.load(counter.spec("kprobe/" + syscall_function("getpid")))
    try:
        links.append(attach_kprobe(kprobe, syscall_function("getpid")))
        progs.append(kprobe)
    except NotSupportedError:
        kprobe.close()
    ids = [p.id for p in progs] + [-1] + [link.info().id for link in links if link.info().id]
    return ids, [*progs, *links, event]


def test_sigkill_with_links_leaves_nothing_attached(counter: Counter) -> None:
    """kprobe (perf link), perf_event, netns and iterator links die with their process."""
    prog_ids, link_ids = _run_child_then_kill(lambda: _links_child(counter))
    assert prog_ids
    assert link_ids
    assert wait_until(lambda: not prog_ids & set(objects.prog_ids()), 5.0), "programs outlived the process"
    assert wait_until(lambda: not link_ids & set(objects.link_ids()), 5.0), "links outlived the process"


def test_sigkill_with_a_legacy_cgroup_attachment_is_found_and_removed(
    counter: Counter, scratch_cgroup: Path
) -> None:
    """``BPF_PROG_ATTACH`` survives its process (as docs/progs.md says); query finds it, detach removes it."""

    def child() -> tuple[list[int], list[object]]:
        prog = Program.load(counter.spec("cgroup/sysctl", ret=1))
        link = attach_cgroup(prog, scratch_cgroup, legacy=True)
        assert link.mechanism == "prog_attach"
        return [prog.id, -1], [prog, link]

    (prog_id,), _ = _run_child_then_kill(child)
    leftover = query_cgroup(scratch_cgroup, "cgroup/sysctl")
    assert leftover.prog_ids == (prog_id,), "the legacy attachment did not survive (docs would be wrong)"
    with Program.from_id(prog_id) as prog, open_cgroup(scratch_cgroup) as cgroup:
        commands.prog_detach(cgroup, AttachType.CGROUP_SYSCTL, prog)
    assert query_cgroup(scratch_cgroup, "cgroup/sysctl").prog_ids == ()
    assert wait_until(lambda: prog_id not in set(objects.prog_ids()))
