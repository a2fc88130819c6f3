"""USDT attachment: a BPF_USDT program built against libbpf's usdt.bpf.h, on the probes of a real process.

The traced program (``integration/elf/usdt/``, built with gcc -O2) has probes
of every argument kind (constants, negative ones, registers and
sub-registers, memory at a register, the frame), guarded ones with
semaphores, in its executable and in a shared library. ``any_probe``
(``tests/bpf/elf/elf_usdt_args.c``) sends every argument it reads with
``bpf_usdt_arg()`` and its USDT cookie through a ring buffer; the tests
compare each event with the values the program passed, and count them.
Both ways a program finds its spec run on any kernel: BPF cookies, and
the IP-to-spec-id map (the object loaded with ``LINUX_HAS_BPF_COOKIE``
false, attached with ``use_cookies=False``).
"""

from __future__ import annotations

import os
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from bpf_build import compile_bpf
from progs._progs_support import gcc_or_skip

from ebpf.asm import R0, assemble, exit_, mov
from ebpf.elf import Collection, CollectionSpec, UsdtArgKind, UsdtLink, attach_usdt, usdt_probes
from ebpf.events import RingBuffer
from ebpf.maps import BytesCodec, KeyValueMap, Map, u32
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import features

ROOT = Path(__file__).resolve().parents[2]
SOURCES = Path(__file__).resolve().parent / "usdt"
GUARDED = ROOT / "tests" / "elf" / "usdt" / "usdt_guarded.c"
BPF_SOURCE = ROOT / "tests" / "bpf" / "elf" / "elf_usdt_args.c"
ARCH = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, "x86")
EVENT = struct.Struct("=Qq12q")
TYPED = 1 << 63
SEED = 3

