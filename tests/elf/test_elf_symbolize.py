"""Stack symbolization: kallsyms text, /proc/PID/maps text, ELF files built with gcc (PIE, non-PIE, a
shared library, stripped with separate debug files), this process's libc, and folded output."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebpf.elf import (
    ElfFile,
    FileSymbols,
    Frame,
    KernelSymbols,
    Mapping,
    Symbolizer,
    folded,
    parse_proc_maps,
    process_mappings,
    symbol_offset,
)
from ebpf.syscall.errors import ParseError

KALLSYMS = [
    "ffffffff81000000 T _stext",
    "ffffffff81000100 t do_one_initcall",
    "ffffffff81000100 T do_one_initcall_alias",  # same address: the first name is kept
    "ffffffff81000200 D some_data",  # not code: never a frame
    "ffffffff81000300 W weak_function",
    "ffffffffc0001000 t nft_do_chain\t[nf_tables]",
    "ffffffffc0002000 t bpf_prog_6deef7357e7b4530_handle\t[bpf]",
]


def test_kernel_addresses_resolve_to_symbol_offset_and_module() -> None:
    table = KernelSymbols(KALLSYMS)
    assert len(table) == 6 - 1  # the alias folds into its address
    assert table.lookup(0xFFFFFFFF81000000) == ("_stext", 0, None)
    assert table.lookup(0xFFFFFFFF81000123) == ("do_one_initcall", 0x23, None)
    assert table.lookup(0xFFFFFFFF81000250) == ("do_one_initcall", 0x150, None)  # data is skipped
    assert table.lookup(0xFFFFFFFF81000310) == ("weak_function", 0x10, None)
    assert table.lookup(0xFFFFFFFF80000000) is None
    symbolizer = Symbolizer(kallsyms=KALLSYMS)
    frame = symbolizer.kernel(0xFFFFFFFFC0001010)
    assert frame == Frame(0xFFFFFFFFC0001010, "nft_do_chain", 0x10, "nf_tables")
    assert str(frame) == "nft_do_chain+0x10 [nf_tables]"
    assert str(symbolizer.kernel(0xFFFFFFFF81000104)) == "do_one_initcall+0x4"
    stack = symbolizer.stack(None, [0xFFFFFFFFC0002008, 0xFFFFFFFF81000104, 0x10], kernel=True)
    assert [frame.name for frame in stack] == [
        "bpf_prog_6deef7357e7b4530_handle",
        "do_one_initcall",
        "[unknown]",
    ]
    assert str(stack[2]) == "0x10"


def test_restricted_kallsyms_resolve_nothing() -> None:
    # kptr_restrict shows every address as 0: names without addresses cannot place a frame
    table = KernelSymbols(["0000000000000000 T _stext", "0000000000000000 t helper"])
    assert len(table) == 0
    assert table.lookup(0xFFFFFFFF81000000) is None


MAPS = """\
55d4c8a00000-55d4c8a01000 r--p 00000000 fd:01 1048601                    /usr/bin/app
55d4c8a01000-55d4c8a02000 r-xp 00001000 fd:01 1048601                    /usr/bin/app
55d4c9e1c000-55d4c9e3d000 rw-p 00000000 00:00 0                          [heap]
7f1d2c000000-7f1d2c021000 rw-p 00000000 00:00 0
7f1d2c600000-7f1d2c628000 r-xp 00028000 fd:01 1056 /opt/my dir/libx.so (deleted)
7ffc1d3f2000-7ffc1d3f4000 r-xp 00000000 00:00 0                          [vdso]
"""


def test_proc_maps_parse() -> None:
    maps = parse_proc_maps(MAPS)
    assert maps[1] == Mapping(0x55D4C8A01000, 0x55D4C8A02000, 0x1000, "/usr/bin/app", "r-xp", 1048601)
    assert maps[1].executable
    assert maps[1].file_backed
    assert not maps[0].executable
    assert maps[1].file_offset(0x55D4C8A01234) == 0x1234
    assert [m.path for m in maps[2:4]] == ["[heap]", ""]
    assert not maps[2].file_backed
    assert not maps[3].file_backed
    assert maps[4].path == "/opt/my dir/libx.so (deleted)"
    assert maps[4].deleted
    assert maps[5].path == "[vdso]"
    assert not maps[5].file_backed
    with pytest.raises(ParseError, match="line 1"):
        parse_proc_maps("55d4c8a00000 r--p 00000000 fd:01 1\n")
    with pytest.raises(ParseError, match="line 2"):
        parse_proc_maps(MAPS.splitlines()[0] + "\nzz-1 r--p 0 fd:01 1 /x\n")
    with pytest.raises(ParseError, match="5 fields"):
        parse_proc_maps("1-2 r--p 0\n")


def test_process_mappings_of_this_process() -> None:
    maps = process_mappings(os.getpid())
    assert maps == sorted(maps, key=lambda m: m.start)
    assert any(m.executable and m.file_backed for m in maps)
    with pytest.raises(ProcessLookupError):
        process_mappings(2**22 + 1)  # above pid_max's ceiling


def test_folded_lines() -> None:
    stacks = {("main", "work", "leaf"): 3, ("main", "work"): 2, ("main",): 0, (): 4, ("a;b", "c\nd"): 1}
    assert folded(stacks) == "a:b;c d 1\nmain;work 2\nmain;work;leaf 3\n"
    assert folded({("leaf", "main"): 2, ("main",): 1}, leaf_first=True) == "main 1\nmain;leaf 2\n"
    assert folded({("x", "main"): 1, ("y", "main"): 1}, leaf_first=True).count("\n") == 2
    with pytest.raises(ValueError, match="negative"):
        folded({("main",): -1})
    assert folded({}) == ""


def test_this_process_libc_function() -> None:
    libc = ctypes.CDLL("libc.so.6")
    address = ctypes.cast(libc.getpid, ctypes.c_void_p).value
    assert address is not None
    symbolizer = Symbolizer()
    frame = symbolizer.user(os.getpid(), address)
    assert frame.symbol in ("getpid", "__getpid")
    assert frame.offset == 0
    assert frame.module is not None
    assert "libc" in frame.module
    assert symbolizer.user(os.getpid(), address + 2).offset == 2
    assert symbolizer.user(os.getpid(), 8).module is None  # in no mapping
    with pytest.raises(ValueError, match="pid"):
        symbolizer.stack(None, [address])


# ------------------------------------------------------------------ ELF files built here

LIBRARY = r"""
static __attribute__((noinline)) int lib_helper(int x) { return x * 7; }
__attribute__((noinline)) int lib_function(int x) { return lib_helper(x) + 2; }
void *lib_helper_address(void) { return (void *)lib_helper; }
"""

PROGRAM = r"""
#include <stdio.h>
extern int lib_function(int);
extern void *lib_helper_address(void);
static __attribute__((noinline)) int hidden_function(int x) { return x * 3; }
__attribute__((noinline)) int visible_function(int x) { return hidden_function(x) + lib_function(x); }
int main(void) {
    printf("%p %p %p\n", (void *)visible_function, (void *)hidden_function, lib_helper_address());
    fflush(stdout);
    getchar();  /* wait until told to exit */
    return visible_function(1) < 0;
}
"""


def _gcc() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler (gcc or cc) to build the test binaries")
    return gcc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A shared library and a PIE and a non-PIE executable linked with it (``-O0 -fno-inline``)."""
    gcc = _gcc()
    work = tmp_path_factory.mktemp("symbolize")
    (work / "lib.c").write_text(LIBRARY)
    (work / "main.c").write_text(PROGRAM)
    flags = ["-O0", "-fno-inline", "-g"]
    library = work / "libsymtest.so"
    subprocess.run([gcc, *flags, "-shared", "-fPIC", "-o", str(library), str(work / "lib.c")], check=True)
    built = {"lib": library}
    for kind, extra in (("pie", ["-fPIE", "-pie"]), ("nopie", ["-fno-pie", "-no-pie"])):
        binary = work / f"main-{kind}"
        link = ["-L", str(work), "-lsymtest", f"-Wl,-rpath,{work}"]
        subprocess.run([gcc, *flags, *extra, "-o", str(binary), str(work / "main.c"), *link], check=True)
        built[kind] = binary
    return built


