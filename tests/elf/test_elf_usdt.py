"""USDT probes: notes checked against ``readelf -n``, argument specs, libbpf's spec layout, malformed notes.

The C test program (``tests/elf/usdt/``) is built with gcc -O2 at test
time into an executable (PIE and not) and a shared library, with probes of
every argument kind sdt.h writes, with and without semaphores.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ebpf.elf import (
    ElfFile,
    UsdtArgKind,
    UsdtProbe,
    encode_usdt_spec,
    parse_usdt_arguments,
    usdt_probes,
)
from ebpf.syscall.errors import LibraryLimitError, ParseError
from tests.elf._elf_corpus import require_tool
from tests.elf._usdt_files import elf_with_notes as _elf
from tests.elf._usdt_files import stapsdt_note as _note

SOURCES = Path(__file__).resolve().parent / "usdt"
PYTHON = Path("/usr/bin/python3.11")
MACHINE = os.uname().machine
#: ``struct pt_regs`` of x86_64 in the order of usdt_layout.bpf.c's ``pt_regs[]``.
PT_REGS = [
    *("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9"),
    *("r8", "rax", "rcx", "rdx", "rsi", "rdi", "rip", "rsp"),
]


# ---------------------------------------------------------------- building and readelf


def _sdt_header() -> bool:
    return any(
        Path(directory, "sys", "sdt.h").is_file()
        for directory in ("/usr/include", f"/usr/include/{MACHINE}-linux-gnu", "/usr/local/include")
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"exe", "exe_nopie", "lib"}``: the test program built with gcc -O2."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed (apt-get install gcc)")
    if not _sdt_header():
        pytest.skip("<sys/sdt.h> is not installed (apt-get install systemtap-sdt-dev)")
    out = tmp_path_factory.mktemp("usdt")
    lib = out / "libusdt_test.so"
    guarded = str(SOURCES / "usdt_guarded.c")

    def cc(*args: str) -> None:
        subprocess.run([gcc, "-O2", *args], check=True, capture_output=True, text=True)

    cc("-fPIC", "-shared", "-o", str(lib), str(SOURCES / "usdt_lib.c"), guarded, "-DPROVIDER=test_lib",
       "-DGUARDED=lib_guarded")  # fmt: skip
    files = {"lib": lib}
    for name, pie in (("exe", "-pie"), ("exe_nopie", "-no-pie")):
        files[name] = out / name
        cc(pie, "-o", str(files[name]), str(SOURCES / "usdt_exe.c"), guarded, "-DPROVIDER=test",
           "-DGUARDED=exe_guarded", f"-L{out}", "-lusdt_test", "-Wl,-rpath,$ORIGIN")  # fmt: skip
    return files


def _readelf_notes(path: Path) -> list[tuple[str, str, int, int, int, str]]:
    """``(provider, name, location, base, semaphore, arguments)`` of each stapsdt note (readelf -n)."""
    out = subprocess.run(
        [require_tool("readelf"), "-n", str(path)], check=True, capture_output=True, text=True
    ).stdout
    notes = []
    for block in out.split("NT_STAPSDT")[1:]:
        provider = re.search(r"Provider: (\S*)", block)
        name = re.search(r"Name: (\S+)", block)
        where = re.search(r"Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)", block)
        args = re.search(r"Arguments: ?(.*)", block)
        assert provider, block
        assert name, block
        assert where, block
        notes.append(
            (
                provider[1],
                name[1],
                int(where[1], 16),
                int(where[2], 16),
                int(where[3], 16),
                args[1].strip() if args else "",
            )
        )
    return notes


def _section(path: Path, name: str) -> tuple[int, int]:
    """``(address, file offset)`` of section ``name`` as ``readelf -SW`` prints it."""
    out = subprocess.run(
        [require_tool("readelf"), "-SW", str(path)], check=True, capture_output=True, text=True
    ).stdout
    m = re.search(rf"\s{re.escape(name)}\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", out)
    assert m, out
    return int(m[1], 16), int(m[2], 16)


def _as_readelf(probe: UsdtProbe) -> tuple[str, str, int, int, int, str]:
    return (probe.provider, probe.name, probe.location, probe.base, probe.semaphore, probe.argument_spec)


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize("name", ["exe", "exe_nopie", "lib"])
def test_test_program_notes_match_readelf(built: dict[str, Path], name: str) -> None:
    probes = usdt_probes(built[name])
    assert [_as_readelf(p) for p in probes] == _readelf_notes(built[name])
    assert {p.qualified_name for p in probes} == (
        {"test_lib:plain", "test_lib:guarded"}
        if name == "lib"
        else {"test:constants", "test:registers", "test:memory", "test:frame", "test:guarded"}
    )
    assert all(p.address == p.location for p in probes)  # not prelinked: no base adjustment
    assert all(p.position_independent == (name != "exe_nopie") for p in probes)


def test_python311_notes_match_readelf() -> None:
    if not PYTHON.is_file():
        pytest.skip(f"{PYTHON} is not installed (Debian's python3.11)")
    probes = usdt_probes(PYTHON)
    assert [_as_readelf(p) for p in probes] == _readelf_notes(PYTHON)
    names = {p.name for p in probes}
    assert {"function__entry", "function__return", "line", "gc__start", "audit"} <= names
    entry = next(p for p in probes if p.name == "function__entry")
    assert [(a.size, a.signed) for a in entry.arguments] == [(8, False), (8, False), (4, True)]
    assert entry.semaphore
    assert entry.semaphore_offset
    probes_addr, probes_offset = _section(PYTHON, ".probes")
    for probe in probes:
        assert probe.semaphore_offset - probes_offset == probe.semaphore_address - probes_addr
        assert len(probe.spec()) == 208


def test_file_offsets_point_at_the_probe_nop(built: dict[str, Path]) -> None:
    nop = {"x86_64": b"\x90", "aarch64": b"\x1f\x20\x03\xd5"}.get(MACHINE)
    if nop is None:
        pytest.skip(f"no nop encoding known for {MACHINE}")
    for path in built.values():
        data = path.read_bytes()
        for probe in usdt_probes(path):
            assert data[probe.file_offset : probe.file_offset + len(nop)] == nop, (path, probe)


def test_semaphores_resolve_to_their_variable_and_file_offset(built: dict[str, Path]) -> None:
    for path in built.values():
        elf = ElfFile.from_file(path)
        symbols = {sym.name: sym.value for sym in elf.symbols}
        probes_addr, probes_offset = _section(path, ".probes")
        for probe in usdt_probes(elf):
            if probe.name != "guarded":
                assert (probe.semaphore, probe.semaphore_address, probe.semaphore_offset) == (0, 0, 0)
                continue
            assert probe.semaphore_address == symbols[f"{probe.provider}_guarded_semaphore"]
            assert probe.semaphore_offset == probe.semaphore_address - probes_addr + probes_offset


def test_argument_sizes_and_kinds_of_the_test_program(built: dict[str, Path]) -> None:
    probes = {p.name: p for p in usdt_probes(built["exe"])}
    expect = {
        "constants": [(4, True), (4, True)],
        "registers": [(8, True), (4, True), (2, True), (1, True), (4, False)],
        "memory": [(8, True), (4, True), (2, True), (1, False), (4, True)],
        "frame": [(8, True), (1, True), (4, True)],
        "guarded": [(8, True), (1, False)],
    }
    for name, sizes in expect.items():
        assert [(a.size, a.signed) for a in probes[name].arguments] == sizes, name
    assert [(a.kind, a.value) for a in probes["constants"].arguments] == [
        (UsdtArgKind.CONST, 5),
        (UsdtArgKind.CONST, -9),
    ]
    assert probes["constants"].describe() == ["arg0: const 5", "arg1: const -9"]
    assert all(a.kind == UsdtArgKind.REG for a in probes["registers"].arguments)
    frame = probes["frame"].arguments  # built at -O0: the arguments live in the stack frame
    assert [a.kind for a in frame[:2]] == [UsdtArgKind.REG_DEREF] * 2
    assert all(a.offset < 0 for a in frame[:2])
    if MACHINE == "x86_64":
        assert {a.register for a in frame[:2]} == {"rbp"}
    for probe in probes.values():
        assert probe.spec(cookie=3)[192:202] == struct.pack("=Qh", 3, len(probe.arguments))


# ---------------------------------------------------------------- argument specs


def _check_form(
    machine: str,
    spec: str,
    kind: UsdtArgKind,
    size: int,
    signed: bool,
    register: str,
    reg_off: int,
    offset_or_value: int,
    words: str,
) -> None:
    """One argument spec of ``machine`` parses into these fields and reads as ``words``."""
    (arg,) = parse_usdt_arguments(spec, machine)
    assert (arg.kind, arg.size, arg.signed, arg.register, arg.reg_off) == (
        kind,
        size,
        signed,
        register,
        reg_off,
    )
    assert (arg.value if kind == UsdtArgKind.CONST else arg.offset) == offset_or_value
    assert arg.text == spec
    assert arg.bitshift == 64 - 8 * size
    assert arg.describe(machine) == words


@pytest.mark.parametrize(
    ("spec", "kind", "size", "signed", "register", "reg_off", "offset_or_value", "words"),
    [
        ("-4@%eax", UsdtArgKind.REG, 4, True, "eax", 80, 0, "i32 in %eax"),
        ("8@%rdi", UsdtArgKind.REG, 8, False, "rdi", 112, 0, "u64 in %rdi"),
        ("8@%rbp", UsdtArgKind.REG, 8, False, "rbp", 32, 0, "u64 in %rbp"),
        ("-4@%r12d", UsdtArgKind.REG, 4, True, "r12d", 24, 0, "i32 in %r12d"),
        ("2@%r9w", UsdtArgKind.REG, 2, False, "r9w", 64, 0, "u16 in %r9w"),
        ("-1@%al", UsdtArgKind.REG, 1, True, "al", 80, 0, "i8 in %al"),
        ("1@%sil", UsdtArgKind.REG, 1, False, "sil", 104, 0, "u8 in %sil"),
        ("-2@%cx", UsdtArgKind.REG, 2, True, "cx", 88, 0, "i16 in %cx"),
        ("8@-8(%rbp)", UsdtArgKind.REG_DEREF, 8, False, "rbp", 32, -8, "u64 at -8(%rbp)"),
        ("-4@112(%rsp)", UsdtArgKind.REG_DEREF, 4, True, "rsp", 152, 112, "i32 at 112(%rsp)"),
        ("8@(%rdi)", UsdtArgKind.REG_DEREF, 8, False, "rdi", 112, 0, "u64 at (%rdi)"),
        ("8@-16(%rip)", UsdtArgKind.REG_DEREF, 8, False, "rip", 128, -16, "u64 at -16(%rip)"),
        ("4@$5", UsdtArgKind.CONST, 4, False, "", 0, 5, "const 5"),
        ("-4@$-9", UsdtArgKind.CONST, 4, True, "", 0, -9, "const -9"),
        ("8@$0x10", UsdtArgKind.CONST, 8, False, "", 0, 16, "const 16"),
    ],
)
def test_x86_64_argument_forms(
    spec: str,
    kind: UsdtArgKind,
    size: int,
    signed: bool,
    register: str,
    reg_off: int,
    offset_or_value: int,
    words: str,
) -> None:
    _check_form("x86_64", spec, kind, size, signed, register, reg_off, offset_or_value, words)


@pytest.mark.parametrize(
    ("spec", "kind", "size", "signed", "register", "reg_off", "offset_or_value", "words"),
    [
        ("8@x0", UsdtArgKind.REG, 8, False, "x0", 0, 0, "u64 in x0"),
        ("-4@w1", UsdtArgKind.REG, 4, True, "w1", 8, 0, "i32 in w1"),
        ("-8@x30", UsdtArgKind.REG, 8, True, "x30", 240, 0, "i64 in x30"),
        ("8@sp", UsdtArgKind.REG, 8, False, "sp", 248, 0, "u64 in sp"),
        ("-4@[sp, 12]", UsdtArgKind.REG_DEREF, 4, True, "sp", 248, 12, "i32 at [sp, 12]"),
        ("8@[x29, -8]", UsdtArgKind.REG_DEREF, 8, False, "x29", 232, -8, "u64 at [x29, -8]"),
        ("-4@[sp]", UsdtArgKind.REG_DEREF, 4, True, "sp", 248, 0, "i32 at [sp]"),
        ("4@5", UsdtArgKind.CONST, 4, False, "", 0, 5, "const 5"),
        ("-4@-9", UsdtArgKind.CONST, 4, True, "", 0, -9, "const -9"),
    ],
)
def test_aarch64_argument_forms(
    spec: str,
    kind: UsdtArgKind,
    size: int,
    signed: bool,
    register: str,
    reg_off: int,
    offset_or_value: int,
    words: str,
) -> None:
    _check_form("aarch64", spec, kind, size, signed, register, reg_off, offset_or_value, words)


def test_argument_lists_split_like_libbpf() -> None:
    args = parse_usdt_arguments("-4@[sp, 12] 8@x0  -4@-9", "aarch64")
    assert [a.text for a in args] == ["-4@[sp, 12]", "8@x0", "-4@-9"]
    assert parse_usdt_arguments("", "x86_64") == ()
    assert parse_usdt_arguments(":whatever", "x86_64") == ()  # libbpf reads a leading ':' as no arguments


def test_operands_libbpf_cannot_read_parse_but_refuse_to_encode() -> None:
    (sib,) = parse_usdt_arguments("-4@-1204(%rbp,%rax,4)", "x86_64")
    assert (sib.kind, sib.register, sib.index, sib.scale, sib.offset) == (
        UsdtArgKind.SIB,
        "rbp",
        "rax",
        4,
        -1204,
    )
    assert sib.index_reg_off == 80
    assert sib.describe() == "i32 at -1204(%rbp,%rax,4)"
    (symbolic,) = parse_usdt_arguments("4@counter+8(%rip)", "x86_64")
    assert (symbolic.kind, symbolic.symbol, symbolic.offset) == (UsdtArgKind.REG_DEREF, "counter", 8)
    assert symbolic.describe() == "u32 at counter+8(%rip)"
    for arg in (sib, symbolic):
        with pytest.raises(LibraryLimitError, match="not expressible"):
            arg.encode()


@pytest.mark.parametrize(
    "spec",
    ["%rax", "3@%rax", "16@%rax", "8@%xmm0", "8@%ah", "8@$", "8@(%rbp", "4@-8(%rbp,%rax,3)", "8@"],
)
def test_malformed_x86_64_arguments_raise_parse_error(spec: str) -> None:
    with pytest.raises(ParseError):
        parse_usdt_arguments(spec, "x86_64")


@pytest.mark.parametrize("spec", ["8@x31", "8@[sp, ]", "8@[q0]", "4@w", "8@%rax"])
def test_malformed_aarch64_arguments_raise_parse_error(spec: str) -> None:
    with pytest.raises(ParseError):
        parse_usdt_arguments(spec, "aarch64")


def test_too_many_arguments_and_unknown_machines() -> None:
    with pytest.raises(ParseError, match="more than 12"):
        parse_usdt_arguments(" ".join(["8@%rax"] * 13), "x86_64")
    with pytest.raises(LibraryLimitError, match="s390x"):
        parse_usdt_arguments("8@%r2", "s390x")


# ---------------------------------------------------------------- struct __bpf_usdt_spec


def test_argument_encoding_by_hand() -> None:
    eax, frame, const = parse_usdt_arguments("-4@%eax 8@-8(%rbp) -4@$-9", "x86_64")
    # val_off (u64), arg_type (u32 enum), reg_off (s16), arg_signed (bool), arg_bitshift (s8)
    assert eax.encode(byteorder="little") == bytes.fromhex("00000000000000000100000050000120")
    assert frame.encode(byteorder="little") == bytes.fromhex("f8ffffffffffffff0200000020000000")
    assert const.encode(byteorder="little") == bytes.fromhex("f7ffffffffffffff0000000000000120")
    assert eax.encode(byteorder="big") == bytes.fromhex("00000000000000000000000100500120")
    spec = encode_usdt_spec((eax, frame, const), 0x1122334455667788, byteorder="little")
    assert len(spec) == 208
    assert spec[:48] == eax.encode(byteorder="little") + frame.encode(byteorder="little") + const.encode(
        byteorder="little"
    )
    assert spec[48:192] == bytes(144)
    assert spec[192:] == bytes.fromhex("88776655443322110300000000000000")


def test_encoding_refuses_what_libbpf_cannot_hold() -> None:
    arg = parse_usdt_arguments("8@%rax", "x86_64")[0]
    with pytest.raises(ValueError, match="at most 12"):
        encode_usdt_spec([arg] * 13)
    with pytest.raises(ValueError, match="64-bit"):
        encode_usdt_spec([arg], cookie=-1)


def test_layout_matches_libbpf_usdt_bpf_h(tmp_path: Path) -> None:
    clang = shutil.which("clang")
    header = Path("/usr/include/bpf/usdt.bpf.h")
    if clang is None or not header.is_file():
        pytest.skip("needs clang and libbpf-dev's <bpf/usdt.bpf.h> (apt-get install clang libbpf-dev)")
    if MACHINE != "x86_64":
        pytest.skip("the pt_regs half of this check names x86_64 registers")
    obj = tmp_path / "usdt_layout.bpf.o"
    subprocess.run(
        [clang, "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", f"-I/usr/include/{MACHINE}-linux-gnu", "-c",
         str(SOURCES / "usdt_layout.bpf.c"), "-o", str(obj)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    elf = ElfFile.from_file(obj)
    rodata = elf.section(".rodata")
    assert rodata is not None
    values = struct.unpack(f"<{rodata.size // 8}Q", elf.section_data(rodata))
    layout, pt_regs = values[:14], values[14:]
    # sizeof/offsetof of __bpf_usdt_arg_spec and __bpf_usdt_spec, BPF_USDT_MAX_ARG_CNT, the arg types
    assert layout == (16, 0, 8, 12, 14, 15, 208, 0, 192, 200, 12, 0, 1, 2)
    assert list(layout[11:]) == [UsdtArgKind.CONST, UsdtArgKind.REG, UsdtArgKind.REG_DEREF]
    spec = encode_usdt_spec(parse_usdt_arguments("8@%rax", "x86_64"), 7, byteorder="little")
    assert len(spec) == layout[6]
    assert struct.unpack_from("<Qh", spec, layout[8]) == (7, 1)
    for name, offset in zip(PT_REGS, pt_regs, strict=True):
        assert parse_usdt_arguments(f"8@%{name}", "x86_64")[0].reg_off == offset, name


# ---------------------------------------------------------------- hand-made files


AARCH64_NOTES = _note(
    0x1100, 0x1800, 0x3004, b"app", b"request", b"-4@[sp, 12] 8@x0 -8@x19 4@5 -4@[x29]"
) + _note(0x1200, 0x1800, 0, b"app", b"idle", b"")


def test_hand_written_aarch64_notes() -> None:
    probes = usdt_probes(ElfFile(_elf(AARCH64_NOTES), name="aarch64.so"))
    request, idle = probes
    assert (request.provider, request.name, request.machine) == ("app", "request", "aarch64")
    assert (request.address, request.file_offset) == (0x1100, 0x1100)
    assert (request.semaphore_address, request.semaphore_offset) == (0x3004, 0x2004)
    assert request.describe() == [
        "arg0: i32 at [sp, 12]",
        "arg1: u64 in x0",
        "arg2: i64 in x19",
        "arg3: const 5",
        "arg4: i32 at [x29]",
    ]
    assert [a.reg_off for a in request.arguments] == [248, 0, 152, 0, 232]
    assert (idle.arguments, idle.semaphore_offset, idle.position_independent) == ((), 0, True)


def test_prelinked_files_shift_address_and_semaphore_by_the_stapsdt_base() -> None:
    # prelink moved .stapsdt.base from 0x1800 (recorded in the note) to 0x1840
    (probe,) = usdt_probes(ElfFile(_elf(_note(0x1100, 0x1800, 0x3004, b"p", b"n", b""), stapsdt_base=0x1840)))
    assert (probe.location, probe.address, probe.file_offset) == (0x1100, 0x1140, 0x1140)
    assert (probe.semaphore, probe.semaphore_address, probe.semaphore_offset) == (0x3004, 0x3044, 0x2044)


def test_probe_addresses_outside_their_segments_raise_parse_error() -> None:
    with pytest.raises(ParseError, match="not executable"):
        usdt_probes(ElfFile(_elf(_note(0x3000, 0x1800, 0, b"p", b"n", b""))))
    with pytest.raises(ParseError, match="no loadable segment"):
        usdt_probes(ElfFile(_elf(_note(0x9000, 0x1800, 0, b"p", b"n", b""))))
    with pytest.raises(ParseError, match=r"semaphore .* executable"):
        usdt_probes(ElfFile(_elf(_note(0x1100, 0x1800, 0x1200, b"p", b"n", b""))))
    with pytest.raises(ParseError, match="ELF type 1"):
        usdt_probes(ElfFile(_elf(AARCH64_NOTES, e_type=1)))
    with pytest.raises(LibraryLimitError, match="machine 22"):
        usdt_probes(ElfFile(_elf(AARCH64_NOTES, machine=22)))


def test_files_without_notes_have_no_probes() -> None:
    assert usdt_probes(ElfFile(_elf(b""))) == []
    other_note = struct.pack("<III", 4, 4, 1) + b"GNU\0" + b"abcd"  # NT_GNU_ABI_TAG-like: skipped
    assert usdt_probes(ElfFile(_elf(other_note))) == []


def test_mutated_and_truncated_notes_raise_only_parse_error() -> None:
    image = bytearray(_elf(AARCH64_NOTES))
    notes_off, notes_end = 0x2010, 0x2010 + len(AARCH64_NOTES)
    rng = random.Random(22)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(3000):
        mutated = bytearray(image)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(notes_off, notes_end)
            mutated[at] = rng.choice([0, 0xFF, 0x7F, ord(" "), ord("@"), ord("["), rng.randrange(256)])
        if rng.random() < 0.3:  # truncate the section: shrink sh_size of .note.stapsdt (section 4)
            shoff = struct.unpack_from("<Q", mutated, 40)[0]
            struct.pack_into("<Q", mutated, shoff + 4 * 64 + 32, rng.randrange(len(AARCH64_NOTES)))
        try:
            usdt_probes(ElfFile(bytes(mutated)))
            outcomes["ok"] += 1
        except ParseError:
            outcomes["error"] += 1
    assert outcomes["ok"]
    assert outcomes["error"]