# what the traced program passes to each probe, for the seed it is given (usdt_target.c)
EXPECTED = {
    ("test", "constants"): (5, -9),
    ("test", "registers"): (SEED + 40, -SEED, 300, -5, 70000 + SEED),
    ("test", "memory"): (SEED * 1000, -SEED, 7, 200, -SEED * 3),
    ("test", "frame"): (SEED * -7, ord("x")),
    ("test", "guarded"): (2 * (SEED + 40), 200),
    ("test_lib", "plain"): (3 * SEED, SEED - 10),
    ("test_lib", "guarded"): (SEED + 1000, SEED + 9),
}
MODES = ["cookies", "ip_map"]
#: what the cookie mode needs of the kernel (5.15)
COOKIES = features.UPROBE_COOKIES


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"exe", "exe_nopie", "lib"}``: the traced program and its library."""
    gcc = gcc_or_skip()
    machine = os.uname().machine
    if not any(
        Path(d, "sys", "sdt.h").is_file() for d in ("/usr/include", f"/usr/include/{machine}-linux-gnu")
    ):
        pytest.skip("<sys/sdt.h> is not installed (apt-get install systemtap-sdt-dev)")
    out = tmp_path_factory.mktemp("usdt_attach")
    lib = out / "libusdt_target.so"

    def cc(*args: str) -> None:
        subprocess.run([gcc, "-O2", *args], check=True, capture_output=True, text=True)

    cc("-fPIC", "-shared", "-o", str(lib), str(SOURCES / "usdt_target_lib.c"), str(GUARDED),
       "-DPROVIDER=test_lib", "-DGUARDED=lib_guarded")  # fmt: skip
    files = {"lib": lib}
    for name, pie in (("exe", "-pie"), ("exe_nopie", "-no-pie")):
        files[name] = out / name
        cc(pie, "-o", str(files[name]), str(SOURCES / "usdt_target.c"), str(GUARDED), "-DPROVIDER=test",
           "-DGUARDED=exe_guarded", f"-L{out}", "-lusdt_target", "-Wl,-rpath,$ORIGIN")  # fmt: skip
    return files


def _spec(*cflags: str) -> CollectionSpec:
    return CollectionSpec.from_file(compile_bpf(BPF_SOURCE, cflags=(f"-D__TARGET_ARCH_{ARCH}", *cflags)))


def _load(spec: CollectionSpec, mode: str) -> Collection:
    """Load ``spec``; for ``ip_map``, with ``LINUX_HAS_BPF_COOKIE`` false in its ``.kconfig`` map."""
    if mode == "cookies":
        return Collection.load(spec)
    # the object's only __kconfig extern is usdt.bpf.h's LINUX_HAS_BPF_COOKIE, a bool at offset 0
    with Map.create(replace(spec.maps[".kconfig"], contents=((0, b"\0"),))) as kconfig:
        return Collection.load(spec, replace_maps={".kconfig": kconfig})


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "cookies" and not COOKIES.supported():
        pytest.skip("the kernel has no BPF cookies on uprobes (5.15)")
    return str(request.param)


@pytest.fixture
def coll(mode: str) -> Iterator[Collection]:
    with _load(_spec(), mode) as loaded:
        yield loaded


class Traced:
    """A running usdt_target: fires its probes and reports its semaphores on request."""

    def __init__(self, exe: Path) -> None:
        self.proc = subprocess.Popen(
            [str(exe), str(SEED)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.pid = self.proc.pid

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def fire(self, times: int) -> None:
        assert self.ask(f"fire {times}") == "fired"

    def semaphores(self) -> tuple[int, int]:
        exe, lib = self.ask("sema").split()
        return int(exe), int(lib)

    def semaphores_released(self, timeout: float = 5.0) -> tuple[int, int]:
        """The semaphores once they are back to 0, or as they are after ``timeout`` seconds.

        The kernel counts a semaphore down when it frees the uprobe, when the last reference
        to its perf event goes: a child forked by another thread of this process in that
        moment holds one until it execs, so the drop can come a little after ``close()``.
        """
        deadline = time.monotonic() + timeout
        while (now := self.semaphores()) != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        return now

    def close(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def traced(built: dict[str, Path]) -> Iterator[Traced]:
    process = Traced(built["exe"])
    yield process
    process.close()


def _events(ring: RingBuffer, wanted: int) -> list[tuple[int, tuple[int, ...]]]:
    """``(cookie, arguments)`` of the events in the ring: ``wanted`` of them, then whatever else comes."""
    events: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(50):
        records = ring.poll(0.1)
        for record in records:
            cookie, nargs, *args = EVENT.unpack(bytes(record))
            events.append((cookie, tuple(args[:nargs])))
        if len(events) >= wanted and not records:
            break
    return events


@pytest.mark.requires_feature(features.RINGBUF)
def test_every_argument_kind_arrives_exactly_and_counted(
    coll: Collection, mode: str, built: dict[str, Path], traced: Traced
) -> None:
    cookies = {probe: number for number, probe in enumerate(EXPECTED, start=100)}
    links: list[UsdtLink] = []
    with RingBuffer(coll.maps["events"]) as ring:
        try:
            for (provider, name), cookie in cookies.items():
                # the executable's probes by path and pid; the library's through the pid alone
                target: Path | int = built["exe"] if provider == "test" else traced.pid
                links.append(
                    coll.attach_usdt(
                        "any_probe",
                        target,
                        provider,
                        name,
                        pid=traced.pid,
                        cookie=cookie,
                        use_cookies=mode == "cookies",
                    )
                )
            if mode == "cookies":
                links.append(coll.attach_usdt("registers", built["exe"], "test", "registers", cookie=7))
            assert all(link.cookies == (mode == "cookies") for link in links)
            assert traced.semaphores() == (1, 1)  # the kernel counts guarded probes up while attached
            traced.fire(4)
            events = _events(ring, 4 * len(links))
        finally:
            for link in links:
                link.close()
        assert traced.semaphores_released() == (0, 0)
        traced.fire(2)
        after = _events(ring, 0)
    expected = [(cookie, EXPECTED[probe]) for probe, cookie in cookies.items()] * 4
    if mode == "cookies":  # BPF_USDT's typed arguments, as the C types narrow them
        expected += [(7 | TYPED, EXPECTED["test", "registers"])] * 4
    assert Counter(events) == Counter(expected)
    assert after == []


def test_probes_cover_every_argument_kind(built: dict[str, Path]) -> None:
    """The traced program really has the kinds the test above claims to check."""
    probes = [probe for path in (built["exe"], built["lib"]) for probe in usdt_probes(path)]
    arguments = [arg for probe in probes for arg in probe.arguments]
    assert {arg.kind for arg in arguments} == {UsdtArgKind.CONST, UsdtArgKind.REG, UsdtArgKind.REG_DEREF}
    assert any(arg.kind == UsdtArgKind.CONST and arg.value < 0 for arg in arguments)
    assert any(arg.kind == UsdtArgKind.REG and arg.size < 8 for arg in arguments)  # a sub-register
    in_memory = [arg for arg in arguments if arg.kind == UsdtArgKind.REG_DEREF]
    if os.uname().machine == "x86_64":  # a local in the frame: -4@-20(%rbp); arm64 says [sp, 28]
        assert any(arg.offset < 0 for arg in in_memory)
    assert {probe.qualified_name for probe in probes if probe.semaphore_offset} == {
        "test:guarded",
        "test_lib:guarded",
    }
    assert {(probe.provider, probe.name) for probe in probes} == set(EXPECTED)


@pytest.mark.requires_feature(features.RINGBUF)
@pytest.mark.requires_feature(COOKIES)
def test_a_shared_library_for_every_process_with_cookies(built: dict[str, Path]) -> None:
    """No pid: every process that maps the library, found by the program's own maps (no ``maps=``)."""
    with (
        _load(_spec(), "cookies") as coll,
        RingBuffer(coll.maps["events"]) as ring,
        attach_usdt(coll.programs["any_probe"], built["lib"], "test_lib", "plain", cookie=5) as link,
    ):
        assert [path for path, _ in link.probes] == [str(built["lib"])]
        process = Traced(built["exe"])
        try:
            process.fire(3)
        finally:
            process.close()
        events = _events(ring, 3)
    assert events == [(5, EXPECTED["test_lib", "plain"])] * 3