def _nm(path: Path) -> dict[str, int]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm is not installed")
    out = subprocess.run([nm, "--defined-only", str(path)], check=True, capture_output=True, text=True)
    return {f[2]: int(f[0], 16) for f in (line.split() for line in out.stdout.splitlines()) if len(f) == 3}


@pytest.mark.parametrize("kind", ["pie", "nopie", "lib"])
def test_file_symbols_agree_with_nm(built: dict[str, Path], kind: str) -> None:
    path = built[kind]
    symbols = FileSymbols.from_file(path)
    addresses = _nm(path)
    names = ["lib_helper", "lib_function"] if kind == "lib" else ["hidden_function", "visible_function"]
    elf = ElfFile.from_file(path)
    for name in names:
        assert symbols.lookup(addresses[name]) == (name, 0)
        assert symbols.lookup(addresses[name] + 4) == (name, 4)
        # file offset (what a mapping gives) -> the linked address
        assert symbols.address(symbol_offset(elf, name)) == addresses[name]
    assert symbols.lookup(0) is None
    assert symbols.address(10**12) is None


@pytest.fixture(params=["pie", "nopie"])
def running(request: pytest.FixtureRequest, built: dict[str, Path]) -> Iterator[tuple[int, list[int]]]:
    """A process of the PIE or non-PIE executable, waiting, and the addresses it printed."""
    with subprocess.Popen(
        [str(built[request.param])], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        addresses = [int(word, 16) for word in process.stdout.readline().split()]
        try:
            yield process.pid, addresses
        finally:
            process.stdin.write("\n")
            process.stdin.close()
            process.wait()


def test_user_addresses_of_a_running_process(running: tuple[int, list[int]], built: dict[str, Path]) -> None:
    pid, (visible, hidden, lib_helper) = running
    symbolizer = Symbolizer()
    stack = symbolizer.stack(pid, [hidden + 3, visible + 8, lib_helper])
    assert [(f.symbol, f.offset) for f in stack] == [
        ("hidden_function", 3),
        ("visible_function", 8),
        ("lib_helper", 0),
    ]
    assert Path(str(stack[0].module)).resolve() in (built["pie"].resolve(), built["nopie"].resolve())
    assert Path(str(stack[2].module)).resolve() == built["lib"].resolve()
    assert str(stack[0]).startswith("hidden_function+0x3 [/")
    assert symbolizer.user(pid, hidden) is symbolizer.user(pid, hidden)  # cached


def test_exited_process_resolves_nothing(built: dict[str, Path]) -> None:
    symbolizer = Symbolizer()
    with subprocess.Popen(
        [str(built["pie"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        visible = int(process.stdout.readline().split()[0], 16)
        assert symbolizer.user(process.pid, visible).symbol == "visible_function"
        process.stdin.write("\n")
        process.stdin.close()
        process.wait()
    assert symbolizer.user(process.pid, visible) == Frame(visible, None)


def test_a_library_loaded_later_is_found(built: dict[str, Path]) -> None:
    symbolizer = Symbolizer()
    symbolizer.user(os.getpid(), 8)  # caches this process's mappings
    library = ctypes.CDLL(str(built["lib"]))
    address = ctypes.cast(library.lib_function, ctypes.c_void_p).value
    assert address is not None
    assert symbolizer.user(os.getpid(), address).symbol == "lib_function"


def _objcopy(*args: str) -> None:
    tool = shutil.which("objcopy")
    if tool is None:
        pytest.skip("objcopy is not installed")
    subprocess.run([tool, *args], check=True)


def test_stripped_binary_uses_its_debug_file_by_build_id(tmp_path: Path) -> None:
    gcc = _gcc()
    (tmp_path / "main.c").write_text(
        PROGRAM.replace("lib_function(x)", "x").replace("lib_helper_address()", "0")
    )
    binary = tmp_path / "main"
    cmd = [gcc, "-O0", "-fno-inline", "-g", "-Wl,--build-id", "-o", str(binary), str(tmp_path / "main.c")]
    subprocess.run(cmd, check=True)
    hidden = _nm(binary)["hidden_function"]
    readelf = shutil.which("readelf") or pytest.skip("readelf is not installed")
    build_id = subprocess.run([readelf, "-n", str(binary)], check=True, capture_output=True, text=True).stdout
    identity = next(line.split()[-1] for line in build_id.splitlines() if "Build ID" in line)
    root = tmp_path / "debug"
    debug = root / ".build-id" / identity[:2] / f"{identity[2:]}.debug"
    debug.parent.mkdir(parents=True)
    _objcopy("--only-keep-debug", str(binary), str(debug))
    _objcopy("--strip-all", str(binary))
    assert FileSymbols.from_file(binary, debug_roots=[tmp_path / "none"]).lookup(hidden) is None
    assert FileSymbols.from_file(binary, debug_roots=[root]).lookup(hidden) == ("hidden_function", 0)


def _without_build_id(tmp_path: Path) -> tuple[Path, int]:
    """The test program alone (no library), with debug information and no build id: the binary and
    the address of ``hidden_function`` in it."""
    gcc = _gcc()
    (tmp_path / "main.c").write_text(
        PROGRAM.replace("lib_function(x)", "x").replace("lib_helper_address()", "0")
    )
    binary = tmp_path / "main"
    cmd = [
        gcc,
        "-O0",
        "-fno-inline",
        "-g",
        "-Wl,--build-id=none",
        "-o",
        str(binary),
        str(tmp_path / "main.c"),
    ]
    subprocess.run(cmd, check=True)
    return binary, _nm(binary)["hidden_function"]


def test_stripped_binary_uses_its_debug_file_by_debuglink(tmp_path: Path) -> None:
    binary, hidden = _without_build_id(tmp_path)
    debug = tmp_path / "main.debug"
    _objcopy("--only-keep-debug", str(binary), str(debug))
    _objcopy("--strip-all", f"--add-gnu-debuglink={debug}", str(binary))
    assert FileSymbols.from_file(binary).lookup(hidden) == ("hidden_function", 0)
    debug.write_bytes(debug.read_bytes() + b"\0")  # another CRC-32: not this binary's debug file
    assert FileSymbols.from_file(binary).lookup(hidden) is None


def test_demangle_hook_applies_to_user_names(built: dict[str, Path]) -> None:
    library = ctypes.CDLL(str(built["lib"]))
    address = ctypes.cast(library.lib_function, ctypes.c_void_p).value
    assert address is not None

    def fails(name: str) -> str:
        raise RuntimeError(name)

    assert Symbolizer(demangle=str.upper).user(os.getpid(), address).symbol == "LIB_FUNCTION"
    assert Symbolizer(demangle=fails).user(os.getpid(), address).symbol == "lib_function"


def test_debuglink_under_a_debug_root_seen_through_proc_root(tmp_path: Path) -> None:
    binary, hidden = _without_build_id(tmp_path)
    root = tmp_path / "debug"
    debug = root / tmp_path.relative_to("/") / "main.debug"  # /usr/lib/debug/<binary's directory>/<link>
    debug.parent.mkdir(parents=True)
    _objcopy("--only-keep-debug", str(binary), str(debug))
    _objcopy("--strip-all", f"--add-gnu-debuglink={debug}", str(binary))
    # a process's files are read through /proc/PID/root; the debug root mirrors the path inside it
    seen = Path(f"/proc/{os.getpid()}/root{binary}")
    assert FileSymbols.from_file(seen, debug_roots=[root]).lookup(hidden) == ("hidden_function", 0)
    assert FileSymbols.from_file(seen, debug_roots=[tmp_path / "none"]).lookup(hidden) is None


def test_cxx_names_stay_mangled_without_a_demangler(tmp_path: Path) -> None:
    gxx = shutil.which("g++") or pytest.skip("no C++ compiler (g++)")
    (tmp_path / "lib.cc").write_text(
        "namespace app { __attribute__((noinline)) int compute(int x) { return x; } }\n"
    )
    library = tmp_path / "libapp.so"
    subprocess.run([gxx, "-O0", "-shared", "-fPIC", "-o", str(library), str(tmp_path / "lib.cc")], check=True)
    address = _nm(library)["_ZN3app7computeEi"]
    assert FileSymbols.from_file(library).lookup(address) == ("_ZN3app7computeEi", 0)