@pytest.mark.requires_feature(features.RINGBUF)
def test_ip_map_without_pid_in_a_fixed_address_executable(built: dict[str, Path]) -> None:
    with _load(_spec(), "ip_map") as coll, RingBuffer(coll.maps["events"]) as ring:
        link = coll.attach_usdt(
            "any_probe", built["exe_nopie"], "test", "memory", cookie=9, use_cookies=False
        )
        with link:
            assert len(_ip_map(coll)) == 1
            process = Traced(built["exe_nopie"])
            try:
                process.fire(2)
            finally:
                process.close()
            events = _events(ring, 2)
        assert len(_ip_map(coll)) == 0  # closing removed the address
    assert events == [(9, EXPECTED["test", "memory"])] * 2


def _ip_map(coll: Collection) -> KeyValueMap[int, int]:
    ips = coll.maps["__bpf_usdt_ip_to_spec_id"]
    assert isinstance(ips, KeyValueMap)
    return ips


def test_ip_map_refuses_what_it_cannot_express(built: dict[str, Path], traced: Traced) -> None:
    with _load(_spec(), "ip_map") as coll:
        with pytest.raises(ValueError, match=r"position-independent.*pid="):
            coll.attach_usdt("any_probe", built["lib"], "test_lib", "plain", use_cookies=False)
        with (
            coll.attach_usdt(
                "any_probe", built["exe"], "test", "registers", pid=traced.pid, use_cookies=False
            ),
            pytest.raises(ValueError, match="attached already"),
        ):
            coll.attach_usdt(
                "registers", built["exe"], "test", "registers", pid=traced.pid, use_cookies=False
            )
        # the failed attachment left nothing behind: the address is free again once the first closed
        with coll.attach_usdt(
            "registers", built["exe"], "test", "registers", pid=traced.pid, use_cookies=False
        ):
            pass


def test_spec_ids_are_shared_per_object_and_given_back(built: dict[str, Path], mode: str) -> None:
    with _load(_spec(), mode) as coll:
        specs = coll.maps["__bpf_usdt_specs"]
        use = mode == "cookies"
        first = coll.attach_usdt(
            "any_probe", built["exe_nopie"], "test", "constants", cookie=1, use_cookies=use
        )
        second = coll.attach_usdt(
            "registers", built["exe_nopie"], "test", "memory", cookie=2, use_cookies=use
        )
        first.close()
        third = coll.attach_usdt("any_probe", built["exe_nopie"], "test", "frame", cookie=3, use_cookies=use)
        with second, third:
            # spec id 0 was given back by `first` and reused by `third`; `second` kept id 1
            cookie_of = {slot: struct.unpack_from("=Q", _raw_spec(specs, slot), 192)[0] for slot in (0, 1)}
            assert cookie_of == {0: 3, 1: 2}


def _raw_spec(specs: Map, slot: int) -> bytes:
    """The ``struct __bpf_usdt_spec`` at ``slot``, as bytes."""
    raw: KeyValueMap[int, bytes] = KeyValueMap.from_fd(os.dup(specs.fileno()), key=u32, value=BytesCodec(208))
    with raw:
        return raw[slot]


@pytest.mark.requires_feature(COOKIES)
def test_section_auto_attach(built: dict[str, Path]) -> None:
    spec = _spec(f'-DUSDT_TARGET="{built["exe"]}"')
    assert spec.sections["registers"] == f"usdt/{built['exe']}:test:registers"
    with (
        _load(spec, "cookies") as coll,
        RingBuffer(coll.maps["events"]) as ring,
        coll.attach_all() as links,
    ):
        assert list(links) == ["registers"]
        assert "any_probe" in links.skipped
        process = Traced(built["exe"])
        try:
            process.fire(3)
        finally:
            process.close()
        events = _events(ring, 3)
    assert Counter(events) == Counter({(TYPED, EXPECTED["test", "registers"]): 3})


@pytest.mark.requires_feature(COOKIES)
def test_clear_errors_before_attaching(built: dict[str, Path]) -> None:
    with _load(_spec(), "cookies") as coll:
        with pytest.raises(
            ValueError, match=r"no USDT probe test:nope; it has test:constants, .*test:registers"
        ):
            coll.attach_usdt("any_probe", built["exe"], "test", "nope")
        with pytest.raises(ValueError, match="no file with USDT probe test:nope"):
            coll.attach_usdt("any_probe", os.getpid(), "test", "nope")
        with pytest.raises(ValueError, match="cookie"):
            coll.attach_usdt("any_probe", built["exe"], "test", "registers", cookie=-1)
        with pytest.raises(KeyError, match="no loaded program"):
            coll.attach_usdt("nope", built["exe"], "test", "registers")
    code = assemble([mov(R0, 0), exit_()])
    with (
        Program.load(ProgramSpec.from_section("usdt", code, name="no_maps")) as bare,
        pytest.raises(ValueError, match=r"include <bpf/usdt.bpf.h>"),
    ):
        attach_usdt(bare, built["exe"], "test", "registers")


@pytest.mark.requires_feature(COOKIES)
def test_closing_from_another_thread_detaches_once(built: dict[str, Path], traced: Traced) -> None:
    with _load(_spec(), "cookies") as coll:
        link = coll.attach_usdt("any_probe", built["exe"], "test", "guarded", pid=traced.pid)
        assert traced.semaphores() == (1, 0)
        closers = [threading.Thread(target=link.close) for _ in range(4)]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()
        assert link.closed
        link.close()
        with pytest.raises(ValueError, match="closed"):
            link.info()
        assert traced.semaphores_released() == (0, 0)
